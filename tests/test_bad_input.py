"""The bad-input catalogue: each case gives a short, clear message and loses nothing.

Missing key, malformed key, corrupt/truncated/newer recordings and a replay miss are tested in
test_session.py and test_replay.py; the spending cap in test_usage.py. This file covers the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from helpers import setup
from helpers.finetune import FineTuneDataError, check_chat_jsonl, validate_chat_jsonl


def good_line(answer: str = "4") -> str:
    return json.dumps({"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": answer}]})


def test_key_set_but_live_upstream_unreachable(clean_env) -> None:
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    setup("unreachable_demo", quiet=True)
    with pytest.raises(openai.InternalServerError) as error:
        OpenAI(max_retries=0).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    message = error.value.message
    assert "could not reach OpenAI-compatible server at http://127.0.0.1:9/v1" in message
    assert "COURSE_BACKEND=replay" in message and len(message) < 400


def test_oversize_upload_is_refused_before_sending(clean_env, fake, tmp_path: Path) -> None:
    clean_env.setenv("OPENAI_BASE_URL", fake.url)
    setup("upload_demo", quiet=True)
    big = tmp_path / "meeting.wav"
    big.write_bytes(b"\0" * (25 * 1024 * 1024 + 1))
    with pytest.raises(openai.BadRequestError) as error, big.open("rb") as fh:
        OpenAI(max_retries=0).audio.transcriptions.create(model="whisper-1", file=fh)
    assert error.value.code == "course_upload_too_large"
    assert "meeting.wav is 25.0 MiB, over the Audio API's 25 MiB upload limit" in error.value.message
    assert not [r for r in fake.requests if "audio" in r["path"]] and big.stat().st_size == 25 * 1024 * 1024 + 1


def test_malformed_fine_tuning_file_reports_line_numbers(tmp_path: Path) -> None:
    lines = [good_line()] * 12
    lines[1] = '{"messages": [{"role": "user", "content": "hi"}'  # truncated
    lines[4] = json.dumps({"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]})
    lines[6] = json.dumps({"messages": [{"role": "user", "content": "question only"}]})
    lines[8] = ""
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FineTuneDataError) as error:
        validate_chat_jsonl(path)
    assert str(error.value).splitlines() == [
        "train.jsonl has 4 problems; nothing was uploaded:",
        "  line 2: not valid JSON: Expecting ',' delimiter at column 48",
        "  line 5: message 1 has role 'bot'; use one of system, developer, user, assistant, tool",
        "  line 7: the last message must be the assistant's answer the model should learn",
        "  line 9: the line is empty (remove blank lines)",
    ]
    assert error.value._render_traceback_()[0].startswith("FineTuneDataError: train.jsonl has 4 problems")


def test_valid_fine_tuning_file_and_minimum_size(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join([good_line()] * 10) + "\n")
    assert validate_chat_jsonl(path) == 10
    path.write_text(good_line())
    count, problems = check_chat_jsonl(path)
    assert count == 1 and [str(p) for p in problems] == ["only 1 examples; a fine-tuning job needs at least 10"]
