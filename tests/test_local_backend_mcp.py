"""The ``mcp`` tool of the Responses API and containers / ``code_interpreter`` on the local backend (fake engines),
with the course's real MCP server (helpers.mcp_tools) in-process: tools are listed and called over the protocol."""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI

from helpers import mcp_tools
from helpers.paths import ROOT
from local_backend import Backend

from .fake_engines import PLAIN, last_messages


@pytest.fixture(scope="module")
def tools() -> Iterator[mcp_tools.ToolServer]:
    server = mcp_tools.serve(port=0)
    yield server
    server.stop()


def mcp(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "course", "server_url": url, **extra}


def of(response: Any, kind: str) -> list[Any]:
    return [item for item in response.output if item.type == kind]


def test_the_server_speaks_mcp(tools: mcp_tools.ToolServer) -> None:
    async def go() -> tuple[Any, Any, Any]:
        async with streamable_http_client(tools.url) as (read, write, *_), ClientSession(read, write) as session:
            await session.initialize()
            return (await session.list_tools(), await session.call_tool("get_bitcoin_price", {"currency": "EUR"}),
                    await session.call_tool("get_weather", {"city": "Atlantis"}))

    listed, price, failed = asyncio.run(go())
    assert [t.name for t in listed.tools] == ["get_weather", "get_bitcoin_price"]
    assert json.loads(price.content[0].text)["price"] == 56_480.0
    assert failed.is_error and "no weather data for 'Atlantis'" in failed.content[0].text


def test_stub_data_is_lesson_09s() -> None:
    """One source of the numbers: the MCP server's tables equal the ones lesson 09 shows."""
    cells = json.loads((ROOT / "notebooks" / "09_function_calling.ipynb").read_text())["cells"]
    tables = {}
    for cell in cells:
        for node in ast.parse("".join(cell["source"])).body if cell["cell_type"] == "code" else []:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("WEATHER", "BITCOIN"):
                tables[node.targets[0].id] = ast.literal_eval(node.value)
    assert tables == {"WEATHER": mcp_tools.WEATHER, "BITCOIN": mcp_tools.BITCOIN}


def test_never_approval_lists_calls_and_answers(client: OpenAI, backend: Backend,
                                                tools: mcp_tools.ToolServer) -> None:
    r = client.responses.create(model=PLAIN, input="What does one bitcoin cost in euros?",
                                tools=[mcp(tools.url, require_approval="never")])
    assert [i.type for i in r.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert [t.name for t in r.output[0].tools] == ["get_weather", "get_bitcoin_price"]
    assert r.output[0].tools[0].annotations == {"readOnlyHint": True}
    call = of(r, "mcp_call")[0]
    assert call.name == "get_bitcoin_price" and call.error is None and call.status == "completed"
    assert json.loads(call.output)["currency"] == "USD"  # the fake model writes the first enum value
    assert "Result of the function call:" in last_messages(backend)[-1]["content"]  # the answer saw the output
    assert r.output_text


def test_allowed_tools_filter_the_list(client: OpenAI, tools: mcp_tools.ToolServer) -> None:
    r = client.responses.create(model=PLAIN, input="What does one bitcoin cost?",
                                tools=[mcp(tools.url, require_approval="never", allowed_tools=["get_weather"])])
    assert [t.name for t in r.output[0].tools] == ["get_weather"]
    assert not of(r, "mcp_call")  # the price tool is not offered, and nothing else matches the question
    filtered = client.responses.create(model=PLAIN, input="hello", tools=[mcp(
        tools.url, allowed_tools={"read_only": True, "tool_names": ["get_bitcoin_price"]})])
    assert [t.name for t in filtered.output[0].tools] == ["get_bitcoin_price"]


def test_approval_round_trip(client: OpenAI, backend: Backend, tools: mcp_tools.ToolServer) -> None:
    tool = mcp(tools.url, require_approval="always")
    asked = client.responses.create(model=PLAIN, input="How much is bitcoin today?", tools=[tool])
    assert [i.type for i in asked.output] == ["mcp_list_tools", "mcp_approval_request"]
    request = asked.output[1]
    approved = client.responses.create(model=PLAIN, previous_response_id=asked.id, tools=[tool], input=[
        {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}])
    assert [i.type for i in approved.output] == ["mcp_call", "message"]
    assert approved.output[0].approval_request_id == request.id and approved.output[0].output
    with pytest.raises(openai.BadRequestError, match="no pending mcp_approval_request"):  # answered once only
        client.responses.create(model=PLAIN, previous_response_id=asked.id, tools=[tool], input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}])


def test_refused_approval_makes_no_call(client: OpenAI, backend: Backend, tools: mcp_tools.ToolServer) -> None:
    tool = mcp(tools.url)  # OpenAI's default: every call needs approval
    asked = client.responses.create(model=PLAIN, input="How much is bitcoin today?", tools=[tool])
    request = of(asked, "mcp_approval_request")[0]
    refused = client.responses.create(model=PLAIN, previous_response_id=asked.id, tools=[tool], input=[
        {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False,
         "reason": "not now"}])
    assert [i.type for i in refused.output] == ["message"]
    assert "refused by the user (not now)" in last_messages(backend)[-1]["content"]


def test_require_approval_filters() -> None:
    from local_backend.mcp_client import Server, needs_approval

    tool = {"name": "get_weather", "annotations": {"readOnlyHint": True}}
    other = {"name": "get_bitcoin_price"}

    def needs(rule: Any, t: dict[str, Any]) -> bool:
        return needs_approval(Server("s", "http://x", {}, None, rule), t)

    assert needs("always", tool) and not needs("never", tool)
    assert not needs({"never": {"tool_names": ["get_weather"]}}, tool)
    assert needs({"never": {"tool_names": ["x"]}}, other)
    assert needs({"always": {"read_only": True}}, tool) and not needs({"always": {"read_only": True}}, other)


def test_a_tool_that_raises_is_a_failed_call(client: OpenAI, tools: mcp_tools.ToolServer) -> None:
    r = client.responses.create(model=PLAIN, input="What's the weather in Oslo?",
                                tools=[mcp(tools.url, require_approval="never")])
    call = of(r, "mcp_call")[0]  # the fake model writes "Paris", a city the stub does not know
    assert call.status == "failed" and call.output is None
    assert call.error.type == "mcp_tool_execution_error"
    assert "no weather data for 'Paris'" in call.error.content[0]["text"]
    assert of(r, "message")  # the model still answers


def test_server_down_is_a_424(client: OpenAI) -> None:
    gone = mcp_tools.serve(port=0)
    url = gone.url
    gone.stop()
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model=PLAIN, input="bitcoin?", tools=[mcp(url)])
    assert caught.value.status_code == 424
    assert "Error retrieving tool list from MCP server: 'course'" in caught.value.message
    assert "Is the server running?" in caught.value.message


def test_bad_mcp_tools_are_400(client: OpenAI, tools: mcp_tools.ToolServer) -> None:
    with pytest.raises(openai.BadRequestError, match="server_url"):
        client.responses.create(model=PLAIN, input="x", tools=[{"type": "mcp", "server_label": "a"}])
    with pytest.raises(openai.BadRequestError, match="only hold mcp tools"):
        client.responses.create(model=PLAIN, input="x", tools=[mcp(tools.url), {"type": "web_search"}])


# -- containers and code_interpreter -----------------------------------------------------------------------------
def test_containers_routes(client: OpenAI) -> None:
    box = client.containers.create(name="scratch")
    assert box.object == "container" and box.status == "running"
    assert box.id in [c.id for c in client.containers.list()]
    assert client.containers.retrieve(box.id).name == "scratch"
    assert list(client.containers.files.list(box.id)) == []
    client.containers.delete(box.id)
    with pytest.raises(openai.NotFoundError, match=f"Container with id '{box.id}' not found"):
        client.containers.retrieve(box.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.files.list("cntr_missing")


def test_code_interpreter_is_a_labelled_fixture(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=PLAIN, input="Make a table of squares", include=["code_interpreter_call.outputs"],
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])
    assert "fixture" in raw.headers["x-course-fixture"]
    r = raw.parse()
    run, message = r.output
    assert run.type == "code_interpreter_call" and "squares" in run.code
    assert run.outputs[0].logs == "sum of the first ten squares: 385\n"
    assert r.output_text.startswith("[Fixture from the course's local backend]")
    cite = message.content[0].annotations[0]
    assert cite.type == "container_file_citation" and cite.container_id == run.container_id
    files = list(client.containers.files.list(run.container_id))
    assert [f.path for f in files] == ["/mnt/data/squares.csv"]
    data = client.containers.files.content.retrieve(cite.file_id, container_id=run.container_id).read()
    assert data.decode().splitlines()[:2] == ["n,n_squared", "1,1"]
    again = client.responses.create(model=PLAIN, input="again",
                                    tools=[{"type": "code_interpreter", "container": run.container_id}])
    assert again.output[0].outputs is None  # outputs only when included
    with pytest.raises(openai.NotFoundError, match="Container with id 'cntr_nope' not found"):
        client.responses.create(model=PLAIN, input="x", tools=[{"type": "code_interpreter", "container": "cntr_nope"}])


def test_a_tunnels_host_name_is_accepted_only_when_named() -> None:
    import httpx2

    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    with mcp_tools.ToolServer(port=0, public_host="abc.example.com") as server:
        named = httpx2.post(server.url, json=listing, headers=headers | {"Host": "abc.example.com"})
        other = httpx2.post(server.url, json=listing, headers=headers | {"Host": "evil.example.com"})
    assert named.status_code == 200 and "get_weather" in named.text
    assert other.status_code == 421  # DNS-rebinding protection


def test_an_agents_sdk_agent_uses_the_server(backend: Backend, tools: mcp_tools.ToolServer) -> None:
    """Lesson 17: the Agents SDK is the MCP client; the backend sees the server's tools as function tools."""
    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, set_tracing_disabled
    from agents.mcp import MCPServerStreamableHttp
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    model = OpenAIResponsesModel(PLAIN, AsyncOpenAI(api_key="sk-local", base_url=backend.base_url, max_retries=0))

    async def go() -> Any:
        async with MCPServerStreamableHttp(params={"url": tools.url}, name="course tools") as server:
            agent = Agent(name="MCP assistant", instructions="Answer.", model=model, mcp_servers=[server],
                          model_settings=ModelSettings(max_tokens=200))
            return await Runner.run(agent, "How much is one bitcoin?")

    result = asyncio.run(go())
    assert [item.type for item in result.new_items] == ["tool_call_item", "tool_call_output_item",
                                                        "message_output_item"]
    assert result.new_items[0].raw_item.name == "get_bitcoin_price"
    assert "61250.0" in str(result.new_items[1].output)  # the server's answer (the fake model writes "USD")


def test_a_server_gone_before_the_approved_call_is_a_424(client: OpenAI) -> None:
    server = mcp_tools.serve(port=0)
    tool = mcp(server.url)
    asked = client.responses.create(model=PLAIN, input="What does one bitcoin cost?", tools=[tool])
    request = of(asked, "mcp_approval_request")[0]
    server.stop()
    with pytest.raises(openai.APIStatusError, match="Error calling tool 'get_bitcoin_price' on MCP server") as caught:
        client.responses.create(model=PLAIN, previous_response_id=asked.id, tools=[tool], input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}])
    assert caught.value.status_code == 424
    with mcp_tools.ToolServer(port=server.port):  # back up: the same approval still counts
        done = client.responses.create(model=PLAIN, previous_response_id=asked.id, tools=[tool], input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}])
    assert of(done, "mcp_call")[0].output
