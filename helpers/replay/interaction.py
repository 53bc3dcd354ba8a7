"""The typed model of a recording: what one stored interaction holds, and what is derived from it.

A recording file (``data/recordings/<notebook>.json``) is JSON; these ``TypedDict``s name its keys, so a type
checker catches a misspelt one, and the functions below are the one place that works out what an interaction
means (which model was requested, which answered, its usage, its body on the wire, an OpenAI-shaped error).
Every reader (the course server, the meter, the validator, the scripts) goes through them. Standard library only.

Layout (format 1)::

    {"format": 1, "notebook": "00_setup",
     "recorded": {"at": ..., "upstream": ..., "sdk": "openai 3.57.0"},
     "interactions": [{"request": {...}, "response": {...}, "source": {...}}, ...]}

A response holds exactly one of ``json`` (a JSON body), ``events`` (a server-sent-event stream, each event with the
delay before it), ``text`` or ``base64`` (binary, e.g. audio), or ``websocket`` (a WebSocket session: both sides'
messages, timed, status 101). ``source`` says what produced the answer: ``model``
(with the model that really answered), ``fixture`` (a labelled stand-in, with a note), ``error`` or ``service``.

A newer format is read by upgrading older files step by step (:data:`MIGRATIONS`); the files recorded today are
format 1, read unchanged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Literal, TypedDict, cast

from .wire import openai_error

FORMAT = 1

# The course server's modes (``COURSE_BACKEND``), and the error codes its replay answers with.
MODES = ("replay", "live", "record")
Mode = Literal["replay", "live", "record"]
REPLAY_MISS = "replay_miss"
REPLAY_NO_RECORDING = "replay_no_recording"
REPLAY_ERROR_CODES = (REPLAY_MISS, REPLAY_NO_RECORDING)
SourceKind = Literal["model", "fixture", "error", "service"]


class FileSummary(TypedDict):
    """An uploaded file as a recording keeps it: never its bytes, only what identifies them."""

    filename: str | None
    content_type: str | None
    size: int
    sha256: str


class Multipart(TypedDict):
    """A form upload, free of its random boundary: a field sent once is a value, a repeated one a list."""

    fields: dict[str, str | list[str]]
    files: dict[str, FileSummary | list[FileSummary]]


class _RequestBase(TypedDict):
    method: str
    path: str  # with its query parameters sorted


class StoredRequest(_RequestBase, total=False):
    """A request as recorded: no header, ever; at most one of ``json``, ``multipart``, ``raw``."""

    json: Any
    multipart: Multipart
    raw: FileSummary


class Event(TypedDict, total=False):
    """One server-sent event: ``delay`` seconds after the previous one, ``data`` (JSON) or ``raw`` (text)."""

    delay: float
    event: str
    data: Any
    raw: str


class WsMessage(TypedDict):
    """One message of a recorded WebSocket session (a Realtime event): who sent it, ``delay`` seconds after the
    session's previous message, and the event itself (audio inside it stays base64, as on the wire)."""

    side: Literal["client", "server"]
    delay: float
    data: Any


class StoredResponse(TypedDict, total=False):
    """A response as recorded: status, allow-listed headers, and one body form (``websocket`` for a session: its
    client and server messages in order, with no header of either side)."""

    status: int
    headers: dict[str, str]
    elapsed: float  # seconds the upstream took (replayed at COURSE_REPLAY_SPEED)
    json: Any
    events: list[Event]
    cut: bool  # the stream was cut off mid-way (a simulated failure)
    text: str
    base64: str
    websocket: list[WsMessage]
    closed: str  # how a WebSocket session ended: "client", "server" or "dropped" (mid-session)


class Source(TypedDict, total=False):
    """What produced an answer."""

    kind: SourceKind
    requested: str
    answered_by: str | None  # null when the answer named no model
    note: str
    emulated: str  # the local backend emulated this model answer's reasoning (its note)
    engine: str  # the local backend's engine and version that ran the model (header x-course-engine)


class _InteractionBase(TypedDict):
    request: StoredRequest
    response: StoredResponse


class WebhookDelivery(TypedDict):
    """A webhook the upstream delivered after this interaction's answer (see :mod:`helpers.replay.webhooks`)."""

    delay: float  # seconds after the answer
    headers: dict[str, str]  # content-type and the standard-webhooks headers, as delivered
    body: str  # the event, byte for byte as delivered (the signature covers it)


class Interaction(_InteractionBase, total=False):
    source: Source
    webhooks: list[WebhookDelivery]


# -- derived facts -----------------------------------------------------------------------------------------------

def uploaded_files(request: StoredRequest) -> dict[str, list[FileSummary]]:
    """The files of a multipart request, each field with every file sent under it (empty for any other)."""
    multipart = request.get("multipart")
    files = multipart["files"] if multipart else {}
    return {name: value if isinstance(value, list) else [value] for name, value in files.items()}


def form_fields(request: StoredRequest) -> dict[str, str | list[str]]:
    """The form fields of a multipart request (empty for any other)."""
    multipart = request.get("multipart")
    return multipart["fields"] if multipart else {}


def json_body(request: StoredRequest) -> dict[str, Any]:
    """The JSON object a request sent (empty when it sent none, or not an object)."""
    body = request.get("json")
    return body if isinstance(body, dict) else {}


def requested_model(request: StoredRequest) -> str | None:
    """The model a request asked for: its JSON ``model``, or the ``model`` field of a form upload."""
    model = json_body(request).get("model") or form_fields(request).get("model")
    return model if isinstance(model, str) and model else None


def is_streaming(request: StoredRequest) -> bool:
    return bool(json_body(request).get("stream"))


def is_websocket_session(response: StoredResponse) -> bool:
    return "websocket" in response


def client_events(response: StoredResponse) -> list[Any]:
    """The events the client sent in a recorded WebSocket session, in order."""
    return [m["data"] for m in response.get("websocket", []) if m["side"] == "client"]


def status_of(response: StoredResponse) -> int:
    return response.get("status", 200)


def answered_model(response: StoredResponse) -> str | None:
    """The model named by a response body or by the first events of a stream."""
    bodies = [response.get("json")] + [e.get("data") for e in response.get("events", [])[:3]]
    for body in bodies:
        if isinstance(body, dict):
            if isinstance(body.get("model"), str):
                return cast(str, body["model"])
            inner = body.get("response")
            if isinstance(inner, dict) and isinstance(inner.get("model"), str):
                return cast(str, inner["model"])
    return None


def usage_of(response: StoredResponse) -> Any:
    """The ``usage`` of a stored response: its JSON body, or the last stream event that carries one."""
    body = response.get("json")
    if isinstance(body, dict) and body.get("usage"):
        return body["usage"]
    for event in reversed(response.get("events", [])):
        data = event.get("data")
        if isinstance(data, dict):
            if data.get("usage"):
                return data["usage"]
            inner = data.get("response")
            if isinstance(inner, dict) and inner.get("usage"):
                return inner["usage"]
    return None


def body_bytes(response: StoredResponse) -> bytes:
    """A non-streamed response's body as it goes on the wire."""
    if "json" in response:
        return json.dumps(response["json"], ensure_ascii=False).encode()
    if "text" in response:
        return response["text"].encode()
    if "base64" in response:
        return base64.b64decode(response["base64"])
    return b""


def stored_body(content_type: str, body: bytes) -> StoredResponse:
    """A response body in the form the recording keeps: JSON, text or base64."""
    if "json" in content_type.lower():
        try:
            return {"json": json.loads(body)}
        except ValueError:
            pass
    try:  # text of any type (SSE-free JSONL, SRT, plain text) stays readable; it round-trips byte for byte
        text = body.decode("utf-8")
        if "\0" not in text:
            return {"text": text}
    except UnicodeDecodeError:
        pass
    return {"base64": base64.b64encode(body).decode("ascii")}


def error_message(response: StoredResponse) -> str | None:
    """``error.message`` of an OpenAI-shaped error response, if it has one."""
    body = response.get("json")
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def error_response(status: int, message: str, code: str | None, kind: str = "invalid_request_error",
                   headers: dict[str, str] | None = None) -> StoredResponse:
    """A stored JSON error response in OpenAI's shape."""
    return {"status": status, "headers": {"content-type": "application/json", **(headers or {})},
            "json": openai_error(message, code, kind)}


def source_kind(item: Interaction) -> SourceKind | None:
    return item.get("source", {}).get("kind")


# -- format versions ---------------------------------------------------------------------------------------------

# MIGRATIONS[n] turns a format-n recording (the whole parsed file) into format n + 1. Add one when FORMAT goes up;
# the recorder always writes FORMAT, and every older file stays readable.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A parsed recording upgraded to :data:`FORMAT` (format 1, today's files, comes back unchanged)."""
    version = data.get("format")
    while isinstance(version, int) and version < FORMAT:
        data = MIGRATIONS[version](data)
        data["format"] = version = version + 1
    return data
