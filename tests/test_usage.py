"""Usage metering, the per-notebook summary, and the live spending cap."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from helpers import current, setup, usage
from helpers.errors import ConfigError
from helpers.usage import Meter, cap_from_env, find_usage

MESSAGES = [{"role": "user", "content": "Say hello"}]


def test_cap_from_env() -> None:
    assert cap_from_env("", paid=True) == 1.00 and cap_from_env("", paid=False) is None
    assert cap_from_env("0.25") == 0.25 and cap_from_env("none") is None
    with pytest.raises(ConfigError, match="not a number of dollars"):
        cap_from_env("five")


def test_usage_is_found_in_bodies_and_streams() -> None:
    assert find_usage({"json": {"usage": {"prompt_tokens": 1}}}) == {"prompt_tokens": 1}
    events = [{"data": {"type": "response.completed", "response": {"usage": {"input_tokens": 2}}}},
              {"raw": "[DONE]"}]
    assert find_usage({"events": events}) == {"input_tokens": 2}


def test_the_next_call_over_the_cap_is_refused_and_not_sent(clean_env, fake) -> None:
    clean_env.setenv("OPENAI_BASE_URL", fake.url)
    clean_env.setenv("COURSE_MAX_USD", "0.000001")
    setup("usage_demo", quiet=True)
    session = current()
    assert "spending cap $0.00" in session.banner
    client = OpenAI(max_retries=2)
    client.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)  # 5 in + 3 out tokens: $0.0000173
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)
    assert refused.value.code == "course_spending_cap" and "COURSE_MAX_USD is 0.00" in refused.value.message
    assert len([r for r in fake.requests if "chat" in r["path"]]) == 1  # refused before sending, not retried


def test_summary_prices_by_the_answering_or_requested_model(clean_env, fake) -> None:
    clean_env.setenv("OPENAI_BASE_URL", fake.url)
    setup("usage_demo", quiet=True)
    client = OpenAI()
    for _ in range(2):
        client.chat.completions.create(model="gpt-5.4-mini", messages=MESSAGES)
    client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    table = usage.summary()
    assert table[["model", "calls", "input_tokens", "output_tokens"]].values.tolist() == [
        ["fake-small-model", 3, 15, 9]]
    # Two calls are priced as gpt-5.4-mini ($0.75 in, $4.50 out per 1M); the third has no price.
    assert table["usd"].iloc[0] == pytest.approx(2 * (5 * 0.75 + 3 * 4.50) / 1e6)


def test_meter_without_usage_counts_nothing() -> None:
    meter = Meter()
    meter.add({"path": "/v1/models", "json": None}, {"json": {"data": []}})
    assert meter.summary().empty and meter.total_usd == 0


def test_an_upload_is_priced_by_the_model_in_its_form() -> None:
    meter = Meter()
    request = {"path": "/v1/images/edits", "multipart": {"fields": {"model": "gpt-image-2"}, "files": {}}}
    usage_body = {"input_tokens": 1_000_000, "output_tokens": 0, "total_tokens": 1_000_000}
    meter.add(request, {"status": 200, "json": {"created": 0, "data": [], "usage": usage_body}})
    assert meter.calls[0].model == "gpt-image-2" and meter.calls[0].usd == pytest.approx(5.0)


def test_fetching_a_stored_response_again_is_not_a_billed_call() -> None:
    meter = Meter()
    answer = {"json": {"model": "gpt-5.4-mini", "usage": {"input_tokens": 10, "output_tokens": 5}}}
    meter.add({"method": "POST", "path": "/v1/responses", "json": {"model": "gpt-5.4-mini"}}, answer)
    meter.add({"method": "GET", "path": "/v1/responses/resp_1", "json": None}, answer)
    assert meter.summary()[["path", "calls", "input_tokens"]].values.tolist() == [["/v1/responses", 1, 10]]
