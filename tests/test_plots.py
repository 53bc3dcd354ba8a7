"""Plot helpers return deterministic plotly figures."""

from __future__ import annotations

import pandas as pd

from helpers.plots import grouped_bars, lines

TABLE = pd.DataFrame({"text": ["a", "b"], "o200k_base": [3, 5], "cl100k_base": [4, 7]})


def test_grouped_bars() -> None:
    fig = grouped_bars(TABLE, "text", ["o200k_base", "cl100k_base"], title="Tokens")
    assert [t.name for t in fig.data] == ["o200k_base", "cl100k_base"]
    assert list(fig.data[1].y) == [4.0, 7.0]
    assert fig.layout.barmode == "group"
    assert fig.to_json() == grouped_bars(TABLE, "text", ["o200k_base", "cl100k_base"], title="Tokens").to_json()


def test_lines_log_axis() -> None:
    fig = lines(TABLE.assign(n=[1, 2]), "n", ["o200k_base"], title="t", x_title="x", y_title="y", log_y=True)
    assert fig.layout.yaxis.type == "log" and fig.data[0].mode == "lines+markers"
