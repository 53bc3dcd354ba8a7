"""Record calls through a course server, as a lesson in record mode does (for the tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from openai import OpenAI

from ..keys import PLACEHOLDER_KEY
from ..replay.recording import Recording
from ..replay.server import CourseServer

T = TypeVar("T")


def record_calls(upstream: str, path: Path, calls: Callable[[OpenAI], T], api_key: str = PLACEHOLDER_KEY) -> T:
    """Run ``calls(client)`` through a course server recording to ``path`` from ``upstream``; what it returned."""
    server = CourseServer(Recording(path=path, notebook=path.stem), "record", upstream=upstream)
    try:
        return calls(OpenAI(api_key=api_key, base_url=server.start(), max_retries=0))
    finally:
        server.stop()
