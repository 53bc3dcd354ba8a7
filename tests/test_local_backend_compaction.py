"""Compaction (``responses.compact``, compaction items in input, ``context_management``), resuming a background stream.

Driven by the real openai SDK against fake engines (no weights, fast), like tests/test_local_backend_state.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import openai
import pydantic
import pytest
from openai import OpenAI

from helpers.tooling.validate import ROUTES
from local_backend import Backend
from local_backend.common import ApiError
from local_backend.compaction import CONTEXT_PREFIX, PREFIX, seal, unseal

from .fake_engines import PLAIN, last_messages

HISTORY: list[Any] = [
    {"role": "user", "content": "My name is Ada and I like tea."},
    {"role": "assistant", "content": "Nice to meet you, Ada. Tea is lovely."},
    {"role": "user", "content": "What is a good snack with it?"},
    {"role": "assistant", "content": "Shortbread goes well with tea."},
]


def test_compact_keeps_user_messages_and_adds_one_labelled_compaction_item(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.compact(model=PLAIN, input=HISTORY)
    compacted = raw.parse()
    assert compacted.object == "response.compaction"
    assert [i.type for i in compacted.output] == ["message", "message", "compaction"]
    assert [i.content[0].text for i in compacted.output[:2]] == [HISTORY[0]["content"], HISTORY[2]["content"]]
    sealed = compacted.output[-1].encrypted_content
    assert sealed.startswith(PREFIX)
    note = json.loads(base64.b64decode(sealed.removeprefix(PREFIX)))
    assert note["note"].startswith("not encrypted") and note["summary"] == unseal(sealed, "x")
    assert compacted.usage.input_tokens > 0 and compacted.usage.output_tokens > 0
    assert "compaction emulated" in raw.headers["x-course-emulated"]
    assert "compaction emulated" in raw.headers["x-course-note"]


def test_compact_output_matches_the_recording_validator(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.compact(model=PLAIN, input=HISTORY)
    route = next(r for r in ROUTES if r.matches({"method": "POST", "path": "/v1/responses/compact"}))
    pydantic.TypeAdapter(route.response).validate_python(json.loads(raw.text))


def test_a_compaction_item_in_input_gives_the_model_its_summary(client: OpenAI, backend: Backend) -> None:
    compacted = client.responses.compact(model=PLAIN, input=HISTORY)
    summary = unseal(compacted.output[-1].encrypted_content, "x")
    window = [i.model_dump(exclude_none=True) for i in compacted.output]
    client.responses.create(model=PLAIN, input=[*window, {"role": "user", "content": "And my name?"}])
    seen = last_messages(backend)
    assert {"role": "system", "content": CONTEXT_PREFIX + summary} in seen
    assert [m["content"] for m in seen if m["role"] == "user"] == [HISTORY[0]["content"], HISTORY[2]["content"],
                                                                     "And my name?"]
    assert not any(m["content"] == HISTORY[1]["content"] for m in seen)


def test_compact_from_a_previous_response(client: OpenAI) -> None:
    first = client.responses.create(model=PLAIN, input="Hello, I am Bo.")
    compacted = client.responses.compact(model=PLAIN, previous_response_id=first.id)
    assert [i.type for i in compacted.output] == ["message", "compaction"]
    assert compacted.output[0].content[0].text == "Hello, I am Bo."


def test_a_foreign_or_damaged_compaction_item_is_a_400(client: OpenAI) -> None:
    for content in ("gAAAAABrealciphertext", PREFIX + "!!!"):
        with pytest.raises(openai.BadRequestError) as err:
            client.responses.create(model=PLAIN, input=[{"type": "compaction", "encrypted_content": content},
                                                        {"role": "user", "content": "Hi"}])
        assert err.value.body["param"] == "input[0].encrypted_content"
    with pytest.raises(ApiError):
        unseal(seal("ok")[:-4] + "????", "p")


def test_compact_rejects_unknown_fields_and_missing_input(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.compact(model=PLAIN)
    assert err.value.body["param"] == "input"
    with pytest.raises(openai.BadRequestError):
        client.responses.compact(model=PLAIN, input="hi", extra_body={"temperature": 0})


def test_context_management_compacts_above_the_threshold(client: OpenAI, backend: Backend) -> None:
    raw = client.responses.with_raw_response.create(
        model=PLAIN, input=[*HISTORY, {"role": "user", "content": "Thanks!"}],
        context_management=[{"type": "compaction", "compact_threshold": 10}])
    response = raw.parse()
    assert [i.type for i in response.output] == ["compaction", "message"]
    assert unseal(response.output[0].encrypted_content, "x") in last_messages(backend)[-2]["content"]
    assert last_messages(backend)[-1]["content"] == "Thanks!"
    assert "compact_threshold 10" in raw.headers["x-course-emulated"]
    follow = client.responses.create(model=PLAIN, previous_response_id=response.id, input="Bye")
    assert follow.status == "completed"
    assert not any(m["content"] == HISTORY[1]["content"] for m in last_messages(backend))


def test_context_management_below_the_threshold_changes_nothing(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=PLAIN, input=HISTORY, context_management=[{"type": "compaction", "compact_threshold": 100_000}])
    assert [i.type for i in raw.parse().output] == ["message"]
    assert "nothing was compacted" in raw.headers["x-course-note"]


@pytest.mark.parametrize("entries, param", [
    ([{"type": "trim"}], "context_management[0].type"),
    ([{"type": "compaction", "compact_threshold": 0}], "context_management[0].compact_threshold"),
    ("compaction", "context_management"),
])
def test_context_management_bad_values_are_400s(client: OpenAI, entries: Any, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model=PLAIN, input="hi", extra_body={"context_management": entries})
    assert err.value.body["param"] == param


# -- resuming a background stream ------------------------------------------------------------------
def test_a_background_stream_can_be_resumed_after_a_sequence_number(client: OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model=PLAIN, input="Tell me about rivers.", background=True,
                                                    stream=True)
    assert "background stream emulated" in raw.headers["x-course-emulated"]
    events = list(raw.parse())
    assert events[0].type == "response.created" and events[0].response.status == "queued"
    assert events[0].response.background is True and events[-1].type == "response.completed"
    numbers = [e.sequence_number for e in events]
    resumed = list(client.responses.retrieve(events[0].response.id, stream=True, starting_after=numbers[2]))
    assert [e.sequence_number for e in resumed] == numbers[3:]
    assert [e.model_dump() for e in resumed] == [e.model_dump() for e in events[3:]]
    assert client.responses.retrieve(events[0].response.id).status == "completed"


def test_resuming_what_was_not_a_background_stream_is_an_error(client: OpenAI) -> None:
    plain = client.responses.create(model=PLAIN, input="Hi")
    with pytest.raises(openai.BadRequestError) as err:
        list(client.responses.retrieve(plain.id, stream=True, starting_after=0))
    assert err.value.body["param"] == "stream"
    with pytest.raises(openai.NotFoundError):
        list(client.responses.retrieve("resp_unknown", stream=True))
