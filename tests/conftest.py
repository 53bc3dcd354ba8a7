"""Fixtures: a fake upstream, and record/replay servers around it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from helpers import session
from helpers.keys import PLACEHOLDER_KEY
from helpers.replay.recording import Recording
from helpers.replay.server import CourseServer
from helpers.testing.fake_upstream import FakeUpstream
from helpers.testing.recorder import record_calls
from local_backend import Backend

from .fake_engines import fake_engines

# The real-browser tests (tests/browser/) need chromium and about a minute: `make browser-test` runs them.
collect_ignore = [] if os.environ.get("COURSE_BROWSER_TESTS") else ["browser"]

USER_KEY = "sk-test-" + "k" * 24  # what a learner's key would look like to the recorder


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    yield upstream
    upstream.stop()


@pytest.fixture
def record(tmp_path: Path, fake: FakeUpstream) -> Callable[[Callable[[OpenAI], None]], Path]:
    """Run ``calls(client)`` through a recording server; returns the recording's path."""

    def run(calls: Callable[[OpenAI], None], name: str = "demo") -> Path:
        path = tmp_path / f"{name}.json"
        record_calls(fake.url, path, calls, api_key=USER_KEY)
        return path

    return run


@pytest.fixture
def replay() -> Iterator[Callable[..., tuple[OpenAI, CourseServer]]]:
    """Start a replay server for a recording; returns a client pointed at it."""
    servers: list[CourseServer] = []

    def start(path: Path, speed: float = 0.0) -> tuple[OpenAI, CourseServer]:
        server = CourseServer(Recording.load(path), "replay", speed=speed)
        servers.append(server)
        return OpenAI(api_key=PLACEHOLDER_KEY, base_url=server.start(), max_retries=0), server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No key, no base URL, no backend choice, recordings in a temporary folder, no .env."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COURSE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_RECORDINGS_DIR", str(tmp_path))
    monkeypatch.setattr(session, "ROOT", tmp_path)  # no developer .env is read
    yield monkeypatch
    if session.current() is not None:
        session.current().close()
    os.environ.pop("OPENAI_BASE_URL", None)


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    """The local backend on fake engines (no weights), one per test module."""
    server = Backend(fake_engines(), port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(backend: Backend) -> OpenAI:
    """The SDK pointed at that backend."""
    return OpenAI(api_key="sk-local", base_url=backend.base_url, max_retries=0)
