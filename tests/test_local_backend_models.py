"""The local backend's model files: sha256-checked before loading, one line naming the fix when missing or corrupt,
each model loaded on its route's first use, and the engine named in every answer's ``x-course-engine``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from local_backend import Backend, engines
from local_backend.engines import SHA256, Engines, ModelFileError, checked

from .fake_engines import PLAIN, fake_engines

KEY = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A model file whose digest is the known one (a temporary copy: the table is patched for the test)."""
    path = tmp_path / KEY
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    monkeypatch.setitem(SHA256, KEY, hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setattr(engines, "_CHECKED", set())
    return path


def test_a_file_with_the_known_digest_passes(known: Path) -> None:
    assert checked(known, KEY) == known


def test_a_corrupt_file_is_one_line_naming_the_fix(known: Path) -> None:
    data = bytearray(known.read_bytes())
    data[100] ^= 0xFF  # one flipped byte, same size
    known.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as caught:
        checked(known, KEY)
    message = str(caught.value)
    assert "\n" not in message and str(known) in message
    assert "corrupt (sha256 mismatch)" in message and "make local-backend-install" in message


def test_a_missing_file_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"is missing: run `rm -rf \.venv-local && make local-backend-install`"):
        checked(tmp_path / KEY, KEY)


def test_every_digest_is_a_sha256() -> None:
    assert SHA256 and all(len(d) == 64 and int(d, 16) >= 0 for d in SHA256.values())


def broken() -> Any:
    raise ModelFileError("model file /x/model.gguf is corrupt (sha256 mismatch): run `make local-backend-install`.")


broken.model_name = "Broken-1M"  # type: ignore[attr-defined]


@pytest.fixture
def broken_backend() -> Iterator[tuple[OpenAI, Engines]]:
    made = fake_engines()
    made.factories["embedding"] = broken
    server = Backend(made, port=0)
    server.start()
    yield OpenAI(api_key="sk-local", base_url=server.base_url, max_retries=0), made
    server.stop()


def test_a_route_whose_model_file_is_corrupt_answers_that_line(broken_backend: tuple[OpenAI, Engines]) -> None:
    client, made = broken_backend
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert caught.value.status_code == 503
    assert caught.value.message.endswith("is corrupt (sha256 mismatch): run `make local-backend-install`.")
    # the other routes still answer: each model loads on its own first use
    answer = client.chat.completions.create(model=PLAIN, messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content
    assert set(made._made) == {"chat"}


def test_models_load_on_first_use_only() -> None:
    fresh = Backend(fake_engines(), port=0)
    fresh.start()
    try:
        assert fresh.engines._made == {}
        OpenAI(api_key="sk-local", base_url=fresh.base_url, max_retries=0).models.list()
        assert fresh.engines._made == {}
    finally:
        fresh.stop()


class Engined:
    """A fake embedder that names its engine, as the real ones do."""

    name = "FakeMiniLM"
    dimensions = 4
    engine = "numpy 9.9 (fake)"

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts], len(texts)


Engined.model_name = "FakeMiniLM"  # type: ignore[attr-defined]


def test_answers_name_their_engine() -> None:
    made = fake_engines()
    made.factories["embedding"] = Engined
    server = Backend(made, port=0)
    server.start()
    try:
        client = OpenAI(api_key="sk-local", base_url=server.base_url, max_retries=0)
        raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hello")
        assert raw.headers["x-course-engine"] == "numpy 9.9 (fake)"
        chat = client.chat.completions.with_raw_response.create(model=PLAIN,
                                                                messages=[{"role": "user", "content": "x"}])
        assert "x-course-engine" not in chat.headers  # the fake chat engine names none: no header invented
    finally:
        server.stop()


def test_prepare_reports_a_corrupt_file_in_one_line(tmp_path: Path) -> None:
    """``python -m local_backend --prepare`` (run by the install) exits 2 with the one line, no traceback."""
    code = ("import sys; from local_backend import engines; "
            "engines.SHA256[engines.GEMMA_FILE] = '0' * 64; "
            f"engines.MODELS_DIR = __import__('pathlib').Path({str(tmp_path)!r}); "
            f"(engines.MODELS_DIR / engines.GEMMA_FILE).write_bytes(b'not a gguf'); "
            "from local_backend.__main__ import main; sys.exit(main(['--prepare']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt (sha256 mismatch)" in lines[0] and "Traceback" not in done.stderr


def test_minilm_erf_is_accurate_to_float32() -> None:
    """GELU's erf in the numpy MiniLM: within 1.5e-7 of math.erf (so the vectors match torch's, see the README)."""
    import math

    import numpy as np

    from local_backend.minilm import erf

    grid = np.linspace(-6, 6, 4001)
    assert max(abs(float(erf(x)) - math.erf(x)) for x in grid) < 1.5e-7
