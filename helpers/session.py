"""``helpers.setup()``: the first code cell of every notebook.

It chooses the backend from ``COURSE_BACKEND``, loads ``.env``, checks the key, and for replay
and record starts the in-kernel server and points ``OPENAI_BASE_URL`` at it. The notebook's own
code stays plain SDK code: ``client = OpenAI()``.
"""

from __future__ import annotations

import atexit
import functools
import os
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import openai
from dotenv import dotenv_values, load_dotenv

from . import keys
from .errors import ConfigError, brief
from .kernel import tokens
from .kernel.meter import FALLBACK, Meter, cap_from_env
from .paths import ROOT, recording_path
from .replay.fallback import Fallback, probe
from .replay.interaction import MODES as BACKENDS
from .replay.interaction import REPLAY_ERROR_CODES
from .replay.recording import Recording, _rel
from .replay.server import CourseServer
from .replay.webhooks import SECRET_SETTING as WEBHOOK_SECRET
from .replay.wire import LOOPBACK_HOSTS

OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class Session:
    """What ``setup()`` chose; kept so later helpers (and the learner) can inspect it."""

    notebook: str
    backend: str
    base_url: str
    banner: str
    recording: Recording | None = None
    server: CourseServer | None = None
    saved_env: dict[str, str | None] = field(default_factory=dict)
    usage: Meter | None = None

    def close(self) -> None:
        """Stop the replay/record server and restore the variables setup() changed."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.saved_env.clear()


_current: Session | None = None


def _close_at_exit() -> None:
    """When the kernel exits, let calls still being recorded finish and be saved."""
    if _current is not None:
        _current.close()


atexit.register(_close_at_exit)


def current() -> Session | None:
    """The session of this kernel, if ``setup()`` ran."""
    return _current


def register_webhook(url: str) -> None:
    """Stand in for registering a webhook endpoint in the OpenAI dashboard: the course server delivers the webhooks
    of background responses to ``url`` (the recorded ones in replay, the local backend's while recording), signed
    with ``OPENAI_WEBHOOK_SECRET`` (a test secret when ``.env`` has none). OpenAI itself cannot reach 127.0.0.1."""
    session = _current
    if session is None or session.server is None:
        raise ConfigError("Run the setup cell first: helpers.setup(...) starts the course server that delivers "
                          "webhooks.")
    if session.server.upstream_label == "OpenAI API":
        print("live against OpenAI: its webhooks go to the HTTPS endpoint registered in your dashboard; it cannot "
              f"reach {url}.")
    session.server.webhooks.register(url)


def upstream_label(url: str) -> str:
    """A short, key-free name for where answers come from (asks a loopback server who it is)."""
    host = urlsplit(url).hostname or url
    if host == "api.openai.com":
        return "OpenAI API"
    if host in LOOPBACK_HOSTS and probe(url, timeout=3) == "up":
        return f"the course's local backend (small open models) at {url.rstrip('/')}"
    return f"OpenAI-compatible server at {url.rstrip('/')}"


def choose_backend(requested: str | None = None) -> str:
    """``requested``, else ``COURSE_BACKEND``, else live when a key or server is configured, else replay."""
    value = (requested or os.environ.get("COURSE_BACKEND") or "").strip().lower()
    if not value:
        configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
        return "live" if configured else "replay"
    if value not in BACKENDS:
        raise ConfigError(f"COURSE_BACKEND={value!r} is not a backend; use one of: {', '.join(BACKENDS)}.")
    return value


def check_key(backend: str, base_url: str | None, key_origin: str) -> str:
    """The key to use live; a clear error when it is missing or malformed."""
    key = os.environ.get("OPENAI_API_KEY", "")
    if not key:
        if base_url:  # a local OpenAI-compatible server ignores the key, but the SDK wants one
            os.environ["OPENAI_API_KEY"] = keys.LOCAL_SERVER_KEY
            return keys.LOCAL_SERVER_KEY
        raise ConfigError(
            f"COURSE_BACKEND={backend} needs an OpenAI API key, and none is set. Copy .env.example to .env "
            "and put your key after OPENAI_API_KEY=, or set OPENAI_BASE_URL to an OpenAI-compatible server "
            "(such as the course's local backend). Without either, use COURSE_BACKEND=replay."
        )
    problem = keys.key_problem(key)
    if problem and not (base_url and keys.is_placeholder(key)):
        raise ConfigError(
            f"OPENAI_API_KEY ({keys.mask(key)}, from {key_origin}) does not look like an OpenAI key: {problem}. "
            "Create a key at platform.openai.com/api-keys and put it in .env."
        )
    return key


def api_error_text(error: openai.APIStatusError) -> str:
    """What the API said: a replay miss's own message, else ``400 code (param 'x'): message`` on one line."""
    if not isinstance(error.body, dict):  # not an OpenAI-shaped answer: the SDK's own text
        return error.message
    message = error.body.get("message") or error.message
    if error.code in REPLAY_ERROR_CODES:
        return message
    param = f" (param {error.param!r})" if error.param else ""
    return f"{error.status_code} {error.code or error.type or ''}".rstrip() + f"{param}: {message}"


def _cell_frames(shell: Any, tb: TracebackType | None) -> TracebackType | None:
    """``tb`` with only the frames of notebook cells (none of the SDK's, httpx's or IPython's)."""
    cells: list[TracebackType] = []
    while tb is not None:
        if shell.compile.format_code_name(tb.tb_frame.f_code.co_filename) is not None:
            cells.append(tb)
        tb = tb.tb_next
    kept = None
    for frame in reversed(cells):
        kept = TracebackType(kept, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return kept


def _show_api_errors_briefly() -> None:
    """In IPython, show an ``openai.APIStatusError`` in a few lines instead of 40 frames of SDK internals.

    A replay miss shows its message only; any other API error shows the learner's cell frames and one line
    (status, code, param, message). IPython ignores what a custom handler returns, so the handler shows the
    error itself; the cell still fails (the kernel replies with status "error").
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell: Any, etype: type[BaseException], value: openai.APIStatusError, tb: TracebackType | None,
                tb_offset: int | None = None) -> None:
        text = api_error_text(value)
        frames = None if value.code in REPLAY_ERROR_CODES else _cell_frames(shell, tb)
        stb = brief(etype, text)
        if frames is not None:  # IPython's own rendering of those frames, ending with the one line above
            stb = shell.InteractiveTB.structured_traceback(etype, value, frames, tb_offset=0)[:-1] + stb
        shell._showtraceback(etype, text, stb)

    shell.set_custom_exc((openai.APIStatusError,), handler)


def _note_fallback_answers(result: Any = None) -> None:
    """After a cell (IPython's ``post_run_cell``): a line when the local backend answered in place of the recording."""
    fallback = _current.server.fallback if _current is not None and _current.server is not None else None
    note = fallback.take_note() if fallback is not None else None
    if note:
        print(note)


def _show_fallback_notes() -> None:
    """In IPython, end each cell in which the local backend answered with :func:`_note_fallback_answers`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _note_fallback_answers not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _note_fallback_answers)


def replay_banner(notebook: str, recording: Recording) -> str:
    """The first line a learner sees in replay mode (``make record`` stores it in place of the record banner)."""
    return f"replay · {notebook} · {recording.provenance()} · no key needed, nothing leaves this machine"


def setup(notebook: str, backend: str | None = None, *, quiet: bool = False) -> None:
    """Prepare this kernel for a lesson and print a one-line banner saying where answers come from.

    Returns nothing (so a notebook shows only the banner); ``helpers.current()`` gives the session.
    ``notebook`` names the lesson (and its recording, ``data/recordings/<notebook>.json``).
    ``backend`` overrides ``COURSE_BACKEND``: ``replay``, ``live`` or ``record``.
    Live and record calls pass through the same in-kernel server as replay (on 127.0.0.1), which forwards
    them unchanged; it is what adds up usage, enforces ``COURSE_MAX_USD`` and simulates failures on request.
    """
    global _current
    if _current is not None:
        _current.close()
    notebook = notebook.removesuffix(".ipynb")
    saved_env = {name: os.environ.get(name) for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", WEBHOOK_SECRET)}
    key_origin = "the environment" if "OPENAI_API_KEY" in os.environ else ".env"
    load_dotenv(ROOT / ".env", override=False)
    if key_origin == ".env" and "OPENAI_API_KEY" not in dotenv_values(ROOT / ".env"):
        key_origin = "nowhere"
    chosen = choose_backend(backend)
    tokens.use_offline_encodings()
    no_proxy = [p for p in os.environ.get("NO_PROXY", "").split(",") if p]
    os.environ["NO_PROXY"] = ",".join(dict.fromkeys(no_proxy + list(LOOPBACK_HOSTS)))

    path = recording_path(notebook)
    if chosen == "replay":
        recording = Recording.load(path, notebook)
        speed = float(os.environ.get("COURSE_REPLAY_SPEED", "1"))
        server = CourseServer(recording, "replay", speed=speed)
        base_url = server.start()
        os.environ["OPENAI_BASE_URL"] = base_url
        os.environ["OPENAI_API_KEY"] = keys.PLACEHOLDER_KEY
        banner = replay_banner(notebook, recording)
        meter = Meter()
        session = Session(notebook, chosen, base_url, banner, recording, server, usage=meter)
        server.meter = meter.add
        # A request the recording lacks goes to the local backend when it runs (never stored; noted under the cell).
        server.fallback = Fallback.from_env(functools.partial(meter.add, origin=FALLBACK))
        _show_fallback_notes()
    else:
        configured_url = os.environ.get("OPENAI_BASE_URL", "").strip() or None
        key = check_key(chosen, configured_url, key_origin)
        upstream = configured_url or OPENAI_URL
        label = upstream_label(upstream)
        who = "no key needed" if keys.is_placeholder(key) else f"key {keys.mask(key)} from {key_origin}"
        recording = Recording(path=path, notebook=notebook,
                              recorded={"upstream": label, "sdk": f"openai {openai.__version__}"})
        paid = label == "OpenAI API"
        meter = Meter(cap_from_env(paid=paid))
        server = CourseServer(recording, chosen, upstream=upstream, upstream_label=label, speed=0)
        server.meter, server.gate = meter.add, meter.gate
        base_url = server.start()
        os.environ["OPENAI_BASE_URL"] = base_url
        cap = f" · spending cap ${meter.cap_usd:.2f} (COURSE_MAX_USD)" if meter.cap_usd is not None else ""
        if chosen == "live":
            cost = " · calls cost money" if paid else ""
            banner = f"live · {notebook} · {label} · {who}{cost}{cap}"
        else:
            banner = f"record · {notebook} → {_rel(path)} · from {label} · {who}{cap}"
        session = Session(notebook, chosen, base_url, banner, recording, server, usage=meter)
    if server.upstream_label != "OpenAI API":  # replay, or a local server
        # Offline, the course server signs the webhooks it relays with this secret (helpers.replay.webhooks).
        os.environ.setdefault(WEBHOOK_SECRET, keys.TEST_WEBHOOK_SECRET)
    session.saved_env = saved_env
    _show_api_errors_briefly()
    _current = session
    if not quiet:
        print(session.banner)
