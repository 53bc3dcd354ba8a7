"""``POST /v1/completions``: the legacy completions API over a small *base* model (logprobs, echo)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import reasoning
from .chat import LABELS, sampling
from .chat import usage as chat_usage
from .common import (
    CREATED,
    GENERATION_LOCK,
    ApiError,
    Call,
    Reply,
    check_known,
    integer,
    invalid,
    locked,
    unsupported,
)
from .engines import Engines, TextEngine

COMPLETION_FIELDS = {"model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options",
                     "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty", "best_of", "logit_bias",
                     "seed", "suffix"} | (LABELS - {"store", "metadata"})
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this endpoint


def prompts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        return value
    if isinstance(value, list) and value and not isinstance(value[0], str):
        raise unsupported("prompt", "token-id prompts use OpenAI's tokenizer, which the local model does not share; "
                                    "send text.")
    raise invalid("prompt", "must be a string or a list of strings.")


def check(body: dict[str, Any]) -> None:
    check_known(body, COMPLETION_FIELDS, "completions")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    if body.get("suffix") is not None:
        raise unsupported("suffix", "the local base model cannot fill in the middle.")
    n = body.get("n") or 1
    if body.get("best_of") not in (None, n):
        raise unsupported("best_of", "ranking several candidates server-side is not implemented; use n.")
    if body.get("stream_options") and not body.get("stream"):
        raise invalid("stream_options", "is only allowed with stream=true.")


def completions(call: Call, engines: Engines) -> Reply:
    """Answer a legacy completion request (JSON or stream)."""
    body = call.body
    check(body)
    reasoning.enforce("completions", body)
    texts = prompts(body.get("prompt"))
    n = integer(body, "n", 1, 8, 1) or 1
    params = sampling(body, "max_tokens", body.get("max_tokens"), DEFAULT_MAX_TOKENS)
    logprobs = integer(body, "logprobs", 0, 5, None)
    params |= {"logprobs": logprobs, "echo": bool(body.get("echo"))}
    seed = integer(body, "seed", -(2**63), 2**63 - 1, None)
    base_seed = call.default_seed() if seed is None else seed
    engine: TextEngine = engines.get(role_for(body["model"], engines))
    head = {"id": call.make_id("cmpl-"), "object": "text_completion", "created": CREATED, "model": engine.name,
            "system_fingerprint": "local-" + engine.name.lower()}
    # choice index = prompt * n + i; a prompt's tokens count once, however many choices it has
    jobs = [(p, base_seed + i, i == 0) for p in texts for i in range(n)]
    if body.get("stream"):
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return Reply(events=locked(stream(engine, head, jobs, params, include)), model=engine.name)
    with GENERATION_LOCK:
        return Reply(json=collect(engine, head, jobs, params), model=engine.name)


def role_for(model: str, engines: Engines) -> str:
    """The base model answers, unless the request names the served chat model itself."""
    return "chat" if model == engines.names.get("chat") else "completion"


def generate(engine: TextEngine, prompt: str, params: dict[str, Any], seed: int) -> Iterator[dict[str, Any]]:
    try:
        yield from engine.complete(prompt, {**params, "seed": seed})
    except ValueError as exc:
        if "context" in str(exc) or "exceed" in str(exc):
            raise ApiError(str(exc), param="prompt", code="context_length_exceeded") from exc
        raise


def merge_logprobs(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for part in parts:
        for key in out:
            out[key].extend(part.get(key) or [])
    return out


def collect(engine: TextEngine, head: dict[str, Any], jobs: list[tuple[str, int, bool]],
            params: dict[str, Any]) -> dict[str, Any]:
    choices, prompt_tokens, completion_tokens = [], 0, 0
    for index, (prompt, seed, first) in enumerate(jobs):
        pieces = list(generate(engine, prompt, params, seed))
        final = pieces.pop()
        lp = merge_logprobs([p["logprobs"] for p in pieces if p.get("logprobs")]) \
            if params["logprobs"] is not None else None
        choices.append({"index": index, "text": "".join(p["text"] for p in pieces), "logprobs": lp,
                        "finish_reason": final["finish_reason"]})
        if first:
            prompt_tokens += final["prompt_tokens"]
        completion_tokens += final["completion_tokens"]
    return head | {"choices": choices, "usage": short_usage(chat_usage(prompt_tokens, completion_tokens))}


def short_usage(u: dict[str, Any]) -> dict[str, Any]:
    return {k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def stream(engine: TextEngine, head: dict[str, Any], jobs: list[tuple[str, int, bool]], params: dict[str, Any],
           include_usage: bool) -> Iterator[tuple[str | None, Any]]:
    base = head | ({"usage": None} if include_usage else {})
    prompt_tokens, completion_tokens = 0, 0
    for index, (prompt, seed, first) in enumerate(jobs):
        for piece in generate(engine, prompt, params, seed):
            if "finish_reason" in piece:
                yield None, base | {"choices": [{"index": index, "text": "", "logprobs": None,
                                                 "finish_reason": piece["finish_reason"]}]}
                if first:
                    prompt_tokens += piece["prompt_tokens"]
                completion_tokens += piece["completion_tokens"]
            else:
                lp = piece.get("logprobs") if params["logprobs"] is not None else None
                yield None, base | {"choices": [{"index": index, "text": piece["text"], "logprobs": lp,
                                                 "finish_reason": None}]}
    if include_usage:
        yield None, base | {"choices": [], "usage": short_usage(chat_usage(prompt_tokens, completion_tokens))}
    yield None, "[DONE]"
