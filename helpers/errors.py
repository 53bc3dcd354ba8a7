"""Course errors: short, clear messages instead of long tracebacks."""

from __future__ import annotations


def brief(etype: type[BaseException], message: object) -> list[str]:
    """The traceback IPython shows for an error that explains itself: ``Name: message``, no frames."""
    return [f"{etype.__name__}: {message}"]


class CourseError(Exception):
    """An error whose message tells the learner what to do.

    In Jupyter, IPython calls ``_render_traceback_`` and shows only the message,
    so a setup problem reads as two lines instead of a page of frames.
    """

    def _render_traceback_(self) -> list[str]:
        return brief(type(self), self)


class ConfigError(CourseError):
    """The key, backend or environment is not usable as configured."""


class RecordingError(CourseError):
    """A recording file is missing, corrupt, or from a newer course version."""
