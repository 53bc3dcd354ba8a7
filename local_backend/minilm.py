"""all-MiniLM-L6-v2 without torch: its BERT encoder as numpy matrix products over the safetensors weights.

The model is six standard BERT layers (384 wide, 12 heads, GELU), mean-pooled and normalised as
sentence-transformers does (``modules.json``: Transformer, Pooling mean, Normalize), inputs cut at 256 tokens
(``sentence_bert_config.json``). Tokenised by ``tokenizers`` with the model's own tokenizer.json. The vectors
match the torch model's to float32 rounding (cosine 1.0000 on the sentences measured in local_backend/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
COUNT_LIMIT = 512  # usage counts tokens as the old engine did: the tokenizer's own limit
BATCH = 32
HEADS = 12
EPS = 1e-12


def erf(x: Any) -> Any:
    """The error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7: float32 rounding)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def layer_norm(x: Any, weight: Any, bias: Any) -> Any:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


class Encoder:
    """Sentence vectors from the safetensors weights (float32 throughout, as torch on CPU)."""

    def __init__(self, weights: Path, tokenizer: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = load_file(str(weights))
        for name in [k for k in self.w if k.endswith(".weight") and k.startswith("encoder.")]:
            if self.w[name].ndim == 2:  # stored (out, in): keep (in, out) contiguous for BLAS
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.layers = 1 + max(int(k.split(".")[2]) for k in self.w if k.startswith("encoder.layer."))

    def _linear(self, x: Any, name: str) -> Any:
        flat = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))  # 2-D, so numpy hands it to BLAS
        return (flat @ self.w[name + ".weight"] + self.w[name + ".bias"]).reshape(*x.shape[:-1], -1)

    def _forward(self, ids: Any, mask: Any) -> Any:
        w = self.w
        batch, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        width = x.shape[-1] // HEADS
        blocked = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            q, k, v = (self._linear(x, p + f"attention.self.{n}").reshape(batch, length, HEADS, width)
                       .transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(width)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attention = (scores / scores.sum(-1, keepdims=True)) @ v
            attention = attention.transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = layer_norm(x + self._linear(attention, p + "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inner = self._linear(x, p + "intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner / np.float32(np.sqrt(2.0))))
            x = layer_norm(x + self._linear(inner.astype(np.float32), p + "output.dense"),
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str]) -> tuple[Any, int]:
        """Unit vectors (float32, one row per text) and the number of input tokens."""
        encodings = self.tokenizer.encode_batch(texts)
        tokens = sum(min(len(e.ids), COUNT_LIMIT) for e in encodings)
        rows = [e.ids if len(e.ids) <= MAX_TOKENS else e.ids[:MAX_TOKENS - 1] + e.ids[-1:] for e in encodings]
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))  # similar lengths share a batch
        for start in range(0, len(order), BATCH):
            group = order[start:start + BATCH]
            length = max(len(rows[i]) for i in group)
            ids = np.zeros((len(group), length), dtype=np.int64)
            mask = np.zeros((len(group), length), dtype=np.float32)
            for row, i in enumerate(group):
                ids[row, :len(rows[i])] = rows[i]
                mask[row, :len(rows[i])] = 1.0
            out[group] = self._forward(ids, mask).astype(np.float32)
        return out, tokens
