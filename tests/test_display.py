"""Coloured token display."""

from __future__ import annotations

import re

import tiktoken

from helpers.kernel import tokens
from helpers.token_display import TokenView, piece_text, show_tokens


def encoding() -> tiktoken.Encoding:
    tokens.use_offline_encodings()
    return tiktoken.get_encoding("o200k_base")


def test_view_of_hello_world() -> None:
    view = show_tokens([24912, 2375], encoding())
    assert isinstance(view, TokenView) and len(view) == 2
    assert view.pieces == ("hello", " world")
    assert repr(view) == "2 tokens (o200k_base): [hello][ world]"
    page = view._repr_html_()
    assert 'title="token 24912"' in page and 'title="token 2375"' in page
    assert page.count("<span") == 2 and "2 tokens" in page


def test_html_is_escaped_and_whitespace_visible() -> None:
    enc = encoding()
    view = show_tokens(enc.encode("<b>\n"), enc)
    assert "<b>" not in view._repr_html_() and "&lt;" in view._repr_html_()
    assert "↵" in repr(view)


def test_partial_characters_shown_as_bytes() -> None:
    assert piece_text("é".encode()[:1]) == "<c3>"
    assert piece_text(b" \xf0\x9f") == " <f0><9f>"


def test_repr_is_stable() -> None:
    enc = encoding()
    view = show_tokens(enc.encode("same text"), enc)
    assert repr(view) == repr(show_tokens(enc.encode("same text"), enc))
    assert not re.search(r"0x[0-9a-f]+", repr(view) + view._repr_html_())
