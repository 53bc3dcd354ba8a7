"""Start the course chatbot: ``python -m webapp [--port 8050]``, or answer the sample questions and exit.

Like a notebook, it starts with ``setup("webapp")``: ``COURSE_BACKEND`` chooses replay (recorded answers from
``data/recordings/webapp.json``), live, or record. ``--ask-samples`` asks the page's sample questions once and prints
the answers; in record mode that (re)writes the recording (``make record-webapp``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from openai import OpenAI

from helpers import current, models, setup
from helpers.tooling.lessons import lessons, short_title

from .ask import SAMPLE_QUESTIONS, ask
from .server import App, CourseChatServer


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m webapp", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--ask-samples", action="store_true", help="ask the sample questions, print, and exit")
    args = parser.parse_args(argv)

    setup("webapp", quiet=True)
    session = current()
    assert session is not None
    client = OpenAI()
    catalogue = lessons()

    def answer(question: str) -> dict[str, Any]:
        return ask(client, models.chat, question, catalogue).to_json()

    if args.ask_samples:
        print(session.banner)
        for question in SAMPLE_QUESTIONS:
            reply = answer(question)
            used = ", ".join(lesson["number"] for lesson in reply["lessons"])
            print(f"\nQ: {question}\nA ({reply['model']}, lessons {used}): {reply['answer']}")
        session.close()
        return

    app = App(answer=answer, banner=session.banner, backend=session.backend, samples=SAMPLE_QUESTIONS,
              lessons=[(lesson.number, short_title(lesson)) for lesson in catalogue])
    server = CourseChatServer(app, args.port)
    signal.signal(signal.SIGTERM, _interrupt)
    print(session.banner)
    print(f"Course chatbot on {server.url} (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        session.close()
        print("Course chatbot stopped.", file=sys.stderr)


if __name__ == "__main__":
    main()
