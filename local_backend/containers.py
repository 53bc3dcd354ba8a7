"""Containers (``/v1/containers``) and the ``code_interpreter`` tool, offline.

Containers are kept in memory: create (with ``file_ids`` copied from the uploaded files), list, retrieve,
delete, and their files (list, retrieve, content). The course never executes model-written code, so a
``code_interpreter`` run is a **labelled fixture**: an authored piece of code, its authored printout and the
file it "wrote" (``squares.csv``), placed in the container so it can be listed and downloaded like a real
output file. The answer names itself a fixture and does not depend on the prompt.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from .chat import FIXTURE_MODEL
from .common import CREATED, ApiError, Call, Reply, check_known, invalid, unsupported
from .fixtures import FileStore
from .responses import Store, check, skeleton, usage

CONTAINER_FIELDS = {"name", "expires_after", "file_ids", "memory_limit", "network_policy"}
MEMORY = ("1g", "4g", "16g", "64g")
OUTPUTS = "code_interpreter_call.outputs"
NOTE = ("no code runs offline: this code_interpreter run (its code, printout and output file) is an authored "
        "fixture, not the model's work")
SQUARES = [(n, n * n) for n in range(1, 11)]
CODE = '''import csv

squares = [(n, n * n) for n in range(1, 11)]
with open("/mnt/data/squares.csv", "w", newline="") as f:
    csv.writer(f).writerows([("n", "n_squared"), *squares])
print("sum of the first ten squares:", sum(s for _, s in squares))
'''
LOGS = f"sum of the first ten squares: {sum(s for _, s in SQUARES)}\n"
CSV = ("n,n_squared\r\n" + "".join(f"{n},{s}\r\n" for n, s in SQUARES)).encode()  # csv.writer's line ends
TEXT = ("[Fixture from the course's local backend] No code runs offline, so this is an authored example run, "
        "not an answer to your prompt: the code above computed the first ten square numbers, printed their sum "
        f"({sum(s for _, s in SQUARES)}) and saved the table as squares.csv.")


def uses_code_interpreter(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(isinstance(t, dict) and t.get("type") == "code_interpreter"
                                           for t in tools)


def not_found(container_id: str) -> ApiError:
    return ApiError(f"Container with id '{container_id}' not found.", None, "not_found", status=404)


class Containers:
    """The containers of this server, and their files, in memory."""

    def __init__(self, files: FileStore) -> None:
        self.uploads = files
        self.boxes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {}
        self.lock = threading.Lock()

    # -- containers ----------------------------------------------------------------------------------------
    def create(self, call: Call) -> Reply:
        body = call.body
        check_known(body, CONTAINER_FIELDS, "containers")
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise invalid("name", "is required.")
        if body.get("memory_limit") not in (None, *MEMORY):
            raise invalid("memory_limit", f"must be one of {', '.join(MEMORY)}.")
        expires = body.get("expires_after") or {"anchor": "last_active_at", "minutes": 20}
        if expires.get("anchor") != "last_active_at" or not isinstance(expires.get("minutes"), int):
            raise invalid("expires_after", "needs anchor 'last_active_at' and an integer number of minutes.")
        return Reply(json=self.new(call, body["name"], expires, body.get("memory_limit") or "1g",
                                   body.get("file_ids") or []))

    def new(self, call: Call, name: str, expires: dict[str, Any], memory: str, file_ids: list[Any]) -> dict[str, Any]:
        box_id = call.make_id("cntr_")
        box: dict[str, Any] = {"id": box_id, "object": "container", "created_at": CREATED, "name": name,
               "status": "running", "expires_after": expires, "last_active_at": CREATED, "memory_limit": memory,
               "network_policy": {"type": "disabled"}}
        files: dict[str, tuple[dict[str, Any], bytes]] = {}
        for i, file_id in enumerate(file_ids):
            with self.uploads.lock:
                if file_id not in self.uploads.files:
                    raise ApiError(f"Invalid 'file_ids[{i}]': no such File object: {file_id}", f"file_ids[{i}]",
                                   "not_found", status=404)
                meta, content = self.uploads.files[file_id], self.uploads.contents[file_id]
            files.update(self.entry(box_id, "/mnt/data/" + meta["filename"], content, "user"))
        with self.lock:
            self.boxes[box_id], self.files[box_id] = box, files
        return box

    def entry(self, container_id: str, path: str, content: bytes, source: str) -> dict[str, Any]:
        file_id = "cfile_" + hashlib.sha256(container_id.encode() + path.encode() + content).hexdigest()[:24]
        meta = {"id": file_id, "object": "container.file", "bytes": len(content), "container_id": container_id,
                "created_at": CREATED, "path": path, "source": source}
        return {file_id: (meta, content)}

    def list(self) -> Reply:
        with self.lock:
            data = list(self.boxes.values())
        return page(data)

    def container(self, method: str, container_id: str) -> Reply:
        with self.lock:
            if container_id not in self.boxes:
                raise not_found(container_id)
            if method == "DELETE":
                self.boxes.pop(container_id)
                self.files.pop(container_id, None)
                return Reply(json={"id": container_id, "object": "container.deleted", "deleted": True})
            return Reply(json=self.boxes[container_id])

    def file(self, method: str, container_id: str, file_id: str | None, content: bool) -> Reply:
        """``containers.files.list`` / ``retrieve`` / ``delete`` and ``files.content.retrieve``."""
        with self.lock:
            if container_id not in self.files:
                raise not_found(container_id)
            box = self.files[container_id]
            if file_id is None:
                if method != "GET":
                    raise unsupported("file", "offline, only files written by a code_interpreter run exist.")
                return page([meta for meta, _ in box.values()])
            if file_id not in box:
                raise ApiError(f"Container file with id '{file_id}' not found in container '{container_id}'.",
                               None, "not_found", status=404)
            if method == "DELETE":
                box.pop(file_id)
                return Reply(json={"id": file_id, "object": "container.file.deleted", "deleted": True})
            meta, data = box[file_id]
        if content:
            return Reply(body=data, content_type="application/octet-stream")
        return Reply(json=meta)

    # -- the code_interpreter tool (a labelled fixture) ------------------------------------------------------
    def respond(self, call: Call, store: Store) -> Reply:
        body = call.body
        if body.get("stream"):
            raise unsupported("stream", "offline, a code_interpreter run is answered in one piece (no stream).")
        include = body.get("include") or []
        check({**body, "include": [i for i in include if i != OUTPUTS]})
        tools = body["tools"]
        if len(tools) != 1:
            raise unsupported("tools", "offline, code_interpreter is answered alone (a fixture), with no other tool.")
        container = tools[0].get("container")
        if isinstance(container, str):
            with self.lock:
                if container not in self.boxes:
                    raise not_found(container)
            box_id = container
        elif isinstance(container, dict) and container.get("type") == "auto":
            box_id = self.new(call, f"code interpreter of {call.make_id('resp_')}",
                              {"anchor": "last_active_at", "minutes": 20}, container.get("memory_limit") or "1g",
                              container.get("file_ids") or [])["id"]
        else:
            raise invalid("tools[0].container", "must be a container id or {'type': 'auto'}.")
        call.fixture(NOTE)
        with self.lock:
            written = self.entry(box_id, "/mnt/data/squares.csv", CSV, "assistant")
            self.files[box_id].update(written)
        file_id = next(iter(written))
        start = TEXT.index("squares.csv")
        citation = {"type": "container_file_citation", "container_id": box_id, "file_id": file_id,
                    "filename": "squares.csv", "start_index": start, "end_index": start + len("squares.csv")}
        run = {"id": call.make_id("ci_"), "type": "code_interpreter_call", "status": "completed", "code": CODE,
               "container_id": box_id,
               "outputs": [{"type": "logs", "logs": LOGS}] if OUTPUTS in include else None}
        message = {"id": call.make_id("msg_"), "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": TEXT, "annotations": [citation], "logprobs": []}]}
        response = skeleton(call, body, FIXTURE_MODEL) | {
            "status": "completed", "output": [run, message],
            "usage": usage({"prompt_tokens": 0, "completion_tokens": 0})}
        if body.get("store", True) is not False:
            store.keep(response, [{"role": "assistant", "content": TEXT}])
        return Reply(json=response, model=FIXTURE_MODEL)


def page(data: list[dict[str, Any]]) -> Reply:
    return Reply(json={"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                       "last_id": data[-1]["id"] if data else None, "has_more": False})
