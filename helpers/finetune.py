"""Fine-tuning data: check a chat-format JSONL file before uploading it, with line numbers.

Each line of a chat fine-tuning file is one JSON object ``{"messages": [...]}``: optional system or developer
message, then user/assistant turns, ending with the assistant answer the model should learn. Uploading a
broken file wastes a job (and, live, money); :func:`validate_chat_jsonl` says exactly which lines to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CourseError

ROLES = ("system", "developer", "user", "assistant", "tool")
TOP_LEVEL_KEYS = {"messages", "tools", "parallel_tool_calls", "functions"}
MIN_EXAMPLES = 10  # OpenAI's minimum for a fine-tuning job


class FineTuneDataError(CourseError):
    """A fine-tuning file has problems; the message lists them by line."""


@dataclass(frozen=True)
class Problem:
    line: int | None  # None for a problem with the whole file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _message_problems(number: int, message: Any) -> list[str]:
    if not isinstance(message, dict):
        return [f"message {number} is not an object"]
    role = message.get("role")
    if role not in ROLES:
        return [f"message {number} has role {role!r}; use one of {', '.join(ROLES)}"]
    content = message.get("content")
    if role == "assistant" and message.get("tool_calls"):
        return []
    if not isinstance(content, (str, list)) or not content:
        return [f"message {number} ({role}) has no text content"]
    return []


def line_problems(text: str) -> list[str]:
    """Problems with one line of a chat fine-tuning file (empty when the line is fine)."""
    if not text.strip():
        return ["the line is empty (remove blank lines)"]
    try:
        example = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON: {exc.msg} at column {exc.colno}"]
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list) or not example["messages"]:
        return ['needs an object with a non-empty "messages" list']
    problems = [f"unknown key {key!r}" for key in sorted(set(example) - TOP_LEVEL_KEYS)]
    for number, message in enumerate(example["messages"], start=1):
        problems += _message_problems(number, message)
    last = example["messages"][-1]
    if isinstance(last, dict) and last.get("role") != "assistant":
        problems.append("the last message must be the assistant's answer the model should learn")
    return problems


def check_chat_jsonl(path: str | Path) -> tuple[int, list[Problem]]:
    """``(number of examples, problems)`` for a chat-format JSONL file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # a final newline is fine
    problems = [Problem(n, p) for n, text in enumerate(lines, start=1) for p in line_problems(text)]
    if len(lines) < MIN_EXAMPLES:
        problems.append(Problem(None, f"only {len(lines)} examples; a fine-tuning job needs at least {MIN_EXAMPLES}"))
    return len(lines), problems


def validate_chat_jsonl(path: str | Path, show: int = 15) -> int:
    """Number of examples in a valid file; a :class:`FineTuneDataError` listing the problems otherwise."""
    count, problems = check_chat_jsonl(path)
    if problems:
        listed = "\n".join(f"  {p}" for p in problems[:show])
        more = f"\n  ... and {len(problems) - show} more" if len(problems) > show else ""
        noun = "problem" if len(problems) == 1 else "problems"
        raise FineTuneDataError(f"{Path(path).name} has {len(problems)} {noun}; nothing was uploaded:\n{listed}{more}")
    return count
