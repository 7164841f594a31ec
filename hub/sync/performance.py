"""The vendor and team performance rule, acting: a scheduled job inside `hub serve`
(every `remediation.performance_interval_hours`) that opens one REMEDIATION action on
each agreement of a flagged vendor or provider team, and notifies.

A party is flagged when its agreements missed a target in
`remediation.performance.consecutive_periods` periods in a row or in
`of_last_periods` of the last `last_periods` (`hub.domain.performance`). Its agreements
to remediate are those with a miss among the periods the rule looked at; each gets one
REMEDIATION action on its latest version (owner: the version's approval board groups,
due `action_due_days` later), opened by `write_actions` (audited as `action.add`), with
the notification ("party.remediation_required", deduplicated by the action) enqueued
in the same transaction. No other is opened while one is OPEN on any version of the
agreement; once it is DONE or CANCELLED and the rule still holds, the next run opens a
new one.

Two hub processes running the job at once: the transaction first writes
`performanceReviewedAt` on the lineage's first version, so that the second conflicts,
is retried by the driver, and then finds the first one's action open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.domain.actions import ActionKind, ActionSpec
from hub.domain.audit import AuditEntry
from hub.domain.notifications import NotificationError, Recipients
from hub.domain.performance import PerformanceRule
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import performance as q
from hub.graph.ids import to_iso
from hub.graph.repositories.actions import write_actions
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.performance import (
    AgreementRef,
    PartyKind,
    PartyReport,
    PerformanceRepository,
    rule_of,
)
from hub.notify.outbox import Outbox
from hub.settings import Settings
from hub.sync.escalations import levels_of, recipients_of

__all__ = ["ACTOR", "KIND", "PerformanceReview", "review_performance"]

log = logging.getLogger(__name__)

ACTOR = "system:performance"
KIND = "party.remediation_required"


@dataclass(frozen=True, slots=True)
class PerformanceReview:
    flagged: int  # parties that must remediate
    opened: int  # REMEDIATION actions opened by this run
    notified: int  # notifications enqueued with them


def _recipients(settings: Settings, agreement: AgreementRef) -> Recipients:
    """Level 1 of the escalation matrix (the team level), with its entries for the
    agreement's business units: those who hear of a violation first."""
    (first, *_) = levels_of(settings.remediation.escalation_levels)
    return recipients_of(first.recipients_for(agreement.business_units), settings)


def _text(party: PartyReport, agreement: AgreementRef, rule: PerformanceRule) -> tuple[str, str]:
    verdict = party.performance.verdict
    who = "Vendor" if party.kind is PartyKind.VENDOR else "Team"
    kind = "UC" if party.kind is PartyKind.VENDOR else "OLA"
    subject = f"{who} {party.name}: remediation required on {kind} {agreement.name}"
    missed = [month.strftime("%Y-%m") for month, met in party.performance.timeline if not met]
    body = (
        f"{who} {party.name!r} ({party.id}) missed its targets in {verdict.consecutive_misses} "
        f"period(s) in a row and in {verdict.missed} of its last "
        f"{len(party.performance.timeline)} period(s) ({', '.join(missed) or 'none'}); the rule "
        f"is {rule.consecutive_periods} in a row or {rule.of_last_periods} of the last "
        f"{rule.last_periods}.\n"
        f"A REMEDIATION action was opened on the {kind} {agreement.name!r} (version "
        f"{agreement.version}, {agreement.id}), owned by {agreement.approvers}.\n"
    )
    return subject, body


async def review_performance(graph: Graph, settings: Settings, now: datetime) -> PerformanceReview:
    """Judge every vendor and team at `now` and act on those flagged; returns what
    this run did. Safe to run again at any time: it opens nothing twice."""
    rule = rule_of(settings.remediation)
    repository = PerformanceRepository(graph, clock=lambda: now)
    outbox = Outbox(graph, settings, clock=lambda: now)
    stamp = to_iso(now)
    due = now + timedelta(days=settings.remediation.performance.action_due_days)
    flagged = opened = notified = 0
    parties = [
        party
        for kind in PartyKind
        for party in await repository.parties(kind, None, rule.last_periods, rule)
        if party.performance.verdict.remediation_required
    ]
    lineages = sorted({lineage for p in parties for lineage in p.performance.flagged_lineages})
    # One read for every flagged agreement: one that stays flagged while its action is
    # open costs no write transaction (the transaction checks again, against a race).
    acting = (
        {row["lineage"] for row in await graph.read(q.OPEN_REMEDIATION_ACTIONS, lineages=lineages)}
        if lineages
        else set()
    )
    for party in parties:
        flagged += 1
        for lineage in party.performance.flagged_lineages:
            if lineage in acting:
                continue
            agreement = party.latest_of(lineage)
            try:
                made = await _act(graph, outbox, settings, rule, party, agreement, stamp, due)
            except NotificationError as exc:
                # Nothing was written: the next run tries again, once the matrix's
                # level-1 recipients are fixed. The other agreements go on.
                log.error(
                    "performance: cannot notify about %s (%s); no action opened: %s",
                    agreement.id,
                    party.name,
                    exc,
                )
                continue
            if made is not None:
                opened += 1
                notified += made
    review = PerformanceReview(flagged, opened, notified)
    if opened:
        log.info("performance: %d parties flagged, %d REMEDIATION actions opened", flagged, opened)
    return review


async def _act(
    graph: Graph,
    outbox: Outbox,
    settings: Settings,
    rule: PerformanceRule,
    party: PartyReport,
    agreement: AgreementRef,
    stamp: str,
    due: datetime,
) -> int | None:
    """Open the action on `agreement` and notify, unless one is open: returns the
    number of notifications enqueued, or None when nothing was opened."""
    subject, body = _text(party, agreement, rule)
    recipients = _recipients(settings, agreement)
    verdict = party.performance.verdict
    details: dict[str, object] = {
        "party": {"kind": str(party.kind), "id": party.id, "name": party.name},
        "agreementId": agreement.id,
        "lineage": agreement.lineage,
        "missed": verdict.missed,
        "consecutiveMisses": verdict.consecutive_misses,
        "periods": [
            {"month": month.strftime("%Y-%m"), "met": met}
            for month, met in party.performance.timeline
        ],
    }
    spec = ActionSpec(
        kind=ActionKind.REMEDIATION,
        description=subject,
        owner=agreement.approvers,
        due_at=due,
    )

    async def work(tx: Transaction) -> int | None:
        await tx.run(q.MARK_REVIEWED, lineage=agreement.lineage, now=stamp)
        if await tx.run(q.OPEN_REMEDIATION_ACTIONS, lineages=[agreement.lineage]):
            return None
        (action_id,) = await write_actions(tx, agreement.id, [spec], ACTOR, stamp)
        await write_audits(
            tx,
            [
                AuditEntry.of(
                    ACTOR,
                    "party.remediation_required",
                    agreement.id,
                    reason=subject,
                    after={**details, "actionId": action_id},
                )
            ],
        )
        if not recipients:
            log.warning(
                "performance: no level-1 recipients for %s; action %s opened unnotified",
                agreement.id,
                action_id,
            )
            return 0
        made = await outbox.enqueue(
            tx,
            KIND,
            subject,
            body,
            recipients,
            payload={**details, "actionId": action_id},
            dedupe_key=f"{KIND}:{action_id}",
            about=agreement.id,
        )
        return len(made)

    return await graph.write_transaction(work)
