"""Small plotly charts for the lessons. Each returns a ``go.Figure``; the notebook displays it.

Figures use plotly's default renderer, so nbval compares their JSON, which is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

# A small template of our own: plotly's built-in ones add ~30 KB of JSON to every stored figure.
COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]
TEMPLATE = go.layout.Template(layout={
    "colorway": COLOURS, "font": {"family": "sans-serif", "size": 13},
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "xaxis": {"gridcolor": "#e5e5e5", "linecolor": "#999", "zeroline": False},
    "yaxis": {"gridcolor": "#e5e5e5", "linecolor": "#999", "zeroline": False},
})


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x_title, yaxis_title=y_title, template=TEMPLATE,
        legend_title_text="", height=380, margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    return fig


def grouped_bars(
    table: pd.DataFrame, x: str, columns: Sequence[str], *, title: str, y_title: str = "tokens"
) -> go.Figure:
    """One bar per row of ``table`` for each of ``columns`` (e.g. tokens per text, one colour per encoding)."""
    fig = go.Figure()
    for column in columns:
        fig.add_trace(go.Bar(name=str(column), x=list(table[x]), y=[float(v) for v in table[column]]))
    fig.update_layout(barmode="group")
    return _layout(fig, title, x, y_title)


def lines(
    table: pd.DataFrame, x: str, columns: Sequence[str], *, title: str, x_title: str, y_title: str,
    log_y: bool = False,
) -> go.Figure:
    """One line per column of ``table`` against column ``x`` (e.g. cost in USD against tokens, per model)."""
    fig = go.Figure()
    for column in columns:
        fig.add_trace(go.Scatter(name=str(column), x=[float(v) for v in table[x]],
                                 y=[float(v) for v in table[column]], mode="lines+markers"))
    if log_y:
        fig.update_yaxes(type="log")
    return _layout(fig, title, x_title, y_title)
