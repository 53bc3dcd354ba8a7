"""The HTTP side: a stdlib threading server on 127.0.0.1, request parsing, routing, and OpenAI-shaped errors.

Every answer carries ``x-course-model`` (the model that really answered) and, for fixtures,
``x-course-fixture``; every error is ``{"error": {...}}`` with ``x-should-retry: false`` so the SDK
does not retry a request that can never succeed.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from helpers.replay.wire import (  # the repository's shared HTTP plumbing (stdlib only)
    CLIENT_GONE,
    LOCAL_BACKEND_PORT,
    WEBHOOK_URL_HEADER,
    LoopbackServer,
    accept_websocket,
    is_websocket,
    parse_form,
    read_body,
    send_bytes,
    send_chunk,
    start_chunked,
)

from . import (
    audio,
    background,
    batches,
    chat,
    compaction,
    completions,
    containers,
    conversations,
    embeddings,
    evals,
    fixtures,
    hosted_search,
    mcp_client,
    realtime,
    responses,
    vector_stores,
    webhooks,
)
from .common import CREATED, ApiError, Call, Reply, json_object
from .engines import Engines, ModelFileError

DEFAULT_PORT = LOCAL_BACKEND_PORT


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Form fields (repeated names become lists) and files (name -> (filename, bytes))."""
    try:
        sent, uploads = parse_form(content_type, body)
    except ValueError:
        raise ApiError("Expected a multipart/form-data body.", None, "invalid_request") from None
    fields: dict[str, Any] = {name: values[0] if len(values) == 1 else values for name, values in sent.items()}
    files = {name: (parts[-1].filename or "upload", parts[-1].data) for name, parts in uploads.items()}
    return fields, files


class Backend:
    """The OpenAI-compatible local server: routes requests to the adapters over ``engines``."""

    def __init__(self, engines: Engines, port: int = DEFAULT_PORT, hooks: webhooks.Webhooks | None = None) -> None:
        self.engines = engines
        self.port = port
        self.store = responses.Store()
        self.files = fixtures.FileStore()
        self.batches = batches.Batches(self.files, self.run_batch_request)
        self.conversations = conversations.Conversations()
        self.webhooks = hooks or webhooks.Webhooks()
        self.background = background.Background(self.webhooks.final)
        self.evals = evals.Evals(self.files, self.run_batch_request)
        self.containers = containers.Containers(self.files)
        self.approvals = mcp_client.Approvals()
        self.vector_stores = vector_stores.VectorStores(self.files, engines)
        self.search = hosted_search.HostedSearch(self.vector_stores, engines)
        self._seen: Counter[str] = Counter()
        self._seen_lock = threading.Lock()
        self._httpd: LoopbackServer | None = None

    # -- life cycle -------------------------------------------------------------------------------
    def bind(self) -> LoopbackServer:
        httpd = LoopbackServer(self, self.port, "course-local-backend")  # loopback only, by design
        self._httpd = httpd
        self.port = httpd.server_address[1]
        return httpd

    def start(self) -> str:
        """Serve in a daemon thread (for tests); returns the base URL."""
        httpd = self.bind()
        serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        serve.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # -- requests ---------------------------------------------------------------------------------
    def occurrence(self, key: str) -> int:
        """How many identical requests this server answered before (so unseeded repeats still vary)."""
        with self._seen_lock:
            count = self._seen[key]
            self._seen[key] += 1
            return count

    def route(self, method: str, path: str, content_type: str, raw: bytes, session: str = "",
              query: str = "", webhook_url: str | None = None) -> tuple[Reply, Call]:
        """Parse and dispatch one request. Raises :class:`ApiError` for anything answered as an error.

        ``session`` (the ``X-Course-Session`` header the course's recorder sends) scopes the count of identical
        requests, so recording a notebook twice gives the same ids however long this server has run.
        ``webhook_url`` (the ``X-Course-Webhook-Url`` header) sends this request's webhook deliveries to the course
        server that recorded it, instead of ``LOCAL_BACKEND_WEBHOOK_URL``.
        """
        fields: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        body: dict[str, Any] = {}
        if content_type.startswith("multipart/form-data"):
            fields, files = parse_multipart(content_type, raw)
            body = dict(fields) | {k: f"{v[0]}:{len(v[1])}:{hash_bytes(v[1])}" for k, v in files.items()}
        elif raw.strip() and method == "POST":
            try:
                body = json_object(raw, "The request body")
            except ValueError as exc:
                raise ApiError(str(exc), None, "invalid_json") from None
        if method == "GET" and query:
            body = dict(parse_qsl(query))  # list parameters (order, limit, after) of a GET
        key = json.dumps([session, method, path, body], sort_keys=True, default=str)
        call = Call(path, body, self.occurrence(key), webhook_url=webhook_url)
        return self.dispatch(method, path, call, fields, files), call

    def dispatch(self, method: str, path: str, call: Call, fields: dict[str, Any],
                 files: dict[str, tuple[str, bytes]]) -> Reply:
        e = self.engines
        posts: dict[str, Callable[[], Reply]] = {
            "/v1/chat/completions": lambda: chat.chat_completions(call, e),
            "/v1/responses": lambda: self.background.respond(call, lambda c: self.conversations.respond(
                c, self.respond)),
            "/v1/responses/compact": lambda: self.compact(call),
            "/v1/conversations": lambda: self.conversations.create(call),
            "/v1/completions": lambda: completions.completions(call, e),
            "/v1/embeddings": lambda: embeddings.embeddings(call, e),
            "/v1/audio/transcriptions": lambda: audio.transcribe(call, e, fields, files),
            "/v1/audio/translations": lambda: audio.transcribe(call, e, fields, files, "translate"),
            "/v1/audio/speech": lambda: audio.speech(call, e),
            "/v1/images/generations": lambda: fixtures.images(call, call.body),
            "/v1/images/edits": lambda: fixtures.images(call, fields, "edit"),
            "/v1/images/variations": lambda: fixtures.images(call, fields, "variation"),
            "/v1/moderations": lambda: fixtures.moderations(call),
            "/v1/files": lambda: self.files.upload(fields, files),
            "/v1/fine_tuning/jobs": lambda: self.files.create_job(call),
            "/v1/batches": lambda: self.batches.create(call),
            "/v1/evals": lambda: self.evals.create(call),
            "/v1/containers": lambda: self.containers.create(call),
        }
        if method == "POST" and path in posts:
            return posts[path]()
        if method == "GET" and path == "/v1/models":
            return Reply(json={"object": "list", "data": [model_card(m) for m in self.served()]})
        if method == "GET" and path.startswith("/v1/models/"):
            name = path.removeprefix("/v1/models/")
            if name not in self.served():
                raise ApiError(f"The model '{name}' is not served locally; see GET /v1/models.", "model",
                               "model_not_found", status=404)
            return Reply(json=model_card(name))
        if method == "GET" and path == "/v1/files":
            return self.files.list_files()
        if method == "GET" and path == "/v1/fine_tuning/jobs":
            return self.files.list_jobs(call)
        if method == "GET" and path == "/v1/batches":
            return self.batches.list()
        if m := re.fullmatch(r"/v1/batches/([\w-]+)(/cancel)?", path):
            return self.batches.retrieve(m[1], cancel=bool(m[2]) and method == "POST")
        deleting = method == "DELETE"
        if reply := self.state_routes(method, path, call):
            return reply
        if path.startswith("/v1/vector_stores"):
            return vector_stores.route(self.vector_stores, method, path, call)
        if path.startswith("/v1/evals"):
            return self.dispatch_evals(method, path, call)
        if path.startswith("/v1/containers"):
            return self.dispatch_containers(method, path)
        if method in ("GET", "DELETE") and (m := re.fullmatch(r"/v1/responses/([\w-]+)", path)):
            return responses.responses_get(m[1], self.store, delete=deleting)
        if method in ("GET", "DELETE") and (m := re.fullmatch(r"/v1/files/([\w-]+)(?:/(content))?", path)):
            return self.files.file(m[1], m[2], delete=deleting)
        if m := re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(?:/(events|checkpoints|cancel))?", path):
            return self.files.job(call, m[1], m[2])
        raise ApiError(f"The local backend has no route {method} {path}.", None, "unknown_url", status=404)

    def respond(self, call: Call) -> Reply:
        """``responses.create``: hosted tools (mcp, code_interpreter, file_search, web_search) by their modules,
        the rest by responses."""
        if mcp_client.uses_mcp(call.body):
            return mcp_client.respond(call, self.engines, self.store, self.approvals)
        if containers.uses_code_interpreter(call.body):
            return self.containers.respond(call, self.store)
        return self.search.respond(call, lambda inner: responses.responses_create(inner, self.engines, self.store))

    def dispatch_containers(self, method: str, path: str) -> Reply:
        """``/v1/containers/...``: containers and their files (:mod:`local_backend.containers`)."""
        if method == "GET" and path == "/v1/containers":
            return self.containers.list()
        if method in ("GET", "DELETE") and (m := re.fullmatch(r"/v1/containers/([\w-]+)", path)):
            return self.containers.container(method, m[1])
        if m := re.fullmatch(r"/v1/containers/([\w-]+)/files(?:/([\w-]+)(/content)?)?", path):
            return self.containers.file(method, m[1], m[2], bool(m[3]))
        raise ApiError(f"The local backend has no route {method} {path}.", None, "unknown_url", status=404)

    def compact(self, call: Call) -> Reply:
        """``responses.compact`` on ``input`` and/or ``previous_response_id``, read as ``responses.create`` does."""
        compaction.check(call.body)
        try:
            messages = responses.input_messages({**call.body, "input": call.body.get("input") or []}, self.store)
        except chat.Vision:
            raise ApiError("Invalid 'input': images cannot be compacted offline.", "input", "invalid_value") from None
        return compaction.compact(call, self.engines, messages)

    def state_routes(self, method: str, path: str, call: Call) -> Reply | None:
        """Conversations and their items, background responses (polls, cancel); None for other paths."""
        if m := re.fullmatch(r"/v1/conversations/([\w-]+)/items/([\w-]+)", path):
            if method in ("GET", "DELETE"):
                return self.conversations.item(method, m[1], m[2])
        elif m := re.fullmatch(r"/v1/conversations/([\w-]+)/items", path):
            if method in ("GET", "POST"):
                return self.conversations.list_or_add(method, m[1], call)
        elif m := re.fullmatch(r"/v1/conversations/([\w-]+)", path):
            return self.conversations.conversation(method, m[1], call)
        elif method == "POST" and (m := re.fullmatch(r"/v1/responses/([\w-]+)/cancel", path)):
            return self.background.cancel(m[1], m[1] in self.store.responses, call.webhook_url)
        elif method == "GET" and (m := re.fullmatch(r"/v1/responses/([\w-]+)", path)):
            if str(call.body.get("stream")).lower() == "true":
                if m[1] not in self.background.events and m[1] not in self.store.responses:
                    raise ApiError(f"Response with id '{m[1]}' not found.", None, "not_found", status=404)
                return self.background.replay(m[1], call.body)
            return self.background.retrieve(m[1], call.webhook_url)
        elif method == "DELETE" and (m := re.fullmatch(r"/v1/responses/([\w-]+)", path)):
            self.background.forget(m[1])
        return None
    def dispatch_evals(self, method: str, path: str, call: Call) -> Reply:
        """``/v1/evals/...``: evals, their runs and output items (:mod:`local_backend.evals`)."""
        ev, deleting = self.evals, method == "DELETE"
        if method == "GET" and path == "/v1/evals":
            return ev.list_evals()
        if method in ("GET", "DELETE") and (m := re.fullmatch(r"/v1/evals/([\w-]+)", path)):
            return ev.retrieve(m[1], delete=deleting)
        if m := re.fullmatch(r"/v1/evals/([\w-]+)/runs", path):
            return ev.create_run(call, m[1]) if method == "POST" else ev.list_runs(m[1])
        if m := re.fullmatch(r"/v1/evals/([\w-]+)/runs/([\w-]+)(/cancel)?", path):
            return ev.retrieve_run(call, m[1], m[2], "cancel" if m[3] and method == "POST" else None, method)
        if method == "GET" and (m := re.fullmatch(r"/v1/evals/([\w-]+)/runs/([\w-]+)/output_items(?:/([\w-]+))?",
                                                  path)):
            return ev.output_items(m[1], m[2], m[3])
        raise ApiError(f"The local backend has no route {method} {path}.", None, "unknown_url", status=404)

    def run_batch_request(self, url: str, body: dict[str, Any], line: int) -> dict[str, Any]:
        """Answer one request of a batch with the same engines as a direct call."""
        reply = self.dispatch("POST", url, Call(url, body, line), {}, {})
        return reply.json

    def serve_realtime(self, h: BaseHTTPRequestHandler) -> None:
        """A Realtime WebSocket session (:mod:`local_backend.realtime`)."""
        try:
            model = realtime.check_model(dict(parse_qsl(urlsplit(h.path).query)))
        except ApiError as exc:
            send(h, exc.status, {"Content-Type": "application/json"}, json.dumps(exc.body()).encode())
            return
        realtime.serve(accept_websocket(h, realtime.handshake_headers(self.engines)), self.engines, model)

    def served(self) -> list[str]:
        return list(dict.fromkeys(self.engines.names.values()))

    # -- answering --------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = urlsplit(h.path).path.rstrip("/")
        if path == realtime.PATH and is_websocket(h):
            self.serve_realtime(h)
            return
        raw = read_body(h)
        call = Call(path, {})
        try:
            reply, call = self.route(h.command, path, h.headers.get("Content-Type", ""), raw,
                                     h.headers.get("X-Course-Session", ""), urlsplit(h.path).query,
                                     h.headers.get(WEBHOOK_URL_HEADER))
            if reply.events is not None:
                first = next(reply.events)  # errors raised before any byte is sent stay proper 4xx
            elif reply.body is None:
                reply.body, reply.content_type = to_json(reply.json), "application/json"
        except ApiError as exc:
            send(h, exc.status, {"Content-Type": "application/json", "x-should-retry": "false"},
                 json.dumps(exc.body()).encode())
            return
        except ModelFileError as exc:  # a missing or corrupt model file: one line naming the fix
            print(f"local backend: {exc}", file=sys.stderr, flush=True)
            error = ApiError(str(exc), None, "model_file_error", status=503, kind="server_error")
            send(h, 503, {"Content-Type": "application/json", "x-should-retry": "false"},
                 json.dumps(error.body()).encode())
            return
        except Exception as exc:  # noqa: BLE001 - an engine failure must still reach the client as JSON
            traceback.print_exc()
            error = ApiError(f"The local backend failed: {type(exc).__name__}: {exc}", None, "server_error",
                             status=500, kind="server_error")
            send(h, 500, {"Content-Type": "application/json", "x-should-retry": "false"},
                 json.dumps(error.body()).encode())
            return
        headers = {"x-request-id": call.make_id("req_")} | call.headers
        if reply.model:
            headers["x-course-model"] = reply.model
            if engine := self.engines.engine_of(reply.model):
                headers["x-course-engine"] = engine
        if reply.events is not None:
            stream(h, headers, first, reply.events)
        else:
            send(h, reply.status, headers | {"Content-Type": reply.content_type}, reply.body or b"")


def hash_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:16]


def model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "course-local-backend"}


def send(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(*CLIENT_GONE):
        send_bytes(h, status, headers, body)


def plain(value: Any) -> Any:
    """numpy scalars (llama.cpp's logprobs) as plain numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=plain).encode()


def sse(event: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else to_json(data).decode()
    return ((f"event: {event}\n" if event else "") + f"data: {text}\n\n").encode()


def stream(h: BaseHTTPRequestHandler, headers: dict[str, str], first: tuple[str | None, Any], rest: Any) -> None:
    """Server-sent events, one HTTP chunk per event."""

    def chunk(data: bytes) -> None:
        send_chunk(h, data)

    try:
        start_chunked(h, 200, headers | {"Content-Type": "text/event-stream; charset=utf-8",
                                         "Cache-Control": "no-cache"})
        chunk(sse(*first))
        try:
            for event in rest:
                chunk(sse(*event))
        except ApiError as exc:  # after the headers: report it in-stream, as OpenAI does
            chunk(sse("error", {"type": "error", **exc.body()}))
        chunk(b"")
    except CLIENT_GONE:
        close = getattr(rest, "close", None)
        if close:
            close()  # stop generating, release the engine


