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


def open_notebook(page: Any, lab: dict[str, str], cells: int) -> None:
    """Open the lesson in JupyterLab; return once its ``cells`` cells are on the page and its kernel is idle."""
    start = time.perf_counter()
    page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    # Loaded when all of the file's cells are on the page (a new panel first shows one empty cell).
    page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === n",
        arg=cells,
        timeout=120_000,
    )
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=120_000)
    # The status bar says Idle once the kernel is connected (the indicator can read idle before that).
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$")).first.wait_for(timeout=120_000)
    timed("jupyterlab open notebook", time.perf_counter() - start)


def clear_outputs(page: Any) -> None:
    """Clear the stored outputs and execution counts, so the ones seen next are this run's."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        """() => document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output').length === 0
                 && [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
                    .every((p) => !/\\d/.test(p.textContent))""",
        timeout=30_000,
    )


def test_jupyterlab_runs_the_setup_notebook_without_errors(page: Any, lab: dict[str, str]) -> None:
    source = json.loads((NOTEBOOKS / NOTEBOOK).read_text())
    code_cells = [c for c in source["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    open_notebook(page, lab, len(source["cells"]))
    clear_outputs(page)
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


def test_jupyterlab_shows_a_replay_miss_when_a_prompt_is_edited(page: Any, lab: dict[str, str]) -> None:
    """A learner changes one word of a recorded prompt and runs the cell: the cell shows why nothing was replayed."""
    cells = json.loads((NOTEBOOKS / NOTEBOOK).read_text())["cells"]
    open_notebook(page, lab, len(cells))
    start = time.perf_counter()
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    edited = next(i for i in code if "responses.create" in "".join(cells[i]["source"])
                  and "what is an API?" in "".join(cells[i]["source"]))
    clear_outputs(page)
    # Run the lesson from its first code cell down to the one to edit, the way a learner does: Shift+Enter.
    page.locator(".jp-NotebookPanel .jp-Cell").nth(code[0]).locator(".cm-content").click()
    for _ in range(edited - code[0]):
        page.keyboard.press("Shift+Enter")
    client = page.locator(".jp-NotebookPanel .jp-Cell").nth(max(i for i in code if i < edited))
    client.locator(".jp-OutputArea-output", has_text="http://127.0.0.1:").wait_for(timeout=60_000)
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(edited)
    line = cell.locator(".cm-line", has_text="input=")
    assert "what is an API?" in line.inner_text()
    line.click()
    page.keyboard.press("End")  # the line ends with: what is an API?",
    for key in ["ArrowLeft"] * 3 + ["Backspace"] * 3:
        page.keyboard.press(key)
    page.keyboard.type("SDK")
    assert "what is an SDK?" in line.inner_text()
    page.keyboard.press("Shift+Enter")
    # JupyterLab renders an error output as application/vnd.jupyter.stderr (as it does stderr).
    error = cell.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    error.wait_for(timeout=60_000)
    text = error.inner_text()
    assert text.startswith("BadRequestError: This request is not in the recording of notebook '00_setup'"), text
    assert '+    "input": "In one sentence, what is an SDK?"' in text and "Undo the change" in text, text
    assert len(text.splitlines()) < 15 and "site-packages" not in text, text
    screenshot(page, "00_setup_replay_miss")
    # Done once the prompt shows the count (IPython is still storing the error in its history for a moment).
    cell.locator(".jp-InputPrompt", has_text=re.compile(r"^\[\d+\]:$")).wait_for()
    assert error.inner_text() == text and cell.locator(".jp-OutputArea-output").count() == 1
    # Leave as a learner who tries something out would: the kernel shut down, the notebook closed unsaved.
    menu(page, "Kernel", "Shut Down Kernel")
    page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="unknown"]')
    menu(page, "File", "Close Tab")
    page.get_by_role("button", name="Discard").click()
    page.locator(".jp-NotebookPanel").wait_for(state="detached")
    timed("jupyterlab replay miss", time.perf_counter() - start)


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
