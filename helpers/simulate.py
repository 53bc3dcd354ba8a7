"""Simulate what real APIs do under load, in a lesson.

``simulate.failure("rate_limit", times=2)`` makes the next calls fail the way the API fails (401, 429 with
retry-after, 429 quota, 500, a retired model, a stream cut mid-way), so you can see each exception and
practise the right reaction. Live and record mode inject them in the course's server; replay plays back the
ones recorded. ``simulate.latency(0.25)`` makes the course's server wait before every answer, in every mode,
so timing lessons measure something even when answers come from a recording.
"""

from __future__ import annotations

from .errors import ConfigError
from .replay.faults import FAULTS, names
from .replay.server import CourseServer
from .session import current

__all__ = ["FAULTS", "failure", "latency", "names"]


def _server() -> CourseServer:
    session = current()
    if session is None or session.server is None:
        raise ConfigError("Run setup(\"<notebook>\") first: the course's server does the simulating.")
    return session.server


def failure(name: str, times: int = 1, *, after_events: int = 3) -> None:
    """Make the next ``times`` API calls fail with the simulated fault ``name`` (see ``names()``)."""
    _server().inject(name, times, after_events=after_events)


def latency(seconds: float) -> None:
    """Wait ``seconds`` before each answer (0 turns it off); concurrent calls wait in parallel."""
    if seconds < 0:
        raise ValueError("latency cannot be negative")
    _server().latency = seconds
