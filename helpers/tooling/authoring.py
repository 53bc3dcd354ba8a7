"""Chores for course authors: keep notebooks free of volatile metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_METADATA_KEPT = ("tags",)


def clean(notebook: dict[str, Any]) -> dict[str, Any]:
    """Drop timings, widget state and interpreter versions; keep sources, outputs and tags."""
    notebook["metadata"] = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for cell in notebook["cells"]:
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in CELL_METADATA_KEPT}
    return notebook


def clean_file(path: Path) -> bool:
    """Clean a notebook file in place; True if it changed."""
    before = path.read_text(encoding="utf-8")
    after = dumps(clean(json.loads(before)))
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def dumps(notebook: dict[str, Any]) -> str:
    """The JSON layout Jupyter itself writes (one-space indent, sorted keys, final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
