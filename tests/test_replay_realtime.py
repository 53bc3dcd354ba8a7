"""Recording and replaying Realtime WebSocket sessions in the course server (helpers/replay/realtime.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI
from websockets.sync.server import serve

from helpers.keys import PLACEHOLDER_KEY
from helpers.replay.recording import Recording
from helpers.replay.server import CourseServer
from helpers.testing.recorder import record_calls
from helpers.tooling.validate import check_interaction
from local_backend import Backend

MODEL = "gpt-realtime-2.1-mini"


def ask(client: OpenAI, question: str = "Name a colour.") -> list[Any]:
    """A text-only session: one question, events up to response.done (or an error)."""
    events = []
    with client.realtime.connect(model=MODEL) as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": question}]})
        conn.response.create()
        for event in conn:
            events.append(event)
            if event.type in ("response.done", "error"):
                break
    return events


@pytest.fixture
def recorded(tmp_path: Path, backend: Backend) -> Path:
    path = tmp_path / "rt.json"
    record_calls(backend.base_url, path, ask)
    return path


def replayer(path: Path, speed: float = 0.0) -> Iterator[OpenAI]:
    server = CourseServer(Recording.load(path), "replay", speed=speed)
    yield OpenAI(api_key=PLACEHOLDER_KEY, base_url=server.start(), max_retries=0)
    server.stop()


def test_a_session_is_recorded_without_headers_and_validates(recorded: Path) -> None:
    item = json.loads(recorded.read_text())["interactions"][0]
    assert item["request"] == {"method": "GET", "path": f"/v1/realtime?model={MODEL}"}
    response = item["response"]
    assert response["status"] == 101 and response["closed"] == "client" and "headers" not in response
    sides = [m["side"] for m in response["websocket"]]
    assert sides[-1] == "server" and sides.count("client") == 3  # in arrival order: the SDK does not wait
    assert next(m for m in response["websocket"] if m["side"] == "server")["data"]["type"] == "session.created"
    assert all(m["delay"] >= 0 for m in response["websocket"])
    assert item["source"]["kind"] == "model" and item["source"]["requested"] == MODEL
    assert "FakeChat-1M" in item["source"]["answered_by"]  # the local chain, as its handshake labels it
    assert check_interaction(item, "session") == []
    assert "1 answer from FakeWhisper + FakeChat-1M + FakeTTS" in Recording.load(recorded).provenance()


def test_the_validator_refuses_an_event_the_sdk_does_not_know(recorded: Path) -> None:
    item = json.loads(recorded.read_text())["interactions"][0]
    server_message = next(m for m in item["response"]["websocket"] if m["side"] == "server")
    server_message["data"]["type"] = "session.made_up"
    client_message = next(m for m in item["response"]["websocket"] if m["side"] == "client")
    client_message["data"]["session"]["output_modalities"] = ["smell"]
    problems = check_interaction(item, "session")
    assert len(problems) == 2 and {p.split(" message")[0].split()[-1] for p in problems} == {"server", "client"}


def test_replay_gives_the_recorded_events(recorded: Path, backend: Backend) -> None:
    live = ask(OpenAI(api_key="sk-local", base_url=backend.base_url, max_retries=0))
    client = next(replayer(recorded))
    replayed = ask(client)
    assert [e.type for e in replayed] == [e.type for e in live]
    assert replayed[-1].response.output[0].content[0].text == live[-1].response.output[0].content[0].text


def test_a_changed_client_event_gets_the_miss_diff(recorded: Path) -> None:
    events = ask(next(replayer(recorded)), "Name a fruit.")
    error = events[-1]
    assert error.type == "error" and error.error.code == "replay_miss"
    assert "-" in error.error.message and '"text": "Name a fruit."' in error.error.message
    assert "Undo the change" in error.error.message


def test_replay_honours_the_speed(recorded: Path) -> None:
    data = json.loads(recorded.read_text())
    for message in data["interactions"][0]["response"]["websocket"]:
        message["delay"] = 0.05 if message["side"] == "server" else 0.0
    recorded.write_text(json.dumps(data))
    started = time.monotonic()
    ask(next(replayer(recorded, speed=0.0)))
    fast = time.monotonic() - started
    started = time.monotonic()
    ask(next(replayer(recorded, speed=1.0)))
    assert time.monotonic() - started > fast + 0.5  # about 19 server events x 50 ms


def test_no_recorded_session_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    Recording(path=path, notebook="empty").save()
    error = ask(next(replayer(path)))[-1]
    assert error.type == "error" and "holds no WebSocket session" in error.error.message


@pytest.fixture
def dropping_upstream() -> Iterator[str]:
    """A WebSocket server that sends session.created and one event, then drops the connection: it ends its side of
    the TCP stream without a close frame. It keeps reading what the client still sends: closing both directions
    would answer those bytes with a reset, and a reset discards what the client had not read yet (the event before
    the drop), which made this test fail now and then."""

    def handler(ws: Any) -> None:
        ws.send(json.dumps({"type": "session.created", "event_id": "e1",
                            "session": {"type": "realtime", "model": MODEL}}))
        ws.recv()
        ws.send(json.dumps({"type": "session.updated", "event_id": "e2",
                            "session": {"type": "realtime", "model": MODEL}}))
        ws.socket.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            while ws.socket.recv(65536):
                pass

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/v1"
        server.shutdown()


def test_an_upstream_dropped_mid_session_is_reported_and_kept(tmp_path: Path, dropping_upstream: str) -> None:
    path = tmp_path / "drop.json"
    events = record_calls(dropping_upstream, path, ask)
    assert [e.type for e in events] == ["session.created", "session.updated", "error"]
    assert events[-1].error.code == "session_dropped" and "dropped the Realtime session" in events[-1].error.message
    response = json.loads(path.read_text())["interactions"][0]["response"]
    assert response["closed"] == "dropped" and response["websocket"][-1]["data"]["error"]["code"] == "session_dropped"
    replayed = ask(next(replayer(path)))  # and it replays the same way
    assert [e.type for e in replayed] == ["session.created", "session.updated", "error"]
