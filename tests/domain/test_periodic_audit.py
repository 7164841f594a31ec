"""The periodic SLA audit's checks (`hub.domain.periodic_audit`), on evidence built
as the assessment freezes it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.breaches import CreditPolicy, CreditTier, SeverityRules
from hub.domain.evidence import (
    canonical,
    credit_policy_content,
    severity_rules_content,
    sha256_of,
)
from hub.domain.models import CreditPolicySpec, CreditTierSpec
from hub.domain.periodic_audit import (
    AuditedCredit,
    AuditedEvidence,
    AuditedViolation,
    Finding,
    FindingKind,
    ObjectiveCoverage,
    ReportLink,
    check_coverage,
    check_credits,
    check_report_chain,
    check_violations,
    month_period,
    report_content,
)

POLICY = CreditPolicy((CreditTier(99.9, 10), CreditTier(99.0, 25)), cap_percent=30)
SPEC = CreditPolicySpec(
    tiers=(
        CreditTierSpec(below_percent=99.9, credit_percent=10),
        CreditTierSpec(below_percent=99.0, credit_percent=25),
    ),
    cap_percent=30,
    monthly_fee=Decimal("12000.00"),
    currency="EUR",
)
OCTOBER = ("2026-10-01T00:00:00.000000Z", "2026-11-01T00:00:00.000000Z")
Q4 = ("2026-10-01T00:00:00.000000Z", "2027-01-01T00:00:00.000000Z")


def evidence_content(
    good: float = 9_850.0, period: tuple[str, str] = OCTOBER, fee: str | None = "12000.00"
) -> dict[str, Any]:
    """October's evidence: 98.5 % of 10,000 against 99 %: a MAJOR breach, 25 %."""
    span = {"start": period[0], "end": period[1]}
    return {
        "agreement": {"id": "agr_1", "lineage": "agr_1", "kind": "SLA", "version": 1},
        "objective": {
            "id": "obj_1",
            "name": "availability",
            "indicator": "AVAILABILITY",
            "target": 99.0,
            "threshold": None,
            "windowKind": "CALENDAR_MONTH",
        },
        "period": span,
        "part": span,
        "bindings": [],
        "days": [{"day": "2026-10-05", "good": good, "total": 10_000.0}],
        "incidents": [],
        "verdict": {"measured": good / 100, "target": 99.0, "severity": "MAJOR"},
        "creditPolicy": credit_policy_content(POLICY, fee, "EUR"),
        "severityRules": severity_rules_content(SeverityRules()),
        "tier": None,
    }


def violation(
    content: dict[str, Any] | None = None,
    *,
    sha256: str | None = None,
    evidence_of: str = "vio_1",
    **figures: Any,
) -> AuditedViolation:
    content = evidence_content() if content is None else content
    text = canonical(content)
    recorded = {"id": "vio_1", "measured": 98.5, "severity": "MAJOR", "creditPercent": 25.0}
    return AuditedViolation(
        id="vio_1",
        figures=recorded | figures,
        evidence=AuditedEvidence("evd_1", evidence_of, sha256 or sha256_of(text), text),
        target=99.0,
        policy=SPEC,
    )


def credit(amount: str = "3000.00", **fields: Any) -> AuditedCredit:
    values: dict[str, Any] = {
        "id": "crd_1",
        "violation_id": "vio_1",
        "status": "PROPOSED",
        "percent": 25.0,
        "amount": amount,
        "currency": "EUR",
    }
    return AuditedCredit(**(values | fields))


# ---- periods ----------------------------------------------------------------------------


def test_month_period_spans_the_calendar_month() -> None:
    december = month_period("2026-12")
    assert (december.start.isoformat(), december.end.isoformat()) == (
        "2026-12-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "", "x"])
def test_month_period_refuses_what_is_no_month(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_period(text)


@given(st.integers(min_value=1970, max_value=9998), st.integers(min_value=1, max_value=12))
def test_months_follow_each_other(year: int, month: int) -> None:
    this = month_period(f"{year:04d}-{month:02d}")
    following = month_period(f"{this.end.year:04d}-{this.end.month:02d}")
    assert this.end == following.start
    assert 28 <= (this.end - this.start).days <= 31


# ---- violations and evidence --------------------------------------------------------------


def test_a_violation_that_matches_its_evidence_is_clean() -> None:
    findings, contents = check_violations([violation()])
    assert findings == []
    assert contents["vio_1"]["objective"]["target"] == 99.0


def test_tampered_evidence_is_named() -> None:
    [finding], contents = check_violations([violation(sha256="0" * 64)])
    assert (finding.kind, finding.record_id) == (FindingKind.EVIDENCE_TAMPERED, "evd_1")
    assert "0000000000" in finding.detail
    assert contents == {}


def test_a_revision_without_its_own_evidence_is_named() -> None:
    [finding], _ = check_violations([violation(evidence_of="vio_0")])
    assert (finding.kind, finding.record_id) == (FindingKind.MISSING_EVIDENCE, "vio_1")
    assert "vio_0" in finding.detail
    bare = AuditedViolation("vio_2", {"id": "vio_2", "measured": 98.0}, None)
    [none], _ = check_violations([bare])
    assert (none.kind, none.record_id) == (FindingKind.MISSING_EVIDENCE, "vio_2")


def test_unreadable_evidence_is_named() -> None:
    text = '{"objective": {}}'
    broken = AuditedViolation(
        "vio_1", {"id": "vio_1"}, AuditedEvidence("evd_1", "vio_1", sha256_of(text), text)
    )
    [finding], _ = check_violations([broken])
    assert (finding.kind, finding.record_id) == (FindingKind.EVIDENCE_UNREADABLE, "evd_1")


def test_recorded_figures_that_differ_from_the_evidence_are_spelt_out() -> None:
    [finding], _ = check_violations(
        [violation(measured=97.0, severity="CRITICAL", creditPercent=10.0)]
    )
    assert (finding.kind, finding.record_id) == (FindingKind.VIOLATION_MISMATCH, "vio_1")
    assert finding.detail == (
        "measured 97 recorded, 98.5 from the evidence; severity CRITICAL recorded, MAJOR "
        "from the evidence; creditPercent 10 recorded, 25 from the evidence"
    )


def test_float_noise_in_measured_is_no_mismatch() -> None:
    findings, _ = check_violations([violation(measured=98.5 + 1e-9)])
    assert findings == []


def test_evidence_that_meets_its_target_contradicts_the_violation() -> None:
    [finding], _ = check_violations([violation(evidence_content(good=9_950.0))])
    assert finding.kind is FindingKind.VIOLATION_MISMATCH
    assert "meets its target" in finding.detail


def test_evidence_drawn_under_other_terms_is_named() -> None:
    other = AuditedViolation(
        "vio_1",
        violation().figures,
        violation().evidence,
        target=99.5,
        policy=SPEC.model_copy(update={"monthly_fee": Decimal("9000")}),
    )
    [finding], _ = check_violations([other])
    assert (finding.kind, finding.record_id) == (FindingKind.TERMS_MISMATCH, "vio_1")
    assert "target 99 in the evidence, 99.5 in force" in finding.detail
    assert "credit policy" in finding.detail


# ---- credits ----------------------------------------------------------------------------


def contents() -> dict[str, Any]:
    return {"vio_1": evidence_content()}


def test_a_credit_as_the_evidence_gives_it_is_clean() -> None:
    # 25 % of 12,000.00 EUR.
    assert check_credits([credit("3000.00")], contents(), ["vio_1"]) == []
    assert check_credits([credit("3000")], contents()) == []


def test_a_wrong_amount_is_named_with_both_amounts() -> None:
    [finding] = check_credits([credit("3100.00")], contents())
    assert (finding.kind, finding.record_id) == (FindingKind.CREDIT_MISMATCH, "crd_1")
    assert finding.detail == "amount 3100.00 EUR recorded, 3000.00 EUR from the evidence"


def test_a_wrong_percent_and_currency_are_named() -> None:
    [finding] = check_credits([credit(percent=10.0, currency="USD")], contents())
    assert "percent 10 recorded, 25 from the evidence" in finding.detail
    assert "currency USD recorded, EUR in the policy" in finding.detail


def test_a_quarter_owes_three_months_of_fees() -> None:
    quarter = {"vio_1": evidence_content(period=Q4)}
    assert check_credits([credit("9000.00")], quarter) == []
    [finding] = check_credits([credit("3000.00")], quarter)
    assert "9000.00 EUR from the evidence" in finding.detail


def test_a_correction_adds_up_with_the_credits_it_corrects() -> None:
    corrected = credit("500.00", id="crd_2", corrected_amounts=("2500.00",))
    assert check_credits([corrected], contents()) == []
    wrong = credit("400.00", id="crd_2", corrected_amounts=("2500.00",))
    [finding] = check_credits([wrong], contents())
    assert finding.record_id == "crd_2"
    assert "2900.00 EUR with the credits it corrects recorded" in finding.detail


def test_waived_and_resolved_amounts_are_not_redrawn() -> None:
    assert check_credits([credit("0.00", status="WAIVED", percent=0.0)], contents()) == []
    assert check_credits([credit("1000.00", status="ISSUED", decided=True)], contents()) == []


def test_credits_of_unchecked_evidence_are_left_to_the_violation_finding() -> None:
    assert check_credits([credit("1.00")], {}) == []


def test_a_breach_owed_a_credit_without_one_is_named() -> None:
    [finding] = check_credits([], contents(), ["vio_1"])
    assert (finding.kind, finding.record_id) == (FindingKind.MISSING_CREDIT, "vio_1")
    # Without a fee there is no amount to owe.
    assert check_credits([], {"vio_1": evidence_content(fee=None)}, ["vio_1"]) == []


# ---- coverage ---------------------------------------------------------------------------


def test_low_coverage_is_named_below_the_minimum_only() -> None:
    month = 31 * 288
    coverages = [
        ObjectiveCoverage("obj_low", "agr_1", month, month // 2),
        ObjectiveCoverage("obj_ok", "agr_1", month, 8036),  # 90.0 %
        ObjectiveCoverage("obj_none", "agr_2", 0, 0),
    ]
    [finding] = check_coverage(coverages, 90.0)
    assert (finding.kind, finding.record_id) == (FindingKind.LOW_COVERAGE, "obj_low")
    assert finding.detail == (
        "data in 50.00% of the period's buckets (4464 of 8928) for agreement agr_1; "
        "the minimum is 90%"
    )


@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_coverage_is_a_share_of_the_expected_buckets(expected: int, data: st.DataObject) -> None:
    covered = data.draw(st.integers(min_value=0, max_value=expected))
    coverage = ObjectiveCoverage("obj", "agr", expected, covered)
    assert 0 <= coverage.percent <= 100
    assert bool(check_coverage([coverage], 100.0)) == (covered < expected)


# ---- the archive ------------------------------------------------------------------------


def chain(n: int) -> list[ReportLink]:
    links: list[ReportLink] = []
    previous: str | None = None
    for i in range(1, n + 1):
        text = canonical({"n": i, "previousSha256": previous})
        links.append(ReportLink(f"ard_{i}", i, text, sha256_of(text), previous))
        previous = sha256_of(text)
    return links


def test_an_intact_report_chain_has_no_findings() -> None:
    assert check_report_chain(chain(3)) == []
    assert check_report_chain([]) == []


def test_an_edited_report_and_a_broken_link_are_named() -> None:
    links = chain(3)
    edited = ReportLink("ard_2", 2, links[1].content + " ", links[1].sha256, links[0].sha256)
    [finding] = check_report_chain([links[0], edited, links[2]])
    assert (finding.kind, finding.record_id) == (FindingKind.AUDIT_REPORT_CHAIN_BROKEN, "ard_2")
    [gap] = check_report_chain([links[0], links[2]])
    assert gap.record_id == "ard_3"


def test_report_content_is_canonical_and_counts_by_kind() -> None:
    findings = [
        Finding(FindingKind.LOW_COVERAGE, "obj_2", "b"),
        Finding(FindingKind.CREDIT_MISMATCH, "crd_1", "a"),
        Finding(FindingKind.LOW_COVERAGE, "obj_1", "c"),
    ]
    content = report_content(
        "ard_1", "2026-10", "2026-11-05T00:00:00.000000Z", findings, {"violations": 1}, None, None
    )
    data = json.loads(content.text)
    assert content.text == canonical(data)
    assert data["findingsByKind"] == {"CREDIT_MISMATCH": 1, "LOW_COVERAGE": 2}
    assert [f["recordId"] for f in data["findings"]] == ["crd_1", "obj_1", "obj_2"]
    assert data["previousSha256"] is None


@given(st.permutations(list(FindingKind)))
def test_report_content_does_not_depend_on_finding_order(kinds: list[FindingKind]) -> None:
    findings = [Finding(kind, f"id_{kind}", "x") for kind in kinds]
    one = report_content("r", "2026-10", "t", findings, {}, "h", None).text
    other = report_content("r", "2026-10", "t", sorted(findings), {}, "h", None).text
    assert one == other
