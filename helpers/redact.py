"""Redact personal data (e-mail addresses, phone numbers, card-like numbers) before text leaves your machine.

``redact`` swaps each match for a numbered placeholder such as ``[EMAIL_1]`` and returns the mapping;
``restore`` puts the originals back into a model's answer. Regular expressions catch well-formed data only:
names, addresses and anything written unusually slip through, so treat this as one layer of protection,
not a guarantee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Order matters: card numbers are looked for before phone numbers, which would also match long digit runs.
PATTERNS: dict[str, re.Pattern[str]] = {
    "EMAIL": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    "CARD": re.compile(r"\b\d(?:[ -]?\d){12,18}\b"),
    "PHONE": re.compile(r"(?<![\w+])\+?\d[\d ().-]{6,}\d\b"),
}
# How many digits a match of each kind must hold (filters dates, order numbers and the like).
DIGITS = {"CARD": (13, 19), "PHONE": (9, 15)}
PLACEHOLDER = re.compile(r"\[(?:EMAIL|CARD|PHONE)_\d+\]")


@dataclass
class Redacted:
    """A redacted text and the placeholders it uses (placeholder -> original value)."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)


def _digits(value: str) -> int:
    return sum(ch.isdigit() for ch in value)


def redact(text: str, kinds: Iterable[str] = PATTERNS) -> Redacted:
    """Replace e-mails, card-like numbers and phone numbers in ``text`` with ``[KIND_n]`` placeholders.

    The same value always gets the same placeholder, so a model can still tell that two mentions are
    one person. ``kinds`` limits the search (e.g. ``["EMAIL"]``).
    """
    mapping: dict[str, str] = {}
    seen: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    for kind in kinds:
        pattern = PATTERNS[kind]
        low, high = DIGITS.get(kind, (0, 10**6))

        def swap(match: re.Match[str], kind: str = kind, low: int = low, high: int = high) -> str:
            value = match.group(0)
            if not low <= _digits(value) <= high:
                return value
            if (kind, value) not in seen:
                counts[kind] = counts.get(kind, 0) + 1
                placeholder = f"[{kind}_{counts[kind]}]"
                seen[(kind, value)] = placeholder
                mapping[placeholder] = value
            return seen[(kind, value)]

        text = pattern.sub(swap, text)
    return Redacted(text, mapping)


def restore(text: str, mapping: dict[str, str]) -> str:
    """Put the original values back for every placeholder of ``mapping`` found in ``text``."""
    return PLACEHOLDER.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)


def leftovers(text: str) -> list[str]:
    """Anything in ``text`` that still looks like an e-mail, card number or phone number."""
    return [value for kind, value in _matches(text)]


def _matches(text: str) -> list[tuple[str, str]]:
    found = []
    for kind, pattern in PATTERNS.items():
        low, high = DIGITS.get(kind, (0, 10**6))
        found += [(kind, m.group(0)) for m in pattern.finditer(text) if low <= _digits(m.group(0)) <= high]
    return found
