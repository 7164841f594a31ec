"""The durable outbox: notifications are recorded in the graph first and sent after.

`Outbox.notify` (its own transaction) or `Outbox.enqueue(tx, ...)` (inside the caller's,
so the notification commits with the change that causes it) records one PENDING
`Notification` per channel and target. Nothing is sent then: the `Dispatcher`, run by
`hub serve` every ``notifications.dispatch_interval_seconds`` and by tests directly,
claims what is due, sends it, and records the outcome of every attempt. So a delivery
is never lost across a restart: until one dispatcher records it SENT, FAILED or
GAVE_UP, it stays in the graph, PENDING.

Claims are a compare-and-set in the graph (`NotificationRepository.claim`), so two
`hub serve` processes sharing a graph never both send one delivery. A dispatcher that
dies between sending and recording leaves a claim that runs out after
``claim_seconds``; the delivery is then sent again. That is the one case of a repeat
(delivery is at least once), and why each attempt carries the same id
(``X-Hub-Delivery``, the email's ``Message-ID``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import enum
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from hub.domain.notifications import (
    Attachment,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationError,
    Recipients,
    check_kind,
    check_subject,
    is_email_address,
    retry_delay,
    unique,
)
from hub.graph.client import Graph, Transaction
from hub.graph.errors import GraphError
from hub.graph.ids import to_iso
from hub.graph.repositories.notifications import (
    Enqueued,
    NotificationRepository,
    deduped_notification_id,
    new_notification_id,
    write_notifications,
)
from hub.notify.base import DeliveryError, Sender
from hub.notify.email import EmailSender
from hub.notify.webhook import WebhookSender
from hub.observability.metrics import metrics_of
from hub.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# A run stops after this many rounds of `batch_size` even if more are due, so that one
# run of the scheduled job stays bounded; the next run goes on.
_MAX_ROUNDS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A notification checked and turned into deliveries, ready to be written."""

    notifications: tuple[Notification, ...]
    attachments: tuple[Attachment, ...]


class Outbox:
    """Makes notifications: checks them against the settings and records one delivery
    per channel and target, to be sent by the `Dispatcher`::

        outbox = Outbox(graph, settings)
        await outbox.notify(
            "renewal-reminder",
            "SLA Acme Gold is due for renewal in 30 days",
            "The SLA ... ends on 2027-03-31.",
            to=Recipients.of_lists("operations"),
            payload={"agreementId": agreement_id, "daysLeft": 30},
            dedupe_key=f"renewal:{agreement_id}:30",
            about=agreement_id,
        )

    `to` names lists from ``[notifications.lists]``, addresses and webhook names. With a
    `dedupe_key`, the notification is recorded once per target whatever the number of
    calls, restarts and processes ("send once" reminders). `payload` (JSON-serialisable)
    goes to webhooks as ``data``; `attachments` go to email as files and to webhooks as
    names, types, sizes and SHA-256s. `about` is the id of the node the notification is
    about, to find its deliveries again (`NotificationRepository.find(about=...)`).
    Anything that cannot be sent as asked raises `NotificationError` before anything is
    written.
    """

    def __init__(self, graph: Graph, settings: Settings, *, clock: Clock = utc_now) -> None:
        self._graph = graph
        self._settings = settings
        self._clock = clock
        self.repository = NotificationRepository(graph)

    async def notify(
        self,
        kind: str,
        subject: str,
        body: str,
        to: Recipients,
        *,
        payload: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        dedupe_key: str | None = None,
        about: str | None = None,
    ) -> list[Enqueued]:
        """Record the notification in a transaction of its own; see the class."""
        prepared = self.prepare(
            kind,
            subject,
            body,
            to,
            payload=payload,
            attachments=attachments,
            dedupe_key=dedupe_key,
            about=about,
        )
        if not prepared.notifications:
            return []

        async def work(tx: Transaction) -> list[Enqueued]:
            return await self._write(tx, prepared)

        return await self._graph.write_transaction(work)

    async def enqueue(
        self,
        tx: Transaction,
        kind: str,
        subject: str,
        body: str,
        to: Recipients,
        *,
        payload: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        dedupe_key: str | None = None,
        about: str | None = None,
    ) -> list[Enqueued]:
        """Record the notification in `tx`, the caller's managed write transaction, so
        it commits with the caller's change or not at all. Checks run first, so a
        `NotificationError` leaves `tx` untouched; `prepare` outside the transaction
        to fail before the change is even tried."""
        prepared = self.prepare(
            kind,
            subject,
            body,
            to,
            payload=payload,
            attachments=attachments,
            dedupe_key=dedupe_key,
            about=about,
        )
        return await self._write(tx, prepared)

    async def _write(self, tx: Transaction, prepared: Prepared) -> list[Enqueued]:
        written = await write_notifications(
            tx, prepared.notifications, prepared.attachments, now=self._clock()
        )
        for item in written:
            if not item.created:
                log.debug("notification %s to %s was recorded before", item.id, item.target)
        return written

    def prepare(
        self,
        kind: str,
        subject: str,
        body: str,
        to: Recipients,
        *,
        payload: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        dedupe_key: str | None = None,
        about: str | None = None,
    ) -> Prepared:
        """Check a notification and turn it into deliveries, without writing anything."""
        settings = self._settings.notifications
        check_kind(kind)
        check_subject(subject)
        if not to:
            raise NotificationError("to: name at least one list, address or webhook")
        if dedupe_key is not None and not dedupe_key.strip():
            raise NotificationError("dedupe_key: give a non-empty key, or None")
        if len(body.encode()) > settings.max_body_bytes:
            raise NotificationError(
                f"body: {len(body.encode()):,} bytes is more than notifications."
                f"max_body_bytes ({settings.max_body_bytes:,}); attach it as a file instead"
            )
        total = sum(len(a.content) for a in attachments)
        if total > settings.max_attachment_bytes:
            raise NotificationError(
                f"attachments: {total:,} bytes in all is more than notifications."
                f"max_attachment_bytes ({settings.max_attachment_bytes:,})"
            )
        targets = self._targets(to)
        now = self._clock()
        refs = tuple(a.ref for a in attachments)
        notifications = []
        for channel, target in targets:
            delivery_id = (
                new_notification_id()
                if dedupe_key is None
                else deduped_notification_id(dedupe_key, channel, target)
            )
            if channel is Channel.EMAIL:
                content = body
            else:
                content = _webhook_document(
                    delivery_id, kind, subject, body, payload, about, refs, now
                )
                if len(content.encode()) > settings.max_body_bytes:
                    raise NotificationError(
                        f"payload: the webhook's JSON is {len(content.encode()):,} bytes, "
                        f"more than notifications.max_body_bytes ({settings.max_body_bytes:,})"
                    )
            notifications.append(
                Notification(
                    id=delivery_id,
                    kind=kind,
                    channel=channel,
                    target=target,
                    subject=subject,
                    body=content,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    dedupe_key=dedupe_key,
                    about=about,
                    attachments=refs,
                )
            )
        if not notifications:
            log.info("notification %r (%s) has no recipients: %s", subject, kind, to)
        return Prepared(tuple(notifications), tuple(attachments))

    def _targets(self, to: Recipients) -> list[tuple[Channel, str]]:
        lists = self._settings.notifications.lists
        emails, webhooks = list(to.emails), list(to.webhooks)
        for name in to.lists:
            entry = lists.get(name)
            if entry is None:
                known = ", ".join(sorted(lists)) or "none is configured"
                raise NotificationError(
                    f"no notification list named {name!r} ({known}); add it under "
                    f"[notifications.lists.{name}]"
                )
            emails += entry.emails
            webhooks += entry.webhooks
        for address in emails:
            if not is_email_address(address):
                raise NotificationError(f"{address[:200]!r} is not an email address")
        if emails and not self._settings.smtp.enabled:
            raise NotificationError(
                f"cannot email {emails[0]}: no SMTP server is configured (set "
                "HUB_SMTP__HOST and HUB_SMTP__FROM)"
            )
        for name in webhooks:
            if name not in self._settings.webhooks:
                raise NotificationError(
                    f"no webhook named {name[:100]!r}; add it under [webhooks.{name[:100]}] "
                    "with url and secret"
                )
        return [(Channel.EMAIL, e) for e in unique(emails)] + [
            (Channel.WEBHOOK, w) for w in unique(webhooks)
        ]


def _webhook_document(
    delivery_id: str,
    kind: str,
    subject: str,
    text: str,
    payload: Mapping[str, Any] | None,
    about: str | None,
    attachments: Sequence[Any],
    now: datetime,
) -> str:
    document = {
        "id": delivery_id,
        "kind": kind,
        "subject": subject,
        "text": text,
        "about": about,
        "createdAt": to_iso(now),
        "data": dict(payload) if payload is not None else None,
        "attachments": [
            {"name": a.name, "contentType": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in attachments
        ],
    }
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"payload: cannot be sent as JSON ({exc})") from exc


def _jsonable(value: object) -> object:
    """JSON for the values payloads commonly hold beyond JSON's own."""
    if isinstance(value, datetime):
        return to_iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)  # money stays exact
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---- sending -------------------------------------------------------------------------


@dataclass(slots=True)
class DispatchReport:
    """What one `Dispatcher.run_once` did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    gave_up: int = 0
    unrecorded: int = 0

    def __str__(self) -> str:
        fields = dataclasses.asdict(self)
        return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in fields.items())


def dispatcher_holder() -> str:
    """A claim holder name for one dispatcher: ``host:pid:dispatch-<hex>``."""
    return f"{socket.gethostname()}:{os.getpid()}:dispatch-{uuid.uuid4().hex[:16]}"


class Dispatcher:
    """Sends what is due and records each attempt's outcome.

    `run_once` claims due deliveries ``max_concurrency`` at a time, sends each with its
    channel's `Sender`, and records it SENT, FAILED (refused for good), GAVE_UP (the
    ``max_attempts``-th attempt failed) or PENDING again, due after an exponential
    backoff (``retry_base_seconds`` doubling up to ``retry_max_seconds``, or longer if
    the receiver asked with ``Retry-After``). Every attempt logs one line.

    `senders` and `clock` are injectable for tests; by default an `EmailSender` and a
    `WebhookSender` from the settings. Use it in ``async with`` (or `aclose` it): the
    webhook sender holds an HTTP client.
    """

    def __init__(
        self,
        graph: Graph,
        settings: Settings,
        *,
        senders: Mapping[Channel, Sender] | None = None,
        clock: Clock = utc_now,
        holder: str | None = None,
    ) -> None:
        self._settings = settings.notifications
        self._repository = NotificationRepository(graph)
        self._senders: dict[Channel, Sender] = (
            dict(senders)
            if senders is not None
            else {
                Channel.EMAIL: EmailSender(settings.smtp),
                Channel.WEBHOOK: WebhookSender(settings.webhooks),
            }
        )
        self._clock = clock
        self.holder = holder or dispatcher_holder()
        self._metrics = metrics_of(graph)  # hub_notification_deliveries_total, in hub serve

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for sender in self._senders.values():
            await sender.aclose()

    async def run_once(self) -> DispatchReport:
        """Send every delivery due now (up to a bound per run); see the class."""
        report = DispatchReport()
        settings = self._settings
        for _ in range(_MAX_ROUNDS):
            due = await self._repository.due(self._clock(), settings.batch_size)
            for start in range(0, len(due), settings.max_concurrency):
                # Claimed a few at a time, each just before it is sent, so that a claim
                # never runs out while its delivery waits behind others.
                now = self._clock()
                claimed = await self._repository.claim(
                    due[start : start + settings.max_concurrency],
                    self.holder,
                    now,
                    now + timedelta(seconds=settings.claim_seconds),
                )
                report.claimed += len(claimed)
                outcomes = await asyncio.gather(*(self._attempt(n) for n in claimed))
                for notification, outcome in zip(claimed, outcomes, strict=True):
                    _count(report, outcome)
                    if self._metrics is not None:
                        self._metrics.observe_delivery(notification.channel, outcome)
            if len(due) < settings.batch_size:
                break
        return report

    async def _attempt(self, notification: Notification) -> DeliveryStatus | None:
        """One attempt at `notification` (claimed by this dispatcher): send, record, log.
        The status recorded, or None if it could not be recorded."""
        failure: DeliveryError | None = None
        try:
            attachments = await self._attachments(notification)
            sender = self._senders.get(notification.channel)
            if sender is None:
                raise DeliveryError(f"no sender for channel {notification.channel}", permanent=True)
            await sender.send(notification, attachments)
        except DeliveryError as exc:
            failure = exc
        except GraphError as exc:
            # Its claim runs out and the delivery is tried again then.
            log.warning(
                "notification %s (%s) to %s %s: attempt %d not made, the graph failed: %s",
                notification.id,
                notification.kind,
                notification.channel,
                notification.target,
                notification.attempts,
                exc,
            )
            return None
        except Exception as exc:  # a bug in a sender must not stop the other deliveries
            log.exception("notification %s: unexpected error in its sender", notification.id)
            failure = DeliveryError(f"unexpected error in the hub ({type(exc).__name__})")
        try:
            return await self._record(notification, failure)
        except GraphError as exc:
            log.error(
                "notification %s (%s) to %s %s: attempt %d %s but could not be recorded: %s",
                notification.id,
                notification.kind,
                notification.channel,
                notification.target,
                notification.attempts,
                "succeeded" if failure is None else "failed",
                exc,
            )
            return None

    async def _attachments(self, notification: Notification) -> list[Attachment]:
        refs = notification.attachments
        if not refs:
            return []
        contents = await self._repository.attachment_contents([a.sha256 for a in refs])
        missing = [a.name for a in refs if a.sha256 not in contents]
        if missing:
            raise DeliveryError(
                f"attachment {missing[0]!r} is missing from the graph", permanent=True
            )
        return [Attachment(a.name, a.content_type, contents[a.sha256]) for a in refs]

    async def _record(
        self, notification: Notification, failure: DeliveryError | None
    ) -> DeliveryStatus | None:
        now = self._clock()
        settings = self._settings
        attempt = notification.attempts
        what = (
            f"notification {notification.id} ({notification.kind}) to "
            f"{notification.channel} {notification.target}"
        )
        if failure is None:
            recorded = await self._repository.record_sent(notification.id, self.holder, now)
            if recorded:
                log.info("%s: sent (attempt %d)", what, attempt)
            status = DeliveryStatus.SENT
        else:
            next_at: datetime | None = None
            if failure.permanent:
                status, then = DeliveryStatus.FAILED, "not retried (FAILED)"
            elif attempt >= settings.max_attempts:
                status, then = DeliveryStatus.GAVE_UP, "giving up (GAVE_UP)"
            else:
                status = DeliveryStatus.PENDING
                delay = retry_delay(
                    attempt,
                    settings.retry_base_seconds,
                    settings.retry_max_seconds,
                    failure.retry_after,
                )
                next_at = now + timedelta(seconds=delay)
                then = f"retrying in {delay:g}s, at {to_iso(next_at)}"
            error = str(failure)
            recorded = await self._repository.record_failure(
                notification.id,
                self.holder,
                now,
                error=error,
                status=status,
                next_attempt_at=next_at,
            )
            if recorded:
                log.log(
                    logging.WARNING if status is DeliveryStatus.PENDING else logging.ERROR,
                    "%s: attempt %d of %d failed: %s; %s",
                    what,
                    attempt,
                    settings.max_attempts,
                    error,
                    then,
                )
        if not recorded:
            log.warning(
                "%s: attempt %d %s, but its claim had run out and another dispatcher holds "
                "it; nothing recorded (raise notifications.claim_seconds if this recurs)",
                what,
                attempt,
                "succeeded" if failure is None else f"failed ({failure})",
            )
            return None
        return status


def _count(report: DispatchReport, status: DeliveryStatus | None) -> None:
    match status:
        case DeliveryStatus.SENT:
            report.sent += 1
        case DeliveryStatus.PENDING:
            report.retrying += 1
        case DeliveryStatus.FAILED:
            report.failed += 1
        case DeliveryStatus.GAVE_UP:
            report.gave_up += 1
        case None:
            report.unrecorded += 1


async def dispatch_notifications(settings: Settings, graph: Graph) -> DispatchReport:
    """One run of the dispatcher with the senders from `settings`: the scheduled job."""
    async with Dispatcher(graph, settings) as dispatcher:
        return await dispatcher.run_once()
