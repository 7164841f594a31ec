"""Vendor and team performance read from the graph: hand-built UCs and OLAs, their
violations recorded as assessments record them, the rule's verdict hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime

from slo_support import objective_spec, objectives_of
from support import GraphBuilder, load

from hub.domain.access import Scope
from hub.domain.breaches import Breach, Severity
from hub.domain.models import AgreementKind, WindowKind
from hub.domain.performance import PerformanceRule
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.repositories.performance import PartyKind, PerformanceRepository
from hub.graph.repositories.violations import PeriodVerdict, ViolationRepository

RULE = PerformanceRule()  # 3 in a row, or 4 of the last 6
# Agreements are in force from 2025-12-01 (support.AUTHORED_AT); judged on 2026-06-10,
# the last six ended months are December to May.
NOW = datetime(2026, 6, 10, tzinfo=UTC)


def month(year: int, m: int) -> Window:
    end = datetime(year + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    return Window(datetime(year, m, 1, tzinfo=UTC), end)


def verdict(
    agreement_id: str, objective_id: str, period: Window, kind: str, measured: float | None
) -> PeriodVerdict:
    breach = (
        None
        if measured is None
        else Breach(objective_id, period, measured, 99.9, Severity.MAJOR, None)
    )
    return PeriodVerdict(agreement_id, objective_id, period, 1, breach, agreement_kind=kind)


async def agreement(builder: GraphBuilder, kind: AgreementKind, name: str) -> tuple[str, str]:
    _, author = await load(builder, [("app", "db")], services=["app"])
    agreement_id = await author(
        kind,
        name,
        ["db"],
        [objective_spec(target=99.9, window=WindowKind.CALENDAR_MONTH)],
    )
    (objective,) = await objectives_of(builder.graph, agreement_id)
    return agreement_id, objective.id


async def test_a_vendor_missing_three_months_in_a_row_is_flagged(
    graph: Graph, builder: GraphBuilder
) -> None:
    uc, objective = await agreement(builder, AgreementKind.UC, "Hosting UC")
    vendor = (await builder.ids(["vendor"]))["vendor"]
    await ViolationRepository(graph).record(
        [verdict(uc, objective, month(2026, m), "UC", 99.0 + m / 10) for m in (3, 4, 5)],
        "test assessment",
    )
    repository = PerformanceRepository(graph, clock=lambda: NOW)
    (report,) = await repository.parties(PartyKind.VENDOR, vendor, 6, RULE)
    assert (report.id, report.kind) == (vendor, PartyKind.VENDOR)
    records = report.performance.records
    assert [(r.period.start.month, r.met, r.measured, r.target) for r in records] == [
        (12, True, None, 99.9),
        (1, True, None, 99.9),
        (2, True, None, 99.9),
        (3, False, 99.3, 99.9),
        (4, False, 99.4, 99.9),
        (5, False, 99.5, 99.9),
    ]
    assert {r.agreement_id for r in records} == {uc}
    verdict_ = report.performance.verdict
    assert (verdict_.missed, verdict_.consecutive_misses) == (3, 3)
    assert verdict_.remediation_required
    assert report.performance.flagged_lineages == (uc,)
    assert report.latest_of(uc).approvers == "abe"  # no board: the approver who signed

    # Four periods asked for: the run and the flag are the rule's, the misses those shown.
    (short,) = await repository.parties(PartyKind.VENDOR, vendor, 4, RULE)
    assert [r.period.start.month for r in short.performance.records] == [2, 3, 4, 5]
    assert short.performance.verdict.remediation_required


async def test_a_team_missing_four_of_six_is_flagged_and_a_cleared_period_is_met(
    graph: Graph, builder: GraphBuilder
) -> None:
    ola, objective = await agreement(builder, AgreementKind.OLA, "Database OLA")
    team = (await builder.ids(["team"]))["team"]
    violations = ViolationRepository(graph)
    # December, February, March and May missed; January missed, then cleared.
    await violations.record(
        [
            verdict(ola, objective, month(2025, 12), "OLA", 99.0),
            verdict(ola, objective, month(2026, 1), "OLA", 99.1),
            verdict(ola, objective, month(2026, 2), "OLA", 99.2),
            verdict(ola, objective, month(2026, 3), "OLA", 99.3),
            verdict(ola, objective, month(2026, 5), "OLA", 99.5),
        ],
        "test assessment",
    )
    await violations.record([verdict(ola, objective, month(2026, 1), "OLA", None)], "late data")
    repository = PerformanceRepository(graph, clock=lambda: NOW)
    (report,) = await repository.parties(PartyKind.TEAM, team, 6, RULE)
    assert [r.met for r in report.performance.records] == [False, True, False, False, True, False]
    verdict_ = report.performance.verdict
    assert (verdict_.missed, verdict_.consecutive_misses) == (4, 1)
    assert verdict_.remediation_required

    # Three of six, none in a row, is not enough: the same team judged in May.
    (earlier,) = await PerformanceRepository(
        graph, clock=lambda: datetime(2026, 5, 10, tzinfo=UTC)
    ).parties(PartyKind.TEAM, team, 6, RULE)
    assert [r.period.start.month for r in earlier.performance.records] == [12, 1, 2, 3, 4]
    assert (earlier.performance.verdict.missed, earlier.performance.verdict.consecutive_misses) == (
        3,
        0,
    )
    assert not earlier.performance.verdict.remediation_required


async def test_scopes_see_only_what_they_may_read(graph: Graph, builder: GraphBuilder) -> None:
    uc, objective = await agreement(builder, AgreementKind.UC, "Unattached UC")
    vendor = (await builder.ids(["vendor"]))["vendor"]
    await ViolationRepository(graph).record(
        [verdict(uc, objective, month(2026, m), "UC", 99.0) for m in (3, 4, 5)], "test"
    )
    # A UC underpinning no SLA belongs to no unit: a scoped token sees the vendor
    # without records; a customer token sees no vendor at all.
    scoped = Scope.of(units=["retail"]).at(NOW)
    (seen,) = await PerformanceRepository(graph, scoped, lambda: NOW).parties(
        PartyKind.VENDOR, vendor, 6, RULE
    )
    assert seen.performance.records == ()
    assert not seen.performance.verdict.remediation_required
    customer = Scope.of(customer_id="cus_x").at(NOW)
    assert (
        await PerformanceRepository(graph, customer, lambda: NOW).parties(
            PartyKind.VENDOR, vendor, 6, RULE
        )
        == []
    )
    assert (
        await PerformanceRepository(graph, clock=lambda: NOW).parties(
            PartyKind.VENDOR, "ven_00000000000000000000000000000000", 6, RULE
        )
        == []
    )
