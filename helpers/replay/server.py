"""The in-kernel server that replays recorded answers, or records them on the way through.

It listens on 127.0.0.1 (a free port), and ``helpers.setup()`` points ``OPENAI_BASE_URL`` at it,
so notebook code stays a plain ``client = OpenAI()`` and any HTTP client (async, a subprocess,
``!curl``) gets the same answers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..errors import RecordingError
from . import faults, realtime
from .canon import closest, diff, match_key, stored_request
from .fallback import Fallback
from .interaction import (
    MODES,
    REPLAY_MISS,
    REPLAY_NO_RECORDING,
    Event,
    Interaction,
    Source,
    StoredRequest,
    StoredResponse,
    answered_model,
    body_bytes,
    is_streaming,
    requested_model,
    status_of,
    stored_body,
)
from .limits import upload_problem
from .recording import Recording, _rel
from .webhooks import Relay, response_id
from .wire import (
    CLIENT_GONE,
    LOOPBACK_HOSTS,
    WEBHOOK_SINK,
    WEBHOOK_URL_HEADER,
    AppHandler,
    LoopbackServer,
    is_websocket,
    openai_error,
    read_body,
    send_bytes,
    send_chunk,
    start_chunked,
)

# Response headers a recording keeps; everything else (cookies, org ids, dates) is dropped.
KEEP_RESPONSE_HEADERS = {
    "content-type",
    "x-request-id",
    "openai-processing-ms",
    "openai-version",
    "retry-after",
    "retry-after-ms",
    "x-course-emulated",
    "x-course-engine",
    "x-course-fixture",
    "x-course-model",
    "x-course-note",
}
KEEP_RESPONSE_PREFIXES = ("x-ratelimit-",)
# Request headers never forwarded upstream as-is (hop-by-hop, or rewritten here).
SKIP_REQUEST_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding", "keep-alive"}
# Endpoints whose successful answers come from a model (others are plain service calls).
MODEL_ROUTES = ("/chat/completions", "/completions", "/responses", "/embeddings", "/audio/", "/images/",
                "/moderations")


def keep_header(name: str) -> bool:
    lower = name.lower()
    return lower in KEEP_RESPONSE_HEADERS or lower.startswith(KEEP_RESPONSE_PREFIXES)


def encode_event(event: Event) -> bytes:
    """One stored server-sent event back into wire format."""
    lines = [f"event: {event['event']}"] if "event" in event else []
    data = json.dumps(event["data"], ensure_ascii=False) if "data" in event else event.get("raw", "")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def parse_event(block: str, delay: float) -> Event | None:
    """One server-sent event from the wire into its stored form (None for a comment-only block)."""
    event: Event = {"delay": round(delay, 4)}
    data_lines = []
    for line in block.split("\n"):
        if line.startswith("event:"):
            event["event"] = line[6:].strip()
        elif line.startswith("data:"):
            data_lines.append(line[5:].removeprefix(" "))
    if not data_lines and "event" not in event:
        return None
    data = "\n".join(data_lines)
    try:
        event["data"] = json.loads(data)
    except ValueError:
        event["raw"] = data
    return event


class CourseServer:
    """One per notebook kernel: replays a recording, or passes calls to ``upstream`` (live), recording them
    on the way (record)."""

    def __init__(self, recording: Recording, mode: str = "replay", upstream: str | None = None,
                 speed: float = 1.0, upstream_label: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode != "replay" and not upstream:
            raise ValueError(f"{mode} mode needs an upstream URL")
        self.recording = recording
        self.mode = mode
        self.upstream = (upstream or "").rstrip("/")
        self.upstream_label = upstream_label or self.upstream
        self.speed = speed
        self.misses = 0
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # signalled when no forwarded call is in flight
        self._inflight = 0
        self._index: dict[str, list[int]] = defaultdict(list)
        for number, key in enumerate(recording.keys()):
            self._index[key].append(number)
        self._played = [0] * len(recording.interactions)
        self._httpd: LoopbackServer | None = None
        self._faults: deque[tuple[str, int]] = deque()
        self.session_id = uuid.uuid4().hex
        self.latency = 0.0  # extra seconds before every answer, whatever the mode (helpers.simulate.latency)
        # Hooks for live and record mode: ``gate(request)`` may return a refusal message (e.g. a spending
        # cap); ``meter(request, response)`` sees every answer that came back (e.g. to add up usage).
        self.gate: Callable[[StoredRequest], str | None] | None = None
        self.meter: Callable[[StoredRequest, StoredResponse], None] | None = None
        self.webhooks = Relay()  # a lesson's webhook receiver (helpers.register_webhook)
        self._stored_at: dict[int, float] = {}  # when each interaction recorded in this session was stored
        # Replay only: where a request the recording lacks goes, when the local backend runs (helpers.replay.fallback).
        self.fallback: Fallback | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL to give the SDK."""
        httpd = LoopbackServer(self, 0, "course-replay")
        threading.Thread(target=httpd.serve_forever, args=(0.05,), name="course-replay", daemon=True).start()
        self._httpd = httpd
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self, wait_seconds: float = 120.0) -> None:
        """Stop serving, after calls still being forwarded (say, a stream the caller stopped reading, which is
        still being recorded to its end) have finished, for up to ``wait_seconds``."""
        if self._httpd is None:
            return
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=wait_seconds)
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    # -- simulated failures -------------------------------------------------------------------
    def inject(self, name: str, times: int = 1, *, after_events: int = 3) -> None:
        """Answer the next ``times`` requests with a simulated fault (live and record mode).

        In replay mode this does nothing: the faults injected while recording are in the recording and
        play back in order. ``after_events`` is where ``stream_cut`` cuts the stream.
        """
        if name not in faults.FAULTS:
            raise ValueError(f"unknown fault {name!r}; choose from {faults.names()}")
        if self.mode != "replay":
            with self._lock:
                self._faults.extend([(name, after_events)] * times)

    def _next_fault(self, request: StoredRequest) -> tuple[str, int] | None:
        """The fault for this request, if one is queued (a stream cut waits for a streaming request)."""
        streaming = is_streaming(request)
        with self._lock:
            if not self._faults or (self._faults[0][0] == "stream_cut" and not streaming):
                return None
            return self._faults.popleft()

    # -- shared by the HTTP and the WebSocket paths ---------------------------------------------
    def refused_by_gate(self, h: AppHandler, request: StoredRequest) -> bool:
        """Answer a request the gate refuses (e.g. the spending cap) like OpenAI's quota error, marked so the SDK
        does not retry it; True when it was refused."""
        refusal = self.gate(request) if self.gate else None
        if refusal:
            body = json.dumps(openai_error(refusal, "course_spending_cap", "insufficient_quota")).encode()
            send_bytes(h, 429, {"Content-Type": "application/json", "x-should-retry": "false"}, body)
        return bool(refusal)

    def course_headers(self, hostname: str | None) -> dict[str, str]:
        """Headers for the course's local backend (none for another upstream): the session, so it counts repeated
        requests per notebook run (stable ids), and where to deliver this request's webhooks, to record them."""
        if hostname not in LOOPBACK_HOSTS:
            return {}
        headers = {"X-Course-Session": self.session_id}
        if self.webhooks.url:
            headers[WEBHOOK_URL_HEADER] = self.base_url.removesuffix("/v1") + WEBHOOK_SINK
        return headers

    def unreachable(self, exc: BaseException) -> str:
        """The message for an upstream that cannot be reached."""
        return (f"The course server could not reach {self.upstream_label}: {exc}. Check your network connection (or "
                "OPENAI_BASE_URL, if you use another server); to work offline, set COURSE_BACKEND=replay and rerun "
                "the setup cell.")

    # -- requests ---------------------------------------------------------------------------
    def handle(self, h: AppHandler) -> None:
        if is_websocket(h):  # a Realtime session: recorded and replayed by helpers.replay.realtime
            realtime.handle(self, h)
            return
        body = read_body(h)
        if h.command == "POST" and h.path == WEBHOOK_SINK:
            self._webhook_arrived(h, body)
            return
        request = stored_request(h.command, h.path, h.headers.get("Content-Type"), body)
        if self.latency:
            time.sleep(self.latency)
        too_large = upload_problem(request)
        if too_large:
            self._send_json(h, 400, openai_error(too_large, "course_upload_too_large"))
            return
        if self.mode == "replay":
            self._replay(h, request, body)
            return
        if self.refused_by_gate(h, request):
            return
        fault = self._next_fault(request)
        if fault and fault[0] != "stream_cut":
            response = faults.response_for(fault[0], request)
            self._finish(request, response, faults.source_for(fault[0], request))
            self._write(h, response)
            return
        with self._idle:
            self._inflight += 1
        try:
            self._forward(h, request, body, cut_after=fault[1] if fault else None)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()


    def _replay(self, h: AppHandler, request: StoredRequest, body: bytes = b"") -> None:
        if not self.recording.exists:
            if self._fell_back(h, request, body):  # e.g. `make chat`, which has no recording
                return
            message = (
                f"Notebook '{self.recording.notebook}' has no recording yet ({_rel(self.recording.path)}), "
                "so there is nothing to replay. Run it live (COURSE_BACKEND=live) or record it "
                f"(`make record NB={self.recording.notebook}`)."
            )
            self._send_json(h, 400, openai_error(message, REPLAY_NO_RECORDING))
            return
        with self._lock:
            numbers = self._index.get(match_key(request))
            if numbers:
                # In recorded order; once all are played, keep answering with the last one.
                number = next((n for n in numbers if self._played[n] == 0), numbers[-1])
                self._played[number] += 1
            else:
                self.misses += 1
        if not numbers:
            if self._fell_back(h, request, body):
                return
            hint = self.fallback.hint() if self.fallback is not None else ""
            self._send_json(h, 400, openai_error(self.miss_message(request) + hint, REPLAY_MISS))
            return
        item = self.recording.interactions[number]
        if self.meter:
            self.meter(request, item["response"])
        self._write(h, item["response"])
        for delivery in item.get("webhooks", []):
            self.webhooks.send_later(delivery, self.speed)

    def _fell_back(self, h: AppHandler, request: StoredRequest, body: bytes) -> bool:
        """Send a request the recording lacks to the local backend, if it runs (helpers.replay.fallback)."""
        if self.fallback is None or not self.fallback.ready():
            return False
        self._forward(h, request, body, via=self.fallback)
        return True

    def miss_message(self, request: StoredRequest) -> str:
        """What a learner sees when a request is not in the recording: which, and how it differs."""
        head = (
            f"This request is not in the recording of notebook '{self.recording.notebook}' "
            f"({_rel(self.recording.path)}): {request['method']} {request['path']}."
        )
        near = closest(request, [item["request"] for item in self.recording.interactions])
        if near is None:
            detail = "The recording has no API calls at all."
        elif (near["method"], near["path"]) != (request["method"], request["path"]):
            detail = f"No recorded call goes to {request['path']}; the nearest is {near['method']} {near['path']}."
        else:
            detail = "It differs from the closest recorded request:\n" + diff(near, request)
        advice = (
            "Undo the change to replay the recorded answer, or run the notebook live: set COURSE_BACKEND=live "
            "(with OPENAI_API_KEY, or OPENAI_BASE_URL for a local server) and rerun the setup cell."
        )
        return f"{head}\n{detail}\n{advice}"

    def _write(self, h: AppHandler, response: StoredResponse) -> None:
        headers = {k: v for k, v in response.get("headers", {}).items()
                   if k.lower() not in ("content-length", "transfer-encoding")}
        try:
            if "events" in response:
                start_chunked(h, status_of(response), headers)
                for event in response["events"]:
                    self._pause(event.get("delay", 0))
                    send_chunk(h, encode_event(event))
                if response.get("cut"):
                    self._cut(h)
                    return
                send_chunk(h, b"")
            else:
                self._pause(response.get("elapsed", 0))
                send_bytes(h, status_of(response), headers, body_bytes(response))
        except CLIENT_GONE:
            pass  # the client stopped reading (e.g. a stream closed early); nothing is lost

    @staticmethod
    def _cut(h: AppHandler) -> None:
        """Drop the connection mid-stream, as a failing network or server would."""
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _pause(self, seconds: float) -> None:
        if self.speed > 0 and seconds > 0:
            time.sleep(seconds * self.speed)

    def _send_json(self, h: AppHandler, status: int, payload: dict[str, Any]) -> None:
        send_bytes(h, status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    # -- live and record: forwarding ----------------------------------------------------------
    def _forward(self, h: AppHandler, request: StoredRequest, body: bytes, cut_after: int | None = None,
                 via: Fallback | None = None) -> None:
        """Pass a request to the upstream and its answer back, finishing (metering, storing) it before the
        last bytes go out: once the caller has the whole answer, the recording holds it.

        ``via``: a replay miss sent to the local backend instead, which only meters its answer (never stores it).
        """
        finish = via.finish if via is not None else self._finish
        target = urlsplit((via.url if via is not None else self.upstream) + h.path.removeprefix("/v1"))
        connection_class = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        conn = connection_class(target.netloc, timeout=600)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in SKIP_REQUEST_HEADERS}
        headers["Accept-Encoding"] = "identity"
        headers |= self.course_headers(target.hostname)
        started = time.monotonic()
        try:
            conn.request(h.command, target.path + (f"?{target.query}" if target.query else ""),
                         body=body or None, headers=headers)
            upstream = conn.getresponse()
        except OSError as exc:
            message = via.unreachable(exc) if via is not None else self.unreachable(exc)
            self._send_json(h, 502, openai_error(message, "upstream_unreachable", "server_error"))
            return
        kept = {k: v for k, v in upstream.getheaders() if keep_header(k)}
        ctype = upstream.getheader("Content-Type", "")
        try:
            if ctype.startswith("text/event-stream"):
                self._pass_stream(h, request, upstream, kept, started, cut_after, finish)
            else:
                data = upstream.read()
                response: StoredResponse = {"status": upstream.status, "headers": kept,
                                            "elapsed": round(time.monotonic() - started, 4)}
                response.update(stored_body(ctype, data))
                finish(request, response, None)
                with contextlib.suppress(*CLIENT_GONE):
                    send_bytes(h, upstream.status, kept, data)
        except (http.client.HTTPException, OSError) as exc:  # the upstream stopped mid-answer: nothing is stored
            message = via.broke(exc) if via is not None else (
                f"{self.upstream_label} stopped in the middle of its answer ({type(exc).__name__}); nothing was "
                "recorded. Rerun the cell.")
            error = openai_error(message, "upstream_broke", "server_error")
            with contextlib.suppress(*CLIENT_GONE):
                if ctype.startswith("text/event-stream"):  # the status line went out: end the stream with an error
                    send_chunk(h, encode_event({"event": "error", "data": error}))
                    send_chunk(h, b"")
                else:
                    self._send_json(h, 502, error)
        finally:
            conn.close()

    def _pass_stream(self, h: AppHandler, request: StoredRequest, upstream: http.client.HTTPResponse,
                     kept: dict[str, str], started: float, cut_after: int | None = None,
                     finish: Callable[[StoredRequest, StoredResponse, Source | None], None] | None = None) -> None:
        """Forward a stream event by event while storing the events with their timing.

        With ``cut_after``, the connection is dropped after that many events (a simulated failure).
        """
        finish = finish or self._finish
        client_open = True
        try:
            start_chunked(h, upstream.status, kept)
        except CLIENT_GONE:
            client_open = False
        events: list[Event] = []
        buffer, last = "", started
        while True:
            chunk = upstream.read1(65536)
            if not chunk:
                break
            buffer += chunk.decode("utf-8").replace("\r\n", "\n")
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                now = time.monotonic()
                event = parse_event(block, now - last)
                if event is None:
                    continue
                last = now
                if cut_after is not None and len(events) >= cut_after:
                    cut: StoredResponse = {"status": upstream.status, "headers": kept, "events": events, "cut": True}
                    # Real events from the model, cut short by the course.
                    source: Source = {**self.source(request, cut), **faults.source_for("stream_cut", request)}
                    finish(request, cut, source)
                    if client_open:
                        self._cut(h)
                    return
                events.append(event)
                if client_open:
                    try:
                        send_chunk(h, (block + "\n\n").encode())
                    except CLIENT_GONE:
                        client_open = False  # keep reading, so the recording holds the whole stream
        tail = parse_event(buffer.strip("\n"), time.monotonic() - last) if buffer.strip() else None
        if tail is not None:  # a last event without the closing blank line
            events.append(tail)
            if client_open:
                with contextlib.suppress(*CLIENT_GONE):
                    send_chunk(h, (buffer.strip("\n") + "\n\n").encode())
        finish(request, {"status": upstream.status, "headers": kept, "events": events}, None)
        if client_open:
            with contextlib.suppress(*CLIENT_GONE):
                send_chunk(h, b"")

    def _finish(self, request: StoredRequest, response: StoredResponse,
                source: Source | None = None) -> None:
        """After an answer went back: meter it, and in record mode store it."""
        if self.meter:
            self.meter(request, response)
        if self.mode == "record":
            self._store(request, response, source or self.source(request, response))

    # -- webhooks ---------------------------------------------------------------------------------
    def _webhook_arrived(self, h: AppHandler, body: bytes) -> None:
        """A delivery from the local backend: pass it on, and while recording keep it with its interaction."""
        send_bytes(h, 204, {}, b"")
        arrived = time.monotonic()
        delivery = self.webhooks.keep(dict(h.headers.items()), body, 0.0)
        self.webhooks.send_later(delivery, 0)
        if self.mode != "record":
            return
        try:
            target = json.loads(body)["data"]["id"]
        except (ValueError, KeyError, TypeError):
            return
        deadline = arrived + 5  # the answer that triggered it may still be on its way into the recording
        while True:
            with self._lock:
                found = next((n for n in reversed(range(len(self.recording.interactions)))
                              if response_id(self.recording.interactions[n]) == target
                              and self.recording.interactions[n]["response"]["json"].get("status")
                              not in ("queued", "in_progress")), None)
                if found is not None:
                    delivery["delay"] = round(max(arrived - self._stored_at.get(found, arrived), 0.0), 4)
                    self.recording.interactions[found].setdefault("webhooks", []).append(delivery)
                    try:
                        self.recording.save()
                    except RecordingError as exc:
                        print(f"course recorder: {exc} The webhook was passed on but NOT recorded.", file=sys.stderr)
                    return
            if time.monotonic() > deadline:
                print(f"course recorder: a webhook for {target} matched no recorded answer; passed on, not recorded.",
                      file=sys.stderr)
                return
            time.sleep(0.05)

    def _store(self, request: StoredRequest, response: StoredResponse, source: Source) -> None:
        item: Interaction = {"request": request, "response": response, "source": source}
        with self._lock:
            self.recording.interactions.append(item)
            self._stored_at[len(self.recording.interactions) - 1] = time.monotonic()
            self.recording.recorded.update(
                at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(), upstream=self.upstream_label
            )
            try:
                self.recording.save()
            except RecordingError as exc:
                self.recording.interactions.pop()
                self.refused.append(f"{request['method']} {request['path']}")
                print(f"course recorder: {exc} The answer was passed on but NOT recorded.", file=sys.stderr)

    @staticmethod
    def source(request: StoredRequest, response: StoredResponse) -> Source:
        """What produced an answer: a model (and which), a labelled fixture, an error, or the service."""
        requested = requested_model(request)
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        source: Source = {"requested": requested} if requested else {}
        if status_of(response) >= 400:
            return {"kind": "error", **source}
        if "x-course-fixture" in headers:
            return {"kind": "fixture", "note": headers["x-course-fixture"], **source}
        if request.get("method", "POST") != "POST" or not request["path"].startswith(
            tuple("/v1" + r for r in MODEL_ROUTES)
        ):  # listing, fetching or deleting (e.g. GET/DELETE /v1/responses/{id}) generates nothing
            return {"kind": "service", **source}
        answered = headers.get("x-course-model") or answered_model(response) or requested
        found: Source = {"kind": "model", **source, "answered_by": answered}
        if "x-course-emulated" in headers:
            found["emulated"] = headers["x-course-emulated"]
        if "x-course-engine" in headers:
            found["engine"] = headers["x-course-engine"]
        return found
