"""``make lab`` (scripts/lab.py): the local backend starts beside JupyterLab, and stops with it.

JupyterLab is stood in for by a short command that probes the backend the kernels would use; the backend by the
local backend on fake engines, in its own process.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.paths import ROOT
from helpers.replay.fallback import probe
from local_backend import Backend

from .ports import free_port

FAKE_BACKEND = ("{python} -c 'import time; from tests.fake_engines import fake_engines; from local_backend import "
                "Backend; Backend(fake_engines(), port={port}).start(); time.sleep(600)'")
LAB = ("import os; from helpers.replay.fallback import probe; "
       "print('lab sees the backend', probe(os.environ['COURSE_LOCAL_BACKEND_URL']))")


def lab(port: int, marker: Path, setting: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LOCAL_BACKEND"}
    if setting is not None:
        env["LOCAL_BACKEND"] = setting
    command = [sys.executable, "scripts/lab.py", "--port", str(port), "--installed", str(marker),
               "--backend-command", FAKE_BACKEND.format(python=sys.executable, port=port),
               "--", sys.executable, "-c", LAB]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / ".installed"
    path.touch()
    return path


def test_installed_it_starts_with_lab_and_stops_with_it(marker: Path) -> None:
    port = free_port()
    done = lab(port, marker)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"local backend: http://127.0.0.1:{port}/v1 (log .cache/local-backend.log)")
    assert lines[1:] == ["lab sees the backend up", "local backend: stopped"]
    assert probe(f"http://127.0.0.1:{port}/v1") == "down"


def test_turned_off_or_not_installed_it_does_not_start(marker: Path, tmp_path: Path) -> None:
    off = lab(free_port(), marker, "0")
    assert off.stdout.splitlines() == ["lab sees the backend down"], off.stderr
    missing = lab(free_port(), tmp_path / "absent")
    assert missing.stdout.splitlines()[0].startswith("local backend: not installed, so replay answers only")
    assert missing.stdout.splitlines()[1:] == ["lab sees the backend down"]


def test_one_already_running_is_used_and_left_running(backend: Backend, marker: Path) -> None:
    done = lab(int(backend.base_url.split(":")[2].split("/")[0]), marker)
    assert done.stdout.splitlines() == [f"local backend: using the one already running at {backend.base_url} "
                                        "(left running)", "lab sees the backend up"], done.stderr
    assert probe(backend.base_url) == "up"


@pytest.fixture
def taken() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_a_port_taken_by_another_program_is_one_line_naming_the_fix(taken: int, marker: Path) -> None:
    required = lab(taken, marker, "1")
    assert required.returncode == 1 and required.stdout == ""  # JupyterLab did not start without it
    assert required.stderr.splitlines() == [
        f"local backend: port {taken} is taken by another program (not the course's local backend). Stop it, "
        f"or use another port: make lab LOCAL_PORT={taken + 1}"]
    optional = lab(taken, marker)  # only because it is installed: JupyterLab starts, replay only
    assert optional.returncode == 0 and optional.stdout.splitlines() == ["lab sees the backend other"]
    assert optional.stderr.splitlines()[1] == "local backend: JupyterLab starts without it (replay only)"


def test_the_backend_itself_on_a_taken_port_is_one_line(taken: int) -> None:
    done = subprocess.run([sys.executable, "-m", "local_backend", "--lazy", "--port", str(taken)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"local backend: cannot listen on 127.0.0.1:{taken} (Address already in use): a backend may already be "
        f"running there, or another program holds the port. Stop it, or use another port: make local-backend "
        f"LOCAL_PORT={taken + 1} (and COURSE_LOCAL_BACKEND_URL=http://127.0.0.1:{taken + 1}/v1 for the replay "
        "fallback)."]
