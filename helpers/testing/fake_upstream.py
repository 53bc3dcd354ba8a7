"""A small fake OpenAI-compatible server for the tests: known answers, timed streams, leaky headers."""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..replay.canon import parse_multipart
from ..replay.wire import openai_error

STREAM_WORDS = ["Once", " upon", " a", " time", "."]
STREAM_GAP = 0.05  # seconds between streamed events
LEAKED_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"  # built at run time: no key in the source


class FakeUpstream:
    """Serves /v1 endpoints on 127.0.0.1; ``requests`` lists what it received (with headers)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- answers -----------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body})
        path = h.path.split("?")[0]
        payload = json.loads(body) if body and "json" in h.headers.get("Content-Type", "") else {}
        if path == "/v1/chat/completions" and payload.get("stream"):
            return self.stream(h, payload)
        if path == "/v1/chat/completions":
            return self.send(h, 200, self.chat(payload))
        if path == "/v1/embeddings":
            return self.send(h, 200, self.embeddings(payload))
        if path == "/v1/audio/transcriptions":
            form = parse_multipart(h.headers["Content-Type"], body)
            upload = form["files"]["file"]
            size = sum(f["size"] for f in upload) if isinstance(upload, list) else upload["size"]
            return self.send(h, 200, {"text": f"heard {size} bytes with {form['fields']['model']}"})
        if path == "/v1/models":
            return self.send(h, 200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 1, "owned_by": "tests"}]})
        if path == "/v1/leak":
            return self.send(h, 200, {"note": f"a key that must never be recorded: {LEAKED_KEY}"})
        return self.send(h, 404, openai_error(f"no route {path}", None))

    @staticmethod
    def chat(payload: dict[str, Any]) -> dict[str, Any]:
        text = "echo: " + payload["messages"][-1]["content"]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": "fake-small-model",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }

    @staticmethod
    def embeddings(payload: dict[str, Any]) -> dict[str, Any]:
        inputs = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        data = []
        for i, text in enumerate(inputs):
            floats = [float(len(text)), 1.0, -0.5]
            vector: list[float] | str = floats
            if payload.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(floats)}f", *floats)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        return {"object": "list", "model": "fake-embedder", "data": data,
                "usage": {"prompt_tokens": 2, "total_tokens": 2}}

    def stream(self, h: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        self.leaky_headers(h)
        h.end_headers()
        base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": 1, "model": "fake-small-model"}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]}]
        chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
                   for w in STREAM_WORDS]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if payload.get("stream_options", {}).get("include_usage"):
            chunks.append({**base, "choices": [],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})
        try:
            for chunk in chunks:
                time.sleep(STREAM_GAP)
                self.chunk(h, f"data: {json.dumps(chunk)}\n\n".encode())
            self.chunk(h, b"data: [DONE]\n\n")
            self.chunk(h, b"")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (e.g. a stream cut on purpose)

    @staticmethod
    def chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()

    @staticmethod
    def leaky_headers(h: BaseHTTPRequestHandler) -> None:
        """Headers a real upstream sends that a recording must not keep."""
        h.send_header("Set-Cookie", "__cf_bm=secret-cookie-value; path=/")
        h.send_header("OpenAI-Organization", "org-" + "Zx9" * 8)
        h.send_header("Date", "Sat, 21 Nov 2026 10:00:00 GMT")
        h.send_header("X-Request-Id", "req_fake123")
        h.send_header("X-RateLimit-Remaining-Requests", "499")

    def send(self, h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        self.leaky_headers(h)
        h.end_headers()
        h.wfile.write(data)
