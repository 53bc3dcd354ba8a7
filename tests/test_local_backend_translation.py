"""Translations and non-English transcriptions go to the multilingual Whisper (local_backend/audio.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from local_backend import Backend

from .fake_engines import FakeWhisper, fake_engines


class FakeWhisperBase(FakeWhisper):
    name = "FakeWhisperBase"
    multilingual = True

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: bytes, *, language: str | None, prompt: str | None, temperature: float,
                   words: bool, task: str = "transcribe") -> dict[str, Any]:
        self.calls.append({"language": language, "task": task})
        result = super().transcribe(audio, language=language, prompt=prompt, temperature=temperature, words=words)
        return result | {"language": language or "de", "text": "Guten Tag." if task == "transcribe" else "Good day."}


@pytest.fixture(scope="module")
def base() -> FakeWhisperBase:
    return FakeWhisperBase()


@pytest.fixture(scope="module")
def multilingual(base: FakeWhisperBase) -> Iterator[OpenAI]:
    engines = fake_engines()
    engines.factories["multilingual"] = lambda: base
    server = Backend(engines, port=0)
    yield OpenAI(api_key="sk-local", base_url=server.start(), max_retries=0)
    server.stop()


def test_a_translation_is_real_and_unlabelled(multilingual: OpenAI, base: FakeWhisperBase) -> None:
    raw = multilingual.audio.translations.with_raw_response.create(model="whisper-1", file=("de.wav", b"RIFF"),
                                                                   response_format="verbose_json")
    result = raw.parse()
    assert result.text == "Good day." and result.language == "english"
    assert base.calls[-1] == {"language": None, "task": "translate"}
    assert "x-course-note" not in raw.headers  # no "English-only" note: the multilingual model translated


def test_another_language_is_transcribed_by_the_multilingual_model(multilingual: OpenAI,
                                                                   base: FakeWhisperBase) -> None:
    result = multilingual.audio.transcriptions.create(model="gpt-transcribe", file=("de.wav", b"RIFF"),
                                                      language="de", response_format="verbose_json")
    assert result.text == "Guten Tag." and result.language == "german"
    assert base.calls[-1] == {"language": "de", "task": "transcribe"}


def test_english_stays_with_tiny_en(multilingual: OpenAI) -> None:
    raw = multilingual.audio.transcriptions.with_raw_response.create(model="gpt-transcribe", file=("en.wav", b"RIFF"))
    assert raw.parse().text == "Hello there. General Kenobi." and raw.headers["x-course-model"] == "FakeWhisper"


def test_without_a_multilingual_engine_french_is_refused(client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.BadRequestError, match="English only"):
        client.audio.transcriptions.create(model="gpt-transcribe", file=("fr.wav", b"RIFF"), language="fr")


def test_whisper_base_is_pinned_by_its_sha256() -> None:
    from local_backend import engines

    assert engines.WHISPER_BASE_SHA256 == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
    assert engines.real_engines().names["multilingual"] == "whisper-base"
