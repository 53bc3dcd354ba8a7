"""Tests of helpers.redact: placeholders in, originals back out, no false hits on dates and order numbers."""

from __future__ import annotations

from helpers.redact import leftovers, redact, restore

MESSAGE = (
    "Hi, I'm writing about order ORD-20931 from 2026-11-02. Reach me at ana.perez@example.com or "
    "+598 94 123 456. I paid with card 4111 1111 1111 1111. Please cc ana.perez@example.com."
)


def test_redact_replaces_each_kind_and_reuses_placeholders() -> None:
    result = redact(MESSAGE)
    assert "[EMAIL_1]" in result.text and result.text.count("[EMAIL_1]") == 2
    assert "[PHONE_1]" in result.text and "[CARD_1]" in result.text
    assert "example.com" not in result.text and "4111" not in result.text and "123 456" not in result.text
    assert result.mapping == {"[EMAIL_1]": "ana.perez@example.com", "[CARD_1]": "4111 1111 1111 1111",
                              "[PHONE_1]": "+598 94 123 456"}


def test_dates_and_order_numbers_are_kept() -> None:
    text = redact(MESSAGE).text
    assert "ORD-20931" in text and "2026-11-02" in text


def test_restore_round_trips_and_ignores_unknown_placeholders() -> None:
    result = redact(MESSAGE)
    assert restore(result.text, result.mapping) == MESSAGE
    assert restore("Write to [EMAIL_1] or [EMAIL_9].", result.mapping) == "Write to ana.perez@example.com or [EMAIL_9]."


def test_kinds_limit_the_search_and_leftovers_find_the_rest() -> None:
    only_email = redact(MESSAGE, kinds=["EMAIL"])
    assert list(only_email.mapping) == ["[EMAIL_1]"]
    assert leftovers(only_email.text) == ["4111 1111 1111 1111", "+598 94 123 456"]
    assert leftovers(redact(MESSAGE).text) == []


def test_second_distinct_values_get_new_numbers() -> None:
    result = redact("a@example.org then b@example.org, call 020 7946 0958 or 0161 496 0000")
    assert result.text == "[EMAIL_1] then [EMAIL_2], call [PHONE_1] or [PHONE_2]"
