"""Replay with a live fallback (helpers/replay/fallback.py): misses go to the local backend (fake engines here)."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from helpers.kernel.meter import FALLBACK, Meter
from helpers.keys import PLACEHOLDER_KEY
from helpers.replay.fallback import PROBE_TIMEOUT, Fallback, probe
from helpers.replay.recording import Recording
from helpers.replay.server import CourseServer
from helpers.testing.recorder import record_calls
from local_backend import Backend

from .fake_engines import REASONING
from .ports import free_port

RECORDED = "Say hello."


def ask(client: OpenAI, text: str = RECORDED, **extra: Any) -> Any:
    return client.responses.create(model=REASONING, input=text, **extra)


@pytest.fixture(scope="module")
def recording(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of one Responses call, made through the course server in record mode."""
    path = tmp_path_factory.mktemp("rec") / "demo.json"
    record_calls(backend.base_url, path, ask)
    return path


Start = Callable[..., tuple[OpenAI, CourseServer, Meter]]


@pytest.fixture
def replaying(recording: Path) -> Iterator[Start]:
    """Start a replay server on ``recording`` whose misses go to ``url``; a client, the server and its meter."""
    servers: list[CourseServer] = []

    def start(url: str, enabled: bool = True) -> tuple[OpenAI, CourseServer, Meter]:
        meter = Meter()
        server = CourseServer(Recording.load(recording, "demo"), "replay", speed=0)
        server.meter = meter.add
        server.fallback = Fallback(url, lambda req, resp: meter.add(req, resp, origin=FALLBACK), enabled=enabled)
        servers.append(server)
        return OpenAI(api_key=PLACEHOLDER_KEY, base_url=server.start(), max_retries=0), server, meter

    yield start
    for server in servers:
        server.stop()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_miss_is_answered_by_the_local_backend_and_never_recorded(backend: Backend, recording: Path,
                                                                   replaying: Start) -> None:
    before = digest(recording)
    client, server, meter = replaying(backend.base_url)
    recorded = ask(client)
    edited = ask(client, "Say hello, in French.")
    assert recorded.output_text and edited.output_text
    assert server.fallback is not None and server.fallback.answers == 1  # the recorded one came from the file
    assert server.fallback.take_note() == (f"↳ 1 answer from the course's local backend (small local models at "
                                           f"{backend.base_url.split('/')[2]}), not the recording")
    assert server.fallback.take_note() is None  # each answer noted once
    table = meter.summary()
    assert list(table["from"]) == [FALLBACK, "recording"] and list(table["calls"]) == [1, 1]
    assert len(server.recording.interactions) == 1 and digest(recording) == before


def test_streams_async_uploads_and_curl_pass_through(backend: Backend, recording: Path, replaying: Start) -> None:
    before = digest(recording)
    client, server, _ = replaying(backend.base_url)
    with client.responses.stream(model=REASONING, input="Count to three.") as stream:
        kinds = [event.type for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    chunks = list(client.chat.completions.create(model=REASONING, messages=[{"role": "user", "content": "Hi"}],
                                                 stream=True))
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")

    async def async_call() -> str:
        async_client = AsyncOpenAI(api_key=PLACEHOLDER_KEY, base_url=server.base_url, max_retries=0)
        answer = await async_client.responses.create(model=REASONING, input="Async hello.")
        return answer.output_text

    assert asyncio.run(async_call())
    heard = client.audio.transcriptions.create(model="whisper-1", file=("hi.wav", b"RIFF" + b"\0" * 40, "audio/wav"))
    assert heard.text == "Hello there. General Kenobi."
    curl = subprocess.run(["curl", "-s", f"{server.base_url}/embeddings", "-H", "Content-Type: application/json",
                           "-d", json.dumps({"model": "text-embedding-3-small", "input": "curl"})],
                          capture_output=True, text=True, check=True)
    assert json.loads(curl.stdout)["data"][0]["object"] == "embedding"
    assert server.fallback is not None and server.fallback.answers == 5
    assert digest(recording) == before


def test_without_the_backend_a_miss_says_how_to_start_it(replaying: Start) -> None:
    client, server, _ = replaying(f"http://127.0.0.1:{free_port()}/v1")
    ask(client)  # the recorded call still replays
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "Something new.")
    message = caught.value.body["message"]  # type: ignore[index]
    assert message.startswith("This request is not in the recording of notebook 'demo'")
    assert message.splitlines()[-1] == ("Or let the course's small local models answer it: start the local backend "
                                        "(`make local-backend` in a terminal, or `make lab` with LOCAL_BACKEND=1), "
                                        "then rerun this cell.")


def test_turned_off_the_fallback_neither_asks_nor_hints(backend: Backend, replaying: Start) -> None:
    client, _, _ = replaying(backend.base_url, enabled=False)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "Something new.")
    assert "local backend" not in caught.value.body["message"]  # type: ignore[index]
    assert Fallback.from_env(env={"COURSE_FALLBACK": "0"}).enabled is False
    assert Fallback.from_env(env={"COURSE_LOCAL_BACKEND_URL": "http://127.0.0.1:9/v1"}).url == "http://127.0.0.1:9/v1"


class _Other(http.server.BaseHTTPRequestHandler):
    """Another program on the backend's port: it answers, but not as the course's local backend."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"<html>not an API</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


class _Crashes(http.server.BaseHTTPRequestHandler):
    """Looks like the local backend, then dies in the middle of every answer (a stream: after one event)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "m", "owned_by": "course-local-backend"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        if payload.get("stream"):
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            event = b'event: response.created\ndata: {"type": "response.created"}\n\n'
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        else:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"id": "resp_')
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def serving() -> Iterator[Callable[[type[http.server.BaseHTTPRequestHandler]], str]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: type[http.server.BaseHTTPRequestHandler]) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_another_program_on_the_port_is_not_sent_anything(replaying: Start, serving: Any) -> None:
    url = serving(_Other)
    assert probe(url) == "other"
    client, server, _ = replaying(url)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "Something new.")
    last = caught.value.body["message"].splitlines()[-1]  # type: ignore[index]
    assert last.startswith(f"Something other than the course's local backend listens at {url.split('/')[2]}")
    assert "LOCAL_PORT=8012" in last and "COURSE_LOCAL_BACKEND_URL=" in last
    assert server.fallback is not None and server.fallback.answers == 0


def test_a_backend_crash_mid_answer_is_a_clear_error(recording: Path, replaying: Start, serving: Any) -> None:
    before = digest(recording)
    client, server, meter = replaying(serving(_Crashes))
    expected = "stopped in the middle of its answer"
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client, "Something new.")
    assert expected in caught.value.message and "nothing was recorded" in caught.value.message
    with pytest.raises(openai.APIError) as streamed:
        for _ in ask(client, "Something new.", stream=True):
            pass
    assert expected in streamed.value.message and "make local-backend" in streamed.value.message
    assert server.fallback is not None and server.fallback.answers == 0 and not meter.calls
    assert digest(recording) == before


def test_probe_is_quick_and_cached(backend: Backend) -> None:
    fallback = Fallback(backend.base_url)
    started = time.perf_counter()
    assert fallback.state() == "up"
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert fallback.state() == "up"
    assert time.perf_counter() - started < first and first < PROBE_TIMEOUT
    assert probe(f"http://127.0.0.1:{free_port()}/v1") == "down"
