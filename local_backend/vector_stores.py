"""``/v1/vector_stores`` (+ files, file batches, search): hosted retrieval computed on the course's real parts.

A file attached to a store is decoded as UTF-8 text, cut into chunks of ``max_chunk_size_tokens`` tokens
overlapping by ``chunk_overlap_tokens`` (OpenAI's static strategy; ``auto`` means 800/400, as the SDK's
``AutoFileChunkingStrategyParam`` documents), counted with tiktoken's ``o200k_base`` (the course's shipped copy
in ``data/tiktoken``), embedded by the backend's embedding engine (all-MiniLM-L6-v2), and kept in an in-memory
SQLite database. Search is an exact nearest-neighbour search with sqlite-vec's ``vec_distance_cosine`` over the
store's chunks; ``score`` is the cosine similarity (clipped at 0), attribute filters (comparison and compound,
as the SDK's ``ComparisonFilter``/``CompoundFilter``) select the files first, ``score_threshold`` drops weaker
chunks. Files are processed during the request that attaches them, so they are ``completed`` (or ``failed``)
at once. A file that is not UTF-8 text, or whose extension file search does not read offline, ends ``failed``
with a ``last_error``. MiniLM reads at most 256 word pieces: text past that in a long chunk is not embedded.
"""

from __future__ import annotations

import lzma
import operator
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from .common import CREATED, GENERATION_LOCK, ApiError, Call, Reply, check_known, invalid
from .engines import EmbeddingEngine, Engines
from .fixtures import FileStore

AUTO = {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}
# Text formats among those OpenAI's file search reads (its list also has pdf, docx, pptx, doc: not offline).
TEXT_TYPES = (".txt", ".md", ".json", ".html", ".py", ".js", ".ts", ".css", ".sh", ".tex", ".c", ".cpp", ".java",
              ".go", ".rb", ".php")
TIKTOKEN_FILE = Path(__file__).resolve().parent.parent / "data" / "tiktoken" / "o200k_base.tiktoken.xz"
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"  # tiktoken's cache key
COMPARISONS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"}


@cache
def encoding() -> Any:
    """tiktoken's o200k_base, read from the course's shipped file through tiktoken's own cache (no network)."""
    import hashlib

    import tiktoken

    folder = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or Path(tempfile.gettempdir()) / "course-tiktoken")
    target = folder / hashlib.sha1(O200K_URL.encode()).hexdigest()
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lzma.decompress(TIKTOKEN_FILE.read_bytes()))
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)  # tiktoken checks the file's sha256 itself
    return tiktoken.get_encoding("o200k_base")


def chunk(text: str, size: int, overlap: int) -> list[str]:
    """Windows of ``size`` tokens, each starting ``size - overlap`` tokens after the previous one."""
    tokens = encoding().encode(text, disallowed_special=())
    step, pieces = size - overlap, []
    for start in range(0, max(len(tokens), 1), step):
        pieces.append(encoding().decode(tokens[start:start + size]))
        if start + size >= len(tokens):
            break
    return [p for p in pieces if p.strip()]


def strategy(value: Any, param: str) -> dict[str, int]:
    """``chunking_strategy`` as ``{max_chunk_size_tokens, chunk_overlap_tokens}``, checked like OpenAI's."""
    if value is None or value == {"type": "auto"}:
        return dict(AUTO)
    if not isinstance(value, dict) or value.get("type") != "static" or not isinstance(value.get("static"), dict):
        raise invalid(param, "must be {'type': 'auto'} or {'type': 'static', 'static': {...}}.")
    size, overlap = value["static"].get("max_chunk_size_tokens"), value["static"].get("chunk_overlap_tokens")
    if not isinstance(size, int) or not 100 <= size <= 4096:
        raise invalid(f"{param}.static.max_chunk_size_tokens", "must be an integer between 100 and 4096.")
    if not isinstance(overlap, int) or not 0 <= overlap <= size // 2:
        raise invalid(f"{param}.static.chunk_overlap_tokens", "must be an integer from 0 to half the chunk size.")
    return {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}


def matches(attributes: dict[str, Any], flt: Any, param: str = "filters") -> bool:
    """Does a file's ``attributes`` pass a comparison or compound filter?"""
    if not isinstance(flt, dict):
        raise invalid(param, "must be a comparison or compound filter object.")
    kind = flt.get("type")
    if kind in ("and", "or"):
        parts = flt.get("filters")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"{param}.filters", "must be a non-empty list of filters.")
        results = [matches(attributes, f, f"{param}.filters[{i}]") for i, f in enumerate(parts)]
        return all(results) if kind == "and" else any(results)
    if kind not in COMPARISONS or not isinstance(flt.get("key"), str) or "value" not in flt:
        raise invalid(param, "needs 'key', 'value' and a 'type' among and, or, " + ", ".join(sorted(COMPARISONS)) + ".")
    want, have = flt["value"], attributes.get(flt["key"])
    if kind in ("in", "nin"):
        if not isinstance(want, list):
            raise invalid(f"{param}.value", f"must be a list for '{kind}'.")
        return (have in want) == (kind == "in")
    if kind in ("eq", "ne"):
        return (have == want) == (kind == "eq")
    if not (isinstance(have, (int, float)) and isinstance(want, (int, float))) or bool in (type(have), type(want)):
        return False  # orderings compare numbers: a missing or non-numeric attribute never passes one
    order: dict[str, Callable[[float, float], bool]] = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt,
                                                         "lte": operator.le}
    return order[kind](have, want)


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(f"No {kind} found with id '{ident}'.", None, "not_found", status=404)


class VectorStores:
    """Vector stores, their files and batches (in memory), and the chunks' embeddings in SQLite + sqlite-vec."""

    def __init__(self, files: FileStore, engines: Engines) -> None:
        import sqlite_vec

        driver: Any = sqlite3
        if not hasattr(sqlite3.Connection, "enable_load_extension"):  # a Python built without extension loading
            import sqlean  # a drop-in sqlite3 that can load them (as lesson 08 does)

            driver = sqlean

        self.uploads, self.engines = files, engines
        self.stores: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, dict[str, Any]]] = {}  # store id -> file id -> vector_store.file
        self.batches: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self.db = driver.connect(":memory:", check_same_thread=False)
        self.db.enable_load_extension(True)
        sqlite_vec.load(self.db)
        self.db.enable_load_extension(False)
        self.db.execute("CREATE TABLE chunks (store TEXT, file TEXT, position INTEGER, text TEXT, embedding BLOB)")

    # -- stores -----------------------------------------------------------------------------------------
    def create(self, call: Call) -> Reply:
        body = call.body
        check_known(body, {"name", "file_ids", "chunking_strategy", "metadata", "expires_after", "description"},
                       "vector_stores")
        plan = strategy(body.get("chunking_strategy"), "chunking_strategy")
        store_id = call.make_id("vs_")
        with self.lock:
            self.stores[store_id] = {
                "id": store_id, "object": "vector_store", "created_at": CREATED, "name": body.get("name") or "",
                "description": body.get("description"), "metadata": body.get("metadata") or {},
                "expires_after": body.get("expires_after"), "expires_at": None, "last_active_at": CREATED,
                "status": "completed", "usage_bytes": 0, "file_counts": counts([])}
            self.files[store_id] = {}
        for file_id in body.get("file_ids") or []:
            self.attach(store_id, file_id, None, plan)
        return Reply(json=self.store(store_id))

    def store(self, store_id: str) -> dict[str, Any]:
        with self.lock:
            if store_id not in self.stores:
                raise not_found("vector store", store_id)
            files = list(self.files[store_id].values())
            return self.stores[store_id] | {"file_counts": counts(files),
                                            "usage_bytes": sum(f["usage_bytes"] for f in files)}

    def store_route(self, method: str, store_id: str, call: Call) -> Reply:
        """Retrieve, update (name, metadata, expires_after) or delete one store."""
        store = self.store(store_id)
        if method == "DELETE":
            with self.lock:
                self.stores.pop(store_id)
                self.files.pop(store_id)
                self.db.execute("DELETE FROM chunks WHERE store = ?", (store_id,))
            return Reply(json={"id": store_id, "object": "vector_store.deleted", "deleted": True})
        if method == "POST":
            check_known(call.body, {"name", "metadata", "expires_after"}, "vector_stores.update")
            with self.lock:
                self.stores[store_id] |= {k: v for k, v in call.body.items() if v is not None}
            store = self.store(store_id)
        return Reply(json=store)

    def list_stores(self) -> Reply:
        with self.lock:
            ids = list(self.stores)
        return page([self.store(i) for i in ids])

    # -- files ------------------------------------------------------------------------------------------
    def attach(self, store_id: str, file_id: Any, attributes: Any, plan: dict[str, int],
               param: str = "file_id") -> dict[str, Any]:
        """Chunk, embed and index one uploaded file; its ``vector_store.file`` (``completed`` or ``failed``)."""
        self.store(store_id)
        if not isinstance(file_id, str):
            raise invalid(param, "is required (the id of an uploaded file).")
        with self.uploads.lock:
            meta, content = self.uploads.files.get(file_id), self.uploads.contents.get(file_id)
        if meta is None or content is None:
            raise ApiError(f"No such File object: {file_id}", param, "not_found", status=404)
        if attributes is not None and (not isinstance(attributes, dict) or len(attributes) > 16):
            raise invalid("attributes", "must be an object of at most 16 keys.")
        entry = {"id": file_id, "object": "vector_store.file", "created_at": CREATED, "vector_store_id": store_id,
                 "status": "completed", "last_error": None, "usage_bytes": 0, "attributes": attributes or {},
                 "chunking_strategy": {"type": "static", "static": plan}}
        text, problem = readable(meta["filename"], content)
        if problem:
            entry |= {"status": "failed", "last_error": {"code": "unsupported_file", "message": problem}}
        else:
            pieces = chunk(text, plan["max_chunk_size_tokens"], plan["chunk_overlap_tokens"])
            engine: EmbeddingEngine = self.engines.get("embedding")
            with GENERATION_LOCK:
                vectors, _ = engine.embed(pieces) if pieces else ([], 0)
            import sqlite_vec

            with self.lock:
                self.db.execute("DELETE FROM chunks WHERE store = ? AND file = ?", (store_id, file_id))
                self.db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
                                    [(store_id, file_id, i, p, sqlite_vec.serialize_float32(v))
                                     for i, (p, v) in enumerate(zip(pieces, vectors, strict=True))])
            entry["usage_bytes"] = sum(len(p.encode()) + 4 * len(v) for p, v in zip(pieces, vectors, strict=True))
        with self.lock:
            self.files[store_id][file_id] = entry
        return entry

    def add_file(self, call: Call, store_id: str) -> Reply:
        body = call.body
        check_known(body, {"file_id", "attributes", "chunking_strategy"}, "vector_stores.files")
        return Reply(json=self.attach(store_id, body.get("file_id"), body.get("attributes"),
                                      strategy(body.get("chunking_strategy"), "chunking_strategy")))

    def file_route(self, method: str, store_id: str, file_id: str, call: Call, part: str | None) -> Reply:
        """Retrieve, update (attributes), delete one store file, or read its parsed ``content``."""
        self.store(store_id)
        with self.lock:
            entry = self.files[store_id].get(file_id)
            if entry is None:
                raise not_found(f"file in vector store '{store_id}'", file_id)
            if part == "content":
                rows = self.db.execute("SELECT text FROM chunks WHERE store = ? AND file = ? ORDER BY position",
                                       (store_id, file_id)).fetchall()
                return page([{"type": "text", "text": t} for (t,) in rows])
            if method == "DELETE":
                self.files[store_id].pop(file_id)
                self.db.execute("DELETE FROM chunks WHERE store = ? AND file = ?", (store_id, file_id))
                return Reply(json={"id": file_id, "object": "vector_store.file.deleted", "deleted": True})
            if method == "POST":
                check_known(call.body, {"attributes"}, "vector_stores.files.update")
                entry["attributes"] = call.body.get("attributes") or {}
            return Reply(json=entry)

    def list_files(self, store_id: str, query: dict[str, Any], batch_id: str | None = None) -> Reply:
        self.store(store_id)
        with self.lock:
            entries = list(self.files[store_id].values())
            if batch_id is not None:
                wanted = self.batch(store_id, batch_id)["file_ids"]
                entries = [e for e in entries if e["id"] in wanted]
        if query.get("filter"):
            entries = [e for e in entries if e["status"] == query["filter"]]
        if query.get("order") != "asc":
            entries.reverse()  # kept oldest first; OpenAI lists newest first by default
        return page(entries)

    # -- batches ----------------------------------------------------------------------------------------
    def create_batch(self, call: Call, store_id: str) -> Reply:
        body = call.body
        check_known(body, {"file_ids", "files", "attributes", "chunking_strategy"}, "vector_stores.file_batches")
        self.store(store_id)
        if bool(body.get("file_ids")) == bool(body.get("files")):
            raise invalid("file_ids", "give exactly one of 'file_ids' and 'files' (a non-empty list).")
        plan = strategy(body.get("chunking_strategy"), "chunking_strategy")
        wanted = body.get("files") or [{"file_id": f, "attributes": body.get("attributes")} for f in body["file_ids"]]
        done = []
        for i, item in enumerate(wanted):
            if not isinstance(item, dict):
                raise invalid(f"files[{i}]", "must be an object with a 'file_id'.")
            own = strategy(item.get("chunking_strategy"), f"files[{i}].chunking_strategy") \
                if item.get("chunking_strategy") else plan
            done.append(self.attach(store_id, item.get("file_id"), item.get("attributes"), own,
                                    f"files[{i}].file_id" if body.get("files") else f"file_ids[{i}]"))
        batch_id = call.make_id("vsfb_")
        with self.lock:
            self.batches[batch_id] = {"id": batch_id, "object": "vector_store.files_batch", "created_at": CREATED,
                                      "vector_store_id": store_id, "status": "completed",
                                      "file_ids": [e["id"] for e in done]}
        return Reply(json=self.batch(store_id, batch_id, public=True))

    def batch(self, store_id: str, batch_id: str, public: bool = False) -> dict[str, Any]:
        self.store(store_id)
        with self.lock:
            found = self.batches.get(batch_id)
            if found is None or found["vector_store_id"] != store_id:
                raise not_found(f"file batch in vector store '{store_id}'", batch_id)
            if not public:
                return found
            files = [self.files[store_id][f] for f in found["file_ids"] if f in self.files[store_id]]
        return {k: v for k, v in found.items() if k != "file_ids"} | {"file_counts": counts(files)}

    # -- search -----------------------------------------------------------------------------------------
    def search(self, call: Call, store_id: str) -> Reply:
        body = call.body
        check_known(body, {"query", "filters", "max_num_results", "ranking_options", "rewrite_query"},
                    "vector_stores.search")
        queries = [body["query"]] if isinstance(body.get("query"), str) else body.get("query")
        if not isinstance(queries, list) or not queries or not all(isinstance(q, str) and q for q in queries):
            raise invalid("query", "must be a non-empty string or list of strings.")
        hits = self.find([store_id], queries, body.get("filters"), body.get("max_num_results"),
                         body.get("ranking_options"))
        if body.get("rewrite_query"):
            call.headers["x-course-note"] = "rewrite_query: the local backend searches the query as written"
        return Reply(json={"object": "vector_store.search_results.page", "search_query": queries, "data": hits,
                           "has_more": False, "next_page": None})

    def find(self, store_ids: list[str], queries: list[str], filters: Any, limit: Any,
             ranking: Any) -> list[dict[str, Any]]:
        """The best chunks of these stores for these queries: ``VectorStoreSearchResponse`` dicts, best first."""
        limit = 10 if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
            raise invalid("max_num_results", "must be an integer between 1 and 50.")
        ranking = ranking or {}
        threshold = ranking.get("score_threshold", 0.0) if isinstance(ranking, dict) else None
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise invalid("ranking_options.score_threshold", "must be a number between 0 and 1.")
        eligible: dict[str, dict[str, Any]] = {}
        for store_id in store_ids:
            self.store(store_id)
            with self.lock:
                for entry in self.files[store_id].values():
                    if entry["status"] == "completed" and (filters is None or matches(entry["attributes"], filters)):
                        eligible[f"{store_id}/{entry['id']}"] = entry
        if not eligible:
            return []
        import sqlite_vec

        engine: EmbeddingEngine = self.engines.get("embedding")
        with GENERATION_LOCK:
            vectors, _ = engine.embed(queries)
        best: dict[tuple[str, str, int], tuple[float, str]] = {}
        marks = ",".join("?" * len(store_ids))
        with self.lock:
            for vector in vectors:
                rows = self.db.execute(
                    f"SELECT store, file, position, text, 1 - vec_distance_cosine(embedding, ?) AS score "  # noqa: S608
                    f"FROM chunks WHERE store IN ({marks}) ORDER BY score DESC",
                    (sqlite_vec.serialize_float32(vector), *store_ids)).fetchall()
                for store, file, position, text, score in rows:
                    key = (store, file, position)
                    if f"{store}/{file}" in eligible and score > best.get(key, (-2.0, ""))[0]:
                        best[key] = (score, text)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        with self.uploads.lock:
            names = {e["id"]: self.uploads.files.get(e["id"], {}).get("filename", e["id"]) for e in eligible.values()}
        out = []
        for (store, file, _), (score, text) in ranked:
            score = round(max(0.0, min(1.0, score)), 6)
            if score < threshold:
                continue
            out.append({"file_id": file, "filename": names[file], "score": score,
                        "attributes": eligible[f"{store}/{file}"]["attributes"],
                        "content": [{"type": "text", "text": text}]})
            if len(out) == limit:
                break
        return out


def readable(filename: str, content: bytes) -> tuple[str, str | None]:
    """The file's text, or why file search cannot index it offline."""
    suffix = Path(filename).suffix.lower()
    if suffix not in TEXT_TYPES:
        return "", (f"The file type of '{filename}' is not supported for file search by the local backend, which "
                    f"reads only text files ({', '.join(TEXT_TYPES)}). OpenAI's also reads pdf, docx and pptx; "
                    "images and binaries are not searchable anywhere.")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "", f"'{filename}' is not UTF-8 text, so file search cannot read it."
    if not text.strip():
        return "", f"'{filename}' is empty: there is no text to index."
    return text, None


def counts(files: list[dict[str, Any]]) -> dict[str, int]:
    states = [f["status"] for f in files]
    return {"in_progress": states.count("in_progress"), "completed": states.count("completed"),
            "failed": states.count("failed"), "cancelled": states.count("cancelled"), "total": len(states)}


def page(data: list[dict[str, Any]]) -> Reply:
    return Reply(json={"object": "list", "data": data, "first_id": data[0]["id"] if data and "id" in data[0] else None,
                       "last_id": data[-1]["id"] if data and "id" in data[-1] else None, "has_more": False})


def route(stores: VectorStores, method: str, path: str, call: Call) -> Reply:
    """Dispatch ``/v1/vector_stores/...``; unknown paths are the app's usual 404."""
    import re

    parts = path.removeprefix("/v1/vector_stores").strip("/").split("/") if path != "/v1/vector_stores" else []
    if not parts:
        return stores.create(call) if method == "POST" else stores.list_stores()
    store_id, rest = parts[0], parts[1:]
    if not rest and method in ("GET", "POST", "DELETE"):
        return stores.store_route(method, store_id, call)
    if rest == ["search"] and method == "POST":
        return stores.search(call, store_id)
    if rest == ["files"]:
        return stores.add_file(call, store_id) if method == "POST" else stores.list_files(store_id, call.body)
    if rest and rest[0] == "files" and len(rest) in (2, 3) and (len(rest) == 2 or rest[2] == "content"):
        return stores.file_route(method, store_id, rest[1], call, rest[2] if len(rest) == 3 else None)
    if rest == ["file_batches"] and method == "POST":
        return stores.create_batch(call, store_id)
    if rest and rest[0] == "file_batches" and len(rest) >= 2 and re.fullmatch(r"[\w-]+", rest[1]):
        if len(rest) == 2:
            return Reply(json=stores.batch(store_id, rest[1], public=True))
        if rest[2:] == ["cancel"] and method == "POST":  # every batch is finished when created: nothing to cancel
            return Reply(json=stores.batch(store_id, rest[1], public=True))
        if rest[2:] == ["files"]:
            return stores.list_files(store_id, call.body, rest[1])
    raise ApiError(f"The local backend has no route {method} {path}.", None, "unknown_url", status=404)
