"""The local backend's Evals API, driven by the real openai SDK against fake engines (no weights, fast)."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from helpers.tooling.validate import check_interaction
from local_backend import Backend

ITEM_SCHEMA = {"type": "object", "properties": {"ticket": {"type": "string"},
                                                 "label": {"type": "string", "enum": ["billing", "bug"]}},
               "required": ["ticket", "label"], "additionalProperties": False}
CONFIG = {"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True}
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.label}}",
         "operation": "eq"}
FUZZY = {"type": "text_similarity", "name": "fuzzy", "input": "{{sample.output_text}}",
         "reference": "{{item.label}}", "evaluation_metric": "fuzzy_match", "pass_threshold": 0.5}
ROWS = [{"item": {"ticket": "I was charged twice", "label": "billing"}, "sample": {"output_text": "billing"}},
        {"item": {"ticket": "The app crashes", "label": "bug"}, "sample": {"output_text": "Bug"}},
        {"item": {"ticket": "Refund please", "label": "billing"}, "sample": {"output_text": "bills"}}]


def finish(client: OpenAI, eval_id: str, run_id: str, limit: int = 20) -> list[str]:
    """Poll a run until it completes; the statuses seen on the way."""
    seen = []
    for _ in range(limit):
        run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
        seen.append(run.status)
        if run.status == "completed":
            return seen
    raise AssertionError(f"the run never completed: {seen}")


def test_create_eval_echoes_the_schema_with_item_and_sample(client: OpenAI) -> None:
    ev = client.evals.create(name="labels", data_source_config=CONFIG, testing_criteria=[EXACT])
    assert ev.object == "eval" and ev.id.startswith("eval_")
    assert ev.data_source_config.schema_["properties"]["item"] == ITEM_SCHEMA
    assert ev.data_source_config.schema_["required"] == ["item", "sample"]
    assert client.evals.retrieve(ev.id).name == "labels"
    assert ev.id in [e.id for e in client.evals.list()]


def test_jsonl_run_grades_string_check_and_fuzzy_match_for_real(client: OpenAI) -> None:
    ev = client.evals.create(name="graded", data_source_config=CONFIG, testing_criteria=[EXACT, FUZZY])
    run = client.evals.runs.create(ev.id, name="given outputs", data_source={
        "type": "jsonl", "source": {"type": "file_content", "content": ROWS}})
    assert run.status == "queued" and run.result_counts.total == 0
    assert finish(client, ev.id, run.id) == ["in_progress", "completed"]
    done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert done.result_counts.model_dump() == {"errored": 0, "failed": 2, "passed": 1, "total": 3}
    tallies = {t.testing_criteria: (t.passed, t.failed) for t in done.per_testing_criteria_results}
    assert tallies == {"exact": (1, 2), "fuzzy": (3, 0)}  # "Bug" vs "bug" and "bills" vs "billing" score 2/3
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data
    assert [i.status for i in items] == ["pass", "fail", "fail"]
    scores = {r.name: r.score for r in items[2].results}
    assert scores["exact"] == 0.0 and scores["fuzzy"] == pytest.approx(2 * 4 / 12)  # difflib: 2*matches/total
    one = client.evals.runs.output_items.retrieve(items[0].id, eval_id=ev.id, run_id=run.id)
    assert one.datasource_item == ROWS[0]["item"]
    assert run.id in [r.id for r in client.evals.runs.list(ev.id)]


def test_polling_moves_a_run_on_in_fixed_steps(client: OpenAI, backend: Backend) -> None:
    from local_backend.evals import ITEMS_PER_POLL

    rows = [ROWS[0]] * (ITEMS_PER_POLL * 2 + 1)
    ev = client.evals.create(name="steps", data_source_config=CONFIG, testing_criteria=[EXACT])
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl",
                                                       "source": {"type": "file_content", "content": rows}})
    assert finish(client, ev.id, run.id) == ["in_progress", "in_progress", "in_progress", "completed"]


def test_responses_run_samples_the_model_and_counts_usage(client: OpenAI, backend: Backend) -> None:
    ev = client.evals.create(name="sampled", data_source_config=CONFIG, testing_criteria=[EXACT])
    run = client.evals.runs.create(ev.id, name="prompt A", data_source={
        "type": "responses", "model": "gpt-4.1-mini",
        "input_messages": {"type": "template", "template": [
            {"role": "developer", "content": "Label the ticket: billing or bug."},
            {"role": "user", "content": "{{item.ticket}}"}]},
        "sampling_params": {"max_completion_tokens": 8, "seed": 3},
        "source": {"type": "file_content", "content": [{"item": r["item"]} for r in ROWS]}})
    finish(client, ev.id, run.id)
    done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert done.result_counts.total == 3 and done.model == "gpt-4.1-mini"
    usage = done.per_model_usage[0]
    assert usage.run_model_name == "FakeChat-1M" and usage.invocation_count == 3
    item = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data[0]
    assert item.sample.model == "FakeChat-1M" and item.sample.input[1].content == "I was charged twice"
    assert item.sample.output[0].content and item.sample.seed == 3


def test_score_model_is_answered_by_the_local_chat_model(client: OpenAI, backend: Backend) -> None:
    grader = {"type": "score_model", "name": "judge", "model": "gpt-4.1-mini", "range": [0, 1],
              "pass_threshold": 0.5, "input": [{"role": "user", "content": "Is {{sample.output_text}} the label of "
                                                                            "{{item.ticket}}? Score it."}]}
    ev = client.evals.create(name="judged", data_source_config=CONFIG, testing_criteria=[grader])
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl",
                                                       "source": {"type": "file_content", "content": ROWS[:1]}})
    finish(client, ev.id, run.id)
    raw = client.evals.runs.with_raw_response.retrieve(run.id, eval_id=ev.id)
    assert "135M" in raw.headers["x-course-note"]
    result = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data[0].results[0]
    assert result.score == 1.0 and result.passed  # the fake engine writes the schema's minimal number, clamped
    assert result.sample["model"] == "FakeChat-1M" and "135M" in result.sample["note"]
    prompt = backend.engines.get("chat").calls[-1]["messages"][-1]["content"]
    assert "Is billing the label of I was charged twice?" in prompt and '"result"' in prompt


def test_cosine_uses_the_local_embeddings(client: OpenAI) -> None:
    cosine = dict(FUZZY, name="cos", evaluation_metric="cosine", pass_threshold=0.99)
    ev = client.evals.create(name="cos", data_source_config=CONFIG, testing_criteria=[cosine])
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl",
                                                       "source": {"type": "file_content", "content": ROWS[:1]}})
    finish(client, ev.id, run.id)
    result = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data[0].results[0]
    assert result.score == pytest.approx(1.0) and result.passed  # the same text embeds to the same vector


# -- bad input -------------------------------------------------------------------------------------------
def bad_request(call) -> openai.BadRequestError:  # noqa: ANN001 - a lambda making one SDK call
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    return caught.value


def test_an_item_that_does_not_match_the_schema_is_a_400_naming_row_and_field(client: OpenAI) -> None:
    ev = client.evals.create(name="strict", data_source_config=CONFIG, testing_criteria=[EXACT])
    rows = [ROWS[0], {"item": {"ticket": "Where is my parcel?", "label": "shipping"}}]
    error = bad_request(lambda: client.evals.runs.create(ev.id, data_source={
        "type": "jsonl", "source": {"type": "file_content", "content": rows}}))
    assert error.body["param"] == "data_source.source.content[1].item"
    assert "item.label should be one of" in error.message and '"shipping"' in error.message
    missing = bad_request(lambda: client.evals.runs.create(ev.id, data_source={
        "type": "jsonl", "source": {"type": "file_content", "content": [{"item": {"ticket": "x"}}]}}))
    assert "missing the required field 'label'" in missing.message


def test_a_grader_that_refers_to_a_missing_field_is_a_400(client: OpenAI) -> None:
    wrong = dict(EXACT, reference="{{item.category}}")
    error = bad_request(lambda: client.evals.create(name="x", data_source_config=CONFIG, testing_criteria=[wrong]))
    assert error.body["param"] == "testing_criteria[0].reference"
    assert "item_schema does not define: 'category'" in error.message
    no_sample = bad_request(lambda: client.evals.create(
        name="x", data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA}, testing_criteria=[EXACT]))
    assert "refers to the sample" in no_sample.message


def test_what_cannot_be_honoured_offline_is_a_400_not_ignored(client: OpenAI) -> None:
    bleu = dict(FUZZY, evaluation_metric="bleu")
    assert "bleu" in bad_request(lambda: client.evals.create(
        name="x", data_source_config=CONFIG, testing_criteria=[bleu])).message
    pattern = {**ITEM_SCHEMA, "properties": {"ticket": {"type": "string", "pattern": "^a"}}}
    error = bad_request(lambda: client.evals.create(
        name="x", data_source_config={"type": "custom", "item_schema": pattern}, testing_criteria=[dict(
            EXACT, input="{{item.ticket}}", reference="a")]))
    assert error.body["param"] == "data_source_config.item_schema.properties.ticket.pattern"
    label = {"type": "label_model", "name": "l", "model": "m", "input": [], "labels": ["a"], "passing_labels": ["a"]}
    assert "label_model" in bad_request(lambda: client.evals.create(
        name="x", data_source_config=CONFIG, testing_criteria=[label])).message


def test_unknown_ids_are_404s(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="Eval with id 'eval_nope' not found"):
        client.evals.retrieve("eval_nope")
    ev = client.evals.create(name="x", data_source_config=CONFIG, testing_criteria=[EXACT])
    with pytest.raises(openai.NotFoundError, match="Eval run with id 'evalrun_nope' not found"):
        client.evals.runs.retrieve("evalrun_nope", eval_id=ev.id)


def test_a_row_without_a_value_for_a_template_is_errored_not_lost(client: OpenAI) -> None:
    ev = client.evals.create(name="errored", data_source_config=CONFIG, testing_criteria=[EXACT])
    rows = [ROWS[0], {"item": ROWS[1]["item"]}]  # the second row has no sample to grade
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl",
                                                       "source": {"type": "file_content", "content": rows}})
    finish(client, ev.id, run.id)
    done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert done.result_counts.model_dump() == {"errored": 1, "failed": 0, "passed": 1, "total": 2}
    item = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data[1]
    assert item.status == "error" and "sample.output_text" in item.sample.error.message


def test_answers_validate_against_the_sdk_types(client: OpenAI) -> None:
    ev = client.evals.create(name="typed", data_source_config=CONFIG, testing_criteria=[EXACT, FUZZY])
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl",
                                                       "source": {"type": "file_content", "content": ROWS}})
    finish(client, ev.id, run.id)
    for method, path, body, response in [
        ("POST", "/v1/evals", {"name": "typed", "data_source_config": CONFIG, "testing_criteria": [EXACT]},
         client.evals.with_raw_response.retrieve(ev.id)),
        ("POST", f"/v1/evals/{ev.id}/runs", run.data_source.model_dump(),
         client.evals.runs.with_raw_response.retrieve(run.id, eval_id=ev.id)),
        ("GET", f"/v1/evals/{ev.id}/runs/{run.id}/output_items", None,
         client.evals.runs.output_items.with_raw_response.list(run.id, eval_id=ev.id)),
    ]:
        request = {"method": method, "path": path} | ({"json": body} if method == "POST" and "runs" not in path
                                                      else {})
        answer = {"status": 200, "json": json.loads(response.http_response.text)}
        problems = check_interaction({"request": request, "response": answer}, path)
        assert problems == []
