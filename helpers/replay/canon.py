"""Canonical forms of HTTP requests, so a replayed request matches its recording.

Two requests match when they have the same method, path, query and body *meaning*:
JSON key order and ``1`` vs ``1.0`` do not matter, and neither does the random
boundary of a multipart upload (files are compared by their sha256).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .interaction import FileSummary, Multipart, StoredRequest
from .wire import parse_form

JSON_TYPES = ("application/json",)


def split_path(target: str) -> str:
    """Path with its query parameters sorted, so ``?a=1&b=2`` equals ``?b=2&a=1``."""
    parts = urlsplit(target)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.path + (f"?{query}" if query else "")


def _file_summary(filename: str | None, content_type: str | None, payload: bytes) -> FileSummary:
    return {
        "filename": filename,
        "content_type": content_type,
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def parse_multipart(content_type: str, body: bytes) -> Multipart:
    """Multipart form data as ``{"fields": {...}, "files": {...}}``, free of the boundary (files by their sha256)."""
    try:
        fields, files = parse_form(content_type, body)
    except ValueError:  # not multipart after all: nothing to compare but the (empty) form
        fields, files = {}, {}
    summaries = {name: [_file_summary(f.filename, f.content_type, f.data) for f in parts]
                 for name, parts in files.items()}
    # A field sent once is stored as a value, a repeated one (e.g. ``include[]``) as a list.
    return {
        "fields": {k: v[0] if len(v) == 1 else v for k, v in sorted(fields.items())},
        "files": {k: v[0] if len(v) == 1 else v for k, v in sorted(summaries.items())},
    }


def stored_request(method: str, target: str, content_type: str | None, body: bytes) -> StoredRequest:
    """The request as the recording stores it: readable, and without any header."""
    request: StoredRequest = {"method": method.upper(), "path": split_path(target)}
    if not body:
        return request
    ctype = (content_type or "").lower()
    if ctype.startswith(JSON_TYPES):
        try:
            request["json"] = json.loads(body)
            return request
        except ValueError:
            pass
    if ctype.startswith("multipart/form-data"):
        request["multipart"] = parse_multipart(content_type or "", body)
        return request
    request["raw"] = _file_summary(None, content_type, body)
    return request


# A port on this machine is whatever was free (a lesson's MCP server, a receiver): requests match whatever it is.
LOOPBACK_PORT = re.compile(r"^(https?://(?:127\.0\.0\.1|localhost)):\d+(?=/|$)")


def _normalise(value: Any) -> Any:
    """Numbers become floats (so 1 == 1.0), loopback URLs lose their port, containers are normalised
    recursively."""
    if isinstance(value, str):
        return LOOPBACK_PORT.sub(r"\1:PORT", value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def match_key(request: StoredRequest) -> str:
    """The key two matching requests share; computed from the stored form at load time."""
    return json.dumps(_normalise(request), sort_keys=True, ensure_ascii=False)


def pretty(request: StoredRequest) -> list[str]:
    """Request as indented JSON lines, for diffs."""
    return json.dumps(request, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def closest(request: StoredRequest, candidates: list[StoredRequest]) -> StoredRequest | None:
    """The recorded request most like ``request``: same method and path first, then by text."""
    if not candidates:
        return None
    same_route = [c for c in candidates if (c["method"], c["path"]) == (request["method"], request["path"])]
    pool = same_route or candidates
    mine = "\n".join(pretty(request))

    def likeness(candidate: StoredRequest) -> float:
        return difflib.SequenceMatcher(None, "\n".join(pretty(candidate)), mine, autojunk=False).ratio()

    return max(pool, key=likeness)


def diff(recorded: StoredRequest, current: StoredRequest, limit: int = 40) -> str:
    """A unified diff from a recorded request to the current one, trimmed to ``limit`` lines."""
    lines = list(
        difflib.unified_diff(
            pretty(recorded), pretty(current), "recorded", "this request", n=1, lineterm=""
        )
    )
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)
