"""The course's lesson catalogue, read from the notebooks themselves (found by glob, never a fixed list).

For each lesson ``notebooks/NN_topic.ipynb``: its number, its title (the first ``#`` heading), a one-line summary,
its learning objectives and section headings, and its solutions notebook if there is one. The static site
(``make site``) and the course chatbot (``make webapp``) both read it, so neither needs updating when a lesson is added.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import NOTEBOOKS

LESSON_GLOB = "[0-9][0-9]_*.ipynb"
SUMMARY_CHARS = 160
_NUMBER_PREFIX = re.compile(r"^\s*\d+\s*[·.:\-–—]\s*")
_OBJECTIVES = re.compile(r"^\*\*(you will learn|by the end)", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Lesson:
    """One lesson notebook, as the site and the chatbot present it."""

    number: str
    stem: str
    title: str
    summary: str
    objectives: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    solutions: str | None = None  # stem of notebooks/solutions/<stem>.ipynb, if it exists

    @property
    def notebook(self) -> str:
        return f"{self.stem}.ipynb"


def plain(markdown: str) -> str:
    """Markdown inline text as plain text: no emphasis, code ticks, or link targets; single spaces."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"[*_`]+", "", text)
    return " ".join(text.split())


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _sentences(text: str, limit: int = SUMMARY_CHARS) -> str:
    """Whole leading sentences of ``text`` that fit in ``limit`` characters (at least the first one)."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + 1 + len(sentence) > limit:
            break
        kept += " " + sentence
    return kept


def _blocks(markdown: str) -> list[str]:
    """Paragraph-level blocks of a markdown cell, with fenced code removed."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return [b.strip() for b in "\n".join(lines).split("\n\n") if b.strip()]


def _bullets(block: str) -> list[str]:
    """The items of a markdown list block (continuation lines joined to their item)."""
    items: list[str] = []
    for line in block.splitlines():
        if re.match(r"^\s*[-*+]\s+", line):
            items.append(re.sub(r"^\s*[-*+]\s+", "", line))
        elif items and line.strip():
            items[-1] += " " + line.strip()
    return [plain(i).rstrip(";.") for i in items]


def read_lesson(path: Path) -> Lesson:
    """The catalogue entry of one lesson notebook.

    The title is the first ``#`` heading. The summary is the lesson's opening sentence(s) when it opens with prose
    (``02_tokens``), else its learning objectives joined (``00_setup``), cut to one line.
    """
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    blocks = [b for c in cells if c["cell_type"] == "markdown" for b in _blocks("".join(c["source"]))]
    title, intro, sections = "", [], []
    for block in blocks:
        rest = []
        for line in block.splitlines():
            heading = re.match(r"^(#{1,2})\s+(.*)", line)
            if heading and heading.group(1) == "#" and not title:
                title = plain(heading.group(2))
            elif heading and heading.group(1) == "##":
                sections.append(_NUMBER_PREFIX.sub("", plain(heading.group(2))))
            elif not line.startswith("#"):
                rest.append(line)
        if title and not sections and any(line.strip() for line in rest):
            intro.append("\n".join(rest).strip())
    objectives = next((_bullets(b) for b in intro if _OBJECTIVES.match(b)), [])
    opening = intro[0] if intro else ""
    if opening and not _OBJECTIVES.match(opening) and not opening.lstrip().startswith(("-", "*", "|", "<")):
        summary = _sentences(plain(opening))
    else:
        summary = "; ".join(objectives)
    summary = shorten(summary[:1].upper() + summary[1:]) if summary else ""
    solution = path.parent / "solutions" / f"{path.stem}_solutions.ipynb"
    return Lesson(
        number=path.stem.split("_", 1)[0],
        stem=path.stem,
        title=title or path.stem,
        summary=summary,
        objectives=objectives,
        sections=[s for s in sections if s.lower() != "summary" and not s.lower().startswith("exercise")],
        solutions=solution.stem if solution.exists() else None,
    )


def lessons(folder: Path | None = None) -> list[Lesson]:
    """Every lesson in ``notebooks/`` (``NN_topic.ipynb``), in order."""
    return [read_lesson(path) for path in sorted((folder or NOTEBOOKS).glob(LESSON_GLOB))]


def short_title(lesson: Lesson) -> str:
    """The title without its ``NN ·`` prefix."""
    return _NUMBER_PREFIX.sub("", lesson.title)
