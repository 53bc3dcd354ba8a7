"""HTTP plumbing shared by the course's servers (the in-kernel replay server and the local backend)."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body, whether sent with Content-Length or with chunked transfer encoding."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
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


class LoopbackServer(ThreadingHTTPServer):
    """A threading server on 127.0.0.1 only, for ``app``; a client hanging up is not worth a traceback."""

    daemon_threads = True

    def __init__(self, app: Any, port: int = 0, name: str = "course") -> None:
        handler = type(f"{name}-handler", (AppHandler,), {"server_version": name})
        super().__init__(("127.0.0.1", port), handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def send_bytes(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    """A whole response with a Content-Length."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def send_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    """One chunk of a chunked response (an empty one ends it), flushed at once."""
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()
