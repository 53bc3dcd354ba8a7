"""A bounded load test: many requests at a fixed concurrency, each on its own connection, every outcome counted."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What came back: status codes (``200``...) and failures by exception name (``ConnectionResetError``...)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    bad_bodies: int = 0

    @property
    def failures(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if not outcome.startswith("2")) + self.bad_bodies


def hammer(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
           *, requests: int = 300, concurrency: int = 20, timeout: float = 30.0,
           check: Callable[[bytes], bool] | None = None) -> LoadResult:
    """Send ``requests`` requests, ``concurrency`` at a time, to 127.0.0.1:``port``, a new connection each
    (as curl or a page reload would), and count what happened to each."""
    result = LoadResult()
    lock = threading.Lock()
    start = threading.Barrier(concurrency)

    def one(number: int) -> None:
        if number < concurrency:  # the first wave arrives all at once, like a burst of clients
            start.wait()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            try:
                connection.request(method, path, body=body, headers=headers or {})
                reply = connection.getresponse()
                data = reply.read()
                outcome = str(reply.status)
                bad = check is not None and reply.status < 300 and not check(data)
            finally:
                connection.close()
        except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
            outcome, bad = type(exc).__name__, False
        with lock:
            result.outcomes[outcome] += 1
            result.bad_bodies += bad

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return result
