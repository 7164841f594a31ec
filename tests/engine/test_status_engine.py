"""The status engine over a real graph: ticket clocks and telemetry sources.

Ticket objectives read the incidents of the components their SLA covers (written the
way a sync writes them) and settle each ticket on the configured calendar: an office
in Berlin, 09:00-17:00 Monday to Friday (08:00-16:00 UTC in March 2026, before the
clocks change on the 29th), with Wednesday 11 March off, a "Pending customer" pause
and a maintenance window. March 2026 starts on a Sunday. Every expected outcome below
is worked out by hand from those rules.

Telemetry objectives read the buckets stored under their sources: the primary wins
wherever it has data, the secondary fills its gaps, and `reconcile` flags the buckets
where the two disagree by more than the tolerance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from support import GraphBuilder, load

from hub.domain.buckets import BucketSeries
from hub.domain.budget import AlertPair, BudgetState
from hub.domain.models import AgreementKind, Indicator, Objective, ObjectiveSpec, WindowKind
from hub.domain.sources import SourceIncident, StateChange
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository
from hub.settings import (
    BusinessHoursSettings,
    MaintenanceWindowSettings,
    SloSettings,
    TelemetryBinding,
)
from hub.sync.telemetry import reconcile


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


MARCH = Window(utc(2026, 3, 1), utc(2026, 4, 1))
AT = utc(2026, 3, 16, 12)  # a Monday, mid-month

OFFICE = SloSettings(
    business_hours=BusinessHoursSettings(
        time_zone="Europe/Berlin",
        working_days=[0, 1, 2, 3, 4],
        day_start=time(9),
        day_end=time(17),
        holidays=[date(2026, 3, 11)],
    ),
    pause_states=["Pending customer"],
    maintenance_windows=[
        MaintenanceWindowSettings(start=utc(2026, 3, 4, 10), end=utc(2026, 3, 4, 12))
    ],
)

RESOLUTION = ObjectiveSpec(
    indicator=Indicator.RESOLUTION_TIME,
    target=70.0,
    threshold=4 * 3600,
    priority="P1",
    window_kind=WindowKind.CALENDAR_MONTH,
    name="resolve-p1",
)
RESPONSE = ObjectiveSpec(
    indicator=Indicator.RESPONSE_TIME,
    target=80.0,
    threshold=3600,
    priority="P2",
    window_kind=WindowKind.CALENDAR_MONTH,
    name="respond-p2",
)


def ticket(
    source: str,
    key: str,
    priority: str,
    opened: datetime,
    *,
    resolved: datetime | None = None,
    responded: datetime | None = None,
    history: tuple[tuple[datetime, str], ...] = (),
    on: str = "svc",
) -> SourceIncident:
    return SourceIncident(
        source=f"{source}-itsm",
        external_id=key,
        updated_at=resolved or opened,
        priority=priority,
        state="Resolved" if resolved else "In progress",
        opened_at=opened,
        resolved_at=resolved,
        responded_at=responded,
        state_history=tuple(StateChange(at=at, state=state) for at, state in history),
        component_refs=(f"{source}:{on}",),
    )


def tickets(source: str) -> list[SourceIncident]:
    """P1 tickets for the 4-hour resolution objective, P2 ones for the 1-hour response
    objective; the comment of each gives its business time and how it settles."""
    return [
        # 3h (Mon 09:00-12:00 Berlin): within, settled at 11:00Z.
        ticket(source, "T1", "P1", utc(2026, 3, 2, 8), resolved=utc(2026, 3, 2, 11)),
        # 5.5h open, 3h of it pending the customer: 2.5h, within, settled 13:30Z.
        ticket(
            source,
            "T5",
            "P1",
            utc(2026, 3, 2, 8),
            resolved=utc(2026, 3, 2, 13, 30),
            history=(
                (utc(2026, 3, 2, 8), "New"),
                (utc(2026, 3, 2, 9), "Pending customer"),
                (utc(2026, 3, 2, 12), "Work in progress"),
            ),
        ),
        # Mon 15:00-17:00 + Tue 09:00-11:00 Berlin: exactly 4h (20h on the wall), within.
        ticket(source, "T2", "P1", utc(2026, 3, 2, 14), resolved=utc(2026, 3, 3, 10)),
        # 6h open, 2h in the maintenance window: 4h, within, settled 15:30Z.
        ticket(source, "T6", "P1", utc(2026, 3, 4, 9, 30), resolved=utc(2026, 3, 4, 15, 30)),
        # 6h: late; settled when the clock passed 4h, at 12:00Z.
        ticket(source, "T7", "P1", utc(2026, 3, 5, 8), resolved=utc(2026, 3, 5, 14)),
        # Fri 16:00-17:00, the weekend off, Mon 09:00-11:30 Berlin: 3.5h, within.
        ticket(source, "T3", "P1", utc(2026, 3, 6, 15), resolved=utc(2026, 3, 9, 10, 30)),
        # Tue 15:00-17:00, Wednesday a holiday, Thu 09:00-10:30 Berlin: 3.5h, within.
        ticket(source, "T4", "P1", utc(2026, 3, 10, 14), resolved=utc(2026, 3, 12, 9, 30)),
        # Still open: Fri 2h + Mon 4h by AT: late, settled when it passed 4h (Mon 10:00Z).
        ticket(source, "T9", "P1", utc(2026, 3, 13, 14)),
        # Still open, 3h on the clock at AT: not settled, not counted.
        ticket(source, "T8", "P1", utc(2026, 3, 16, 9)),
        # Resolved in February: outside the window.
        ticket(source, "T12", "P1", utc(2026, 2, 26, 8), resolved=utc(2026, 2, 26, 9)),
        # A P1 on a component the SLA does not cover: never counted (it would be late).
        ticket(source, "T11", "P1", utc(2026, 3, 2, 8), resolved=utc(2026, 3, 6, 8), on="other"),
        # P2: answered after 45 min (within), resolved two days later (late for a P1).
        ticket(
            source,
            "T10",
            "P2",
            utc(2026, 3, 3, 8),
            responded=utc(2026, 3, 3, 8, 45),
            resolved=utc(2026, 3, 5, 15),
        ),
        # P2: answered after 1.5h: late, settled at 14:00Z when the clock passed 1h.
        ticket(
            source,
            "T13",
            "P2",
            utc(2026, 3, 4, 13),
            responded=utc(2026, 3, 4, 14, 30),
            resolved=utc(2026, 3, 4, 15),
        ),
        # P2 with no response time: the clock stops at its resolution, 40 min: within.
        ticket(source, "T14", "P2", utc(2026, 3, 5, 9), resolved=utc(2026, 3, 5, 9, 40)),
    ]


async def ticket_objectives(
    graph: Graph, builder: GraphBuilder, source: str
) -> dict[str, Objective]:
    """An ACTIVE SLA covering `svc` with the two ticket objectives, and the tickets."""
    _, author = await load(builder, [("svc", "db")], nodes=["other"])
    sla = await author(AgreementKind.SLA, "Service desk", ["svc"], [RESOLUTION, RESPONSE])
    await SyncRepository(graph).write_batch(f"{source}-itsm", incidents=tickets(source))
    found = (await AgreementRepository(graph).objectives_by_agreement_ids([sla]))[sla]
    return {o.name or "": o for o in found}


def settled(series: BucketSeries) -> dict[datetime, tuple[float, float]]:
    """(within, settled) by bucket, for the buckets where tickets settled."""
    return {
        series.start + timedelta(minutes=5 * int(i)): (
            float(series.good[i]),
            float(series.total[i]),
        )
        for i in np.flatnonzero(series.total > 0)
    }


async def test_each_ticket_settles_on_the_business_clock(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    objectives = await ticket_objectives(graph, builder, source)

    found = await StatusEngine(graph, OFFICE).series_between(list(objectives.values()), MARCH, AT)

    resolution = found[objectives["resolve-p1"].id]
    assert resolution.start == MARCH.start
    # Every bucket of the span is a measurement (most of them quiet): coverage is whole.
    assert not np.isnan(resolution.total).any()
    assert settled(resolution) == {
        utc(2026, 3, 2, 11): (1, 1),  # T1
        utc(2026, 3, 2, 13, 30): (1, 1),  # T5, thanks to its pause
        utc(2026, 3, 3, 10): (1, 1),  # T2, overnight not counted
        utc(2026, 3, 4, 15, 30): (1, 1),  # T6, thanks to the maintenance window
        utc(2026, 3, 5, 12): (0, 1),  # T7, late
        utc(2026, 3, 9, 10, 30): (1, 1),  # T3, over a weekend
        utc(2026, 3, 12, 9, 30): (1, 1),  # T4, over a holiday
        utc(2026, 3, 16, 10): (0, 1),  # T9, still open and late
    }
    assert settled(found[objectives["respond-p2"].id]) == {
        utc(2026, 3, 3, 8, 45): (1, 1),  # T10
        utc(2026, 3, 4, 14): (0, 1),  # T13
        utc(2026, 3, 5, 9, 40): (1, 1),  # T14
    }


async def test_without_the_holiday_pause_and_maintenance_those_tickets_settle_late(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    """The same office hours with no holiday, no pause state and no maintenance window:
    T5, T6 and T4 turn late; the rest settle as before."""
    objectives = await ticket_objectives(graph, builder, source)
    plain = OFFICE.model_copy(
        update={
            "business_hours": OFFICE.business_hours.model_copy(update={"holidays": []}),
            "pause_states": [],
            "maintenance_windows": [],
        }
    )
    resolution = objectives["resolve-p1"]

    found = await StatusEngine(graph, plain).series_between([resolution], MARCH, AT)

    assert settled(found[resolution.id]) == {
        utc(2026, 3, 2, 11): (1, 1),  # T1
        utc(2026, 3, 2, 12): (0, 1),  # T5: 4h by 12:00Z without its pause
        utc(2026, 3, 3, 10): (1, 1),  # T2
        utc(2026, 3, 4, 13, 30): (0, 1),  # T6: 4h by 13:30Z without the maintenance
        utc(2026, 3, 5, 12): (0, 1),  # T7
        utc(2026, 3, 9, 10, 30): (1, 1),  # T3
        utc(2026, 3, 11, 10): (0, 1),  # T4: Tue 2h + Wed 09:00-11:00 Berlin
        utc(2026, 3, 16, 10): (0, 1),  # T9
    }


async def test_ticket_statuses_count_settled_tickets_only(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    objectives = await ticket_objectives(graph, builder, source)
    resolution, response = objectives["resolve-p1"], objectives["respond-p2"]

    found = await ServiceLevels(graph, OFFICE).statuses([resolution, response], AT)

    by_resolution, by_response = found
    # 6 of the 8 settled P1 tickets within 4h; T8 is still running, T11 is elsewhere.
    assert (by_resolution.good, by_resolution.total) == (6, 8)
    assert by_resolution.compliance == 75.0
    assert by_resolution.data_coverage == 100.0
    assert by_resolution.budget_remaining == pytest.approx(100 * (1 - 0.25 / 0.3), rel=1e-9)
    # Only T9 settled in the last three days, late: 1 bad of 1 over every window from
    # two hours up; nothing settled in the last hour.
    rates = dict(by_resolution.burn_rates)
    assert rates == {
        300: None,
        1800: None,
        3600: None,
        7200: pytest.approx(1 / 0.3),
        21600: pytest.approx(1 / 0.3),
        86400: pytest.approx(1 / 0.3),
        259200: pytest.approx(1 / 0.3),
    }
    assert by_resolution.firing == (AlertPair(86400, 7200, 3.0), AlertPair(259200, 21600, 1.0))
    assert by_resolution.state is BudgetState.AT_RISK
    # Calendar forecast: 15.5 days measured, 1/6 of the budget left, burning at 10/3x.
    expected = AT + timedelta(seconds=15.5 * 86400 * (1 / 6) / (10 / 3 - 1))
    assert by_resolution.forecast.at is not None
    assert abs((by_resolution.forecast.at - expected).total_seconds()) < 1

    # 2 of the 3 P2 tickets answered within the hour; P1 tickets are not counted.
    assert (by_response.good, by_response.total) == (2, 3)
    assert by_response.compliance == pytest.approx(200 / 3)
    assert by_response.budget_remaining == pytest.approx(100 * (1 - (1 / 3) / 0.2))
    assert by_response.state is BudgetState.EXHAUSTED


# ---- telemetry sources ---------------------------------------------------------------

SOURCES_AT = utc(2026, 3, 1, 2)  # two hours into March: 24 buckets


def buckets(start: datetime, values: dict[int, tuple[float, float]]) -> BucketSeries:
    """A series from `start` with (good, total) in the buckets given by index."""
    size = max(values) + 1
    good, total = np.full(size, np.nan), np.full(size, np.nan)
    for index, (g, t) in values.items():
        good[index], total[index] = g, t
    return BucketSeries(start, good, total)


async def bound_objective(graph: Graph, builder: GraphBuilder) -> tuple[Objective, SloSettings]:
    _, author = await load(builder, [("svc", "db")])
    spec = ObjectiveSpec(
        indicator=Indicator.AVAILABILITY, target=99.0, window_kind=WindowKind.CALENDAR_MONTH
    )
    sla = await author(AgreementKind.SLA, "Shop", ["svc"], [spec])
    objective = (await AgreementRepository(graph).objectives_by_agreement_ids([sla]))[sla][0]
    settings = SloSettings(
        bindings=[
            TelemetryBinding(objective=objective.id, source="prometheus", good="ok", total="all"),
            TelemetryBinding(
                objective=objective.id, source="datadog", role="secondary", good="ok", total="all"
            ),
        ]
    )
    return objective, settings


# Primary: buckets 0-11 (00:00-01:00), all good but bucket 5 (90 of 100).
PRIMARY = {n: (90.0 if n == 5 else 100.0, 100.0) for n in range(12)}
# Secondary: buckets 3-17, twice the traffic; it sees bucket 5 as all good, bucket 4
# 0.4 points worse than the primary (within the 0.5 tolerance), and fills 12-17 with
# 90% each. Buckets 18-23 have no data at all.
SECONDARY = {
    **dict.fromkeys(range(3, 12), (200.0, 200.0)),
    4: (199.2, 200.0),
    **dict.fromkeys(range(12, 18), (180.0, 200.0)),
}


async def test_the_primary_wins_where_both_sources_have_data_and_the_secondary_fills_gaps(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, settings = await bound_objective(graph, builder)
    telemetry = TelemetryRepository(graph)
    await telemetry.store(objective.id, "prometheus", buckets(MARCH.start, PRIMARY))
    await telemetry.store(objective.id, "datadog:secondary", buckets(MARCH.start, SECONDARY))

    (status,) = await ServiceLevels(graph, settings).statuses([objective], SOURCES_AT)

    # Buckets 0-11 from the primary (1190 of 1200), 12-17 from the secondary (1080 of 1200).
    assert (status.good, status.total) == (2270.0, 2400.0)
    assert status.compliance == pytest.approx(100 * 2270 / 2400)
    assert status.data_coverage == 75.0  # 18 of the 24 buckets
    assert status.budget_remaining == pytest.approx(100 * (1 - (130 / 2400) / 0.01))
    assert status.state is BudgetState.EXHAUSTED

    # Without its bindings the objective has no source at all.
    (unbound,) = await ServiceLevels(graph, SloSettings()).statuses([objective], SOURCES_AT)
    assert (unbound.good, unbound.total, unbound.state) == (None, None, BudgetState.NO_DATA)


async def test_reconcile_flags_buckets_where_the_sources_disagree_and_clears_them(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, settings = await bound_objective(graph, builder)
    telemetry = TelemetryRepository(graph)
    await telemetry.store(objective.id, "prometheus", buckets(MARCH.start, PRIMARY))
    await telemetry.store(objective.id, "datadog:secondary", buckets(MARCH.start, SECONDARY))
    day = Window(MARCH.start, MARCH.start + timedelta(days=1))

    await reconcile(telemetry, objective, Window(MARCH.start, SOURCES_AT), settings)

    flagged = await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(day))])
    assert flagged == [
        [
            Discrepancy(
                objective.id,
                utc(2026, 3, 1, 0, 25),
                "prometheus",
                "datadog:secondary",
                90.0,
                100.0,
            )
        ]
    ]
    # Outside the asked span nothing is listed.
    later = Window(utc(2026, 3, 1, 0, 30), utc(2026, 3, 2))
    assert await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(later))]) == [
        []
    ]

    # The secondary is corrected: the sources agree again and the flag goes.
    await telemetry.store(objective.id, "datadog:secondary", buckets(MARCH.start, {5: (180, 200)}))
    await reconcile(telemetry, objective, Window(MARCH.start, SOURCES_AT), settings)
    assert await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(day))]) == [[]]


def _span(window: Window) -> tuple[datetime, datetime]:
    return window.start, window.end
