"""The name lesson 02 imports: the token display now lives in :mod:`helpers.token_display`."""

from .token_display import TokenView, piece_text, show_tokens, visible

__all__ = ["TokenView", "piece_text", "show_tokens", "visible"]
