"""The periodic SLA audit in the graph: what a month recorded (current violation
revisions, their evidence and credits), how much data each objective in force had,
and the archive of audit reports.

An audit report is archived like a published report: never changed. It is one link
of a hash chain over all audit reports (`previousSha256` is the SHA-256 of the report
archived before it), and a later run for the same month archives a new report that
`CORRECTS` the one before. Archiving is audited in the same transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.buckets import bucket_count
from hub.domain.evidence import sha256_of
from hub.domain.models import CreditPolicySpec, Indicator
from hub.domain.periodic_audit import (
    AuditedCredit,
    AuditedEvidence,
    AuditedViolation,
    Finding,
    FindingKind,
    ObjectiveCoverage,
    ReportLink,
    report_content,
)
from hub.domain.terms_in_force import part_in_force, version_end
from hub.domain.windows import Window, snap, snap_up
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import periodic_audit as q
from hub.graph.errors import GraphError
from hub.graph.ids import from_iso, new_id, to_iso
from hub.graph.repositories.agreements import credit_policy_from_json
from hub.graph.repositories.audit import write_audits

log = logging.getLogger(__name__)

HEAD_KEY = "chain"
"""The key of the one `AuditReportHead` node."""

ARCHIVE_ACTION = "audit.report"

TICKET_INDICATORS = sorted(str(i) for i in Indicator if i.ticket_time)
"""Ticket-clock objectives count tickets, not telemetry buckets: no data coverage."""

# Violation periods that end in the audited month start at most a quarter before it.
_LONGEST_PERIOD = timedelta(days=92)


class AuditReportChainError(GraphError):
    """The report chain's head moved under a transaction that held it."""


@dataclass(frozen=True, slots=True)
class PeriodViolation:
    """A current violation revision of the month, with what the audit needs besides."""

    violation: AuditedViolation
    kind: str | None
    remediation_key: str | None


@dataclass(frozen=True, slots=True)
class ArchivedReport:
    """An archived audit report."""

    id: str
    sequence: int
    period: str
    created_at: str
    findings: tuple[Finding, ...]
    content: str
    sha256: str
    previous_sha256: str | None
    corrects_id: str | None

    @property
    def findings_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for finding in self.findings:
            counts[str(finding.kind)] += 1
        return dict(sorted(counts.items()))


def _policy(text: str | None) -> CreditPolicySpec | None:
    try:
        return credit_policy_from_json(text)
    except ValueError:  # not a policy the hub stores; the evidence cannot match it
        log.warning("an agreement's credit policy could not be read: %r", text)
        return None


def _latest_evidence(
    violation_id: str, evidence: Sequence[Mapping[str, Any] | None]
) -> AuditedEvidence | None:
    """The revision's own evidence (the latest if it has several), or else the
    remediation's latest, which then names another revision."""
    found = [e for e in evidence if e is not None and e.get("id") is not None]
    if not found:
        return None
    own = [e for e in found if e.get("violationId") == violation_id]
    pick = max(own or found, key=lambda e: (str(e.get("recordedAt") or ""), str(e["id"])))
    return AuditedEvidence(
        id=str(pick["id"]),
        violation_id=pick.get("violationId"),
        sha256=pick.get("sha256"),
        content=pick.get("content"),
    )


def _days(start: datetime, end: datetime) -> list[date]:
    first = start.date()
    last = (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _report(props: Mapping[str, Any], corrects_id: str | None) -> ArchivedReport:
    findings = tuple(
        Finding(FindingKind(f["kind"]), f["recordId"], f["detail"])
        for f in json.loads(props.get("findings") or "[]")
    )
    return ArchivedReport(
        id=props["id"],
        sequence=int(props["sequence"]),
        period=props["period"],
        created_at=props["createdAt"],
        findings=findings,
        content=props["content"],
        sha256=props["sha256"],
        previous_sha256=props.get("previousSha256"),
        corrects_id=corrects_id,
    )


class PeriodicAuditRepository:
    """Reads what the audit checks and archives its reports. `scope` limits the
    agreements read (the command line and the scheduled job read all)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        self._graph = graph
        self._scope = scope

    # ---- what was recorded --------------------------------------------------------

    async def violations(
        self, period: Window, agreement_ids: Sequence[str] | None = None
    ) -> list[PeriodViolation]:
        """The current revisions of the periods that ended in `period`, with their
        evidence and the terms of their version."""
        rows = await self._graph.read(
            q.PERIOD_VIOLATIONS,
            ids=None if agreement_ids is None else list(agreement_ids),
            earliest=to_iso(period.start - _LONGEST_PERIOD),
            to=to_iso(period.end),
            **{"from": to_iso(period.start)},
            **self._scope.params(),
        )
        found: list[PeriodViolation] = []
        for row in rows:
            figures = row["violation"]
            target = row.get("target")
            found.append(
                PeriodViolation(
                    AuditedViolation(
                        id=figures["id"],
                        figures=figures,
                        evidence=_latest_evidence(figures["id"], row.get("evidence") or []),
                        target=None if target is None else float(target),
                        policy=_policy(row.get("creditPolicy")),
                    ),
                    row.get("kind"),
                    row.get("remediationKey"),
                )
            )
        return found

    async def credits(self, current: Mapping[str, str]) -> list[AuditedCredit]:
        """The latest credit of each chain of corrections of the remediations in
        `current` (remediation key -> its current violation revision)."""
        if not current:
            return []
        rows = await self._graph.read(q.CREDITS_OF_REMEDIATIONS, keys=sorted(current))
        credits: list[AuditedCredit] = []
        for row in rows:
            credit = row["credit"]
            percent = credit.get("percent")
            credits.append(
                AuditedCredit(
                    id=credit["id"],
                    violation_id=current[row["key"]],
                    status=str(credit.get("status")),
                    percent=None if percent is None else float(percent),
                    amount=credit.get("amount"),
                    currency=credit.get("currency"),
                    corrected_amounts=tuple(str(a) for a in row["correctedAmounts"]),
                    decided=credit.get("resolvedBy") is not None or int(row["resolved"]) > 0,
                )
            )
        return credits

    async def coverage(
        self, period: Window, until: datetime, agreement_ids: Sequence[str] | None = None
    ) -> list[ObjectiveCoverage]:
        """Each telemetry objective in force during `period` (up to `until`): how many
        buckets of the part it was in force had data, of how many. The graph counts
        the buckets per objective and day; only those counts come back."""
        end = min(period.end, snap(until))
        if end <= period.start:
            return []
        span = Window(period.start, end)
        rows = await self._graph.read(
            q.OBJECTIVES_IN_FORCE_DURING,
            ids=None if agreement_ids is None else list(agreement_ids),
            ticketIndicators=TICKET_INDICATORS,
            to=to_iso(span.end),
            **{"from": to_iso(span.start)},
            **self._scope.params(),
        )
        parts: dict[str, tuple[str, Window]] = {}
        for row in rows:
            stop = version_end(from_iso(row["effectiveTo"]), from_iso(row.get("sunsetAt")))
            part = part_in_force(span, from_iso(row["effectiveFrom"]), stop)
            if part is not None:
                start, finish = snap_up(part.start), snap(part.end)
                if finish > start:
                    parts[row["objectiveId"]] = (row["agreementId"], Window(start, finish))
        if not parts:
            return []
        days = await self._graph.read(
            q.OBJECTIVE_DAYS_COVERED,
            ids=sorted(parts),
            fromDay=span.start.date().isoformat(),
            toDay=(_days(span.start, span.end)[-1] + timedelta(days=1)).isoformat(),
        )
        per_day: dict[str, dict[str, int]] = defaultdict(dict)
        for row in days:
            per_day[row["objectiveId"]][row["day"]] = int(row["buckets"] or 0)
        coverages: list[ObjectiveCoverage] = []
        for objective_id, (agreement_id, part) in sorted(parts.items()):
            covered = 0
            for day in _days(part.start, part.end):
                midnight = _midnight(day)
                # A day the part starts or ends within counts only its own buckets.
                in_part = bucket_count(
                    max(midnight, part.start), min(midnight + timedelta(days=1), part.end)
                )
                covered += min(per_day[objective_id].get(day.isoformat(), 0), in_part)
            coverages.append(
                ObjectiveCoverage(
                    objective_id,
                    agreement_id,
                    bucket_count(part.start, part.end),
                    covered,
                )
            )
        return coverages

    # ---- the archive ----------------------------------------------------------------

    async def report_chain(self) -> list[ReportLink]:
        """Every archived audit report, in chain order (few: one a month, and reruns)."""
        rows = await self._graph.read(q.AUDIT_REPORT_CHAIN)
        return [
            ReportLink(
                id=row["id"],
                sequence=int(row["sequence"]),
                content=str(row["content"]),
                sha256=str(row["sha256"]),
                previous_sha256=row.get("previousSha256"),
            )
            for row in rows
        ]

    async def reports_of(self, period: str) -> list[ArchivedReport]:
        """The audit reports archived for `period` (YYYY-MM), oldest first."""
        rows = await self._graph.read(q.AUDIT_REPORTS_OF_PERIOD, period=period)
        return [_report(row["report"], row.get("correctsId")) for row in rows]

    async def archive(
        self,
        period: str,
        created_at: datetime,
        findings: Sequence[Finding],
        checked: Mapping[str, int],
        actor: str,
    ) -> ArchivedReport:
        """Archive a report of `period` after the last one in the chain; it corrects
        the period's last report, if any. Audited in the same transaction."""
        report_id = new_id("AuditReport")
        created = to_iso(created_at)

        async def work(tx: Transaction) -> ArchivedReport:
            # Every run updates the head: a lost race is expected, retry for longer.
            tx.contends()
            await tx.run(q.LOCK_AUDIT_REPORT_HEAD, key=HEAD_KEY, lockId=report_id)
            head = (await tx.run(q.READ_AUDIT_REPORT_HEAD, key=HEAD_KEY))[0]
            sequence, previous = int(head["sequence"]), head.get("sha256")
            earlier = await tx.run(q.LATEST_AUDIT_REPORT_OF_PERIOD, period=period)
            corrects_id = earlier[0]["id"] if earlier else None
            content = report_content(
                report_id, period, created, findings, checked, previous, corrects_id
            )
            sha256 = sha256_of(content.text)
            props = {
                "id": report_id,
                "sequence": sequence + 1,
                "period": period,
                "createdAt": created,
                "findings": json.dumps([f.to_json() for f in content.findings]),
                "findingCount": len(content.findings),
                "content": content.text,
                "sha256": sha256,
                "previousSha256": previous,
                "correctsId": corrects_id,
            }
            rows = await tx.run(
                q.ARCHIVE_AUDIT_REPORT,
                key=HEAD_KEY,
                previousSequence=sequence,
                sequence=sequence + 1,
                sha256=sha256,
                props={k: v for k, v in props.items() if v is not None},
            )
            if not rows or rows[0]["appended"] != 1:
                raise AuditReportChainError(
                    "the audit report chain moved while this run held it; nothing was "
                    "archived, run the audit again"
                )
            if corrects_id is not None:
                await tx.run(q.LINK_CORRECTED_AUDIT_REPORT, id=report_id, correctsId=corrects_id)
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        ARCHIVE_ACTION,
                        report_id,
                        reason=f"periodic SLA audit of {period}",
                        after={
                            "period": period,
                            "sha256": sha256,
                            "findingsByKind": dict(content.counts),
                            "corrects": corrects_id,
                        },
                    )
                ],
            )
            return ArchivedReport(
                id=report_id,
                sequence=sequence + 1,
                period=period,
                created_at=created,
                findings=content.findings,
                content=content.text,
                sha256=sha256,
                previous_sha256=previous,
                corrects_id=corrects_id,
            )

        return await self._graph.write_transaction(work)

    # ---- for tests --------------------------------------------------------------------

    async def plant_credit_amount(self, credit_id: str, amount: str) -> bool:
        """For tests only: overwrite a credit's amount as a hand edit of the graph
        would (`q.PLANT_CREDIT_AMOUNT`), so that the audit has a wrong credit to find."""
        rows = await self._graph.write(q.PLANT_CREDIT_AMOUNT, id=credit_id, amount=amount)
        return bool(rows)

    async def plant_evidence_content(self, evidence_id: str, content: str) -> bool:
        """For tests only: overwrite an evidence record's content, its hash kept
        (`q.PLANT_EVIDENCE_CONTENT`), so that the audit has tampered evidence to find."""
        rows = await self._graph.write(q.PLANT_EVIDENCE_CONTENT, id=evidence_id, content=content)
        return bool(rows)
