"""The periodic SLA audit: every violation and credit of a month drawn again from its
frozen evidence and checked against the terms in force, and every objective's data
coverage against the policy minimum. Pure functions, no I/O (docs/remediation.md,
"The periodic SLA audit").

Each check returns `Finding`s, each naming the record it is about and saying what
differs; the audit is clean when there are none. The graph side reads what is
recorded (`hub.graph.repositories.periodic_audit`) and `hub.sync.periodic_audit`
puts the two together.

>>> month_period("2026-10").start.isoformat(), month_period("2026-10").end.month
('2026-10-01T00:00:00+00:00', 11)
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.domain.credits import credit_amount, months_in
from hub.domain.evidence import EvidenceError, Rederived, canonical, rederive, sha256_of
from hub.domain.models import CreditPolicySpec
from hub.domain.windows import Window

__all__ = [
    "AuditedCredit",
    "AuditedEvidence",
    "AuditedViolation",
    "Finding",
    "FindingKind",
    "ObjectiveCoverage",
    "ReportLink",
    "check_coverage",
    "check_credits",
    "check_report_chain",
    "check_violations",
    "month_period",
    "report_content",
]

# Figures the hub computes from five-minute buckets and the evidence from per-day sums
# agree up to float noise in the order of summation; beyond this they differ.
MEASURED_TOLERANCE = 1e-6
PERCENT_TOLERANCE = 1e-6

# Credits let go (WAIVED) owe nothing and are not checked; one whose amount a person
# set (a RESOLVED dispute, issued or not) has its percent checked, not its amount.
UNCHECKED_CREDIT_STATUSES = frozenset({"WAIVED"})

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class FindingKind(enum.StrEnum):
    EVIDENCE_TAMPERED = "EVIDENCE_TAMPERED"
    """The stored SHA-256 is not that of the stored content."""
    EVIDENCE_UNREADABLE = "EVIDENCE_UNREADABLE"
    """The content is not JSON evidence a verdict can be drawn from."""
    MISSING_EVIDENCE = "MISSING_EVIDENCE"
    """A current violation revision has no evidence of its own."""
    VIOLATION_MISMATCH = "VIOLATION_MISMATCH"
    """Measured, severity or credit percent recorded differ from the evidence's."""
    TERMS_MISMATCH = "TERMS_MISMATCH"
    """The evidence's target or credit policy is not that of the version in force."""
    CREDIT_MISMATCH = "CREDIT_MISMATCH"
    """A credit's percent or amount differ from what the evidence's policy gives."""
    MISSING_CREDIT = "MISSING_CREDIT"
    """A breach earning a credit (under a policy with a fee) has none."""
    LOW_COVERAGE = "LOW_COVERAGE"
    """An objective in force had data for less of the period than the minimum."""
    AUDIT_CHAIN_BROKEN = "AUDIT_CHAIN_BROKEN"
    """The audit trail's hash chain does not verify (`hub audit verify`)."""
    AUDIT_REPORT_CHAIN_BROKEN = "AUDIT_REPORT_CHAIN_BROKEN"
    """An archived audit report was changed, or the chain of reports has a gap."""


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One thing the audit found: its kind, the id of the record, what differs."""

    kind: FindingKind
    record_id: str
    detail: str

    def line(self) -> str:
        return f"{self.kind} {self.record_id}: {self.detail}"

    def to_json(self) -> dict[str, str]:
        return {"kind": str(self.kind), "recordId": self.record_id, "detail": self.detail}


def month_period(text: str) -> Window:
    """The calendar month `YYYY-MM` in UTC; ValueError for anything else."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"period: give a month as YYYY-MM (e.g. 2026-10), not {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Window(start, end)


# ---- violations and their evidence ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditedEvidence:
    """An Evidence record as stored: its id, the revision it is of, hash and content."""

    id: str
    violation_id: str | None
    sha256: str | None
    content: str | None


@dataclass(frozen=True, slots=True)
class AuditedViolation:
    """A current violation revision of the period as stored (`figures`: its properties:
    measured, severity, creditPercent, ...), the latest evidence of its remediation, and
    the terms in force for its version (the objective's target, the credit policy)."""

    id: str
    figures: Mapping[str, Any]
    evidence: AuditedEvidence | None
    target: float | None = None
    policy: CreditPolicySpec | None = None


@dataclass(frozen=True, slots=True)
class _Drawn:
    """What a violation's evidence gives, once it checks out."""

    content: Mapping[str, Any]
    verdict: Rederived


def _evidence_findings(
    violation: AuditedViolation,
) -> tuple[list[Finding], _Drawn | None]:
    evidence = violation.evidence
    if evidence is None or evidence.violation_id != violation.id:
        latest = "" if evidence is None else f" (the latest is of {evidence.violation_id})"
        return [
            Finding(
                FindingKind.MISSING_EVIDENCE,
                violation.id,
                f"the current revision has no evidence{latest}",
            )
        ], None
    content = evidence.content or ""
    actual = sha256_of(content)
    if actual != evidence.sha256:
        return [
            Finding(
                FindingKind.EVIDENCE_TAMPERED,
                evidence.id,
                f"stored sha256 {evidence.sha256} but the content hashes to {actual}",
            )
        ], None
    try:
        data = json.loads(content)
        if not isinstance(data, dict):
            raise EvidenceError("the content is not a JSON object")
        verdict = rederive(data)
    except (ValueError, EvidenceError) as exc:
        return [Finding(FindingKind.EVIDENCE_UNREADABLE, evidence.id, str(exc))], None
    return [], _Drawn(data, verdict)


def _differs(recorded: float | None, drawn: float | None, tolerance: float) -> bool:
    """Whether two figures differ beyond `tolerance`; none and zero are the same (no
    credit recorded as null or as 0)."""
    left = 0.0 if recorded is None else float(recorded)
    right = 0.0 if drawn is None else float(drawn)
    return not math.isclose(left, right, rel_tol=0, abs_tol=tolerance)


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def _verdict_findings(violation: AuditedViolation, drawn: _Drawn) -> list[Finding]:
    figures, verdict = violation.figures, drawn.verdict
    differences: list[str] = []
    if not verdict.breached:
        differences.append(
            f"the evidence measures {_number(verdict.measured)}, which meets its target"
        )
    if _differs(figures.get("measured"), verdict.measured, MEASURED_TOLERANCE):
        differences.append(
            f"measured {_number(figures.get('measured'))} recorded, "
            f"{_number(verdict.measured)} from the evidence"
        )
    if verdict.breached and figures.get("severity") != verdict.severity:
        differences.append(
            f"severity {figures.get('severity')} recorded, {verdict.severity} from the evidence"
        )
    if _differs(figures.get("creditPercent"), verdict.credit_percent, PERCENT_TOLERANCE):
        differences.append(
            f"creditPercent {_number(figures.get('creditPercent'))} recorded, "
            f"{_number(verdict.credit_percent)} from the evidence"
        )
    if not differences:
        return []
    return [Finding(FindingKind.VIOLATION_MISMATCH, violation.id, "; ".join(differences))]


def _policy_terms(policy: CreditPolicySpec | None) -> Any:
    if policy is None:
        return None
    fee = None if policy.monthly_fee is None else Decimal(str(policy.monthly_fee))
    return (
        tuple((float(t.below_percent), float(t.credit_percent)) for t in policy.tiers),
        float(policy.cap_percent),
        fee,
        policy.currency,
    )


def _evidence_policy_terms(content: Mapping[str, Any] | None) -> Any:
    if content is None:
        return None
    tiers = sorted(
        ((float(t["belowPercent"]), float(t["creditPercent"])) for t in content["tiers"]),
        key=lambda tier: -tier[0],
    )
    fee = content.get("monthlyFee")
    return (
        tuple(tiers),
        float(content.get("capPercent", 100.0)),
        None if fee is None else Decimal(str(fee)),
        content.get("currency"),
    )


def _terms_findings(violation: AuditedViolation, drawn: _Drawn) -> list[Finding]:
    differences: list[str] = []
    objective = drawn.content.get("objective") or {}
    target = objective.get("target")
    if violation.target is not None and _differs(
        violation.target, None if target is None else float(target), PERCENT_TOLERANCE
    ):
        differences.append(
            f"target {_number(target)} in the evidence, {_number(violation.target)} in force"
        )
    try:
        evidence_terms = _evidence_policy_terms(drawn.content.get("creditPolicy"))
    except (KeyError, TypeError, ValueError, InvalidOperation):
        evidence_terms = "unreadable"
    if evidence_terms != _policy_terms(violation.policy):
        differences.append("the credit policy in the evidence is not the one in force")
    if not differences:
        return []
    return [Finding(FindingKind.TERMS_MISMATCH, violation.id, "; ".join(differences))]


def check_violations(
    violations: Iterable[AuditedViolation],
) -> tuple[list[Finding], dict[str, Mapping[str, Any]]]:
    """Findings on the current revisions and their evidence, and the evidence content
    of each revision whose evidence checks out (by violation id), for the credits."""
    findings: list[Finding] = []
    drawn_content: dict[str, Mapping[str, Any]] = {}
    for violation in violations:
        problems, drawn = _evidence_findings(violation)
        findings.extend(problems)
        if drawn is None:
            continue
        drawn_content[violation.id] = drawn.content
        findings.extend(_verdict_findings(violation, drawn))
        findings.extend(_terms_findings(violation, drawn))
    return findings, drawn_content


# ---- credits --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditedCredit:
    """A credit as stored: the latest of its chain of corrections (no later credit
    corrects it), with the current revision of its period (`violation_id`: a credit not
    yet issued takes a revision's new figures in place). `corrected_amounts` are the
    amounts of the credits it corrects, transitively: a correction is a credit of the
    difference, so the chain adds up to what is owed. `decided` says a person set an
    amount in the chain (resolved a dispute): the amount is then theirs to decide."""

    id: str
    violation_id: str | None
    status: str
    percent: float | None
    amount: str | None
    currency: str | None
    corrected_amounts: tuple[str, ...] = ()
    decided: bool = False


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def _owed(content: Mapping[str, Any], percent: float) -> tuple[Decimal, str] | None:
    """The amount a credit of `percent` comes to under the evidence's policy, and its
    currency; None when the policy has no fee."""
    policy = content.get("creditPolicy") or {}
    fee, currency = _decimal(policy.get("monthlyFee")), policy.get("currency")
    if fee is None or not currency:
        return None
    period = content["period"]
    months = months_in(
        datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
    )
    return credit_amount(percent, fee, months, str(currency)), str(currency)


def _credit_findings(credit: AuditedCredit, content: Mapping[str, Any]) -> list[Finding]:
    verdict = rederive(content)
    percent = verdict.credit_percent or 0.0
    differences: list[str] = []
    if _differs(credit.percent, percent, PERCENT_TOLERANCE):
        differences.append(
            f"percent {_number(credit.percent)} recorded, {_number(percent)} from the evidence"
        )
    owed = None if credit.decided else _owed(content, percent)
    if owed is not None:
        amount, currency = owed
        parts = [_decimal(a) for a in (credit.amount, *credit.corrected_amounts)]
        if any(p is None for p in parts):
            differences.append(f"amount {credit.amount!r} is not a decimal amount")
        else:
            net = sum((p for p in parts if p is not None), Decimal(0))
            if net != amount:
                chain = " with the credits it corrects" if credit.corrected_amounts else ""
                differences.append(
                    f"amount {net} {credit.currency}{chain} recorded, "
                    f"{amount} {currency} from the evidence"
                )
        if credit.currency is not None and credit.currency != currency:
            differences.append(f"currency {credit.currency} recorded, {currency} in the policy")
    if not differences:
        return []
    return [Finding(FindingKind.CREDIT_MISMATCH, credit.id, "; ".join(differences))]


def check_credits(
    credits: Iterable[AuditedCredit],
    content_by_violation: Mapping[str, Mapping[str, Any]],
    sla_violation_ids: Iterable[str] = (),
) -> list[Finding]:
    """Findings on the latest credit of each chain whose violation's evidence checks
    out (evidence problems are reported on the violation), and a MISSING_CREDIT for
    each SLA violation in `sla_violation_ids` whose evidence earns a credit of a fee
    but that has no credit."""
    findings: list[Finding] = []
    credited: set[str] = set()
    for credit in credits:
        if credit.violation_id is not None:
            credited.add(credit.violation_id)
        if credit.status in UNCHECKED_CREDIT_STATUSES:
            continue
        content = content_by_violation.get(credit.violation_id or "")
        if content is None:
            continue
        findings.extend(_credit_findings(credit, content))
    for violation_id in sla_violation_ids:
        content = content_by_violation.get(violation_id)
        if content is None or violation_id in credited:
            continue
        percent = rederive(content).credit_percent
        if percent and _owed(content, percent) is not None:
            findings.append(
                Finding(
                    FindingKind.MISSING_CREDIT,
                    violation_id,
                    f"the evidence earns a {_number(percent)}% credit and none is recorded",
                )
            )
    return findings


# ---- data coverage ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectiveCoverage:
    """How many five-minute buckets of the part of the period an objective was in force
    had data, of how many there were."""

    objective_id: str
    agreement_id: str
    expected_buckets: int
    covered_buckets: int

    @property
    def percent(self) -> float:
        if self.expected_buckets <= 0:
            return 100.0
        return min(100.0, 100.0 * self.covered_buckets / self.expected_buckets)


def check_coverage(coverages: Iterable[ObjectiveCoverage], minimum: float) -> list[Finding]:
    """A LOW_COVERAGE finding for each objective with data for less than `minimum`
    percent of its buckets."""
    return [
        Finding(
            FindingKind.LOW_COVERAGE,
            c.objective_id,
            f"data in {c.percent:.2f}% of the period's buckets ({c.covered_buckets} of "
            f"{c.expected_buckets}) for agreement {c.agreement_id}; the minimum is {minimum:g}%",
        )
        for c in coverages
        if c.percent < minimum
    ]


# ---- the archived reports ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportLink:
    """An archived audit report as stored, in chain order."""

    id: str
    sequence: int
    content: str
    sha256: str
    previous_sha256: str | None


def check_report_chain(reports: Sequence[ReportLink]) -> list[Finding]:
    """Each report's content hashes to its sha256 and names the one before it."""
    findings: list[Finding] = []
    previous: str | None = None
    for report in sorted(reports, key=lambda r: r.sequence):
        actual = sha256_of(report.content)
        if actual != report.sha256:
            findings.append(
                Finding(
                    FindingKind.AUDIT_REPORT_CHAIN_BROKEN,
                    report.id,
                    f"stored sha256 {report.sha256} but the content hashes to {actual}",
                )
            )
        elif report.previous_sha256 != previous:
            findings.append(
                Finding(
                    FindingKind.AUDIT_REPORT_CHAIN_BROKEN,
                    report.id,
                    f"names {report.previous_sha256} as the report before it, "
                    f"but that one is {previous}",
                )
            )
        previous = report.sha256
    return findings


@dataclass(frozen=True, slots=True)
class ReportContent:
    """What an archived audit report says, and its canonical text."""

    findings: tuple[Finding, ...]
    text: str
    counts: Mapping[str, int] = field(default_factory=dict)


def report_content(
    report_id: str,
    period: str,
    created_at: str,
    findings: Sequence[Finding],
    checked: Mapping[str, int],
    previous_sha256: str | None,
    corrects: str | None,
) -> ReportContent:
    """The canonical content of an audit report: findings sorted (kind, record), counted
    by kind, what was checked, and the report before it in the chain."""
    ordered = tuple(sorted(set(findings)))
    counts = dict(sorted(Counter(str(f.kind) for f in ordered).items()))
    text = canonical(
        {
            "id": report_id,
            "period": period,
            "createdAt": created_at,
            "checked": dict(checked),
            "findingsByKind": counts,
            "findings": [f.to_json() for f in ordered],
            "previousSha256": previous_sha256,
            "corrects": corrects,
        }
    )
    return ReportContent(ordered, text, counts)
