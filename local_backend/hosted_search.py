"""The ``file_search`` and ``web_search`` tools of ``POST /v1/responses``: search first, then a grounded answer.

The search runs on the text of the last user message (OpenAI's model writes its own queries; here the query
is the question as asked). ``file_search`` searches the named vector stores (:mod:`local_backend.vector_stores`:
computed chunks, embeddings and cosine scores); ``web_search`` has no web offline, so it searches a small authored
corpus of **fixture pages** (``data/web_fixture/pages.json``, on reserved ``.example`` domains, every title
ending ``(course fixture page)``) with the same embeddings, honouring ``filters.allowed_domains``. The best chunks
or pages go into the instructions and the chat model answers on them. The citations are placed **by the
backend**, not by the model: one ``file_citation`` per file whose chunks were in the prompt, at the end of the
answer, and for web pages a "Sources" line appended to the answer with one ``url_citation`` spanning each link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .common import GENERATION_LOCK, Call, Reply, invalid, unsupported
from .engines import EmbeddingEngine, Engines
from .vector_stores import VectorStores, encoding

PAGES = Path(__file__).resolve().parent.parent / "data" / "web_fixture" / "pages.json"
WEB_TYPES = {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
SEARCH_ITEMS = {"file_search_call", "web_search_call"}
INCLUDES = {"file_search_call.results", "web_search_call.action.sources", "web_search_call.results"}
GROUNDING_TOKENS = 900  # the chat model's context is 2,048 tokens: the excerpts get at most this many
GROUNDING_CHUNKS = 3  # and at most this many chunks or pages (the best ones)
WEB_RESULTS = 3
FILE_NOTE = ("file_search: chunks found by the local backend's own search (MiniLM embeddings, sqlite-vec); the answer "
             "is the chat model's, on the best chunks; the file_citation annotations are placed by the backend on "
             "the files of those chunks, not by the model")
WEB_NOTE = ("web_search: no web offline; the sources are the course's authored fixture pages (data/web_fixture, "
            "reserved .example domains), searched with MiniLM; the Sources line and its url_citation annotations "
            "are added by the backend")


@cache
def pages() -> list[dict[str, str]]:
    loaded: list[dict[str, str]] = json.loads(PAGES.read_text(encoding="utf-8"))
    return loaded


def allowed(url: str, domains: list[str] | None) -> bool:
    """Is ``url`` on one of ``domains`` (or a subdomain of one)? No list allows every domain."""
    if not domains:
        return True
    host = urlsplit(url).hostname or ""
    return any(host == d or host.endswith("." + d) for d in
               ((urlsplit(x).hostname or x) if "://" in x else x.strip().lower().rstrip("/") for x in domains))


def last_user_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    raise invalid("input", "file_search and web_search need a user message to search for.")


class HostedSearch:
    """Answers ``responses.create`` calls whose tools include ``file_search`` or ``web_search``."""

    def __init__(self, stores: VectorStores, engines: Engines) -> None:
        self.stores, self.engines = stores, engines
        self._page_vectors: list[list[float]] | None = None

    def web(self, query: str, domains: list[str] | None) -> list[tuple[float, dict[str, str]]]:
        """The fixture pages on allowed domains, best first, with their cosine similarity to the query."""
        engine: EmbeddingEngine = self.engines.get("embedding")
        with GENERATION_LOCK:
            if self._page_vectors is None:
                self._page_vectors, _ = engine.embed([p["title"] + "\n" + p["text"] for p in pages()])
            (q,), _ = engine.embed([query])
        scored = [(sum(a * b for a, b in zip(q, v, strict=True)), p) for v, p in zip(self._page_vectors, pages(),
                                                                                      strict=True)]
        return sorted([s for s in scored if allowed(s[1]["url"], domains)], key=lambda s: -s[0])[:WEB_RESULTS]

    def respond(self, call: Call, inner: Callable[[Call], Reply]) -> Reply:
        """Search, answer on the best excerpts (``inner``: the plain ``responses.create``), then cite."""
        body = call.body
        items = body.get("input")
        if isinstance(items, list) and any(isinstance(i, dict) and i.get("type") in SEARCH_ITEMS for i in items):
            # earlier search calls sent back as context: their results already shaped the answers that follow
            body = body | {"input": [i for i in items if not (isinstance(i, dict) and i.get("type") in SEARCH_ITEMS)]}
            call = Call(call.path, body, call.occurrence, call.headers)
        tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
        hosted = [t for t in tools if isinstance(t, dict) and t.get("type") in WEB_TYPES | {"file_search"}]
        if not hosted:
            return inner(call)
        if body.get("stream"):
            raise unsupported("stream", "file_search and web_search answers are not streamed offline; send "
                                        "stream=false.")
        calls, excerpts = self.search(call, hosted, last_user_text(body))
        used = ground(excerpts)
        grounding = ("Answer the question using only the excerpts below. If they do not answer it, say so.\n\n"
                     + "\n\n".join(f"[{k + 1}] {name}:\n{text.strip()}" for k, (name, text, _) in enumerate(used))
                     if used else "The search found nothing. Say that you found no information on this.")
        include = body.get("include") or []
        narrowed = {k: v for k, v in body.items() if k not in ("tools", "include", "tool_choice")}
        rest = [t for t in tools if t not in hosted]
        if rest:
            narrowed["tools"] = rest
            if not (isinstance(body.get("tool_choice"), dict) and body["tool_choice"] in hosted):
                narrowed["tool_choice"] = body.get("tool_choice")
        if set(include) - INCLUDES:
            narrowed["include"] = [x for x in include if x not in INCLUDES]
        narrowed["instructions"] = "\n\n".join(filter(None, [body.get("instructions"), grounding]))
        reply = inner(Call(call.path, narrowed, call.occurrence, call.headers))
        response = reply.json
        message = next((item for item in response["output"] if item["type"] == "message"), None)
        if message is not None:
            cite(message["content"][0], [s for _, _, s in used])
        first = next((k for k, item in enumerate(response["output"]) if item["type"] != "reasoning"),
                     len(response["output"]))
        response["output"][first:first] = calls
        response["tools"], response["tool_choice"] = tools, body.get("tool_choice", "auto")
        response["instructions"] = body.get("instructions")
        return reply

    def search(self, call: Call, hosted: list[dict[str, Any]],
               query: str) -> tuple[list[dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]:
        """One ``file_search_call`` / ``web_search_call`` item per tool, and every excerpt found, best first."""
        include = call.body.get("include") or []
        calls: list[dict[str, Any]] = []
        excerpts: list[tuple[str, str, dict[str, Any]]] = []
        for i, tool in enumerate(hosted):
            if tool["type"] == "file_search":
                ids = tool.get("vector_store_ids")
                if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
                    raise invalid(f"tools[{i}].vector_store_ids", "must be a non-empty list of vector store ids.")
                hits = self.stores.find(ids, [query], tool.get("filters"), tool.get("max_num_results"),
                                        tool.get("ranking_options"))
                results = [{"file_id": h["file_id"], "filename": h["filename"], "score": h["score"],
                            "attributes": h["attributes"], "text": h["content"][0]["text"]} for h in hits]
                calls.append({"id": call.make_id("fs_", str(i)), "type": "file_search_call", "status": "completed",
                              "queries": [query],
                              "results": results if "file_search_call.results" in include else None})
                excerpts += [(h["filename"], h["content"][0]["text"], h) for h in hits]
                call.headers["x-course-note"] = "; ".join(filter(None, [call.headers.get("x-course-note"), FILE_NOTE]))
            else:
                found = self.web(query, (tool.get("filters") or {}).get("allowed_domains"))
                action: dict[str, Any] = {"type": "search", "query": query, "queries": [query]}
                if "web_search_call.action.sources" in include:
                    action["sources"] = [{"type": "url", "url": p["url"]} for _, p in found]
                calls.append({"id": call.make_id("ws_", str(i)), "type": "web_search_call", "status": "completed",
                              "action": action})
                excerpts += [(p["title"], p["text"], p) for _, p in found]
                call.fixture(WEB_NOTE)
        return calls, excerpts


def ground(excerpts: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The excerpts that go into the prompt: the best ones, within the chunk and token budgets."""
    budget = GROUNDING_TOKENS
    used: list[tuple[str, str, dict[str, Any]]] = []
    for name, text, source in excerpts:
        cost = len(encoding().encode(text, disallowed_special=()))
        if used and (cost > budget or len(used) == GROUNDING_CHUNKS):
            break
        budget -= cost
        used.append((name, text, source))
    return used


def cite(part: dict[str, Any], sources: list[dict[str, Any]]) -> None:
    """Add the backend's citations to an ``output_text`` part: files at its end, web pages on a Sources line."""
    files = {s["file_id"]: s["filename"] for s in sources if "file_id" in s}
    pages_ = [s for k, s in enumerate(sources) if "url" in s and s not in sources[:k]]
    if pages_:
        part["text"] = part["text"].rstrip() + "\n\nSources (course fixture pages, not the web): "
        for k, page_ in enumerate(pages_):
            link = f"[{page_['title']}]({page_['url']})"
            part["text"] += ("; " if k else "") + link
            part["annotations"].append({"type": "url_citation", "url": page_["url"], "title": page_["title"],
                                        "start_index": len(part["text"]) - len(link), "end_index": len(part["text"])})
    part["annotations"][:0] = [{"type": "file_citation", "file_id": f, "filename": n, "index": len(part["text"])}
                               for f, n in files.items()]
