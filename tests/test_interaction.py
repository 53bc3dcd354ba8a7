"""The typed recording model: what is derived from a stored interaction, and the format's migration hook."""

from __future__ import annotations

import copy
import json

import pytest

from helpers.paths import RECORDINGS
from helpers.replay import interaction as model
from helpers.replay.interaction import StoredRequest, StoredResponse


def test_requested_model_reads_json_and_form_uploads() -> None:
    assert model.requested_model({"method": "POST", "path": "/v1/responses", "json": {"model": "m1"}}) == "m1"
    upload: StoredRequest = {"method": "POST", "path": "/v1/audio/transcriptions",
                             "multipart": {"fields": {"model": "whisper-1"}, "files": {}}}
    assert model.requested_model(upload) == "whisper-1"
    assert model.requested_model({"method": "GET", "path": "/v1/models"}) is None


def test_answered_model_and_usage_from_json_or_stream() -> None:
    body: StoredResponse = {"json": {"model": "a", "usage": {"input_tokens": 1}}}
    assert model.answered_model(body) == "a" and model.usage_of(body) == {"input_tokens": 1}
    stream: StoredResponse = {"events": [{"data": {"response": {"model": "b"}}},
                                         {"data": {"response": {"usage": {"output_tokens": 2}}}}]}
    assert model.answered_model(stream) == "b" and model.usage_of(stream) == {"output_tokens": 2}


def test_body_forms_round_trip() -> None:
    assert model.stored_body("application/json", b'{"a": 1}') == {"json": {"a": 1}}
    for content_type, raw in (("text/plain", "héllo".encode()), ("audio/wav", b"RIFF\0\1\2")):
        assert model.body_bytes(model.stored_body(content_type, raw)) == raw
    assert model.stored_body("audio/wav", b"RIFF\0")["base64"] == "UklGRgA="


def test_error_response_is_openai_shaped() -> None:
    response = model.error_response(429, "slow down", "rate_limit_exceeded", "requests", {"retry-after": "1"})
    assert response["json"] == {"error": {"message": "slow down", "type": "requests", "param": None,
                                          "code": "rate_limit_exceeded"}}
    assert model.error_message(response) == "slow down" and response["headers"]["retry-after"] == "1"


@pytest.mark.parametrize("path", sorted(RECORDINGS.glob("*.json")), ids=lambda p: p.stem)
def test_todays_recordings_need_no_migration(path) -> None:  # noqa: ANN001 - a Path
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == model.FORMAT
    assert model.migrate(copy.deepcopy(data)) == data


def test_an_older_format_is_upgraded_step_by_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "FORMAT", 3)
    monkeypatch.setitem(model.MIGRATIONS, 1, lambda d: {**d, "one": True})
    monkeypatch.setitem(model.MIGRATIONS, 2, lambda d: {**d, "two": True})
    assert model.migrate({"format": 1, "interactions": []}) == {"format": 3, "interactions": [], "one": True,
                                                                "two": True}
