"""Shared pieces of the adapter: OpenAI-shaped errors, deterministic ids, parameter checks."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from helpers.replay.wire import openai_error

T = TypeVar("T")

# Every answer carries this `created` time: a fixed instant, so identical requests give identical bytes.
CREATED = 1767225600  # 2026-01-01T00:00:00Z
# No answer may run unbounded: generation is always capped at this many tokens.
MAX_TOKENS_CAP = 1024
# Default length of a chat or Responses answer when the request sets none.
DEFAULT_MAX_TOKENS = 256


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, message: str, param: str | None = None, code: str | None = "unsupported_parameter",
                 status: int = 400, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = message, param, code, status, kind

    def body(self) -> dict[str, Any]:
        return openai_error(self.message, self.code, self.kind, self.param)


def json_object(raw: str | bytes, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object; a ValueError whose message names ``what`` (e.g. "The request body")."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object.")
    return value


def unsupported(param: str, why: str) -> ApiError:
    """A 400 naming a parameter the local backend cannot honour."""
    return ApiError(f"The local backend cannot honour '{param}': {why}", param=param)


def invalid(param: str, why: str) -> ApiError:
    """A 400 for a malformed value."""
    return ApiError(f"Invalid '{param}': {why}", param=param, code="invalid_value")


@dataclass
class Call:
    """One request as the adapter sees it: its JSON body, a stable hash, and the answer's extra headers."""

    path: str
    body: dict[str, Any]
    occurrence: int = 0  # how many identical requests came before this one since the server started
    headers: dict[str, str] = field(default_factory=dict)
    webhook_url: str | None = None  # the course server's sink for this request's webhooks (WEBHOOK_URL_HEADER)

    @property
    def digest(self) -> str:
        canon = json.dumps([self.path, self.body, self.occurrence], sort_keys=True, ensure_ascii=True, default=str)
        return hashlib.sha256(canon.encode()).hexdigest()

    def make_id(self, prefix: str, salt: str = "") -> str:
        """An id derived from the request (and its occurrence), e.g. ``chatcmpl-3f2a...``."""
        tail = hashlib.sha256((self.digest + salt).encode()).hexdigest()[:24] if salt else self.digest[:24]
        return f"{prefix}{tail}"

    def default_seed(self) -> int:
        """The seed of a request that sets none: derived from the request, so runs repeat exactly.

        The k-th identical unseeded request gets a different seed from the (k-1)-th, so repeated
        calls still vary the way they do against the real API, and a fresh server replays the sequence.
        """
        return int(self.digest[:8], 16) & 0x7FFFFFFF

    def fixture(self, note: str) -> None:
        """Mark the answer as a labelled fixture (the recorder reads this header)."""
        self.headers["x-course-fixture"] = note


def check_known(body: dict[str, Any], known: set[str], endpoint: str) -> None:
    """Reject any request field this endpoint does not know how to honour."""
    for name, value in body.items():
        if name not in known and value is not None:
            raise unsupported(name, f"{endpoint} on the local backend does not support this parameter.")


def cap_tokens(value: Any, param: str, default: int) -> int:
    """A validated token limit, capped at :data:`MAX_TOKENS_CAP`."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(param, "must be a positive integer.")
    return min(value, MAX_TOKENS_CAP)


def number(body: dict[str, Any], name: str, low: float, high: float, default: float | None) -> float | None:
    """A numeric field checked against OpenAI's range."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise invalid(name, f"must be a number between {low} and {high}.")
    return float(value)


def integer(body: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    """An integer field checked against a range."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, f"must be an integer between {low} and {high}.")
    return value


def stop_list(value: Any) -> list[str] | None:
    """``stop`` as a list of at most 4 strings."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items) or len(items) > 4:
        raise invalid("stop", "must be a string or a list of up to 4 strings.")
    return items or None


# Generation runs one at a time: two models at once on 2 cores only thrash, and llama.cpp contexts are not
# safe to share between threads.
GENERATION_LOCK = threading.RLock()


def locked(pieces: Iterator[T]) -> Iterator[T]:
    """Iterate ``pieces`` while holding :data:`GENERATION_LOCK` (released even if the client goes away)."""
    with GENERATION_LOCK:
        yield from pieces


@dataclass
class Reply:
    """What a handler answers: a JSON body, raw bytes, or a stream of server-sent events."""

    json: Any = None
    body: bytes | None = None
    content_type: str = "application/json"
    events: Iterator[tuple[str | None, Any]] | None = None  # (event name or None, data dict or "[DONE]")
    status: int = 200
    model: str | None = None  # the model that really answered (header x-course-model)
