"""The status engine over a real graph: ticket clocks and telemetry sources.

Ticket objectives read the incidents of the components their SLA covers (written the
way a sync writes them) and settle each ticket on the configured calendar: an office
in Berlin, 09:00-17:00 Monday to Friday (08:00-16:00 UTC in March 2026, before the
clocks change on the 29th), with Wednesday 11 March off, a "Pending customer" pause
and an approved maintenance exception. March 2026 starts on a Sunday. Every expected outcome below
is worked out by hand from those rules.

Telemetry objectives read the buckets stored under their sources: the primary wins
wherever it has data, the secondary fills its gaps, and `reconcile` flags the buckets
where the two disagree by more than the tolerance.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from slo_support import (
    OFFICE,
    bound_sla,
    march,
    objective_spec,
    objectives_of,
    store,
    store_two_sources,
    ticket,
    ticket_sla,
    utc,
)
from support import GraphBuilder

from hub.domain.buckets import BucketSeries
from hub.domain.budget import AlertPair, BudgetState
from hub.domain.models import Indicator, Objective
from hub.domain.sources import SourceIncident
from hub.domain.windows import Window
from hub.engine.service import ServiceLevels
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository
from hub.settings import SloSettings
from hub.sync.telemetry import reconcile

MARCH = Window(march(1), utc(2026, 4, 1))
AT = march(16, 12)  # a Monday, mid-month

RESOLUTION = objective_spec(
    Indicator.RESOLUTION_TIME, 70.0, threshold=4 * 3600, priority="P1", name="resolve-p1"
)
RESPONSE = objective_spec(
    Indicator.RESPONSE_TIME, 80.0, threshold=3600, priority="P2", name="respond-p2"
)


def tickets(source: str) -> list[SourceIncident]:
    """P1 tickets for the 4-hour resolution objective, P2 ones for the 1-hour response
    objective; the comment of each gives its business time and how it settles."""
    return [
        # 3h (Mon 09:00-12:00 Berlin): within, settled at 11:00Z.
        ticket(source, "T1", "P1", march(2, 8), resolved=march(2, 11)),
        # 5.5h open, 3h of it pending the customer: 2.5h, within, settled 13:30Z.
        ticket(
            source,
            "T5",
            "P1",
            march(2, 8),
            resolved=march(2, 13, 30),
            history=(
                (march(2, 8), "New"),
                (march(2, 9), "Pending customer"),
                (march(2, 12), "Work in progress"),
            ),
        ),
        # Mon 15:00-17:00 + Tue 09:00-11:00 Berlin: exactly 4h (20h on the wall), within.
        ticket(source, "T2", "P1", march(2, 14), resolved=march(3, 10)),
        # 6h open, 2h in the maintenance window: 4h, within, settled 15:30Z.
        ticket(source, "T6", "P1", march(4, 9, 30), resolved=march(4, 15, 30)),
        # 6h: late; settled when the clock passed 4h, at 12:00Z.
        ticket(source, "T7", "P1", march(5, 8), resolved=march(5, 14)),
        # Fri 16:00-17:00, the weekend off, Mon 09:00-11:30 Berlin: 3.5h, within.
        ticket(source, "T3", "P1", march(6, 15), resolved=march(9, 10, 30)),
        # Tue 15:00-17:00, Wednesday a holiday, Thu 09:00-10:30 Berlin: 3.5h, within.
        ticket(source, "T4", "P1", march(10, 14), resolved=march(12, 9, 30)),
        # Still open: Fri 2h + Mon 4h by AT: late, settled when it passed 4h (Mon 10:00Z).
        ticket(source, "T9", "P1", march(13, 14)),
        # Still open, 3h on the clock at AT: not settled, not counted.
        ticket(source, "T8", "P1", march(16, 9)),
        # Resolved in February: outside the window.
        ticket(source, "T12", "P1", utc(2026, 2, 26, 8), resolved=utc(2026, 2, 26, 9)),
        # A P1 on a component the SLA does not cover: never counted (it would be late).
        ticket(source, "T11", "P1", march(2, 8), resolved=march(6, 8), on="other"),
        # P2: answered after 45 min (within), resolved two days later (late for a P1).
        ticket(source, "T10", "P2", march(3, 8), responded=march(3, 8, 45), resolved=march(5, 15)),
        # P2: answered after 1.5h: late, settled at 14:00Z when the clock passed 1h.
        ticket(
            source, "T13", "P2", march(4, 13), responded=march(4, 14, 30), resolved=march(4, 15)
        ),
        # P2 with no response time: the clock stops at its resolution, 40 min: within.
        ticket(source, "T14", "P2", march(5, 9), resolved=march(5, 9, 40)),
    ]


async def ticket_objectives(
    graph: Graph, builder: GraphBuilder, source: str, maintenance: bool = True
) -> dict[str, Objective]:
    """An ACTIVE SLA covering `svc` with the two ticket objectives, and the tickets (and,
    with `maintenance`, the approved maintenance exception of `svc`)."""
    sla = await ticket_sla(builder, [RESOLUTION, RESPONSE], tickets(source), maintenance)
    return {o.name or "": o for o in await objectives_of(graph, sla)}


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
        march(2, 11): (1, 1),  # T1
        march(2, 13, 30): (1, 1),  # T5, thanks to its pause
        march(3, 10): (1, 1),  # T2, overnight not counted
        march(4, 15, 30): (1, 1),  # T6, thanks to the maintenance window
        march(5, 12): (0, 1),  # T7, late
        march(9, 10, 30): (1, 1),  # T3, over a weekend
        march(12, 9, 30): (1, 1),  # T4, over a holiday
        march(16, 10): (0, 1),  # T9, still open and late
    }
    assert settled(found[objectives["respond-p2"].id]) == {
        march(3, 8, 45): (1, 1),  # T10
        march(4, 14): (0, 1),  # T13
        march(5, 9, 40): (1, 1),  # T14
    }


async def test_without_the_holiday_pause_and_maintenance_those_tickets_settle_late(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    """The same office hours with no holiday, no pause state and no maintenance
    exception: T5, T6 and T4 turn late; the rest settle as before."""
    objectives = await ticket_objectives(graph, builder, source, maintenance=False)
    plain = OFFICE.model_copy(
        update={
            "business_hours": OFFICE.business_hours.model_copy(update={"holidays": []}),
            "pause_states": [],
        }
    )
    resolution = objectives["resolve-p1"]

    found = await StatusEngine(graph, plain).series_between([resolution], MARCH, AT)

    assert settled(found[resolution.id]) == {
        march(2, 11): (1, 1),  # T1
        march(2, 12): (0, 1),  # T5: 4h by 12:00Z without its pause
        march(3, 10): (1, 1),  # T2
        march(4, 13, 30): (0, 1),  # T6: 4h by 13:30Z without the maintenance
        march(5, 12): (0, 1),  # T7
        march(9, 10, 30): (1, 1),  # T3
        march(11, 10): (0, 1),  # T4: Tue 2h + Wed 09:00-11:00 Berlin
        march(16, 10): (0, 1),  # T9
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

SOURCES_AT = march(1, 2)  # two hours into March: 24 buckets


async def test_the_primary_wins_where_both_sources_have_data_and_the_secondary_fills_gaps(
    graph: Graph, builder: GraphBuilder
) -> None:
    objective, settings = await bound_sla(graph, builder, secondary=True)
    await store_two_sources(graph, objective.id, MARCH.start)

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
    objective, settings = await bound_sla(graph, builder, secondary=True)
    await store_two_sources(graph, objective.id, MARCH.start)
    telemetry = TelemetryRepository(graph)
    day = Window(MARCH.start, MARCH.start + timedelta(days=1))

    await reconcile(telemetry, objective, Window(MARCH.start, SOURCES_AT), settings)

    flagged = await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(day))])
    assert flagged == [
        [
            Discrepancy(
                objective.id,
                march(1, 0, 25),
                "prometheus",
                "datadog:secondary",
                90.0,
                100.0,
            )
        ]
    ]
    # Outside the asked span nothing is listed.
    later = Window(march(1, 0, 30), march(2))
    assert await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(later))]) == [
        []
    ]

    # The secondary is corrected: the sources agree again and the flag goes.
    bucket_5 = MARCH.start + timedelta(minutes=25)
    await store(graph, objective.id, bucket_5, [180], [200], source="datadog:secondary")
    await reconcile(telemetry, objective, Window(MARCH.start, SOURCES_AT), settings)
    assert await ServiceLevels(graph, settings).discrepancies([(objective.id, *_span(day))]) == [[]]


def _span(window: Window) -> tuple[datetime, datetime]:
    return window.start, window.end
