"""Answers where no offline model exists: images, moderation, files and hosted fine-tuning.

Each answer has OpenAI's shape, says in its payload that it is a fixture, and sets the header
``x-course-fixture`` (the course recorder labels the interaction from it). Images are flat-coloured
PNGs drawn from a hash of the prompt, with the word FIXTURE on them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import threading
import zlib
from typing import Any

from .common import CREATED, ApiError, Call, Reply, check_known, integer, invalid, unsupported

IMAGE_NOTE = "no offline image model: a procedurally drawn PNG"
IMAGE_LABEL = "[Fixture: no image model runs offline; this PNG was drawn from a hash of the prompt] "
MODERATION_NOTE = "no offline moderation model: a transparent keyword list, not a classifier"
MODERATION_MODEL = "course-fixture-keyword-list"
FINE_TUNE_NOTE = "no hosted fine-tuning offline: the job is a fixture and trains nothing"
IMAGE_FIELDS = {"prompt", "model", "n", "size", "quality", "style", "response_format", "output_format",
                "background", "moderation", "user", "output_compression"}
SIZES = {"auto": (1024, 1024), "256x256": (256, 256), "512x512": (512, 512), "1024x1024": (1024, 1024),
         "1536x1024": (1536, 1024), "1024x1536": (1024, 1536), "1792x1024": (1792, 1024), "1024x1792": (1024, 1792)}
# A 5x7 bitmap font, just enough for the label.
GLYPHS = {
    "F": ["11111", "10000", "10000", "11110", "10000", "10000", "10000"],
    "I": ["11111", "00100", "00100", "00100", "00100", "00100", "11111"],
    "X": ["10001", "10001", "01010", "00100", "01010", "10001", "10001"],
    "T": ["11111", "00100", "00100", "00100", "00100", "00100", "00100"],
    "U": ["10001", "10001", "10001", "10001", "10001", "10001", "01110"],
    "R": ["11110", "10001", "10001", "11110", "10100", "10010", "10001"],
    "E": ["11111", "10000", "10000", "11110", "10000", "10000", "11111"],
}
CATEGORIES = {
    "harassment": ["idiot", "stupid", "loser", "hate you"], "harassment/threatening": ["i will hurt you"],
    "hate": ["subhuman", "vermin"], "hate/threatening": [], "illicit": ["steal", "hack into", "counterfeit"],
    "illicit/violent": ["make a bomb", "build a weapon"], "self-harm": ["hurt myself", "kill myself"],
    "self-harm/intent": ["want to die"], "self-harm/instructions": ["how to hurt myself"],
    "sexual": ["explicit sex"], "sexual/minors": [], "violence": ["kill", "murder", "attack", "shoot"],
    "violence/graphic": ["gore", "blood everywhere"],
}


# -- images -----------------------------------------------------------------------------------------
def png(width: int, height: int, seed: bytes) -> bytes:
    """A PNG of horizontal colour bands (from ``seed``) with FIXTURE written across it."""
    top = seed[0:3]
    bottom = seed[3:6]
    scale = max(2, min(width, height) // 64)
    label_w, label_h = (len("FIXTURE") * 6 - 1) * scale, 7 * scale
    x0, y0 = (width - label_w) // 2, (height - label_h) // 2
    rows = []
    for y in range(height):
        band = min(7, y * 8 // height)
        colour = bytes(int(a + (b - a) * band / 7) for a, b in zip(top, bottom, strict=True))
        row = bytearray(colour * width)
        gy = (y - y0) // scale
        if 0 <= y - y0 < label_h:
            for i, ch in enumerate("FIXTURE"):
                bits = GLYPHS[ch][gy]
                for gx, bit in enumerate(bits):
                    if bit == "1":
                        start = x0 + (i * 6 + gx) * scale
                        row[start * 3:(start + scale) * 3] = b"\xff\xff\xff" * scale
        rows.append(b"\x00" + bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def images(call: Call, fields: dict[str, Any], kind: str = "generation") -> Reply:
    """``images.generate`` / ``images.edit`` / ``images.create_variation``: labelled fixture PNGs."""
    known = IMAGE_FIELDS | ({"image", "image[]", "mask", "input_fidelity"} if kind != "generation" else set())
    check_known(fields, known, f"images ({kind})")
    prompt = fields.get("prompt") or ""
    if kind != "variation" and not prompt:
        raise invalid("prompt", "is required.")
    n = int(fields.get("n") or 1)
    integer({"n": n}, "n", 1, 10, 1)
    size = fields.get("size") or "auto"
    if size not in SIZES:
        raise invalid("size", f"must be one of {', '.join(SIZES)}.")
    if fields.get("output_format") not in (None, "png"):
        raise unsupported("output_format", "the fixture images are PNG only.")
    if fields.get("response_format") not in (None, "b64_json", "url"):
        raise invalid("response_format", "must be 'b64_json' or 'url'.")
    call.fixture(IMAGE_NOTE)
    width, height = SIZES[size]
    data = []
    for i in range(n):
        picture = base64.b64encode(png(width, height, hashlib.sha256(f"{prompt}\0{i}".encode()).digest())).decode()
        item: dict[str, Any] = {"revised_prompt": IMAGE_LABEL + prompt}
        if fields.get("response_format") == "url":
            item["url"] = "data:image/png;base64," + picture  # no image host offline: the picture inline
        else:
            item["b64_json"] = picture
        data.append(item)
    body = {"created": CREATED, "data": data, "output_format": "png", "size": f"{width}x{height}",
            "quality": fields.get("quality") or "auto", "background": "opaque",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                      "input_tokens_details": {"text_tokens": 0, "image_tokens": 0}}}
    return Reply(json=body, model="course-fixture")


# -- moderation -------------------------------------------------------------------------------------
def moderations(call: Call) -> Reply:
    """``moderations.create``: flags from a short, visible keyword list (not a model)."""
    body = call.body
    check_known(body, {"input", "model"}, "moderations")
    value = body.get("input")
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not inputs:
        raise invalid("input", "must be a string or a list.")
    texts = []
    for item in inputs:
        if isinstance(item, dict):
            texts.append(item.get("text", "") if item.get("type") == "text" else "")
        else:
            texts.append(str(item))
    call.fixture(MODERATION_NOTE)
    results = []
    for text in texts:
        lower = text.lower()
        hits = {c: any(re.search(r"\b" + re.escape(w) + r"\b", lower) for w in words)
                for c, words in CATEGORIES.items()}
        results.append({"flagged": any(hits.values()), "categories": hits,
                        "category_scores": {c: 0.99 if hit else 0.0 for c, hit in hits.items()},
                        "category_applied_input_types": {c: ["text"] for c in hits}})
    return Reply(json={"id": call.make_id("modr-"), "model": MODERATION_MODEL, "results": results},
                 model=MODERATION_MODEL)


# -- files and fine-tuning --------------------------------------------------------------------------
class FileStore:
    """Uploaded files and fine-tuning jobs, in memory for the life of the server."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def upload(self, fields: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Reply:
        check_known(fields | dict.fromkeys(files, "file"), {"file", "purpose", "expires_after"}, "files")
        if "file" not in files or not fields.get("purpose"):
            raise invalid("file" if "file" not in files else "purpose", "is required.")
        name, content = files["file"]
        file_id = "file-" + hashlib.sha256(content + name.encode()).hexdigest()[:24]
        meta = {"id": file_id, "object": "file", "bytes": len(content), "created_at": CREATED, "filename": name,
                "purpose": fields["purpose"], "status": "processed", "expires_at": None, "status_details": None}
        with self.lock:
            self.files[file_id], self.contents[file_id] = meta, content
        return Reply(json=meta)

    def add(self, name: str, purpose: str, content: bytes) -> str:
        """Store a file the server itself produced (e.g. a batch's output); returns its id."""
        file_id = "file-" + hashlib.sha256(content + name.encode()).hexdigest()[:24]
        meta = {"id": file_id, "object": "file", "bytes": len(content), "created_at": CREATED, "filename": name,
                "purpose": purpose, "status": "processed", "expires_at": None, "status_details": None}
        with self.lock:
            self.files[file_id], self.contents[file_id] = meta, content
        return file_id

    def file(self, file_id: str, part: str | None = None, delete: bool = False) -> Reply:
        with self.lock:
            if file_id not in self.files:
                raise ApiError(f"No such File object: {file_id}", "id", "not_found", status=404)
            if delete:
                self.files.pop(file_id)
                self.contents.pop(file_id)
                return Reply(json={"id": file_id, "object": "file", "deleted": True})
            if part == "content":
                return Reply(body=self.contents[file_id], content_type="application/octet-stream")
            return Reply(json=self.files[file_id])

    def list_files(self) -> Reply:
        with self.lock:
            return Reply(json={"object": "list", "data": list(self.files.values()), "has_more": False})

    def create_job(self, call: Call) -> Reply:
        """A fine-tuning job that 'succeeds' at once, clearly labelled: nothing is trained."""
        body = call.body
        check_known(body, {"model", "training_file", "validation_file", "hyperparameters", "suffix", "seed",
                           "method", "metadata", "integrations"}, "fine_tuning.jobs")
        training = body.get("training_file")
        with self.lock:
            if training not in self.contents:
                raise ApiError(f"Invalid file id: {training!r} was not uploaded to this server.", "training_file",
                               "invalid_file")
            lines = [json.loads(line) for line in self.contents[training].decode().splitlines() if line.strip()]
        if not lines or not all(isinstance(x, dict) and ("messages" in x or "prompt" in x) for x in lines):
            raise invalid("training_file", "must be JSONL with a 'messages' list per line.")
        call.fixture(FINE_TUNE_NOTE)
        job_id = call.make_id("ftjob-")
        suffix = body.get("suffix") or "course"
        job = {"id": job_id, "object": "fine_tuning.job", "created_at": CREATED, "finished_at": CREATED,
               "model": body.get("model"), "organization_id": "org-local-fixture",
               "fine_tuned_model": f"ft:{body.get('model')}:course-fixture:{suffix}:{job_id[6:14]}",
               "status": "succeeded", "training_file": training, "validation_file": body.get("validation_file"),
               "hyperparameters": {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.0,
                                   **(body.get("hyperparameters") or {})},
               "result_files": [], "trained_tokens": 0, "error": None, "seed": body.get("seed") or 0,
               "estimated_finish": None, "integrations": [], "metadata": body.get("metadata"),
               "method": body.get("method") or {"type": "supervised"},
               "user_provided_suffix": body.get("suffix"), "note": "FIXTURE: " + FINE_TUNE_NOTE}
        with self.lock:
            self.jobs[job_id] = job
        return Reply(json=job)

    def job(self, call: Call, job_id: str, part: str | None = None) -> Reply:
        call.fixture(FINE_TUNE_NOTE)
        with self.lock:
            if job_id not in self.jobs:
                raise ApiError(f"No such fine-tuning job: {job_id}", "id", "not_found", status=404)
            job = self.jobs[job_id]
        if part == "events":
            messages = ["Created fine-tuning job", f"FIXTURE: {FINE_TUNE_NOTE}", "The job has successfully completed"]
            events = [{"id": f"ftevent-{job_id[6:14]}{i}", "object": "fine_tuning.job.event", "created_at": CREATED,
                       "level": "info", "message": m, "data": {}, "type": "message"}
                      for i, m in enumerate(messages)]
            return Reply(json={"object": "list", "data": events[::-1], "has_more": False})
        if part == "checkpoints":
            return Reply(json={"object": "list", "data": [], "has_more": False, "first_id": None, "last_id": None})
        if part == "cancel":
            raise ApiError("The job has already finished.", None, "invalid_state")
        return Reply(json=job)

    def list_jobs(self, call: Call) -> Reply:
        call.fixture(FINE_TUNE_NOTE)
        with self.lock:
            return Reply(json={"object": "list", "data": list(self.jobs.values())[::-1], "has_more": False})
