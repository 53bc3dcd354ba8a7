"""Prices and cost estimates, from the dated table in ``data/prices.csv``.

Prices are USD per 1M tokens (or per minute for transcription), checked on the date in each row;
rows with ``verified == False`` were not read on an OpenAI page (see the ``source`` column).
Always confirm current prices on OpenAI's pricing page before budgeting.

Token counts come from a response's ``usage``: :func:`cost_of` reads both shapes, the Responses
API's (``input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``) and Chat
Completions' (``prompt_tokens``, ``completion_tokens``, ``prompt_tokens_details.cached_tokens``).
Not modelled: cache-write surcharges (``cache_write_tokens``), long-context multipliers, Batch and
Flex discounts, regional uplifts, per-call tool fees. Treat results as estimates.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CourseError
from .paths import DATA

if TYPE_CHECKING:
    import pandas as pd

PRICES = DATA / "prices.csv"
PER_MILLION = "1M tokens"
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class UnknownModelError(CourseError, KeyError):
    """The price table has no row for this model."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Price:
    """One row of the price table. Amounts in USD per ``unit``; ``None`` when not applicable."""

    model: str
    kind: str
    unit: str
    input: float
    cached_input: float | None
    output: float | None
    checked_on: str
    verified: bool


@cache
def _table(path: Path) -> pd.DataFrame:
    import pandas as pd  # only for the table itself: pricing one call (the meter, in every kernel) needs no pandas

    return pd.read_csv(path, dtype={"model": str, "checked_on": str})


@cache
def _rows(path: Path) -> tuple[dict[str, str], ...]:
    with open(path, newline="", encoding="utf-8") as fh:
        return tuple(csv.DictReader(fh))


def load_prices(path: Path = PRICES) -> pd.DataFrame:
    """The price table as a DataFrame (a copy: change it freely)."""
    return _table(Path(path)).copy()


def known_models(path: Path = PRICES) -> list[str]:
    """Model ids that have a price."""
    return [row["model"] for row in _rows(Path(path))]


def _amount(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return None if isinstance(value, float) and math.isnan(value) else float(value)


def price_of(model: str, path: Path = PRICES) -> Price:
    """The price row for ``model``; a dated snapshot (``gpt-5.4-mini-2026-03-17``) uses its alias's row."""
    rows = _rows(Path(path))
    for candidate in dict.fromkeys((model, _SNAPSHOT.sub("", model))):
        row = next((r for r in rows if r["model"] == candidate), None)
        if row is not None:
            return Price(
                model=candidate,
                kind=row["kind"],
                unit=row["unit"],
                input=float(row["input_usd"] or "nan"),
                cached_input=_amount(row["cached_input_usd"]),
                output=_amount(row["output_usd"]),
                checked_on=row["checked_on"],
                verified=row["verified"].strip().lower() == "true",
            )
    raise UnknownModelError(
        f"No price for model {model!r} in {Path(path).name}. Known models: {', '.join(known_models(path))}. "
        "Add a row (with the date you checked and your source) to price another model."
    )


def estimate_cost(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Cost in USD of one request.

    ``input_tokens`` counts every input token, cached ones included (as ``usage`` reports them);
    ``cached_tokens`` of them are billed at the cached-input price when the model has one.
    """
    if min(input_tokens, output_tokens, cached_tokens) < 0:
        raise ValueError("token counts cannot be negative")
    if cached_tokens > input_tokens:
        raise ValueError(f"cached_tokens ({cached_tokens}) cannot exceed input_tokens ({input_tokens})")
    price = price_of(model)
    if price.unit != PER_MILLION:
        raise ValueError(f"{price.model} is priced per {price.unit}, not per token")
    if output_tokens and price.output is None:
        raise ValueError(f"{price.model} has no output-token price (a {price.kind} model produces no output tokens)")
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    dollars = (
        (input_tokens - cached_tokens) * price.input
        + cached_tokens * cached_rate
        + output_tokens * (price.output or 0.0)
    )
    return dollars / 1_000_000


def _get(obj: Any, name: str) -> Any:
    """Attribute or dict key ``name`` of ``obj``, else None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def usage_tokens(usage: Any) -> tuple[int, int, int]:
    """``(input, output, cached)`` token counts from a Responses or Chat Completions ``usage``."""
    if _get(usage, "input_tokens") is not None:  # Responses API
        details = _get(usage, "input_tokens_details")
        return int(_get(usage, "input_tokens")), int(_get(usage, "output_tokens") or 0), int(
            _get(details, "cached_tokens") or 0
        )
    if _get(usage, "prompt_tokens") is not None:  # Chat Completions
        details = _get(usage, "prompt_tokens_details")
        return int(_get(usage, "prompt_tokens")), int(_get(usage, "completion_tokens") or 0), int(
            _get(details, "cached_tokens") or 0
        )
    raise TypeError(
        "usage must be a Responses usage (input_tokens, output_tokens) or a Chat Completions usage "
        f"(prompt_tokens, completion_tokens), not {type(usage).__name__}"
    )


def cost_of(usage: Any, model: str) -> float:
    """Cost in USD of a response, from its ``usage`` (Responses or Chat Completions shape, or a dict)."""
    input_tokens, output_tokens, cached_tokens = usage_tokens(usage)
    return estimate_cost(model, input_tokens, output_tokens, cached_tokens)
