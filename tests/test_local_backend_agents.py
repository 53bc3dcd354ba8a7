"""The Agents SDK (``openai-agents``) against the local backend with fake engines: every request it sends is accepted,
and each failure the lesson shows reaches the caller with a clear message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Literal

import openai
import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    ModelSettings,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    input_guardrail,
    set_tracing_disabled,
)
from agents.exceptions import UserError
from openai import AsyncOpenAI
from pydantic import BaseModel

from local_backend import Backend

from .fake_engines import fake_engines

SETTINGS = ModelSettings(max_tokens=200)


@function_tool
def get_weather(city: str) -> dict:
    """Current weather for one city."""
    return {"city": city, "temperature_c": 17}


@function_tool(failure_error_function=None)
def get_weather_or_raise(city: str) -> dict:
    """Current weather for one city."""
    raise KeyError(f"no weather data for {city!r}")


class Ticket(BaseModel):
    category: Literal["billing", "bug"]
    urgent: bool


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    set_tracing_disabled(True)
    server = Backend(fake_engines(), port=0)
    server.start()
    yield server
    server.stop()


def agent(backend: Backend, **options: Any) -> Agent:
    """An agent on a model the rule table lists as not reasoning (these tests are about mechanics)."""
    model = OpenAIResponsesModel("gpt-4.1-mini", AsyncOpenAI(api_key="sk-local", base_url=backend.base_url,
                                                              max_retries=0))
    return Agent(name=options.pop("name", "Assistant"), instructions="Help.", model=model,
                 model_settings=options.pop("model_settings", SETTINGS), **options)


def run(starting: Agent, question: str, **options: Any) -> Any:
    return asyncio.run(Runner.run(starting, question, **options))


def test_a_tool_call_runs_and_the_answer_follows(backend: Backend) -> None:
    result = run(agent(backend, tools=[get_weather]), "What is the weather in Paris?")
    assert [item.type for item in result.new_items] == ["tool_call_item", "tool_call_output_item",
                                                        "message_output_item"]
    assert result.new_items[1].output == {"city": "Paris", "temperature_c": 17}
    assert isinstance(result.final_output, str) and result.final_output


def test_output_type_comes_back_as_the_pydantic_model(backend: Backend) -> None:
    result = run(agent(backend, output_type=Ticket), "I was charged twice.")
    assert result.final_output == Ticket(category="billing", urgent=True)


def test_a_handoff_is_a_transfer_tool_and_the_specialist_answers(backend: Backend) -> None:
    billing = agent(backend, name="Billing agent", handoff_description="Answers billing questions.")
    result = run(agent(backend, name="Triage", handoffs=[billing]), "A question about billing.")
    assert result.last_agent.name == "Billing agent"
    assert [item.type for item in result.new_items][:2] == ["handoff_call_item", "handoff_output_item"]


def test_a_guardrail_trips_before_any_model_call(backend: Backend) -> None:
    @input_guardrail(run_in_parallel=False)
    def no_digits(context, agent, user_input) -> GuardrailFunctionOutput:  # noqa: ANN001 - the SDK's signature
        return GuardrailFunctionOutput(output_info="digits", tripwire_triggered=any(c.isdigit() for c in user_input))

    calls = len(backend.engines.get("chat").calls)
    with pytest.raises(InputGuardrailTripwireTriggered):
        run(agent(backend, input_guardrails=[no_digits]), "card 4111")
    assert len(backend.engines.get("chat").calls) == calls


def test_failures_reach_the_caller_with_a_clear_message(backend: Backend) -> None:
    with pytest.raises(MaxTurnsExceeded, match=r"Max turns \(1\) exceeded"):
        run(agent(backend, tools=[get_weather]), "What is the weather in Paris?", max_turns=1)
    with pytest.raises(UserError, match="get_weather_or_raise"):
        run(agent(backend, tools=[get_weather_or_raise]), "What is the weather in Paris?")
    billing = agent(backend, name="Billing agent")
    lost = agent(backend, name="Triage", handoffs=[billing],
                 model_settings=SETTINGS.resolve(ModelSettings(tool_choice="transfer_to_refunds_agent")))
    with pytest.raises(openai.BadRequestError, match="transfer_to_refunds_agent") as caught:
        run(lost, "I want a refund.")
    assert caught.value.body["param"] == "tool_choice"
