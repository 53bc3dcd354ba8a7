"""Notebook hygiene: valid, executed in order, clean metadata, no stray errors, recordings and solutions present."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.paths import NOTEBOOKS, ROOT, recording_path
from helpers.tooling.authoring import clean, dumps

ALL = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SETUP_CALL = re.compile(r"""setup\(\s*["']([^"']+)["']""")


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_valid_and_free_of_volatile_metadata(path: Path) -> None:
    nbformat.validate(nbformat.read(path, as_version=4))
    text = path.read_text(encoding="utf-8")
    assert dumps(clean(json.loads(text))) == text, f"run helpers.tooling.authoring.clean_file('{path.name}')"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_executed_in_order_with_no_unexpected_errors(path: Path) -> None:
    cells = [c for c in code_cells(path) if "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"not executed top to bottom: {counts}"
    for cell in cells:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if errors:
            assert "NBVAL_RAISES_EXCEPTION" in "".join(cell["source"]), f"stored error: {errors[0]['ename']}"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_first_cell_sets_up_this_notebook(path: Path) -> None:
    first = "".join(code_cells(path)[0]["source"])
    match = SETUP_CALL.search(first)
    assert match and match.group(1) == path.stem, "the first code cell must call setup(\"<this notebook's name>\")"


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_api_calling_notebooks_have_a_recording(path: Path) -> None:
    source = "\n".join("".join(c["source"]) for c in code_cells(path))
    if "OpenAI(" in source or "!curl" in source:
        assert recording_path(path.stem).exists(), f"no recording: run make record NB={path.stem}"


@pytest.mark.parametrize("path", LESSONS, ids=ids(LESSONS))
def test_every_exercise_has_a_solution(path: Path) -> None:
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    exercises = re.findall(r"^#+ .*Exercise\s+(\d+)", markdown, re.MULTILINE)
    if not exercises:
        return
    solution = NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb"
    assert solution.exists(), f"{path.name} has exercises but no {solution.name}"
    solved = "\n".join("".join(c["source"]) for c in json.loads(solution.read_text())["cells"])
    missing = [n for n in exercises if not re.search(rf"Exercise\s+{n}\b", solved)]
    assert not missing, f"no solution for exercise(s) {missing}"


def test_ruff_is_clean_on_code_and_notebooks() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


FIRST_OUTPUT = re.compile(r"\.output\[0\]")


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_no_cell_reads_the_first_output_item(path: Path) -> None:
    """A reasoning model's output can start with a reasoning item: read output_text or filter by type."""
    cells = json.loads(path.read_text())["cells"]
    found = [n for n, cell in enumerate(cells) if FIRST_OUTPUT.search("".join(cell["source"]))]
    assert not found, f"cells {found} read .output[0]; use response.output_text or filter output by item type"


def test_parallel_nbval_keeps_each_notebook_on_one_worker() -> None:
    """pytest-xdist's default ``--dist load`` spreads one notebook's cells over workers (NameError in later cells);
    ``loadfile`` runs each notebook's cells in order, in one kernel."""
    found = re.search(r'^addopts = "(.*)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert found, "pyproject.toml has no [tool.pytest.ini_options] addopts line"
    addopts = found.group(1).split()
    if "-n" in addopts or any(a.startswith("--numprocesses") for a in addopts):
        assert addopts[addopts.index("--dist") + 1] in ("loadfile", "loadscope"), addopts
