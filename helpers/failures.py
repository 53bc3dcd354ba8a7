"""Simulate API failures in a lesson: ``failures.inject("rate_limit", times=2)``.

The next calls then fail the way the API fails (401, 429 with retry-after, 429 quota, 500, a retired
model, a stream cut mid-way), so you can see each exception and practise the right reaction. Live
and record mode inject them in the course's server; replay plays back the ones recorded.
"""

from __future__ import annotations

from .errors import ConfigError
from .replay.faults import FAULTS, names
from .session import current

__all__ = ["FAULTS", "inject", "names"]


def inject(name: str, times: int = 1, *, after_events: int = 3) -> None:
    """Make the next ``times`` API calls fail with the simulated fault ``name`` (see ``names()``)."""
    session = current()
    if session is None or session.server is None:
        raise ConfigError("Run setup(\"<notebook>\") first: failures are simulated by the course's server.")
    session.server.inject(name, times, after_events=after_events)
