"""HTTP plumbing shared by the course's servers (the in-kernel course server, the local backend, the web app).

Standard library only: the local backend imports this module (and nothing else of ``helpers``).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import sys
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
LOOPBACK_HOSTS = (LOOPBACK, "localhost")  # host names that stay on this machine
# Where the course's local backend listens (``make local-backend``: the Makefile reads its LOCAL_PORT from here).
LOCAL_BACKEND_PORT = 8011
LOCAL_BACKEND_URL = f"http://{LOOPBACK}:{LOCAL_BACKEND_PORT}/v1"
# Connections the kernel queues while every thread is busy accepting. socketserver's default of 5 drops a burst
# of clients: with 20 at once the kernel overflowed that queue and clients saw reset connections. 128 covers any
# burst a lesson or test sends (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 128
CLIENT_GONE = (BrokenPipeError, ConnectionResetError)
# Webhooks through the course server: when a lesson has registered a receiver (``helpers.register_webhook``), the
# course server asks the local backend, with this request header, to deliver a background response's webhook to
# the course server's WEBHOOK_SINK, which records it and passes it on to the receiver.
WEBHOOK_URL_HEADER = "X-Course-Webhook-Url"
WEBHOOK_SINK = "/course/webhooks"
# The local backend signs its deliveries to a course server's sink with this test secret (not a real one); the
# recording checks verify the recorded signatures with it.
RELAY_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"course-relay-test-secret-not-real").decode()


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The standard-webhooks ``webhook-signature`` value for ``body`` (what the SDK's ``verify_signature``
    recomputes): ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed with the secret after ``whsec_``."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def openai_error(message: str, code: str | None, kind: str = "invalid_request_error",
                 param: str | None = None) -> dict[str, Any]:
    """An error body in the shape the OpenAI API uses, so the SDK raises its usual exception."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True)
class FormFile:
    """One uploaded file of a multipart form."""

    filename: str | None
    content_type: str
    data: bytes


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, list[str]], dict[str, list[FormFile]]]:
    """A multipart/form-data body as its fields and files, each name with every value sent under it, in order.

    Raises ``ValueError`` when the body is not multipart.
    """
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("Expected a multipart/form-data body.")
    fields: dict[str, list[str]] = {}
    files: dict[str, list[FormFile]] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files.setdefault(name, []).append(FormFile(filename, part.get_content_type(), data))
        else:
            fields.setdefault(name, []).append(data.decode("utf-8", "replace"))
    return fields, files


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, whether sent with Content-Length or with chunked transfer encoding."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class AppHandler(BaseHTTPRequestHandler):
    """Hands every request to ``server.app.handle(handler)``; keep-alive, no Nagle delay, no access log."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        pass

    def _dispatch(self) -> None:
        self.server.app.handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


class QuietThreadingServer(ThreadingHTTPServer):
    """A threading HTTP server that queues a burst of connections and takes a client hanging up calmly."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer(QuietThreadingServer):
    """A threading server on 127.0.0.1 only, for ``app``."""

    def __init__(self, app: Any, port: int = 0, name: str = "course") -> None:
        handler = type(f"{name}-handler", (AppHandler,), {"server_version": name})
        super().__init__((LOOPBACK, port), handler)
        self.app = app


def send_bytes(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    """A whole response with a Content-Length."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def start_chunked(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    """The status line and headers of a chunked response (a stream); send its chunks with :func:`send_chunk`."""
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in ("content-length", "transfer-encoding"):
            handler.send_header(name, value)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()


def send_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """One chunk of a chunked response (an empty one ends it), flushed at once."""
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


# Largest WebSocket message either server takes (a Realtime ``input_audio_buffer.append`` of 15 MiB of audio, as
# base64, fits; OpenAI's own limit per append is 15 MiB).
WEBSOCKET_MAX_MESSAGE = 21 * 1024 * 1024


def is_websocket(handler: BaseHTTPRequestHandler) -> bool:
    """Whether this request asks to upgrade to a WebSocket."""
    return handler.headers.get("Upgrade", "").lower() == "websocket"


def accept_websocket(handler: BaseHTTPRequestHandler, headers: dict[str, str] | None = None) -> Any:
    """Take over ``handler``'s connection as a WebSocket (the ``websockets`` library's sync server connection).

    The HTTP server has already read the request line and headers, so they are handed to websockets' own
    handshake parser, which then answers the upgrade (with ``headers`` added to its 101 response). The
    connection is the caller's until it closes; the HTTP server closes the socket when the handler returns.
    ``websockets`` is imported here only, so this module stays standard library for its other users.
    """
    from websockets.server import ServerProtocol
    from websockets.sync.server import ServerConnection

    protocol = ServerProtocol(max_size=WEBSOCKET_MAX_MESSAGE)
    head = handler.raw_requestline + b"".join(  # type: ignore[attr-defined]  # set by handle_one_request
        f"{name}: {value}\r\n".encode("latin-1") for name, value in handler.headers.items()) + b"\r\n"
    protocol.receive_data(head)
    request = protocol.events_received()[0]
    connection = ServerConnection(handler.connection, protocol, ping_interval=None,
                                  max_queue=64)
    connection.request = request  # type: ignore[assignment]  # the first event parsed is the handshake request
    connection.request_rcvd.set()
    handler.close_connection = True

    def add_headers(_: Any, __: Any, response: Any) -> None:
        for name, value in (headers or {}).items():
            response.headers[name] = value

    connection.handshake(process_response=add_headers, server_header=None)
    return connection
