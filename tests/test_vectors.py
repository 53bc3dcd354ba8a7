"""helpers.vectors and helpers.embedding_plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.embedding_plots import confusion, heatmap, scatter_2d
from helpers.vectors import cosine_matrix, cosine_similarity, normalize, top_k


def test_cosine_reads_direction_not_length() -> None:
    assert cosine_similarity([1, 0], [5, 0]) == pytest.approx(1.0)
    assert cosine_similarity([1, 0], [0, 3]) == pytest.approx(0.0)
    assert cosine_similarity([1, 2], [-2, -4]) == pytest.approx(-1.0)


def test_cosine_matches_scikit_learn() -> None:
    from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    assert np.allclose(cosine_matrix(a, b), sk_cosine(a, b))
    assert np.allclose(np.diag(cosine_matrix(a)), 1.0)


def test_cosine_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        cosine_similarity([0, 0], [1, 1])
    with pytest.raises(ValueError):
        cosine_similarity([1, 2, 3], [1, 2])
    with pytest.raises(ValueError):
        cosine_matrix(np.ones((2, 3)), np.ones((2, 4)))


def test_normalize_keeps_zero_rows() -> None:
    out = normalize([[3, 4], [0, 0]])
    assert np.allclose(out, [[0.6, 0.8], [0, 0]])


def test_top_k_is_descending_and_excludes() -> None:
    scores = [0.1, 0.9, 0.5, 0.9, 0.3]
    assert top_k(scores, 3).tolist() == [1, 3, 2]  # stable: tie keeps the original order
    assert top_k(scores, 2, exclude=[1]).tolist() == [3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 4, 0]
    assert top_k(scores, 0).tolist() == []
    with pytest.raises(ValueError):
        top_k(scores, -1)


def test_plots_round_and_label() -> None:
    fig = scatter_2d([[0.123456, 1.0], [2.0, 3.0]], ["a", "b"], groups=["x", "y"], title="t")
    assert [t.name for t in fig.data] == ["x", "y"]
    assert fig.data[0].x == (0.1235,)
    fig = heatmap([[0.333333, 1.0]], ["p", "q"], ["r"], title="h")
    assert json.loads(fig.to_json())["data"][0]["z"] == [[0.33, 1.0]]
    assert confusion([[1, 0], [2, 3]], ["a", "b"]).layout.xaxis.title.text == "predicted"
    with pytest.raises(ValueError):
        scatter_2d([[0, 1, 2]], ["a"], title="bad")
    with pytest.raises(ValueError):
        heatmap([[1, 2]], ["a"], ["b"], title="bad")
