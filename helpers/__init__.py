"""Helpers for the OpenAI Python course: setup, model ids, recordings, tokens, cost, plots.

A lesson starts with::

    from helpers import setup, models
    setup("02_tokens")

and then uses the plain SDK: ``client = OpenAI()``.
"""

from .model_ids import models
from .session import current, setup

__all__ = ["current", "models", "setup"]
