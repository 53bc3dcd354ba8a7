"""WebSocket sessions (the Realtime API) in the in-kernel course server: record them, replay them.

A session is one interaction: the request is the handshake (``GET /v1/realtime?model=...``, no header), the
response holds every message of both sides in order, each with the delay before it (audio stays base64 inside the
events, as on the wire). Replay answers each client event with the server events that followed it in the
recording, at ``COURSE_REPLAY_SPEED``; a client event that differs from the recorded one gets the protocol's
``error`` event with the same miss message as an HTTP request (a diff of the first client event that differs).
The WebSocket side is the ``websockets`` library (its sync server and client); nothing here parses frames.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .canon import _normalise, diff, stored_request
from .interaction import REPLAY_MISS, REPLAY_NO_RECORDING, Source, StoredRequest, StoredResponse, WsMessage
from .recording import _rel
from .wire import AppHandler, accept_websocket, openai_error, send_bytes

if TYPE_CHECKING:
    from .server import CourseServer

# Request headers passed on to the upstream's handshake (the key, and what the SDK sends); never recorded.
FORWARD_HEADERS = ("authorization", "openai-beta", "openai-organization", "openai-project", "user-agent")
SHOWN_CHARS = 120  # longer strings (audio) are shown by length and hash in a miss message


def _event_text(event: Any) -> str:
    return json.dumps(event, ensure_ascii=False) if not isinstance(event, str) else event


def _parse(message: str | bytes) -> Any:
    try:
        return json.loads(message)
    except ValueError:
        return message if isinstance(message, str) else message.decode("utf-8", "replace")


def _shown(value: Any) -> Any:
    """An event with its long strings (base64 audio) replaced by their length and hash, for a readable diff."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"<{len(value):,} characters, sha256 {hashlib.sha256(value.encode()).hexdigest()[:12]}>"
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    return _normalise(a) == _normalise(b)


class Recorder:
    """Both sides of one live session, timed, as the recording keeps them."""

    def __init__(self) -> None:
        self.messages: list[WsMessage] = []
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def add(self, side: str, message: str | bytes) -> None:
        with self.lock:
            now = time.monotonic()
            self.messages.append({"side": "client" if side == "client" else "server",
                                  "delay": round(now - self.last, 4), "data": _parse(message)})
            self.last = now


def handle(server: CourseServer, h: AppHandler) -> None:
    """One WebSocket session through the course server, in its mode."""
    request = stored_request("GET", h.path, None, b"")
    if server.mode == "replay":
        Replayer(server, request).run(h)
    else:
        forward(server, h, request)


def _upstream_url(server: CourseServer, h: AppHandler) -> str:
    target = urlsplit(server.upstream + h.path.removeprefix("/v1"))
    scheme = {"http": "ws", "https": "wss"}.get(target.scheme, target.scheme)
    return target._replace(scheme=scheme).geturl()


def forward(server: CourseServer, h: AppHandler, request: StoredRequest) -> None:
    """Live and record: connect to the upstream, then pass every message both ways while recording them."""
    from websockets.exceptions import InvalidHandshake
    from websockets.sync.client import connect

    if server.refused_by_gate(h, request):
        return
    headers = {k: v for k, v in h.headers.items() if k.lower() in FORWARD_HEADERS}
    headers |= server.course_headers(urlsplit(server.upstream).hostname)
    try:
        upstream = connect(_upstream_url(server, h), additional_headers=headers, max_size=None,
                           user_agent_header=None, open_timeout=30)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        send_bytes(h, 502, {"Content-Type": "application/json"},
                   json.dumps(openai_error(server.unreachable(exc), "upstream_unreachable", "server_error")).encode())
        return
    with server._idle:
        server._inflight += 1
    try:
        _relay(server, h, request, upstream)
    finally:
        with server._idle:
            server._inflight -= 1
            server._idle.notify_all()


def _relay(server: CourseServer, h: AppHandler, request: StoredRequest, upstream: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    labels = {k.lower(): v for k, v in upstream.response.headers.raw_items() if k.lower().startswith("x-course-")}
    client = accept_websocket(h)
    recorder = Recorder()
    ended: dict[str, str] = {}  # who ended the session: "client", "server" or "dropped"

    def to_upstream() -> None:
        try:
            for message in client:
                if "by" in ended:
                    continue  # the upstream is gone: the notebook has its error event and closes when it likes
                recorder.add("client", message)
                with contextlib.suppress(ConnectionClosed):
                    upstream.send(message)
            ended.setdefault("by", "client")
        except ConnectionClosed:
            ended.setdefault("by", "dropped")  # the notebook's side went away mid-session
        finally:
            upstream.close()

    pump = threading.Thread(target=to_upstream, name="course-ws-client", daemon=True)
    pump.start()
    try:
        for message in upstream:
            recorder.add("server", message)
            with contextlib.suppress(ConnectionClosed):
                client.send(message)
        ended.setdefault("by", "server")
    except ConnectionClosed as exc:
        if "by" not in ended:  # the upstream dropped the session mid-answer: say so, keep what came
            ended["by"] = "dropped"
            notice = json.dumps(dropped_event(server.upstream_label, exc, len(recorder.messages)))
            recorder.add("server", notice)
            with contextlib.suppress(ConnectionClosed):
                client.send(notice)
    finally:
        if ended.get("by") == "dropped":
            pump.join(timeout=600)  # keep the notebook's side open until it closes: it reads the error first
        client.close()
        pump.join(timeout=10)
    response: StoredResponse = {"status": 101, "websocket": recorder.messages, "closed": ended["by"]}
    server._finish(request, response, source(request, response, labels))


def dropped_event(upstream: str, exc: Exception, received: int) -> dict[str, Any]:
    """The ``error`` event the notebook gets when the upstream drops a session mid-answer."""
    message = (f"{upstream} dropped the Realtime session ({exc}) after {received} messages. Everything received "
               "until then was passed on (and, when recording, recorded); reconnect to start a new session.")
    return {"type": "error", "event_id": "event_course_dropped",
            "error": {"type": "server_error", "code": "session_dropped", "message": message, "param": None,
                      "event_id": None}}


def source(request: StoredRequest, response: StoredResponse, labels: dict[str, str]) -> Source:
    """What answered a session: the local backend's label (its model chain), else the session's model."""
    query = dict(part.split("=", 1) for part in urlsplit(request["path"]).query.split("&") if "=" in part)
    requested = query.get("model")
    found: Source = {"kind": "model", **({"requested": requested} if requested else {})}
    session_model = next((m["data"].get("session", {}).get("model") for m in response.get("websocket", [])
                          if m["side"] == "server" and isinstance(m["data"], dict)
                          and m["data"].get("type") == "session.created"), None)
    found["answered_by"] = labels.get("x-course-model") or session_model or requested
    if "x-course-note" in labels:
        found["note"] = labels["x-course-note"]
    return found


class Replayer:
    """Replays one recorded session: each client event must be the recorded one; the server's follow it."""

    def __init__(self, server: CourseServer, request: StoredRequest) -> None:
        self.server, self.request = server, request
        recording = server.recording
        self.candidates = [n for n, item in enumerate(recording.interactions)
                           if "websocket" in item["response"] and item["request"]["path"] == request["path"]]
        with server._lock:
            fresh = [n for n in self.candidates if server._played[n] == 0]
            self.number: int | None = (fresh or self.candidates)[0] if self.candidates else None
            if self.number is not None:
                server._played[self.number] += 1
            else:
                server.misses += 1
        self.sent: list[Any] = []  # the client events of this session so far

    def messages(self) -> list[WsMessage]:
        assert self.number is not None
        return self.server.recording.interactions[self.number]["response"]["websocket"]

    def run(self, h: AppHandler) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = accept_websocket(h)
        try:
            if not self.server.recording.exists or self.number is None:
                code = REPLAY_MISS if self.server.recording.exists else REPLAY_NO_RECORDING
                connection.send(json.dumps(self.error(self.no_session_message(), code)))
                for _ in connection:  # the session stays open (the SDK may still be sending) until the client closes
                    pass
                return
            self.play_server(connection, 0)
            for message in connection:
                event = _parse(message)
                expected = self.expected(len(self.sent))
                if expected is None or not _same(expected[1], event):
                    if not self.switch(event):  # answered with the miss; the session stays where it was
                        connection.send(json.dumps(self.error(self.miss_message(event, expected), REPLAY_MISS)))
                        continue
                    expected = self.expected(len(self.sent))
                    assert expected is not None
                self.sent.append(event)
                self.play_server(connection, expected[0] + 1)
        except ConnectionClosed:
            pass  # the notebook closed the session (or dropped it) early: nothing to keep in replay
        finally:
            connection.close()

    def expected(self, index: int) -> tuple[int, Any] | None:
        """(position, event) of the ``index``-th client event of the current recorded session."""
        clients = [(n, m["data"]) for n, m in enumerate(self.messages()) if m["side"] == "client"]
        return clients[index] if index < len(clients) else None

    def switch(self, event: Any) -> bool:
        """Move to another recorded session of this path whose client events so far match (and this one)."""
        for number in self.candidates:
            clients = [m["data"] for m in self.server.recording.interactions[number]["response"]["websocket"]
                       if m["side"] == "client"]
            wanted = [*self.sent, event]
            if len(clients) >= len(wanted) and all(_same(a, b) for a, b in zip(clients, wanted, strict=False)):
                self.number = number
                return True
        return False

    def play_server(self, connection: Any, start: int) -> None:
        """Send the recorded server messages from ``start`` up to the next client message (closing the session
        where the recorded server closed it)."""
        messages = self.messages()
        position = start
        while position < len(messages) and messages[position]["side"] == "server":
            self.server._pause(messages[position]["delay"])
            connection.send(_event_text(messages[position]["data"]))
            position += 1
        if position == len(messages):
            assert self.number is not None
            closed = self.server.recording.interactions[self.number]["response"].get("closed")
            if closed == "server":
                connection.close()

    def error(self, message: str, code: str) -> dict[str, Any]:
        return {"type": "error", "event_id": "event_course_replay",
                "error": {"type": "invalid_request_error", "code": code, "message": message, "param": None,
                          "event_id": None}}

    def no_session_message(self) -> str:
        recording = self.server.recording
        if not recording.exists:
            return (f"Notebook '{recording.notebook}' has no recording yet ({_rel(recording.path)}), so there is "
                    f"nothing to replay. Run it live (COURSE_BACKEND=live) or record it "
                    f"(`make record NB={recording.notebook}`).")
        paths = sorted({i["request"]["path"] for i in recording.interactions if "websocket" in i["response"]})
        near = f"the recorded sessions connect to {', '.join(paths)}" if paths else "it holds no WebSocket session"
        return (f"This WebSocket session is not in the recording of notebook '{recording.notebook}' "
                f"({_rel(recording.path)}): GET {self.request['path']}; {near}.\n{ADVICE}")

    def miss_message(self, event: Any, expected: tuple[int, Any] | None) -> str:
        recording = self.server.recording
        head = (f"This Realtime client event is not in the recording of notebook '{recording.notebook}' "
                f"({_rel(recording.path)}): event {len(self.sent) + 1} of the session GET {self.request['path']}.")
        if expected is None:
            detail = f"The recorded session ends after {len(self.sent)} client events."
        else:
            recorded: StoredRequest = {"method": "WS", "path": self.request["path"], "json": _shown(expected[1])}
            current: StoredRequest = {"method": "WS", "path": self.request["path"], "json": _shown(event)}
            detail = "It differs from the recorded client event:\n" + diff(recorded, current)
        return f"{head}\n{detail}\n{ADVICE}"


ADVICE = ("Undo the change to replay the recorded session, or run the notebook live: set COURSE_BACKEND=live "
          "(with OPENAI_API_KEY, or OPENAI_BASE_URL for a local server) and rerun the setup cell.")
