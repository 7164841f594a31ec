"""The notification outbox in the graph: deliveries written, claimed, settled and read.

`write_notifications(tx, ...)` records deliveries inside a caller's managed transaction,
so a notification commits together with the change that causes it, or not at all.
`NotificationRepository` is what the dispatcher claims and settles deliveries through,
and the read API for everyone else (`find`, `get`, `counts`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.notifications import (
    Attachment,
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Notification,
)
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import notifications as q
from hub.graph.ids import from_iso, to_iso

ID_PREFIX = "ntf_"
_NAMESPACE = uuid.UUID("0d6f5c38-2f0e-4b7a-9d1e-6a8f3c1b7e42")
# Bodies travel in batches no larger than this: ArcadeDB drops a Bolt message over
# 16 MiB without answering (docs/architecture.md), and one notification to a long list
# repeats its body once per delivery.
_BATCH_BYTES = 4 << 20


def new_notification_id() -> str:
    return f"{ID_PREFIX}{uuid.uuid4().hex}"


def deduped_notification_id(dedupe_key: str, channel: Channel, target: str) -> str:
    """The id of the delivery of a "send once" notification to one target: the same
    dedupe key, channel and target always give the same id, so it is recorded once."""
    digest = uuid.uuid5(_NAMESPACE, "\x1f".join((dedupe_key, channel.value, target)))
    return f"{ID_PREFIX}{digest.hex}"


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A delivery `write_notifications` was asked for; `created` is False for one whose
    id was recorded before (the same dedupe key, channel and target)."""

    id: str
    channel: Channel
    target: str
    created: bool


def _sort_key(created_at: str, notification_id: str) -> str:
    return f"{created_at}|{notification_id}"


def cursor_of(notification: Notification) -> str:
    """The cursor to pass as `before` for the page after `notification`."""
    return _sort_key(to_iso(notification.created_at), notification.id)


def _props(notification: Notification) -> dict[str, Any]:
    created = to_iso(notification.created_at)
    due = notification.next_attempt_at or notification.created_at
    return {
        "id": notification.id,
        "kind": notification.kind,
        "channel": notification.channel.value,
        "target": notification.target,
        "subject": notification.subject,
        "body": notification.body,
        "status": notification.status.value,
        "attempts": notification.attempts,
        "createdAt": created,
        "updatedAt": created,
        "nextAttemptAt": to_iso(due),
        "dedupeKey": notification.dedupe_key,
        "about": notification.about,
        "attachments": json.dumps(
            [
                {"name": a.name, "contentType": a.content_type, "size": a.size, "sha256": a.sha256}
                for a in notification.attachments
            ],
            separators=(",", ":"),
        ),
        "sortKey": _sort_key(created, notification.id),
    }


def notification_from_props(props: dict[str, Any]) -> Notification:
    created = from_iso(props["createdAt"])
    assert created is not None
    return Notification(
        id=props["id"],
        kind=props["kind"],
        channel=Channel(props["channel"]),
        target=props["target"],
        subject=props["subject"],
        body=props["body"],
        status=DeliveryStatus(props["status"]),
        attempts=int(props["attempts"]),
        created_at=created,
        next_attempt_at=(
            from_iso(props.get("nextAttemptAt"))
            if props["status"] == DeliveryStatus.PENDING
            else None
        ),
        sent_at=from_iso(props.get("sentAt")),
        last_error=props.get("lastError"),
        dedupe_key=props.get("dedupeKey"),
        about=props.get("about"),
        attachments=tuple(
            AttachmentRef(a["name"], a["contentType"], int(a["size"]), a["sha256"])
            for a in json.loads(props.get("attachments") or "[]")
        ),
    )


async def write_notifications(
    tx: Transaction,
    notifications: Sequence[Notification],
    attachments: Iterable[Attachment] = (),
    *,
    now: datetime,
) -> list[Enqueued]:
    """Record `notifications` (new, PENDING deliveries) and the contents of their
    `attachments` in the caller's transaction. A delivery whose id exists is left as
    it is. Idempotent, as a managed transaction's work must be."""
    stamp = to_iso(now)
    for attachment in {a.sha256: a for a in attachments}.values():
        # One statement each: an attachment may be megabytes (see _BATCH_BYTES).
        await tx.run(
            q.SAVE_ATTACHMENT,
            key=attachment.sha256,
            content=attachment.content,
            size=len(attachment.content),
            now=stamp,
        )
    fresh: dict[str, bool] = {}
    batch: list[dict[str, Any]] = []
    size = 0
    for notification in notifications:
        row = {"id": notification.id, "props": _props(notification)}
        row_size = len(notification.body.encode()) + len(notification.subject) + 1024
        if batch and size + row_size > _BATCH_BYTES:
            fresh.update(await _enqueue(tx, batch))
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        fresh.update(await _enqueue(tx, batch))
    return [Enqueued(n.id, n.channel, n.target, fresh.get(n.id, False)) for n in notifications]


async def _enqueue(tx: Transaction, rows: list[dict[str, Any]]) -> dict[str, bool]:
    # Whether this call created a delivery is read off the MERGE itself (the claim it
    # set), not off an earlier read: a concurrent transaction may commit the same id
    # between the two, and ArcadeDB's MERGE then matches its node without a conflict.
    claim = uuid.uuid4().hex
    found = await tx.run(q.ENQUEUE_NOTIFICATIONS, rows=rows, claim=claim)
    return {row["id"]: bool(row["fresh"]) for row in found}


class NotificationRepository:
    """Deliveries in the graph: what the dispatcher claims and settles, and what callers
    read to see what went out (`find`, `get`, `counts`)."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        attachments: Iterable[Attachment] = (),
        *,
        now: datetime,
    ) -> list[Enqueued]:
        """`write_notifications` in a transaction of its own."""
        files = list(attachments)

        async def work(tx: Transaction) -> list[Enqueued]:
            return await write_notifications(tx, notifications, files, now=now)

        return await self._graph.write_transaction(work)

    # ---- the dispatcher's side -----------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Ids of PENDING deliveries due at `now` and not claimed, the longest waiting first."""
        rows = await self._graph.read(q.DUE_NOTIFICATIONS, now=to_iso(now), limit=limit)
        return [str(row["id"]) for row in rows]

    async def claim(
        self, ids: Sequence[str], holder: str, now: datetime, until: datetime
    ) -> list[Notification]:
        """Claim those of `ids` that are still due and free for `holder` until `until`,
        counting an attempt for each; return the ones claimed. Two dispatchers that
        claim one delivery at once never both get it (`CLAIM_NOTIFICATIONS`)."""
        if not ids:
            return []
        rows = await self._graph.write(
            q.CLAIM_NOTIFICATIONS,
            ids=list(ids),
            holder=holder,
            now=to_iso(now),
            until=to_iso(until),
        )
        return [notification_from_props(row["props"]) for row in rows]

    async def attachment_contents(self, keys: Sequence[str]) -> dict[str, bytes]:
        if not keys:
            return {}
        rows = await self._graph.read(q.ATTACHMENT_CONTENTS, keys=list(dict.fromkeys(keys)))
        return {str(row["key"]): bytes(row["content"]) for row in rows}

    async def record_sent(self, notification_id: str, holder: str, now: datetime) -> bool:
        """Settle a claimed delivery as SENT; False if `holder` no longer held the claim."""
        return await self._record(
            notification_id,
            holder,
            now,
            {"status": DeliveryStatus.SENT.value, "sentAt": to_iso(now)},
        )

    async def record_failure(
        self,
        notification_id: str,
        holder: str,
        now: datetime,
        *,
        error: str,
        status: DeliveryStatus,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record a failed attempt: PENDING again (due at `next_attempt_at`), FAILED or
        GAVE_UP. False if `holder` no longer held the claim."""
        outcome: dict[str, Any] = {"status": status.value, "lastError": error}
        if next_attempt_at is not None:
            outcome["nextAttemptAt"] = to_iso(next_attempt_at)
        return await self._record(notification_id, holder, now, outcome)

    async def _record(
        self, notification_id: str, holder: str, now: datetime, outcome: dict[str, Any]
    ) -> bool:
        stamp = to_iso(now)
        rows = await self._graph.write(
            q.RECORD_OUTCOME,
            id=notification_id,
            holder=holder,
            now=stamp,
            outcome={**outcome, "updatedAt": stamp},
        )
        return bool(rows)

    # ---- the read API and operators' actions ---------------------------------------

    async def get(self, ids: Sequence[str]) -> dict[str, Notification]:
        """The deliveries with these ids that exist, by id."""
        if not ids:
            return {}
        rows = await self._graph.read(q.NOTIFICATIONS_BY_IDS, ids=list(ids))
        return {n.id: n for n in map(_from_row, rows)}

    async def find(
        self,
        *,
        status: DeliveryStatus | Iterable[DeliveryStatus] | None = None,
        kind: str | None = None,
        about: str | None = None,
        channel: Channel | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Notification]:
        """Deliveries newest first, filtered by status(es), kind, the node they are
        `about` and channel. Page on with ``before=cursor_of(last)``."""
        statuses = (
            None
            if status is None
            else [status.value]
            if isinstance(status, DeliveryStatus)
            else [s.value for s in status]
        )
        rows = await self._graph.read(
            q.LIST_NOTIFICATIONS,
            statuses=statuses,
            kind=kind,
            about=about,
            channel=None if channel is None else channel.value,
            before=before,
            limit=limit,
        )
        return [_from_row(row) for row in rows]

    async def counts(self, kind: str | None = None) -> dict[DeliveryStatus, int]:
        """How many deliveries (of `kind`) are in each status; every status is a key."""
        found = {
            DeliveryStatus(row["status"]): int(row["count"])
            for row in await self._graph.read(q.COUNT_NOTIFICATIONS, kind=kind)
        }
        return {status: found.get(status, 0) for status in DeliveryStatus}

    async def requeue(self, ids: Sequence[str], now: datetime) -> list[str]:
        """Make FAILED or GAVE_UP deliveries PENDING again, due now, with their attempts
        reset (an operator's "send again", e.g. after fixing a webhook's secret); the ids
        requeued. Others are left as they are."""
        if not ids:
            return []
        rows = await self._graph.write(q.REQUEUE_NOTIFICATIONS, ids=list(ids), now=to_iso(now))
        return [str(row["id"]) for row in rows]


def _from_row(row: Row) -> Notification:
    return notification_from_props(row["props"])
