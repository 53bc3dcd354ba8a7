"""The course chatbot's web server: one page, one endpoint, standard library only.

``GET /`` serves the page; ``POST /api/ask`` with ``{"question": "..."}`` answers with
``{"answer", "model", "lessons"}``. The server holds the key (the browser never sees it), binds to 127.0.0.1 only,
sends no CORS headers (so other sites' pages cannot call it), accepts only JSON bodies from its own origin, and
escapes everything it writes into the page.
"""

from __future__ import annotations

import html
import json
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from string import Template
from typing import Any

import openai

from helpers.replay.interaction import REPLAY_ERROR_CODES
from helpers.replay.wire import LOOPBACK, QuietThreadingServer

HOST = LOOPBACK
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"/static/app.js": "text/javascript; charset=utf-8", "/static/style.css": "text/css; charset=utf-8"}
MAX_BODY = 8 * 1024  # bytes of a request body
MAX_QUESTION = 500  # characters of a question
DRAIN_LIMIT = 1024 * 1024  # an oversized body up to this size is read and dropped before the 413
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class AskProblem(Exception):
    """A request the server refuses, with the HTTP status and the message the page shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class App:
    """What the server needs: how to answer, and what the page says about where answers come from."""

    answer: Callable[[str], dict[str, Any]]
    banner: str
    backend: str
    samples: list[str] = field(default_factory=list)
    lessons: list[tuple[str, str]] = field(default_factory=list)  # (number, title)


def parse_question(content_type: str | None, body: bytes) -> str:
    """The question in a JSON request body, or an ``AskProblem`` saying what is wrong with it."""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise AskProblem(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send the question as JSON: {\"question\": \"...\"}.")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AskProblem(HTTPStatus.BAD_REQUEST, "The request body is not valid JSON.") from None
    question = data.get("question") if isinstance(data, dict) else None
    if not isinstance(question, str) or not question.strip():
        raise AskProblem(HTTPStatus.BAD_REQUEST, "Type a question first.")
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION:
        raise AskProblem(HTTPStatus.BAD_REQUEST, f"Keep the question under {MAX_QUESTION} characters.")
    return question


def explain_api_error(exc: openai.OpenAIError, backend: str) -> AskProblem:
    """What the page says when the model backend fails."""
    if isinstance(exc, openai.APIStatusError) and getattr(exc, "code", None) in REPLAY_ERROR_CODES:
        return AskProblem(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "This question is not in the recording. In replay mode the page can answer only the recorded "
            "questions (listed under the box). To ask anything, run `make webapp BACKEND=live` with a key or "
            "with OPENAI_BASE_URL pointing at the local backend.",
        )
    if isinstance(exc, openai.APIConnectionError):
        return AskProblem(HTTPStatus.BAD_GATEWAY, f"The model backend ({backend}) could not be reached.")
    message = getattr(exc, "message", None) or str(exc)
    return AskProblem(HTTPStatus.BAD_GATEWAY, f"The model backend ({backend}) answered with an error: {message}")


def render_page(app: App) -> str:
    """The page, with every inserted value escaped."""
    esc = html.escape
    samples = "\n".join(
        f'<li><button type="button" class="sample" data-question="{esc(q)}">{esc(q)}</button></li>' for q in app.samples
    )
    lessons = "\n".join(f"<li><b>{esc(number)}</b> {esc(title)}</li>" for number, title in app.lessons)
    template = Template((STATIC / "index.html").read_text(encoding="utf-8"))
    return template.substitute(
        banner=esc(app.banner), backend=esc(app.backend), samples=samples, lessons=lessons, max_question=MAX_QUESTION,
        samples_heading="Questions the recording can answer" if app.backend == "replay" else "Questions to try",
    )


class Handler(BaseHTTPRequestHandler):
    server: CourseChatServer
    server_version = "course-chatbot"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay idle or half-sent

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if not self.server.quiet:
            sys.stderr.write(f"webapp: {format % args}\n")

    # -- responses ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", extra)

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        self._json(status, {"error": message}, extra)

    # -- checks ---------------------------------------------------------------------------------
    def _own_origins(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"{HOST}:{port}", f"localhost:{port}"}

    def _trusted(self) -> bool:
        """Only requests addressed to this server by name (no DNS rebinding), and from its own pages."""
        if self.headers.get("Host", "") not in self._own_origins():
            self._error(HTTPStatus.FORBIDDEN, "Unexpected Host header.")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in self._own_origins():
            self._error(HTTPStatus.FORBIDDEN, "Cross-origin requests are not accepted.")
            return False
        return True

    # -- methods --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._trusted():
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(HTTPStatus.OK, render_page(self.server.app).encode(), "text/html; charset=utf-8")
        elif path in ASSETS:
            self._send(HTTPStatus.OK, (STATIC / Path(path).name).read_bytes(), ASSETS[path])
        elif path == "/api/ask":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "Use POST, with the question in a JSON body.", {"Allow": "POST"})
        else:
            self._error(HTTPStatus.NOT_FOUND, "Not found.")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._trusted():
            return
        if self.path != "/api/ask":
            allowed = "GET, HEAD" if self.path == "/" or self.path in ASSETS else None
            if allowed:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed.", {"Allow": allowed})
            else:
                self._error(HTTPStatus.NOT_FOUND, "Not found.")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "Send a Content-Length.")
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            remaining = int(length) if int(length) <= DRAIN_LIMIT else 0
            while remaining > 0:  # read and drop it, so the client sees the 413 rather than a reset connection
                chunk = self.rfile.read(min(65536, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"The request is over {MAX_BODY} bytes.")
            return
        body = self.rfile.read(int(length))
        try:
            question = parse_question(self.headers.get("Content-Type"), body)
            try:
                payload = self.server.app.answer(question)
            except openai.OpenAIError as exc:
                raise explain_api_error(exc, self.server.app.backend) from None
        except AskProblem as problem:
            self._error(problem.status, problem.message)
            return
        except Exception:  # noqa: BLE001 - the page gets a short message, the terminal the traceback
            traceback.print_exc()
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "The server failed to answer; see its terminal.")
            return
        self._json(HTTPStatus.OK, payload)

    def _not_allowed(self) -> None:
        if self._trusted():
            allow = "POST" if self.path == "/api/ask" else "GET, HEAD"
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "Method not allowed.", {"Allow": allow})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


class CourseChatServer(QuietThreadingServer):
    """The chatbot's threading server on 127.0.0.1 (a burst of clients queues; nothing is dropped)."""

    def __init__(self, app: App, port: int = 0, quiet: bool = False) -> None:
        self.app = app
        self.quiet = quiet
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="course-chatbot",
                                  daemon=True)
        thread.start()
        return thread
