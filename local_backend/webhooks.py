"""Signed webhook deliveries for background responses, to a local URL set in the environment.

``LOCAL_BACKEND_WEBHOOK_URL`` (an ``http://127.0.0.1:<port>/...`` or ``http://localhost:<port>/...`` URL: the
backend never calls out of the machine) and ``LOCAL_BACKEND_WEBHOOK_SECRET`` (``whsec_`` + base64, like the
secrets OpenAI issues) turn deliveries on. When a background response reaches a final status, the backend
POSTs ``{"id": "evt_...", "object": "event", "type": "response.completed", "created_at": ..., "data": {"id":
"resp_..."}}`` (``response.cancelled`` / ``response.incomplete`` / ``response.failed`` likewise) with the
standard-webhooks headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64
HMAC-SHA256 of ``id.timestamp.body``), which ``client.webhooks.unwrap(body, headers, secret=...)`` verifies.
A delivery runs in its own thread and a failed one is reported on stderr, never to the API caller.

A request carrying the ``X-Course-Webhook-Url`` header (the course server sends it while recording, once a lesson
has registered a receiver) has its delivery sent to that loopback URL instead, signed with the test secret
``RELAY_WEBHOOK_SECRET``: the course server records it and passes it on, signed again with the learner's secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from helpers.replay.wire import LOOPBACK_HOSTS
from helpers.replay.wire import RELAY_WEBHOOK_SECRET as RELAY_SECRET
from helpers.replay.wire import sign_webhook as sign

URL_SETTING = "LOCAL_BACKEND_WEBHOOK_URL"
SECRET_SETTING = "LOCAL_BACKEND_WEBHOOK_SECRET"
EVENTS = {"completed": "response.completed", "cancelled": "response.cancelled", "incomplete": "response.incomplete",
          "failed": "response.failed"}


class SettingError(ValueError):
    """A bad webhook setting; its message is one line that names the setting."""


class Webhooks:
    """Where (and with which secret) to deliver; ``url`` None means deliveries are off."""

    def __init__(self, url: str | None = None, secret: str | None = None) -> None:
        self.url, self.secret = url, secret
        self.threads: list[threading.Thread] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Webhooks:
        """The settings in ``env``; a :class:`SettingError` naming the setting when one is wrong."""
        url, secret = env.get(URL_SETTING) or None, env.get(SECRET_SETTING) or None
        if url is None:
            if secret is not None:
                raise SettingError(f"{SECRET_SETTING} is set but {URL_SETTING} is not: set both, or neither.")
            return cls()
        if not _loopback(url):
            raise SettingError(f"{URL_SETTING} must be http://127.0.0.1:<port>/<path> (deliveries stay on this "
                               f"machine), not {url!r}.")
        if secret is None:
            raise SettingError(f"{URL_SETTING} is set but {SECRET_SETTING} is not: deliveries must be signed.")
        try:
            valid = secret.startswith("whsec_") and len(base64.b64decode(secret[6:], validate=True)) >= 16
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise SettingError(f"{SECRET_SETTING} must be 'whsec_' followed by base64 of at least 16 bytes.")
        return cls(url, secret)

    def final(self, response: dict[str, Any], relay_url: str | None = None) -> None:
        """Deliver the event for a background response that reached a final status: to ``relay_url`` (a course
        server's sink) when given, else to the configured URL (no-op when neither)."""
        kind = EVENTS.get(response.get("status", ""))
        if relay_url is not None and _loopback(relay_url):
            url, secret = relay_url, RELAY_SECRET
        elif self.url is not None and self.secret is not None:
            url, secret = self.url, self.secret
        else:
            return
        if kind is None:
            return
        event = {"id": "evt_" + hashlib.sha256((response["id"] + kind).encode()).hexdigest()[:24],
                 "object": "event", "type": kind, "created_at": int(time.time()), "data": {"id": response["id"]}}
        thread = threading.Thread(target=self._post, args=(event, url, secret), daemon=True)
        self.threads.append(thread)
        thread.start()

    @staticmethod
    def _post(event: dict[str, Any], url: str, secret: str) -> None:
        body = json.dumps(event, separators=(",", ":")).encode()
        stamp = int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": event["id"],
                   "webhook-timestamp": str(stamp), "webhook-signature": sign(secret, event["id"], stamp, body)}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - a loopback URL, checked
                answer.read()
        except OSError as exc:
            print(f"webhook {event['type']} to {url} failed: {exc}", file=sys.stderr, flush=True)


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.port is not None
