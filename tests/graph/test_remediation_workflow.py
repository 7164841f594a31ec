"""Remediation of violated periods on the real graph: opened with the violation in the
assessment's transaction, evidence frozen on detection and on every revision, VOID when
late data clears the period, OPEN again when it is breached again; SLAs, OLAs and UCs
alike."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from remediation_support import AT, JAN, ViolatedEstate, violated_estate
from support import GraphBuilder

from hub.domain.evidence import rederive, sha256_of
from hub.domain.remediation import RemediationStatus
from hub.graph.client import Graph
from hub.graph.repositories.remediation import RemediationRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import RemediationSettings


@pytest.fixture
async def estate(graph: Graph, builder: GraphBuilder) -> ViolatedEstate:
    return await violated_estate(graph, builder)


async def test_every_kind_of_agreement_gets_a_remediation_per_violated_period(
    estate: ViolatedEstate,
) -> None:
    repository = RemediationRepository(estate.graph)
    keys = {name: estate.key(name) for name in ("sla", "ola", "uc")}
    found = await repository.by_keys(list(keys.values()))
    assert {name: found[key].agreement_kind for name, key in keys.items()} == {
        "sla": "SLA",
        "ola": "OLA",
        "uc": "UC",
    }
    for remediation in found.values():
        assert remediation.status is RemediationStatus.OPEN
        assert remediation.period_start == JAN
        assert remediation.escalation_level == 1
        assert remediation.root_cause_summary is None
    # February met every target: no remediation for it.
    assert not await repository.by_keys([estate.key("sla", datetime(2026, 2, 1, tzinfo=UTC))])


async def test_the_rca_is_due_business_days_after_detection_by_severity(
    estate: ViolatedEstate,
) -> None:
    (remediation,) = (
        await RemediationRepository(estate.graph).by_keys([estate.key("uc")])
    ).values()
    # The UC measured 98.0 against 99.5: 3 budgets overshot... CRITICAL by the default
    # rules: due 2 business days after detection.
    assert str(remediation.severity) == "CRITICAL"
    detected = remediation.detected_at
    weekday = detected.weekday()
    calendar_days = {0: 2, 1: 2, 2: 2, 3: 4, 4: 4, 5: 3, 6: 2}[weekday]
    assert (remediation.rca_due_at - detected).days == calendar_days
    assert remediation.rca_due_at.time() == detected.time()


async def test_evidence_is_frozen_canonical_and_gives_the_same_verdict(
    estate: ViolatedEstate,
) -> None:
    repository = RemediationRepository(estate.graph)
    (remediation,) = (await repository.by_keys([estate.key("sla")])).values()
    (evidence,) = (await repository.evidence_of([remediation.id]))[remediation.id]
    assert evidence.sha256 == sha256_of(evidence.content)
    content = json.loads(evidence.content)
    assert content["agreement"]["kind"] == "SLA"
    assert content["objective"]["target"] == 99.9
    january = [d for d in content["days"] if d["total"]]
    assert january == [{"day": "2026-01-15", "good": 9900.0, "total": 10000.0}]
    assert len(content["days"]) == 31
    verdict = rederive(content)
    assert verdict.breached
    assert verdict.measured == pytest.approx(99.0)
    assert str(verdict.severity) == content["verdict"]["severity"]
    assert (
        verdict.credit_percent == content["verdict"]["creditPercent"] == 10.0
    )  # 99.0 is not below 99.0


async def test_late_data_revises_adds_evidence_then_clears_to_void_and_reopens(
    estate: ViolatedEstate,
) -> None:
    repository = RemediationRepository(estate.graph)
    key = estate.key("ola")
    (before,) = (await repository.by_keys([key])).values()

    await estate.january("ola", 9960)  # more data: now 99.6 %, still breached
    await estate.assess(AT)
    (revised,) = (await repository.by_keys([key])).values()
    assert revised.id == before.id
    assert revised.status is RemediationStatus.OPEN
    assert revised.violation_id != before.violation_id
    assert revised.detected_at == before.detected_at
    evidence = (await repository.evidence_of([before.id]))[before.id]
    assert [e.violation_id for e in evidence] == [before.violation_id, revised.violation_id]
    assert evidence[0].content != evidence[1].content  # the first is never changed

    await estate.january("ola", 10_000)  # late data that clears the month
    await estate.assess(AT)
    (voided,) = (await repository.by_keys([key])).values()
    assert voided.status is RemediationStatus.VOID
    # Kept, with its evidence, and still listed by the last revision it had.
    assert len((await repository.evidence_of([before.id]))[before.id]) == 2
    assert [
        v["id"]
        for v in await repository.violations_of(["OLA"], [RemediationStatus.VOID], limit=500)
        if v["agreementId"] == estate.ids["ola"]
    ] == [revised.violation_id]

    await estate.january("ola", 0, 20_000)  # breached again
    await estate.assess(AT)
    (reopened,) = (await repository.by_keys([key])).values()
    assert reopened.id == before.id
    assert reopened.status is RemediationStatus.OPEN


async def test_settings_set_the_rca_deadline(graph: Graph, builder: GraphBuilder) -> None:
    estate = await violated_estate(graph, builder, assess=False)
    policy = RemediationSettings(rca_business_days={"CRITICAL": 0, "MAJOR": 0, "MINOR": 0})
    await estate.assess(policy=policy)
    found = await RemediationRepository(graph).by_keys(
        [estate.key(n) for n in ("sla", "ola", "uc")]
    )
    assert len(found) == 3
    assert all(r.rca_due_at == r.detected_at for r in found.values())


async def test_assessing_again_changes_nothing(estate: ViolatedEstate) -> None:
    repository = RemediationRepository(estate.graph)
    keys = [estate.key(n) for n in ("sla", "ola", "uc")]
    before = await repository.by_keys(keys)
    assert len(before) == 3
    await estate.assess(AT)
    assert await repository.by_keys(keys) == before
    ids = [r.id for r in before.values()]
    evidence = await repository.evidence_of(ids)
    assert all(len(evidence[i]) == 1 for i in ids)


async def test_evidence_outlives_the_telemetry_it_was_drawn_from(estate: ViolatedEstate) -> None:
    # What the telemetry sync's retention does once January is past `retention_days`.
    await TelemetryRepository(estate.graph).prune(date(2026, 3, 1))
    repository = RemediationRepository(estate.graph)
    (remediation,) = (await repository.by_keys([estate.key("uc")])).values()
    (evidence,) = (await repository.evidence_of([remediation.id]))[remediation.id]
    assert evidence.sha256 == sha256_of(evidence.content)
    verdict = rederive(json.loads(evidence.content))
    assert verdict.measured == pytest.approx(98.0)
    assert verdict.breached
    # The assessment only looks `assess_days` back, never past the retention (the
    # settings refuse assess_days >= retention_days), so the verdict stands.
