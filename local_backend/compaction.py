"""``POST /v1/responses/compact`` and ``context_management`` compaction, emulated with the small chat model.

OpenAI's compaction keeps every user message and replaces the rest of the conversation with one ``compaction``
item whose ``encrypted_content`` only OpenAI can read. Offline, the stand-in chat model writes a short summary
of the non-user turns (greedy, reasoning effort none, a small cap, so it repeats), and ``encrypted_content`` is a
*readable placeholder* that carries it: ``course-emulated:`` + base64 of JSON ``{"note": ..., "summary": ...}``.
When that item comes back in ``input``, :func:`context` turns it into a system message holding the summary, so
the next answer really uses it, on fewer input tokens than the full history. Every such answer says so in the
``x-course-emulated`` and ``x-course-note`` headers.

``context_management=[{"type": "compaction", "compact_threshold": N}]`` on ``responses.create`` counts the
input's tokens first (the engine evaluates the prompt and reports its size: the same count as ``usage``) and,
above N, compacts and answers on the compacted context, with the compaction item first in ``output``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .chat import Plan, run
from .common import CREATED, GENERATION_LOCK, Call, Reply, check_known, invalid, unsupported
from .engines import Engines, TextEngine

PREFIX = "course-emulated:"
PLACEHOLDER_NOTE = "not encrypted: the course's local backend emulates compaction"
CONTEXT_PREFIX = "Summary of the earlier conversation (compacted): "
TOOL_PREFIX = "Result of the function call: "  # how chat.engine_messages shows a function call output
SUMMARY_CAP = 40  # tokens of the summary
COMPACT_FIELDS = {"model", "input", "instructions", "previous_response_id", "prompt_cache_key",
                  "prompt_cache_options", "prompt_cache_retention", "service_tier"}
EMULATED = ("compaction emulated: the stand-in chat model wrote a short summary of the non-user turns; "
            "encrypted_content is a readable placeholder ('course-emulated:' + base64 JSON), not OpenAI's "
            "ciphertext")


def label(call: Call, note: str = EMULATED) -> None:
    """Add ``note`` to the answer's ``x-course-emulated`` and ``x-course-note`` headers."""
    for header in ("x-course-emulated", "x-course-note"):
        call.headers[header] = "; ".join(filter(None, [call.headers.get(header), note]))


def seal(summary: str) -> str:
    """The placeholder ``encrypted_content`` of a compaction item: readable on purpose."""
    note = {"note": PLACEHOLDER_NOTE, "summary": summary}
    return PREFIX + base64.b64encode(json.dumps(note, sort_keys=True).encode()).decode()


def unseal(content: Any, param: str) -> str:
    """The summary inside a placeholder made by :func:`seal`; a 400 naming ``param`` for anything else."""
    if not isinstance(content, str) or not content.startswith(PREFIX):
        raise invalid(param, "is not a compaction made by this local backend (OpenAI's compaction items are "
                             "encrypted and can only be read by OpenAI).")
    try:
        summary = json.loads(base64.b64decode(content.removeprefix(PREFIX), validate=True))["summary"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid(param, "is a damaged compaction placeholder (base64 JSON with a 'summary').") from None
    if not isinstance(summary, str):
        raise invalid(param, "is a damaged compaction placeholder (its summary is not text).")
    return summary


def context(item: dict[str, Any], param: str) -> dict[str, Any]:
    """A compaction item of ``input`` as the chat message the model reads."""
    return {"role": "system", "content": CONTEXT_PREFIX + unseal(item.get("encrypted_content"), param)}


def is_user(message: dict[str, Any]) -> bool:
    return message["role"] == "user" and not str(message["content"]).startswith(TOOL_PREFIX)


def count_tokens(engine: TextEngine, messages: list[dict[str, Any]], seed: int) -> int:
    """The prompt's size in the engine's own tokens: it evaluates the prompt (one token generated, dropped)."""
    params = {"max_tokens": 1, "temperature": 0.0, "top_p": 1.0}
    with GENERATION_LOCK:
        for e in run(engine, Plan(messages, params), seed):
            if e["kind"] == "done":
                return int(e["prompt_tokens"])
    return 0


def summarise(engine: TextEngine, messages: list[dict[str, Any]], seed: int) -> tuple[str, int, int]:
    """A short summary of the non-user turns, and the (input, output) tokens it took."""
    turns = [m for m in messages if not is_user(m) and (m["role"] != "system"
                                                          or str(m["content"]).startswith(CONTEXT_PREFIX))]
    if not turns:
        return "", 0, 0
    transcript = "\n".join(f"{m['role']}: {m['content']}" for m in turns)
    prompt = [{"role": "system", "content": "You write very short summaries."},
              {"role": "user", "content": f"Summarise in one sentence what was said:\n{transcript}"}]
    text, prompt_tokens, completion_tokens = [], 0, 0
    with GENERATION_LOCK:
        for e in run(engine, Plan(prompt, {"max_tokens": SUMMARY_CAP, "temperature": 0.0, "top_p": 1.0}), seed):
            if e["kind"] == "text":
                text.append(e["text"])
            elif e["kind"] == "done":
                prompt_tokens, completion_tokens = e["prompt_tokens"], e["completion_tokens"]
    return "".join(text).strip(), prompt_tokens, completion_tokens


def item(call: Call, summary: str) -> dict[str, Any]:
    return {"id": call.make_id("cmp_"), "type": "compaction", "encrypted_content": seal(summary)}


def user_items(call: Call, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user messages of a conversation as the input message items OpenAI's compaction keeps."""
    users = [m for m in messages if is_user(m)]
    return [{"id": call.make_id("msg_", f"user{k}"), "type": "message", "role": "user", "status": "completed",
             "content": [{"type": "input_text", "text": m["content"]}]} for k, m in enumerate(users)]


def compact(call: Call, engines: Engines, conversation: list[dict[str, Any]]) -> Reply:
    """``responses.compact``: all user messages, then one compaction item; ``conversation`` is the chat messages."""
    engine: TextEngine = engines.get("chat")
    summary, p, c = summarise(engine, conversation, call.default_seed())
    label(call)
    usage = {"input_tokens": p, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
             "output_tokens": c, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": p + c}
    answer = {"id": call.make_id("resp_"), "object": "response.compaction", "created_at": CREATED,
              "output": [*user_items(call, conversation), item(call, summary)], "usage": usage}
    return Reply(json=answer, model=engine.name)


def check(body: dict[str, Any]) -> None:
    """The body of ``responses.compact``."""
    check_known(body, COMPACT_FIELDS, "responses.compact")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    if body.get("input") is None and not body.get("previous_response_id"):
        raise invalid("input", "is required (or previous_response_id).")


def threshold(body: dict[str, Any]) -> int | None:
    """The ``compact_threshold`` of ``context_management`` (None when it is not set)."""
    entries = body.get("context_management")
    if entries is None:
        return None
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise invalid("context_management", "must be a list with one {'type': 'compaction', ...} entry.")
    entry = entries[0]
    if entry.get("type") != "compaction":
        raise invalid("context_management[0].type", "only 'compaction' is supported.")
    limit = entry.get("compact_threshold")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise invalid("context_management[0].compact_threshold", "must be a positive integer (tokens).")
    if body.get("stream"):
        raise unsupported("context_management", "offline, compaction with stream=true is not available; "
                                                "call without stream.")
    return limit


def manage(call: Call, engines: Engines, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                                  dict[str, Any] | None]:
    """Compact ``messages`` when ``context_management``'s threshold is crossed: (context, compaction item)."""
    limit = threshold(call.body)
    if limit is None:
        return messages, None
    engine: TextEngine = engines.get("chat")
    seed = call.default_seed()
    before = count_tokens(engine, messages, seed)
    if before <= limit:
        call.headers["x-course-note"] = "; ".join(filter(None, [
            call.headers.get("x-course-note"), f"context_management: {before} input tokens <= compact_threshold "
                                               f"{limit}, so nothing was compacted"]))
        return messages, None
    summary, p, c = summarise(engine, messages, seed)
    system = [m for m in messages if m["role"] == "system" and not str(m["content"]).startswith(CONTEXT_PREFIX)]
    kept = [*system[:1], *[m for m in messages if is_user(m)]]
    compacted = [*kept[:-1], {"role": "system", "content": CONTEXT_PREFIX + summary}, kept[-1]] \
        if kept and is_user(kept[-1]) else [*kept, {"role": "system", "content": CONTEXT_PREFIX + summary}]
    label(call, f"{EMULATED}; context_management: {before} input tokens > compact_threshold {limit}, so the "
                f"conversation was compacted first (summary pass: {p} input, {c} output tokens, not in usage)")
    return compacted, item(call, summary)

