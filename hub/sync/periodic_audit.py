"""The periodic SLA audit: `hub audit run --period YYYY-MM`, and a monthly job inside
`hub serve` (on `settings.remediation.audit_day_of_month`, for the month before).

One run draws every violation and credit of the month again from its frozen evidence
and the terms in force and compares them with what is recorded, checks each
objective's data coverage against `settings.remediation.minimum_coverage_percent`,
verifies the audit trail's chain and the chain of audit reports, and archives an
audit report of what it found (`hub.graph.repositories.periodic_audit`). See
docs/remediation.md, "The periodic SLA audit".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.domain.periodic_audit import (
    Finding,
    FindingKind,
    check_coverage,
    check_credits,
    check_report_chain,
    check_violations,
    month_period,
)
from hub.graph.client import Graph
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.periodic_audit import ArchivedReport, PeriodicAuditRepository
from hub.settings import Settings

__all__ = ["ACTOR", "AuditReportResult", "previous_month", "run_periodic_audit"]

log = logging.getLogger(__name__)

ACTOR = "system:audit"


@dataclass(frozen=True, slots=True)
class AuditReportResult:
    """What one run found and the report it archived."""

    period: str
    findings: tuple[Finding, ...]
    checked: dict[str, int]
    report: ArchivedReport

    @property
    def clean(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        """One line per finding, then a summary line."""
        counts = self.report.findings_by_kind
        summary = ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "no findings"
        checked = ", ".join(f"{n} {what}" for what, n in self.checked.items())
        return [
            *(f.line() for f in self.findings),
            f"audit of {self.period}: {summary} ({checked}); archived as report "
            f"{self.report.id}, sha256 {self.report.sha256}",
        ]


def previous_month(now: datetime) -> str:
    """The month before `now`'s, as YYYY-MM: what the monthly job audits."""
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year:04d}-{month:02d}"


async def run_periodic_audit(
    graph: Graph,
    settings: Settings,
    period: str,
    now: datetime,
    agreement_ids: Sequence[str] | None = None,
    actor: str = ACTOR,
) -> AuditReportResult:
    """Audit the month `period` (YYYY-MM; ValueError for anything else) as of `now`,
    archive the report and return it. `agreement_ids` limits the violations, credits
    and coverage checked to those lineages (any version stands for all); the chains
    are verified whole."""
    month = month_period(period)
    name = f"{month.start:%Y-%m}"
    repository = PeriodicAuditRepository(graph)
    violations = await repository.violations(month, agreement_ids)
    findings, contents = check_violations(v.violation for v in violations)
    current = {v.remediation_key: v.violation.id for v in violations if v.remediation_key}
    credits = await repository.credits(current)
    sla = [v.violation.id for v in violations if v.kind == "SLA"]
    findings += check_credits(credits, contents, sla)
    coverages = await repository.coverage(month, now, agreement_ids)
    findings += check_coverage(coverages, settings.remediation.minimum_coverage_percent)
    chain = await AuditRepository(graph).verify()
    if chain.first_break is not None:
        where = chain.first_break.record_id or "audit-trail"
        findings.append(Finding(FindingKind.AUDIT_CHAIN_BROKEN, where, chain.summary()))
    reports = await repository.report_chain()
    findings += check_report_chain(reports)
    checked = {
        "violations": len(violations),
        "credits": len(credits),
        "objectives": len(coverages),
        "auditRecords": chain.records,
        "auditReports": len(reports),
    }
    report = await repository.archive(name, now, findings, checked, actor)
    if report.findings:
        log.warning("the audit of %s found %d problems", name, len(report.findings))
    return AuditReportResult(name, report.findings, checked, report)
