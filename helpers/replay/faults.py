"""Simulated API failures, so lessons can show each error and the right reaction.

The course server injects these on request (``helpers.faults.inject("rate_limit")``), in live and record
mode; a recording keeps them as labelled fixtures, and replay plays them back in order. They are authored
here in the shape of OpenAI's error responses (status, ``error.type``, ``error.code``, headers); the message
of each says it was simulated, so no one mistakes it for a real answer from OpenAI.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interaction import Source, StoredRequest, StoredResponse, error_response, requested_model

SIMULATED = "[simulated by the course server]"


@dataclass(frozen=True)
class Fault:
    """One kind of failure: its HTTP status, error type and code, extra headers, and a message."""

    status: int
    kind: str
    code: str | None
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    note: str = ""


FAULTS: dict[str, Fault] = {
    "invalid_key": Fault(
        401, "invalid_request_error", "invalid_api_key",
        "Incorrect API key provided. Check OPENAI_API_KEY, or create a new key in your account.",
        note="401 invalid API key",
    ),
    "rate_limit": Fault(
        429, "requests", "rate_limit_exceeded",
        "Rate limit reached for requests per minute. Please try again in 1s.",
        headers=(("retry-after", "1"), ("retry-after-ms", "500"), ("x-ratelimit-limit-requests", "500"),
                 ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "1s")),
        note="429 rate limit with retry-after",
    ),
    "insufficient_quota": Fault(
        429, "insufficient_quota", "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
        headers=(("x-should-retry", "false"),),
        note="429 insufficient quota (retrying does not help)",
    ),
    "server_error": Fault(
        500, "server_error", None,
        "The server had an error while processing your request. Sorry about that!",
        note="500 server error",
    ),
    "retired_model": Fault(
        404, "invalid_request_error", "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
        note="404 model not found (a retired model)",
    ),
    "stream_cut": Fault(200, "", None, "", note="stream cut off mid-way"),
}


def names() -> list[str]:
    return sorted(FAULTS)


def response_for(name: str, request: StoredRequest) -> StoredResponse:
    """The stored form of a fault's response (not for ``stream_cut``, which cuts a real stream)."""
    fault = FAULTS[name]
    message = f"{fault.message.format(model=requested_model(request) or 'unknown')} {SIMULATED}"
    return error_response(fault.status, message, fault.code, fault.kind, dict(fault.headers))


def source_for(name: str, request: StoredRequest) -> Source:
    """The provenance a recording keeps for an injected fault: a labelled fixture."""
    model = requested_model(request)
    source: Source = {"kind": "fixture", "note": f"simulated fault: {FAULTS[name].note}"}
    if model:
        source["requested"] = model
    return source
