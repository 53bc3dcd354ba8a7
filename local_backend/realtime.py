"""``wss://.../v1/realtime``: the Realtime API's event protocol over a WebSocket, on the backend's real parts.

A session chains three local models: Whisper transcribes the committed input audio, the chat model writes the
answer, and hibari speaks it. The answer's transcript is streamed as the chat model writes it, and each sentence's
audio follows as ``response.output_audio.delta`` events as soon as hibari has spoken it: 16-bit PCM, mono,
24 kHz, the protocol's ``audio/pcm`` format (hibari speaks at 24 kHz; any other engine rate is resampled by linear
interpolation). Input audio is the same format; Whisper gets it as a WAV file and resamples it to its 16 kHz itself.

Only what the parts can honour is accepted: server VAD, tools, other audio formats and other event types get the
protocol's ``error`` event naming the field, and the session stays open. Token usage counts the chat model's text
tokens (no audio tokens: the local chain has none). Every event is a plain dict; :class:`Session` is the protocol,
:func:`serve` runs it on a WebSocket connection.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import time
from collections.abc import Generator, Iterator
from typing import Any

from .audio import OPENAI_VOICES, wav_bytes
from .common import GENERATION_LOCK, ApiError, json_object
from .engines import Engines

PATH = "/v1/realtime"
RATE = 24000  # the protocol's audio/pcm rate, in and out
# The most input audio one buffer holds: 15 MiB of PCM, about 5.5 minutes (OpenAI limits one append to 15 MiB).
MAX_BUFFER = 15 * 1024 * 1024
DELTA_BYTES = RATE * 2 // 5  # 200 ms of audio per response.output_audio.delta
DEFAULT_TOKENS = 200
CLIENT_EVENTS = ("session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                 "input_audio_buffer.clear", "conversation.item.create", "response.create")
SESSION_FIELDS = {"type", "instructions", "output_modalities", "audio", "max_output_tokens", "model", "include"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class RealtimeError(Exception):
    """A client event the session cannot honour: sent back as the protocol's ``error`` event."""

    def __init__(self, message: str, param: str | None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def pcm_bytes(samples: Any, rate: int) -> bytes:
    """Mono float samples as 16-bit little-endian PCM at :data:`RATE` (linear resampling if needed)."""
    import numpy as np

    data = np.asarray(samples, dtype="float32")
    if rate != RATE and len(data):
        positions = np.arange(int(len(data) * RATE / rate)) * (rate / RATE)
        data = np.interp(positions, np.arange(len(data)), data).astype("float32")
    return wav_bytes(data, RATE)[44:]


class Session:
    """One Realtime session: its configuration, input buffer and conversation; each client event in, the server
    events it causes out."""

    def __init__(self, engines: Engines, model: str) -> None:
        self.engines = engines
        self.count = 0
        self.buffer = bytearray()
        self.items: list[dict[str, Any]] = []
        self.transcripts: dict[str, str] = {}  # item id -> what was said (input audio) or answered
        self.config: dict[str, Any] = {
            "type": "realtime", "object": "realtime.session", "id": self.new_id("sess"), "model": model,
            "instructions": "", "output_modalities": ["audio"], "max_output_tokens": "inf",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": RATE}, "transcription": None,
                                "turn_detection": None},
                      "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "marin", "speed": 1.0}},
        }
        self.timings: dict[str, float] = {}  # seconds per step of the latest turn, logged with each response.done

    def new_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_local{self.count:06d}"

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": self.new_id("event"), **fields}

    def opened(self) -> dict[str, Any]:
        return self.event("session.created", session=self.config)

    def error(self, exc: RealtimeError, event_id: str | None) -> dict[str, Any]:
        return self.event("error", error={"type": "invalid_request_error", "code": exc.code, "message": exc.message,
                                          "param": exc.param, "event_id": event_id})

    # -- client events ------------------------------------------------------------------------------
    def handle(self, raw: str | bytes) -> Generator[dict[str, Any], None, None]:
        """The server events one client message causes (an ``error`` event for one it cannot honour)."""
        event_id = None
        try:
            try:
                event = json_object(raw, "The client event")
            except ValueError as exc:
                raise RealtimeError(str(exc), None, "invalid_json") from None
            event_id = event.get("event_id")
            kind = event.get("type")
            if kind not in CLIENT_EVENTS:
                raise RealtimeError(f"Unknown or unsupported client event type {kind!r}; the local backend "
                                    f"accepts {', '.join(CLIENT_EVENTS)}.", "type", "invalid_event_type")
            yield from getattr(self, "on_" + kind.replace(".", "_"))(event)
        except RealtimeError as exc:
            yield self.error(exc, event_id)

    def on_session_update(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        session = event.get("session")
        if not isinstance(session, dict):
            raise RealtimeError("session.update needs a 'session' object.", "session")
        if session.get("type", "realtime") != "realtime":
            raise RealtimeError("Only 'realtime' sessions are served locally (no transcription-only sessions).",
                                "session.type")
        unknown = sorted(set(session) - SESSION_FIELDS)
        if unknown:
            raise RealtimeError(f"The local backend cannot honour session.{unknown[0]} (it serves instructions, "
                                "output_modalities, audio and max_output_tokens).", f"session.{unknown[0]}",
                                "unsupported_parameter")
        new = json.loads(json.dumps(self.config))
        if "instructions" in session:
            new["instructions"] = str(session["instructions"] or "")
        if "max_output_tokens" in session:
            cap = session["max_output_tokens"]
            if cap != "inf" and not (isinstance(cap, int) and 1 <= cap <= 4096):
                raise RealtimeError("must be an integer from 1 to 4096, or 'inf'.", "session.max_output_tokens")
            new["max_output_tokens"] = cap
        if "output_modalities" in session:
            modes = session["output_modalities"]
            if modes not in (["audio"], ["text"]):
                raise RealtimeError("must be ['audio'] or ['text'] (not both at once).", "session.output_modalities")
            new["output_modalities"] = modes
        self.update_audio(new, session.get("audio") or {})
        self.config = new
        yield self.event("session.updated", session=self.config)

    def update_audio(self, new: dict[str, Any], audio: dict[str, Any]) -> None:
        for side in ("input", "output"):
            part = audio.get(side) or {}
            known = {"input": {"format", "transcription", "turn_detection"},
                     "output": {"format", "voice", "speed"}}[side]
            for name in sorted(set(part) - known):
                raise RealtimeError(f"The local backend cannot honour session.audio.{side}.{name}.",
                                    f"session.audio.{side}.{name}", "unsupported_parameter")
            fmt = part.get("format")
            if fmt is not None and (fmt.get("type") != "audio/pcm" or fmt.get("rate", RATE) != RATE):
                raise RealtimeError(f"Only 16-bit PCM at {RATE} Hz ('audio/pcm', rate {RATE}) is served locally, "
                                    f"not {fmt}.", f"session.audio.{side}.format")
            new["audio"][side].update({k: v for k, v in part.items() if k != "format"})
        if new["audio"]["input"].get("turn_detection") is not None:
            raise RealtimeError("Voice activity detection is not served locally: send turn_detection None and commit "
                                "the buffer yourself.", "session.audio.input.turn_detection",
                                "unsupported_parameter")
        voice = new["audio"]["output"].get("voice")
        if voice not in OPENAI_VOICES:
            raise RealtimeError(f"Unknown voice {voice!r}; use one of {', '.join(OPENAI_VOICES)} (all spoken with the "
                                "one local voice).", "session.audio.output.voice")
        speed = new["audio"]["output"].get("speed", 1.0)
        if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 1.5:
            raise RealtimeError("must be a number from 0.25 to 1.5.", "session.audio.output.speed")

    def on_input_audio_buffer_append(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        try:
            chunk = base64.b64decode(str(event.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            raise RealtimeError("'audio' must be base64-encoded 16-bit PCM.", "audio") from None
        if len(chunk) % 2:
            raise RealtimeError("'audio' must hold whole 16-bit samples (an even number of bytes).", "audio")
        if chunk[:4] in (b"RIFF", b"ID3\x03", b"OggS", b"fLaC") or chunk[:2] == b"\xff\xfb":
            raise RealtimeError(f"'audio' is an audio file, not raw samples: send 16-bit mono PCM at {RATE} Hz "
                                "(strip the WAV header; resample other rates).", "audio")
        if len(self.buffer) + len(chunk) > MAX_BUFFER:
            raise RealtimeError(f"The input audio buffer would exceed {MAX_BUFFER // 2 // RATE} seconds "
                                f"({MAX_BUFFER:,} bytes); commit or clear it first. This chunk was not added.",
                                "audio", "input_audio_buffer_too_large")
        self.buffer += chunk
        return iter(())

    def on_input_audio_buffer_clear(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        self.buffer.clear()
        yield self.event("input_audio_buffer.cleared")

    def on_input_audio_buffer_commit(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if len(self.buffer) < RATE * 2 // 10:
            raise RealtimeError(f"The input audio buffer holds {len(self.buffer) / 2 / RATE * 1000:.0f} ms of "
                                "audio; at least 100 ms is needed to commit.", None, "input_audio_buffer_commit_empty")
        audio, self.buffer = bytes(self.buffer), bytearray()
        item_id = self.new_id("item")
        previous = self.items[-1]["id"] if self.items else None
        item: dict[str, Any] = {"id": item_id, "type": "message", "object": "realtime.item", "role": "user",
                                "status": "completed", "content": [{"type": "input_audio", "transcript": None}]}
        self.items.append(item)
        yield self.event("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous)
        yield self.event("conversation.item.added", item=item, previous_item_id=previous)
        yield self.event("conversation.item.done", item=item, previous_item_id=previous)
        started = time.monotonic()
        transcription = self.config["audio"]["input"].get("transcription") or {}
        other = transcription.get("language") not in (None, "", "en") and "multilingual" in self.engines.factories
        engine = self.engines.get("multilingual" if other else "transcription")
        with GENERATION_LOCK:
            try:
                heard = engine.transcribe(wav_bytes_pcm(audio), language=transcription.get("language"),
                                          prompt=transcription.get("prompt"), temperature=0.0, words=False)
            except (ValueError, OSError, RuntimeError) as exc:
                raise RealtimeError(f"The input audio could not be decoded: {exc}", "audio") from exc
        self.timings["transcribe"] = time.monotonic() - started
        self.transcripts[item_id] = heard["text"]
        item["content"][0]["transcript"] = heard["text"]
        if transcription:
            yield self.event("conversation.item.input_audio_transcription.delta", item_id=item_id, content_index=0,
                             delta=heard["text"])
            yield self.event("conversation.item.input_audio_transcription.completed", item_id=item_id,
                             content_index=0, transcript=heard["text"],
                             usage={"type": "duration", "seconds": round(len(audio) / 2 / RATE, 3)})

    def on_conversation_item_create(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") != "message":
            raise RealtimeError("Only message items are served locally (no function calls).", "item.type")
        if item.get("role") not in ("user", "system", "assistant"):
            raise RealtimeError("must be 'user', 'system' or 'assistant'.", "item.role")
        texts = []
        for number, part in enumerate(item.get("content") or []):
            if part.get("type") not in ("input_text", "output_text", "text"):
                raise RealtimeError("Only text content is served in conversation.item.create (send audio with "
                                    "input_audio_buffer.append).", f"item.content.{number}.type")
            texts.append(str(part.get("text", "")))
        stored = {"id": item.get("id") or self.new_id("item"), "type": "message", "object": "realtime.item",
                  "role": item["role"], "status": "completed", "content": item.get("content") or []}
        previous = self.items[-1]["id"] if self.items else None
        self.items.append(stored)
        self.transcripts[stored["id"]] = " ".join(texts)
        yield self.event("conversation.item.added", item=stored, previous_item_id=previous)
        yield self.event("conversation.item.done", item=stored, previous_item_id=previous)

    # -- answering ----------------------------------------------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        out = [{"role": "system", "content": self.config["instructions"]}] if self.config["instructions"] else []
        for item in self.items:
            text = self.transcripts.get(item["id"], "")
            if text:
                out.append({"role": item["role"], "content": text})
        return out

    def on_response_create(self, event: dict[str, Any]) -> Iterator[dict[str, Any]]:
        options = event.get("response") or {}
        for name in sorted(set(options) - {"instructions", "output_modalities", "max_output_tokens"}):
            raise RealtimeError(f"The local backend cannot honour response.{name}.", f"response.{name}",
                                "unsupported_parameter")
        modes = options.get("output_modalities") or self.config["output_modalities"]
        if modes not in (["audio"], ["text"]):
            raise RealtimeError("must be ['audio'] or ['text'].", "response.output_modalities")
        if not self.messages() or self.messages()[-1]["role"] == "assistant":
            raise RealtimeError("There is nothing to answer: commit input audio or create a user item first.", None,
                                "conversation_empty")
        cap = options.get("max_output_tokens", self.config["max_output_tokens"])
        tokens = DEFAULT_TOKENS if cap == "inf" else int(cap)
        messages = self.messages()
        if options.get("instructions"):
            messages = [{"role": "system", "content": str(options["instructions"])}] + [
                m for m in messages if m["role"] != "system"]
        yield from self.respond(messages, modes[0], tokens)

    def respond(self, messages: list[dict[str, Any]], mode: str, tokens: int) -> Iterator[dict[str, Any]]:
        """The response events: text (or transcript) deltas as the chat model writes, audio deltas per sentence."""
        response_id, item_id = self.new_id("resp"), self.new_id("item")
        audio = mode == "audio"
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        response = {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": [],
                    "output_modalities": [mode], "conversation_id": None, "usage": None,
                    "max_output_tokens": tokens}
        part_type = "audio" if audio else "text"
        item: dict[str, Any] = {"id": item_id, "type": "message", "object": "realtime.item", "role": "assistant",
                                "status": "in_progress", "content": []}
        previous = self.items[-1]["id"] if self.items else None
        yield self.event("response.created", response=response)
        yield self.event("response.output_item.added", response_id=response_id, output_index=0, item=item)
        yield self.event("conversation.item.added", item=item, previous_item_id=previous)
        yield self.event("response.content_part.added", **where, part={"type": part_type, "transcript": ""}
                         if audio else {"type": part_type, "text": ""})
        started = time.monotonic()
        text, pending, finish = "", "", {}
        kind = "response.output_audio_transcript.delta" if audio else "response.output_text.delta"
        chat = self.engines.get("chat")
        self.timings.update(answer=0.0, speech=0.0)
        first_audio: float | None = None
        with GENERATION_LOCK:
            pieces = chat.chat(messages, {"max_tokens": tokens, "temperature": 0.0, "seed": 0})
            try:
                for piece in pieces:
                    if "finish_reason" in piece:
                        finish = piece
                        continue
                    text += piece["text"]
                    pending += piece["text"]
                    yield self.event(kind, **where, delta=piece["text"])
                    if audio:
                        *spoken, pending = SENTENCE_END.split(pending)
                        for sentence in spoken:
                            for delta in self.speak(sentence, where):
                                first_audio = first_audio or time.monotonic() - started
                                yield delta
                if audio and pending.strip():
                    for delta in self.speak(pending, where):
                        first_audio = first_audio or time.monotonic() - started
                        yield delta
            finally:
                close = getattr(pieces, "close", None)
                if close:
                    close()  # the client went away mid-answer: release the engine
        self.timings["answer"] = time.monotonic() - started - self.timings["speech"]
        if first_audio is not None:
            self.timings["first_audio_delta"] = first_audio
        text = text.strip()
        content = {"type": "output_audio", "transcript": text} if audio else {"type": "output_text", "text": text}
        if audio:
            yield self.event("response.output_audio.done", **where)
            yield self.event("response.output_audio_transcript.done", **where, transcript=text)
        else:
            yield self.event("response.output_text.done", **where, text=text)
        yield self.event("response.content_part.done", **where,
                         part={"type": part_type, "transcript": text} if audio else {"type": part_type, "text": text})
        item = {**item, "status": "completed", "content": [content]}
        self.items.append(item)
        self.transcripts[item_id] = text
        yield self.event("response.output_item.done", response_id=response_id, output_index=0, item=item)
        yield self.event("conversation.item.done", item=item, previous_item_id=previous)
        prompt, completion = finish.get("prompt_tokens", 0), finish.get("completion_tokens", 0)
        usage = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                 "input_token_details": {"text_tokens": prompt, "cached_tokens": 0},
                 "output_token_details": {"text_tokens": completion}}
        status = "incomplete" if finish.get("finish_reason") == "length" else "completed"
        done = {**response, "status": status, "output": [item], "usage": usage}
        if status == "incomplete":
            done["status_details"] = {"type": "incomplete", "reason": "max_output_tokens"}
        yield self.event("response.done", response=done)

    def speak(self, sentence: str, where: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if not sentence.strip():
            return
        started = time.monotonic()
        engine = self.engines.get("speech")
        speed = float(self.config["audio"]["output"].get("speed", 1.0))
        samples, rate = engine.speak(sentence.strip(), voice=engine.voices[0], speed=speed)
        pcm = pcm_bytes(samples, rate)
        self.timings["speech"] += time.monotonic() - started
        for start in range(0, len(pcm), DELTA_BYTES):
            chunk = pcm[start:start + DELTA_BYTES]
            yield self.event("response.output_audio.delta", **where, delta=base64.b64encode(chunk).decode("ascii"))


def wav_bytes_pcm(pcm: bytes) -> bytes:
    """16-bit PCM at :data:`RATE` wrapped as a WAV file, for Whisper."""
    import numpy as np

    return wav_bytes(np.frombuffer(pcm, dtype="<i2").astype("float32") / 32767, RATE)


def handshake_headers(engines: Engines) -> dict[str, str]:
    """The 101 response's labels: which local models really answer a Realtime session."""
    names = engines.names
    chain = f"{names['transcription']} + {names['chat']} + {names['speech']}"
    return {"x-course-model": chain,
            "x-course-note": f"Realtime session served by a chain of local models ({chain}): speech in is "
                             "transcribed, the chat model answers, the answer is spoken; usage counts text tokens"}


def serve(connection: Any, engines: Engines, model: str) -> None:
    """Run one session on an accepted WebSocket until the client closes it (or drops it mid-answer)."""
    from websockets.exceptions import ConnectionClosed

    session = Session(engines, model)
    try:
        connection.send(json.dumps(session.opened()))
        for message in connection:
            events = session.handle(message)
            try:
                for event in events:
                    connection.send(json.dumps(event, ensure_ascii=False))
                    if event["type"] == "response.done":
                        log_timings(session.timings)
            finally:
                events.close()  # a generator: stops an answer cut short
    except ConnectionClosed:
        pass  # the client went away (even mid-answer): the generator above released the engine
    finally:
        connection.close()


def log_timings(timings: dict[str, float]) -> None:
    """One line on stderr per answer: the seconds each part of the chain took, measured in the server."""
    print("realtime: " + ", ".join(f"{name.replace('_', ' ')} {seconds:.2f} s" for name, seconds in timings.items()),
          file=sys.stderr, flush=True)
    timings.clear()


def check_model(query: dict[str, str]) -> str:
    model = query.get("model")
    if not model:
        raise ApiError("Connect with ?model=... (client.realtime.connect(model=...)).", "model", "missing_model")
    return model
