"""Webhooks through the course server: recorded while recording, delivered again in replay.

On OpenAI you register a webhook endpoint (a public HTTPS URL) in the dashboard; OpenAI then POSTs signed events
to it. A lesson's receiver listens on 127.0.0.1, so the course server stands in for both sides:
``helpers.register_webhook(url)`` tells it where the receiver is. While recording through the local backend, the
course server asks the backend (``X-Course-Webhook-Url``) to deliver to its own sink, stores each delivery with the
interaction whose answer triggered it, and passes it on. In replay it delivers the recorded ones again, after the
same answer. Either way the receiver gets the recorded body byte for byte, with a fresh timestamp and a signature
made with *your* ``OPENAI_WEBHOOK_SECRET``, and a header saying the course server relayed it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import urllib.error
import urllib.request

from .interaction import Interaction, WebhookDelivery
from .wire import sign_webhook

SECRET_SETTING = "OPENAI_WEBHOOK_SECRET"  # where the SDK's client.webhooks looks for the secret
KEPT_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
RELAY_HEADER = "x-course-relay"
RELAY_NOTE = f"relayed by the course server: the body as the upstream delivered it, signed again with {SECRET_SETTING}"


def response_id(item: Interaction) -> str | None:
    """The id of the response an interaction answered with (None for anything else)."""
    body = item["response"].get("json")
    if isinstance(body, dict) and body.get("object") == "response":
        return body.get("id")
    return None


class Relay:
    """Where a lesson's receiver listens, and the deliveries passed on to it."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.delivered: list[tuple[str, int]] = []  # (webhook-id, the receiver's status) of each one passed on
        self.threads: list[threading.Thread] = []

    def register(self, url: str) -> None:
        self.url = url

    def keep(self, headers: dict[str, str], body: bytes, delay: float) -> WebhookDelivery:
        """What a recording keeps of one delivery."""
        kept = {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
        return {"delay": round(max(delay, 0.0), 4), "headers": kept, "body": body.decode("utf-8")}

    def send_later(self, delivery: WebhookDelivery, speed: float) -> None:
        """Pass a delivery on to the registered receiver, ``delay`` (times ``speed``) seconds from now."""
        if self.url is None:
            return
        thread = threading.Thread(target=self._send, args=(delivery, self.url, delivery["delay"] * speed),
                                  name="course-webhook", daemon=True)
        self.threads.append(thread)
        thread.start()

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the deliveries under way (tests, and the end of a session)."""
        for thread in list(self.threads):
            thread.join(timeout)

    def _send(self, delivery: WebhookDelivery, url: str, pause: float) -> None:
        if pause > 0:
            time.sleep(pause)
        secret = os.environ.get(SECRET_SETTING, "")
        webhook_id = delivery["headers"].get("webhook-id", "")
        stamp = int(time.time())
        body = delivery["body"].encode("utf-8")
        headers = {
            "Content-Type": delivery["headers"].get("content-type", "application/json"),
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            RELAY_HEADER: RELAY_NOTE,
        }
        if secret:
            headers["webhook-signature"] = sign_webhook(secret, webhook_id, stamp, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the registered receiver
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        with contextlib.suppress(Exception):
            self.delivered.append((webhook_id, status))
