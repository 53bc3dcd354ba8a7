"""The course chatbot (make webapp): request handling, escaping, grounding, and its recording replays."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from helpers.model_ids import models
from helpers.paths import RECORDINGS
from helpers.tooling.lessons import Lesson, lessons
from webapp.ask import SAMPLE_QUESTIONS, ask, relevant
from webapp.server import MAX_BODY, MAX_QUESTION, STATIC, App, CourseChatServer

Client = Callable[..., tuple[int, dict[str, str], Any]]


def start(app: App) -> tuple[CourseChatServer, Client]:
    server = CourseChatServer(app, port=0, quiet=True)
    server.start_in_thread()
    port = server.server_address[1]

    def request(method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        data = reply.read()
        connection.close()
        content = json.loads(data) if reply.getheader("Content-Type") == "application/json" else data.decode()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, content

    return server, request


def post(request: Client, payload: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request("POST", "/api/ask", body, {"Content-Type": "application/json", **headers})


@pytest.fixture
def asked() -> list[str]:
    return []


@pytest.fixture
def client(asked: list[str]) -> Iterator[Client]:
    def answer(question: str) -> dict[str, Any]:
        asked.append(question)
        return {"answer": "<img src=x onerror=alert(1)> see lesson 02", "model": "tiny-model", "lessons": []}

    app = App(answer=answer, banner="replay · <script>alert('banner')</script>", backend="replay",
              samples=['Say "hi" <b>now</b>'], lessons=[("02", "Tokens & <pricing>")])
    server, request = start(app)
    yield request
    server.shutdown()
    server.server_close()


def test_page_escapes_what_it_inserts_and_sends_security_headers(client: Client) -> None:
    status, headers, page = client("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;alert(&#x27;banner&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Tokens &amp; &lt;pricing&gt;" in page
    assert 'data-question="Say &quot;hi&quot; &lt;b&gt;now&lt;/b&gt;"' in page
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    assert not any(name.startswith("access-control-") for name in headers), "no CORS headers, ever"
    assert "innerHTML" not in (STATIC / "app.js").read_text(), "the page inserts server text with textContent only"


def test_answer_comes_back_as_json_data_not_markup(client: Client, asked: list[str]) -> None:
    status, headers, body = post(client, {"question": "  Which   lesson\n covers tokens? "})
    assert status == 200 and headers["content-type"] == "application/json"
    assert body == {"answer": "<img src=x onerror=alert(1)> see lesson 02", "model": "tiny-model", "lessons": []}
    assert asked == ["Which lesson covers tokens?"]


def test_get_on_the_api_is_405(client: Client) -> None:
    status, headers, body = client("GET", "/api/ask?question=hello")
    assert status == 405 and headers["allow"] == "POST" and "POST" in body["error"]
    assert client("PUT", "/api/ask", b"{}")[0] == 405
    assert client("OPTIONS", "/api/ask")[0] == 405


@pytest.mark.parametrize("payload", [{"question": ""}, {"question": "   \n "}, {}, {"question": 42}, [1], b"{not json",
                                     {"question": "x" * (MAX_QUESTION + 1)}])
def test_empty_or_malformed_questions_are_400(client: Client, asked: list[str], payload: Any) -> None:
    status, _, body = post(client, payload)
    assert status == 400 and body["error"]
    assert asked == []


def test_oversized_body_is_413_without_asking(client: Client, asked: list[str]) -> None:
    status, headers, body = post(client, {"question": "x" * (MAX_BODY + 10)})
    assert status == 413 and "bytes" in body["error"]
    assert asked == []


def test_only_json_from_its_own_origin_and_host(client: Client, asked: list[str]) -> None:
    assert client("POST", "/api/ask", b"question=hi", {"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert post(client, {"question": "hi"}, Origin="http://evil.example")[0] == 403
    assert client("GET", "/", headers={"Host": "evil.example"})[0] == 403  # a DNS-rebinding page
    assert asked == []


def test_a_body_without_length_is_refused() -> None:
    server = CourseChatServer(App(answer=lambda q: {}, banner="", backend="replay"), port=0, quiet=True)
    server.start_in_thread()
    host, port = server.server_address[:2]
    try:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(f"POST /api/ask HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode())
            assert sock.recv(200).startswith(b"HTTP/1.1 411")
    finally:
        server.shutdown()
        server.server_close()


def test_only_the_loopback_interface() -> None:
    server = CourseChatServer(App(answer=lambda q: {}, banner="", backend="replay"), port=0, quiet=True)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_grounding_picks_the_lessons_a_question_is_about() -> None:
    catalogue = lessons()
    by_stem = {x.stem: x for x in catalogue}
    if "02_tokens" in by_stem:
        assert relevant("Which lesson explains tokens and what they cost?", catalogue)[0].stem == "02_tokens"
    assert relevant("zebra quartz", catalogue) == catalogue  # nothing matches: the whole table, titles only


def test_ask_is_one_plain_responses_call_with_the_lessons_in_instructions() -> None:
    calls: list[dict[str, Any]] = []

    class Responses:
        def create(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return SimpleNamespace(output_text=" An answer. ", model="answered-by")

    lesson = Lesson(number="09", stem="09_streams", title="09 · Streaming", summary="Stream answers.",
                    sections=["Server-sent events"])
    answer = ask(SimpleNamespace(responses=Responses()), "some-model", "Which lesson covers streaming?", [lesson])
    assert answer.to_json() == {"answer": "An answer.", "model": "answered-by", "cut": False,
                                "lessons": [{"number": "09", "title": "Streaming", "notebook": "09_streams.ipynb"}]}
    (call,) = calls
    assert call["model"] == "some-model" and call["input"] == "Which lesson covers streaming?"
    grounding = "Lesson 09, Streaming (09_streams.ipynb): Stream answers. Sections: Server-sent events."
    assert grounding in call["instructions"]


def test_the_recording_answers_every_sample_question_and_explains_a_miss(replay) -> None:
    """Fails when the lessons changed since data/recordings/webapp.json was recorded: the grounding differs."""
    openai_client, _ = replay(RECORDINGS / "webapp.json")
    catalogue = lessons()
    server, request = start(App(answer=lambda q: ask(openai_client, models.chat, q, catalogue).to_json(),
                                banner="replay", backend="replay"))
    try:
        for question in SAMPLE_QUESTIONS:
            status, _, body = post(request, {"question": question})
            assert status == 200, (
                f"{question!r}: {body}\nThe lessons changed since data/recordings/webapp.json was recorded. "
                "Record it again: `make local-backend`, then `make record-webapp`.")
            assert body["answer"] and body["model"] and body["lessons"]
        status, _, body = post(request, {"question": "Something nobody recorded?"})
        assert status == 422 and "not in the recording" in body["error"]
    finally:
        server.shutdown()
        server.server_close()
