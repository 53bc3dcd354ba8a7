"""In a real kernel: lesson 00 with an edited prompt in replay mode, with and without the local backend running.

With the (fake-engine) local backend at ``COURSE_LOCAL_BACKEND_URL``, the edited call is answered by it, the cell
says so under the answer, the usage table counts it apart, and the recording stays byte for byte what it was;
without it, the miss message ends with how to start it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from helpers.paths import recording_path
from local_backend import Backend

from .ports import free_port
from .test_kernel_errors import LESSON, Cell, error_of, lesson_cells_with_a_changed_prompt, run

NOTE = "↳ 1 answer from the course's local backend (small local models at {address}), not the recording"
STREAM = """with client.responses.stream(model=models.chat, input="Say hi in a new way.") as stream:
    text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
print(len(text) > 0)"""
ASYNC = """from openai import AsyncOpenAI

answer = await AsyncOpenAI().responses.create(model=models.chat, input="Hi again, asynchronously.")
print(len(answer.output_text) > 0)"""
USAGE = "from helpers import usage\n\nprint(usage.summary()[['from', 'path', 'calls']].to_string(index=False))"


@pytest.fixture(scope="module")
def with_backend(backend: Backend) -> tuple[dict[str, Cell], str, str]:
    """The lesson up to its first call, that call edited, then the usage table; with the recording's digest."""
    path = recording_path(LESSON)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    *lesson, edited = lesson_cells_with_a_changed_prompt()
    named = {**{f"lesson {i}": source for i, source in enumerate(lesson)}, "edited": edited,
             "stream": STREAM, "async": ASYNC, "usage": USAGE}
    cells = run(list(named.values()), COURSE_BACKEND="replay", COURSE_FALLBACK="1",
                COURSE_LOCAL_BACKEND_URL=backend.base_url)
    return dict(zip(named, cells, strict=True)), before, hashlib.sha256(path.read_bytes()).hexdigest()


def stdout(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


def test_an_edited_prompt_is_answered_by_the_local_backend_labelled(with_backend: Any, backend: Backend) -> None:
    cells, _, _ = with_backend
    assert all(reply["content"]["status"] == "ok" for cell, reply in cells.values()), \
        [c.outputs for c, _ in cells.values()]
    lines = stdout(cells["edited"][0]).splitlines()
    assert len(lines) == 2 and lines[0].strip()  # the local model's answer, then the note
    assert lines[1] == NOTE.format(address=backend.base_url.split("/")[2])
    assert "local backend" not in stdout(cells["lesson 2"][0])  # a cell without a fallback answer has no note
    table = [line.split() for line in stdout(cells["usage"][0]).splitlines()]
    assert table == [["from", "path", "calls"], ["local", "backend", "/v1/responses", "3"]]


def test_streams_and_the_async_client_fall_back_too(with_backend: Any, backend: Backend) -> None:
    cells, _, _ = with_backend
    for name in ("stream", "async"):
        assert stdout(cells[name][0]).splitlines() == ["True", NOTE.format(address=backend.base_url.split("/")[2])]


def test_the_recording_is_unchanged_byte_for_byte(with_backend: Any) -> None:
    _, before, after = with_backend
    assert before == after


def test_without_the_backend_the_miss_says_how_to_start_it() -> None:
    *lesson, edited = lesson_cells_with_a_changed_prompt()
    cells = run([*lesson, edited], COURSE_BACKEND="replay", COURSE_FALLBACK="1",
                COURSE_LOCAL_BACKEND_URL=f"http://127.0.0.1:{free_port()}/v1")
    output, text = error_of(*cells[-1])
    assert output["evalue"].startswith(f"This request is not in the recording of notebook '{LESSON}'")
    assert "Undo the change" in text
    assert text.splitlines()[-1] == ("Or let the course's small local models answer it: start the local backend "
                                     "(`make local-backend` in a terminal, or `make lab` with LOCAL_BACKEND=1), "
                                     "then rerun this cell.")
