"""Signed webhook deliveries of the local backend, verified with the real SDK's ``client.webhooks.unwrap``."""

from __future__ import annotations

import base64
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import openai
import pytest
from openai import OpenAI

from local_backend import Backend
from local_backend.webhooks import SECRET_SETTING, URL_SETTING, SettingError, Webhooks, sign

from .fake_engines import fake_engines

SECRET = "whsec_" + base64.b64encode(b"course-test-secret-0123456789").decode()


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[str, queue.Queue[tuple[bytes, dict[str, str]]]]]:
    got: queue.Queue[tuple[bytes, dict[str, str]]] = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.put((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", got
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client(inbox: tuple[str, Any]) -> Iterator[OpenAI]:
    server = Backend(fake_engines(), port=0, hooks=Webhooks(inbox[0], SECRET))
    server.start()
    yield OpenAI(api_key="sk-local", base_url=server.base_url, max_retries=0)
    server.stop()


def test_a_finished_background_response_is_delivered_signed(client: OpenAI, inbox: tuple[str, Any]) -> None:
    job = client.responses.create(model="gpt-4.1-mini", input="Hi", background=True)
    while job.status in ("queued", "in_progress"):
        job = client.responses.retrieve(job.id)
    body, headers = inbox[1].get(timeout=5)
    event = client.webhooks.unwrap(body, headers, secret=SECRET)
    assert event.type == "response.completed" and event.data.id == job.id and event.object == "event"
    with pytest.raises(openai.InvalidWebhookSignatureError, match="does not match"):
        client.webhooks.unwrap(body.replace(b"completed", b"cancelled"), headers, secret=SECRET)
    stale = int(time.time()) - 3600
    old = headers | {"webhook-timestamp": str(stale), "webhook-signature": sign(SECRET, headers["webhook-id"],
                                                                                stale, body)}
    with pytest.raises(openai.InvalidWebhookSignatureError, match="too old"):
        client.webhooks.unwrap(body, old, secret=SECRET)


def test_a_cancelled_background_response_is_delivered_too(client: OpenAI, inbox: tuple[str, Any]) -> None:
    job = client.responses.create(model="gpt-4.1-mini", input="Write an essay.", background=True)
    client.responses.cancel(job.id)
    body, headers = inbox[1].get(timeout=5)
    assert client.webhooks.unwrap(body, headers, secret=SECRET).type == "response.cancelled"


@pytest.mark.parametrize("env, named", [
    ({URL_SETTING: "https://example.invalid/hook", SECRET_SETTING: SECRET}, URL_SETTING),
    ({URL_SETTING: "http://127.0.0.1:9/hook"}, SECRET_SETTING),
    ({URL_SETTING: "http://127.0.0.1:9/hook", SECRET_SETTING: "not-a-secret"}, SECRET_SETTING),
    ({SECRET_SETTING: SECRET}, URL_SETTING),
])
def test_bad_settings_are_one_line_errors_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError) as err:
        Webhooks.from_env(env)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_no_settings_means_no_deliveries() -> None:
    hooks = Webhooks.from_env({})
    hooks.final({"id": "resp_x", "status": "completed"})
    assert hooks.url is None and hooks.threads == []


# -- through the course server: recorded while recording, delivered again in replay ---------------------------------

def _poll_to_the_end(client: OpenAI) -> str:
    job = client.responses.create(model="gpt-4.1-mini", input="Hi", background=True)
    while job.status in ("queued", "in_progress"):
        job = client.responses.retrieve(job.id)
    return job.id


def _drain(got: queue.Queue[Any]) -> None:
    while not got.empty():
        got.get_nowait()


def test_the_course_server_records_a_webhook_and_delivers_it_again_in_replay(
        tmp_path: Any, inbox: tuple[str, queue.Queue[tuple[bytes, dict[str, str]]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.replay.recording import Recording
    from helpers.replay.server import CourseServer
    from helpers.replay.wire import RELAY_WEBHOOK_SECRET
    from helpers.tooling.validate import check_interaction

    url, got = inbox
    _drain(got)
    backend = Backend(fake_engines(), port=0)  # no LOCAL_BACKEND_WEBHOOK_URL: only the course server's header
    backend.start()
    path = tmp_path / "hooks.json"
    recorder = CourseServer(Recording(path=path, notebook="hooks"), "record", upstream=backend.base_url)
    monkeypatch.setenv("OPENAI_WEBHOOK_SECRET", SECRET)
    try:
        base = recorder.start()
        live = OpenAI(api_key="sk-local", base_url=base, max_retries=0)
        _poll_to_the_end(live)  # no receiver registered yet: nothing is delivered
        time.sleep(0.5)
        assert got.empty()
        recorder.webhooks.register(url)
        job_id = _poll_to_the_end(live)
        body, headers = got.get(timeout=5)
        assert live.webhooks.unwrap(body, headers, secret=SECRET).data.id == job_id
        assert "relayed by the course server" in headers["x-course-relay"]
    finally:
        recorder.stop()
        backend.stop()
    recording = Recording.load(path)
    kept = [(item, d) for item in recording.interactions for d in item.get("webhooks", [])]
    assert len(kept) == 1 and kept[0][0]["request"]["path"] == f"/v1/responses/{job_id}"
    assert kept[0][1]["body"].encode() == body and "webhook-signature" in kept[0][1]["headers"]
    assert check_interaction(kept[0][0], "the polled answer") == []
    OpenAI(api_key="sk-x").webhooks.verify_signature(kept[0][1]["body"], kept[0][1]["headers"],
                                                     secret=RELAY_WEBHOOK_SECRET, tolerance=10**9)

    other = "whsec_" + base64.b64encode(b"another-learners-secret-000").decode()
    monkeypatch.setenv("OPENAI_WEBHOOK_SECRET", other)
    player = CourseServer(Recording.load(path), "replay", speed=0)
    try:
        replayed = OpenAI(api_key="sk-replay", base_url=player.start(), max_retries=0)
        player.webhooks.register(url)
        _poll_to_the_end(replayed)  # the first job: nothing was recorded after it
        _poll_to_the_end(replayed)
        again, headers = got.get(timeout=5)
        assert again == body and got.empty()
        event = replayed.webhooks.unwrap(again, headers, secret=other)
        assert event.type == "response.completed" and event.data.id == job_id
        with pytest.raises(openai.InvalidWebhookSignatureError):
            replayed.webhooks.unwrap(again, headers, secret=SECRET)
    finally:
        player.stop()
    tampered = {**kept[0][0], "webhooks": [{**kept[0][1], "body": kept[0][1]["body"].replace("completed", "failed")}]}
    assert any("signature does not match" in p for p in check_interaction(tampered, "x"))  # type: ignore[arg-type]
