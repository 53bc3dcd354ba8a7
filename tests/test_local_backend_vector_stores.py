"""Vector stores, file search and the web-search fixture of the local backend: real chunking (tiktoken),
real sqlite-vec search, fake engines (a bag-of-words embedder, so which file ranks first is predictable)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response, ResponseFileSearchToolCall, ResponseFunctionWebSearch

from helpers.tooling.validate import check_interaction
from local_backend import Backend
from local_backend.engines import Engines
from local_backend.vector_stores import chunk, encoding, matches

from .fake_engines import REASONING, fake_engines

DOCS = {
    "returns.md": "Returns and refunds. You can return a bike within 30 days with the receipt.",
    "rentals.md": "Bike rental. City bikes cost 15 euros a day, helmets included.",
    "servicing.md": "Servicing and repairs. A basic service costs 45 euros.",
}


class WordEmbedder:
    """Each word lights one of 64 dimensions: texts sharing words are close, others are not."""

    name = model_name = "FakeWords"
    dimensions = 64

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors = []
        for text in texts:
            v = [0.0] * self.dimensions
            for word in text.lower().replace(".", " ").replace(",", " ").replace("?", " ").split():
                v[int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
            norm = sum(x * x for x in v) ** 0.5 or 1.0
            vectors.append([x / norm for x in v])
        return vectors, sum(len(t.split()) for t in texts)


def word_backend() -> Backend:
    """A backend on the fake engines, with the bag-of-words embedder."""
    return Backend(Engines(fake_engines().factories | {"embedding": WordEmbedder}), port=0)


@pytest.fixture
def client() -> Iterator[OpenAI]:
    backend = word_backend()
    try:
        yield OpenAI(base_url=backend.start(), api_key="sk-local", max_retries=0)
    finally:
        backend.stop()


@pytest.fixture
def store(client: OpenAI) -> tuple[str, dict[str, str]]:
    ids = {name: client.files.create(file=(name, text.encode()), purpose="assistants").id
           for name, text in DOCS.items()}
    vs = client.vector_stores.create(name="shop")
    client.vector_stores.files.create(vector_store_id=vs.id, file_id=ids["returns.md"],
                                      attributes={"topic": "sales", "year": 2025, "public": True})
    batch = client.vector_stores.file_batches.create_and_poll(vs.id, files=[
        {"file_id": ids["rentals.md"], "attributes": {"topic": "sales", "year": 2026, "public": True}},
        {"file_id": ids["servicing.md"], "attributes": {"topic": "workshop", "year": 2026, "public": False}}])
    assert batch.status == "completed" and batch.file_counts.completed == 2
    return vs.id, ids


def test_chunks_have_the_asked_size_and_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    tokens = encoding().encode(text)
    pieces = chunk(text, 100, 40)
    sizes = [len(encoding().encode(p)) for p in pieces]
    assert max(sizes) <= 100 and sizes[0] == 100
    # windows start 60 tokens apart, so the chunk count covers the text exactly once over
    assert len(pieces) == -(-(len(tokens) - 100) // 60) + 1
    first, second = encoding().encode(pieces[0]), encoding().encode(pieces[1])
    assert first[60:] == second[:40]  # the overlap: the last 40 tokens of one chunk start the next
    assert chunk("short text", 800, 400) == ["short text"]


def test_default_strategy_is_auto_800_400(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, ids = store
    f = client.vector_stores.files.retrieve(ids["returns.md"], vector_store_id=vs_id)
    assert f.chunking_strategy.type == "static"
    assert (f.chunking_strategy.static.max_chunk_size_tokens, f.chunking_strategy.static.chunk_overlap_tokens) \
        == (800, 400)
    with pytest.raises(openai.BadRequestError, match="half the chunk size"):
        client.vector_stores.files.create(vector_store_id=vs_id, file_id=ids["returns.md"], chunking_strategy={
            "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60}})


def test_search_ranks_the_file_sharing_the_words_first(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store
    hits = client.vector_stores.search(vs_id, query="how much does a basic service cost").data
    assert hits[0].filename == "servicing.md"
    assert all(0 <= h.score <= 1 for h in hits) and [h.score for h in hits] == sorted(h.score for h in hits)[::-1]


def test_attribute_filters(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store

    def names(flt: Any) -> set[str]:
        return {h.filename for h in client.vector_stores.search(vs_id, query="bike", filters=flt).data}

    assert names({"type": "eq", "key": "topic", "value": "sales"}) == {"returns.md", "rentals.md"}
    assert names({"type": "ne", "key": "topic", "value": "sales"}) == {"servicing.md"}
    assert names({"type": "gte", "key": "year", "value": 2026}) == {"rentals.md", "servicing.md"}
    assert names({"type": "lt", "key": "year", "value": 2026}) == {"returns.md"}
    assert names({"type": "in", "key": "topic", "value": ["workshop", "nothing"]}) == {"servicing.md"}
    assert names({"type": "nin", "key": "topic", "value": ["workshop"]}) == {"returns.md", "rentals.md"}
    assert names({"type": "and", "filters": [{"type": "eq", "key": "topic", "value": "sales"},
                                             {"type": "gt", "key": "year", "value": 2025}]}) == {"rentals.md"}
    assert names({"type": "or", "filters": [{"type": "eq", "key": "public", "value": False},
                                            {"type": "lte", "key": "year", "value": 2025}]}) \
        == {"servicing.md", "returns.md"}
    assert names({"type": "gt", "key": "missing", "value": 1}) == set()


def test_matches_rejects_a_malformed_filter() -> None:
    with pytest.raises(Exception, match="needs 'key'"):
        matches({}, {"type": "like", "key": "a", "value": 1})
    assert not matches({"year": "2026"}, {"type": "gt", "key": "year", "value": 2000})  # no cross-type ordering


def test_score_threshold_drops_weak_chunks(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store
    everything = client.vector_stores.search(vs_id, query="basic service cost").data
    strong = client.vector_stores.search(vs_id, query="basic service cost",
                                         ranking_options={"score_threshold": 0.3}).data
    assert len(everything) == 3 and 0 < len(strong) < 3
    assert all(h.score >= 0.3 for h in strong)
    assert client.vector_stores.search(vs_id, query="bike", max_num_results=1).data[0].filename
    with pytest.raises(openai.BadRequestError, match="score_threshold"):
        client.vector_stores.search(vs_id, query="x", ranking_options={"score_threshold": 2})


def test_unknown_ids_are_404s(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, ids = store
    with pytest.raises(openai.NotFoundError) as exc:
        client.vector_stores.retrieve("vs_missing")
    assert exc.value.body["message"] == "No vector store found with id 'vs_missing'."  # type: ignore[index]
    with pytest.raises(openai.NotFoundError, match="No such File object: file-missing"):
        client.vector_stores.files.create(vector_store_id=vs_id, file_id="file-missing")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve("file-missing", vector_store_id=vs_id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search("vs_missing", query="x")
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=REASONING, input="x",
                                tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}])


def test_a_binary_file_fails_with_last_error_and_loses_nothing(client: OpenAI,
                                                               store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store
    png = client.files.create(file=("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(40)), purpose="assistants")
    f = client.vector_stores.files.create_and_poll(vector_store_id=vs_id, file_id=png.id)
    assert f.status == "failed" and f.last_error is not None and f.last_error.code == "unsupported_file"
    assert "logo.png" in f.last_error.message
    latin = client.files.create(file=("notes.txt", "café".encode("latin-1")), purpose="assistants")
    g = client.vector_stores.files.create(vector_store_id=vs_id, file_id=latin.id)
    assert g.status == "failed" and "UTF-8" in g.last_error.message  # type: ignore[union-attr]
    counts = client.vector_stores.retrieve(vs_id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (3, 2, 5)
    assert len(client.vector_stores.search(vs_id, query="bike").data) == 3  # the good files still answer


def test_files_list_content_update_delete(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, ids = store
    assert len(client.vector_stores.files.list(vs_id).data) == 3
    content = client.vector_stores.files.content(ids["rentals.md"], vector_store_id=vs_id).data
    assert content[0].text == DOCS["rentals.md"]
    client.vector_stores.files.update(ids["rentals.md"], vector_store_id=vs_id, attributes={"topic": "old"})
    hits = client.vector_stores.search(vs_id, query="bike", filters={"type": "eq", "key": "topic", "value": "old"})
    assert [h.filename for h in hits.data] == ["rentals.md"]
    client.vector_stores.files.delete(ids["rentals.md"], vector_store_id=vs_id)
    assert "rentals.md" not in {h.filename for h in client.vector_stores.search(vs_id, query="rental bike").data}
    assert client.vector_stores.delete(vs_id).deleted


def test_file_search_tool_call_results_and_citations(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, ids = store
    raw = client.responses.with_raw_response.create(
        model=REASONING, input="How much does a basic service cost?", include=["file_search_call.results"],
        tools=[{"type": "file_search", "vector_store_ids": [vs_id], "max_num_results": 2}])
    response = raw.parse()
    Response.model_validate(json.loads(raw.text))  # the SDK's own pydantic type, strictly
    search = next(i for i in response.output if i.type == "file_search_call")
    ResponseFileSearchToolCall.model_validate(search.model_dump())
    assert search.queries == ["How much does a basic service cost?"] and search.status == "completed"
    assert search.results is not None and len(search.results) == 2
    assert search.results[0].filename == "servicing.md" and search.results[0].text == DOCS["servicing.md"]
    message = next(i for i in response.output if i.type == "message")
    citations = [a for a in message.content[0].annotations if a.type == "file_citation"]
    assert citations[0].file_id == ids["servicing.md"]
    assert all(a.index == len(message.content[0].text) for a in citations)
    assert "placed by the backend" in raw.headers["x-course-note"]
    assert [t.type for t in response.tools] == ["file_search"]
    without = client.responses.create(model=REASONING, input="How much does a basic service cost?",
                                      tools=[{"type": "file_search", "vector_store_ids": [vs_id]}])
    assert next(i for i in without.output if i.type == "file_search_call").results is None


def test_file_search_filters_reach_the_prompt() -> None:
    backend = word_backend()
    client = OpenAI(base_url=backend.start(), api_key="sk-local", max_retries=0)
    try:
        ids = {n: client.files.create(file=(n, t.encode()), purpose="assistants").id for n, t in DOCS.items()}
        vs = client.vector_stores.create(name="s", file_ids=list(ids.values()))
        client.vector_stores.files.update(ids["servicing.md"], vector_store_id=vs.id, attributes={"topic": "w"})
        client.responses.create(model=REASONING, input="basic service cost", instructions="Be brief.",
                                tools=[{"type": "file_search", "vector_store_ids": [vs.id],
                                        "filters": {"type": "ne", "key": "topic", "value": "w"}}])
        system = backend.engines.get("chat").calls[-1]["messages"][0]["content"]
        assert system.startswith("Be brief.") and "excerpts" in system
        assert DOCS["returns.md"] in system and DOCS["servicing.md"] not in system
    finally:
        backend.stop()


def test_web_search_fixture_domains_sources_and_url_citations(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=REASONING, input="How often should I oil my bike chain?",
        include=["web_search_call.action.sources"],
        tools=[{"type": "web_search", "filters": {"allowed_domains": ["cycling-guide.example"]}}])
    response = raw.parse()
    Response.model_validate(json.loads(raw.text))
    assert "no web offline" in raw.headers["x-course-fixture"]
    call = next(i for i in response.output if i.type == "web_search_call")
    ResponseFunctionWebSearch.model_validate(call.model_dump())
    assert call.action.type == "search" and call.action.sources
    assert all(s.url.startswith("https://cycling-guide.example/") for s in call.action.sources)
    text = next(i for i in response.output if i.type == "message").content[0]
    urls = [a for a in text.annotations if a.type == "url_citation"]
    assert urls and all(a.title.endswith("(course fixture page)") for a in urls)
    assert all(text.text[a.start_index:a.end_index] == f"[{a.title}]({a.url})" for a in urls)
    assert "not the web" in text.text
    news = client.responses.create(model=REASONING, input="bikes on the ferry", include=[
        "web_search_call.action.sources"], tools=[{"type": "web_search", "filters": {
            "allowed_domains": ["city-transport.example"]}}])  # a subdomain (news.) is allowed too
    sources = next(i for i in news.output if i.type == "web_search_call").action.sources
    assert sources and all(".city-transport.example/" in s.url for s in sources)
    bare = client.responses.create(model=REASONING, input="chain oil", tools=[{"type": "web_search"}])
    assert next(i for i in bare.output if i.type == "web_search_call").action.sources is None


def test_search_items_sent_back_as_input_are_accepted(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store
    tools: Any = [{"type": "file_search", "vector_store_ids": [vs_id]}]
    first = client.responses.create(model=REASONING, input=[{"role": "user", "content": "basic service cost?"}],
                                    tools=tools, store=False)
    assert any(i.type == "file_search_call" for i in first.output)
    history = [{"role": "user", "content": "basic service cost?"}, *first.output,
               {"role": "user", "content": "And a rental?"}]
    second = client.responses.create(model=REASONING, input=history, tools=tools, store=False)  # type: ignore[arg-type]
    assert next(i for i in second.output if i.type == "file_search_call").queries == ["And a rental?"]


def test_hosted_search_refuses_a_stream(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="not streamed offline"):
        client.responses.create(model=REASONING, input="x", stream=True, tools=[{"type": "web_search"}])


def test_recorded_shapes_pass_the_validator(client: OpenAI, store: tuple[str, dict[str, str]]) -> None:
    vs_id, _ = store
    raw = client.vector_stores.with_raw_response.search(vs_id, query="bike", filters={
        "type": "eq", "key": "topic", "value": "sales"})
    item: Any = {"request": {"method": "POST", "path": f"/v1/vector_stores/{vs_id}/search",
                             "json": {"query": "bike", "filters": {"type": "eq", "key": "topic", "value": "sales"}}},
                 "response": {"status": 200, "json": json.loads(raw.text)}}
    assert check_interaction(item, "search") == []
    item["response"]["json"]["data"][0]["score"] = "high"
    assert check_interaction(item, "search")  # a wrong shape is caught
    got = client.vector_stores.with_raw_response.retrieve(vs_id)
    good: Any = {"request": {"method": "GET", "path": f"/v1/vector_stores/{vs_id}"},
                 "response": {"status": 200, "json": json.loads(got.text)}}
    assert check_interaction(good, "store") == []
