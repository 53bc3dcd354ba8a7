"""Check recorded requests and responses against the openai SDK's own types.

The SDK's request ``TypedDict``s and response models are generated from OpenAI's API spec, so a
recording that validates here is one the SDK itself would send and parse. A misspelt parameter or a
response of the wrong shape (say, from a local server that cut a corner) fails loudly.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Callable
from functools import cache
from typing import Any

import pydantic
from openai.types import (
    Batch,
    Completion,
    ContainerCreateResponse,
    ContainerListResponse,
    ContainerRetrieveResponse,
    CreateEmbeddingResponse,
    EvalCreateResponse,
    EvalListResponse,
    EvalRetrieveResponse,
    FileDeleted,
    FileObject,
    ImagesResponse,
    Model,
    ModerationCreateResponse,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreSearchResponse,
    batch_create_params,
    completion_create_params,
    container_create_params,
    embedding_create_params,
    eval_create_params,
    image_generate_params,
    moderation_create_params,
    vector_store_create_params,
    vector_store_search_params,
    vector_store_update_params,
)
from openai.types.audio import (
    Transcription,
    TranscriptionVerbose,
    Translation,
    TranslationVerbose,
    speech_create_params,
    transcription_create_params,
    translation_create_params,
)
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat import completion_create_params as chat_params
from openai.types.containers import FileListResponse, FileRetrieveResponse
from openai.types.conversations import (
    Conversation,
    ConversationDeletedResource,
    ConversationItem,
    ConversationItemList,
    conversation_create_params,
    conversation_update_params,
    item_create_params,
)
from openai.types.evals import RunCreateResponse, RunListResponse, RunRetrieveResponse, run_create_params
from openai.types.evals.runs import OutputItemListResponse, OutputItemRetrieveResponse
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.responses import (
    CompactedResponse,
    Response,
    ResponseInputMessageItem,
    ResponseOutputItem,
    ResponseStreamEvent,
    response_compact_params,
    response_create_params,
)
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
    file_batch_create_params,
    file_create_params,
    file_update_params,
)
from openai.types.webhooks import UnwrapWebhookEvent

from ..replay.interaction import Interaction, StoredRequest, error_message, is_streaming, status_of
from ..replay.wire import RELAY_WEBHOOK_SECRET, sign_webhook


@cache
def _adapter(kind: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(kind)


def _check(kind: Any, value: Any, where: str) -> list[str]:
    try:
        _adapter(kind).validate_python(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        return [f"{where}: {first['msg']} at {location or '(top)'} ({exc.error_count()} error(s))"]
    return []


def _check_params(params_type: Any, body: dict[str, Any], where: str) -> list[str]:
    allowed = set(params_type.__required_keys__) | set(params_type.__optional_keys__)
    unknown = sorted(set(body) - allowed)
    problems = [f"{where}: unknown parameter(s) {unknown} for this endpoint"] if unknown else []
    missing = sorted(set(params_type.__required_keys__) - set(body))
    if missing:
        problems.append(f"{where}: missing required parameter(s) {missing}")
    return problems + _check(params_type, body, where)


def _multipart_params(params_type: Any, fields: dict[str, Any], files: dict[str, Any], where: str) -> list[str]:
    allowed = set(params_type.__required_keys__) | set(params_type.__optional_keys__)
    names = {name.removesuffix("[]") for name in (*fields, *files)}
    unknown = sorted(names - allowed)
    return [f"{where}: unknown form field(s) {unknown} for this endpoint"] if unknown else []


def _decode_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """Base64 embeddings (the SDK's default encoding) decoded to floats, as the SDK does."""
    data = []
    for item in body.get("data", []):
        vector = item.get("embedding")
        if isinstance(vector, str):
            raw = base64.b64decode(vector)
            item = {**item, "embedding": list(struct.unpack(f"<{len(raw) // 4}f", raw))}
        data.append(item)
    return {**body, "data": data}


def _echoed_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    """With ``echo`` and ``logprobs``, the first prompt token has no context, so the API answers ``null`` for its
    log-probability (and its top alternatives); the SDK's ``Logprobs`` type says floats. Accept exactly that case."""
    choices = []
    for choice in body.get("choices", []):
        lp = choice.get("logprobs")
        if isinstance(lp, dict) and (lp.get("token_logprobs") or [0.0])[0] is None:
            top = lp.get("top_logprobs")
            lp = {**lp, "token_logprobs": [0.0, *lp["token_logprobs"][1:]],
                  "top_logprobs": [{}, *top[1:]] if top and top[0] is None else top}
            choice = {**choice, "logprobs": lp}
        choices.append(choice)
    return {**body, "choices": choices}


class Route:
    """How to validate one endpoint: its request params type and its response type(s); for a WebSocket endpoint,
    the types of the client's and the server's messages (``websocket=(client, server)``)."""

    def __init__(self, method: str, pattern: str, params: Any = None, response: Any = None, *,
                 stream: Any = None, multipart: bool = False,
                 prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 websocket: tuple[Any, Any] | None = None) -> None:
        self.method, self.pattern = method, re.compile(pattern + r"(\?.*)?$")
        self.params, self.response, self.stream = params, response, stream
        self.multipart, self.prepare, self.websocket = multipart, prepare, websocket

    def matches(self, request: StoredRequest) -> bool:
        return request["method"] == self.method and bool(self.pattern.match(request["path"]))


def _streaming(module: Any) -> tuple[Any, Any]:
    """The (non-streaming, streaming) request params of an endpoint that can stream."""
    names = [n for n in dir(module) if n.endswith("ParamsNonStreaming")]
    prefix = names[0].removesuffix("NonStreaming")
    return getattr(module, names[0]), getattr(module, prefix + "Streaming")


class _CompactedResponse(CompactedResponse):
    """The SDK's ``CompactedResponse``, with its documented output: "a list of all user messages, followed by a
    single compaction item". Its type lists output items only (assistant messages), so the user messages are
    checked against the SDK's own input message item type."""

    output: list[ResponseInputMessageItem | ResponseOutputItem]  # type: ignore[assignment]  # wider, on purpose


_TRANSCRIPTION = Transcription | TranscriptionVerbose
_TRANSLATION = Translation | TranslationVerbose
ROUTES = [
    Route("POST", r"/v1/chat/completions", _streaming(chat_params), ChatCompletion, stream=ChatCompletionChunk),
    Route("POST", r"/v1/responses", _streaming(response_create_params), Response, stream=ResponseStreamEvent),
    Route("POST", r"/v1/responses/compact", response_compact_params.ResponseCompactParams, _CompactedResponse),
    Route("GET", r"/v1/responses/[^/?]+", None, Response, stream=ResponseStreamEvent),
    Route("DELETE", r"/v1/responses/[^/?]+", None, None),
    Route("POST", r"/v1/completions", _streaming(completion_create_params), Completion, stream=Completion,
          prepare=_echoed_logprobs),
    Route("POST", r"/v1/embeddings", embedding_create_params.EmbeddingCreateParams, CreateEmbeddingResponse,
          prepare=_decode_embeddings),
    Route("POST", r"/v1/moderations", moderation_create_params.ModerationCreateParams, ModerationCreateResponse),
    Route("POST", r"/v1/images/generations", image_generate_params.ImageGenerateParamsBase, ImagesResponse),
    Route("POST", r"/v1/images/edits", None, ImagesResponse, multipart=True),
    Route("POST", r"/v1/audio/transcriptions", transcription_create_params.TranscriptionCreateParamsBase,
          _TRANSCRIPTION, multipart=True),
    Route("POST", r"/v1/audio/translations", translation_create_params.TranslationCreateParams, _TRANSLATION,
          multipart=True),
    Route("POST", r"/v1/audio/speech", speech_create_params.SpeechCreateParams, None),
    Route("GET", r"/v1/models", None, list[Model], prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/models/[^/?]+", None, Model),
    Route("POST", r"/v1/files", None, FileObject, multipart=True),
    Route("GET", r"/v1/files/[^/?]+", None, FileObject),
    Route("GET", r"/v1/files/[^/?]+/content", None, None),
    Route("DELETE", r"/v1/files/[^/?]+", None, FileDeleted),
    Route("POST", r"/v1/fine_tuning/jobs", None, FineTuningJob),
    Route("GET", r"/v1/fine_tuning/jobs/[^/?]+", None, FineTuningJob),
    Route("GET", r"/v1/fine_tuning/jobs/[^/?]+/events", None, list[FineTuningJobEvent],
          prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/fine_tuning/jobs/[^/?]+/checkpoints", None, list[FineTuningJobCheckpoint],
          prepare=lambda body: body.get("data", [])),
    Route("POST", r"/v1/batches", batch_create_params.BatchCreateParams, Batch),
    Route("POST", r"/v1/batches/[^/?]+/cancel", None, Batch),
    Route("GET", r"/v1/batches/[^/?]+", None, Batch),
    Route("POST", r"/v1/responses/[^/?]+/cancel", None, Response),
    Route("POST", r"/v1/conversations", conversation_create_params.ConversationCreateParams, Conversation),
    Route("GET", r"/v1/conversations/[^/?]+", None, Conversation),
    Route("POST", r"/v1/conversations/[^/?]+", conversation_update_params.ConversationUpdateParams, Conversation),
    Route("DELETE", r"/v1/conversations/[^/?]+", None, ConversationDeletedResource),
    Route("GET", r"/v1/conversations/[^/?]+/items", None, ConversationItemList),
    Route("POST", r"/v1/conversations/[^/?]+/items", item_create_params.ItemCreateParams, ConversationItemList),
    Route("GET", r"/v1/conversations/[^/?]+/items/[^/?]+", None, ConversationItem),
    Route("DELETE", r"/v1/conversations/[^/?]+/items/[^/?]+", None, Conversation),
    Route("POST", r"/v1/evals", eval_create_params.EvalCreateParams, EvalCreateResponse),
    Route("GET", r"/v1/evals", None, list[EvalListResponse], prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/evals/[^/?]+", None, EvalRetrieveResponse),
    Route("POST", r"/v1/evals/[^/?]+/runs", run_create_params.RunCreateParams, RunCreateResponse),
    Route("GET", r"/v1/evals/[^/?]+/runs", None, list[RunListResponse], prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/evals/[^/?]+/runs/[^/?]+", None, RunRetrieveResponse),
    Route("GET", r"/v1/evals/[^/?]+/runs/[^/?]+/output_items", None, list[OutputItemListResponse],
          prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/evals/[^/?]+/runs/[^/?]+/output_items/[^/?]+", None, OutputItemRetrieveResponse),
    *[Route(*route, prepare=lambda body: body.get("data", [])) for route in (
        ("GET", r"/v1/vector_stores", None, list[VectorStore]),
        ("POST", r"/v1/vector_stores/[^/?]+/search", vector_store_search_params.VectorStoreSearchParams,
         list[VectorStoreSearchResponse]),
        ("GET", r"/v1/vector_stores/[^/?]+/files", None, list[VectorStoreFile]),
        ("GET", r"/v1/vector_stores/[^/?]+/files/[^/?]+/content", None, list[FileContentResponse]),
        ("GET", r"/v1/vector_stores/[^/?]+/file_batches/[^/?]+/files", None, list[VectorStoreFile]))],
    Route("POST", r"/v1/vector_stores", vector_store_create_params.VectorStoreCreateParams, VectorStore),
    Route("GET", r"/v1/vector_stores/[^/?]+", None, VectorStore),
    Route("POST", r"/v1/vector_stores/[^/?]+", vector_store_update_params.VectorStoreUpdateParams, VectorStore),
    Route("DELETE", r"/v1/vector_stores/[^/?]+", None, VectorStoreDeleted),
    Route("POST", r"/v1/vector_stores/[^/?]+/files", file_create_params.FileCreateParams, VectorStoreFile),
    Route("GET", r"/v1/vector_stores/[^/?]+/files/[^/?]+", None, VectorStoreFile),
    Route("POST", r"/v1/vector_stores/[^/?]+/files/[^/?]+", file_update_params.FileUpdateParams, VectorStoreFile),
    Route("DELETE", r"/v1/vector_stores/[^/?]+/files/[^/?]+", None, VectorStoreFileDeleted),
    Route("POST", r"/v1/vector_stores/[^/?]+/file_batches", file_batch_create_params.FileBatchCreateParams,
          VectorStoreFileBatch),
    Route("GET", r"/v1/vector_stores/[^/?]+/file_batches/[^/?]+", None, VectorStoreFileBatch),
    Route("POST", r"/v1/vector_stores/[^/?]+/file_batches/[^/?]+/cancel", None, VectorStoreFileBatch),
    Route("POST", r"/v1/containers", container_create_params.ContainerCreateParams, ContainerCreateResponse),
    Route("GET", r"/v1/containers", None, list[ContainerListResponse], prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/containers/[^/?]+", None, ContainerRetrieveResponse),
    Route("DELETE", r"/v1/containers/[^/?]+", None, None),
    Route("GET", r"/v1/containers/[^/?]+/files", None, list[FileListResponse],
          prepare=lambda body: body.get("data", [])),
    Route("GET", r"/v1/containers/[^/?]+/files/[^/?]+", None, FileRetrieveResponse),
    Route("GET", r"/v1/containers/[^/?]+/files/[^/?]+/content", None, None),
    Route("GET", r"/v1/realtime", websocket=(RealtimeClientEvent, RealtimeServerEvent)),
]


def _check_session(route: Route, response: Any, where: str) -> list[str]:
    """Every message of a recorded WebSocket session against the SDK's client or server event union."""
    if route.websocket is None:
        return [f"{where} response: a WebSocket session where this endpoint has none"]
    client, server = route.websocket
    problems: list[str] = []
    for number, message in enumerate(response["websocket"]):
        kind = client if message.get("side") == "client" else server
        problems += _check(kind, message.get("data"), f"{where} {message.get('side')} message {number}")
    return problems


def _check_webhooks(item: Interaction, where: str) -> list[str]:
    """Each recorded webhook: an event the SDK's ``UnwrapWebhookEvent`` accepts, signed by the local backend's relay
    secret over the exact recorded body (so replay passes on what was delivered)."""
    problems: list[str] = []
    for number, delivery in enumerate(item.get("webhooks", [])):
        at = f"{where} webhook {number}"
        try:
            event = json.loads(delivery["body"])
        except ValueError as exc:
            problems.append(f"{at}: the body is not JSON ({exc})")
            continue
        problems += _check(UnwrapWebhookEvent, event, at)
        headers = delivery["headers"]
        try:
            expected = sign_webhook(RELAY_WEBHOOK_SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]),
                                    delivery["body"].encode())
        except (KeyError, ValueError):
            problems.append(f"{at}: webhook-id or webhook-timestamp missing or malformed")
            continue
        if headers.get("webhook-signature") != expected:
            problems.append(f"{at}: the signature does not match the recorded body")
    return problems


def check_interaction(item: Interaction, where: str) -> list[str]:
    """Problems with one recorded interaction (empty when the SDK's types accept it)."""
    request, response = item["request"], item["response"]
    route = next((r for r in ROUTES if r.matches(request)), None)
    if route is None:
        return [f"{where}: no validator for {request['method']} {request['path']}; add a Route in {__name__}"]
    if "websocket" in response:
        return _check_session(route, response, where)
    problems = _check_webhooks(item, where)
    params = route.params
    if isinstance(params, tuple):
        params = params[1] if is_streaming(request) else params[0]
    if params is not None and "json" in request:
        problems += _check_params(params, request["json"], f"{where} request")
    if params is not None and route.multipart and "multipart" in request:
        mp = request["multipart"]
        problems += _multipart_params(params, mp.get("fields", {}), mp.get("files", {}), f"{where} request")
    if status_of(response) >= 400:
        if error_message(response) is None:
            problems.append(f"{where} response: an error without an OpenAI-shaped error.message")
        return problems
    if "events" in response:
        kind = route.stream
        if kind is None:
            return problems + [f"{where} response: a stream where this endpoint has none"]
        for number, event in enumerate(response["events"]):
            if "data" in event:
                problems += _check(kind, event["data"], f"{where} event {number}")
        return problems
    if route.response is not None and "json" in response:
        body = route.prepare(response["json"]) if route.prepare else response["json"]
        problems += _check(route.response, body, f"{where} response")
    return problems
