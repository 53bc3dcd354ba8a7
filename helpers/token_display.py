"""Show a text split into its tokens (lesson 02): coloured pieces in Jupyter, a stable plain-text form elsewhere.

The lesson does the tokenizing itself (``ids = enc.encode(text)``); this module only draws::

    show_tokens(ids, enc)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

COLOURS = ("#cfe8ff", "#ffe3b3", "#d5f5d0", "#f7d4f0", "#fff3a8")
CAPTION = "font-size:80%;color:#666"
STYLE = "padding:1px 0;margin:0 1px 0 0;border-radius:3px;white-space:pre;font-family:monospace"


class Decoder(Protocol):
    """What this module needs from a ``tiktoken.Encoding``."""

    name: str

    def decode_single_token_bytes(self, token: int) -> bytes: ...


def piece_text(piece: bytes) -> str:
    """A token's bytes as readable text; bytes that are not whole UTF-8 characters shown as ``<e2>``."""
    text = piece.decode("utf-8", errors="surrogateescape")
    return "".join(f"<{ord(c) - 0xDC00:02x}>" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)


def visible(text: str) -> str:
    """Make whitespace visible: newline as ↵, tab as →."""
    return text.replace("\n", "↵").replace("\t", "→")


@dataclass(frozen=True)
class TokenView:
    """Tokens with their text pieces; Jupyter shows it as coloured HTML."""

    ids: tuple[int, ...]
    pieces: tuple[str, ...]
    encoding: str

    def __len__(self) -> int:
        return len(self.ids)

    def _repr_html_(self) -> str:
        spans = []
        for i, (token, piece) in enumerate(zip(self.ids, self.pieces, strict=True)):
            colour = COLOURS[i % len(COLOURS)]
            spans.append(
                f'<span title="token {token}" style="background:{colour};{STYLE}">{html.escape(visible(piece))}</span>'
            )
        caption = f"{len(self.ids)} tokens · {html.escape(self.encoding)} · hover a token to see its id"
        return f'<div style="line-height:1.9">{"".join(spans)}</div><div style="{CAPTION}">{caption}</div>'

    def __repr__(self) -> str:
        shown = "".join(f"[{visible(p)}]" for p in self.pieces)
        return f"{len(self.ids)} tokens ({self.encoding}): {shown}"


def show_tokens(ids: Sequence[int], encoding: Decoder) -> TokenView:
    """A displayable view of token ``ids``, each decoded on its own by ``encoding``."""
    ids = tuple(int(t) for t in ids)
    pieces = tuple(piece_text(encoding.decode_single_token_bytes(t)) for t in ids)
    return TokenView(ids, pieces, encoding.name)
