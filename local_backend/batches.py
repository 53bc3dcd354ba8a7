"""The Batch API, run by the local models.

A batch is a JSONL file of requests (``{"custom_id", "method": "POST", "url", "body"}`` per line). Here each
request is answered by the same engines as a direct call. The work happens while you poll: every
``GET /v1/batches/{id}`` runs up to :data:`REQUESTS_PER_POLL` more requests, so the number of polls, and
therefore a recording, is the same on every run. The status goes validating → in_progress → completed, and
``output_file_id`` / ``error_file_id`` point at JSONL files you download with ``client.files.content()``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .common import CREATED, ApiError, Call, Reply, check_known, invalid
from .fixtures import FileStore

REQUESTS_PER_POLL = 2
ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions")
Runner = Callable[[str, dict[str, Any], int], dict[str, Any]]  # (url, body, line number) -> response JSON


def parse_lines(text: str, endpoint: str) -> list[dict[str, Any]]:
    """The requests of a batch input file; a 400 naming the first bad line otherwise."""
    requests, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise invalid("input_file_id", f"line {number} is not valid JSON ({exc}).") from None
        if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
            raise invalid("input_file_id", f'line {number} needs "custom_id", "method", "url" and a "body" object.')
        if item.get("url") != endpoint or item.get("method", "POST") != "POST":
            raise invalid("input_file_id", f"line {number} is POST {item.get('url')}, but the batch endpoint is "
                                           f"{endpoint}; one batch serves one endpoint.")
        if item.get("custom_id") in seen or not item.get("custom_id"):
            raise invalid("input_file_id", f"line {number} needs a custom_id that no other line uses.")
        if item["body"].get("stream"):
            raise invalid("input_file_id", f"line {number} asks to stream; batch requests cannot stream.")
        seen.add(item["custom_id"])
        requests.append({**item, "line": number})
    if not requests:
        raise invalid("input_file_id", "the file has no requests.")
    return requests


class Batches:
    """Batches in memory for the life of the server."""

    def __init__(self, files: FileStore, run: Runner) -> None:
        self.files, self.run = files, run
        self.batches: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.results: dict[str, tuple[list[str], list[str]]] = {}
        self.lock = threading.Lock()

    def create(self, call: Call) -> Reply:
        body = call.body
        check_known(body, {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"},
                    "batches")
        endpoint, window = body.get("endpoint"), body.get("completion_window")
        if endpoint not in ENDPOINTS:
            raise invalid("endpoint", f"must be one of {', '.join(ENDPOINTS)} on the local backend.")
        if window != "24h":
            raise invalid("completion_window", "must be '24h'.")
        content = self.files.contents.get(str(body.get("input_file_id")))
        if content is None:
            raise ApiError(f"Invalid file id: {body.get('input_file_id')!r} was not uploaded to this server.",
                           "input_file_id", "invalid_file")
        requests = parse_lines(content.decode("utf-8"), endpoint)
        batch_id = call.make_id("batch_")
        batch = {"id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None,
                 "input_file_id": body["input_file_id"], "completion_window": window, "status": "validating",
                 "output_file_id": None, "error_file_id": None, "created_at": CREATED, "in_progress_at": None,
                 "expires_at": CREATED + 86_400, "finalizing_at": None, "completed_at": None, "failed_at": None,
                 "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                 "request_counts": {"total": len(requests), "completed": 0, "failed": 0},
                 "metadata": body.get("metadata")}
        with self.lock:
            self.batches[batch_id], self.pending[batch_id], self.results[batch_id] = batch, requests, ([], [])
        return Reply(json=batch)

    def retrieve(self, batch_id: str, cancel: bool = False) -> Reply:
        with self.lock:
            if batch_id not in self.batches:
                raise ApiError(f"No such batch: {batch_id}", "batch_id", "not_found", status=404)
            batch = self.batches[batch_id]
            if cancel and batch["status"] in ("validating", "in_progress"):
                self.pending[batch_id] = []
                batch.update(status="cancelled", cancelling_at=CREATED, cancelled_at=CREATED)
            elif batch["status"] == "validating":
                batch.update(status="in_progress", in_progress_at=CREATED)
            elif batch["status"] == "in_progress":
                self._advance(batch)
            return Reply(json=dict(batch))

    def _advance(self, batch: dict[str, Any]) -> None:
        """Run the next few requests; finish the batch when none are left."""
        pending, (outputs, errors) = self.pending[batch["id"]], self.results[batch["id"]]
        for item in pending[:REQUESTS_PER_POLL]:
            request_id = f"req_{batch['id'][6:18]}{item['line']:04d}"
            try:
                answer = self.run(item["url"], item["body"], item["line"])
                outputs.append(json.dumps({"id": f"batch_req_{request_id[4:]}", "custom_id": item["custom_id"],
                                           "response": {"status_code": 200, "request_id": request_id, "body": answer},
                                           "error": None}))
                batch["request_counts"]["completed"] += 1
            except ApiError as exc:
                errors.append(json.dumps({"id": f"batch_req_{request_id[4:]}", "custom_id": item["custom_id"],
                                          "response": {"status_code": exc.status, "request_id": request_id,
                                                       "body": exc.body()}, "error": None}))
                batch["request_counts"]["failed"] += 1
        del pending[:REQUESTS_PER_POLL]
        if not pending:
            for kind, lines in (("output", outputs), ("error", errors)):
                if lines:
                    batch[f"{kind}_file_id"] = self.files.add(f"{batch['id']}_{kind}.jsonl", "batch_output",
                                                              ("\n".join(lines) + "\n").encode())
            batch.update(status="completed", finalizing_at=CREATED, completed_at=CREATED)

    def list(self) -> Reply:
        with self.lock:
            return Reply(json={"object": "list", "data": list(self.batches.values())[::-1], "has_more": False})
