"""The periodic SLA audit on the real graph (`hub.sync.periodic_audit`): violations,
evidence and credits written by the assessment, then one credit's amount tampered
with and one objective short of data; each run archived as a link of the report chain.

Each test works in a database of its own (`audit_support.private_graph`), so the
audit sees exactly what the test built. October 2026 is the audited month: a 99 %
availability objective at 98.5 % (a MAJOR breach, 25 % of a 12,000.00 EUR fee).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph
from slo_support import bound, objective_spec, objectives_of, store, utc
from support import GraphBuilder, load

from hub.domain.evidence import canonical
from hub.domain.models import AgreementKind, CreditPolicySpec, CreditTierSpec
from hub.domain.periodic_audit import FindingKind, check_report_chain, month_period
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import AuditRepository
from hub.graph.repositories.periodic_audit import PeriodicAuditRepository
from hub.settings import RemediationSettings, Settings
from hub.sync.periodic_audit import previous_month, run_periodic_audit

OCT, NOV = utc(2026, 10, 1), utc(2026, 11, 1)
AUDITED_AT = utc(2026, 11, 5, 6)
DAY = 288  # five-minute buckets
POLICY = CreditPolicySpec(
    tiers=(
        CreditTierSpec(below_percent=99.9, credit_percent=10),
        CreditTierSpec(below_percent=99.0, credit_percent=25),
    ),
    cap_percent=30,
    monthly_fee=Decimal("12000.00"),
    currency="EUR",
)
SETTINGS = Settings(remediation=RemediationSettings(minimum_coverage_percent=90.0))


@pytest.fixture
async def private(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        yield private


async def breached_slas(graph: Graph, days: dict[str, int]) -> dict[str, tuple[str, str]]:
    """An SLA per name in `days`, each with one objective holding data at 98.5 % for
    that many days of October from the 1st; assessed on 1 November. Returns (SLA id,
    objective id) by name."""
    builder = GraphBuilder(graph, "audit")
    _, author = await load(builder, [], services=list(days))
    made: dict[str, tuple[str, str]] = {}
    for name, covered in days.items():
        spec = objective_spec(name="availability")
        sla = await author(AgreementKind.SLA, name, [name], [spec], credit_policy=POLICY)
        (objective,) = await objectives_of(graph, sla)
        buckets = covered * DAY
        await store(graph, objective.id, OCT, [98.5] * buckets, [100.0] * buckets)
        made[name] = (sla, objective.id)
    objective_ids = [objective for _, objective in made.values()]
    levels = ServiceLevels(graph, bound(*objective_ids, assess_days=40))
    await levels.assess(NOV + timedelta(hours=1), policy=SETTINGS.remediation)
    return made


async def test_a_clean_month_is_reported_clean_and_archived(private: PrivateGraph) -> None:
    graph = private.graph
    await breached_slas(graph, {"shop": 31})

    result = await run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT)

    assert result.findings == ()
    assert result.clean
    assert result.checked == {
        "violations": 1,
        "credits": 1,
        "objectives": 1,
        "auditRecords": result.checked["auditRecords"],
        "auditReports": 0,
    }
    report = result.report
    assert (report.period, report.sequence, report.previous_sha256) == ("2026-10", 1, None)
    content = json.loads(report.content)
    assert content["findings"] == []
    assert content["checked"]["violations"] == 1
    assert result.lines()[-1].startswith("audit of 2026-10: no findings (1 violations, ")
    # Archiving is itself audited, and the trail still verifies.
    [archived] = await AuditRepository(graph).for_target(report.id)
    assert archived.action == "audit.report"
    assert (await AuditRepository(graph).verify()).intact


async def test_a_wrong_credit_and_a_low_coverage_objective_are_both_reported(
    private: PrivateGraph,
) -> None:
    graph = private.graph
    made = await breached_slas(graph, {"shop": 31, "sparse": 10})
    repository = PeriodicAuditRepository(graph)
    found = await repository.violations(month_period("2026-10"))
    violations = {v.violation.figures["agreementId"]: v for v in found}
    shop = violations[made["shop"][0]]
    assert shop.remediation_key is not None
    [credit] = await repository.credits({shop.remediation_key: shop.violation.id})
    assert (credit.amount, credit.currency) == ("3000.00", "EUR")
    assert await repository.plant_credit_amount(credit.id, "3500.00")

    result = await run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT)

    kinds = {(f.kind, f.record_id) for f in result.findings}
    assert kinds == {
        (FindingKind.CREDIT_MISMATCH, credit.id),
        (FindingKind.LOW_COVERAGE, made["sparse"][1]),
    }
    by_kind = {f.kind: f for f in result.findings}
    assert by_kind[FindingKind.CREDIT_MISMATCH].detail == (
        "amount 3500.00 EUR recorded, 3000.00 EUR from the evidence"
    )
    assert by_kind[FindingKind.LOW_COVERAGE].detail.startswith(
        "data in 32.26% of the period's buckets (2880 of 8928)"
    )
    assert result.report.findings_by_kind == {"CREDIT_MISMATCH": 1, "LOW_COVERAGE": 1}
    lines = result.lines()
    assert f"CREDIT_MISMATCH {credit.id}: amount 3500.00 EUR recorded" in lines[0]
    assert lines[-1].startswith("audit of 2026-10: CREDIT_MISMATCH 1, LOW_COVERAGE 1 (")


async def test_a_second_run_corrects_the_first_in_one_chain(private: PrivateGraph) -> None:
    graph = private.graph
    await breached_slas(graph, {"shop": 31})
    first = await run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT)
    other_month = await run_periodic_audit(graph, SETTINGS, "2026-09", AUDITED_AT)

    second = await run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT + timedelta(days=1))

    assert second.report.corrects_id == first.report.id
    assert other_month.report.corrects_id is None
    assert second.report.previous_sha256 == other_month.report.sha256
    assert other_month.report.previous_sha256 == first.report.sha256
    assert second.checked["auditReports"] == 2
    stored = await PeriodicAuditRepository(graph).reports_of("2026-10")
    assert [(r.id, r.corrects_id) for r in stored] == [
        (first.report.id, None),
        (second.report.id, first.report.id),
    ]
    assert stored[0].content == first.report.content
    assert stored[0].sha256 == first.report.sha256


def test_the_monthly_job_audits_the_month_before() -> None:
    assert previous_month(utc(2026, 11, 5)) == "2026-10"
    assert previous_month(utc(2027, 1, 5)) == "2026-12"


async def test_edited_evidence_is_reported_and_its_credit_left_alone(
    private: PrivateGraph,
) -> None:
    graph = private.graph
    await breached_slas(graph, {"shop": 31})
    repository = PeriodicAuditRepository(graph)
    [shop] = await repository.violations(month_period("2026-10"))
    evidence = shop.violation.evidence
    assert evidence is not None
    assert evidence.violation_id == shop.violation.id
    assert evidence.content is not None
    # One day's good events raised to its total, as if the outage had never been.
    content = json.loads(evidence.content)
    content["days"][0]["good"] = content["days"][0]["total"]
    edited = canonical(content)
    assert await repository.plant_evidence_content(evidence.id, edited)

    result = await run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT)

    [finding] = result.findings
    assert (finding.kind, finding.record_id) == (FindingKind.EVIDENCE_TAMPERED, evidence.id)
    assert finding.detail.startswith(f"stored sha256 {evidence.sha256} but the content hashes to ")


async def test_concurrent_runs_archive_one_unbroken_chain(private: PrivateGraph) -> None:
    graph = private.graph
    runs = await asyncio.gather(
        *(run_periodic_audit(graph, SETTINGS, "2026-10", AUDITED_AT) for _ in range(3))
    )

    assert sorted(r.report.sequence for r in runs) == [1, 2, 3]
    chain = await PeriodicAuditRepository(graph).report_chain()
    assert check_report_chain(chain) == []
    stored = await PeriodicAuditRepository(graph).reports_of("2026-10")
    assert [r.corrects_id for r in stored] == [None, stored[0].id, stored[1].id]
