"""The local backend's Realtime WebSocket (local_backend/realtime.py), driven by the SDK, on fake engines."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pydantic
import pytest
from openai import OpenAI
from openai.types.realtime import RealtimeServerEvent
from websockets.sync.client import connect

from local_backend import Backend
from local_backend.realtime import MAX_BUFFER, RATE

SERVER_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
MODEL = "gpt-realtime-2.1-mini"
SECOND = base64.b64encode(b"\x10\x00" * RATE).decode()  # one second of (quiet) 16-bit PCM at 24 kHz
AUDIO_SESSION = {"type": "realtime", "instructions": "Answer in one sentence.", "output_modalities": ["audio"],
                 "audio": {"input": {"transcription": {"model": "gpt-transcribe"}, "turn_detection": None},
                           "output": {"voice": "marin"}}}


def until(conn: Any, last: str = "response.done") -> list[Any]:
    """Server events up to ``last`` (or the first error), each checked against the SDK's server event union."""
    events = []
    for event in conn:
        SERVER_EVENT.validate_python(event.model_dump(exclude_unset=True))
        events.append(event)
        if event.type in (last, "error"):
            return events
    raise AssertionError("the session closed early")


def test_audio_in_audio_out(client: OpenAI) -> None:
    with client.realtime.connect(model=MODEL) as conn:
        conn.session.update(session=AUDIO_SESSION)  # type: ignore[arg-type]
        conn.input_audio_buffer.append(audio=SECOND)
        conn.input_audio_buffer.commit()
        conn.response.create()
        events = until(conn)
    kinds = [e.type for e in events]
    assert kinds[:3] == ["session.created", "session.updated", "input_audio_buffer.committed"]
    heard = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert heard.transcript == "Hello there. General Kenobi." and heard.usage.seconds == 1.0
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    assert audio and len(audio) % 2 == 0  # the fake voice's samples, as 16-bit PCM
    said = "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta").strip()
    assert next(e for e in events if e.type == "response.output_audio_transcript.done").transcript == said
    done = events[-1]
    assert done.response.status == "completed" and done.response.usage.total_tokens > 0
    assert done.response.output[0].content[0].transcript == said


def test_text_only_session(client: OpenAI) -> None:
    with client.realtime.connect(model=MODEL) as conn:
        conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Name a colour."}]})
        conn.response.create()
        events = until(conn)
    kinds = {e.type for e in events}
    assert "response.output_text.done" in kinds and "response.output_audio.delta" not in kinds
    text = next(e for e in events if e.type == "response.output_text.done").text
    assert text == "".join(e.delta for e in events if e.type == "response.output_text.delta").strip()


def error_for(client: OpenAI, *events: dict[str, Any]) -> Any:
    """The error event the last of ``events`` gets; the session stays usable (a later update still answers)."""
    with client.realtime.connect(model=MODEL) as conn:
        for event in events:
            conn.send(event)  # type: ignore[arg-type]
        error = until(conn, "error")[-1]
        conn.session.update(session={"type": "realtime", "instructions": "still here"})
        assert until(conn, "session.updated")[-1].type == "session.updated"
    assert error.type == "error"
    return error.error


@pytest.mark.parametrize(("event", "param"), [
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": 16000}}}}}, "session.audio.input.format"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad"}}}}}, "session.audio.input.turn_detection"),
    ({"type": "session.update", "session": {"type": "realtime", "tools": []}}, "session.tools"),
    ({"type": "output_audio_buffer.clear"}, "type"),
    ({"type": "no.such.event"}, "type"),
])
def test_unhonoured_events_name_the_field(client: OpenAI, event: dict[str, Any], param: str) -> None:
    assert error_for(client, event).param == param


def test_a_wav_file_in_the_buffer_is_refused(client: OpenAI) -> None:
    wav = base64.b64encode(b"RIFF" + b"\0" * 100).decode()
    error = error_for(client, {"type": "input_audio_buffer.append", "audio": wav})
    assert error.param == "audio" and "strip the WAV header" in error.message


def test_an_oversize_buffer_keeps_what_it_had(backend: Backend) -> None:
    url = backend.base_url.replace("http", "ws") + f"/realtime?model={MODEL}"
    chunk = base64.b64encode(b"\0\0" * (MAX_BUFFER // 4)).decode()  # half the limit each
    with connect(url, max_size=None) as ws:
        ws.recv()  # session.created
        for _ in range(3):
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        error = json.loads(ws.recv())
        assert error["error"]["code"] == "input_audio_buffer_too_large"
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        assert json.loads(ws.recv())["type"] == "input_audio_buffer.committed"  # the first two chunks are kept


def test_a_session_dropped_mid_answer_frees_the_backend(backend: Backend, client: OpenAI) -> None:
    url = backend.base_url.replace("http", "ws") + f"/realtime?model={MODEL}"
    ws = connect(url)
    ws.recv()
    ws.send(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Talk."}]}}))
    ws.send(json.dumps({"type": "response.create"}))
    while json.loads(ws.recv())["type"] != "response.created":
        pass
    ws.socket.shutdown(socket.SHUT_RDWR)  # gone, without a closing handshake
    ws.socket.close()
    test_text_only_session(client)  # the next session is answered in full


def test_connect_without_model_is_refused(backend: Backend) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as caught:
        connect(backend.base_url.replace("http", "ws") + "/realtime")
    assert caught.value.response.status_code == 400
