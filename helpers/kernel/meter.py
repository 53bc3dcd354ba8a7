"""The meter of a notebook's API calls: usage, estimated cost, and the live spending cap (``COURSE_MAX_USD``).

The course server shows every answer to a :class:`Meter`, which reads its ``usage`` and prices it from
``data/prices.csv``. In live and record mode against OpenAI, a call is refused once the notebook's estimated
spend has reached the cap (1.00 USD unless ``COURSE_MAX_USD`` says otherwise; ``none`` turns it off).
In replay the same table shows what the recorded calls would have cost live. Learners read it through
``helpers.usage.summary()``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cost import UnknownModelError, estimate_cost, usage_tokens
from ..errors import ConfigError
from ..replay.interaction import StoredRequest, StoredResponse, answered_model, requested_model, status_of, usage_of

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_CAP_USD = 1.00
FALLBACK = "local backend"  # the origin of a replay miss answered by the local backend (helpers.replay.fallback)


@dataclass
class Call:
    """One metered API call."""

    path: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    usd: float | None  # None when the price table has no row for the model
    origin: str = ""  # FALLBACK for an answer the local backend gave in place of the recording (replay)


def cap_from_env(value: str | None = None, *, paid: bool = True) -> float | None:
    """The cap in USD from ``COURSE_MAX_USD``: a number, or ``none``; by default 1.00 for paid upstreams."""
    raw = (value if value is not None else os.environ.get("COURSE_MAX_USD", "")).strip().lower()
    if raw in ("none", "off", "no"):
        return None
    if not raw:
        return DEFAULT_CAP_USD if paid else None
    try:
        cap = float(raw)
    except ValueError:
        raise ConfigError(f"COURSE_MAX_USD={raw!r} is not a number of dollars (e.g. 0.50) or 'none'.") from None
    if cap < 0:
        raise ConfigError("COURSE_MAX_USD cannot be negative.")
    return cap


find_usage = usage_of  # the usage of a stored response (its JSON body, or the last stream event with one)


class Meter:
    """Adds up the calls of one notebook session; ``gate`` refuses a call once the cap is reached."""

    def __init__(self, cap_usd: float | None = None, price_model: str | None = None) -> None:
        self.cap_usd = cap_usd
        self.price_model = price_model  # price every call as this model (e.g. a local stand-in's role)
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, request: StoredRequest, response: StoredResponse, origin: str = "") -> None:
        """Record one answer (called by the course server). Only a POST generates (and bills) tokens: fetching a
        stored response again (``GET /v1/responses/{id}``) returns its usage but costs nothing. ``origin``
        marks an answer that did not come from where the others did (:data:`FALLBACK`)."""
        if request.get("method", "POST") != "POST":
            return
        usage = usage_of(response)
        if usage is None or status_of(response) >= 400:
            return
        requested = requested_model(request) or ""  # uploads (image edits, audio) name it in their form
        answered = answered_model(response) or requested
        try:
            tokens = usage_tokens(usage)
        except TypeError:
            return
        usd = None
        for model in filter(None, (self.price_model, answered, requested)):
            try:
                usd = estimate_cost(model, *tokens[:2], cached_tokens=tokens[2])
                break
            except (UnknownModelError, ValueError):
                continue
        with self._lock:
            self.calls.append(Call(request["path"], answered, *tokens, usd, origin))

    @property
    def total_usd(self) -> float:
        return sum(c.usd or 0.0 for c in self.calls)

    def gate(self, request: StoredRequest) -> str | None:
        """A refusal message when the cap is reached, else None."""
        if self.cap_usd is None or self.total_usd < self.cap_usd:
            return None
        return (
            f"Spending cap reached: this notebook's calls have cost an estimated ${self.total_usd:.4f}, and "
            f"COURSE_MAX_USD is {self.cap_usd:.2f}. Nothing was sent. Raise COURSE_MAX_USD in .env (or set it "
            "to 'none'), then rerun the setup cell."
        )

    def summary(self) -> pd.DataFrame:
        """Calls, tokens and estimated cost per endpoint and model; once the local backend answered in place of
        the recording, per origin too (a first column ``from``: ``recording`` or ``local backend``)."""
        import pandas as pd  # only here: a notebook that never asks for the table starts without pandas

        keys = ["path", "model"]
        if any(c.origin for c in self.calls):
            keys = ["from", *keys]
        columns = [*keys, "calls", "input_tokens", "output_tokens", "cached_tokens", "usd"]
        if not self.calls:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame([c.__dict__ for c in self.calls]).assign(calls=1)
        frame["from"] = frame.pop("origin").replace("", "recording")
        table = frame.groupby(keys, as_index=False).agg(
            calls=("calls", "sum"), input_tokens=("input_tokens", "sum"), output_tokens=("output_tokens", "sum"),
            cached_tokens=("cached_tokens", "sum"), usd=("usd", lambda s: s.sum(min_count=1)),
        )
        return table[columns]

