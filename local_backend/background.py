"""``background=True`` on ``responses.create``, ``responses.retrieve`` polling, and ``responses.cancel``.

The answer is generated when the request arrives (the engines run one request at a time anyway) and revealed
by polls, like :mod:`local_backend.batches`: the create call answers ``queued``, the first
``GET /v1/responses/{id}`` ``in_progress``, the next one the finished response. So the number of polls, and a
recording, is the same on every run. ``POST /v1/responses/{id}/cancel`` turns a queued or in-progress response
into ``cancelled`` (its output is then empty); on a finished background response it changes nothing and
answers it as it is; on a response created without ``background`` it is a 400, as the SDK documents ("Only
responses created with the `background` parameter set to `true` can be cancelled").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .common import ApiError, Call, Reply, unsupported

Answer = Callable[[Call], Reply]
STAGES = ("queued", "in_progress")  # what polls show before the finished response
NOTE = ("background emulated: the answer was generated when the request arrived; each responses.retrieve "
        "advances queued -> in_progress -> the finished response")


class Background:
    """Background responses by id: the finished answer and how far polls have revealed it."""

    def __init__(self) -> None:
        self.final: dict[str, dict[str, Any]] = {}
        self.stage: dict[str, str] = {}  # queued, in_progress, done or cancelled
        self.lock = threading.Lock()

    def respond(self, call: Call, answer: Answer) -> Reply:
        """``responses.create``: plain requests pass through; background ones answer ``queued``."""
        body = call.body
        if not body.get("background"):
            return answer(call)
        if body.get("stream"):
            raise unsupported("stream", "streaming a background response (and resuming it from a sequence "
                                        "number) is not available offline; poll with responses.retrieve instead.")
        if body.get("store") is False:
            raise ApiError("Background mode requires store=true: a background response must be kept to be "
                           "retrieved.", "store", "invalid_value")
        inner = Call(call.path, {k: v for k, v in body.items() if k != "background"}, call.occurrence, call.headers)
        reply = answer(inner)
        final = reply.json | {"background": True}
        call.headers["x-course-emulated"] = "; ".join(filter(None, [call.headers.get("x-course-emulated"), NOTE]))
        call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), NOTE]))
        with self.lock:
            self.final[final["id"]], self.stage[final["id"]] = final, "queued"
            return Reply(json=self._view(final["id"]), model=reply.model)

    def _view(self, response_id: str) -> dict[str, Any]:
        final, stage = self.final[response_id], self.stage[response_id]
        if stage == "done":
            return final
        return final | {"status": stage, "output": [], "usage": None, "incomplete_details": None}

    def retrieve(self, response_id: str) -> Reply | None:
        """The next stage of a background response (None: not a background response)."""
        with self.lock:
            if response_id not in self.final:
                return None
            stage = self.stage[response_id]
            if stage in STAGES:
                self.stage[response_id] = STAGES[STAGES.index(stage) + 1] if stage != STAGES[-1] else "done"
            return Reply(json=self._view(response_id))

    def cancel(self, response_id: str, known: bool) -> Reply:
        """``responses.cancel``: ``known`` says whether the id is a stored (foreground) response."""
        with self.lock:
            if response_id not in self.final:
                if known:
                    raise ApiError("Only responses created with background=true can be cancelled.", None,
                                   "invalid_request")
                raise ApiError(f"Response with id '{response_id}' not found.", None, "not_found", status=404)
            if self.stage[response_id] in STAGES:
                self.stage[response_id] = "cancelled"
            return Reply(json=self._view(response_id))

    def forget(self, response_id: str) -> None:
        with self.lock:
            self.final.pop(response_id, None)
            self.stage.pop(response_id, None)
