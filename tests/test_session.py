"""helpers.setup(): backend choice, keys, banners, and recording errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from helpers import current, session, setup
from helpers.errors import ConfigError, RecordingError
from helpers.keys import PLACEHOLDER_KEY, find_secrets, key_problem, mask

REAL_LOOKING_KEY = "sk-proj-" + "Q" * 40


def test_replay_is_the_default_without_a_key(clean_env, capsys) -> None:
    setup("00_demo")
    s = current()
    assert s.backend == "replay"
    assert os.environ["OPENAI_BASE_URL"] == s.base_url and s.base_url.startswith("http://127.0.0.1:")
    assert os.environ["OPENAI_API_KEY"] == PLACEHOLDER_KEY
    assert "127.0.0.1" in os.environ["NO_PROXY"]
    banner = capsys.readouterr().out
    assert banner.startswith("replay · 00_demo · no recorded API calls") and banner.count("\n") == 1


def test_live_is_the_default_with_a_key(clean_env, capsys) -> None:
    clean_env.setenv("OPENAI_API_KEY", REAL_LOOKING_KEY)
    setup("00_demo")
    s = current()
    assert s.backend == "live" and s.server is not None and s.server.mode == "live"
    out = capsys.readouterr().out
    assert "OpenAI API" in out and "sk-proj-…QQQQ" in out and REAL_LOOKING_KEY not in out


def test_live_without_a_key_says_what_to_do(clean_env) -> None:
    expected = "needs an OpenAI API key.*\\.env\\.example.*COURSE_BACKEND=replay"
    with pytest.raises(ConfigError, match=expected):
        setup("00_demo", backend="live")


def test_record_without_a_key_fails_the_same_way(clean_env) -> None:
    with pytest.raises(ConfigError, match="COURSE_BACKEND=record needs an OpenAI API key"):
        setup("00_demo", backend="record")


@pytest.mark.parametrize("bad, why", [
    ("sk-abc", "too short"),
    ('"sk-proj-' + "Q" * 30 + '"', "quotes"),
    ("pk-" + "Q" * 30, "start with 'sk-'"),
    ("sk-your-key-here-please-xxxxxxxx", "placeholder"),
])
def test_malformed_keys_are_named_masked(clean_env, bad: str, why: str) -> None:
    clean_env.setenv("OPENAI_API_KEY", bad)
    with pytest.raises(ConfigError, match=why) as error:
        setup("00_demo", backend="live")
    assert bad not in str(error.value)


def test_a_local_server_needs_no_key(clean_env) -> None:
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    setup("00_demo")
    s = current()
    assert s.backend == "live" and "OpenAI-compatible server at http://127.0.0.1:9/v1" in s.banner
    assert os.environ["OPENAI_API_KEY"].startswith("sk-local")


def test_unknown_backend(clean_env) -> None:
    clean_env.setenv("COURSE_BACKEND", "offline")
    with pytest.raises(ConfigError, match="not a backend; use one of: replay, live, record"):
        setup("00_demo")


def test_env_is_restored_when_a_session_closes(clean_env) -> None:
    clean_env.setenv("OPENAI_API_KEY", REAL_LOOKING_KEY)
    setup("00_demo", backend="replay")
    current().close()
    assert os.environ["OPENAI_API_KEY"] == REAL_LOOKING_KEY and "OPENAI_BASE_URL" not in os.environ


def test_banner_summarises_provenance(clean_env, tmp_path: Path) -> None:
    listing = {"status": 200, "json": {"object": "list", "data": []}}
    item = {"request": {"method": "GET", "path": "/v1/models"}, "response": listing}
    interactions = [
        {**item, "source": {"kind": "model", "requested": "gpt-5.4-mini", "answered_by": "SmolLM2-135M-Instruct"}},
        {**item, "source": {"kind": "model", "requested": "gpt-5.4-mini", "answered_by": "SmolLM2-135M-Instruct"}},
        {**item, "source": {"kind": "fixture", "note": "no offline image model"}},
    ]
    (tmp_path / "00_demo.json").write_text(json.dumps({
        "format": 1, "notebook": "00_demo", "interactions": interactions,
        "recorded": {"at": "2026-11-21T10:00:00+00:00", "upstream": "local backend"}}))
    setup("00_demo", quiet=True)
    s = current()
    assert s.banner == ("replay · 00_demo · recorded 2026-11-21 via local backend: 2 answers from "
                        "SmolLM2-135M-Instruct, 1 labelled fixture · no key needed, nothing leaves this machine")
    # The first recorded answer is served to a plain OpenAI() client.
    assert OpenAI().models.list().data == []


@pytest.mark.parametrize("content, message", [
    ('{"format": 1, "interactions": [', "corrupt or truncated: Expecting value at line 1"),
    ('{"format": 2, "interactions": []}', "format 2, but this course reads format 1.*newer version"),
    ('{"format": 1}', "not a course recording"),
    ('{"format": 1, "interactions": [{"request": {}}]}', "interaction 1 is malformed"),
])
def test_broken_recordings_are_reported(clean_env, tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "00_demo.json").write_text(content)
    with pytest.raises(RecordingError, match=message) as error:
        setup("00_demo")
    assert "git checkout" in str(error.value) or "git pull" in str(error.value)
    assert (tmp_path / "00_demo.json").read_text() == content  # nothing is overwritten


def test_errors_render_as_one_line() -> None:
    assert ConfigError("no key").__class__._render_traceback_(ConfigError("no key")) == ["ConfigError: no key"]


UNSUPPORTED = {"message": "Unsupported: 'top_p'.", "type": "invalid_request_error", "param": "top_p",
               "code": "unsupported_parameter"}


@pytest.mark.parametrize("status, body, text", [
    (400, UNSUPPORTED, "400 unsupported_parameter (param 'top_p'): Unsupported: 'top_p'."),
    (500, {"message": "The server had an error.", "type": "server_error", "param": None, "code": None},
     "500 server_error: The server had an error."),
    (502, "<html>Bad gateway</html>", "Error code: 502"),
    (400, {"message": "Not in the recording.\nUndo the change.", "code": "replay_miss"},
     "Not in the recording.\nUndo the change."),
])
def test_api_errors_read_as_what_the_api_said(status: int, body: object, text: str) -> None:
    """The text of the short error a notebook shows (tests/test_kernel_errors.py checks it in a kernel)."""
    import httpx2

    response = httpx2.Response(status, request=httpx2.Request("POST", "http://127.0.0.1/v1/responses"))
    message = f"Error code: {status}" + (f" - {body['message']}" if isinstance(body, dict) else "")  # as the SDK
    assert session.api_error_text(openai.APIStatusError(message, response=response, body=body)) == text


def test_key_helpers() -> None:
    assert key_problem(REAL_LOOKING_KEY) is None
    assert mask(REAL_LOOKING_KEY) == "sk-proj-…QQQQ"
    assert find_secrets(f"x {REAL_LOOKING_KEY} y") == [("API key", "sk-proj-…QQQQ")]
    assert find_secrets(f"{PLACEHOLDER_KEY} sk-test-abcdefghijklmnopqrstuvwxyz") == []
    assert find_secrets("org-" + "a1B2" * 6)[0][0] == "organisation id"


def test_session_module_exposes_current(clean_env) -> None:
    setup("00_demo", quiet=True)
    s = current()
    assert session.current() is s
