"""``make lab``: JupyterLab, with the course's local backend beside it when it is installed (or asked for).

Usage: python scripts/lab.py [--port 8011] [--local-python .venv-local/bin/python] [--installed MARKER]
       [--backend-command CMD] -- JUPYTER_COMMAND...

``LOCAL_BACKEND=1`` starts the backend (and fails with one line if it cannot), ``LOCAL_BACKEND=0`` never does; unset,
it starts when ``MARKER`` (``.venv-local/.installed``) exists. The backend loads each model on first use (``--lazy``),
logs to ``.cache/local-backend.log``, and is stopped when JupyterLab exits (Ctrl-C included). A backend already
answering at the port is used as it is (and left running). The kernels find it at ``COURSE_LOCAL_BACKEND_URL``,
where replay sends every request the recording lacks (helpers/replay/fallback.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from helpers.paths import ROOT
from helpers.replay.fallback import OFF, URL_VARIABLE, probe
from helpers.replay.wire import LOCAL_BACKEND_PORT, LOOPBACK

START_TIMEOUT = 60.0  # seconds for the backend to answer its first probe (lazy: it loads no model at start)
LOG = ROOT / ".cache" / "local-backend.log"


def choice(setting: str, installed: Path) -> Literal["required", "if-installed", "off"]:
    """From ``LOCAL_BACKEND`` and the install marker: start it and fail without it, start it, or do not."""
    value = setting.strip().lower()
    if value in OFF or (not value and not installed.exists()):
        return "off"
    return "required" if value else "if-installed"


def port_taken(port: int) -> str:
    """The one line for a port another program holds."""
    return (f"local backend: port {port} is taken by another program (not the course's local backend). Stop it, "
            f"or use another port: make lab LOCAL_PORT={port + 1}")


def start_backend(command: list[str], url: str, port: int) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Start the backend and wait until it answers; the process (None if it is not ours) and a status line."""
    state = probe(url)
    if state == "up":
        return None, f"local backend: using the one already running at {url} (left running)"
    if state == "other":
        raise RuntimeError(port_taken(port))
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # Ctrl-C in the terminal reaches JupyterLab only
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = (LOG.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"local backend: it exited at start ({last}); see {LOG.relative_to(ROOT)}")
        if probe(url) == "up":
            return process, (f"local backend: {url} (log {LOG.relative_to(ROOT)}); replay sends it what a "
                             "recording lacks; stops with JupyterLab")
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"local backend: no answer at {url} after {START_TIMEOUT:.0f} s; see {LOG.relative_to(ROOT)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the backend: SIGTERM, then SIGKILL after 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = args.index("--") if "--" in args else len(args)
    parser = argparse.ArgumentParser(prog="scripts/lab.py", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=LOCAL_BACKEND_PORT)
    parser.add_argument("--local-python", default=str(ROOT / ".venv-local" / "bin" / "python"))
    parser.add_argument("--installed", type=Path, default=ROOT / ".venv-local" / ".installed")
    parser.add_argument("--backend-command", help="instead of LOCAL_PYTHON -m local_backend --lazy --port PORT")
    options = parser.parse_args(args[:split])
    lab = args[split + 1:]
    if not lab:
        parser.error("give the JupyterLab command after --")
    url = f"http://{LOOPBACK}:{options.port}/v1"
    command = (shlex.split(options.backend_command) if options.backend_command
               else [options.local_python, "-m", "local_backend", "--lazy", "--port", str(options.port)])
    want = choice(os.environ.get("LOCAL_BACKEND", ""), options.installed)
    process = None
    if want != "off":
        try:
            process, line = start_backend(command, url, options.port)
            print(line, flush=True)
        except (RuntimeError, OSError) as exc:
            print(exc, file=sys.stderr, flush=True)
            if want == "required":  # asked for with LOCAL_BACKEND=1: do not start without it
                return 1
            print("local backend: JupyterLab starts without it (replay only)", file=sys.stderr, flush=True)
    elif not options.installed.exists():
        print("local backend: not installed, so replay answers only what is recorded "
              "(make local-backend-install, then make lab, to let the local models answer the rest)", flush=True)
    lab_process = None
    try:
        lab_process = subprocess.Popen(lab, env={**os.environ, URL_VARIABLE: url})
        while True:
            try:
                return lab_process.wait()
            except KeyboardInterrupt:  # JupyterLab gets the Ctrl-C too and asks to confirm; wait for it to exit
                continue
    finally:
        if lab_process is not None and lab_process.poll() is None:  # we were told to stop (SIGTERM)
            lab_process.terminate()
            lab_process.wait()
        if process is not None:
            stop(process)
            print("local backend: stopped", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` of make: still stop the backend (finally)
    sys.exit(main())
