"""``background=True`` on ``responses.create``, ``responses.retrieve`` polling, and ``responses.cancel``.

The answer is generated when the request arrives (the engines run one request at a time anyway) and revealed
by polls, like :mod:`local_backend.batches`: the create call answers ``queued``, the first
``GET /v1/responses/{id}`` ``in_progress``, the next one the finished response. So the number of polls, and a
recording, is the same on every run. ``POST /v1/responses/{id}/cancel`` turns a queued or in-progress response
into ``cancelled`` (its output is then empty); on a finished background response it changes nothing and
answers it as it is; on a response created without ``background`` it is a 400, as the SDK documents ("Only
responses created with the `background` parameter set to `true` can be cancelled").

With ``stream=True`` too, the events are generated at once, kept, and all sent; ``GET /v1/responses/{id}?stream=
true&starting_after=N`` (``responses.retrieve(id, stream=True, starting_after=N)``) sends again the kept events
whose ``sequence_number`` is above N, which is how a client resumes a dropped stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .common import ApiError, Call, Reply, unsupported

Answer = Callable[[Call], Reply]
STAGES = ("queued", "in_progress")  # what polls show before the finished response
STREAM_NOTE = ("background stream emulated: every event was generated when the request arrived and is kept, so "
               "responses.retrieve(stream=True, starting_after=N) replays the events after N")
NOTE = ("background emulated: the answer was generated when the request arrived; each responses.retrieve "
        "advances queued -> in_progress -> the finished response")


class Background:
    """Background responses by id: the finished answer and how far polls have revealed it."""

    def __init__(self, on_final: Callable[[dict[str, Any], str | None], None] | None = None) -> None:
        # Called once a response reaches a final status, with the webhook URL of the request that ended it.
        self.on_final = on_final or (lambda response, webhook_url: None)
        self.final: dict[str, dict[str, Any]] = {}
        self.stage: dict[str, str] = {}  # queued, in_progress, done or cancelled
        self.events: dict[str, list[tuple[str | None, Any]]] = {}  # the kept events of a streamed one
        self.lock = threading.Lock()

    def respond(self, call: Call, answer: Answer) -> Reply:
        """``responses.create``: plain requests pass through; background ones answer ``queued``."""
        body = call.body
        if not body.get("background"):
            return answer(call)
        if body.get("store") is False:
            raise ApiError("Background mode requires store=true: a background response must be kept to be "
                           "retrieved.", "store", "invalid_value")
        inner = Call(call.path, {k: v for k, v in body.items() if k != "background"}, call.occurrence, call.headers)
        reply = answer(inner)
        note = STREAM_NOTE if body.get("stream") else NOTE
        call.headers["x-course-emulated"] = "; ".join(filter(None, [call.headers.get("x-course-emulated"), note]))
        call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), note]))
        if reply.events is not None:
            return self._streamed(reply, call.webhook_url)
        final = reply.json | {"background": True}
        with self.lock:
            self.final[final["id"]], self.stage[final["id"]] = final, "queued"
            return Reply(json=self._view(final["id"]), model=reply.model)

    def _streamed(self, reply: Reply, webhook_url: str | None) -> Reply:
        """Keep every event of a background stream (marked background, ``queued`` at creation) and send them all."""
        events: list[tuple[str | None, Any]] = []
        for kind, data in reply.events or iter(()):
            if isinstance(data, dict) and isinstance(data.get("response"), dict):
                data = data | {"response": data["response"] | {"background": True}}
                if kind == "response.created":
                    data["response"]["status"] = "queued"
            events.append((kind, data))
        final = next(d["response"] for _, d in reversed(events) if isinstance(d, dict) and "response" in d)
        with self.lock:
            self.final[final["id"]], self.stage[final["id"]] = final, "done"
            self.events[final["id"]] = events
        self.on_final(final, webhook_url)
        return Reply(events=iter(events), content_type=reply.content_type, model=reply.model)

    def replay(self, response_id: str, query: dict[str, Any]) -> Reply:
        """``responses.retrieve(id, stream=True, starting_after=N)``: the kept events after sequence number N."""
        after = query.get("starting_after", "-1")
        if not str(after).lstrip("-").isdigit():
            raise ApiError("Invalid 'starting_after': must be an integer (a sequence number).", "starting_after",
                           "invalid_value")
        with self.lock:
            if response_id not in self.events:
                raise unsupported("stream", "only a response created with background=true and stream=true can be "
                                            "streamed again.")
            events = [e for e in self.events[response_id] if e[1]["sequence_number"] > int(after)]
        return Reply(events=iter(events), content_type="text/event-stream")

    def _view(self, response_id: str) -> dict[str, Any]:
        final, stage = self.final[response_id], self.stage[response_id]
        if stage == "done":
            return final
        return final | {"status": stage, "output": [], "usage": None, "incomplete_details": None}

    def retrieve(self, response_id: str, webhook_url: str | None = None) -> Reply | None:
        """The next stage of a background response (None: not a background response)."""
        with self.lock:
            if response_id not in self.final:
                return None
            stage = self.stage[response_id]
            if stage in STAGES:
                self.stage[response_id] = STAGES[STAGES.index(stage) + 1] if stage != STAGES[-1] else "done"
            view = self._view(response_id)
        if stage == STAGES[-1]:
            self.on_final(view, webhook_url)
        return Reply(json=view)

    def cancel(self, response_id: str, known: bool, webhook_url: str | None = None) -> Reply:
        """``responses.cancel``: ``known`` says whether the id is a stored (foreground) response."""
        with self.lock:
            if response_id not in self.final:
                if known:
                    raise ApiError("Only responses created with background=true can be cancelled.", None,
                                   "invalid_request")
                raise ApiError(f"Response with id '{response_id}' not found.", None, "not_found", status=404)
            running = self.stage[response_id] in STAGES
            if running:
                self.stage[response_id] = "cancelled"
            view = self._view(response_id)
        if running:
            self.on_final(view, webhook_url)
        return Reply(json=view)

    def forget(self, response_id: str) -> None:
        with self.lock:
            self.final.pop(response_id, None)
            self.stage.pop(response_id, None)
            self.events.pop(response_id, None)
