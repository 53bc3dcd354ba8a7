"""Fake engines for the local backend's adapter tests: deterministic, instant, no weights."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from local_backend.engines import Engines

# A model the rule table lists as not reasoning (for tests about mechanics) and the default reasoning chat model.
PLAIN = "gpt-4.1-mini"
REASONING = "gpt-5.4-mini"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def value_for(schema: dict[str, Any]) -> Any:
    """A minimal value that satisfies a (simple) JSON schema."""
    if "anyOf" in schema:
        return value_for(schema["anyOf"][0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: value_for(v) for k, v in schema.get("properties", {}).items()}
    return {"string": "Paris", "integer": 3, "number": 1.5, "boolean": True, "array": [], "null": None}.get(kind, "x")


class FakeText:
    """Answers with words picked by the seed; under a schema, with JSON that fits it."""

    def __init__(self, name: str = "FakeChat-1M") -> None:
        self.name = name
        self.context = 2048
        self.calls: list[dict[str, Any]] = []

    def _pieces(self, prompt_words: int, params: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
        import json

        if schema is not None:
            text = json.dumps(value_for(schema))
            pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
        else:
            rng = random.Random(params.get("seed"))
            pieces = [" " + rng.choice(WORDS) for _ in range(6)]
        limit = params["max_tokens"]
        for i, piece in enumerate(pieces[:limit]):
            lp = [{"token": piece, "logprob": -0.5, "bytes": list(piece.encode()), "top_logprobs": []}] \
                if params.get("logprobs") is True else None
            if isinstance(params.get("logprobs"), int) and params.get("logprobs") is not True:
                lp = {"tokens": [piece], "token_logprobs": [-0.5], "top_logprobs": [{piece: -0.5}], "text_offset": [i]}
            yield {"text": piece, "logprobs": lp}
        yield {"finish_reason": "length" if len(pieces) > limit else "stop", "prompt_tokens": prompt_words,
               "completion_tokens": min(limit, len(pieces))}

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.calls.append({"messages": messages, **params})
        words = sum(len(str(m["content"]).split()) for m in messages)
        schema = params.get("schema") or ({"type": "object"} if params.get("json_object") else None)
        return self._pieces(words, params, schema)

    def complete(self, prompt: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.calls.append({"prompt": prompt, **params})
        if params.get("echo"):
            yield {"text": prompt, "logprobs": None}
        yield from self._pieces(len(prompt.split()), params, None)


class FakeEmbedder:
    name = "FakeMiniLM"
    dimensions = 8

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors = []
        for text in texts:
            raw = [float((len(text) * (i + 3)) % 7 + 1) for i in range(self.dimensions)]
            norm = sum(v * v for v in raw) ** 0.5
            vectors.append([v / norm for v in raw])
        return vectors, sum(len(t.split()) for t in texts)


class FakeWhisper:
    name = "FakeWhisper"

    def transcribe(self, audio: bytes, *, language: str | None, prompt: str | None, temperature: float,
                   words: bool) -> dict[str, Any]:
        segments = [
            {"start": 0.0, "end": 1.5, "text": " Hello there.", "tokens": [1, 2], "temperature": temperature,
             "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01, "seek": 0,
             "words": [{"word": " Hello", "start": 0.0, "end": 0.7}, {"word": " there.", "start": 0.7, "end": 1.5}]},
            {"start": 1.5, "end": 3.25, "text": " General Kenobi.", "tokens": [3], "temperature": temperature,
             "avg_logprob": -0.3, "compression_ratio": 1.0, "no_speech_prob": 0.02, "seek": 0, "words": []},
        ]
        return {"text": "Hello there. General Kenobi.", "language": "en", "duration": 3.25, "segments": segments}


class FakeVoice:
    name = "FakeTTS"
    voices = ("af_heart",)

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def speak(self, text: str, *, voice: str, speed: float) -> tuple[Any, int]:
        self.calls.append({"text": text, "voice": voice, "speed": speed})
        return [0.0, 0.5, -0.5, 0.25] * 10, 24000


def fake_engines() -> Engines:
    chat, base = FakeText("FakeChat-1M"), FakeText("FakeBase-1M")
    factories: dict[str, Any] = {"chat": lambda: chat, "completion": lambda: base, "embedding": FakeEmbedder,
                                 "transcription": FakeWhisper, "speech": FakeVoice}
    for role, name in {"chat": "FakeChat-1M", "completion": "FakeBase-1M", "embedding": "FakeMiniLM",
                       "transcription": "FakeWhisper", "speech": "FakeTTS"}.items():
        factories[role].model_name = name
    return Engines(factories)


def last_messages(backend: Any) -> list[dict[str, Any]]:
    """The messages of the chat engine's latest call (``backend``: a local_backend.Backend on fake engines)."""
    return backend.engines.get("chat").calls[-1]["messages"]
