"""What a learner sees in a real kernel when the mcp tool fails: a server that is down (424) and an approval that
was refused or answered with an unknown id; live against the local backend on fake engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.keys import PLACEHOLDER_KEY
from local_backend import Backend

from .fake_engines import fake_engines
from .test_kernel_errors import MAX_LINES, Cell, error_of, run

LESSON = "19_mcp_and_code_interpreter"


@pytest.fixture(scope="module")
def ran() -> Iterator[dict[str, Cell]]:
    backend = Backend(fake_engines(), port=0)
    backend.start()
    ask = 'model="gpt-4.1-mini", input="What does bitcoin cost?", tools=[tool]'
    follow = 'model="gpt-4.1-mini", tools=[tool], previous_response_id=asked.id'
    answer = '{"type": "mcp_approval_response", "approval_request_id": request.id'
    named = {
        "setup": 'from helpers import mcp_tools, setup\nfrom openai import OpenAI\n\n'
                 f'setup("{LESSON}", backend="live")\nclient = OpenAI()\nserver = mcp_tools.serve(port=0)\n'
                 'tool = {"type": "mcp", "server_label": "course_tools", "server_url": server.url}',
        "asked": f'asked = client.responses.create({ask})\n'
                 'request = next(i for i in asked.output if i.type == "mcp_approval_request")\nprint(request.name)',
        "refused": f'refused = client.responses.create({follow}, input=[{answer}, "approve": False}}])\n'
                   'print([item.type for item in refused.output])',
        "again": f'client.responses.create({follow}, input=[{answer}, "approve": True}}])',
        "down": f'server.stop()\nclient.responses.create({ask})',
    }
    try:
        cells = run(list(named.values()), COURSE_BACKEND="replay", OPENAI_API_KEY=PLACEHOLDER_KEY,
                    OPENAI_BASE_URL=backend.base_url)
    finally:
        backend.stop()
    yield dict(zip(named, cells, strict=True))


def test_a_refused_call_is_not_made(ran: dict[str, Cell]) -> None:
    for name in ("setup", "asked", "refused"):
        assert ran[name][1]["content"]["status"] == "ok", ran[name][0].outputs
    assert ran["asked"][0].outputs[-1]["text"] == "get_bitcoin_price\n"
    assert ran["refused"][0].outputs[-1]["text"] == "['message']\n"  # no mcp_call: nothing reached the server


def test_an_approval_answered_twice_is_a_short_400(ran: dict[str, Cell]) -> None:
    output, text = error_of(*ran["again"])
    assert output["ename"] == "BadRequestError"
    assert "no pending mcp_approval_request with id 'mcpr_" in output["evalue"]
    assert len(text.splitlines()) < MAX_LINES and "site-packages" not in text


def test_a_server_that_is_down_is_a_short_424(ran: dict[str, Cell]) -> None:
    output, text = error_of(*ran["down"])
    assert output["ename"] == "APIStatusError"
    assert output["evalue"].startswith("424 http_error (param 'tools'): Error retrieving tool list from MCP server: "
                                       "'course_tools'")
    assert "Is the server running?" in output["evalue"]
    assert len(text.splitlines()) < MAX_LINES and "site-packages" not in text
