"""The course as a learner meets it, in a real browser: JupyterLab running lesson 00, the static site, the chatbot."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from helpers.paths import NOTEBOOKS, RECORDINGS
from helpers.tooling.lessons import lessons
from webapp.ask import SAMPLE_QUESTIONS

from .conftest import SCREENSHOTS, timed

NOTEBOOK = "00_setup.ipynb"
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\s*[\w.]*(Error|Exception)\b.*:", re.MULTILINE)


def stored_outputs(path: Path) -> list[list[dict[str, Any]]]:
    return [c["outputs"] for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def first_line_of_first_output(path: Path) -> str:
    """The setup banner: the first line the notebook's first code cell printed when it was recorded."""
    first = stored_outputs(path)[0][0]
    return "".join(first["text"]).splitlines()[0]


def menu(page: Any, name: str, item: str) -> None:
    """Choose ``item`` in JupyterLab's menu ``name``, as a learner would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(name)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_jupyterlab_runs_the_setup_notebook_without_errors(page: Any, lab: dict[str, str]) -> None:
    source = json.loads((NOTEBOOKS / NOTEBOOK).read_text())
    code_cells = [c for c in source["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    start = time.perf_counter()
    page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    # Loaded when all of the file's cells are on the page (a new panel first shows one empty cell).
    page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === n",
        arg=len(source["cells"]),
        timeout=120_000,
    )
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
    timed("jupyterlab open notebook", time.perf_counter() - start)

    # The stored notebook already shows execution counts: clear them first, so the counts seen next are this run's.
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        """() => document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output').length === 0
                 && [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
                    .every((p) => !/\\d/.test(p.textContent))""",
        timeout=30_000,
    )
    start = time.perf_counter()
    menu(page, "Run", "Run All Cells")
    # Done when every code cell shows an execution count and the kernel is idle again.
    page.wait_for_function(
        """(expected) => {
            const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
                .map((p) => p.textContent.trim());
            const numbered = prompts.filter((t) => /^\\[\\d+\\]:$/.test(t)).length;
            const busy = prompts.some((t) => t.includes('*'));
            const idle = document.querySelector(
                '.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]') !== null;
            return numbered >= expected && !busy && idle;
        }""",
        arg=len(code_cells),
        timeout=180_000,
        polling=250,
    )
    timed("jupyterlab run all cells", time.perf_counter() - start)

    prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
    counts = sorted(int(m.group(1)) for p in prompts if (m := re.match(r"^\[(\d+)\]:$", p.strip())))
    assert counts == list(range(1, len(code_cells) + 1)), f"execution counts: {prompts}"
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, f"error output: {errors.first.inner_text()[:2000]}"
    for text in page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts():
        assert not ERROR_TEXT.search(text), f"an output shows an error:\n{text[:2000]}"
    banner = page.locator(".jp-NotebookPanel .jp-OutputArea-output").first.inner_text()
    assert banner.startswith("replay · 00_setup"), banner
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.scroll_into_view_if_needed()
    screenshot(page, "00_setup")


def test_site_lists_every_lesson_and_shows_recorded_outputs(site: str, page: Any) -> None:
    start = time.perf_counter()
    page.goto(f"{site}/index.html")
    catalogue = lessons()
    rows = page.locator("#lessons tbody tr")
    assert rows.count() == len(catalogue) == len(list(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")))
    screenshot(page, "site_index")

    page.locator('a.lesson[href="lessons/00_setup.html"]').click()
    page.wait_for_url("**/lessons/00_setup.html")
    banner = first_line_of_first_output(NOTEBOOKS / NOTEBOOK)
    assert page.get_by_text(banner, exact=False).count() >= 1, f"the recorded banner is not on the page: {banner}"
    screenshot(page, "site_00_setup")

    # A lesson with a plotly figure renders it from the site's own copy of plotly.js.
    with_plot = next((x for x in catalogue if "application/vnd.plotly.v1+json" in (NOTEBOOKS / x.notebook).read_text()),
                     None)
    if with_plot:
        page.goto(f"{site}/lessons/{with_plot.stem}.html")
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
    timed("site check", time.perf_counter() - start)


def recorded_answer(question: str) -> tuple[str, str]:
    """The answer text (as the page shows it) and model of the recorded response to ``question``."""
    recording = json.loads((RECORDINGS / "webapp.json").read_text())
    for item in recording["interactions"]:
        if item["request"].get("json", {}).get("input") == question:
            body = item["response"]["json"]
            text = "".join(part["text"] for out in body["output"] if out["type"] == "message"
                           for part in out["content"] if part["type"] == "output_text")
            cut = " … [cut off at the answer length limit]" if body["status"] == "incomplete" else ""
            return text.strip() + cut, body["model"]
    raise AssertionError(f"{question!r} is not in data/recordings/webapp.json: run make record-webapp")


def test_webapp_answers_a_recorded_question_and_explains_a_miss(webapp: str, page: Any) -> None:
    start = time.perf_counter()
    question = SAMPLE_QUESTIONS[0]
    answer, model = recorded_answer(question)
    page.goto(webapp)
    assert page.locator("#banner").inner_text().startswith("replay · webapp")
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#answer").inner_text().strip() == answer
    assert page.locator("#model").inner_text() == model
    assert "02" in page.locator("#used").inner_text()
    screenshot(page, "webapp")

    page.locator("#question").fill("What is the airspeed velocity of an unladen swallow?")
    page.locator("#ask").click()
    page.wait_for_selector("#error:not([hidden])")
    assert "not in the recording" in page.locator("#error").inner_text()
    assert page.locator("#result").is_hidden()
    timed("webapp check", time.perf_counter() - start)
