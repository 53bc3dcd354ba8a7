"""Exercise self-checks: tell "not attempted yet" apart from a wrong answer."""

from __future__ import annotations

NOT_ATTEMPTED = ("Exercise {n}: not attempted yet (your function still returns None). Fill in the blanks in the cell "
                 "above, run it, then run this check again.")


def not_attempted(n: int, *results: object) -> bool:
    """True, after saying so, while any of ``results`` is None: the exercise's blanks are still empty."""
    if any(result is None for result in results):
        print(NOT_ATTEMPTED.format(n=n))
        return True
    return False
