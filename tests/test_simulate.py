"""Simulated failures: injected live, recorded as labelled fixtures, replayed in order."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import openai
import pytest
from openai import OpenAI

from helpers import current, setup, simulate
from helpers.replay.faults import SIMULATED

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def live(clean_env, fake):
    """A live session whose upstream is the fake server."""
    clean_env.setenv("OPENAI_BASE_URL", fake.url)
    setup("faults_demo", quiet=True)
    return current()


def test_rate_limit_then_success_with_the_sdks_retries(live, fake) -> None:
    simulate.failure("rate_limit", times=2)
    client = OpenAI(max_retries=2)
    reply = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert reply.retries_taken == 2 and reply.parse().choices[0].message.content == "echo: Say hello"
    assert len([r for r in fake.requests if "chat" in r["path"]]) == 1  # the two 429s never reached it


@pytest.mark.parametrize("name, error, code", [
    ("invalid_key", openai.AuthenticationError, "invalid_api_key"),
    ("insufficient_quota", openai.RateLimitError, "insufficient_quota"),
    ("retired_model", openai.NotFoundError, "model_not_found"),
])
def test_each_fault_raises_the_sdks_exception(live, name: str, error: type, code: str) -> None:
    simulate.failure(name)
    with pytest.raises(error) as raised:
        OpenAI(max_retries=0).chat.completions.create(model="gpt-3.5-turbo", messages=MESSAGES)
    assert raised.value.code == code and SIMULATED in raised.value.message


def test_insufficient_quota_is_not_retried(live) -> None:
    simulate.failure("insufficient_quota", times=3)
    with pytest.raises(openai.RateLimitError):
        OpenAI(max_retries=2).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert len(live.server._faults) == 2  # x-should-retry: false stopped the SDK after one attempt


def test_server_error_then_success(live) -> None:
    simulate.failure("server_error")
    reply = OpenAI(max_retries=1).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert reply.retries_taken == 1


def test_stream_cut_midway(live) -> None:
    simulate.failure("stream_cut", after_events=2)
    received = []
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        for chunk in OpenAI(max_retries=0).chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(chunk)
    assert len(received) == 2


def test_recorded_faults_replay_in_order(clean_env, fake, tmp_path: Path) -> None:
    clean_env.setenv("OPENAI_BASE_URL", fake.url)
    clean_env.setenv("OPENAI_API_KEY", "sk-test-" + "r" * 24)
    setup("faults_demo", backend="record", quiet=True)
    simulate.failure("rate_limit", times=1)
    simulate.failure("stream_cut", after_events=2)
    OpenAI(max_retries=1).chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        list(OpenAI(max_retries=0).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    data = json.loads((tmp_path / "faults_demo.json").read_text())
    kinds = [(i["response"]["status"], i["source"]["kind"], i["source"].get("note", "")) for i in data["interactions"]]
    assert kinds == [(429, "fixture", "simulated fault: 429 rate limit with retry-after"),
                     (200, "model", ""),
                     (200, "fixture", "simulated fault: stream cut off mid-way")]
    assert data["interactions"][2]["source"]["answered_by"] == "fake-small-model"

    fake.stop()
    clean_env.delenv("OPENAI_BASE_URL")
    setup("faults_demo", backend="replay", quiet=True)
    simulate.failure("rate_limit")  # a no-op in replay: the recording already holds it
    reply = OpenAI(max_retries=1).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert reply.retries_taken == 1
    with pytest.raises((httpx2.RemoteProtocolError, openai.APIConnectionError)):
        list(OpenAI(max_retries=0).chat.completions.create(model="m", messages=MESSAGES, stream=True))


def test_latency_is_added_per_call_and_overlaps(live) -> None:
    import time
    from concurrent.futures import ThreadPoolExecutor

    simulate.latency(0.2)
    client = OpenAI()
    start = time.perf_counter()
    client.chat.completions.create(model="m", messages=MESSAGES)
    one = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: client.chat.completions.create(model="m", messages=MESSAGES), range(4)))
    four = time.perf_counter() - start
    assert one >= 0.2 and four < 2 * one  # four concurrent calls take about as long as one
    simulate.latency(0)


def test_unknown_fault_is_named() -> None:
    from helpers.replay.recording import Recording
    from helpers.replay.server import CourseServer

    server = CourseServer(Recording(path=Path("x.json"), notebook="x"), "live", upstream="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="unknown fault 'timeout'; choose from"):
        server.inject("timeout")
