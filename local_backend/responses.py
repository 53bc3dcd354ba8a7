"""``POST /v1/responses`` (and ``GET``/``DELETE /v1/responses/{id}``): the Responses API mapped onto chat.

``instructions`` becomes a system message, ``input`` (a string or a list of messages, function calls and
function call outputs) becomes the conversation, ``max_output_tokens`` the token limit and
``text.format`` the response format. ``previous_response_id`` continues a conversation this server
answered (kept in memory, unless it was sent with ``store=false``). Streams emit the same typed events as
OpenAI's, so the SDK parses them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from . import compaction, reasoning
from .chat import (
    LABELS,
    Plan,
    Vision,
    engine_messages,
    plan_tools,
    response_format,
    run,
    sampling,
    text_of,
)
from .common import (
    CREATED,
    DEFAULT_MAX_TOKENS,
    GENERATION_LOCK,
    ApiError,
    Call,
    Reply,
    check_known,
    invalid,
    locked,
    unsupported,
)
from .engines import Engines, TextEngine
from .reasoning import Thinking

RESPONSES_FIELDS = {"model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream",
                    "text", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id", "reasoning",
                    "truncation", "include", "seed", "stream_options", "background", "conversation",
                    "prompt_cache_retention", "prompt_cache_options", "context_management"} | LABELS
INCLUDABLE = {"reasoning.encrypted_content"}
CACHE_NOTE = ("prompt caching: the local backend evaluates every prompt in full (for determinism), so "
              "usage.input_tokens_details.cached_tokens is always 0")
FIXTURE_NOTE = "no offline vision model: an image input was answered by a fixture"


class Store:
    """Answered responses, by id, with the conversation that led to each (for ``previous_response_id``)."""

    def __init__(self) -> None:
        self.responses: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def keep(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        with self.lock:
            self.responses[response["id"]] = response
            self.conversations[response["id"]] = conversation


def input_messages(body: dict[str, Any], store: Store) -> list[dict[str, Any]]:
    """``instructions`` + the previous conversation + ``input`` as chat messages."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    previous = body.get("previous_response_id")
    if previous:
        if previous not in store.conversations:  # OpenAI: a 400, also for a response sent with store=false
            raise ApiError(f"Previous response with id '{previous}' not found.", "previous_response_id",
                           "previous_response_not_found", status=400)
        messages += [m for m in store.conversations[previous] if m["role"] != "system"]
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    if not isinstance(items, list):
        raise invalid("input", "must be a string or a list of items.")
    chat: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind == "message":
            chat.append({"role": item.get("role"), "content": text_of(item.get("content"), f"input[{i}].content")})
        elif kind == "function_call":
            chat.append({"role": "assistant", "content": None, "tool_calls": [
                {"function": {"name": item.get("name"), "arguments": item.get("arguments", "")}}]})
        elif kind == "function_call_output":
            output = item.get("output")
            chat.append({"role": "tool", "content": output if isinstance(output, str) else json.dumps(output)})
        elif kind == "compaction":  # the emulated compaction's summary, as context (a 400 for a real one)
            chat.append(compaction.context(item, f"input[{i}].encrypted_content"))
        elif kind == "reasoning":
            continue  # the local model does not reason; earlier reasoning items carry nothing to replay
        else:
            raise unsupported(f"input[{i}].type", f"items of type {kind!r} are not available offline.")
    return messages + (engine_messages(chat) if chat else [])


def functions(tools: Any) -> list[dict[str, Any]] | None:
    """Responses-shaped function tools in chat shape; any hosted tool is rejected."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise invalid("tools", "must be a list.")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            raise unsupported(f"tools[{i}]", f"hosted tools ({kind!r}) do not exist offline; only function tools.")
        out.append({"type": "function", "function": {k: tool[k] for k in ("name", "description", "parameters")
                                                     if k in tool}})
    return out


def check(body: dict[str, Any]) -> None:
    check_known(body, RESPONSES_FIELDS, "responses")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    reasoning.enforce("responses", body)
    if body.get("truncation") not in (None, "disabled", "auto"):
        raise invalid("truncation", "must be 'auto' or 'disabled'.")
    include = body.get("include") or []
    if not isinstance(include, list) or set(include) - INCLUDABLE:
        raise unsupported("include", "offline, only 'reasoning.encrypted_content' can be included.")
    if (body.get("reasoning") or {}).get("summary") not in (None, "auto", "concise", "detailed"):
        raise invalid("reasoning.summary", "must be 'auto', 'concise' or 'detailed'.")
    if body.get("prompt_cache_retention") not in (None, "in_memory", "24h"):
        raise invalid("prompt_cache_retention", "must be 'in_memory' or '24h'.")
    options = body.get("prompt_cache_options") or {}
    if set(options) - {"mode", "ttl"}:
        raise unsupported("prompt_cache_options", "offline, only 'mode' and 'ttl' are accepted (nothing is cached).")
    if options.get("ttl") not in (None, "30m", "12h") or options.get("mode") not in (None, "implicit", "explicit"):
        raise invalid("prompt_cache_options", "ttl must be '30m' or '12h', mode 'implicit' or 'explicit'.")
    if body.get("stream_options") and not body.get("stream"):
        raise invalid("stream_options", "is only allowed with stream=true.")


def responses_create(call: Call, engines: Engines, store: Store) -> Reply:
    """Answer ``responses.create`` (JSON, or a stream of typed events)."""
    body = call.body
    check(body)
    try:
        messages = input_messages(body, store)
    except Vision:
        return vision_fixture(call, body)
    messages, compacted = compaction.manage(call, engines, messages)
    chat_body = {"tools": functions(body.get("tools")), "tool_choice": chat_tool_choice(body.get("tool_choice"))}
    params = sampling(body, "max_output_tokens", body.get("max_output_tokens"), DEFAULT_MAX_TOKENS)
    params |= response_format((body.get("text") or {}).get("format"), "text.format")
    thinking = reasoning.plan("responses", body, call, params["max_tokens"])
    if thinking is not None:
        params["max_tokens"] = thinking.answer_cap()
    plan = plan_tools(chat_body, messages, params, call)
    seed = body.get("seed") if isinstance(body.get("seed"), int) else call.default_seed()
    engine: TextEngine = engines.get("chat")
    base = skeleton(call, body, engine.name, thinking)
    if (body.get("text") or {}).get("verbosity") not in (None, "medium"):
        note = "text.verbosity is echoed, but the stand-in model does not follow it (its length is its own)"
        call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), note]))
    if body.get("prompt_cache_key") or body.get("prompt_cache_retention") or body.get("prompt_cache_options"):
        call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), CACHE_NOTE]))
    if body.get("stream"):
        events = reasoning.spend(fitted(engine, plan, seed, body, call), thinking)
        return Reply(events=locked(stream_events(call, base, events, store, plan, thinking)),
                     content_type="text/event-stream", model=engine.name)
    with GENERATION_LOCK:
        answer = finish(call, base, list(reasoning.spend(fitted(engine, plan, seed, body, call), thinking)), store,
                        plan, thinking)
    if compacted is not None:  # OpenAI: the compaction item comes first in output
        answer["output"].insert(0, compacted)
    return Reply(json=answer, model=engine.name)


def fitted(engine: TextEngine, plan: Plan, seed: int, body: dict[str, Any], call: Call) -> Iterator[dict[str, Any]]:
    """The generation; with ``truncation="auto"``, the oldest turns are dropped while the prompt overflows."""
    dropped = 0
    while True:
        pieces = run(engine, plan, seed)
        try:
            first = next(pieces)
        except ApiError as exc:
            turns = [i for i, m in enumerate(plan.messages) if m["role"] != "system"]
            if body.get("truncation") != "auto" or exc.code != "context_length_exceeded" or len(turns) < 2:
                raise
            del plan.messages[turns[0]]
            dropped += 1
            continue
        if dropped:
            note = (f"truncation=auto: the prompt overflowed the context, so the {dropped} oldest message(s) "
                    "were dropped")
            call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), note]))
        yield first
        yield from pieces
        return


def chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if isinstance(choice, dict):
        raise unsupported("tool_choice", "only function tools exist offline.")
    return choice


def skeleton(call: Call, body: dict[str, Any], model: str, thinking: Thinking | None = None) -> dict[str, Any]:
    """The response object before any output: echoes the request's settings like OpenAI's does."""
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    asked = body.get("reasoning") or {}
    effort = thinking.effort if thinking else asked.get("effort")
    return {
        "id": call.make_id("resp_"), "object": "response", "created_at": CREATED, "status": "in_progress",
        "background": False, "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"), "model": model, "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": effort, "summary": asked.get("summary")},
        "service_tier": "default", "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt, "verbosity": (body.get("text") or {}).get("verbosity", "medium")},
         "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled", "usage": None, "user": body.get("user"),
        "metadata": body.get("metadata") or {},
        "prompt_cache_key": body.get("prompt_cache_key"), "prompt_cache_retention": body.get("prompt_cache_retention"),
    } | ({"prompt_cache_options": {"mode": "implicit", "ttl": "30m"} | body["prompt_cache_options"]}
         if body.get("prompt_cache_options") else {})


def usage(final: dict[str, Any]) -> dict[str, Any]:
    p, c = final["prompt_tokens"], final["completion_tokens"]
    return {"input_tokens": p, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": c, "output_tokens_details": {"reasoning_tokens": final.get("reasoning_tokens", 0)},
            "total_tokens": p + c}


def call_item(call: Call, k: int, name: str, args: str, status: str) -> dict[str, Any]:
    """The k-th function call item of a response (the first keeps the single-call ids)."""
    salt = "" if k == 0 else str(k)
    return {"id": call.make_id("fc_", salt), "type": "function_call", "status": status,
            "call_id": call.make_id("call_", salt), "name": name, "arguments": args}


def items(call: Call, events: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    """The output items of a finished generation: one message, or one item per function call."""
    calls: list[list[str]] = []  # [name, arguments] per call, in order
    for e in events:
        if e["kind"] == "call":
            calls.append([e["name"], ""])
        elif e["kind"] == "args" and calls:
            calls[-1][1] += e["text"]
    if calls:
        return [call_item(call, k, name, args, status) for k, (name, args) in enumerate(calls)]
    text = "".join(e["text"] for e in events if e["kind"] == "text")
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return [{"id": call.make_id("msg_"), "type": "message", "status": status, "role": "assistant",
             "content": [part]}]


def finish(call: Call, base: dict[str, Any], events: list[dict[str, Any]], store: Store,
           plan: Plan, thinking: Thinking | None = None) -> dict[str, Any]:
    """The completed (or incomplete) response object, kept for ``previous_response_id`` unless ``store`` is false."""
    final = events[-1]
    incomplete = final["finish_reason"] == "length"
    output = [] if thinking and thinking.exhausted else items(call, events, "incomplete" if incomplete else "completed")
    sealed = "reasoning.encrypted_content" in (call.body.get("include") or [])
    output = ([reasoning.item(call, sealed)] if thinking else []) + output
    response = base | {"status": "incomplete" if incomplete else "completed", "output": output,
                       "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
                       "usage": usage(final)}
    said = [i for i in output if i["type"] != "reasoning"]
    content = ("" if not said else said[0]["content"][0]["text"] if said[0]["type"] == "message"
               else "I called: " + "; ".join(f"{i['name']}({i['arguments']})" for i in said))
    if response.get("store", True) is not False:
        store.keep(response, [*plan.messages, {"role": "assistant", "content": content}])
    return response


def stream_events(call: Call, base: dict[str, Any], events: Iterator[dict[str, Any]], store: Store,
                  plan: Plan, thinking: Thinking | None = None) -> Iterator[tuple[str | None, Any]]:
    """The typed server-sent events of a streamed response, each with its ``sequence_number``."""
    counter = iter(range(1_000_000))

    def event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, "sequence_number": next(counter), **data}

    yield event("response.created", response=base)
    yield event("response.in_progress", response=base)
    offset = 0  # output_index of the first message or call: after the reasoning item, when there is one
    if thinking is not None:
        thought = reasoning.item(call, "reasoning.encrypted_content" in (call.body.get("include") or []))
        yield event("response.output_item.added", output_index=0, item=thought)
        yield event("response.output_item.done", output_index=0, item=thought)
        offset = 1
    seen: list[dict[str, Any]] = []
    item: dict[str, Any] | None = None
    index = 0  # output_index of the item being written

    def close(done: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        if done["type"] == "message":
            part = done["content"][0]
            yield event("response.output_text.done", item_id=done["id"], output_index=index + offset, content_index=0,
                        text=part["text"], logprobs=[])
            yield event("response.content_part.done", item_id=done["id"], output_index=index + offset, content_index=0,
                        part=part)
        else:
            yield event("response.function_call_arguments.done", item_id=done["id"], output_index=index + offset,
                        name=done["name"], arguments=done["arguments"])
        yield event("response.output_item.done", output_index=index + offset, item=done)

    for e in events:
        if e["kind"] == "done":
            seen.append(e)
            break
        if e["kind"] == "call" and item is not None:  # the next of several calls: finish the previous one
            yield from close(items(call, seen, "completed")[index])
            item, index = None, index + 1
        seen.append(e)
        if item is None:
            item = items(call, seen, "in_progress")[index]
            if item["type"] == "message":
                item["content"] = []
            yield event("response.output_item.added", output_index=index + offset, item=item)
            if item["type"] == "message":
                yield event("response.content_part.added", item_id=item["id"], output_index=index + offset,
                            content_index=0,
                            part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        if e["kind"] == "text" and e["text"]:
            yield event("response.output_text.delta", item_id=item["id"], output_index=index + offset, content_index=0,
                        delta=e["text"], logprobs=[])
        elif e["kind"] == "args" and e["text"]:
            yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=index + offset,
                        delta=e["text"])
    response = finish(call, base, seen, store, plan, thinking)
    if not (thinking and thinking.exhausted):
        done = response["output"][index + offset]
        if item is None:  # nothing was generated at all: announce the (empty) item now
            yield event("response.output_item.added", output_index=index + offset, item=done)
        yield from close(done)
    kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield event(kind, response=response)


def vision_fixture(call: Call, body: dict[str, Any]) -> Reply:
    """A labelled fixture for an input holding an image."""
    from .chat import FIXTURE_MODEL, VISION_TEXT

    call.fixture(FIXTURE_NOTE)
    part = {"type": "output_text", "text": VISION_TEXT, "annotations": [], "logprobs": []}
    item = {"id": call.make_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
            "content": [part]}
    response = skeleton(call, body, FIXTURE_MODEL) | {
        "status": "completed", "output": [item],
        "usage": usage({"prompt_tokens": 0, "completion_tokens": 0})}
    if not body.get("stream"):
        return Reply(json=response, model=FIXTURE_MODEL)
    events = [("response.created", {"type": "response.created", "sequence_number": 0,
                                    "response": response | {"status": "in_progress", "output": []}}),
              ("response.completed", {"type": "response.completed", "sequence_number": 1, "response": response})]
    return Reply(events=iter(events), content_type="text/event-stream", model=FIXTURE_MODEL)


def responses_get(response_id: str, store: Store, delete: bool = False) -> Reply:
    """``responses.retrieve`` / ``responses.delete`` on what this server answered since it started."""
    with store.lock:
        if response_id not in store.responses:
            raise ApiError(f"Response with id '{response_id}' not found.", None, "not_found", status=404)
        if delete:
            store.responses.pop(response_id)
            store.conversations.pop(response_id, None)
            return Reply(json={"id": response_id, "object": "response.deleted", "deleted": True})
        return Reply(json=store.responses[response_id])
