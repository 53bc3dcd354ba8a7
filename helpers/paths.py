"""Where the course's files live."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
RECORDINGS = DATA / "recordings"
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / ".cache"


def recording_path(notebook: str) -> Path:
    """The recording of a notebook: ``data/recordings/<notebook>.json`` (``COURSE_RECORDINGS_DIR`` moves it)."""
    folder = Path(os.environ.get("COURSE_RECORDINGS_DIR") or RECORDINGS)
    return folder / f"{Path(notebook).stem}.json"
