"""Usage and estimated cost of this notebook's API calls: ``usage.summary()`` shows the table.

The course server shows every answer to a meter (:mod:`helpers.kernel.meter`), which adds up its ``usage`` and
prices it from ``data/prices.csv``; in live and record mode against OpenAI it also enforces ``COURSE_MAX_USD``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigError
from .kernel.meter import DEFAULT_CAP_USD, Call, Meter, cap_from_env, find_usage
from .session import current

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_CAP_USD", "Call", "Meter", "cap_from_env", "find_usage", "summary"]


def summary() -> pd.DataFrame:
    """The usage table of this notebook's session so far (see :meth:`Meter.summary`)."""
    session = current()
    if session is None or session.usage is None:
        raise ConfigError("Run setup(\"<notebook>\") first: usage is counted by the course's server.")
    return session.usage.summary()
