"""The lesson catalogue and the static site builder (make site): every lesson found by glob, outputs kept."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.paths import NOTEBOOKS, ROOT
from helpers.tooling.authoring import dumps
from helpers.tooling.lessons import lessons, read_lesson, short_title

LESSON_FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build_site.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = load_builder()


def notebook(*cells: dict[str, Any]) -> str:
    return dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": f"m{abs(hash(text)) % 10**8}", "metadata": {}, "source": text}


def code(source: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "id": f"c{abs(hash(source)) % 10**8}", "metadata": {}, "source": source,
            "execution_count": 1, "outputs": list(outputs)}


def test_catalogue_has_every_lesson_notebook_found_by_glob() -> None:
    catalogue = lessons()
    assert [x.stem for x in catalogue] == [p.stem for p in LESSON_FILES]
    for lesson in catalogue:
        assert lesson.title.startswith(lesson.number), lesson.title
        assert short_title(lesson) and not short_title(lesson).startswith(lesson.number)
        assert 20 < len(lesson.summary) <= 160 and "\n" not in lesson.summary, lesson.summary
        assert lesson.sections, f"{lesson.notebook} has no ## sections"


def test_index_lists_every_lesson_with_its_page_summary_and_solutions() -> None:
    catalogue = lessons()
    page = builder.index_page(catalogue, "today")
    assert len(re.findall(r'<a class="lesson" href="lessons/([^"]+)\.html">', page)) == len(LESSON_FILES)
    for path in LESSON_FILES:
        assert f'href="lessons/{path.stem}.html"' in page
        solutions = NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb"
        assert (f'href="solutions/{solutions.stem}.html"' in page) == solutions.exists()
    for lesson in catalogue:
        assert builder.html.escape(lesson.summary) in page


def test_summary_is_the_opening_sentence_or_else_the_objectives(tmp_path: Path) -> None:
    prose = tmp_path / "03_prose.ipynb"
    prose.write_text(notebook(markdown("# 03 · Prose first\n\nA short opening. Then more words.\n\n"
                                       "**You will learn to**\n- one thing;\n- another.")))
    listed = tmp_path / "04_listed.ipynb"
    listed.write_text(notebook(markdown("# 04 · Objectives first\n\n**You will learn to**\n- call `the API`;\n"
                                        "- read [the docs](https://example.org).\n\nRun the cells."),
                               markdown("## 1. First part\n\n```python\n# not a heading\n```"),
                               markdown("## Summary")))
    assert read_lesson(prose).summary == "A short opening. Then more words."
    four = read_lesson(listed)
    assert four.summary == "Call the API; read the docs"
    assert four.sections == ["First part"] and four.number == "04" and short_title(four) == "Objectives first"


def test_build_renders_new_lessons_with_their_stored_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    (folder / "solutions").mkdir(parents=True)
    plot = {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {}}
    (folder / "07_new_topic.ipynb").write_text(notebook(
        markdown("# 07 · A <new> topic\n\nIt shows & tells."),
        code('print("hi")', {"name": "stdout", "output_type": "stream", "text": "hello from the recording\n"}),
        code("fig", {"output_type": "display_data", "metadata": {},
                     "data": {"application/vnd.plotly.v1+json": plot, "text/plain": "Figure"}}),
    ))
    (folder / "solutions" / "07_new_topic_solutions.ipynb").write_text(notebook(markdown("# 07 · Solutions")))
    (folder / "08_other.ipynb").write_text(notebook(markdown("# 08 · Other\n\nNo solutions here.")))
    out = tmp_path / "site"
    pages = builder.build(out, notebooks=folder)

    assert {p.relative_to(out).as_posix() for p in pages} == {
        "index.html", "lessons/07_new_topic.html", "solutions/07_new_topic_solutions.html", "lessons/08_other.html"}
    index = (out / "index.html").read_text()
    assert "A &lt;new&gt; topic" in index and "It shows &amp; tells." in index and "<new>" not in index
    lesson = (out / "lessons" / "07_new_topic.html").read_text()
    assert "hello from the recording" in lesson
    assert '<script src="../assets/plotly.min.js"></script>' in lesson and (out / "assets" / "plotly.min.js").exists()
    assert "Plotly.newPlot" in lesson
    external = re.findall(r'<script[^>]+src="(https?:[^"]+)"', lesson)
    assert external == [], "a page must not need the network"
    assert json.loads((out / "lessons.json").read_text())[0]["solutions"] == "solutions/07_new_topic_solutions.html"


@pytest.mark.parametrize("text, has_math", [("Costs $0.10 per call", False), ("Let $x^2$ be", True),
                                            ("$$a+b$$", True), ("no math", False)])
def test_mathjax_only_where_a_lesson_has_math(text: str, has_math: bool) -> None:
    assert bool(builder.HAS_MATH.search(text)) == has_math
