"""WEBHOOK: a signed JSON POST to a webhook named in the settings (``[webhooks.<name>]``).

The body is the delivery's JSON document, byte for byte as recorded when the
notification was made, so every attempt sends the same bytes with the same signature:
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>``.
``X-Hub-Delivery`` carries the delivery's id (the same on every attempt, so a receiver
can drop a repeat) and ``X-Hub-Event`` its kind. A receiver checks the signature over
the raw body before parsing it (`verify_signature`; docs/notifications.md).

2xx is delivered. 408, 425, 429, 5xx, timeouts and connection failures may pass and are
retried (a ``Retry-After`` on 429/503 is honoured); any other answer, redirects
included, is refused for good. A webhook's URL can be its secret (chat services put a
token in the path), so messages name the webhook and its host, never the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

import httpx

from hub.connectors.http import parse_retry_after
from hub.domain.notifications import Attachment, Channel, Notification
from hub.notify.base import DeliveryError, scrub
from hub.settings import WebhookSettings

SIGNATURE_HEADER = "X-Hub-Signature-256"
DELIVERY_HEADER = "X-Hub-Delivery"
EVENT_HEADER = "X-Hub-Event"
_RETRY_STATUSES = frozenset({408, 425, 429})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_SECRET_PART_MIN = 8


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value for `body`: ``sha256=<hex HMAC-SHA256>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` with `secret`, compared in constant
    time; what a receiver calls on the raw body before trusting it."""
    return header is not None and hmac.compare_digest(
        sign(secret, body).encode(), header.encode("utf-8", "replace")
    )


class WebhookSender:
    """Sends WEBHOOK deliveries to the webhooks in `webhooks` (``[webhooks]``), over one
    `httpx.AsyncClient`; `transport` and `wall_clock` (for ``Retry-After`` dates) are
    injectable for tests."""

    channel: ClassVar[Channel] = Channel.WEBHOOK

    def __init__(
        self,
        webhooks: Mapping[str, WebhookSettings],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._webhooks = dict(webhooks)
        self._wall_clock = wall_clock
        self._client = httpx.AsyncClient(
            transport=transport,
            # A redirect would carry the signed body on to wherever it points.
            follow_redirects=False,
            headers={"User-Agent": "service-agreements-hub"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, notification: Notification, attachments: Sequence[Attachment]) -> None:
        name = notification.target
        webhook = self._webhooks.get(name)
        if webhook is None:
            raise DeliveryError(
                f"webhook {name!r} is not configured any more; add [webhooks.{name}] back and "
                "requeue the delivery",
                permanent=True,
            )
        url = httpx.URL(str(webhook.url))
        where = f"webhook {name!r} ({url.scheme}://{url.netloc.decode('ascii')})"
        secret = webhook.secret.get_secret_value()
        # The URL, its path and query may be secrets too; short pieces ("/") are not.
        parts = (secret, str(webhook.url), url.path, url.query.decode("ascii", "replace"))
        secrets = [part for part in parts if len(part) >= _SECRET_PART_MIN]
        body = notification.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body),
            DELIVERY_HEADER: notification.id,
            EVENT_HEADER: notification.kind,
        }
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=webhook.timeout_seconds
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"{where} did not answer within {webhook.timeout_seconds:g}s "
                f"({type(exc).__name__}); it may be down or overloaded"
            ) from exc
        except httpx.TransportError as exc:
            detail = scrub(str(exc), secrets) or type(exc).__name__
            raise DeliveryError(
                f"{where} could not be reached ({type(exc).__name__}: {detail}); check that "
                "it is up and reachable from the hub"
            ) from exc
        status = response.status_code
        if response.is_success:
            return
        answer = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status in _RETRY_STATUSES or status >= 500:
            retry_after = None
            if status in _RETRY_AFTER_STATUSES and "Retry-After" in response.headers:
                retry_after = parse_retry_after(response.headers["Retry-After"], self._wall_clock())
            asked = "" if retry_after is None else f", asking to wait {retry_after:g}s"
            raise DeliveryError(f"{where} answered {answer}{asked}", retry_after=retry_after)
        if response.is_redirect:
            advice = "redirects are not followed; configure the URL it redirects to"
        elif status in (401, 403):
            advice = "check that the receiver has the webhook's secret"
        else:
            advice = "the receiver refused the notification"
        raise DeliveryError(f"{where} answered {answer}; {advice} (not retried)", permanent=True)
