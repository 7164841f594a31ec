"""Renewal reminders: a scheduled job inside `hub serve` that tells the list named in
`[renewals] list` when an agreement in force expires or is due for review, 60, 30 and
7 days before (`hub.domain.reviews`).

Each reminder is a notification with a dedupe key made of the version, the due date,
the reason and the threshold, enqueued through the outbox in one write transaction
with its audit record (actor "system:renewals"): a job run again, a restarted hub, or
two hub processes on one graph never send it twice nor audit it twice. A run that
comes late sends only the nearest threshold reached, not every one it missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hub.domain.audit import AuditEntry
from hub.domain.notifications import Recipients
from hub.domain.reviews import REMINDER_DAYS, reminder_threshold
from hub.graph.client import Graph, Transaction
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.agreements import AgreementRepository, Renewal
from hub.graph.repositories.audit import write_audit
from hub.notify.outbox import Outbox
from hub.settings import Settings

__all__ = ["ACTOR", "KIND", "RemindersReport", "send_renewal_reminders"]

log = logging.getLogger(__name__)

ACTOR = "system:renewals"
KIND = "renewal-reminder"


@dataclass(frozen=True, slots=True)
class RemindersReport:
    due: int  # agreements due within the largest threshold
    enqueued: int  # reminders enqueued by this run (not sent before)


def _reminder_key(renewal: Renewal, threshold: int) -> str:
    due = to_iso(renewal.due)
    return f"renewal:{renewal.agreement.id}:{renewal.reason}:{due}:{threshold}"


def _text(renewal: Renewal, threshold: int) -> tuple[str, str]:
    agreement = renewal.agreement
    what = "expires" if renewal.reason == "expires" else "is due for review"
    day = renewal.due.date().isoformat()
    subject = f"{agreement.kind} {agreement.name} {what} on {day}"
    body = (
        f"The {agreement.kind} {agreement.name!r} (version {agreement.version}, "
        f"{agreement.id}) {what} on {to_iso(renewal.due)}, in {threshold} days or less.\n"
        + (
            "Revise it (reviseAgreement) before then, or let it end.\n"
            if renewal.reason == "expires"
            else "Review its terms; a revision records any change (reviseAgreement).\n"
        )
    )
    return subject, body


async def send_renewal_reminders(
    settings: Settings, graph: Graph, *, clock: Clock = system_clock
) -> RemindersReport:
    """Enqueue the reminders due at `clock()` that were not enqueued before; the
    dispatcher sends them. Does nothing without `[renewals] list`."""
    name = settings.renewals.list
    if name is None:
        return RemindersReport(0, 0)
    now = clock()
    renewals = await AgreementRepository(graph, clock=lambda: now).upcoming_renewals(
        max(REMINDER_DAYS)
    )
    outbox = Outbox(graph, settings, clock=lambda: now)
    enqueued = 0
    for renewal in renewals:
        threshold = reminder_threshold(renewal.due, now)
        if threshold is None:
            continue
        subject, body = _text(renewal, threshold)
        agreement = renewal.agreement
        details = {
            "agreementId": agreement.id,
            "lineage": agreement.lineage,
            "version": agreement.version,
            "name": agreement.name,
            "kind": str(agreement.kind),
            "reason": renewal.reason,
            "due": to_iso(renewal.due),
            "daysBefore": threshold,
        }

        async def work(
            tx: Transaction,
            renewal: Renewal = renewal,
            threshold: int = threshold,
            subject: str = subject,
            body: str = body,
            details: dict[str, object] = details,
        ) -> bool:
            made = await outbox.enqueue(
                tx,
                KIND,
                subject,
                body,
                Recipients.of_lists(name),
                payload=details,
                dedupe_key=_reminder_key(renewal, threshold),
                about=renewal.agreement.id,
            )
            if not any(delivery.created for delivery in made):
                return False
            entry = AuditEntry.of(
                ACTOR,
                "renewal.reminder",
                renewal.agreement.id,
                reason=subject,
                after={**details, "list": name},
            )
            await write_audit(tx, entry)
            return True

        if await graph.write_transaction(work):
            enqueued += 1
    report = RemindersReport(len(renewals), enqueued)
    if enqueued:
        log.info("renewal reminders: %d enqueued for %d agreements due", enqueued, len(renewals))
    return report
