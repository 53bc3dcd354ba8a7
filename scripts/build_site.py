"""Build the course as a static web site, with each notebook's recorded outputs: ``make site`` → ``site/``.

Every lesson in ``notebooks/`` (found by glob) and every solutions notebook becomes one page (nbconvert's lab
template, outputs as stored: nothing is re-executed). ``site/index.html`` lists the lessons: number, title, a
one-line summary, where the outputs came from, and links to the lesson and its solutions. Plotly figures are
rendered with a local copy of plotly.js, so the site needs no network.

Usage: python scripts/build_site.py [--out site]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # when run as a script from elsewhere; helpers is also installed in the venv

from helpers.paths import NOTEBOOKS, recording_path  # noqa: E402
from helpers.replay.recording import Recording  # noqa: E402
from helpers.tooling.lessons import Lesson, lessons, short_title  # noqa: E402

PLOTLY_MIME = "application/vnd.plotly.v1+json"
REQUIRE_JS = re.compile(r'<script src="[^"]*require\.js[^"]*">\s*</script>\s*')
MATHJAX = re.compile(r'<script src="[^"]*mathjax[^"]*">\s*</script>\s*', re.IGNORECASE)
HAS_MATH = re.compile(r"\$\$|\$[^$\n]+\$|\\\(|\\begin\{")

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1d2330; }
main { max-width: 64rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .5rem .6rem; border-bottom: 1px solid #d9dee7; }
th { background: #f1f3f7; }
td.num { font-variant-numeric: tabular-nums; font-weight: 600; }
.source { font-size: .8rem; color: #4b5568; }
.course-nav { font: 14px system-ui, sans-serif; background: #f1f3f7; padding: .5rem 1rem;
              border-bottom: 1px solid #d9dee7; }
"""


def _plotly_html(figure: dict[str, Any]) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, validate=False)


def add_plotly_html(notebook: nbformat.NotebookNode) -> bool:
    """Give each stored plotly figure an HTML rendering (the notebooks store only plotly's own mimetype)."""
    found = False
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data and "text/html" not in data:
                data["text/html"] = _plotly_html(data[PLOTLY_MIME])
                found = True
    return found


def render_notebook(path: Path, title: str, nav: str, assets: str) -> str:
    """One notebook as a standalone page, with its stored outputs and a navigation bar."""
    notebook = nbformat.read(path, as_version=4)
    plots = add_plotly_html(notebook)
    exporter = HTMLExporter(template_name="lab")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "not able to be represented" for mimetypes without HTML
        body, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": title}})
    body = REQUIRE_JS.sub("", body, count=1)  # no widgets here; and a CDN script would block the page offline
    markdown = "\n".join("".join(c.source) for c in notebook.cells if c.cell_type == "markdown")
    if not HAS_MATH.search(markdown):
        body = MATHJAX.sub("", body, count=1)
    head = '<meta charset="utf-8"/>'
    if plots:  # before anything else, so plotly.js defines its global even if a module loader appears later
        body = body.replace(head, f'{head}\n<script src="{assets}/plotly.min.js"></script>', 1)
    return re.sub(r"(<body[^>]*>)", lambda m: f'{m.group(1)}\n<nav class="course-nav">{nav}</nav>', body, count=1)


def provenance(stem: str) -> str:
    """Where a notebook's recorded outputs came from, in one line."""
    return Recording.load(recording_path(stem), stem).provenance()


def index_page(catalogue: list[Lesson], built: str) -> str:
    """The lesson table."""
    esc = html.escape
    rows = []
    for lesson in catalogue:
        solutions = (f'<a href="solutions/{esc(lesson.solutions)}.html">solutions</a>' if lesson.solutions else "—")
        rows.append(
            "<tr>"
            f'<td class="num">{esc(lesson.number)}</td>'
            f'<td><a class="lesson" href="lessons/{esc(lesson.stem)}.html">{esc(short_title(lesson))}</a><br>'
            f'<code>{esc(lesson.notebook)}</code></td>'
            f"<td>{esc(lesson.summary)}<div class=\"source\">{esc(provenance(lesson.stem))}</div></td>"
            f"<td>{solutions}</td>"
            "</tr>"
        )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>The OpenAI Python course</title><style>{STYLE}</style></head>
<body><main>
<h1>The OpenAI Python course</h1>
<p>Each lesson is shown here as it was last run, with its recorded outputs: the line under each summary says where
the answers came from. Small local models wrote most of them, so the API mechanics are real and the answers are often
wrong. To run the lessons yourself, clone the course and start <code>make lab</code> (no key needed).</p>
<table id="lessons">
<thead><tr><th>#</th><th>Lesson</th><th>What you learn</th><th>Solutions</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<p class="source">{len(catalogue)} lessons, built {esc(built)} by <code>make site</code>.</p>
</main></body></html>
"""


def build(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write the site into ``out`` (replaced whole); returns the pages written."""
    catalogue = lessons(notebooks)
    if out.exists():
        shutil.rmtree(out)
    (out / "assets").mkdir(parents=True)
    pages = []
    for lesson in catalogue:
        nav = '<a href="../index.html">← All lessons</a>'
        if lesson.solutions:
            nav += f' · <a href="../solutions/{html.escape(lesson.solutions)}.html">Solutions</a>'
        page = out / "lessons" / f"{lesson.stem}.html"
        page.parent.mkdir(exist_ok=True)
        page.write_text(render_notebook(notebooks / lesson.notebook, lesson.title, nav, "../assets"), "utf-8")
        pages.append(page)
        if lesson.solutions:
            nav = (f'<a href="../index.html">← All lessons</a> · '
                   f'<a href="../lessons/{html.escape(lesson.stem)}.html">Back to the lesson</a>')
            page = out / "solutions" / f"{lesson.solutions}.html"
            page.parent.mkdir(exist_ok=True)
            source = notebooks / "solutions" / f"{lesson.solutions}.ipynb"
            page.write_text(render_notebook(source, f"{lesson.title}: solutions", nav, "../assets"), "utf-8")
            pages.append(page)
    if any("plotly.min.js" in p.read_text("utf-8") for p in pages):
        from plotly.offline import get_plotlyjs

        (out / "assets" / "plotly.min.js").write_text(get_plotlyjs(), "utf-8")
    built = time.strftime("%Y-%m-%d")
    (out / "index.html").write_text(index_page(catalogue, built), "utf-8")
    table = [{"number": x.number, "title": short_title(x), "summary": x.summary, "page": f"lessons/{x.stem}.html",
              "solutions": f"solutions/{x.solutions}.html" if x.solutions else None} for x in catalogue]
    (out / "lessons.json").write_text(json.dumps(table, indent=1) + "\n", "utf-8")
    return [out / "index.html", *pages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build(args.out)
    print(f"built {len(pages)} pages into {args.out} in {time.perf_counter() - start:.1f} s; "
          f"open {args.out / 'index.html'}")


if __name__ == "__main__":
    main()
