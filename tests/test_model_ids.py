"""Model ids: one place, overridable, checked against the installed SDK."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import model_ids
from helpers.model_ids import DATED, DEFAULTS, load, sdk_literals, sdk_shutdowns, shutdown_warning

TODAY = dt.date(2026, 11, 21)


@pytest.mark.parametrize("role", sorted(DEFAULTS))
def test_default_is_a_model_the_sdk_lists_for_its_endpoint(role: str) -> None:
    assert DEFAULTS[role] in sdk_literals()[role]


@pytest.mark.parametrize("role", sorted(set(DEFAULTS) - {"fine_tune"}))
def test_default_has_no_shutdown_announced_in_the_sdk(role: str) -> None:
    # The fine-tuning base is the one exception: every fine-tunable snapshot has a date (lesson 11 says so).
    assert DEFAULTS[role] not in sdk_shutdowns(), f"{role}: {DEFAULTS[role]} {sdk_shutdowns()[DEFAULTS[role]]}"


def test_the_fine_tuning_base_is_the_only_dated_default() -> None:
    assert [role for role, model in DEFAULTS.items() if model in sdk_shutdowns()] == ["fine_tune"]


@pytest.mark.parametrize("role", sorted(DATED))
def test_a_dated_model_carries_the_sdks_date_and_a_current_replacement(role: str) -> None:
    model, date, replacement = DATED[role]
    assert model in sdk_literals()[role]
    assert sdk_shutdowns()[model][0] == dt.date.fromisoformat(date)
    assert replacement in DEFAULTS and DEFAULTS[replacement] not in sdk_shutdowns()


def test_the_sdk_dates_the_older_realtime_models_but_not_the_default() -> None:
    assert sdk_shutdowns()["gpt-realtime"][0] == dt.date(2027, 1, 20)
    assert "gpt-realtime-2.1-mini" in sdk_literals()["realtime"] and "gpt-realtime-2.1-mini" not in sdk_shutdowns()


def test_environment_overrides_a_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_MODEL_CHAT", "gpt-5.4-nano")
    assert load().chat == "gpt-5.4-nano" and load().embedding == DEFAULTS["embedding"]


def test_shutdown_dates_are_read_from_the_sdk() -> None:
    dates = sdk_shutdowns()
    assert dates["gpt-4o-mini"][0] == dt.date(2027, 1, 14)
    assert dates["dall-e-3"][0] == dt.date(2026, 5, 12)
    assert dates["gpt-image-1"][0] == dt.date(2026, 10, 23)
    assert dates["gpt-3.5-turbo"][0] == dt.date(2026, 10, 23)


def test_warnings_for_retired_and_retiring_models() -> None:
    assert "was shut down on 2026-05-12" in shutdown_warning("dall-e-3", TODAY)
    assert "scheduled to shut down on 2027-01-06 (46 days from now)" in shutdown_warning("gpt-4o-mini-tts", TODAY)
    assert shutdown_warning("gpt-5.4-mini", TODAY) is None
    # A shutdown date reported by client.models.list() (epoch seconds) wins.
    assert "was shut down on 2026-01-01" in shutdown_warning("x", TODAY, shutdown=1767225600)


def test_check_warns_for_the_fine_tuning_base_and_the_dated_models_only() -> None:
    with pytest.warns(UserWarning):
        notes = model_ids.check(load(), TODAY)
    assert [n.split()[0] for n in notes] == ["gpt-4.1-mini-2025-04-14", "gpt-4o-mini-tts", "whisper-1"]
