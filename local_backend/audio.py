"""``/v1/audio/transcriptions``, ``/v1/audio/translations`` (Whisper) and ``/v1/audio/speech`` (hibari).

English transcriptions (no ``language``, or ``en``) use Whisper tiny.en; another ``language`` and every translation
use Whisper base, which is multilingual (its ``translate`` task writes English). Without a multilingual engine a
``language`` other than ``en`` is a 400, and a "translation" is an English transcription (labelled by the header
``x-course-note``). Speech is WAV or raw PCM (24 kHz, 16-bit)
from the one bundled voice; mp3/opus/aac/flac are encoded by PyAV when its codecs are installed, else 400.
"""

from __future__ import annotations

import io
import math
import wave
from typing import Any

from .common import GENERATION_LOCK, ApiError, Call, Reply, check_known, invalid, number, unsupported
from .engines import Engines, SpeechEngine, TranscriptionEngine

TRANSCRIBE_FIELDS = {"file", "model", "language", "prompt", "response_format", "temperature",
                     "timestamp_granularities[]", "timestamp_granularities"}
TRANSLATE_FIELDS = {"file", "model", "prompt", "response_format", "temperature"}
FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
SPEECH_FIELDS = {"model", "input", "voice", "response_format", "speed"}
CONTENT_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm", "mp3": "audio/mpeg", "opus": "audio/ogg",
                 "aac": "audio/aac", "flac": "audio/flac"}
PYAV_CODECS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"),
               "flac": ("flac", "flac")}
# OpenAI's built-in voices (SDK docstring of ``audio.speech.create``): accepted and spoken with the one local voice,
# so lesson cells can use a real OpenAI voice name and stay copyable.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
                 "marin", "cedar")
TRANSLATE_NOTE = ("whisper tiny.en is English-only: a translation is an English transcription; "
                  "speech in other languages is not translated")
# verbose_json names the language as OpenAI does (Whisper's own names); codes without a name here stay codes.
LANGUAGE_NAMES = {"en": "english", "de": "german", "es": "spanish", "fr": "french", "it": "italian",
                  "pt": "portuguese", "nl": "dutch", "pl": "polish", "sv": "swedish", "fi": "finnish",
                  "et": "estonian", "ja": "japanese", "zh": "chinese"}


def recogniser(engines: Engines, language: str | None, task: str) -> TranscriptionEngine:
    """Whisper tiny.en for English transcription; the multilingual Whisper for other languages and translation."""
    if (task == "translate" or language not in (None, "", "en")) and "multilingual" in engines.factories:
        return engines.get("multilingual")
    if language not in (None, "", "en"):
        raise unsupported("language", "the local Whisper model (tiny.en) transcribes English only.")
    return engines.get("transcription")


def stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles(segments: list[dict[str, Any]], fmt: str) -> str:
    """SubRip or WebVTT text of the segments."""
    if fmt == "srt":
        blocks = [f"{i}\n{stamp(s['start'], ',')} --> {stamp(s['end'], ',')}\n{s['text'].strip()}\n"
                  for i, s in enumerate(segments, 1)]
        return "\n".join(blocks) + "\n"
    blocks = [f"{stamp(s['start'], '.')} --> {stamp(s['end'], '.')}\n{s['text'].strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks) + "\n"


def granularities(fields: dict[str, Any]) -> list[str]:
    value = fields.get("timestamp_granularities[]", fields.get("timestamp_granularities")) or []
    items = [value] if isinstance(value, str) else list(value)
    for g in items:
        if g not in ("segment", "word"):
            raise invalid("timestamp_granularities", "must be 'segment' and/or 'word'.")
    return items


def transcribe(call: Call, engines: Engines, fields: dict[str, Any], files: dict[str, tuple[str, bytes]],
               task: str = "transcribe") -> Reply:
    """Answer a transcription (or, English-only, a translation) request from a multipart form."""
    check_known(fields | dict.fromkeys(files, "file"),
                TRANSCRIBE_FIELDS if task == "transcribe" else TRANSLATE_FIELDS, f"audio.{task}s")
    if "file" not in files:
        raise invalid("file", "an audio file is required.")
    if not fields.get("model"):
        raise invalid("model", "is required.")
    fmt = fields.get("response_format") or "json"
    if fmt not in FORMATS:
        raise unsupported("response_format", f"must be one of {', '.join(FORMATS)}.")
    language = fields.get("language") or None
    engine = recogniser(engines, language, task)
    temperature = number({"t": float(fields.get("temperature") or 0)}, "t", 0, 1, 0.0) or 0.0
    grains = granularities(fields)
    if grains and fmt != "verbose_json":
        raise invalid("timestamp_granularities", "needs response_format='verbose_json'.")
    multilingual = getattr(engine, "multilingual", False)
    if task == "translate" and not multilingual:
        call.headers["x-course-note"] = TRANSLATE_NOTE
    with GENERATION_LOCK:
        try:
            extra = {"task": task} if multilingual else {}  # tiny.en only transcribes
            result = engine.transcribe(files["file"][1], language=language if multilingual else "en",
                                       prompt=fields.get("prompt") or None, temperature=temperature,
                                       words="word" in grains, **extra)
        except (ValueError, OSError, RuntimeError) as exc:
            raise ApiError(f"The audio file could not be decoded: {exc}", "file", "invalid_value") from exc
    usage = {"type": "duration", "seconds": math.ceil(result["duration"])}
    if fmt == "json":
        return Reply(json={"text": result["text"], "usage": usage}, model=engine.name)
    if fmt == "text":
        return Reply(body=(result["text"] + "\n").encode(), content_type="text/plain; charset=utf-8", model=engine.name)
    if fmt in ("srt", "vtt"):
        return Reply(body=subtitles(result["segments"], fmt).encode(), content_type="text/plain; charset=utf-8",
                     model=engine.name)
    spoken = "english" if task == "translate" else LANGUAGE_NAMES.get(result["language"], result["language"])
    verbose: dict[str, Any] = {"task": task, "language": spoken, "duration": round(result["duration"], 3),
                               "text": result["text"]}
    if not grains or "segment" in grains:
        verbose["segments"] = [
            {"id": i, "seek": s.get("seek", 0), "start": round(s["start"], 3), "end": round(s["end"], 3),
             "text": s["text"], "tokens": s["tokens"], "temperature": s["temperature"],
             "avg_logprob": s["avg_logprob"], "compression_ratio": s["compression_ratio"],
             "no_speech_prob": s["no_speech_prob"]} for i, s in enumerate(result["segments"])]
    if "word" in grains:
        verbose["words"] = [{"word": w["word"].strip(), "start": round(w["start"], 3), "end": round(w["end"], 3)}
                            for s in result["segments"] for w in s.get("words", [])]
    verbose["usage"] = usage
    return Reply(json=verbose, model=engine.name)


def wav_bytes(samples: Any, rate: int) -> bytes:
    import numpy as np

    pcm = (np.clip(np.asarray(samples, dtype="float32"), -1, 1) * 32767).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def pyav_can(fmt: str) -> bool:
    """Whether the installed PyAV (if any) has an encoder for ``fmt``."""
    try:
        import av
    except ImportError:
        return False
    container, codec = PYAV_CODECS[fmt]
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - PyAV raises several kinds for a missing codec
        return False
    return container in av.formats_available


def encode_pyav(samples: Any, rate: int, fmt: str) -> bytes:
    """Encode mono float samples with PyAV's bundled FFmpeg."""
    import av
    import numpy as np

    container_name, codec = PYAV_CODECS[fmt]
    out_rate = 48000 if fmt == "opus" else rate
    out = io.BytesIO()
    with av.open(out, "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=out_rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.asarray(samples, dtype="float32")[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(f):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def speech(call: Call, engines: Engines) -> Reply:
    """Answer ``audio.speech.create`` with the bundled voice."""
    body = call.body
    check_known(body, SPEECH_FIELDS, "audio.speech")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    text = body.get("input")
    if not isinstance(text, str) or not text.strip() or len(text) > 4096:
        raise invalid("input", "must be a non-empty string of at most 4096 characters.")
    engine: SpeechEngine = engines.get("speech")
    voice = body.get("voice")
    if voice in OPENAI_VOICES:
        call.headers["x-course-note"] = (f"OpenAI's voice {voice!r} does not exist offline: spoken with "
                                         f"{engine.name}'s only voice, {engine.voices[0]!r}")
        voice = engine.voices[0]
    elif voice not in engine.voices:
        raise unsupported("voice", f"the offline voices are {', '.join(engine.voices + OPENAI_VOICES)} "
                                   f"({engine.name}; OpenAI's names are all spoken with {engine.voices[0]!r}).")
    fmt = body.get("response_format") or "mp3"
    if fmt not in CONTENT_TYPES or (fmt in PYAV_CODECS and not pyav_can(fmt)):
        raise unsupported("response_format", f"{fmt!r} cannot be encoded here; use 'wav' or 'pcm'.")
    speed = number(body, "speed", 0.25, 4.0, 1.0) or 1.0
    with GENERATION_LOCK:
        samples, rate = engine.speak(text, voice=voice, speed=speed)
    if fmt == "wav":
        data = wav_bytes(samples, rate)
    elif fmt == "pcm":
        data = wav_bytes(samples, rate)[44:]
    else:
        data = encode_pyav(samples, rate, fmt)
    return Reply(body=data, content_type=CONTENT_TYPES[fmt], model=engine.name)
