"""What a learner sees when a call fails, in a real kernel: a replay miss and an API error in a few lines.

The cells run once, in one ipykernel under nbclient; the tests read the cells' outputs (what JupyterLab
shows) and the kernel's execute replies (what tells nbclient and nbval that a cell failed).
"""

from __future__ import annotations

import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from helpers.keys import PLACEHOLDER_KEY
from helpers.paths import NOTEBOOKS

LESSON = "00_setup"
PROMPT, EDITED = "what is an API?", "what is an SDK?"  # one word of a recorded prompt, changed
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_LINES = 15
UNSUPPORTED = {"message": "Unsupported parameter: 'top_p' is not supported with this model.",
               "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"}
Cell = tuple[Any, dict[str, Any]]  # a cell (with its outputs) and the kernel's execute reply


def run(cells: list[str], **env: str) -> list[Cell]:
    """Execute ``cells`` in a fresh kernel (in notebooks/, errors allowed); each cell with its execute reply."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    replies: list[dict[str, Any]] = []
    client = NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}},
                            on_cell_executed=lambda cell, cell_index, execute_reply: replies.append(execute_reply))
    drop = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "COURSE_RECORDINGS_DIR", "PYTEST_ADDOPTS"}
    client.execute(env={**{k: v for k, v in os.environ.items() if k not in drop}, "COURSE_REPLAY_SPEED": "0", **env})
    return list(zip(notebook.cells, replies, strict=True))


def error_of(cell: Any, reply: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The cell's only output, an error, and its traceback as the learner reads it; the cell failed."""
    assert reply["content"]["status"] == "error", "the kernel must report the cell as failed"
    assert [o["output_type"] for o in cell.outputs] == ["error"], cell.outputs
    output = cell.outputs[0]
    return output, ANSI.sub("", "\n".join(output["traceback"]))


def lesson_cells_with_a_changed_prompt() -> list[str]:
    """The lesson's code cells up to its first Responses call, with one word of that call's prompt changed."""
    cells = [c.source for c in nbformat.read(NOTEBOOKS / f"{LESSON}.ipynb", as_version=4).cells
             if c.cell_type == "code"]
    last = next(i for i, source in enumerate(cells) if PROMPT in source and "responses.create" in source)
    return [*cells[:last], cells[last].replace(PROMPT, EDITED)]


class _Refuses(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that refuses every request as the API refuses an unsupported parameter."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.refuse()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.refuse()

    def refuse(self) -> None:
        body = json.dumps({"error": UNSUPPORTED}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def ran() -> dict[str, Cell]:
    """One kernel: the lesson replayed with a changed prompt, ``1 / 0``, then live against a server answering 400,
    then a 401 that the course's server simulates. The cells by name."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    *lesson, miss = lesson_cells_with_a_changed_prompt()
    named = {
        **{f"lesson {i}": source for i, source in enumerate(lesson)},
        "miss": miss,
        "zero": "1 / 0",
        "live": f'from helpers import simulate\n\nsetup("{LESSON}", backend="live")\nclient = OpenAI()',
        "400": 'client.responses.create(model="gpt-5.4-mini", input="Hi", top_p=0.5)',
        "401": 'simulate.failure("invalid_key")\nclient.responses.create(model="gpt-5.4-mini", input="Hi")',
    }
    try:  # replay ignores OPENAI_BASE_URL; setup(backend="live") then uses it
        cells = run(list(named.values()), COURSE_BACKEND="replay", OPENAI_API_KEY=PLACEHOLDER_KEY,
                    OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    return dict(zip(named, cells, strict=True))


def cell_label(cell: Cell) -> str:
    """How IPython names the cell in a traceback: ``Cell In[7]``."""
    return f"Cell In[{cell[1]['content']['execution_count']}]"


def test_a_replay_miss_shows_its_message_briefly(ran: dict[str, Cell]) -> None:
    before = [cell for name, cell in ran.items() if name.startswith("lesson")]
    assert before and all(reply["content"]["status"] == "ok" for _, reply in before), [c.outputs for c, _ in before]
    output, text = error_of(*ran["miss"])
    assert output["ename"] == "BadRequestError"
    assert output["evalue"].startswith(f"This request is not in the recording of notebook '{LESSON}'")
    assert text == f"BadRequestError: {output['evalue']}"
    assert f'-    "input": "In one sentence, {PROMPT}"' in text  # the diff against the recorded request
    assert f'+    "input": "In one sentence, {EDITED}"' in text
    assert "Undo the change" in text and "COURSE_BACKEND=live" in text  # what to do
    assert len(text.splitlines()) < MAX_LINES and "site-packages" not in text


def test_an_ordinary_error_keeps_its_normal_traceback(ran: dict[str, Cell]) -> None:
    output, text = error_of(*ran["zero"])
    assert (output["ename"], output["evalue"]) == ("ZeroDivisionError", "division by zero")
    assert "Traceback (most recent call last)" in text and f"{cell_label(ran['zero'])}, line 1" in text
    assert "----> 1 1 / 0" in text and text.endswith("ZeroDivisionError: division by zero")


def test_an_api_error_shows_status_code_param_and_message(ran: dict[str, Cell]) -> None:
    assert ran["live"][1]["content"]["status"] == "ok", ran["live"][0].outputs
    output, text = error_of(*ran["400"])
    line = f"400 unsupported_parameter (param 'top_p'): {UNSUPPORTED['message']}"
    assert (output["ename"], output["evalue"]) == ("BadRequestError", line)
    assert text.endswith(f"BadRequestError: {line}")
    assert f"{cell_label(ran['400'])}, line 1" in text and "top_p=0.5" in text  # the learner's own line
    assert "Error code" not in text  # the SDK's own last line is replaced by the one above
    assert len(text.splitlines()) < MAX_LINES and "site-packages" not in text


def test_a_simulated_failure_shows_briefly_too(ran: dict[str, Cell]) -> None:
    output, text = error_of(*ran["401"])
    assert output["ename"] == "AuthenticationError"
    assert output["evalue"].startswith("401 invalid_api_key: Incorrect API key provided.")
    assert output["evalue"].endswith("[simulated by the course server]")
    assert f"{cell_label(ran['401'])}, line 2" in text
    assert len(text.splitlines()) < MAX_LINES and "site-packages" not in text
