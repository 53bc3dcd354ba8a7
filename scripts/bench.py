"""Benchmark the course in one run, and keep the latest table in the README.

Measures, all in this process's run:
- the nbval baseline: an empty one-cell notebook (kernel start + nbval overhead);
- every notebook's nbval time in replay, and its ratio to that baseline;
- the replay server's per-request latency (p50/p99) for JSON and streamed answers, through the real SDK, next to
  vcrpy replaying the same recorded requests in-process (the ratio of the two, in the same run);
- what running the whole course live would cost, from the recorded usage and data/prices.csv.

Usage: python scripts/bench.py [--runs N] [--requests N] [--update-readme]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from helpers.kernel.meter import Meter
from helpers.keys import PLACEHOLDER_KEY
from helpers.paths import NOTEBOOKS, RECORDINGS, ROOT
from helpers.replay.interaction import source_kind
from helpers.replay.recording import Recording
from helpers.replay.server import CourseServer
from helpers.testing.fake_upstream import FakeUpstream

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SANITIZE = ROOT / "tests" / "nbval-sanitize.cfg"


def nbval_seconds(path: Path, runs: int) -> float:
    """Median wall time of ``pytest --nbval`` on one notebook, in replay at speed 0."""
    env = {**os.environ, "COURSE_BACKEND": "replay", "COURSE_REPLAY_SPEED": "0"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--nbval",
               "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE), str(path)]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"nbval failed on {path.name}:\n{result.stdout[-2000:]}")
    return statistics.median(times)


def empty_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = folder / "empty.ipynb"
    nbformat.write(notebook, path)
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(calls: dict[str, Callable[[], object]], requests: int) -> dict[str, tuple[float, float]]:
    """p50 and p99 milliseconds of each call, after one warm-up call."""
    results = {}
    for kind, call in calls.items():
        call()  # warm the connection (and vcrpy's cassette)
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        results[kind] = (statistics.median(times), percentile(times, 0.99))
    return results


def sdk_calls(client: OpenAI) -> dict[str, Callable[[], object]]:
    """The two requests every replayer is timed on: a JSON answer and a streamed one, through the SDK."""
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]
    return {
        "JSON": lambda: client.chat.completions.create(model="gpt-5.4-mini", messages=messages),
        "stream (8 events)": lambda: list(client.chat.completions.create(model="gpt-5.4-mini", messages=messages,
                                                                          stream=True)),
    }


def replay_latency(folder: Path, requests: int) -> dict[str, dict[str, tuple[float, float]]]:
    """p50 and p99 milliseconds per replayed request, JSON and streamed, through the SDK: the course server, and
    the tool a maintainer would pick instead, vcrpy (patching the SDK's httpx2 transport in-process). Both replay
    the same two requests, recorded from the same fake upstream, which is stopped before replaying."""
    import vcr  # dev group only: the peer this benchmark compares with

    fake = FakeUpstream()
    key = "sk-test-" + "b" * 24
    path = folder / "bench.json"
    recorder = CourseServer(Recording(path=path, notebook="bench"), "record", upstream=fake.url)
    for call in sdk_calls(OpenAI(api_key=key, base_url=recorder.start(), max_retries=0)).values():
        call()
    recorder.stop()
    cassette = folder / "bench.yaml"
    recording_client = OpenAI(api_key=key, base_url=fake.url, max_retries=0)
    with vcr.use_cassette(str(cassette), record_mode="all", filter_headers=["authorization"],
                          decode_compressed_response=True):
        for call in sdk_calls(recording_client).values():
            call()
    fake.stop()

    server = CourseServer(Recording.load(path), "replay", speed=0)
    results = {"course server": timed(sdk_calls(OpenAI(api_key=PLACEHOLDER_KEY, base_url=server.start(),
                                                         max_retries=0)), requests)}
    server.stop()
    with vcr.use_cassette(str(cassette), record_mode="none", allow_playback_repeats=True,
                          match_on=["method", "path", "body"]):
        results["vcrpy"] = timed(sdk_calls(OpenAI(api_key=PLACEHOLDER_KEY, base_url=fake.url, max_retries=0)),
                                 requests)
    return results


def latency_lines(latency: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """The latency table: the course server next to vcrpy, with their ratio (measured in the same run)."""
    ours, peer = latency["course server"], latency["vcrpy"]
    lines = ["| replayed request (through the SDK) | course server p50 / p99 (ms) | vcrpy p50 / p99 (ms) "
             "| vcrpy p50 ÷ course server p50 |", "|---|---:|---:|---:|"]
    lines += [f"| {kind} | {p50:.2f} / {p99:.2f} | {peer[kind][0]:.2f} / {peer[kind][1]:.2f} "
              f"| {peer[kind][0] / p50:.2f} |" for kind, (p50, p99) in ours.items()]
    return lines + ["", "vcrpy replays in-process (it patches the SDK's httpx2 transport): no loopback socket, but a "
                    "stream arrives all at once; the course server keeps the recorded timing and serves any client "
                    "(a subprocess, `!curl`)."]


def live_cost() -> tuple[float, int, int]:
    """Estimated USD to run every recorded notebook live with the default models, calls, unpriced calls."""
    meter = Meter()
    for path in sorted(RECORDINGS.glob("*.json")):
        for item in Recording.load(path).interactions:
            if source_kind(item) in ("model", "fixture"):
                meter.add(item["request"], item["response"])
    unpriced = sum(1 for call in meter.calls if call.usd is None)
    return meter.total_usd, len(meter.calls), unpriced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="nbval runs per notebook (median)")
    parser.add_argument("--requests", type=int, default=200, help="replayed requests per latency figure")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--latency-only", action="store_true", help="only the replay latency table (no nbval runs)")
    args = parser.parse_args()

    if args.latency_only:
        with tempfile.TemporaryDirectory() as tmp:
            print("\n".join(latency_lines(replay_latency(Path(tmp), args.requests))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = nbval_seconds(empty_notebook(folder), max(args.runs, 3))
        notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
        timings = [(p, nbval_seconds(p, args.runs)) for p in notebooks]
        latency = replay_latency(folder, args.requests)
    usd, calls, unpriced = live_cost()

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, by `make bench` (one run).",
        "",
        "| notebook | nbval (s) | × empty notebook |",
        "|---|---:|---:|",
        f"| *(empty one-cell notebook)* | {baseline:.2f} | 1.0 |",
    ]
    lines += [f"| `{p.relative_to(NOTEBOOKS)}` | {t:.2f} | {t / baseline:.1f} |" for p, t in timings]
    lines += [f"| **all notebooks** | {sum(t for _, t in timings):.1f} | |", "", *latency_lines(latency)]
    note = f" ({unpriced} of them without a price in data/prices.csv)" if unpriced else ""
    lines += ["", f"Running every recorded call live with the default models: **${usd:.4f}** for {calls} calls{note}, "
              "estimated from the recorded token usage and `data/prices.csv`."]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        readme = ROOT / "README.md"
        text = readme.read_text(encoding="utf-8")
        if START not in text:
            raise SystemExit(f"README.md has no {START} marker")
        head, rest = text.split(START, 1)
        readme.write_text(f"{head}{START}\n{table}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
        print("README.md updated")


if __name__ == "__main__":
    main()
