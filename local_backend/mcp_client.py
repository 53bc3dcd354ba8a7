"""The Responses API's ``mcp`` tool, offline: the local backend is the MCP client, for real.

For a request with ``tools=[{"type": "mcp", "server_label", "server_url", ...}]`` the backend connects to the
server over streamable HTTP with the official ``mcp`` package, lists its tools (the ``mcp_list_tools`` item,
filtered by ``allowed_tools``), and decides on one call with the same keyword router as function calling
(:func:`local_backend.chat.route`: the tool sharing words with the question; the small model writes the
arguments under a grammar built from the tool's input schema). When ``require_approval`` covers that tool
(OpenAI's default), the answer is an ``mcp_approval_request`` and no call is made; the follow-up request's
``mcp_approval_response`` input item (with ``previous_response_id``) approves it (the tool is called) or refuses
it (no call: the model is told so). The call goes over the protocol (``tools/call``) into an ``mcp_call`` item,
and the model answers from its output. A server that cannot be reached is a 424; a tool that fails is an
``mcp_call`` with ``error`` (``mcp_tool_execution_error``) and status ``failed``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import reasoning
from .chat import Plan, route, run, sampling
from .common import DEFAULT_MAX_TOKENS, GENERATION_LOCK, ApiError, Call, Reply, invalid, unsupported
from .engines import Engines
from .responses import Store, check, input_messages, skeleton, usage

T = TypeVar("T")
MCP_FIELDS = {"type", "server_label", "server_url", "allowed_tools", "require_approval", "headers",
              "server_description", "authorization"}
NOTE = ("mcp tool: tools listed and called over the MCP protocol for real; the call was chosen by the local "
        "backend's keyword router (not the model), the model wrote the arguments and the answer")
TIMEOUT = 10.0  # seconds for one MCP exchange


@dataclass
class Server:
    """One ``mcp`` tool of a request."""

    label: str
    url: str
    headers: dict[str, str]
    allowed: Any  # None, a list of names, or {"tool_names": [...], "read_only": bool}
    approval: Any  # "always" (OpenAI's default), "never", or {"always": filter, "never": filter}


class Unreachable(Exception):
    """The MCP server could not be reached or did not speak the protocol."""


def uses_mcp(body: dict[str, Any]) -> bool:
    """Whether the request has an ``mcp`` tool (answered by :func:`respond`)."""
    tools = body.get("tools")
    return isinstance(tools, list) and any(isinstance(t, dict) and t.get("type") == "mcp" for t in tools)


def servers(tools: list[Any]) -> list[Server]:
    """The request's ``mcp`` tools, validated; any other kind of tool next to them is refused."""
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "mcp":
            raise unsupported(f"tools[{i}]", "offline, a request with an mcp tool may only hold mcp tools.")
        if set(tool) - MCP_FIELDS:
            name = sorted(set(tool) - MCP_FIELDS)[0]
            raise unsupported(f"tools[{i}].{name}", "the local backend's mcp tool does not support it.")
        if not isinstance(tool.get("server_label"), str) or not tool["server_label"]:
            raise invalid(f"tools[{i}].server_label", "is required.")
        if not isinstance(tool.get("server_url"), str) or not tool["server_url"].startswith(("http://", "https://")):
            raise invalid(f"tools[{i}].server_url", "is required offline (an http(s) URL; connectors need OpenAI).")
        headers = dict(tool.get("headers") or {})
        if tool.get("authorization"):
            headers["Authorization"] = f"Bearer {tool['authorization']}"
        out.append(Server(tool["server_label"], tool["server_url"], headers, tool.get("allowed_tools"),
                          tool.get("require_approval", "always")))
    return out


# -- the protocol (the mcp package's client over streamable HTTP) ------------------------------------------------
def over_mcp(server: Server, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open a session with ``server``, run ``work(session)``; connection failures raise :class:`Unreachable`."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def go() -> T:
        async with httpx2.AsyncClient(headers=server.headers, timeout=TIMEOUT) as http, \
                streamable_http_client(server.url, http_client=http) as (read, write, *_), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    try:
        return asyncio.run(asyncio.wait_for(go(), TIMEOUT))
    except Exception as exc:  # noqa: BLE001 - connection errors arrive wrapped in exception groups
        raise Unreachable(reason(exc)) from exc


def reason(exc: BaseException) -> str:
    """The innermost error of an exception group, in one line."""
    while getattr(exc, "exceptions", None):  # an exception group: its first member
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def list_tools(server: Server) -> list[dict[str, Any]]:
    """``tools/list`` on the server, as the ``tools`` of an ``mcp_list_tools`` item."""

    async def work(session: Any) -> list[dict[str, Any]]:
        listed = await session.list_tools()
        return [{"name": t.name, "description": t.description, "input_schema": t.input_schema,
                 "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations
                 else None} for t in listed.tools]

    try:
        return over_mcp(server, work)
    except Unreachable as exc:
        raise ApiError(f"Error retrieving tool list from MCP server: '{server.label}' at {server.url} "
                       f"({exc}). Is the server running?", "tools", "http_error", status=424,
                       kind="external_connector_error") from None


def call_tool(server: Server, name: str, arguments: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """``tools/call``: (output text, None), or (None, the ``mcp_call`` error) when the tool failed."""

    async def work(session: Any) -> Any:
        return await session.call_tool(name, arguments)

    try:
        result = over_mcp(server, work)
    except Unreachable as exc:
        raise ApiError(f"Error calling tool '{name}' on MCP server: '{server.label}' at {server.url} ({exc}). "
                       "Is the server running?", "tools", "http_error", status=424,
                       kind="external_connector_error") from None
    content = [part.model_dump(exclude_none=True) for part in result.content]
    text = "\n".join(part.get("text", "") for part in content if part.get("type") == "text")
    if result.is_error:
        return None, {"type": "mcp_tool_execution_error", "content": content}
    return text, None


# -- filters ---------------------------------------------------------------------------------------------------
def matches(spec: Any, tool: dict[str, Any]) -> bool:
    """Whether a tool filter (``{"tool_names": [...], "read_only": bool}`` or a list of names) covers the tool."""
    if isinstance(spec, list):
        return tool["name"] in spec
    if not isinstance(spec, dict):
        return False
    names, read_only = spec.get("tool_names"), spec.get("read_only")
    by_name = names is None or tool["name"] in names
    by_hint = read_only is None or bool((tool.get("annotations") or {}).get("readOnlyHint")) == read_only
    return by_name and by_hint and (names is not None or read_only is not None)


def allowed(server: Server, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return tools if server.allowed is None else [t for t in tools if matches(server.allowed, t)]


def needs_approval(server: Server, tool: dict[str, Any]) -> bool:
    """``require_approval``: "always" (the default), "never", or filters: tools under ``never`` skip approval,
    tools under ``always`` need it; a tool under neither needs it unless only ``always`` was given."""
    rule = server.approval
    if rule in ("always", None):
        return True
    if rule == "never":
        return False
    if not isinstance(rule, dict) or set(rule) - {"always", "never"}:
        raise invalid("tools.require_approval", "must be 'always', 'never' or {'always': ..., 'never': ...}.")
    if "never" in rule and matches(rule["never"], tool):
        return False
    if "always" in rule and matches(rule["always"], tool):
        return True
    return "never" in rule


class Approvals:
    """Approval requests waiting for an answer, by id."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(self, item: dict[str, Any], server: Server) -> None:
        with self.lock:
            self.pending[item["id"]] = {"item": item, "server_label": server.label}

    def restore(self, pending: dict[str, Any]) -> None:
        with self.lock:
            self.pending[pending["item"]["id"]] = pending

    def take(self, request_id: Any, param: str) -> dict[str, Any]:
        with self.lock:
            if request_id not in self.pending:
                raise ApiError(f"Invalid '{param}': no pending mcp_approval_request with id {request_id!r} "
                               "(answer each request once, with the previous_response_id of its response).",
                               param, "invalid_value")
            return self.pending.pop(request_id)


# -- the answer ------------------------------------------------------------------------------------------------
@dataclass
class Turn:
    """What one answer is built from: messages for the model, output items so far, tokens spent."""

    messages: list[dict[str, Any]]
    output: list[dict[str, Any]]
    prompt: int = 0
    completion: int = 0


def respond(call: Call, engines: Engines, store: Store, approvals: Approvals) -> Reply:
    """Answer a ``responses.create`` whose tools are ``mcp`` tools."""
    body = call.body
    if body.get("stream"):
        raise unsupported("stream", "offline, a response with an mcp tool is answered in one piece (no stream).")
    check(body)
    declared = servers(body["tools"])
    items = body.get("input")
    answers = [(i, item) for i, item in enumerate(items) if isinstance(item, dict)
               and item.get("type") == "mcp_approval_response"] if isinstance(items, list) else []
    rest = [item for item in items if item not in [a for _, a in answers]] if isinstance(items, list) else items
    turn = Turn(input_messages({**body, "input": rest}, store), [])
    params = sampling(body, "max_output_tokens", body.get("max_output_tokens"), DEFAULT_MAX_TOKENS)
    thinking = reasoning.plan("responses", body, call, params["max_tokens"])
    if thinking is not None:
        params["max_tokens"] = thinking.answer_cap()
    engine = engines.get("chat")
    seed: int = body["seed"] if isinstance(body.get("seed"), int) else call.default_seed()
    call.headers["x-course-note"] = NOTE
    pending = False
    if answers:
        for i, answer in answers:
            asked = approvals.take(answer.get("approval_request_id"), f"input[{i}].approval_request_id")
            try:
                decide(call, turn, declared, asked, answer)
            except ApiError:  # e.g. the server is down: the request stays answerable (nothing lost)
                approvals.restore(asked)
                raise
    else:
        pending = plan_call(call, turn, declared, approvals, engine, params, seed, body.get("tool_choice"))
    text = ""
    if not pending:
        text = generate(turn, engine, Plan(turn.messages, params), seed)
        turn.output.append({"id": call.make_id("msg_"), "type": "message", "status": "completed",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
    if thinking is not None:
        turn.output.insert(0, reasoning.item(call, "reasoning.encrypted_content" in (body.get("include") or [])))
        turn.completion += thinking.tokens
    response = skeleton(call, body, engine.name, thinking) | {
        "status": "completed", "output": turn.output,
        "usage": usage({"prompt_tokens": turn.prompt, "completion_tokens": turn.completion,
                        "reasoning_tokens": thinking.tokens if thinking else 0})}
    if body.get("store", True) is not False:
        store.keep(response, [*turn.messages, {"role": "assistant", "content": text or summary(turn.output)}])
    return Reply(json=response, model=engine.name)


def summary(output: list[dict[str, Any]]) -> str:
    asked = [o for o in output if o["type"] == "mcp_approval_request"]
    return "; ".join(f"I asked for approval to call {o['name']}({o['arguments']})" for o in asked)


def plan_call(call: Call, turn: Turn, declared: list[Server], approvals: Approvals, engine: Any,
              params: dict[str, Any], seed: int, choice: Any) -> bool:
    """List every server's tools, pick one call; True when it waits for approval."""
    offered: list[tuple[Server, dict[str, Any]]] = []
    for k, server in enumerate(declared):
        tools = allowed(server, list_tools(server))
        turn.output.append({"id": call.make_id("mcpl_", str(k)), "type": "mcp_list_tools",
                            "server_label": server.label, "tools": tools})
        offered += [(server, t) for t in tools]
    if choice not in (None, "auto", "none", "required"):
        raise unsupported("tool_choice", "offline, with an mcp tool only 'auto', 'none' or 'required'.")
    functions = [{"name": t["name"], "description": t.get("description") or "",
                  "parameters": t.get("input_schema") or {"type": "object"}} for _, t in offered]
    picked = [] if choice == "none" else route(turn.messages, functions)
    if not picked and choice == "required" and functions:
        picked = functions[:1]
    if not picked:
        return False
    server, tool = next((s, t) for s, t in offered if t["name"] == picked[0]["name"])
    arguments = write_arguments(turn, engine, Plan(turn.messages, params, picked[:1], "call"), seed)
    if needs_approval(server, tool):
        item = {"id": call.make_id("mcpr_"), "type": "mcp_approval_request", "server_label": server.label,
                "name": tool["name"], "arguments": arguments}
        approvals.add(item, server)
        turn.output.append(item)
        return True
    execute(call, turn, server, tool["name"], arguments, None)
    return False


def decide(call: Call, turn: Turn, declared: list[Server], pending: dict[str, Any], answer: dict[str, Any]) -> None:
    """An ``mcp_approval_response``: approved, the call runs; refused, the model is told it did not."""
    asked = pending["item"]
    server = next((s for s in declared if s.label == asked["server_label"]), None)
    if server is None:
        raise invalid("tools", f"the approved call needs the mcp tool with server_label {asked['server_label']!r}.")
    if answer.get("approve") is True:
        execute(call, turn, server, asked["name"], asked["arguments"], asked["id"])
        return
    why = f" ({answer['reason']})" if answer.get("reason") else ""
    turn.messages.append({"role": "user", "content": f"The call to {asked['name']} was refused by the user{why}, "
                                                     "so its result is not available. Answer without it."})


def execute(call: Call, turn: Turn, server: Server, name: str, arguments: str, approval: str | None) -> None:
    """Call the tool over MCP; the ``mcp_call`` item, and its output (or error) for the model."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        args = None
    if isinstance(args, dict):
        output, error = call_tool(server, name, args)
    else:
        output, error = None, {"type": "mcp_tool_execution_error",
                               "content": [{"type": "text", "text": f"arguments are not a JSON object: {arguments}"}]}
    turn.output.append({"id": call.make_id("mcp_", name), "type": "mcp_call", "server_label": server.label,
                        "name": name, "arguments": arguments, "approval_request_id": approval,
                        "output": output, "error": error, "status": "failed" if error else "completed"})
    said = output if error is None else "error: " + " ".join(c.get("text", "") for c in error["content"])
    turn.messages += [{"role": "assistant", "content": f"I called: {name}({arguments})"},
                      {"role": "user", "content": f"Result of the function call: {said}"}]


def write_arguments(turn: Turn, engine: Any, plan: Plan, seed: int) -> str:
    """The model writes the chosen tool's arguments (under the schema's grammar)."""
    with GENERATION_LOCK:
        events = list(run(engine, plan, seed))
    turn.prompt += events[-1]["prompt_tokens"]
    turn.completion += events[-1]["completion_tokens"]
    return "".join(e["text"] for e in events if e["kind"] == "args")


def generate(turn: Turn, engine: Any, plan: Plan, seed: int) -> str:
    """The model's text answer from the conversation (with any tool result in it)."""
    with GENERATION_LOCK:
        events = list(run(engine, plan, seed))
    final = events[-1]
    turn.prompt += final["prompt_tokens"]
    turn.completion += final["completion_tokens"]
    return "".join(e["text"] for e in events if e["kind"] == "text")
