"""``POST /v1/embeddings``: all-MiniLM-L6-v2 sentence vectors (384 dimensions, unit length).

``dimensions`` below 384 truncates each vector and renormalises it to unit length, as OpenAI does for
text-embedding-3 models. MiniLM was not trained for truncation (OpenAI's models were), so quality
drops faster as you cut; more than 384 dimensions is a 400.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from .common import GENERATION_LOCK, Call, Reply, check_known, integer, invalid, unsupported
from .engines import EmbeddingEngine, Engines

FIELDS = {"model", "input", "encoding_format", "dimensions", "user"}
MAX_INPUTS = 2048


def texts_of(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise invalid("input", "must be a non-empty string or list of strings.")
    if len(items) > MAX_INPUTS:
        raise invalid("input", f"at most {MAX_INPUTS} inputs per request.")
    if not all(isinstance(t, str) for t in items):
        raise unsupported("input", "token-id inputs use OpenAI's tokenizer, which the local model does not share; "
                                   "send text.")
    if any(not t for t in items):
        raise invalid("input", "empty strings cannot be embedded.")
    return items


def shorten(vector: list[float], dims: int) -> list[float]:
    """The first ``dims`` values, rescaled to unit length."""
    cut = vector[:dims]
    norm = math.sqrt(sum(v * v for v in cut)) or 1.0
    return [v / norm for v in cut]


def encode(vector: list[float], fmt: str) -> Any:
    if fmt == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    # Round-trip through float32 so the float list equals what the base64 form decodes to.
    return list(struct.unpack(f"<{len(vector)}f", struct.pack(f"<{len(vector)}f", *vector)))


def embeddings(call: Call, engines: Engines) -> Reply:
    """Answer an embeddings request."""
    body = call.body
    check_known(body, FIELDS, "embeddings")
    if not isinstance(body.get("model"), str):
        raise invalid("model", "is required.")
    texts = texts_of(body.get("input"))
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise invalid("encoding_format", "must be 'float' or 'base64'.")
    engine: EmbeddingEngine = engines.get("embedding")
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or dims > engine.dimensions):
        raise unsupported("dimensions", f"{engine.name} has {engine.dimensions} dimensions; ask for at most that "
                                        "many (fewer are truncated and renormalised).")
    dims = integer(body, "dimensions", 1, engine.dimensions, engine.dimensions) or engine.dimensions
    with GENERATION_LOCK:
        vectors, tokens = engine.embed(texts)
    data = [{"object": "embedding", "index": i, "embedding": encode(shorten(v, dims) if dims < len(v) else v, fmt)}
            for i, v in enumerate(vectors)]
    return Reply(json={"object": "list", "data": data, "model": engine.name,
                       "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, model=engine.name)
