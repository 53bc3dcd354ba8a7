"""``POST /v1/chat/completions``: OpenAI's chat API over a small local instruction model.

What the adapter adds to the engine: ``n > 1`` (seeds seed, seed+1, ...), ``max_completion_tokens``,
``stream_options.include_usage``, ``response_format`` json_schema (so ``.parse()`` works), and tool calls:
a forced ``tool_choice`` (or ``"required"``) makes the model write the arguments under a grammar built
from the function's JSON schema; ``"auto"`` is decided by a keyword router, not by the model (see README):
every function sharing a word with the question is called (parallel calls), or only the best one when
``parallel_tool_calls`` is false.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import reasoning
from .common import (
    CREATED,
    DEFAULT_MAX_TOKENS,
    GENERATION_LOCK,
    ApiError,
    Call,
    Reply,
    cap_tokens,
    check_known,
    integer,
    invalid,
    locked,
    number,
    stop_list,
    unsupported,
)
from .engines import Engines, Piece, TextEngine

FIXTURE_MODEL = "course-fixture"
VISION_NOTE = "no offline vision model: an image input was answered by a fixture"
VISION_TEXT = ("[Fixture from the course's local backend] No vision model runs offline, so this answer was not "
               "produced by looking at the image. Run this lesson live to see a real model describe it.")
# Fields that only label a request (they change nothing in the answer), so accepting them hides nothing.
LABELS = {"user", "metadata", "safety_identifier", "prompt_cache_key", "store", "service_tier"}
CHAT_FIELDS = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
    "stream_options", "stop", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
    "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls", "modalities",
    "reasoning_effort", "verbosity",
} | LABELS
STOPWORDS = {"what", "which", "the", "this", "that", "with", "from", "about", "please", "could", "would", "there",
             "their", "have", "your", "give", "tell", "does", "into", "when", "where", "will", "then", "than"}


@dataclass
class Plan:
    """What one choice generates: plain text, or the JSON arguments of one function."""

    messages: list[dict[str, Any]]
    params: dict[str, Any]
    tools: list[dict[str, Any]] = field(default_factory=list)  # OpenAI function definitions
    mode: str = "text"  # "text", or "call" (the model must call one of `tools`)
    note: str | None = None
    each: bool = False  # call every function in `tools`, one after the other (parallel tool calls)


def text_of(content: Any, param: str) -> str:
    """A message's content as plain text (text parts joined); image or audio parts raise :class:`Vision`."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(param, "must be a string or a list of content parts.")
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text", "output_text"):
            texts.append(part.get("text", ""))
        elif kind in ("image_url", "input_image", "input_file", "file"):
            raise Vision()
        elif kind in ("input_audio",):
            raise unsupported(param, "audio inputs to chat are not available offline; use audio.transcriptions.")
        else:
            raise invalid(param, f"unknown content part type {kind!r}.")
    return "\n".join(texts)


class Vision(Exception):
    """A request holds an image: the answer is a labelled fixture."""


def engine_messages(messages: Any) -> list[dict[str, Any]]:
    """OpenAI chat messages as the engine's plain role/content messages."""
    if not isinstance(messages, list) or not messages:
        raise invalid("messages", "must be a non-empty list.")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            raise invalid(f"messages[{i}].role", "must be system, developer, user, assistant or tool.")
        role = "system" if m["role"] == "developer" else m["role"]
        text = text_of(m.get("content"), f"messages[{i}].content")
        if role == "assistant" and m.get("tool_calls"):
            calls = "; ".join(f"{c['function']['name']}({c['function'].get('arguments', '')})" for c in m["tool_calls"])
            text = (text + "\n" if text else "") + f"I called: {calls}"
        if role == "tool":
            role, text = "user", f"Result of the function call: {text}"
        out.append({"role": role, "content": text})
    return out


def functions_of(tools: Any) -> list[dict[str, Any]]:
    """The function definitions in ``tools`` (chat shape ``{"type": "function", "function": {...}}``)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("tools", "must be a list.")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function" or "name" not in tool.get("function", {}):
            raise unsupported(f"tools[{i}]", "only function tools can run offline.")
        out.append(tool["function"])
    return out


def words(text: str) -> set[str]:
    """Content words (4+ letters, crude plural folding) for the keyword router."""
    return {w.rstrip("s") for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in STOPWORDS}


def route(messages: list[dict[str, Any]], functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``tool_choice="auto"`` decision: the functions sharing words with the last user message.

    Best match first (ties in the order of ``tools``); empty when no word matches. A 135M model does not
    decide reliably whether to call a tool, so this keyword router decides; the model still writes the
    arguments. After a tool result, the answer is text.
    """
    if not messages or messages[-1]["content"].startswith("Result of the function call:"):
        return []
    asked = words(messages[-1]["content"]) if messages[-1]["role"] == "user" else set()
    scored = [(len(asked & words(f["name"].replace("_", " ") + " " + f.get("description", ""))), f)
              for f in functions]
    return [f for score, f in sorted(scored, key=lambda pair: -pair[0]) if score > 0]


def plan_tools(body: dict[str, Any], messages: list[dict[str, Any]], params: dict[str, Any], call: Call) -> Plan:
    """Turn ``tools`` and ``tool_choice`` into a plan: plain text, or a call to one of the functions."""
    functions = functions_of(body.get("tools"))
    choice = body.get("tool_choice")
    if choice is not None and not functions and choice != "none":
        raise invalid("tool_choice", "is only allowed when 'tools' are given.")
    if not functions or choice == "none":
        return Plan(messages, params)
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        chosen = [f for f in functions if f["name"] == name]
        if not chosen:
            raise invalid("tool_choice", f"names no function in 'tools': {name!r}.")
        return Plan(messages, params, chosen, "call")
    if choice == "required":
        return Plan(messages, params, functions, "call")
    if choice not in (None, "auto"):
        raise invalid("tool_choice", "must be 'none', 'auto', 'required' or a named function.")
    picked = route(messages, functions)
    if body.get("parallel_tool_calls") is False:
        picked = picked[:1]
    note = ("tool_choice=auto decided by the local backend's keyword router (not the model): "
            + (f"called {', '.join(f['name'] for f in picked)}" if picked else "answered in text"))
    call.headers["x-course-note"] = note
    return Plan(messages, params, picked, "call" if picked else "text", note, each=len(picked) > 1)


def call_prompt(plan: Plan) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages and a JSON schema that make the model write a function call."""
    lines = [f"- {f['name']}: {f.get('description', '')}" for f in plan.tools]
    system = ("You call a function to answer. Available functions:\n" + "\n".join(lines)
              + "\nReply with the function's arguments as JSON.")
    if len(plan.tools) == 1:
        schema = plan.tools[0].get("parameters") or {"type": "object", "properties": {}}
    else:
        schema = {"anyOf": [{"type": "object", "properties": {"name": {"const": f["name"]},
                                                              "arguments": f.get("parameters") or {"type": "object"}},
                             "required": ["name", "arguments"]} for f in plan.tools]}
    return [{"role": "system", "content": system}, *plan.messages], {**plan.params, "schema": schema}


def engine_errors(pieces: Iterator[Piece]) -> Iterator[Piece]:
    """Turn llama.cpp's context overflow (a ValueError) into OpenAI's 400."""
    try:
        yield from pieces
    except ValueError as exc:
        if "context" in str(exc) or "exceed" in str(exc):
            raise ApiError(str(exc), param="messages", code="context_length_exceeded") from exc
        raise


def run(engine: TextEngine, plan: Plan, seed: int) -> Iterator[dict[str, Any]]:
    """One choice as events: text pieces, or a call then its argument pieces; then ``done``."""
    params = {**plan.params, "seed": seed}
    if plan.mode == "text":
        for piece in engine_errors(engine.chat(plan.messages, params)):
            yield {"kind": "done" if "finish_reason" in piece else "text", **piece}
        return
    if plan.each:  # parallel tool calls: the model writes each function's arguments in turn
        prompt, completion, reason = 0, 0, "tool_calls"
        for tool in plan.tools:
            for e in run(engine, Plan(plan.messages, plan.params, [tool], "call"), seed):
                if e["kind"] != "done":
                    yield e
                    continue
                prompt, completion = prompt + e["prompt_tokens"], completion + e["completion_tokens"]
                reason = reason if e["finish_reason"] == "tool_calls" else e["finish_reason"]
        yield {"kind": "done", "finish_reason": reason, "prompt_tokens": prompt, "completion_tokens": completion}
        return
    messages, params = call_prompt(Plan(plan.messages, params, plan.tools, plan.mode))
    if len(plan.tools) == 1:
        yield {"kind": "call", "name": plan.tools[0]["name"]}
        for piece in engine_errors(engine.chat(messages, params)):
            if "finish_reason" in piece:
                reason = "tool_calls" if piece["finish_reason"] == "stop" else piece["finish_reason"]
                yield {"kind": "done", **piece, "finish_reason": reason}
            else:
                yield {"kind": "args", **piece}
        return
    # Several functions: generate {"name", "arguments"} under the grammar, then announce the call.
    pieces = list(engine_errors(engine.chat(messages, params)))
    final = pieces[-1]
    text = "".join(p.get("text", "") for p in pieces[:-1])
    try:
        parsed = json.loads(text)
        name, args = parsed["name"], json.dumps(parsed["arguments"])
    except (ValueError, KeyError, TypeError):
        name, args = plan.tools[0]["name"], text
    yield {"kind": "call", "name": name}
    yield {"kind": "args", "text": args}
    reason = "tool_calls" if final["finish_reason"] == "stop" else final["finish_reason"]
    yield {"kind": "done", **final, "finish_reason": reason}


def usage(prompt: int, completion: int, reasoning_tokens: int = 0) -> dict[str, Any]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def sampling(body: dict[str, Any], max_param: str, max_value: Any, default: int) -> dict[str, Any]:
    """The engine parameters shared by chat, Responses and completions, validated."""
    bias = body.get("logit_bias")
    if bias is not None and (not isinstance(bias, dict) or not all(-100 <= v <= 100 for v in bias.values())):
        raise invalid("logit_bias", "must map token ids to numbers between -100 and 100.")
    return {
        "max_tokens": cap_tokens(max_value, max_param, default),
        "temperature": number(body, "temperature", 0, 2, 1.0),
        "top_p": number(body, "top_p", 0, 1, 1.0),
        "presence_penalty": number(body, "presence_penalty", -2, 2, None),
        "frequency_penalty": number(body, "frequency_penalty", -2, 2, None),
        "stop": stop_list(body.get("stop")),
        "logit_bias": bias,
    }


def response_format(value: Any, param: str = "response_format") -> dict[str, Any]:
    """``text`` / ``json_object`` / ``json_schema`` as engine parameters."""
    if value is None or value.get("type") == "text":
        return {}
    if value.get("type") == "json_object":
        return {"json_object": True}
    if value.get("type") == "json_schema":
        spec = value.get("json_schema", value)  # chat nests it; Responses' text.format does not
        if not isinstance(spec.get("schema"), dict):
            raise invalid(param, "json_schema needs a 'schema' object.")
        return {"schema": spec["schema"]}
    raise invalid(param, f"unknown type {value.get('type')!r}.")


def check_chat(body: dict[str, Any]) -> None:
    """Reject what the chat adapter cannot honour, naming the parameter."""
    check_known(body, CHAT_FIELDS, "chat.completions")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    if body.get("modalities") not in (None, ["text"]):
        raise unsupported("modalities", "only text output is available offline.")
    reasoning.enforce("chat", body)
    if body.get("store"):
        raise unsupported("store", "the local backend keeps no stored completions.")
    if body.get("service_tier") not in (None, "auto", "default"):
        raise unsupported("service_tier", "the local backend has one tier.")
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        raise invalid("top_logprobs", "needs logprobs=true.")
    integer(body, "top_logprobs", 0, 20, None)


def vision_fixture(call: Call, body: dict[str, Any]) -> Reply:
    """A labelled fixture for a chat request holding an image."""
    call.fixture(VISION_NOTE)
    message = {"role": "assistant", "content": VISION_TEXT, "refusal": None, "annotations": []}
    answer = {"id": call.make_id("chatcmpl-"), "object": "chat.completion", "created": CREATED,
              "model": FIXTURE_MODEL, "system_fingerprint": "course-fixture",
              "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
              "usage": usage(0, 0)}
    if not body.get("stream"):
        return Reply(json=answer, model=FIXTURE_MODEL)
    chunk = {k: answer[k] for k in ("id", "created", "model", "system_fingerprint")}
    chunk["object"] = "chat.completion.chunk"
    events = [(None, chunk | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": VISION_TEXT},
                                          "finish_reason": "stop", "logprobs": None}]}), (None, "[DONE]")]
    return Reply(events=iter(events), model=FIXTURE_MODEL)


def chat_completions(call: Call, engines: Engines) -> Reply:
    """Answer a chat completion request (JSON or stream)."""
    body = call.body
    check_chat(body)
    try:
        messages = engine_messages(body.get("messages"))
    except Vision:
        return vision_fixture(call, body)
    n = integer(body, "n", 1, 8, 1) or 1
    limit_param = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    params = sampling(body, limit_param, body.get(limit_param), DEFAULT_MAX_TOKENS)
    params |= response_format(body.get("response_format"))
    if body.get("logprobs"):
        params |= {"logprobs": True, "top_logprobs": body.get("top_logprobs") or 0}
    thinking = reasoning.plan("chat", body, call, params["max_tokens"])
    if thinking is not None:
        params["max_tokens"] = thinking.answer_cap()
    plan = plan_tools(body, messages, params, call)
    if plan.mode == "call" and params.get("schema"):
        raise invalid("response_format", "a json_schema cannot be combined with a forced tool call offline.")
    seed = integer(body, "seed", -(2**63), 2**63 - 1, None)
    base_seed = call.default_seed() if seed is None else seed
    engine: TextEngine = engines.get("chat")
    head = {"id": call.make_id("chatcmpl-"), "created": CREATED, "model": engine.name,
            "system_fingerprint": "local-" + engine.name.lower(), "service_tier": "default"}
    choices = (reasoning.spend(run(engine, plan, base_seed + i), thinking) for i in range(n))
    if body.get("stream"):
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return Reply(events=locked(stream_chunks(call, head, choices, include)), model=engine.name)
    with GENERATION_LOCK:
        return Reply(json=collect(call, head, choices), model=engine.name)


def collect(call: Call, head: dict[str, Any], choices: Iterator[Iterator[dict[str, Any]]]) -> dict[str, Any]:
    """The non-streamed ``chat.completion``: every choice run to its end."""
    out, prompt, completion, thought = [], 0, 0, 0
    for index, events in enumerate(choices):
        text, calls, logprobs, final = [], [], [], {}
        for e in events:
            if e["kind"] == "text":
                text.append(e["text"])
                logprobs.extend(e.get("logprobs") or [])
            elif e["kind"] == "args":
                calls[-1]["function"]["arguments"] += e["text"]
            elif e["kind"] == "call":
                calls.append({"id": call_id(call, index, len(calls)), "type": "function",
                              "function": {"name": e["name"], "arguments": ""}})
            else:
                final = e
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else "".join(text),
                                   "refusal": None, "annotations": []}
        if calls:
            message["tool_calls"] = calls
        out.append({"index": index, "message": message, "finish_reason": final["finish_reason"],
                    "logprobs": {"content": logprobs, "refusal": None} if call.body.get("logprobs") else None})
        prompt = final["prompt_tokens"]
        completion += final["completion_tokens"]
        thought += final.get("reasoning_tokens", 0)
    return {"object": "chat.completion", **head, "choices": out, "usage": usage(prompt, completion, thought)}


def call_id(call: Call, choice: int, k: int) -> str:
    """The id of the k-th tool call of a choice (the first keeps the single-call id)."""
    return call.make_id("call_", str(choice) if k == 0 else f"{choice}.{k}")


def stream_chunks(call: Call, head: dict[str, Any], choices: Iterator[Iterator[dict[str, Any]]],
                  include_usage: bool) -> Iterator[tuple[str | None, Any]]:
    """``chat.completion.chunk`` events: per choice a role delta, content (or tool-call) deltas and a finish."""
    base = {"object": "chat.completion.chunk", **head} | ({"usage": None} if include_usage else {})
    want_logprobs = bool(call.body.get("logprobs"))
    prompt, completion, thought = 0, 0, 0

    def chunk(index: int, delta: dict[str, Any], reason: str | None = None, logprobs: Any = None) -> Any:
        lp = {"content": logprobs or [], "refusal": None} if want_logprobs and logprobs is not None else None
        return None, base | {"choices": [{"index": index, "delta": delta, "finish_reason": reason, "logprobs": lp}]}

    for index, events in enumerate(choices):
        yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
        k = -1
        for e in events:
            if e["kind"] == "text":
                yield chunk(index, {"content": e["text"]}, logprobs=e.get("logprobs"))
            elif e["kind"] == "call":
                k += 1
                tool = {"index": k, "id": call_id(call, index, k), "type": "function",
                        "function": {"name": e["name"], "arguments": ""}}
                yield chunk(index, {"tool_calls": [tool]})
            elif e["kind"] == "args":
                yield chunk(index, {"tool_calls": [{"index": k, "function": {"arguments": e["text"]}}]})
            else:
                yield chunk(index, {}, e["finish_reason"])
                prompt = e["prompt_tokens"]
                completion += e["completion_tokens"]
                thought += e.get("reasoning_tokens", 0)
    if include_usage:
        yield None, base | {"choices": [], "usage": usage(prompt, completion, thought)}
    yield None, "[DONE]"
