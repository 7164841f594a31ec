"""An SLA's supported hours replace the configured business hours for the ticket
clocks of its objectives.

Two SLAs cover the same service and so read the same tickets: one with Berlin office
hours (Monday to Friday, 08:00-18:00 Europe/Berlin: 07:00-17:00 UTC in March 2026
until the clocks change on Sunday the 29th, 06:00-16:00 UTC after), one without
supported hours, on a hub whose configured business hours run around the clock.
March 2026 starts on a Sunday. Every expected clock below is worked out by hand.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import numpy as np
from slo_support import march, objective_spec, objectives_of, ticket, utc
from support import GraphBuilder, load

from hub.domain.buckets import BucketSeries
from hub.domain.models import AgreementKind, Indicator, Objective
from hub.domain.sources import SourceIncident
from hub.domain.terms import SupportHoursSpec
from hub.domain.windows import Window
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.settings import BusinessHoursSettings, SloSettings

MARCH = Window(march(1), utc(2026, 4, 1))
AT = march(31, 12)  # a Tuesday
AROUND_THE_CLOCK = SloSettings(
    business_hours=BusinessHoursSettings(
        time_zone="UTC", working_days=list(range(7)), day_start=time(0), day_end=time(0)
    ),
    pause_states=[],
)
BERLIN_OFFICE = SupportHoursSpec(
    time_zone="Europe/Berlin", days=(1, 2, 3, 4, 5), start="08:00", end="18:00"
)
RESOLUTION = objective_spec(
    Indicator.RESOLUTION_TIME, 50.0, threshold=4 * 3600, priority="P1", name="resolve-p1"
)
RESPONSE = objective_spec(
    Indicator.RESPONSE_TIME, 50.0, threshold=3600, priority="P2", name="respond-p2"
)


def tickets(source: str) -> list[SourceIncident]:
    """Each comment gives the ticket's clock around the clock / in Berlin office hours."""
    return [
        # Mon 05:00-10:00Z. 5h: late at 09:00Z / 07:00-10:00Z, 3h: within.
        ticket(source, "R1", "P1", march(2, 5), resolved=march(2, 10)),
        # Fri 15:00Z to Mon 08:00Z. 65h: late at Fri 19:00Z / Fri 15:00-17:00Z and Mon
        # 07:00-08:00Z, 3h: within.
        ticket(source, "R2", "P1", march(6, 15), resolved=march(9, 8)),
        # Tue 12:00-14:00Z. 2h / 2h: within either way.
        ticket(source, "R3", "P1", march(10, 12), resolved=march(10, 14)),
        # Fri 27 15:00Z to Mon 30 08:30Z, over the change to summer time. Late at Fri
        # 19:00Z / Fri 15:00-17:00Z (2h), Mon from 08:00 CEST = 06:00Z: 4h at 08:00Z, late.
        ticket(source, "R4", "P1", march(27, 15), resolved=march(30, 8, 30)),
        # Mon 06:30Z, answered 07:45Z. 75 min: late at 07:30Z / 07:00-07:45Z: within.
        ticket(
            source, "Q1", "P2", march(2, 6, 30), responded=march(2, 7, 45), resolved=march(2, 12)
        ),
        # Tue 18:00Z, answered Wed 07:30Z. 13.5h: late at Tue 19:00Z / Wed 07:00-07:30Z:
        # within.
        ticket(source, "Q2", "P2", march(3, 18), responded=march(4, 7, 30), resolved=march(4, 9)),
    ]


def settled(series: BucketSeries) -> dict[datetime, tuple[float, float]]:
    """(within, settled) by bucket, for the buckets where tickets settled."""
    return {
        series.start + timedelta(minutes=5 * int(i)): (
            float(series.good[i]),
            float(series.total[i]),
        )
        for i in np.flatnonzero(series.total > 0)
    }


async def two_slas(graph: Graph, builder: GraphBuilder, source: str) -> dict[str, Objective]:
    """Both SLAs' objectives, keyed `<office|always>-<name>`."""
    _, author = await load(builder, [("svc", "db")])
    office = await author(
        AgreementKind.SLA,
        "Office hours",
        ["svc"],
        [RESOLUTION, RESPONSE],
        support_hours=BERLIN_OFFICE,
    )
    always = await author(AgreementKind.SLA, "Around the clock", ["svc"], [RESOLUTION, RESPONSE])
    await SyncRepository(graph).write_batch(f"{builder.source}-itsm", incidents=tickets(source))
    found = {}
    for label, sla in (("office", office), ("always", always)):
        for objective in await objectives_of(graph, sla):
            found[f"{label}-{objective.name}"] = objective
    return found


async def test_supported_hours_replace_the_business_hours_of_ticket_clocks(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    objectives = await two_slas(graph, builder, source)

    found = await StatusEngine(graph, AROUND_THE_CLOCK).series_between(
        list(objectives.values()), MARCH, AT
    )

    def of(name: str) -> dict[datetime, tuple[float, float]]:
        return settled(found[objectives[name].id])

    assert of("office-resolve-p1") == {
        march(2, 10): (1, 1),  # R1
        march(9, 8): (1, 1),  # R2, over the weekend
        march(10, 14): (1, 1),  # R3
        march(30, 8): (0, 1),  # R4, in summer time
    }
    assert of("always-resolve-p1") == {
        march(2, 9): (0, 1),  # R1
        march(6, 19): (0, 1),  # R2
        march(10, 14): (1, 1),  # R3
        march(27, 19): (0, 1),  # R4
    }
    assert of("office-respond-p2") == {march(2, 7, 45): (1, 1), march(4, 7, 30): (1, 1)}
    assert of("always-respond-p2") == {march(2, 7, 30): (0, 1), march(3, 19): (0, 1)}


async def test_the_status_of_each_sla_follows_its_own_clock(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    objectives = await two_slas(graph, builder, source)
    names = ["office-resolve-p1", "always-resolve-p1"]

    office, always = await StatusEngine(graph, AROUND_THE_CLOCK).statuses(
        [objectives[n] for n in names], AT
    )

    assert office.compliance == 75.0  # 3 of 4 within
    assert always.compliance == 25.0  # 1 of 4
