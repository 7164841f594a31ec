"""Breach assessment over a real graph: one Violation per breached objective and
ended calendar month of an ACTIVE SLA, with its severity and service credit.

Severities follow `hub.domain.breaches` defaults: the overshoot is
(target - measured) / (100 - target); CRITICAL from 2, MAJOR from 0.5, else MINOR;
an SLA covering a TIER_1 service is at least MAJOR and CRITICAL from 1. The credit
policy pays 10% below 99.9, 25% below 99 and 50% below 95, capped at 30%; exactly at
a boundary earns the next better tier's credit.

Each month's data is one 5-minute bucket of 10,000 events, so compliance is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest
from support import APPROVER, EDITOR, PARTIES, PARTY_KEYS, GraphBuilder

from hub.domain.breaches import Severity
from hub.domain.buckets import BucketSeries
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    AgreementStatus,
    CreditPolicySpec,
    CreditTierSpec,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.engine.service import ServiceLevels
from hub.engine.violations import Violation
from hub.graph.client import Graph
from hub.graph.ids import kind_of
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings, TelemetryBinding


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


JAN, FEB, MAR, APR = (utc(2026, m, 1) for m in (1, 2, 3, 4))
# Mid-March, 74 days after 1 January: January and February have ended and are assessed;
# March has not.
AT = utc(2026, 3, 16)
ASSESS_DAYS = 74

POLICY = CreditPolicySpec(
    tiers=(
        CreditTierSpec(below_percent=99.0, credit_percent=25),  # any order
        CreditTierSpec(below_percent=99.9, credit_percent=10),
        CreditTierSpec(below_percent=95.0, credit_percent=50),
    ),
    cap_percent=30,
)


def availability(
    name: str, target: float, window: WindowKind = WindowKind.CALENDAR_MONTH
) -> ObjectiveSpec:
    return ObjectiveSpec(
        indicator=Indicator.AVAILABILITY,
        target=target,
        window_kind=window,
        window_days=28 if window is WindowKind.ROLLING else None,
        name=name,
    )


@dataclass
class Setup:
    ids: dict[str, str]
    objectives: dict[str, str]  # objective id by "<agreement>/<name>"
    settings: SloSettings
    telemetry: TelemetryRepository

    async def good(self, objective: str, at: datetime, good: float, total: float = 10_000) -> None:
        """Store one bucket at `at` for the objective named `objective`."""
        series = BucketSeries(at, np.array([good], float), np.array([total], float))
        await self.telemetry.store(self.objectives[objective], "prometheus", series)


async def sla(
    graph: Graph,
    name: str,
    covers: str,
    objectives: list[ObjectiveSpec],
    ids: dict[str, str],
    *,
    policy: CreditPolicySpec | None = None,
    status: AgreementStatus = AgreementStatus.ACTIVE,
    effective_from: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    repository = AgreementRepository(graph)
    spec = AgreementSpec(
        kind=AgreementKind.SLA,
        name=name,
        covers=(ids[covers],),
        objectives=tuple(objectives),
        customer_id=ids["cust-1"],
        credit_policy=policy,
        effective_from=effective_from,
    )
    agreement_id = await repository.create(spec, EDITOR)
    if status is AgreementStatus.ACTIVE:
        await repository.submit(agreement_id, EDITOR)
        await repository.approve(agreement_id, APPROVER)
    assert (await repository.get(agreement_id)).status is status
    found = (await repository.objectives_by_agreement_ids([agreement_id]))[agreement_id]
    return agreement_id, {f"{name}/{o.name}": o.id for o in found}


async def build(graph: Graph, builder: GraphBuilder) -> Setup:
    """Gold (TIER_2, credit policy), Platinum (TIER_1, no policy), a DRAFT, and one
    effective only from 10 February; their months' data as in each comment."""
    services = [
        {"externalId": "gold-svc", "name": "gold-svc", "tier": "TIER_2"},
        {"externalId": "plat-svc", "name": "plat-svc", "tier": "TIER_1"},
    ]
    await builder.load(extra={**PARTIES, "services": services})
    ids = await builder.ids(["gold-svc", "plat-svc", *PARTY_KEYS])
    objectives: dict[str, str] = {}
    agreements: dict[str, str] = {}
    for name, covers, specs, options in (
        (
            "gold",
            "gold-svc",
            [
                availability("avail", 99.9),
                availability("errors", 99.0),
                availability("strict", 99.95),
            ],
            {"policy": POLICY},
        ),
        ("plat", "plat-svc", [availability("plat", 99.0, WindowKind.ROLLING)], {}),
        ("draft", "gold-svc", [availability("draft", 99.0)], {"status": AgreementStatus.DRAFT}),
        ("late", "gold-svc", [availability("late", 99.0)], {"effective_from": utc(2026, 2, 10)}),
    ):
        agreement_id, found = await sla(graph, name, covers, specs, ids, **options)  # type: ignore[arg-type]
        agreements[name] = agreement_id
        objectives.update(found)
    ids.update(agreements)
    settings = SloSettings(
        assess_days=ASSESS_DAYS,
        bindings=[
            TelemetryBinding(objective=i, source="prometheus", good="ok", total="all")
            for i in objectives.values()
        ],
    )
    setup = Setup(ids, objectives, settings, TelemetryRepository(graph))
    jan, feb, mar = utc(2026, 1, 15, 12), utc(2026, 2, 15, 12), utc(2026, 3, 2, 12)
    for name, jan_good, feb_good in (
        ("gold/avail", 9990, 9980),  # 99.9 (met, exactly) / 99.8
        ("gold/errors", 9500, 9400),  # 95.0 / 94.0
        ("gold/strict", 9994, 9990),  # 99.94 / 99.9
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


async def listed(service: ServiceLevels, setup: Setup) -> dict[tuple[str, datetime], Violation]:
    found: dict[tuple[str, datetime], Violation] = {}
    for name in ("gold", "plat", "draft", "late"):
        for v in await service.violations(agreement_id=setup.ids[name], limit=100):
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


async def test_one_violation_per_breached_objective_and_ended_month(
    graph: Graph, builder: GraphBuilder
) -> None:
    setup = await build(graph, builder)
    service = ServiceLevels(graph, setup.settings)
    ids = [setup.ids[name] for name in ("gold", "plat", "draft", "late")]

    breaches = await service.assess(AT, ids)

    assert {(b.objective_id, b.period.start) for b in breaches} == set(expected(setup))
    found = await listed(service, setup)
    assert shown(found) == expected(setup)
    # Each violation is its own node with an id of its kind.
    assert len({v.id for v in found.values()}) == len(found)
    assert all(kind_of(v.id) == "Violation" for v in found.values())


async def test_assessing_again_keeps_the_same_violations_and_ids(
    graph: Graph, builder: GraphBuilder
) -> None:
    setup = await build(graph, builder)
    service = ServiceLevels(graph, setup.settings)
    ids = [setup.ids[name] for name in ("gold", "plat", "draft", "late")]
    await service.assess(AT, ids)
    first = await listed(service, setup)

    await service.assess(AT, ids)

    again = await listed(service, setup)
    assert again == first


async def test_late_data_updates_a_violation_in_place_or_removes_it(
    graph: Graph, builder: GraphBuilder
) -> None:
    setup = await build(graph, builder)
    service = ServiceLevels(graph, setup.settings)
    await service.assess(AT, [setup.ids["gold"]])
    before = await listed(service, setup)
    avail, errors = setup.objectives["gold/avail"], setup.objectives["gold/errors"]
    assert (avail, FEB) in before

    # A late, perfect bucket lifts February's avail to 19,980 of 20,000 = 99.9: met.
    await setup.good("gold/avail", utc(2026, 2, 20), 10_000)
    # A late, bad one sinks February's errors to 18,400 of 20,000 = 92.0.
    await setup.good("gold/errors", utc(2026, 2, 20), 9000)
    await service.assess(AT, [setup.ids["gold"]])

    after = await listed(service, setup)
    assert (avail, FEB) not in after
    assert set(after) == set(before) - {(avail, FEB)}
    updated = after[(errors, FEB)]
    assert updated.id == before[(errors, FEB)].id
    assert updated.measured == pytest.approx(92.0)
    assert (updated.severity, updated.credit_percent) == (Severity.CRITICAL, 30.0)
    # The others are untouched.
    for k in set(after) - {(errors, FEB)}:
        assert after[k] == before[k]


async def test_draft_slas_are_not_assessed(graph: Graph, builder: GraphBuilder) -> None:
    setup = await build(graph, builder)
    service = ServiceLevels(graph, setup.settings)

    breaches = await service.assess(AT, [setup.ids["draft"]])

    assert breaches == []
    assert await service.violations(agreement_id=setup.ids["draft"]) == []


async def test_violations_are_listed_by_severity_and_period_and_paged(
    graph: Graph, builder: GraphBuilder
) -> None:
    setup = await build(graph, builder)
    service = ServiceLevels(graph, setup.settings)
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
