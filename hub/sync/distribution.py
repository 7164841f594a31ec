"""Scheduled distribution: each list whose cron time came since its last run gets the
report published and delivered (docs/reporting.md, "Distribution").

`run_due_distributions(graph, settings, now)` is the job `hub serve` runs every
``reporting.distribution_interval_seconds``. For each list, the one run due at `now` is
the latest time its schedule fired after the list's ``lastRunAt`` (missed runs fold
into it). A run is claimed in the graph by MERGE on its key (``listId|scheduledAt``),
so a restarted hub or two hub processes never make one scheduled run twice; a claim
whose process died runs out after ``distribution_claim_seconds`` and is taken over,
with the snapshot it published, if any.

The claimed run publishes the snapshot (`Publisher`), keeps its id on the run, then,
in one write transaction, enqueues the deliveries in the notification outbox (EMAIL:
PDF and CSV attached; WEBHOOK: the signed JSON naming the snapshot and its files;
dedupe key = the run's key, ``about`` = the run's id), settles the run DONE and moves
the list's ``lastRunAt`` on. The outbox's dispatcher sends them and retries with
backoff (docs/notifications.md). PORTAL runs are recorded as delivered: the portal
shows the snapshot to the list's readers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from hub.domain.distribution import (
    DistributionChannel,
    DistributionList,
    latest_fire,
    report_period,
    targets,
    zone,
)
from hub.domain.errors import InvalidInputError
from hub.domain.notifications import Attachment, NotificationError, Recipients
from hub.domain.reports import ReportFilter
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, Transaction
from hub.graph.errors import GraphError
from hub.graph.ids import to_iso
from hub.graph.repositories.distribution import DistributionRepository, Run, finish_run
from hub.graph.repositories.reports import ReportRepository
from hub.notify.outbox import Outbox
from hub.reports.build import publish
from hub.settings import Settings

__all__ = [
    "KIND",
    "ArchivePublisher",
    "DistributionReport",
    "PublishRequest",
    "Published",
    "Publisher",
    "notification_lists",
    "run_due_distributions",
]

log = logging.getLogger(__name__)

KIND = "report-delivery"
ACTOR = "system:distribution"
_CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv", "json": "application/json"}
_ATTACHED = ("pdf", "csv")


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """What a run asks the archive to publish: a template over [start, end) for the
    list's units and regions (empty: all)."""

    template: str
    start: datetime
    end: datetime
    business_units: tuple[str, ...]
    regions: tuple[str, ...]
    actor: str = ACTOR


@dataclass(frozen=True, slots=True)
class Published:
    """A published snapshot: its id, and its files by extension (pdf, csv, json)."""

    snapshot_id: str
    files: Mapping[str, bytes] = field(default_factory=dict)


class Publisher(Protocol):
    """The archive's side (hub.reports): publish a snapshot, and read one's files
    again (a run taken over from a dead process delivers what that one published)."""

    async def publish(self, request: PublishRequest) -> Published: ...

    async def files(self, snapshot_id: str) -> Published: ...


@dataclass(slots=True)
class DistributionReport:
    """What one run of the job did."""

    due: int = 0  # lists with a run due
    delivered: int = 0  # runs this process made
    skipped: int = 0  # runs done, or claimed by another process
    failed: int = 0  # runs settled FAILED (e.g. no SMTP server for an EMAIL list)
    errors: list[str] = field(default_factory=list)


def notification_lists(settings: Settings) -> dict[str, tuple[list[str], list[str]]]:
    """``[notifications.lists]`` as the domain takes it: name -> (emails, webhooks)."""
    return {
        name: (list(entry.emails), list(entry.webhooks))
        for name, entry in settings.notifications.lists.items()
    }


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:distribution-{uuid.uuid4().hex[:12]}"


_PROCESS_HOLDER = _holder()


async def run_due_distributions(
    graph: Graph,
    settings: Settings,
    now: datetime,
    *,
    publisher: Publisher | None = None,
    holder: str | None = None,
) -> DistributionReport:
    """Publish and deliver every list's run due at `now` that no process made yet."""
    holder = holder or _PROCESS_HOLDER
    publisher = publisher or default_publisher(graph, settings)
    repository = DistributionRepository(graph, clock=lambda: now)
    report = DistributionReport()
    claim = timedelta(seconds=settings.reporting.distribution_claim_seconds)
    for distribution in await repository.lists():
        scheduled = latest_fire(
            distribution.schedule, distribution.time_zone, distribution.since, now
        )
        if scheduled is None:
            continue
        report.due += 1
        run = await repository.claim_run(distribution.id, scheduled, holder, now + claim)
        if run is None:
            report.skipped += 1
            continue
        try:
            outcome = await _make_run(
                graph, settings, repository, publisher, distribution, run, now
            )
        except GraphError as exc:
            # The claim runs out and the run is made again then (by this process or another).
            log.error(
                "distribution %s (%s): run %s not made: %s",
                distribution.name,
                distribution.id,
                run.key,
                exc,
            )
            report.errors.append(f"{distribution.id}: {exc}")
            continue
        except Exception as exc:  # a bug in rendering must not stop the other lists
            log.exception(
                "distribution %s (%s): run %s failed", distribution.name, distribution.id, run.key
            )
            report.errors.append(f"{distribution.id}: unexpected {type(exc).__name__}")
            continue
        if outcome is None:
            report.skipped += 1
        elif outcome:
            report.delivered += 1
        else:
            report.failed += 1
    return report


async def _make_run(
    graph: Graph,
    settings: Settings,
    repository: DistributionRepository,
    publisher: Publisher,
    distribution: DistributionList,
    run: Run,
    now: datetime,
) -> bool | None:
    """Publish (unless a dead process did) and deliver `run`. True: delivered; False:
    settled FAILED; None: the claim was lost meanwhile."""
    period = report_period(run.scheduled_at, distribution.time_zone)
    try:
        if run.snapshot_id is None:
            published = await publisher.publish(
                PublishRequest(
                    distribution.template,
                    period[0],
                    period[1],
                    distribution.business_units,
                    distribution.regions,
                )
            )
            kept = await repository.record_snapshot(run, published.snapshot_id, period)
            if kept is None:
                return None
            run = kept
        else:
            published = await publisher.files(run.snapshot_id)
    except (ValueError, LookupError) as exc:  # the report cannot be made as asked
        return await _fail(graph, distribution, run, now, f"publishing failed: {exc}")
    found = targets(distribution.channel, distribution.recipients, notification_lists(settings))
    outbox = Outbox(graph, settings, clock=lambda: now)
    attachments = [
        Attachment(
            f"report-{published.snapshot_id}.{ext}", _CONTENT_TYPES[ext], published.files[ext]
        )
        for ext in _ATTACHED
        if ext in published.files and distribution.channel is DistributionChannel.EMAIL
    ]
    # Files over the outbox's limit stay in the archive; the email links them instead.
    attached = sum(len(a.content) for a in attachments) <= (
        settings.notifications.max_attachment_bytes
    )
    subject, body, payload = _message(distribution, published, period, attached=attached)
    if not attached:
        attachments = []
    recipients = Recipients(emails=found.emails, webhooks=found.webhooks)
    try:
        # Checked before the transaction, so a setting to fix settles the run FAILED.
        if recipients:
            outbox.prepare(
                KIND, subject, body, recipients, payload=payload, attachments=attachments
            )
    except NotificationError as exc:
        return await _fail(graph, distribution, run, now, str(exc))

    async def work(tx: Transaction) -> bool:
        if recipients:
            await outbox.enqueue(
                tx,
                KIND,
                subject,
                body,
                recipients,
                payload=payload,
                attachments=attachments,
                dedupe_key=run.key,
                about=run.id,
            )
        return await finish_run(
            tx,
            run,
            now=now,
            status="DONE",
            channel=distribution.channel,
            targets=[*found.emails, *found.webhooks, *found.portal],
        )

    if not await graph.write_transaction(work):
        return None
    log.info(
        "distribution %s (%s): snapshot %s of %s..%s to %d recipients over %s",
        distribution.name,
        distribution.id,
        published.snapshot_id,
        to_iso(period[0]),
        to_iso(period[1]),
        len(found.emails) + len(found.webhooks) + len(found.portal),
        distribution.channel,
    )
    return True


async def _fail(
    graph: Graph, distribution: DistributionList, run: Run, now: datetime, error: str
) -> bool | None:
    log.error(
        "distribution %s (%s): run %s failed: %s",
        distribution.name,
        distribution.id,
        run.key,
        error,
    )

    async def work(tx: Transaction) -> bool:
        return await finish_run(
            tx, run, now=now, status="FAILED", channel=distribution.channel, error=error[:500]
        )

    return False if await graph.write_transaction(work) else None


def _message(
    distribution: DistributionList,
    published: Published,
    period: tuple[datetime, datetime],
    *,
    attached: bool,
) -> tuple[str, str, dict[str, object]]:
    month = period[0].astimezone(zone(distribution.time_zone)).strftime("%Y-%m")
    start, end = to_iso(period[0]), to_iso(period[1])
    subject = f"{distribution.name}: {distribution.template} report {month}"
    files = {
        ext: {
            "url": f"/reports/{published.snapshot_id}.{ext}",
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }
        for ext, content in sorted(published.files.items())
    }
    if distribution.channel is not DistributionChannel.EMAIL:
        note = ""
    elif attached:
        note = "The PDF and CSV are attached.\n"
    else:
        note = "The files are too large to attach: download them from the hub.\n"
    body = (
        f"The {distribution.template} report for {month} ({start} to {end}) "
        f"was published as snapshot {published.snapshot_id}.\n"
        + note
        + "".join(f"{ext.upper()}: {file['url']}\n" for ext, file in files.items())
        + f"\nYou get this as a recipient of the distribution list {distribution.name!r}.\n"
    )
    payload: dict[str, object] = {
        "distributionListId": distribution.id,
        "distributionList": distribution.name,
        "template": distribution.template,
        "snapshotId": published.snapshot_id,
        "from": start,
        "to": end,
        "files": files,
    }
    return subject, body, payload


def default_publisher(graph: Graph, settings: Settings) -> Publisher:
    """The archive's publisher (`hub.reports.build.publish`)."""
    return ArchivePublisher(graph, settings)


class ArchivePublisher:
    """Publishes with the report archive, as a system actor limited to the list's units
    and regions (so the snapshot holds what a token of that scope reads)."""

    def __init__(self, graph: Graph, settings: Settings) -> None:
        self._graph = graph
        self._settings = settings

    async def publish(self, request: PublishRequest) -> Published:
        units = frozenset(request.business_units) or None
        regions = frozenset(request.regions) or None
        actor = Actor(request.actor, Role.ADMIN, domains=units, regions=regions)
        try:
            snapshot = await publish(
                self._graph,
                self._settings,
                actor,
                request.template,
                request.start,
                request.end,
                ReportFilter(business_units=units, regions=regions),
                None,
            )
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from exc
        return await self.files(snapshot.id)

    async def files(self, snapshot_id: str) -> Published:
        repository = ReportRepository(self._graph)
        stored = await repository.snapshot(snapshot_id)
        if stored is None:
            raise LookupError(f"snapshot {snapshot_id} is not in the archive")
        return Published(
            snapshot_id,
            {
                f.format.extension: await repository.file(snapshot_id, f.format)
                for f in stored.files
            },
        )
