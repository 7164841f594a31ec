"""Breach assessment over a real graph: one Violation per breached objective and
ended calendar month of an ACTIVE SLA, with its severity and service credit.

Severities follow `hub.domain.breaches` defaults: the overshoot is
(target - measured) / (100 - target); CRITICAL from 2, MAJOR from 0.5, else MINOR;
an SLA covering a TIER_1 service is at least MAJOR and CRITICAL from 1. The credit
policy pays 10% below 99.9, 25% below 99 and 50% below 95, capped at 30%; exactly at
a boundary earns the next better tier's credit.

Each month's data is one 5-minute bucket of 10,000 events, so compliance is exact.

Violations are kept in record time: a reassessment that finds other figures closes the
revision it held (`supersededAt`) and records a new one, one that finds the period met
closes it, and one that finds the same figures changes nothing; `as_recorded(T)`
answers with the revisions current at T.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slo_support import CREDIT_POLICY, GOLD, bound, objective_spec, objectives_of, store, utc
from support import Author, GraphBuilder, listening, load

from hub.domain.breaches import Severity, SeverityRules, classify
from hub.domain.models import AgreementKind, AgreementStatus, ObjectiveSpec, Tier, WindowKind
from hub.engine.service import ServiceLevels
from hub.engine.violations import Violation, severity_rules
from hub.graph.client import Graph
from hub.graph.ids import kind_of
from hub.graph.repositories import AuditRepository
from hub.settings import SloSettings

JAN, FEB, MAR, APR = (utc(2026, m, 1) for m in (1, 2, 3, 4))
# Mid-March, 74 days after 1 January: January and February have ended and are assessed;
# March has not.
AT = utc(2026, 3, 16)
ASSESS_DAYS = 74
AGREEMENTS = ("gold", "plat", "draft", "late")


@dataclass
class Setup:
    graph: Graph
    ids: dict[str, str]
    objectives: dict[str, str]  # objective id by "<agreement>/<name>"
    service: ServiceLevels

    async def good(self, objective: str, at: datetime, good: float, total: float = 10_000) -> None:
        """Store one bucket at `at` for the objective named `objective`."""
        await store(self.graph, self.objectives[objective], at, [good], [total])


async def sla(
    author: Author, name: str, covers: str, objectives: list[ObjectiveSpec], **options: Any
) -> tuple[str, dict[str, str]]:
    agreement_id = await author(AgreementKind.SLA, name, [covers], objectives, **options)
    found = await objectives_of(author.graph, agreement_id)
    return agreement_id, {f"{name}/{o.name}": o.id for o in found}


@pytest.fixture
async def setup(graph: Graph, builder: GraphBuilder) -> Setup:
    """Gold (TIER_2, credit policy), Platinum (TIER_1, no policy), a DRAFT, and one
    effective only from 10 February; their months' data as in each comment."""
    tiers = {"gold-svc": "TIER_2", "plat-svc": "TIER_1"}
    ids, author = await load(builder, [], services=list(tiers), tiers=tiers)
    objectives: dict[str, str] = {}
    agreements: dict[str, str] = {}
    late = utc(2026, 2, 10)
    for name, covers, specs, options in (
        (
            "gold",
            "gold-svc",
            [objective_spec(target=target, name=n) for n, target, _, _ in GOLD],
            {"credit_policy": CREDIT_POLICY},
        ),
        ("plat", "plat-svc", [objective_spec(window=WindowKind.ROLLING, name="plat")], {}),
        ("draft", "gold-svc", [objective_spec(name="draft")], {"status": AgreementStatus.DRAFT}),
        ("late", "gold-svc", [objective_spec(name="late")], {"effective_from": late}),
    ):
        agreements[name], found = await sla(author, name, covers, specs, **options)
        objectives.update(found)
    ids.update(agreements)
    settings = bound(*objectives.values(), assess_days=ASSESS_DAYS)
    setup = Setup(graph, ids, objectives, ServiceLevels(graph, settings))
    jan, feb, mar = utc(2026, 1, 15, 12), utc(2026, 2, 15, 12), utc(2026, 3, 2, 12)
    for name, jan_good, feb_good in (
        *((f"gold/{n}", jan_good, feb_good) for n, _, jan_good, feb_good in GOLD),
        ("plat/plat", 9800, 9880),  # 98.0 / 98.8
        ("draft/draft", 0, 0),  # never assessed
        ("late/late", 0, 9000),  # January ended before it took effect
    ):
        await setup.good(name, jan, jan_good)
        await setup.good(name, feb, feb_good)
        await setup.good(name, mar, 0)  # March has not ended: never assessed
    return setup


def key(v: Violation) -> tuple[str, datetime]:
    return v.objective_id, v.period_start


async def listed(setup: Setup) -> dict[tuple[str, datetime], Violation]:
    found: dict[tuple[str, datetime], Violation] = {}
    for name in AGREEMENTS:
        for v in await setup.service.violations(agreement_id=setup.ids[name], limit=100):
            found[key(v)] = v
    return found


async def as_recorded(setup: Setup, known_at: datetime) -> dict[tuple[str, datetime], Violation]:
    """What `listed` would have answered at `known_at`."""
    found: dict[tuple[str, datetime], Violation] = {}
    for name in AGREEMENTS:
        for v in await setup.service.violations_as_recorded(
            known_at, agreement_id=setup.ids[name], limit=100
        ):
            assert key(v) not in found, "two revisions of one period current at once"
            found[key(v)] = v
    return found


def expected(setup: Setup) -> dict[tuple[str, datetime], tuple[object, ...]]:
    """(agreement, period end, measured, target, severity, credit) by (objective, start)."""
    o, a = setup.objectives, setup.ids
    return {
        # 99.8 vs 99.9: overshoot 1 -> MAJOR; below 99.9 -> 10%.
        (o["gold/avail"], FEB): (a["gold"], MAR, 99.8, 99.9, Severity.MAJOR, 10.0),
        # 95.0 vs 99: overshoot 4 -> CRITICAL; exactly 95 is not below 95 -> 25%.
        (o["gold/errors"], JAN): (a["gold"], FEB, 95.0, 99.0, Severity.CRITICAL, 25.0),
        # 94.0: below 95 earns 50%, capped at 30%.
        (o["gold/errors"], FEB): (a["gold"], MAR, 94.0, 99.0, Severity.CRITICAL, 30.0),
        # 99.94 vs 99.95: overshoot 0.2 -> MINOR; not below 99.9 -> no credit.
        (o["gold/strict"], JAN): (a["gold"], FEB, 99.94, 99.95, Severity.MINOR, 0.0),
        # Exactly 99.9: overshoot 1 -> MAJOR; not below the best boundary -> no credit.
        (o["gold/strict"], FEB): (a["gold"], MAR, 99.9, 99.95, Severity.MAJOR, 0.0),
        # TIER_1, a rolling objective assessed per month: overshoot 1 -> CRITICAL
        # (MAJOR elsewhere), overshoot 0.2 -> MAJOR (MINOR elsewhere); no policy.
        (o["plat/plat"], JAN): (a["plat"], FEB, 98.0, 99.0, Severity.CRITICAL, None),
        (o["plat/plat"], FEB): (a["plat"], MAR, 98.8, 99.0, Severity.MAJOR, None),
        # Effective from 10 February: January is not assessed; February's 90.0 vs 99
        # overshoots 9 -> CRITICAL; no policy, no credit.
        (o["late/late"], FEB): (a["late"], MAR, 90.0, 99.0, Severity.CRITICAL, None),
    }


def shown(
    found: dict[tuple[str, datetime], Violation],
) -> dict[tuple[str, datetime], tuple[object, ...]]:
    return {
        k: (
            v.agreement_id,
            v.period_end,
            pytest.approx(v.measured, abs=1e-9),
            v.target,
            v.severity,
            v.credit_percent,
        )
        for k, v in found.items()
    }


async def test_one_violation_per_breached_objective_and_ended_month(setup: Setup) -> None:
    service = setup.service
    ids = [setup.ids[name] for name in AGREEMENTS]

    breaches = await service.assess(AT, ids)

    assert {(b.objective_id, b.period.start) for b in breaches} == set(expected(setup))
    found = await listed(setup)
    assert shown(found) == expected(setup)
    # Each violation is its own node with an id of its kind.
    assert len({v.id for v in found.values()}) == len(found)
    assert all(kind_of(v.id) == "Violation" for v in found.values())


async def test_assessing_again_with_the_same_data_records_nothing(setup: Setup) -> None:
    service = setup.service
    ids = [setup.ids[name] for name in AGREEMENTS]
    await service.assess(AT, ids)
    first = await listed(setup)

    with listening(setup.graph) as log:
        await service.assess(AT, ids)

    again = await listed(setup)
    assert again == first  # same revisions: ids, figures and record times
    # Nothing written at all: no revision closed or recorded, no remediation or
    # evidence, no audit record (the breached objectives' tickets are read once, for
    # the evidence a changed verdict would freeze).
    assert [n for n in log.names if n.startswith("service_levels.")] == [
        "service_levels.AGREEMENT_OBJECTIVES_IN_FORCE_DURING",
        "service_levels.OBJECTIVE_TICKETS",
        "service_levels.CURRENT_VIOLATIONS",
    ]
    assert not [n for n in log.names if n.startswith("remediation.")]
    assert "audit.APPEND_AUDIT_RECORDS" not in log.names
    assert all(v.agreement_version == 1 for v in again.values())


async def test_late_data_revises_a_violation_or_clears_it_and_what_was_recorded_stays(
    setup: Setup,
) -> None:
    service = setup.service
    await service.assess(AT, [setup.ids["gold"]])
    before = await listed(setup)
    t1 = datetime.now(UTC)  # after the first assessment committed
    avail, errors = setup.objectives["gold/avail"], setup.objectives["gold/errors"]
    assert (avail, FEB) in before

    # A late, perfect bucket lifts February's avail to 19,980 of 20,000 = 99.9: met.
    await setup.good("gold/avail", utc(2026, 2, 20), 10_000)
    # A late, bad one sinks February's errors to 18,400 of 20,000 = 92.0.
    await setup.good("gold/errors", utc(2026, 2, 20), 9000)
    await service.assess(AT, [setup.ids["gold"]])
    t2 = datetime.now(UTC)

    after = await listed(setup)
    assert (avail, FEB) not in after
    assert set(after) == set(before) - {(avail, FEB)}
    old, revised = before[(errors, FEB)], after[(errors, FEB)]
    # A new revision with its own id; the old one is closed when the new one is recorded.
    assert revised.id != old.id
    assert kind_of(revised.id) == "Violation"
    assert revised.measured == pytest.approx(92.0)
    assert (revised.severity, revised.credit_percent) == (Severity.CRITICAL, 30.0)
    assert t1 < revised.recorded_at < t2
    assert revised.superseded_at is None
    # The other periods keep their revisions untouched.
    for k in set(after) - {(errors, FEB)}:
        assert after[k] == before[k]
    # Nothing was overwritten or deleted: both closed revisions still answer by id, as
    # they were, closed at the second assessment's record time.
    cleared = before[(avail, FEB)]
    closed = await service.violations_by_ids([old.id, cleared.id])
    assert closed == {
        old.id: replace(old, superseded_at=revised.recorded_at),
        cleared.id: replace(cleared, superseded_at=revised.recorded_at),
    }
    # As recorded at T1: exactly what the hub said at T1 (the credit paid then).
    then = await as_recorded(setup, t1)
    assert {k: replace(v, superseded_at=None) for k, v in then.items()} == before
    assert then[(avail, FEB)] == closed[cleared.id]
    # As recorded at T2 (or now): what `violations` answers now.
    assert await as_recorded(setup, t2) == after
    # Before the first assessment nothing was recorded.
    earliest = min(v.recorded_at for v in before.values())
    assert await as_recorded(setup, earliest - timedelta(microseconds=1)) == {}


async def test_draft_slas_are_not_assessed(setup: Setup) -> None:
    service = setup.service

    breaches = await service.assess(AT, [setup.ids["draft"]])

    assert breaches == []
    assert await service.violations(agreement_id=setup.ids["draft"]) == []


async def test_violations_are_listed_by_severity_and_period_and_paged(setup: Setup) -> None:
    service = setup.service
    await service.assess(AT, [setup.ids["gold"]])
    gold = setup.ids["gold"]
    o = setup.objectives

    critical = await service.violations(agreement_id=gold, severities=[Severity.CRITICAL])
    assert {key(v) for v in critical} == {(o["gold/errors"], JAN), (o["gold/errors"], FEB)}
    # Periods overlapping [1 Feb, 1 Mar): February's only (January ends at 1 Feb).
    february = await service.violations(agreement_id=gold, start=FEB, end=MAR)
    assert {key(v) for v in february} == {
        (o["gold/avail"], FEB),
        (o["gold/errors"], FEB),
        (o["gold/strict"], FEB),
    }
    # Pages of two, in id order, after the last id of the page before.
    every = await service.violations(agreement_id=gold, limit=100)
    assert [v.id for v in every] == sorted(v.id for v in every)
    assert len(every) == 5
    pages = []
    after: str | None = None
    while True:
        page = await service.violations(agreement_id=gold, after=after, limit=2)
        pages.append([v.id for v in page])
        if len(page) < 2:
            break
        after = page[-1].id
    assert pages == [[v.id for v in every[i : i + 2]] for i in range(0, 6, 2)]
    assert await service.violations_by_ids([every[0].id, "vio_nothing"]) == {every[0].id: every[0]}


async def test_violations_as_recorded_are_filtered_and_paged_by_id(setup: Setup) -> None:
    service = setup.service
    gold = setup.ids["gold"]
    o = setup.objectives
    await service.assess(AT, [gold])
    t1 = datetime.now(UTC)
    # Late data revises February's errors and strict (both still breached).
    await setup.good("gold/errors", utc(2026, 2, 20), 9000)
    await setup.good("gold/strict", utc(2026, 2, 20), 9980)
    await service.assess(AT, [gold])

    every = await service.violations_as_recorded(t1, agreement_id=gold, limit=100)
    assert [v.id for v in every] == sorted(v.id for v in every)
    assert {key(v) for v in every} == {
        (o["gold/avail"], FEB),
        (o["gold/errors"], JAN),
        (o["gold/errors"], FEB),
        (o["gold/strict"], JAN),
        (o["gold/strict"], FEB),
    }
    # Two of them are closed revisions now.
    assert sum(v.superseded_at is not None for v in every) == 2
    critical = await service.violations_as_recorded(
        t1, agreement_id=gold, severities=[Severity.CRITICAL], start=FEB, end=MAR
    )
    assert [(key(v), v.measured) for v in critical] == [
        ((o["gold/errors"], FEB), pytest.approx(94.0))
    ]
    pages = []
    after: str | None = None
    while True:
        page = await service.violations_as_recorded(t1, agreement_id=gold, after=after, limit=2)
        pages.append([v.id for v in page])
        if len(page) < 2:
            break
        after = page[-1].id
    assert pages == [[v.id for v in every[i : i + 2]] for i in range(0, 6, 2)]


async def test_each_new_revision_and_clearing_is_audited_in_one_batch(setup: Setup) -> None:
    service = setup.service
    gold = setup.ids["gold"]
    audit = AuditRepository(setup.graph)
    await service.assess(AT, [gold])
    before = await listed(setup)
    avail, errors = setup.objectives["gold/avail"], setup.objectives["gold/errors"]
    for violation in before.values():
        (record,) = await audit.for_target(violation.id)
        assert (record.actor, record.action, record.before) == (
            "system:assessment",
            "violation.record",
            None,
        )
        assert record.after is not None
        assert json.loads(record.after)["measured"] == pytest.approx(violation.measured)

    await setup.good("gold/avail", utc(2026, 2, 20), 10_000)  # lifts February's avail
    await setup.good("gold/errors", utc(2026, 2, 20), 9000)  # sinks February's errors
    with listening(setup.graph) as log:
        await service.assess(AT, [gold])

    # One write of each kind for the whole run, the audit records in the same
    # transaction (after the revisions they describe).
    writes = [
        n
        for n in log.names
        if n
        in (
            "service_levels.SUPERSEDE_VIOLATIONS",
            "service_levels.RECORD_VIOLATIONS",
            "audit.APPEND_AUDIT_RECORDS",
        )
    ]
    assert writes == [
        "service_levels.SUPERSEDE_VIOLATIONS",
        "service_levels.RECORD_VIOLATIONS",
        "audit.APPEND_AUDIT_RECORDS",
    ]
    cleared = before[(avail, FEB)]
    old = before[(errors, FEB)]
    revised = (await listed(setup))[(errors, FEB)]
    [_, clearing] = await audit.for_target(cleared.id)
    assert (clearing.action, clearing.after) == ("violation.clear", None)
    assert clearing.before is not None
    assert json.loads(clearing.before) == {
        "agreementId": gold,
        "agreementVersion": 1,
        "creditPercent": 10.0,
        "id": cleared.id,
        "measured": pytest.approx(99.8),
        "objectiveId": avail,
        "periodEnd": "2026-03-01T00:00:00.000000Z",
        "periodStart": "2026-02-01T00:00:00.000000Z",
        "recordedAt": json.loads(clearing.before)["recordedAt"],
        "severity": "MAJOR",
        "target": 99.9,
    }
    [revision] = await audit.for_target(revised.id)
    assert revision.action == "violation.revise"
    assert revision.before is not None
    assert revision.after is not None
    was, now = json.loads(revision.before), json.loads(revision.after)
    assert (was["id"], was["measured"]) == (old.id, pytest.approx(94.0))
    assert (now["id"], now["measured"], now["creditPercent"]) == (
        revised.id,
        pytest.approx(92.0),
        30.0,
    )


def test_severity_rules_come_from_the_settings() -> None:
    settings = SloSettings.model_validate(
        {
            "severity": {
                "critical_overshoot": 3.0,
                "major_overshoot": 1.0,
                "escalated_tiers": ["TIER_1", "TIER_2"],
                "escalated_critical_overshoot": 1.5,
            }
        }
    )

    rules = severity_rules(settings)

    assert rules == SeverityRules(
        critical_overshoot=3.0,
        major_overshoot=1.0,
        escalated_tiers=frozenset({Tier.TIER_1, Tier.TIER_2}),
        escalated_critical_overshoot=1.5,
    )
    # Against 99.9 %: 99.85 overshoots by half a budget, 99.8 by one, 99.75 by 1.5.
    assert classify(99.85, 99.9, Tier.TIER_3, rules) is Severity.MINOR
    assert classify(99.85, 99.9, Tier.TIER_2, rules) is Severity.MAJOR  # escalated tier
    assert classify(99.8, 99.9, Tier.TIER_3, rules) is Severity.MAJOR
    assert classify(99.75, 99.9, Tier.TIER_3, rules) is Severity.MAJOR
    assert classify(99.75, 99.9, Tier.TIER_2, rules) is Severity.CRITICAL
