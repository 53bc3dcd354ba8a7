"""Recording files: one JSON per notebook, readable in a diff, with provenance.

The layout, its types and what is derived from an interaction are in :mod:`helpers.replay.interaction`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecordingError
from ..keys import find_secrets
from ..paths import ROOT
from .canon import match_key
from .interaction import FORMAT, Interaction, migrate


@dataclass
class Recording:
    """The interactions of one notebook, and where they came from."""

    path: Path
    notebook: str
    recorded: dict[str, Any] = field(default_factory=dict)
    interactions: list[Interaction] = field(default_factory=list)
    exists: bool = False

    @classmethod
    def load(cls, path: Path, notebook: str | None = None) -> Recording:
        """Read a recording; a missing file gives an empty one, a broken file a clear error."""
        notebook = notebook or path.stem
        if not path.exists():
            return cls(path=path, notebook=notebook)
        hint = f"Restore it with `git checkout -- {_rel(path)}`, or record it again with `make record NB={notebook}`."
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise RecordingError(f"{_rel(path)} is not UTF-8 text ({exc.reason}). {hint}") from None
        except json.JSONDecodeError as exc:
            raise RecordingError(
                f"{_rel(path)} is corrupt or truncated: {exc.msg} at line {exc.lineno}, column {exc.colno}. {hint}"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise RecordingError(f"{_rel(path)} is not a course recording (no 'interactions' list). {hint}")
        version = data.get("format")
        if not isinstance(version, int) or version > FORMAT:
            raise RecordingError(
                f"{_rel(path)} has recording format {version!r}, but this course reads format {FORMAT}. "
                "It was written by a newer version of the course: update your checkout (git pull), then `make lab`."
            )
        data = migrate(data)
        for number, item in enumerate(data["interactions"], start=1):
            if not (isinstance(item, dict) and isinstance(item.get("request"), dict)
                    and isinstance(item.get("response"), dict) and "method" in item["request"]):
                raise RecordingError(f"{_rel(path)}: interaction {number} is malformed. {hint}")
        return cls(
            path=path,
            notebook=data.get("notebook", notebook),
            recorded=data.get("recorded", {}),
            interactions=data["interactions"],
            exists=True,
        )

    def keys(self) -> list[str]:
        """Match keys of every interaction, in order (computed now, from the stored requests)."""
        return [match_key(item["request"]) for item in self.interactions]

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "notebook": self.notebook,
            "recorded": self.recorded,
            "interactions": self.interactions,
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def save(self) -> None:
        """Write atomically; refuse if anything in it looks like a key."""
        text = self.to_json()
        secrets = find_secrets(text)
        if secrets:
            kinds = ", ".join(sorted({kind for kind, _ in secrets}))
            raise RecordingError(f"refused to write {_rel(self.path)}: it would contain a key-shaped string ({kinds}).")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)
        self.exists = True

    def sources(self) -> Counter[str]:
        """How many answers each source gave: model names, 'labelled fixtures', ..."""
        counts: Counter[str] = Counter()
        for item in self.interactions:
            source = item.get("source", {})
            kind = source.get("kind")
            if kind == "model":
                counts[source.get("answered_by") or source.get("requested") or "an unnamed model"] += 1
            elif kind == "fixture":
                counts["labelled fixture"] += 1
            elif kind == "error":
                counts["recorded error"] += 1
        return counts

    def provenance(self) -> str:
        """One line saying where the recorded answers came from."""
        if not self.exists:
            return f"no recorded API calls ({_rel(self.path)} does not exist)"
        if not self.interactions:
            return "recording has no API calls"
        when = str(self.recorded.get("at", "an unknown date"))[:10]
        via = self.recorded.get("backend") or self.recorded.get("upstream") or "an unknown upstream"
        parts = []
        for name, count in self.sources().most_common():
            plural = "s" if count != 1 else ""
            if name == "labelled fixture":
                parts.append(f"{count} labelled fixture{plural}")
            elif name == "recorded error":
                parts.append(f"{count} recorded error{plural}")
            else:
                parts.append(f"{count} answer{plural} from {name}")
        other = len(self.interactions) - sum(self.sources().values())
        if other:
            parts.append(f"{other} service call{'s' if other != 1 else ''}")
        emulated = sum(1 for item in self.interactions if item.get("source", {}).get("emulated"))
        if emulated:
            parts.append(f"reasoning emulated in {emulated}")
        return f"recorded {when} via {via}: " + ", ".join(parts)


def _rel(path: Path) -> str:
    """Path relative to the course root, as a learner would type it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
