"""Real-browser tests: Debian's chromium driven by Playwright against servers this session starts and stops.

Run with ``make browser-test``. Nothing is downloaded by Playwright: the browser is ``/usr/bin/chromium`` (or
``$CHROMIUM``), installed here with apt-get when missing and running as root. Every server started here is
stopped at the end of the session, failures included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
BUILD = ROOT / "build"
SCREENSHOTS = BUILD / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags this closed network needs (background fetches are refused and slow every start), and root's --no-sandbox.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMINGS: dict[str, float] = {}


def timed(name: str, seconds: float) -> None:
    TIMINGS[name] = round(TIMINGS.get(name, 0.0) + seconds, 2)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.write_sep("-", "browser test timings (s)")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name:<34} {seconds:7.2f}")
    BUILD.mkdir(exist_ok=True)
    (BUILD / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=1) + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_chromium() -> str:
    """The chromium binary; installed from Debian's packages when missing (as root), else a clear failure."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if CHROMIUM != "/usr/bin/chromium":
        pytest.fail(f"CHROMIUM={CHROMIUM} does not exist.", pytrace=False)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("The browser tests need Debian's chromium (/usr/bin/chromium), which is not installed. "
                    "Install it with: sudo apt-get install chromium  (or set CHROMIUM=/path/to/chromium).",
                    pytrace=False)
    start = time.perf_counter()
    log = BUILD / "apt-chromium.log"
    BUILD.mkdir(exist_ok=True)
    with log.open("w") as out:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        steps = [["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]]
        for step in steps:
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, env=env).returncode != 0:
                tail = log.read_text(errors="replace")[-1500:]
                pytest.fail(f"Could not install chromium with `{' '.join(step)}` (log: {log}):\n{tail}", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"apt-get installed chromium, but {CHROMIUM} is missing (log: {log}).", pytrace=False)
    timed("install chromium", time.perf_counter() - start)
    return CHROMIUM


class Service:
    """A server started as its own process group, with its output in a log file; stopped for sure."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        BUILD.mkdir(exist_ok=True)
        self.name = name
        self.log_path = BUILD / f"{name}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output())
            if match:
                return match
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode} before it was ready; its log "
                            f"({self.log_path}) ends:\n{self.output()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        pytest.fail(f"{self.name} was not ready after {timeout:.0f} s; its log ({self.log_path}) ends:\n"
                    f"{self.output()[-3000:]}", pytrace=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()


def course_env(**extra: str) -> dict[str, str]:
    """Replay mode, instant streams, no configured upstream, and no developer settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTEST_ADDOPTS"}}
    env.update(COURSE_BACKEND="replay", COURSE_REPLAY_SPEED="0", **extra)
    return env


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    start = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        timed("start chromium", time.perf_counter() - start)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that can reach only this machine (anything else is aborted, so nothing waits on the network)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/]).*"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """JupyterLab started by `make lab` (the command a learner runs) on a free port, in replay mode."""
    state = tmp_path_factory.mktemp("jupyterlab")
    # Every cell in the DOM (no virtual scrolling), so the test can read every cell's execution count; no autosave,
    # so running the lesson never rewrites the committed notebook; the notebook's own kernel without asking; no news.
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
                           "docmanager-extension/plugin": {"autosave": False},
                           "apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = state / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    before = {p: p.read_bytes() for p in NOTEBOOKS_DIR.rglob("*.ipynb")}
    port = free_port()
    env = course_env(JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
                     JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"), JUPYTER_RUNTIME_DIR=str(state / "runtime"))
    start = time.perf_counter()
    service = Service("jupyterlab", ["make", "--no-print-directory", "lab", f"LAB_PORT={port}", "BACKEND=replay"], env)
    try:
        match = service.wait_for(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)", timeout=180)
        base, token = f"http://127.0.0.1:{port}", match.group(1)
        timed("jupyterlab start", time.perf_counter() - start)
        yield {"base": base, "token": token}
        _shutdown_kernels(base, token)
        # A settings file JupyterLab rejects is ignored whole: autosave would be back on.
        assert "Failed validating settings" not in service.output(), f"see {service.log_path}"
    finally:
        service.stop()
        changed = [p for p, data in before.items() if p.read_bytes() != data]
        for path in changed:
            path.write_bytes(before[path])
        assert not changed, f"JupyterLab rewrote {[p.name for p in changed]} (restored): the test must not save"


def _shutdown_kernels(base: str, token: str) -> None:
    """Stop every kernel through the server's API, so no kernel outlives the server."""
    headers = {"Authorization": f"token {token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base}/api/kernels", headers=headers), timeout=10) as r:
            kernels = json.load(r)
        for kernel in kernels:
            request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}", headers=headers, method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()
    except OSError as exc:
        print(f"could not shut the kernels down through the API: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """``site/`` (built now if missing), served on a free port by a tiny static server."""
    folder = ROOT / "site"
    if not (folder / "index.html").exists():
        start = time.perf_counter()
        subprocess.run([sys.executable, "scripts/build_site.py"], cwd=ROOT, check=True)
        timed("site build", time.perf_counter() - start)
    handler = partial(_QuietFiles, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def webapp() -> Iterator[str]:
    """The course chatbot started by `make webapp` on a free port, in replay mode."""
    port = free_port()
    start = time.perf_counter()
    service = Service("webapp", ["make", "--no-print-directory", "webapp", f"WEBAPP_PORT={port}", "BACKEND=replay"],
                      course_env())
    try:
        service.wait_for(rf"Course chatbot on http://127\.0\.0\.1:{port}/", timeout=120)
        timed("webapp start", time.perf_counter() - start)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()
