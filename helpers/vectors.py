"""Vector arithmetic for the embedding lessons: cosine similarity and ranked top-k search.

These are the few lines every embedding application repeats. They take plain numpy arrays (one vector per row),
so the notebooks keep the API calls visible and pass the vectors in.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike


def as_matrix(vectors: ArrayLike) -> np.ndarray:
    """``vectors`` as a 2-D float array, one vector per row (a single vector becomes one row)."""
    matrix = np.asarray(vectors, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[np.newaxis, :]
    if matrix.ndim != 2:
        raise ValueError(f"expected one vector or a list of vectors, got an array of shape {matrix.shape}")
    return matrix


def normalize(vectors: ArrayLike) -> np.ndarray:
    """Each row scaled to length 1 (rows of zeros stay zero)."""
    matrix = as_matrix(vectors)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float:
    """cos(a, b) = a·b / (|a| |b|): 1 same direction, 0 orthogonal, -1 opposite."""
    va, vb = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if va.shape != vb.shape:
        raise ValueError(f"vectors differ in length: {va.size} and {vb.size}")
    denominator = np.linalg.norm(va) * np.linalg.norm(vb)
    if denominator == 0:
        raise ValueError("cosine similarity is undefined for a zero vector")
    return float(va @ vb / denominator)


def cosine_matrix(rows: ArrayLike, columns: ArrayLike | None = None) -> np.ndarray:
    """Cosine similarity of every row of ``rows`` with every row of ``columns`` (default: ``rows`` itself)."""
    left = normalize(rows)
    right = left if columns is None else normalize(columns)
    if left.shape[1] != right.shape[1]:
        raise ValueError(f"vectors differ in length: {left.shape[1]} and {right.shape[1]}")
    return left @ right.T


def top_k(scores: ArrayLike, k: int, exclude: Iterable[int] = ()) -> np.ndarray:
    """Indices of the ``k`` highest scores, **highest first**, leaving out the indices in ``exclude``.

    Ties keep their original order (a stable sort), so results are reproducible.
    """
    values = np.asarray(scores, dtype=float).ravel()
    if k < 0:
        raise ValueError("k cannot be negative")
    order = np.argsort(-values, kind="stable")
    skip = set(int(i) for i in exclude)
    return np.array([i for i in order if int(i) not in skip][:k], dtype=int)
