"""Replay with a live fallback: a request the recording lacks goes to the course's local backend, when it runs.

In replay mode the course server answers a recorded request from the recording. Any other request (an edited
prompt, an exercise's own call, a new cell) is passed to the local backend (``make local-backend``) when one answers
at its address, so the learner gets an answer from the small local models instead of a "not in the recording"
error. Those answers are counted apart (the cell shows a note, ``usage.summary()`` a column) and never stored:
:meth:`Fallback.finish` meters an answer and nothing else, whatever the server's mode.

``COURSE_LOCAL_BACKEND_URL`` moves the address (default :data:`~helpers.replay.wire.LOCAL_BACKEND_URL`);
``COURSE_FALLBACK=0`` turns the fallback off (the tests' nbval runs do, so a stale recording still fails).
Standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlsplit

from .interaction import Source, StoredRequest, StoredResponse
from .wire import LOCAL_BACKEND_URL

LOCAL_BACKEND_OWNER = "course-local-backend"  # the ``owned_by`` of the local backend's models
URL_VARIABLE = "COURSE_LOCAL_BACKEND_URL"
SWITCH_VARIABLE = "COURSE_FALLBACK"
OFF = ("0", "off", "no", "false")
PROBE_TIMEOUT = 3.0  # seconds; the backend answers GET /v1/models in about a millisecond, but a busy machine
# (a model loading, tests in parallel) can stall it: nothing listening is refused at once, so waiting costs nothing
UP_FOR, DOWN_FOR = 10.0, 1.0  # how long a probe's answer is trusted: a backend just started is seen within a second
START_HINT = "`make local-backend` in a terminal, or `make lab` with LOCAL_BACKEND=1"
State = Literal["up", "down", "other"]
Meter = Callable[[StoredRequest, StoredResponse], None]


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> State:
    """Whether the course's local backend answers at ``url`` ("up"), nothing does ("down"), or another program."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/models", timeout=timeout) as reply:
            owners = {m.get("owned_by") for m in json.load(reply).get("data", []) if isinstance(m, dict)}
    except urllib.error.HTTPError:
        return "other"  # something answers, but not as the local backend does
    except (OSError, ValueError, AttributeError):
        # refused or timed out (nothing there), or an answer that is not the backend's JSON
        return "down" if not _listening(url) else "other"
    return "up" if LOCAL_BACKEND_OWNER in owners else "other"


def _listening(url: str) -> bool:
    """Whether anything accepts a connection at ``url``'s host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


class Fallback:
    """Where a replay miss goes: the local backend at ``url``, while a (cached) probe finds it there."""

    def __init__(self, url: str = LOCAL_BACKEND_URL, meter: Meter | None = None, enabled: bool = True) -> None:
        self.url = url.rstrip("/")
        self.meter = meter  # sees each fallback answer (helpers.kernel.meter counts them apart)
        self.enabled = enabled
        self.answers = 0  # answers the local backend gave in place of the recording
        self._noted = 0
        self._state: tuple[State, float] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, meter: Meter | None = None, env: Mapping[str, str] = os.environ) -> Fallback:
        """The fallback ``COURSE_LOCAL_BACKEND_URL`` and ``COURSE_FALLBACK`` describe."""
        url = env.get(URL_VARIABLE, "").strip() or LOCAL_BACKEND_URL
        return cls(url, meter, enabled=env.get(SWITCH_VARIABLE, "").strip().lower() not in OFF)

    @property
    def address(self) -> str:
        return urlsplit(self.url).netloc

    def state(self) -> State:
        """The probe's answer, cached (:data:`UP_FOR` seconds when up, :data:`DOWN_FOR` otherwise)."""
        now = time.monotonic()
        with self._lock:
            if self._state is not None and now < self._state[1]:
                return self._state[0]
        found = probe(self.url)
        with self._lock:
            self._state = (found, now + (UP_FOR if found == "up" else DOWN_FOR))
        return found

    def ready(self) -> bool:
        """Whether a miss should go to the local backend now."""
        return self.enabled and self.state() == "up"

    def forget(self) -> None:
        """Probe again next time (the backend failed a request)."""
        with self._lock:
            self._state = None

    def finish(self, request: StoredRequest, response: StoredResponse, source: Source | None = None) -> None:
        """After a fallback answer went back: count and meter it. Never stores it, in any mode."""
        with self._lock:
            self.answers += 1
        if self.meter:
            self.meter(request, response)

    def take_note(self) -> str | None:
        """A one-line note about the fallback answers since the last note (shown under the cell), if any."""
        with self._lock:
            new, self._noted = self.answers - self._noted, self.answers
        if not new:
            return None
        answers = "1 answer" if new == 1 else f"{new} answers"
        return (f"↳ {answers} from the course's local backend (small local models at {self.address}), "
                "not the recording")

    # -- messages ------------------------------------------------------------------------------
    def hint(self) -> str:
        """The line a replay miss ends with: how to have the local models answer instead."""
        if not self.enabled:
            return ""
        if self.state() == "other":
            return (f"\nSomething other than the course's local backend listens at {self.address}, so nothing was "
                    "sent there: stop it, or start the backend on a free port (`make local-backend LOCAL_PORT=8012`) "
                    f"and set {URL_VARIABLE}=http://127.0.0.1:8012/v1.")
        return f"\nOr let the course's small local models answer it: start the local backend ({START_HINT}), " \
               "then rerun this cell."

    def unreachable(self, exc: BaseException) -> str:
        """The message when the backend did not take a request it had just been found answering."""
        if isinstance(exc, http.client.RemoteDisconnected):  # it took the request, then went away
            return self.broke(exc)
        self.forget()
        return (f"The course's local backend at {self.address} did not answer ({exc}). Restart it ({START_HINT}) "
                "and rerun this cell.")

    def broke(self, exc: BaseException) -> str:
        """The message when the backend stopped in the middle of an answer (crashed, or was stopped)."""
        self.forget()
        what = type(exc).__name__
        return (f"The course's local backend at {self.address} stopped in the middle of its answer ({what}); "
                f"nothing was recorded. Its terminal or log says why; restart it ({START_HINT}) and rerun this cell.")
