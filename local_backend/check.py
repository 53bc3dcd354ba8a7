"""End-to-end check of a running local backend with the real openai SDK; prints what each call gave and took.

Run it from any venv that has ``openai`` (the course's Poetry venv will do), with the server started:
``make local-backend`` in one shell, then ``.venv/bin/python -m local_backend.check``.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable
from typing import Any

from openai import OpenAI
from pydantic import BaseModel

from helpers.replay.wire import LOCAL_BACKEND_URL

BASE_URL = os.environ.get("OPENAI_BASE_URL", LOCAL_BACKEND_URL)


class Person(BaseModel):
    name: str
    age: int


def timed(label: str, fn: Any) -> Any:
    started = time.perf_counter()
    result = fn()
    print(f"[{time.perf_counter() - started:6.2f} s] {label}")
    return result


def rate(client: OpenAI, kind: str) -> None:
    """Generation speed from a stream: tokens after the first, over the time after the first."""
    first = last = 0.0
    started = time.perf_counter()
    stream: Iterable[Any]
    if kind == "chat":
        stream = client.chat.completions.create(
            model="gpt-5.4-mini", messages=[{"role": "user", "content": "Write a long story about a lighthouse."}],
            max_completion_tokens=200, seed=1, stream=True, stream_options={"include_usage": True})
    else:
        stream = client.completions.create(model="davinci-002", prompt="The history of the lighthouse begins",
                                           max_tokens=200, seed=1, stream=True, stream_options={"include_usage": True})
    usage = None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        elif chunk.choices and (getattr(chunk.choices[0], "text", None) or getattr(
                getattr(chunk.choices[0], "delta", None), "content", None)):
            last = time.perf_counter()
            first = first or last
    assert usage is not None
    n = usage.completion_tokens
    print(f"{kind}: {usage.prompt_tokens} prompt + {n} generated tokens in {last - started:.2f} s; "
          f"first token after {first - started:.2f} s; {(n - 1) / (last - first):.0f} tokens/s generating")


def main() -> None:
    client = OpenAI(base_url=BASE_URL, api_key=os.environ.get("OPENAI_API_KEY", "sk-local"), max_retries=0)
    print("models:", [m.id for m in client.models.list()])
    chat = timed("chat", lambda: client.chat.completions.create(
        model="gpt-5.4-mini", messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_completion_tokens=40, seed=1))
    print("  ", chat.model, repr(chat.choices[0].message.content), chat.usage.completion_tokens, "tokens")
    plain = timed("responses", lambda: client.responses.create(
        model="gpt-5.4-mini", instructions="Answer in one sentence.", input="What is an API?", max_output_tokens=60))
    print("  ", plain.model, plain.status, repr(plain.output_text))
    kinds: list[str] = []
    pieces: list[str] = []

    def streamed() -> None:
        for event in client.responses.create(model="gpt-5.4-mini", input="Name three colours.",
                                             max_output_tokens=40, stream=True):
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                pieces.append(event.delta)

    timed("responses, streamed", streamed)
    print(f"   {len(kinds)} events: {kinds[:3]} ... {kinds[-2:]}; text {''.join(pieces)!r}")
    parsed = timed("chat.completions.parse", lambda: client.chat.completions.parse(
        model="gpt-5.4-mini", response_format=Person, max_completion_tokens=60,
        messages=[{"role": "user", "content": "Ann is 31 years old. Extract her name and age."}]))
    print("  ", repr(parsed.choices[0].message.parsed))
    vectors = timed("embeddings", lambda: client.embeddings.create(
        model="text-embedding-3-small", input=["The market fell.", "Share prices dropped.", "My cat sleeps."]))
    a, b, c = (d.embedding for d in vectors.data)
    print(f"   {vectors.model}, {len(a)} dims; cos(market, shares)={sum(x * y for x, y in zip(a, b, strict=True)):.3f}"
          f" cos(market, cat)={sum(x * y for x, y in zip(a, c, strict=True)):.3f}")
    sentence = "The quick brown fox jumps over the lazy dog."
    wav = timed("audio.speech (wav)", lambda: client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="af_heart", input=sentence, response_format="wav").content)
    print(f"   {len(wav):,} bytes of WAV")
    mp3 = timed("audio.speech (mp3, the default)", lambda: client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="af_heart", input=sentence).content)
    print(f"   {len(mp3):,} bytes of MP3")
    text = timed("audio.transcriptions", lambda: client.audio.transcriptions.create(
        model="gpt-transcribe", file=("fox.wav", wav, "audio/wav")).text)
    print(f"   said {sentence!r}, heard {text!r}")
    srt = client.audio.transcriptions.create(model="whisper-1", file=("fox.wav", wav), response_format="srt")
    print("   srt:", srt.strip().replace("\n", " | "))
    image = timed("images.generate (fixture)", lambda: client.images.with_raw_response.generate(
        model="gpt-image-2", prompt="A lighthouse at dusk", size="1024x1024"))
    picture = image.parse().data[0]
    print(f"   x-course-fixture: {image.headers.get('x-course-fixture')!r}; "
          f"{len(base64.b64decode(picture.b64_json)):,} byte PNG; {picture.revised_prompt[:60]!r}...")
    realtime(client, wav)
    rate(client, "chat")
    rate(client, "completion")


def realtime(client: OpenAI, wav: bytes) -> None:
    """A Realtime session: the WAV's samples in, a spoken answer out; seconds from commit to each step."""
    marks: dict[str, float] = {}
    audio = b""
    with client.realtime.connect(model="gpt-realtime-2.1-mini") as connection:
        connection.session.update(session={"type": "realtime", "instructions": "Answer in one sentence.", "audio": {
            "input": {"transcription": {"model": "gpt-transcribe"}, "turn_detection": None}}})
        connection.input_audio_buffer.append(audio=base64.b64encode(wav[44:]).decode())  # 24 kHz PCM, no header
        started = time.perf_counter()
        connection.input_audio_buffer.commit()
        connection.response.create()
        for event in connection:
            marks.setdefault(event.type, time.perf_counter() - started)
            if event.type == "response.output_audio.delta":
                audio += base64.b64decode(event.delta)
            elif event.type in ("response.done", "error"):
                break
    steps = {"transcribed": "conversation.item.input_audio_transcription.completed",
             "first words": "response.output_audio_transcript.delta", "first audio": "response.output_audio.delta",
             "done": "response.done"}
    print(f"[{marks.get('response.done', 0):6.2f} s] realtime session: " + ", ".join(
        f"{name} {marks[kind]:.2f} s" for name, kind in steps.items() if kind in marks)
        + f"; {len(audio) / 48000:.1f} s of 24 kHz audio")


if __name__ == "__main__":
    main()
