"""Helpers for the OpenAI Python course: setup, model ids, recordings, tokens, cost, plots.

A lesson starts with::

    from helpers import setup, models
    setup("02_tokens")

and then uses the plain SDK: ``client = OpenAI()``. Names load on first use, so the stdlib-only parts
(``helpers.replay``) can be imported by the local backend without the notebook dependencies.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["current", "models", "register_webhook", "setup"]
_LAZY = {"current": ".session", "setup": ".session", "models": ".model_ids", "register_webhook": ".session"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
