"""The replay/record server: matching, order, streams, async, uploads, misses, scrubbing, refusal."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from helpers.keys import PLACEHOLDER_KEY
from helpers.replay.canon import match_key, stored_request
from helpers.testing.fake_upstream import LEAKED_KEY, STREAM_GAP, STREAM_WORDS

from .conftest import USER_KEY

MESSAGES = [{"role": "user", "content": "Say hello"}]


def chat(client: OpenAI, content: str = "Say hello", **extra: object) -> str:
    reply = client.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": content}], **extra
    )
    return reply.choices[0].message.content or ""


# -- canonical matching ------------------------------------------------------------------------
def test_json_key_order_and_int_float_do_not_matter() -> None:
    a = stored_request("POST", "/v1/x", "application/json", b'{"temperature": 1, "model": "m"}')
    b = stored_request("POST", "/v1/x", "application/json", b'{"model": "m", "temperature": 1.0}')
    c = stored_request("POST", "/v1/x", "application/json", b'{"model": "m", "temperature": 0.5}')
    assert match_key(a) == match_key(b)
    assert match_key(a) != match_key(c)


def test_true_is_not_one() -> None:
    a = stored_request("POST", "/v1/x", "application/json", b'{"stream": true}')
    b = stored_request("POST", "/v1/x", "application/json", b'{"stream": 1}')
    assert match_key(a) != match_key(b)


def test_query_order_does_not_matter() -> None:
    assert match_key(stored_request("GET", "/v1/m?b=2&a=1", None, b"")) == match_key(
        stored_request("GET", "/v1/m?a=1&b=2", None, b"")
    )


def test_multipart_boundary_does_not_matter() -> None:
    def form(boundary: str, content: bytes) -> tuple[str, bytes]:
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
        return f"multipart/form-data; boundary={boundary}", body

    one = stored_request("POST", "/v1/audio/transcriptions", *form("aaaa1111", b"RIFF-audio"))
    two = stored_request("POST", "/v1/audio/transcriptions", *form("bbbb2222", b"RIFF-audio"))
    other = stored_request("POST", "/v1/audio/transcriptions", *form("bbbb2222", b"RIFF-other"))
    assert match_key(one) == match_key(two)
    assert match_key(one) != match_key(other)
    assert one["multipart"]["fields"] == {"model": "whisper-1"}
    assert one["multipart"]["files"]["file"]["size"] == len(b"RIFF-audio")


# -- record then replay, with the upstream gone ------------------------------------------------
def test_replay_answers_without_upstream(record, replay, fake) -> None:
    path = record(lambda c: chat(c, temperature=1))
    fake.stop()  # replay must not need it
    client, _ = replay(path)
    # Same request with 1.0 instead of 1: same recorded answer.
    assert chat(client, temperature=1.0) == "echo: Say hello"


def test_keys_are_computed_when_loading(record, replay) -> None:
    path = record(lambda c: chat(c))
    data = json.loads(path.read_text())
    assert "key" not in json.dumps(data["interactions"][0]["request"]).lower()
    client, _ = replay(path)
    assert chat(client) == "echo: Say hello"


def test_playback_in_order_then_repeats_last(record, replay) -> None:
    def twice(client: OpenAI) -> None:
        client.chat.completions.create(model="m", messages=MESSAGES)
        client.chat.completions.create(model="m", messages=MESSAGES)

    path = record(twice)
    recorded_ids = [item["response"]["json"]["id"] for item in json.loads(path.read_text())["interactions"]]
    assert len(set(recorded_ids)) == 2
    client, _ = replay(path)
    played = [client.chat.completions.create(model="m", messages=MESSAGES).id for _ in range(4)]
    assert played == [recorded_ids[0], recorded_ids[1], recorded_ids[1], recorded_ids[1]]


def test_stream_replays_with_recorded_timing(record, replay) -> None:
    def stream(client: OpenAI) -> None:
        for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    path = record(stream)
    events = json.loads(path.read_text())["interactions"][0]["response"]["events"]
    assert events[-1] == {"delay": events[-1]["delay"], "raw": "[DONE]"}
    assert all(e["delay"] >= STREAM_GAP * 0.8 for e in events[1:-1])

    def timed(speed: float) -> tuple[str, float, list[float]]:
        client, _ = replay(path, speed=speed)
        start, arrivals, text, usage = time.perf_counter(), [], "", None
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                    stream_options={"include_usage": True}):
            arrivals.append(time.perf_counter() - start)
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            usage = chunk.usage or usage
        assert usage is not None and usage.total_tokens == 10
        return text, arrivals[-1], [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]

    text, total, gaps = timed(1.0)
    assert text == "".join(STREAM_WORDS)
    assert min(gaps) >= STREAM_GAP * 0.7  # chunks arrive spread out, as recorded
    text0, total0, _ = timed(0.0)
    assert text0 == text and total0 < total / 3


def test_async_client_and_async_stream(record, replay) -> None:
    path = record(lambda c: [chat(c), list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))])
    _, server = replay(path)

    async def run() -> tuple[str, str]:
        client = AsyncOpenAI(api_key=PLACEHOLDER_KEY, base_url=server.base_url, max_retries=0)
        reply = await client.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)
        pieces = [c.choices[0].delta.content or "" async for c in
                  await client.chat.completions.create(model="m", messages=MESSAGES, stream=True) if c.choices]
        await client.close()
        return reply.choices[0].message.content, "".join(pieces)

    assert asyncio.run(run()) == ("echo: Say hello", "".join(STREAM_WORDS))


def test_multipart_upload_replays_with_new_boundary(record, replay, tmp_path: Path) -> None:
    audio = tmp_path / "clip.wav"
    audio.write_bytes(b"RIFF" + bytes(range(256)) * 4)

    def transcribe(client: OpenAI) -> str:
        with audio.open("rb") as fh:
            return client.audio.transcriptions.create(model="whisper-1", file=fh).text

    path = record(transcribe)
    client, _ = replay(path)
    assert transcribe(client) == "heard 1028 bytes with whisper-1"  # a new random boundary, same answer
    audio.write_bytes(b"RIFF-something-else")
    with pytest.raises(openai.BadRequestError) as miss:
        transcribe(client)
    assert "sha256" in str(miss.value)


def test_base64_embeddings_replay(record, replay) -> None:
    def embed(client: OpenAI) -> list[float]:
        return client.embeddings.create(model="text-embedding-3-small", input="hello").data[0].embedding

    path = record(embed)
    client, _ = replay(path)
    assert embed(client) == [5.0, 1.0, -0.5]


def test_miss_is_a_400_naming_the_notebook_with_a_diff(record, replay) -> None:
    path = record(lambda c: chat(c, "Say hello", temperature=0.7))
    client, server = replay(path)
    with pytest.raises(openai.BadRequestError) as miss:
        chat(client, "Say goodbye", temperature=0.7)
    message = str(miss.value)
    assert miss.value.code == "replay_miss"
    assert "'demo'" in message and "POST /v1/chat/completions" in message
    assert "-        \"content\": \"Say hello\"," in message
    assert "+        \"content\": \"Say goodbye\"," in message
    assert "temperature" not in message.split("this request")[1].split("Undo")[0]  # only what changed
    assert server.misses == 1


def test_miss_on_an_unrecorded_route(record, replay) -> None:
    path = record(lambda c: chat(c))
    client, _ = replay(path)
    with pytest.raises(openai.BadRequestError, match="No recorded call goes to /v1/embeddings"):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_missing_recording_says_so(replay, tmp_path: Path) -> None:
    client, _ = replay(tmp_path / "never_recorded.json")
    with pytest.raises(openai.BadRequestError, match="has no recording yet") as miss:
        chat(client)
    assert miss.value.code == "replay_no_recording"


# -- what a recording keeps ------------------------------------------------------------------
def test_no_request_headers_and_allow_listed_response_headers(record, fake) -> None:
    path = record(lambda c: [chat(c), list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))])
    text = path.read_text()
    # The upstream did receive the learner's key (the recorder forwards it)...
    headers = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Bearer {USER_KEY}"
    # ...but the recording keeps no request header and only allow-listed response headers.
    for secret in (USER_KEY, "secret-cookie-value", "org-Zx9", "Sat, 21 Nov 2026", "x-stainless", "Bearer"):
        assert secret not in text
    data = json.loads(text)
    for item in data["interactions"]:
        assert set(item["request"]) <= {"method", "path", "json", "multipart", "raw"}
        assert {k.lower() for k in item["response"]["headers"]} <= {
            "content-type", "x-request-id", "x-ratelimit-remaining-requests"}
    assert data["interactions"][0]["response"]["headers"]["X-Request-Id"] == "req_fake123"


def test_provenance_names_the_model_that_answered(record) -> None:
    path = record(lambda c: chat(c))
    data = json.loads(path.read_text())
    assert data["format"] == 1 and data["notebook"] == "demo"
    assert data["interactions"][0]["source"] == {
        "kind": "model", "requested": "gpt-5.4-mini", "answered_by": "fake-small-model"}
    assert data["recorded"]["at"].startswith("20")


def test_fetching_or_deleting_a_stored_response_is_the_service_not_a_model() -> None:
    from helpers.replay.server import CourseServer

    for method in ("GET", "DELETE"):
        request = {"method": method, "path": "/v1/responses/resp_1"}
        assert CourseServer.source(request, {"status": 200, "json": {"id": "resp_1"}}) == {"kind": "service"}
    created = CourseServer.source({"method": "POST", "path": "/v1/responses", "json": {"model": "m"}},
                                  {"status": 200, "json": {"model": "small"}})
    assert created == {"kind": "model", "requested": "m", "answered_by": "small"}


def test_recorder_refuses_key_shaped_strings(record, capfd) -> None:
    def leak(client: OpenAI) -> None:
        chat(client)
        reply = client.get("/leak", cast_to=object)  # the answer still reaches the caller
        assert LEAKED_KEY in json.dumps(reply)

    path = record(leak)
    text = path.read_text()
    assert LEAKED_KEY not in text and "/v1/leak" not in text
    assert len(json.loads(text)["interactions"]) == 1
    assert "NOT recorded" in capfd.readouterr().err


def test_recording_is_pretty_json(record) -> None:
    path = record(lambda c: chat(c))
    text = path.read_text()
    assert text.startswith('{\n  "format": 1,')
    assert '"messages": [\n' in text and "\n" in text.split('"messages": [')[1][:3]


# -- other clients ----------------------------------------------------------------------------
def test_curl_and_a_subprocess_get_the_same_answers(record, replay) -> None:
    path = record(lambda c: [chat(c), c.models.list()])
    _, server = replay(path)
    curl = subprocess.run(["curl", "-s", f"{server.base_url}/models"], capture_output=True, text=True, timeout=30)
    assert json.loads(curl.stdout)["data"][0]["id"] == "fake-model"
    script = ("from openai import OpenAI\n"
              "r = OpenAI().chat.completions.create(model='gpt-5.4-mini', "
              "messages=[{'role': 'user', 'content': 'Say hello'}])\nprint(r.choices[0].message.content)")
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": PLACEHOLDER_KEY}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "echo: Say hello", out.stderr


def test_upstream_unreachable_while_recording(tmp_path: Path) -> None:
    from helpers.replay.recording import Recording
    from helpers.replay.server import CourseServer

    server = CourseServer(Recording(path=tmp_path / "x.json", notebook="x"), "record",
                          upstream="http://127.0.0.1:9/v1")
    client = OpenAI(api_key=USER_KEY, base_url=server.start(), max_retries=0)
    try:
        with pytest.raises(openai.InternalServerError, match="could not reach"):
            chat(client)
    finally:
        server.stop()
    assert not (tmp_path / "x.json").exists()


def test_a_stream_stopped_early_is_still_recorded_in_full(fake, tmp_path: Path) -> None:
    from helpers.replay.recording import Recording
    from helpers.replay.server import CourseServer

    path = tmp_path / "early.json"
    server = CourseServer(Recording(path=path, notebook="early"), "record", upstream=fake.url)
    client = OpenAI(api_key=USER_KEY, base_url=server.start(), max_retries=0)
    stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()  # the caller stops reading after the first chunk...
    server.stop()  # ...and the kernel shuts down at once: stop() waits for the recording
    events = json.loads(path.read_text())["interactions"][0]["response"]["events"]
    assert events[-1].get("raw") == "[DONE]" and len(events) == len(STREAM_WORDS) + 3


def test_backend_notes_are_kept_in_recordings() -> None:
    """The local backend explains substitutions (a voice, a translation) in ``x-course-note``; lessons show it."""
    from helpers.replay.server import KEEP_RESPONSE_HEADERS

    assert {"x-course-note", "x-course-fixture", "x-course-model"} <= KEEP_RESPONSE_HEADERS


def test_a_loopback_port_in_a_request_does_not_change_its_match_key() -> None:
    from helpers.replay.canon import match_key, stored_request

    def key(url: str) -> str:
        body = json.dumps({"tools": [{"type": "mcp", "server_url": url}], "input": "Hi"}).encode()
        return match_key(stored_request("POST", "/v1/responses", "application/json", body))

    assert key("http://127.0.0.1:8766/mcp") == key("http://127.0.0.1:40123/mcp") == key("http://127.0.0.1:1/mcp")
    assert key("http://127.0.0.1:8766/mcp") != key("http://127.0.0.1:8766/other")
    assert key("https://mcp.example.com:8766/mcp") != key("https://mcp.example.com:9000/mcp")
