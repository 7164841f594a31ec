"""Escalation of violations and overdue actions: a scheduled job inside `hub serve`
(every `remediation.escalation_interval_minutes`) that climbs the escalation matrix
of `[remediation] escalation_levels` (`hub.domain.escalation`).

One run reads every subject with a step that may be due in two statements (not one
per violation), decides with the domain rules, then writes in batches: each batch is
one write transaction that MERGEs the `Escalation` nodes on their unique step key,
raises the remediations' `escalationLevel`, audits each escalation (actor
"system:escalation") and enqueues one notification per escalation through the outbox
(dedupe key = step key). A run repeated, a restarted hub or two hub processes on one
graph never escalate one step twice: an escalation another run recorded first is
neither audited nor notified again.

    report = await escalate(graph, settings, datetime.now(UTC))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.domain.audit import AuditEntry
from hub.domain.escalation import Due, Level, due
from hub.domain.notifications import NotificationError, Recipients, is_email_address
from hub.graph.client import Graph, Transaction
from hub.graph.ids import new_id, to_iso
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.escalations import DueSubject, EscalationRepository, record_escalations
from hub.graph.repositories.notifications import write_notifications
from hub.notify.outbox import Outbox, Prepared
from hub.settings import EscalationLevelSettings, Settings

__all__ = ["ACTOR", "EscalationReport", "escalate", "levels_of", "recipients_of"]

log = logging.getLogger(__name__)

ACTOR = "system:escalation"
VIOLATION_KIND = "violation.escalated"
ACTION_KIND = "action.escalated"
# Escalations per write transaction: each brings a node, a relationship, an audit
# record and a notification per target, so a batch stays well under the Bolt
# message limit while 10,000 of them take a handful of transactions.
BATCH = 1000


@dataclass(slots=True)
class EscalationReport:
    """What one run did: subjects read, escalations recorded (by level), notifications
    enqueued, and problems (a recipient the settings do not know, say)."""

    subjects: int = 0
    escalated: int = 0
    by_level: dict[int, int] = field(default_factory=dict)
    notified: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        levels = ", ".join(f"level {k}: {v}" for k, v in sorted(self.by_level.items()))
        return (
            f"{self.escalated} escalations ({levels or 'none'}) of {self.subjects} subjects, "
            f"{self.notified} notifications"
            + (f", {len(self.problems)} problems" if self.problems else "")
        )


def levels_of(settings: Sequence[EscalationLevelSettings]) -> tuple[Level, ...]:
    """The domain's matrix from `[remediation] escalation_levels`."""
    return tuple(
        Level(
            name=item.name,
            recipients=tuple(item.recipients),
            business_units={unit: tuple(names) for unit, names in item.business_units.items()},
            hours_after_due=item.hours_after_due,
        )
        for item in settings
    )


def recipients_of(names: Sequence[str], settings: Settings) -> Recipients:
    """Matrix recipients as the outbox takes them: an address is emailed, a configured
    webhook name is a webhook, any other name is a notification list."""
    emails = tuple(n for n in names if is_email_address(n))
    webhooks = tuple(n for n in names if n not in emails and n in settings.webhooks)
    lists = tuple(n for n in names if n not in emails and n not in webhooks)
    return Recipients(lists=lists, emails=emails, webhooks=webhooks)


def _message(item: DueSubject, step: Due) -> tuple[str, str, dict[str, Any]]:
    details = item.details
    level = f"level {step.level} ({step.level_name})"
    if item.kind == "Remediation":
        what = f"Violation of {item.agreement_kind} {item.agreement_name}"
        if details.get("objectiveName"):
            what += f", objective {details['objectiveName']}"
        lines = [
            f"{what} is escalated to {level}: {step.reason}.",
            "",
            f"Agreement: {item.agreement_name} ({item.agreement_id})",
            f"Period: {details.get('periodStart')} to {details.get('periodEnd')}",
            f"Severity: {details.get('severity')}",
            f"Root-cause analysis due: {details.get('rcaDueAt')}",
            f"Violation: {details.get('violationId')}",
        ]
    else:
        where = "joint service review" if item.kind == "ServiceReview" else "agreement"
        what = f"Action of the {where} of {item.agreement_kind} {item.agreement_name}"
        lines = [
            f"{what} is escalated to {level}: {step.reason}.",
            "",
            f"Agreement: {item.agreement_name} ({item.agreement_id})",
        ]
        if details.get("heldAt"):
            lines.append(f"Review held: {details['heldAt']}")
    subject = f"{what} escalated to {level}"
    payload = {
        "subjectId": step.subject_id,
        "subjectKind": item.kind,
        "stepKey": step.step_key,
        "level": step.level,
        "levelName": step.level_name,
        "reason": step.reason,
        "agreementId": item.agreement_id,
        **({"violationId": details.get("violationId")} if item.kind == "Remediation" else {}),
    }
    return subject[:200], "\n".join(lines) + "\n", payload


@dataclass(slots=True)
class _Planned:
    item: DueSubject
    step: Due
    props: dict[str, Any]
    prepared: Prepared | None


async def escalate(
    graph: Graph,
    settings: Settings,
    now: datetime,
    *,
    agreement_ids: Sequence[str] | None = None,
) -> EscalationReport:
    """Record, audit and notify every escalation due at `now` that no run recorded
    before (see the module); only those of `agreement_ids` (versions) when given."""
    levels = levels_of(settings.remediation.escalation_levels)
    subjects = await EscalationRepository(graph).due(now, agreement_ids)
    report = EscalationReport(subjects=len(subjects))
    outbox = Outbox(graph, settings, clock=lambda: now)
    stamp = to_iso(now)
    planned: list[_Planned] = []
    for item in subjects:
        for step in due(item.subject, levels, now):
            props = {
                "id": new_id("Escalation"),
                "stepKey": step.step_key,
                "subjectId": step.subject_id,
                "level": step.level,
                "at": stamp,
                "to": list(step.to),
                "reason": step.reason,
            }
            prepared = None
            if step.to:
                subject, body, payload = _message(item, step)
                kind = VIOLATION_KIND if item.kind == "Remediation" else ACTION_KIND
                try:
                    prepared = outbox.prepare(
                        kind,
                        subject,
                        body,
                        recipients_of(step.to, settings),
                        payload=payload,
                        dedupe_key=step.step_key,
                        about=step.subject_id,
                    )
                except NotificationError as exc:
                    # Recorded all the same: the escalation happened, the matrix names
                    # someone the settings cannot reach. Fix the settings; said per run.
                    report.problems.append(f"{step.step_key}: {exc}")
            planned.append(_Planned(item, step, props, prepared))
    for start in range(0, len(planned), BATCH):
        await _write(graph, now, planned[start : start + BATCH], report)
    for problem in report.problems[:20]:
        log.warning("escalation not notified: %s", problem)
    if report.escalated:
        log.info("escalation: %s", report)
    return report


async def _write(
    graph: Graph, now: datetime, batch: Sequence[_Planned], report: EscalationReport
) -> None:
    rows = [
        {
            "kind": p.item.kind,
            "stepKey": p.step.step_key,
            "subjectId": p.step.subject_id,
            "props": p.props,
        }
        for p in batch
    ]

    async def work(tx: Transaction) -> tuple[list[_Planned], int]:
        created = await record_escalations(tx, rows)
        mine = [p for p in batch if p.step.step_key in created]
        await write_audits(
            tx,
            [
                AuditEntry.of(
                    ACTOR,
                    "escalation.record",
                    p.step.subject_id,
                    reason=p.step.reason,
                    after={
                        "stepKey": p.step.step_key,
                        "level": p.step.level,
                        "to": list(p.step.to),
                    },
                )
                for p in mine
            ],
        )
        notifications = [n for p in mine if p.prepared for n in p.prepared.notifications]
        if notifications:
            # The outbox's own write, batched: one statement per ~MB of deliveries
            # instead of one `Outbox.enqueue` round trip per escalation.
            await write_notifications(tx, notifications, now=now)
        return mine, len(notifications)

    mine, notified = await graph.write_transaction(work)
    report.escalated += len(mine)
    report.notified += notified
    for p in mine:
        report.by_level[p.step.level] = report.by_level.get(p.step.level, 0) + 1
