"""Recording checks: every committed recording validates against the SDK's types and holds no secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openai import OpenAI

from helpers import model_rules
from helpers.keys import find_secrets
from helpers.paths import RECORDINGS, ROOT
from helpers.replay.recording import Recording
from helpers.tooling.validate import check_interaction

RECORDED = sorted(RECORDINGS.glob("*.json"))


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recording_validates_against_the_sdk(path: Path) -> None:
    recording = Recording.load(path)
    problems = [p for n, item in enumerate(recording.interactions, 1)
                for p in check_interaction(item, f"{path.name} #{n}")]
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recording_says_where_each_answer_came_from(path: Path) -> None:
    recording = Recording.load(path)
    if recording.interactions:
        assert recording.recorded.get("at") and recording.recorded.get("upstream")
    for n, item in enumerate(recording.interactions, 1):
        source = item.get("source", {})
        assert source.get("kind") in {"model", "fixture", "error", "service"}, f"#{n}: {source}"
        if source["kind"] == "model":
            assert source.get("answered_by"), f"#{n}: a model answer must name the model"
        if source["kind"] == "fixture":
            assert source.get("note"), f"#{n}: a fixture must say what it stands in for"


def test_validator_catches_a_misspelt_parameter_and_a_bad_response(record) -> None:
    path = record(lambda c: c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]))
    item = json.loads(path.read_text())["interactions"][0]
    assert check_interaction(item, "ok") == []
    item["request"]["json"]["temprature"] = 0.2
    item["response"]["json"]["choices"][0]["finish_reason"] = "tired"
    problems = check_interaction(item, "bad")
    assert any("unknown parameter(s) ['temprature']" in p for p in problems)
    assert any("choices.0.finish_reason" in p for p in problems)


def test_validator_reads_streams_multipart_and_base64_embeddings(record, tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF0000")

    def calls(client: OpenAI) -> None:
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True))
        client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        with audio.open("rb") as fh:
            client.audio.transcriptions.create(model="whisper-1", file=fh)
        client.models.list()

    data = json.loads(record(calls).read_text())
    assert [check_interaction(item, str(n)) for n, item in enumerate(data["interactions"])] == [[], [], [], []]


def test_no_committed_file_holds_a_key_or_organisation_id() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    hits = []
    for name in filter(None, files.decode().split("\0")):
        path = ROOT / name
        if not path.is_file() or path.suffix in {".xz", ".png", ".wav", ".mp3"}:
            continue
        for kind, masked in find_secrets(path.read_text(encoding="utf-8", errors="ignore")):
            hits.append(f"{name}: {kind} {masked}")
    assert not hits, "\n".join(hits)


def test_echoed_first_token_may_have_a_null_logprob() -> None:
    from helpers.tooling.validate import check_interaction

    logprobs = {"tokens": ["The", " fox"], "token_logprobs": [None, -1.5], "top_logprobs": [None, {" fox": -1.5}],
                "text_offset": [0, 3]}
    body = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "text": "The fox", "logprobs": logprobs, "finish_reason": "length"}]}
    item = {"request": {"method": "POST", "path": "/v1/completions",
                        "json": {"model": "m", "prompt": "The", "echo": True, "logprobs": 1, "max_tokens": 1}},
            "response": {"status": 200, "json": body}}
    assert check_interaction(item, "demo") == []
    body["choices"][0]["logprobs"]["token_logprobs"][1] = None  # only the first token may be null
    assert check_interaction(item, "demo") != []


ENDPOINTS = {"/v1/responses": "responses", "/v1/chat/completions": "chat", "/v1/completions": "completions"}


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_requests_keep_the_model_rules(path: Path) -> None:
    """An answered request is within the requested model's rules; a refused one got exactly the table's error."""
    problems = []
    for n, item in enumerate(Recording.load(path).interactions, 1):
        request, response = item["request"], item["response"]
        endpoint = ENDPOINTS.get(request.get("path", ""))
        if endpoint is None or not isinstance(request.get("json"), dict) or request.get("method") != "POST":
            continue
        violation = model_rules.check(endpoint, request["json"])
        status = response.get("status", 200)
        if status < 400 and violation is not None:
            problems.append(f"#{n} {request['json'].get('model')}: answered, but the rules say: {violation.message}")
        error = (response.get("json") or {}).get("error") or {}
        # OpenAI's wording ("Unsupported parameter/value: ..."); the backend's own limits say "The local backend ..."
        if status >= 400 and str(error.get("message", "")).startswith("Unsupported") and violation is None:
            problems.append(f"#{n}: refused with {error.get('code')} although the rules allow it")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_reasoning_emulation_is_labelled(path: Path) -> None:
    """Every recorded answer from a reasoning model at an effort above none says its reasoning was emulated."""
    for n, item in enumerate(Recording.load(path).interactions, 1):
        body, source = item["request"].get("json"), item.get("source", {})
        endpoint = ENDPOINTS.get(item["request"].get("path", ""))
        if endpoint is None or not isinstance(body, dict) or source.get("kind") != "model":
            continue
        rule = model_rules.rule_for(body.get("model"))
        reasons = rule is not None and rule.effort(model_rules.requested_effort(endpoint, body)) not in (None, "none")
        if reasons and "local backend" in str(Recording.load(path).recorded.get("upstream", "")):
            assert "reasoning emulated" in source.get("emulated", ""), f"#{n}: emulated reasoning is not labelled"
