"""``make chat`` (scripts/chat.py) in a pseudo-terminal, against the local backend on fake engines."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from helpers.paths import ROOT
from local_backend import Backend

from .fake_engines import last_messages
from .ports import free_port

TURN = re.compile(r"\[(\d+) in · (\d+) out · \$(\d+\.\d{6}) at gpt-5\.4-mini's price \(answered locally: free\) · "
                  r"history (\d+) messages, (\d+)/(\d+) tokens(, (\d+) oldest dropped)?\]")


@pytest.fixture
def spawn(tmp_path: Path) -> Callable[..., pexpect.spawn]:
    """Start the chat in a pseudo-terminal, with the local backend (fallback) at ``url``."""

    def start(url: str, *args: str) -> pexpect.spawn:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COURSE_BACKEND")}
        env.update(COURSE_FALLBACK="1", COURSE_LOCAL_BACKEND_URL=url, COURSE_RECORDINGS_DIR=str(tmp_path))
        return pexpect.spawn(sys.executable, ["scripts/chat.py", *args], cwd=str(ROOT), env=env, encoding="utf-8",
                             timeout=30)

    return start


def test_a_chat_streams_counts_trims_and_leaves_on_ctrl_d(backend: Backend, spawn: Callable[..., pexpect.spawn],
                                                          tmp_path: Path) -> None:
    child = spawn(backend.base_url, "--budget", "60")
    child.expect("chat · replay · nothing recorded, so the local backend at 127.0.0.1:")
    child.expect("history budget 60 tokens · Ctrl-D or Ctrl-C to leave")
    child.expect("you> ")
    child.sendline("Hello there, how are you today?")
    child.expect(r"bot> ([^\r\n]+)\r\n")  # pexpect's patterns are DOTALL
    assert child.match.group(1).strip()  # the streamed answer
    child.expect(TURN)
    tokens_in, tokens_out, _, messages, kept, budget = (child.match.group(i) for i in range(1, 7))
    assert int(tokens_in) > 0 and int(tokens_out) > 0 and (messages, budget) == ("2", "60") and int(kept) <= 60
    child.expect("you> ")
    child.sendline("Tell me more about the weather in Paris, please, and about the long history of the city, its "
                   "rivers, its bridges and its museums too.")
    child.expect(TURN)
    assert child.match.group(8) and int(child.match.group(5)) <= 60  # the oldest turn went to keep the budget
    child.expect("you> ")
    child.sendline("And?")
    child.expect(TURN)
    sent = str(last_messages(backend))  # what the third turn sent: the kept history, not the dropped first turn
    assert "Hello there" not in sent and "weather in Paris" in sent and "And?" in sent
    child.expect("you> ")
    child.sendline("word " * 80)
    child.expect(r"that message is \d+ tokens, over the history budget of 60")
    child.expect("you> ")
    child.sendeof()
    child.expect("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not list(tmp_path.iterdir())  # nothing recorded


def test_ctrl_c_leaves_cleanly(backend: Backend, spawn: Callable[..., pexpect.spawn]) -> None:
    child = spawn(backend.base_url)
    child.expect("you> ")
    time.sleep(0.5)  # let input() start reading the terminal
    child.sendintr()
    child.expect(r"\(stopped\)")
    child.expect("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "Traceback" not in (child.before or "")


def test_without_the_local_backend_replay_says_how_to_start_it(spawn: Callable[..., pexpect.spawn]) -> None:
    child = spawn(f"http://127.0.0.1:{free_port()}/v1")
    child.expect("make chat in replay mode needs the course's local backend at 127.0.0.1:")
    child.expect(r"start it \(make local-backend\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
