"""What a learner sees in a real kernel when a Realtime session goes wrong: each a short printed message.

Lesson 12's text-only cell (it prints ``event.error.message``) runs with its question changed in replay, then
sessions go live to the local backend on fake engines with bad input, and to a server that drops mid-answer.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from websockets.sync.server import serve

from helpers.keys import PLACEHOLDER_KEY
from helpers.paths import NOTEBOOKS
from local_backend import Backend

from .fake_engines import fake_engines
from .test_kernel_errors import Cell, run

LESSON = "12_speech"
QUESTION, EDITED = "What colour is the sky on a clear day?", "What colour is grass?"
SESSION = 'with client.realtime.connect(model=models.realtime) as connection:\n    connection.send({})\n' + \
    '    for event in connection:\n        if event.type == "error":\n            print(event.error.message)\n' + \
    '            break\n        if event.type == "{}":\n            break'


def text_only_cell() -> str:
    cells = [c.source for c in nbformat.read(NOTEBOOKS / f"{LESSON}.ipynb", as_version=4).cells
             if c.cell_type == "code" and "realtime.connect" in c.source and QUESTION in c.source]
    assert len(cells) == 1
    return cells[0].replace(QUESTION, EDITED)


def sends(event: dict[str, Any], until: str = "session.updated") -> str:
    return SESSION.replace("{}", repr(event), 1).replace("{}", until, 1)


@pytest.fixture(scope="module")
def dropping() -> Iterator[str]:
    def handler(ws: Any) -> None:
        ws.send(json.dumps({"type": "session.created", "event_id": "e1",
                            "session": {"type": "realtime", "model": "gpt-realtime-2.1-mini"}}))
        ws.recv()
        ws.socket.shutdown(socket.SHUT_RDWR)  # gone mid-answer, no closing handshake

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/v1"
        server.shutdown()


@pytest.fixture(scope="module")
def ran(dropping: str) -> dict[str, Cell]:
    backend = Backend(fake_engines(), port=0)
    backend.start()
    wav = "UklGRiQAAABXQVZF"  # the start of a WAV file, base64
    named = {
        "setup": f'from openai import OpenAI\n\nfrom helpers import models, setup\n\nsetup("{LESSON}")\n'
                 'client = OpenAI()',
        "miss": text_only_cell(),
        "live": f'import os\n\nsetup("{LESSON}", backend="live")\nclient = OpenAI()',
        "rate": sends({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": 16000}}}}}),
        "wav": sends({"type": "input_audio_buffer.append", "audio": wav}),
        "unknown": sends({"type": "session.updat"}),
        "dropped": f'from helpers import session\n\nsession.current().close()  # restores the environment\n'
                   f'os.environ["OPENAI_BASE_URL"] = "{dropping}"\nsetup("{LESSON}", backend="live")\n'
                   'client = OpenAI()\n' + sends({"type": "response.create"}, "response.done"),
    }
    try:
        cells = run(list(named.values()), COURSE_BACKEND="replay", OPENAI_API_KEY=PLACEHOLDER_KEY,
                    OPENAI_BASE_URL=backend.base_url)
    finally:
        backend.stop()
    return dict(zip(named, cells, strict=True))


def printed(cell: Cell) -> str:
    """The cell's printed text; the cell itself ran without an exception."""
    notebook_cell, reply = cell
    assert reply["content"]["status"] == "ok", notebook_cell.outputs
    return "".join(o.get("text", "") for o in notebook_cell.outputs if o["output_type"] == "stream")


def test_a_changed_client_event_prints_the_miss_diff(ran: dict[str, Cell]) -> None:
    text = printed(ran["miss"])
    assert text.startswith(f"This Realtime client event is not in the recording of notebook '{LESSON}'")
    assert f'"text": "{QUESTION}"' in text and f'"text": "{EDITED}"' in text  # the diff, both sides
    assert "Undo the change" in text and len(text.splitlines()) < 20


@pytest.mark.parametrize(("name", "says"), [
    ("rate", "Only 16-bit PCM at 24000 Hz"),
    ("wav", "is an audio file, not raw samples"),
    ("unknown", "Unknown or unsupported client event type 'session.updat'"),
])
def test_bad_input_prints_one_clear_line(ran: dict[str, Cell], name: str, says: str) -> None:
    text = printed(ran[name])
    assert says in text and len(text.strip().splitlines()) == 1


def test_a_session_dropped_mid_answer_says_so(ran: dict[str, Cell]) -> None:
    text = printed(ran["dropped"])
    assert "dropped the Realtime session" in text and "reconnect" in text
