"""Offline tiktoken: the shipped encoding files load with no network, and they are tiktoken's own."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import tiktoken
import tiktoken.registry
import tiktoken_ext.openai_public

from helpers.kernel import tokens


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network, an empty tiktoken cache in a temporary folder, no encodings loaded yet."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise requests.ConnectionError("network disabled in this test")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    return tmp_path


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The four encoding files, unpacked once for this module."""
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    folder = tokens.use_offline_encodings(tmp_path_factory.mktemp("tiktoken"))
    yield folder
    if before is None:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)
    else:
        os.environ["TIKTOKEN_CACHE_DIR"] = before


def test_network_is_really_off(offline: Path) -> None:
    with pytest.raises(requests.ConnectionError):
        tiktoken.get_encoding("o200k_base")


def test_encoding_for_model_works_offline(offline: Path) -> None:
    assert tokens.use_offline_encodings(offline) == offline
    enc = tiktoken.encoding_for_model("gpt-4o-mini")
    assert enc.name == "o200k_base"
    assert enc.encode("hello world") == [24912, 2375]
    assert tiktoken.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert sorted(p.name for p in offline.iterdir()) == sorted(tokens.cache_name(n) for n in tokens.ENCODINGS)


@pytest.mark.parametrize("name", sorted(tokens.ENCODINGS))
def test_round_trip(offline: Path, unpacked: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(unpacked))
    enc = tiktoken.get_encoding(name)
    text = "Tokens: naïve café, 東京, emoji 👋🏽, code `x += 1`\n"
    assert enc.decode(enc.encode(text)) == text


def test_expected_hashes_are_tiktokens_own() -> None:
    source = inspect.getsource(tiktoken_ext.openai_public)
    for name, sha256 in tokens.ENCODINGS.items():
        assert sha256 in source, f"{name}: {sha256} is not in tiktoken_ext/openai_public.py"
