"""API keys: their shape, a masked display, and a scan for key-shaped strings."""

from __future__ import annotations

import re

# Placeholders the course itself uses; they look like keys on purpose but open nothing.
PLACEHOLDER_KEY = "sk-replay-no-key-needed"
LOCAL_SERVER_KEY = "sk-local-no-key-needed"
# The webhook secret a session uses offline when .env sets no OPENAI_WEBHOOK_SECRET: a test secret, not a real one.
TEST_WEBHOOK_SECRET = "whsec_" + "Y291cnNlLXRlc3Qtd2ViaG9vay1zZWNyZXQtbm90LXJlYWw="  # base64 of a label
_PLACEHOLDER = re.compile(r"sk-(test|replay|local|dummy|fake|placeholder|your|xxx)", re.IGNORECASE)

# Real OpenAI secret keys start with sk- (sk-proj-, sk-svcacct-, sk-admin-, or legacy sk-).
KEY_SHAPE = re.compile(r"^sk-[A-Za-z0-9_-]{20,}$")
SECRET_PATTERNS = {
    "API key": re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "organisation id": re.compile(r"\borg-[A-Za-z0-9]{20,}\b"),
    "project id": re.compile(r"\bproj_[A-Za-z0-9]{20,}\b"),
    "bearer token": re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{20,}"),
}


def is_placeholder(key: str) -> bool:
    """True for the course's own stand-in keys (and obvious placeholders like sk-your-key)."""
    return bool(_PLACEHOLDER.match(key))


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a real OpenAI key, or None if its shape is plausible."""
    if key != key.strip() or any(c in key for c in "\"' "):
        return "it contains spaces or quotes; copy the key alone, without quotes"
    if not key.startswith("sk-"):
        return "OpenAI keys start with 'sk-'"
    if is_placeholder(key):
        return "it is a placeholder, not a real key"
    if not KEY_SHAPE.match(key):
        return "it is too short or has characters a key never has"
    return None


def mask(key: str | None) -> str:
    """A key shown safely: prefix and last four characters only."""
    if not key:
        return "(none)"
    if len(key) <= 12:
        return key[:3] + "…"
    prefix = key[: key.find("-", 3) + 1] if key.startswith(("sk-proj-", "sk-svcacct-", "sk-admin-")) else "sk-"
    return f"{prefix}…{key[-4:]}"


def find_secrets(text: str) -> list[tuple[str, str]]:
    """Key-shaped strings in ``text`` as ``(kind, masked value)``, ignoring the course's placeholders."""
    found = []
    for kind, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(0)
            bare = value.split()[-1] if kind == "bearer token" else value
            if is_placeholder(bare):
                continue
            found.append((kind, mask(bare) if bare.startswith("sk-") else bare[:8] + "…"))
    return found
