"""``python -m local_backend [--port 8011] [--eager]``: serve the local models on 127.0.0.1.

Each model loads on its route's first request (start-up takes well under a second); ``--eager`` loads them all first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .app import DEFAULT_PORT, Backend
from .engines import ModelFileError, prepare, real_engines
from .webhooks import SettingError, Webhooks


def port_taken(port: int, exc: OSError) -> str:
    """The one line for a port the backend cannot listen on (another program, or a backend already running)."""
    return (f"local backend: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}): a backend may already be "
            f"running there, or another program holds the port. Stop it, or use another port: make local-backend "
            f"LOCAL_PORT={port + 1} (and COURSE_LOCAL_BACKEND_URL=http://127.0.0.1:{port + 1}/v1 for the replay "
            "fallback).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_backend", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_BACKEND_PORT", DEFAULT_PORT)))
    parser.add_argument("--eager", action="store_true", help="load every model at start, not on first use")
    parser.add_argument("--lazy", action="store_true", help="(the default) load each model on its first request")
    parser.add_argument("--prepare", action="store_true", help="assemble model files after install, then exit")
    args = parser.parse_args(argv)
    if args.prepare:
        try:
            prepare()
        except ModelFileError as exc:
            print(f"local backend: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        hooks = Webhooks.from_env(os.environ)
    except SettingError as exc:
        print(f"local backend: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    engines = real_engines()
    backend = Backend(engines, args.port, hooks)
    try:
        httpd = backend.bind()  # fail fast if the port is taken, before loading models
    except OSError as exc:
        print(port_taken(args.port, exc), file=sys.stderr)
        return 2
    if args.eager:
        for role in engines.factories:
            t = time.monotonic()
            try:
                engines.get(role)
            except ModelFileError as exc:
                print(f"local backend: {exc}", file=sys.stderr)
                return 2
            print(f"loaded {role:<13} {engines.names[role]:<24} {time.monotonic() - t:5.2f} s", flush=True)
    print(f"local backend ready in {time.monotonic() - started:.2f} s at {backend.base_url} "
          f"(set OPENAI_BASE_URL to it; any API key works)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
