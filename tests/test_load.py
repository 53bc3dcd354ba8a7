"""Under a burst of clients nothing is dropped: every server the course starts answers 300 requests sent 20 at a
time, each on a new connection, with no reset, refused or failed request (socketserver's default listen backlog of
5 used to reset some of them)."""

from __future__ import annotations

import json

from helpers.model_ids import models
from helpers.paths import RECORDINGS
from helpers.replay.recording import Recording
from helpers.replay.wire import LISTEN_BACKLOG, LoopbackServer
from helpers.testing.load import LoadResult, hammer
from helpers.tooling.lessons import lessons
from local_backend.app import Backend
from webapp.ask import SAMPLE_QUESTIONS, ask
from webapp.server import App, CourseChatServer

from .fake_engines import fake_engines

REQUESTS, CONCURRENCY = 300, 20
JSON = {"Content-Type": "application/json"}


def assert_all_answered(result: LoadResult) -> None:
    assert result.failures == 0 and result.outcomes == {"200": REQUESTS}, dict(result.outcomes)


def test_every_server_queues_a_burst_instead_of_resetting_it() -> None:
    for server in (LoopbackServer, CourseChatServer):  # the course server and the local backend use LoopbackServer
        assert server.request_queue_size == LISTEN_BACKLOG >= 4 * CONCURRENCY


def test_course_server_in_replay_answers_every_request(replay) -> None:
    _, server = replay(RECORDINGS / "00_setup.json")
    item = Recording.load(RECORDINGS / "00_setup.json").interactions[0]
    request = item["request"]
    body = json.dumps(request.get("json")).encode() if "json" in request else None
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    result = hammer(port, request["method"], request["path"], body, JSON, requests=REQUESTS, concurrency=CONCURRENCY)
    assert_all_answered(result)
    assert server.misses == 0


def test_local_backend_answers_every_request() -> None:
    backend = Backend(fake_engines(), port=0)
    backend.start()
    try:
        body = json.dumps({"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Say hello"}]}).encode()
        result = hammer(backend.port, "POST", "/v1/chat/completions", body, JSON, requests=REQUESTS,
                        concurrency=CONCURRENCY, check=lambda data: "choices" in json.loads(data))
    finally:
        backend.stop()
    assert_all_answered(result)


def test_webapp_in_replay_answers_every_request(replay) -> None:
    openai_client, _ = replay(RECORDINGS / "webapp.json")
    catalogue = lessons()
    app = App(answer=lambda q: ask(openai_client, models.chat, q, catalogue).to_json(), banner="replay",
              backend="replay")
    server = CourseChatServer(app, port=0, quiet=True)
    server.start_in_thread()
    port = server.server_address[1]
    try:
        body = json.dumps({"question": SAMPLE_QUESTIONS[0]}).encode()
        result = hammer(port, "POST", "/api/ask", body, JSON, requests=REQUESTS, concurrency=CONCURRENCY,
                        check=lambda data: bool(json.loads(data).get("answer")))
    finally:
        server.shutdown()
        server.server_close()
    assert_all_answered(result)
