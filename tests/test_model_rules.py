"""The model rule table: well-formed, sourced, consistent with the SDK, and what it says about the defaults."""

from __future__ import annotations

from typing import get_args

import pytest
from openai.types import ChatModel
from openai.types.shared.reasoning_effort import ReasoningEffort

from helpers import model_ids, model_rules


def test_every_rule_is_sourced_and_uses_the_sdks_efforts() -> None:
    sdk_efforts = {e for e in get_args(get_args(ReasoningEffort)[0])}
    assert set(model_rules.EFFORTS) == sdk_efforts
    for rule in model_rules.RULES:
        assert rule.sources and all(s.url.startswith("https://") and s.date[:4].isdigit() for s in rule.sources)
        assert set(rule.efforts) <= sdk_efforts, rule.family
        assert set(rule.sampling_efforts) <= set(rule.efforts), rule.family
        if rule.reasoning:
            assert (rule.default_effort or rule.assumed_effort) in rule.efforts, rule.family
            assert rule.caps_include_reasoning


def test_the_sdks_gpt5_and_o_series_ids_are_all_covered() -> None:
    wanted = [m for m in get_args(ChatModel) if m.startswith(("gpt-5", "o1", "o3", "o4", "gpt-4.1", "gpt-4o"))]
    missing = [m for m in wanted if model_rules.rule_for(m) is None
               and not m.startswith(("o1-mini", "o1-preview", "gpt-5.1-codex", "gpt-4o-audio", "gpt-4o-search"))]
    assert not missing


def test_the_default_models() -> None:
    chat = model_rules.rule_for(model_ids.DEFAULTS["chat"])
    assert chat is not None and chat.reasoning and "none" in chat.efforts and chat.default_effort is None
    assert chat.effort(None) == "medium"  # the stricter reading of a disputed default
    completion = model_rules.rule_for(model_ids.DEFAULTS["completion"])
    assert completion is not None and completion.endpoints == ("completions",) and completion.penalties
    assert model_ids.rule_warnings(model_ids.load()) == []


@pytest.mark.parametrize(("endpoint", "body", "param"), [
    ("responses", {"model": "gpt-5.4-mini", "temperature": 0.2}, "temperature"),
    ("responses", {"model": "gpt-5.4-mini", "temperature": 0.2, "reasoning": {"effort": "none"}}, None),
    ("responses", {"model": "gpt-5.1", "temperature": 0.2}, None),  # its documented default is none
    ("responses", {"model": "gpt-5.1", "temperature": 0.2, "reasoning": {"effort": "low"}}, "temperature"),
    ("chat", {"model": "gpt-5-mini", "reasoning_effort": "none"}, "reasoning_effort"),
    ("chat", {"model": "gpt-5-mini", "temperature": 1}, None),  # the default value is accepted
    ("chat", {"model": "gpt-4.1-mini", "temperature": 0, "logit_bias": {"1": 5}, "presence_penalty": 1}, None),
    ("chat", {"model": "gpt-4.1-mini", "reasoning_effort": "low"}, "reasoning_effort"),
    ("responses", {"model": "gpt-4.1-mini", "text": {"verbosity": "low"}}, "text.verbosity"),
    ("responses", {"model": "gpt-5.4-mini", "text": {"verbosity": "low"}}, None),
    ("responses", {"model": "gpt-5.4-mini", "include": ["message.output_text.logprobs"]}, "include"),
    ("completions", {"model": "davinci-002", "logit_bias": {"1": -100}, "frequency_penalty": 1}, None),
    ("completions", {"model": "gpt-4.1-mini"}, "model"),
    ("responses", {"model": "a-model-the-table-does-not-know", "temperature": 0}, None),
])
def test_check(endpoint: str, body: dict, param: str | None) -> None:
    violation = model_rules.check(endpoint, body)
    assert (violation.param if violation else None) == param


def test_describe_names_the_rules_and_sources() -> None:
    text = model_rules.describe("gpt-5.4-mini")
    assert "disputed" in text and "only at effort none" in text and "source:" in text
    assert "not in the course's rule table" in model_rules.describe("my-model")


def test_an_override_that_cannot_switch_reasoning_off_is_warned_about() -> None:
    models = model_ids.Models(**{**model_ids.load().as_dict(), "chat": "gpt-5-mini", "completion": "gpt-4.1-mini"})
    notes = model_ids.rule_warnings(models)
    assert any("effort 'none'" in n for n in notes) and any("not a legacy completions model" in n for n in notes)
