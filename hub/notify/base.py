"""What every channel has in common: how a sender is called and how it fails.

A channel's `Sender` makes one attempt to deliver one notification and either returns
(delivered) or raises `DeliveryError`, saying whether trying again might help and, if
the receiver said so, when. Retrying is the outbox's business (`hub.notify.outbox`):
a sender never retries, so every attempt is recorded.

The message of a `DeliveryError` is stored with the delivery and logged, so it names
what failed and what to do, never a secret nor the notification's body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Protocol

from hub.domain.notifications import Attachment, Channel, Notification

_SNIPPET_CHARS = 300


class DeliveryError(Exception):
    """One attempt to deliver failed.

    `permanent`: the receiver refused this notification for good (no retry). Otherwise
    the failure may pass (a server down, overloaded or slow), and `retry_after` is the
    delay in seconds the receiver asked for, if it did.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Sender(Protocol):
    """One channel's way out. `send` makes exactly one attempt."""

    channel: ClassVar[Channel]

    async def send(self, notification: Notification, attachments: Sequence[Attachment]) -> None:
        """Deliver `notification` once; raise `DeliveryError` if that failed."""

    async def aclose(self) -> None: ...


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` (an exception's message, a server's answer) on one line, cut short, with
    every secret in `secrets` replaced by ``***``."""
    text = " ".join(text.split())
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "..."
