"""Re-run notebooks in record mode, in place: outputs and recording come from the same run.

Usage: python scripts/record.py [--backend local|openai|auto] [NOTEBOOK ...]
Without notebooks it records every lesson in notebooks/ (not the solutions, which reuse recordings).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers.paths import NOTEBOOKS, recording_path
from helpers.replay.recording import Recording
from helpers.replay.wire import LOCAL_BACKEND_URL as LOCAL_BACKEND
from helpers.session import replay_banner
from helpers.tooling.authoring import clean_file, dumps


def upstream(backend: str) -> dict[str, str]:
    """Environment changes that point the recorder at the chosen upstream."""
    if backend == "local":
        try:
            urllib.request.urlopen(f"{LOCAL_BACKEND}/models", timeout=5).read()
        except OSError as exc:
            raise SystemExit(f"The local backend is not answering at {LOCAL_BACKEND} ({exc}). "
                             "Start it first: make local-backend") from None
        return {"OPENAI_BASE_URL": LOCAL_BACKEND}
    if backend == "openai":
        if not os.environ.get("OPENAI_API_KEY"):
            raise SystemExit("Recording from OpenAI needs OPENAI_API_KEY in the environment or .env.")
        return {"OPENAI_BASE_URL": ""}
    return {}


def store_replay_banner(path: Path) -> None:
    """Keep the banner a learner will see (replay) in the first cell, not the recorder's."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    name = path.stem
    banner = replay_banner(name, Recording.load(recording_path(name), name)) + "\n"
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", []))
            if output.get("output_type") == "stream" and text.startswith("record · "):
                output["text"] = [banner + text.split("\n", 1)[1] if "\n" in text.rstrip("\n") else banner]
                path.write_text(dumps(notebook), encoding="utf-8")
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", choices=["auto", "replay", "local", "openai"])
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    names = args.notebooks or sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    env = {**os.environ, "COURSE_BACKEND": "record", **upstream(args.backend)}
    if not env.get("OPENAI_BASE_URL"):
        env.pop("OPENAI_BASE_URL", None)
    for name in names:
        path = NOTEBOOKS / f"{name.removesuffix('.ipynb')}.ipynb"
        if not path.exists():
            raise SystemExit(f"No notebook {path}")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                        "--ExecutePreprocessor.timeout=1200", str(path)], check=True, env=env)
        clean_file(path)
        store_replay_banner(path)
        print(f"recorded {path.name} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
