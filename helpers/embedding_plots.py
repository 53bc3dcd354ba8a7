"""Plotly charts for the embedding lessons: 2-D scatter of projected vectors, heatmaps of similarities and
confusion matrices. Each returns a ``go.Figure``; the notebook displays it.

Numbers are rounded (4 decimals by default) before they go into the figure, so the stored JSON does not change
with floating-point noise in the last digits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from .plots import COLOURS, TEMPLATE


def _rounded(values: ArrayLike, digits: int) -> list:
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def scatter_2d(
    points: ArrayLike, labels: Sequence[str], *, groups: Sequence[str] | None = None, title: str,
    digits: int = 4, show_text: bool = True,
) -> go.Figure:
    """One marker per row of ``points`` (n × 2), labelled with ``labels``; one colour per value of ``groups``."""
    xy = np.asarray(points, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise ValueError("points must be an n × 2 array with one label per row")
    groups = list(groups) if groups is not None else [""] * len(xy)
    fig = go.Figure()
    for i, group in enumerate(dict.fromkeys(groups)):
        rows = [j for j, g in enumerate(groups) if g == group]
        fig.add_trace(go.Scatter(
            x=_rounded(xy[rows, 0], digits), y=_rounded(xy[rows, 1], digits), name=str(group),
            text=[str(labels[j]) for j in rows], mode="markers+text" if show_text else "markers",
            textposition="top center", marker={"size": 9, "color": COLOURS[i % len(COLOURS)]},
            hovertemplate="%{text}<extra></extra>",
        ))
    fig.update_layout(title=title, template=TEMPLATE, height=520, showlegend=any(groups),
                      margin={"l": 40, "r": 20, "t": 60, "b": 40})
    return fig


def heatmap(
    matrix: ArrayLike, x: Sequence[str], y: Sequence[str], *, title: str, digits: int = 2,
    colorscale: str = "Blues", zmin: float | None = None, zmax: float | None = None, text: bool = True,
) -> go.Figure:
    """A heatmap of ``matrix`` (rows ``y``, columns ``x``), each cell showing its value when ``text``."""
    values = np.asarray(matrix, dtype=float)
    if values.shape != (len(y), len(x)):
        raise ValueError(f"matrix has shape {values.shape}, labels give {(len(y), len(x))}")
    fig = go.Figure(go.Heatmap(
        z=_rounded(values, digits), x=[str(v) for v in x], y=[str(v) for v in y], colorscale=colorscale,
        zmin=zmin, zmax=zmax, texttemplate="%{z}" if text else None,
    ))
    fig.update_layout(title=title, template=TEMPLATE, height=max(380, 22 * len(y) + 160),
                      yaxis={"autorange": "reversed"}, margin={"l": 120, "r": 20, "t": 60, "b": 100})
    return fig


def confusion(matrix: ArrayLike, labels: Sequence[str], *, title: str = "Confusion matrix") -> go.Figure:
    """A confusion matrix from scikit-learn (rows: true label, columns: predicted label) as a heatmap."""
    fig = heatmap(matrix, labels, labels, title=title, digits=0)
    fig.update_layout(xaxis_title="predicted", yaxis_title="true")
    return fig
