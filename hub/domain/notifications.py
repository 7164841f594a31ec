"""Notifications: what goes out, to whom, and what became of each delivery. No I/O.

A notification made for several recipients is recorded as one delivery per channel and
target (an address, or the name of a configured webhook), so each has its own outcome,
attempts and retries (`docs/notifications.md`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class DeliveryStatus(StrEnum):
    """PENDING until sent or given up: waiting for its first attempt, or for a retry.

    SENT: the SMTP server accepted the message, or the webhook answered 2xx.
    FAILED: refused for good (an SMTP 5xx for the recipient or message, an HTTP 4xx other
    than 408/429, a webhook no longer configured); not retried.
    GAVE_UP: every one of `max_attempts` attempts failed in a way that might have passed.
    """

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    GAVE_UP = "GAVE_UP"


_KIND = re.compile(r"[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*")
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\"]')
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*", re.IGNORECASE)
_ADDRESS = re.compile(r'[^@\s<>,;"]+@[^@\s<>,;"]+\.[^@\s<>,;"]+')
MAX_SUBJECT_CHARS = 300
MAX_KIND_CHARS = 100


class NotificationError(Exception):
    """A notification that cannot be made as asked (unknown list, channel not
    configured, too large...); nothing was recorded. The message says what to change."""


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """An attachment as a delivery refers to it: its content is stored once, by SHA-256."""

    name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a notification, e.g. ``Attachment("report.pdf", "application/pdf",
    pdf_bytes)``. Email carries it; a webhook's JSON names it (`AttachmentRef`)."""

    name: str
    content_type: str
    content: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200 or _FILENAME_UNSAFE.search(self.name):
            raise NotificationError(
                f"attachment name {self.name[:200]!r}: give a plain file name (no path, "
                "quotes or control characters, at most 200 characters)"
            )
        if not _CONTENT_TYPE.fullmatch(self.content_type):
            raise NotificationError(
                f"attachment {self.name!r}: content type {self.content_type[:100]!r} is not "
                "a MIME type such as application/pdf or text/csv"
            )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def ref(self) -> AttachmentRef:
        return AttachmentRef(self.name, self.content_type, len(self.content), self.sha256)


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who a notification goes to: named lists from the settings
    (``[notifications.lists.<name>]``), addresses, and names of configured webhooks."""

    lists: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()

    @classmethod
    def of_lists(cls, *names: str) -> Recipients:
        return cls(lists=names)

    def __bool__(self) -> bool:
        return bool(self.lists or self.emails or self.webhooks)


@dataclass(frozen=True, slots=True)
class Notification:
    """One delivery as recorded: a notification to one target over one channel.

    `target` is the address (EMAIL) or the webhook's name (WEBHOOK), never its URL.
    `body` is the email's text, or the webhook's JSON document exactly as it is signed
    and sent. `attempts` counts attempts started; `next_attempt_at` is when a PENDING
    delivery is due. `last_error` says why the last attempt failed, without secrets.
    """

    id: str
    kind: str
    channel: Channel
    target: str
    subject: str
    body: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    dedupe_key: str | None = None
    about: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()


def is_email_address(value: str) -> bool:
    """A plain ``local@domain`` address: no display name, nothing to break a header."""
    return _ADDRESS.fullmatch(value) is not None


def check_kind(kind: str) -> str:
    """A notification kind is a lower-case name such as ``renewal-reminder``."""
    if len(kind) > MAX_KIND_CHARS or not _KIND.fullmatch(kind):
        raise NotificationError(
            f"kind {kind[:MAX_KIND_CHARS]!r}: use a lower-case name such as "
            "'renewal-reminder' or 'violation.escalated'"
        )
    return kind


def check_subject(subject: str) -> str:
    """A subject is one line (it becomes an email header)."""
    if not subject.strip() or len(subject) > MAX_SUBJECT_CHARS or re.search(r"[\r\n]", subject):
        raise NotificationError(
            f"subject: give one line of at most {MAX_SUBJECT_CHARS} characters, without line breaks"
        )
    return subject


def unique(values: Iterable[str]) -> list[str]:
    """`values` without repeats, in their first order."""
    return list(dict.fromkeys(values))


def retry_delay(
    attempt: int, base_seconds: float, max_seconds: float, retry_after: float | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first): `base`
    doubled for each attempt before, at most `max_seconds`. A receiver's ``Retry-After``
    replaces it when longer (a receiver asking for less is not retried sooner than the
    backoff, which protects it from a hub that many deliveries wait on), still at most
    `max_seconds`.

    >>> [retry_delay(n, 30, 600) for n in (1, 2, 3, 6)]
    [30.0, 60.0, 120.0, 600.0]
    >>> retry_delay(1, 30, 600, retry_after=120)
    120.0
    """
    delay = base_seconds * 2.0 ** min(max(attempt - 1, 0), 40)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return float(min(delay, max_seconds))
