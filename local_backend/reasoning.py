"""Answer for the *requested* model as OpenAI would: its parameter rules, and an emulation of its reasoning.

The rules come from ``helpers.model_rules`` (one table, with sources). A request that OpenAI would refuse gets
OpenAI's error. A reasoning model at an effort other than ``none`` spends reasoning tokens before it answers;
the stand-in model does not reason, so the backend *emulates* the visible consequences, and says so in the
``x-course-emulated`` and ``x-course-note`` headers (the recorder keeps the note in the recording's source):

- the token cap counts a fixed number of reasoning tokens per effort, so a small cap leaves an empty answer
  with status ``incomplete``, as it can with a real reasoning model;
- usage reports them as ``reasoning_tokens``;
- a Responses output starts with a ``reasoning`` item whose summary is empty (no invented reasoning text).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from helpers import model_rules

from .common import ApiError, Call

# Emulated reasoning tokens per effort: fixed, so recordings repeat; small, so the stand-in still answers.
BUDGET = {"minimal": 8, "low": 24, "medium": 64, "high": 128, "xhigh": 192, "max": 256}


def enforce(endpoint: str, body: dict[str, Any]) -> None:
    """Raise OpenAI's error for a request the requested model's rules refuse."""
    violation = model_rules.check(endpoint, body)
    if violation is not None:
        raise ApiError(violation.message, violation.param, violation.code, status=violation.status)


@dataclass(frozen=True)
class Thinking:
    """The emulated reasoning of one answer."""

    effort: str
    tokens: int  # reasoning tokens counted (at most the cap)
    cap: int  # the request's token cap, reasoning included

    @property
    def exhausted(self) -> bool:
        """The cap was spent on reasoning: the answer is empty."""
        return self.tokens >= self.cap

    def answer_cap(self) -> int:
        """Tokens left for the visible answer (at least one is generated, then dropped, when none are left)."""
        return max(1, self.cap - self.tokens)


def plan(endpoint: str, body: dict[str, Any], call: Call, cap: int) -> Thinking | None:
    """The emulated reasoning for this request, or None when the model does not reason at this effort."""
    model = body.get("model")
    rule = model_rules.rule_for(model if isinstance(model, str) else None)
    if rule is None or not rule.reasoning:
        return None
    effort = rule.effort(model_rules.requested_effort(endpoint, body))
    if effort in (None, "none"):
        return None
    thinking = Thinking(effort, min(BUDGET.get(effort, BUDGET["medium"]), cap), cap)
    note = (f"reasoning emulated: {model} reasons at effort '{effort}'"
            + ("" if model_rules.requested_effort(endpoint, body) else " (not set; the course's stricter reading)")
            + f"; the stand-in does not reason, so {thinking.tokens} reasoning tokens are counted against the cap"
            + (" and the reasoning item is empty" if endpoint == "responses" else "")
            + ("; reasoning.summary was asked for, and stays empty: nothing was reasoned to summarise"
               if (body.get("reasoning") or {}).get("summary") else ""))
    call.headers["x-course-emulated"] = note
    call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), note]))
    return thinking


def spend(events: Iterator[dict[str, Any]], thinking: Thinking | None) -> Iterator[dict[str, Any]]:
    """One choice's events with the reasoning tokens added to its usage (and dropped text when none are left)."""
    for e in events:
        if thinking is None:
            yield e
        elif e["kind"] == "done":
            answered = 0 if thinking.exhausted else e["completion_tokens"]
            reason = "length" if thinking.exhausted else e["finish_reason"]
            yield {**e, "finish_reason": reason, "completion_tokens": answered + thinking.tokens,
                   "reasoning_tokens": thinking.tokens}
        elif not thinking.exhausted:
            yield e


def item(call: Call, sealed: bool = False) -> dict[str, Any]:
    """The Responses ``reasoning`` output item of an emulated reasoning (empty summary, no content).

    With ``sealed`` (``include=["reasoning.encrypted_content"]``), ``encrypted_content`` is a labelled
    placeholder: base64 of a JSON note saying that no reasoning happened. Real ones are opaque ciphertext.
    """
    item = {"id": call.make_id("rs_"), "type": "reasoning", "summary": []}  # unset fields left out, as OpenAI does:
    return item | {"encrypted_content": placeholder(call)} if sealed else item  # then the SDK sends it back clean


def placeholder(call: Call) -> str:
    """The stand-in's ``encrypted_content``: readable on purpose, so nobody mistakes it for a model's."""
    note = {"course_emulation": True, "id": call.make_id("rs_"),
            "note": "The local backend does not reason: this is not encrypted reasoning, only a placeholder "
                    "with the shape of one. Send it back in input as you would a real one."}
    return base64.b64encode(json.dumps(note, sort_keys=True).encode()).decode()
