"""State on the local backend: conversations, background responses, reasoning items across turns, caching notes.

Driven by the real openai SDK against fake engines (no weights, fast), like tests/test_local_backend.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from local_backend import Backend
from local_backend.common import ApiError

from .fake_engines import PLAIN, REASONING, fake_engines, last_messages


# -- conversations ---------------------------------------------------------------------------------
def test_conversation_create_retrieve_update_delete(client: OpenAI) -> None:
    conv = client.conversations.create(items=[{"role": "user", "content": "Hi, I am Ada."}], metadata={"k": "v"})
    assert conv.id.startswith("conv_") and conv.object == "conversation" and conv.metadata == {"k": "v"}
    assert client.conversations.retrieve(conv.id).id == conv.id
    updated = client.conversations.update(conv.id, metadata={"topic": "names"})
    assert updated.metadata == {"topic": "names"}
    items = client.conversations.items.list(conv.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].type == "input_text" and items.data[0].content[0].text == "Hi, I am Ada."
    deleted = client.conversations.delete(conv.id)
    assert deleted.deleted is True and deleted.object == "conversation.deleted"
    with pytest.raises(openai.NotFoundError) as err:
        client.conversations.retrieve(conv.id)
    assert err.value.body["message"] == f"Conversation with id '{conv.id}' not found."


def test_responses_with_a_conversation_see_and_extend_it(client: OpenAI, backend: Backend) -> None:
    conv = client.conversations.create(items=[{"role": "user", "content": "My name is Ada."}])
    first = client.responses.create(model=PLAIN, conversation=conv.id, input="What is my name?")
    assert first.conversation is not None and first.conversation.id == conv.id
    assert [m["content"] for m in last_messages(backend)] == ["My name is Ada.", "What is my name?"]
    second = client.responses.create(model=PLAIN, conversation={"id": conv.id}, input="And again?")
    sent = [m["content"] for m in last_messages(backend)]
    assert sent[:2] == ["My name is Ada.", "What is my name?"] and sent[2] == first.output_text
    assert sent[3] == "And again?" and second.output_text
    items = client.conversations.items.list(conv.id, order="asc")
    assert [(i.type, getattr(i, "role", None)) for i in items.data] == [
        ("message", "user"), ("message", "user"), ("message", "assistant"), ("message", "user"),
        ("message", "assistant")]
    assert items.data[-1].id == second.output[-1].id
    newest = client.conversations.items.list(conv.id, limit=2)
    assert [i.id for i in newest.data] == [items.data[-1].id, items.data[-2].id] and newest.has_more


def test_items_add_retrieve_delete(client: OpenAI) -> None:
    conv = client.conversations.create()
    added = client.conversations.items.create(conv.id, items=[{"type": "message", "role": "user", "content": "A"},
                                                              {"type": "message", "role": "user", "content": "B"}])
    assert [i.content[0].text for i in added.data] == ["A", "B"] and added.first_id == added.data[0].id
    one = client.conversations.items.retrieve(added.data[1].id, conversation_id=conv.id)
    assert one.id == added.data[1].id
    after = client.conversations.items.delete(added.data[0].id, conversation_id=conv.id)
    assert after.id == conv.id and after.object == "conversation"
    assert [i.id for i in client.conversations.items.list(conv.id).data] == [added.data[1].id]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve("msg_nope", conversation_id=conv.id)


def test_conversation_errors(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.create(model=PLAIN, conversation="conv_nope", input="x")
    assert "conv_nope" in err.value.body["message"]
    conv = client.conversations.create()
    first = client.responses.create(model=PLAIN, input="x")
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model=PLAIN, conversation=conv.id, previous_response_id=first.id, input="y")
    assert bad.value.body["message"].startswith("Mutually exclusive parameters")
    with pytest.raises(openai.BadRequestError) as many:
        client.conversations.create(items=[{"role": "user", "content": str(i)} for i in range(21)])
    assert many.value.body["param"] == "items"


def test_streamed_response_extends_the_conversation(client: OpenAI) -> None:
    conv = client.conversations.create()
    with client.responses.stream(model=PLAIN, conversation=conv.id, input="Hello") as stream:
        final = stream.get_final_response()
    assert final.conversation is not None and final.conversation.id == conv.id
    assert len(client.conversations.items.list(conv.id).data) == 2


# -- background ------------------------------------------------------------------------------------
def test_background_advances_on_each_poll(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model=PLAIN, input="Write a haiku", background=True)
    queued = raw.parse()
    assert queued.status == "queued" and queued.background is True and queued.output == []
    assert "background emulated" in raw.headers["x-course-emulated"]
    states = [client.responses.retrieve(queued.id).status for _ in range(3)]
    assert states == ["in_progress", "completed", "completed"]
    done = client.responses.retrieve(queued.id)
    assert done.output_text and done.usage is not None and done.background is True


def test_cancel_background_and_foreground(client: OpenAI) -> None:
    queued = client.responses.create(model=PLAIN, input="Long task", background=True)
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.output == []
    assert client.responses.retrieve(queued.id).status == "cancelled"
    finished = client.responses.create(model=PLAIN, input="Short task", background=True)
    client.responses.retrieve(finished.id), client.responses.retrieve(finished.id)
    assert client.responses.cancel(finished.id).status == "completed"  # a finished one stays as it is
    foreground = client.responses.create(model=PLAIN, input="x")
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.cancel(foreground.id)
    assert "background=true" in err.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_nope")
    with pytest.raises(openai.BadRequestError) as store:
        client.responses.create(model=PLAIN, input="x", background=True, store=False)
    assert store.value.body["param"] == "store"


# -- reasoning items, caching, truncation ----------------------------------------------------------
def test_encrypted_reasoning_is_a_labelled_placeholder_and_goes_back(client: OpenAI, backend: Backend) -> None:
    first = client.responses.create(model=REASONING, input="Think", store=False, max_output_tokens=200,
                                    reasoning={"effort": "low", "summary": "auto"},
                                    include=["reasoning.encrypted_content"])
    thought = next(i for i in first.output if i.type == "reasoning")
    assert thought.summary == [] and thought.encrypted_content
    note = json.loads(base64.b64decode(thought.encrypted_content))
    assert note["course_emulation"] is True and "does not reason" in note["note"]
    back = [{"role": "user", "content": "Think"}, *[i.model_dump(exclude_none=True) for i in first.output],
            {"role": "user", "content": "More"}]
    again = client.responses.create(model=REASONING, input=back, store=False, max_output_tokens=200,
                                    reasoning={"effort": "low"}, include=["reasoning.encrypted_content"])
    assert again.output_text
    assert [m["role"] for m in last_messages(backend)] == ["user", "assistant", "user"]
    plain = client.responses.create(model=REASONING, input="Think", max_output_tokens=200, reasoning={"effort": "low"})
    assert next(i for i in plain.output if i.type == "reasoning").encrypted_content is None
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=PLAIN, input="x", include=["file_search_call.results"])


def test_prompt_cache_key_is_accepted_and_reports_zero(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model=PLAIN, input="x", prompt_cache_key="faq-v1",
                                                    prompt_cache_retention="24h")
    answer = raw.parse()
    assert answer.prompt_cache_key == "faq-v1" and answer.prompt_cache_retention == "24h"
    assert answer.usage.input_tokens_details.cached_tokens == 0
    assert "cached_tokens is always 0" in raw.headers["x-course-note"]
    ttl = client.responses.create(model=PLAIN, input="x", prompt_cache_options={"ttl": "12h"})
    assert ttl.prompt_cache_options is not None and ttl.prompt_cache_options.ttl == "12h"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=PLAIN, input="x", prompt_cache_options={"prewarm": True})


class Overflowing:
    """A chat engine whose context holds ``limit`` words: more is llama.cpp's overflow ValueError."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner, self.limit, self.name = inner, limit, inner.name

    def chat(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if sum(len(str(m["content"]).split()) for m in messages) > self.limit:
            raise ValueError("Requested tokens exceed context window")
        yield from self.inner.chat(messages, params)


def test_truncation_auto_drops_the_oldest_turns() -> None:
    engines = fake_engines()
    server = Backend(engines, port=0)
    engines._made["chat"] = Overflowing(engines.get("chat"), 6)
    history = [{"role": "user", "content": "one two three"}, {"role": "assistant", "content": "four five"},
               {"role": "user", "content": "six seven"}]
    from local_backend.common import Call

    with pytest.raises(ApiError) as err:
        server.dispatch("POST", "/v1/responses", Call("/v1/responses", {"model": PLAIN, "input": history}), {}, {})
    assert err.value.code == "context_length_exceeded"
    call = Call("/v1/responses", {"model": PLAIN, "input": history, "truncation": "auto"})
    reply = server.dispatch("POST", "/v1/responses", call, {}, {})
    assert reply.json["truncation"] == "auto" and reply.json["status"] == "completed"
    assert "1 oldest message(s) were dropped" in call.headers["x-course-note"]
