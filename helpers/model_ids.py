"""Model ids by role, in one place.

Every notebook takes its model ids from here (``models.chat``, ``models.embedding``...), so when a
model is retired the course changes one line, and a learner can switch models without editing
lessons: set ``COURSE_MODEL_CHAT=gpt-5.5`` (or any role) in ``.env``. What each model accepts (reasoning
effort, sampling parameters, endpoints) is in :mod:`helpers.model_rules`; :func:`check` warns when an override
breaks what the lessons rely on.

The defaults are checked against the installed ``openai`` package: each must be one of the SDK's
model literals for its endpoint, and :func:`sdk_shutdowns` reads the shutdown dates the SDK's
own docstrings announce.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
import warnings
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

# Checked 2026-12-01 against openai 3.57.0: none of the defaults has an announced shutdown date except the
# fine-tuning base (every snapshot that supports supervised fine-tuning has one; gpt-4.1-mini-2025-04-14:
# 2027-01-14; lesson 11 says so). The legacy completion model's status is unknown. Speech output goes through the
# Realtime API (``realtime``): the SDK names gpt-realtime-2.1-mini as the successor of every TTS model.
DEFAULTS = {
    "chat": "gpt-5.4-mini",
    "completion": "davinci-002",
    "embedding": "text-embedding-3-small",
    "transcription": "gpt-transcribe",
    "realtime": "gpt-realtime-2.1-mini",
    "image": "gpt-image-2",
    "moderation": "omni-moderation-latest",
    "fine_tune": "gpt-4.1-mini-2025-04-14",
}
# Still served until the shutdown date the installed SDK announces, each beside the role that replaces it. The
# lessons use them, dated, while they work; ``check`` warns as the date comes close.
DATED = {
    "speech": ("gpt-4o-mini-tts", "2027-01-06", "realtime"),  # audio.speech: every TTS model goes
    "translation": ("whisper-1", "2027-02-26", "realtime"),  # audio.translations: its only model goes
}


@dataclass(frozen=True)
class Models:
    """The model id for each role the course uses."""

    chat: str
    completion: str
    embedding: str
    transcription: str
    realtime: str
    image: str
    moderation: str
    fine_tune: str
    speech: str  # dated: see DATED
    translation: str  # dated: see DATED

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def env_name(role: str) -> str:
    return f"COURSE_MODEL_{role.upper()}"


def load() -> Models:
    """Defaults (and the dated models), overridden by ``COURSE_MODEL_<ROLE>`` environment variables."""
    chosen = DEFAULTS | {role: model for role, (model, _, _) in DATED.items()}
    return Models(**{role: os.environ.get(env_name(role), "").strip() or model for role, model in chosen.items()})


def sdk_literals() -> dict[str, tuple[str, ...]]:
    """The model ids the installed SDK lists for each role's endpoint."""
    from typing import get_args, get_type_hints

    from openai.resources.completions import Completions
    from openai.resources.fine_tuning.jobs import Jobs
    from openai.types import AudioModel, ChatModel, EmbeddingModel, ImageModel, ModerationModel
    from openai.types.audio.speech_model import SpeechModel
    from openai.types.realtime.realtime_session_create_request_param import RealtimeSessionCreateRequestParam

    def literals(method: Any) -> tuple[str, ...]:
        found: tuple[str, ...] = ()
        for arg in get_args(get_type_hints(method)["model"]):
            found += get_args(arg)
        return found

    return {
        "chat": get_args(ChatModel),
        "completion": literals(Completions.create),
        "embedding": get_args(EmbeddingModel),
        "transcription": get_args(AudioModel),
        "speech": get_args(SpeechModel),
        "realtime": literals(RealtimeSessionCreateRequestParam),
        "translation": get_args(AudioModel),
        "image": get_args(ImageModel),
        "moderation": get_args(ModerationModel),
        # The jobs endpoint lists only older ids; dated chat snapshots are accepted as plain strings.
        "fine_tune": literals(Jobs.create) + get_args(ChatModel),
    }


_NOTE = re.compile(
    r"-\s+((?:\"[^\"]+\",?\s*)+):\s*(.*?)(?=\n\s*-\s+\"|\n\s*\n|\Z)", re.DOTALL
)
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})|([A-Z][a-z]+ \d{1,2}, \d{4})")


@cache
def sdk_shutdowns() -> dict[str, tuple[dt.date | None, str]]:
    """Model id -> (shutdown date, note), from the "Deprecated values" lists in the SDK's docstrings."""
    from openai.resources import images
    from openai.resources.audio import speech, transcriptions, translations
    from openai.resources.chat.completions import completions
    from openai.resources.realtime import calls

    found: dict[str, tuple[dt.date | None, str]] = {}
    for module in (completions, images, speech, transcriptions, translations, calls):
        source = inspect.getsource(module)
        for section in source.split("Deprecated values:")[1:]:
            section = section.split('"""')[0]
            for ids, note in _NOTE.findall(section):
                note = " ".join(note.split())
                date = _parse_date(note)
                for model_id in re.findall(r"\"([^\"]+)\"", ids):
                    found.setdefault(model_id, (date, note))
    return found


def _parse_date(text: str) -> dt.date | None:
    match = _DATE.search(text)
    if not match:
        return None
    if match.group(1):
        return dt.date.fromisoformat(match.group(1))
    return dt.datetime.strptime(match.group(2), "%B %d, %Y").date()


def shutdown_warning(model_id: str, today: dt.date | None = None, shutdown: Any = None) -> str | None:
    """A warning when a model is retired or about to be (from ``shutdown`` or the SDK's notes)."""
    today = today or dt.date.today()
    date: dt.date | None = None
    if shutdown:  # e.g. Model.shutdown_date from client.models.list(), a date or epoch seconds
        date = (dt.datetime.fromtimestamp(shutdown, dt.timezone.utc).date() if isinstance(shutdown, (int, float))
                else dt.date.fromisoformat(str(shutdown)[:10]))
    elif model_id in sdk_shutdowns():
        date = sdk_shutdowns()[model_id][0]
        if date is None:
            return f"{model_id}: {sdk_shutdowns()[model_id][1]}"
    if date is None:
        return None
    if date <= today:
        return f"{model_id} was shut down on {date}; choose a current model (see helpers/model_ids.py)."
    return f"{model_id} is scheduled to shut down on {date} ({(date - today).days} days from now)."


def rule_warnings(models: Models) -> list[str]:
    """What the lessons rely on that the configured models do not offer, per :mod:`helpers.model_rules`."""
    from . import model_rules

    notes = []
    chat = model_rules.rule_for(models.chat)
    if chat is None:
        notes.append(f"{models.chat} is not in helpers/model_rules.py: its parameter rules are unknown to the course.")
    elif "responses" not in chat.endpoints or "chat" not in chat.endpoints:
        notes.append(f"{models.chat} does not serve both the Responses and Chat Completions APIs the lessons use.")
    elif chat.reasoning and "none" not in chat.efforts:
        notes.append(f"{models.chat} cannot switch reasoning off (effort 'none'): the lessons' sampling cells will "
                     "get a 400.")
    completion = model_rules.rule_for(models.completion)
    if completion is not None and "completions" not in completion.endpoints:
        notes.append(f"{models.completion} is not a legacy completions model (v1/completions).")
    return notes


def check(models: Models | None = None, today: dt.date | None = None) -> list[str]:
    """Warnings for the configured models; also issued with ``warnings.warn``."""
    models = models or load()
    notes = [w for w in (shutdown_warning(m, today) for m in models.as_dict().values()) if w]
    notes += rule_warnings(models)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return notes


models = load()
