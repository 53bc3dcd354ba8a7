"""Price table and cost estimates."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from helpers import cost
from helpers.model_ids import DEFAULTS

COLUMNS = ["model", "kind", "unit", "input_usd", "cached_input_usd", "output_usd", "checked_on", "verified",
           "source", "note"]


def test_table_shape() -> None:
    table = cost.load_prices()
    assert list(table.columns) == COLUMNS
    assert table["model"].is_unique
    assert table["checked_on"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert table["source"].str.len().gt(10).all()
    assert table["verified"].dtype == bool
    assert (table["input_usd"] >= 0).all()


def test_every_default_model_has_a_price() -> None:
    # The fine-tuning base is trained, not called; its training price could not be verified on an OpenAI page,
    # so lesson 11 shows token counts instead of a price.
    # No Realtime price could be verified offline either: lesson 12 shows the session's usage tokens, not dollars.
    for role, model in DEFAULTS.items():
        if role not in ("fine_tune", "realtime"):
            assert model in cost.known_models(), f"{role}: {model} has no price"


def test_load_prices_returns_a_copy() -> None:
    table = cost.load_prices()
    table.loc[0, "input_usd"] = 999
    assert cost.load_prices().loc[0, "input_usd"] != 999


def test_estimate_cost_by_hand() -> None:
    p = cost.price_of("gpt-5.4-mini")
    expected = (800 * p.input + 200 * p.cached_input + 500 * p.output) / 1e6
    assert math.isclose(cost.estimate_cost("gpt-5.4-mini", 1000, 500, cached_tokens=200), expected)
    assert cost.estimate_cost("gpt-5.4-mini", 1_000_000, 0) == p.input


def test_cached_tokens_without_a_cached_price_cost_the_input_price() -> None:
    assert cost.estimate_cost("davinci-002", 1000, 0, cached_tokens=1000) == cost.estimate_cost("davinci-002", 1000, 0)


def test_snapshot_ids_use_the_alias_price() -> None:
    assert cost.price_of("gpt-5.4-mini-2026-03-17").model == "gpt-5.4-mini"


def test_unknown_model_lists_known_ids() -> None:
    with pytest.raises(cost.UnknownModelError) as info:
        cost.price_of("gpt-9")
    assert "'gpt-9'" in str(info.value) and "gpt-5.4-mini" in str(info.value)
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize(
    ("args", "message"),
    [((10, 0, 11), "cannot exceed"), ((-1, 0, 0), "negative")],
)
def test_bad_counts(args: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cost.estimate_cost("gpt-5.4-mini", *args)


def test_per_minute_and_input_only_models() -> None:
    with pytest.raises(ValueError, match="per minute"):
        cost.estimate_cost("gpt-transcribe", 10, 0)
    with pytest.raises(ValueError, match="no output-token price"):
        cost.estimate_cost("text-embedding-3-small", 10, 5)
    assert cost.estimate_cost("text-embedding-3-small", 1_000_000, 0) == 0.02


def test_cost_of_responses_usage() -> None:
    usage = ResponseUsage.model_validate({
        "input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500,
        "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    })
    assert cost.usage_tokens(usage) == (1200, 300, 1024)
    assert cost.cost_of(usage, "gpt-5.4-mini") == cost.estimate_cost("gpt-5.4-mini", 1200, 300, 1024)


def test_cost_of_chat_usage() -> None:
    usage = CompletionUsage.model_validate({
        "prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57,
        "prompt_tokens_details": {"cached_tokens": 0},
    })
    assert cost.usage_tokens(usage) == (50, 7, 0)
    bare = CompletionUsage(prompt_tokens=50, completion_tokens=7, total_tokens=57)  # no details at all
    assert cost.cost_of(bare, "gpt-4o-mini") == cost.estimate_cost("gpt-4o-mini", 50, 7)


def test_cost_of_dicts_and_other_objects() -> None:
    assert cost.usage_tokens({"input_tokens": 3, "output_tokens": 4}) == (3, 4, 0)
    assert cost.usage_tokens(SimpleNamespace(prompt_tokens=5, completion_tokens=6)) == (5, 6, 0)
    with pytest.raises(TypeError, match="Responses usage"):
        cost.usage_tokens({"tokens": 3})
