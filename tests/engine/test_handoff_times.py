"""Handoff times measured from the tickets' assignment history.

A ticket on `svc` goes network -> database -> application. An OLA provided by the
database team times, with its HANDOFF_TIME objective, the database team's span of each
ticket (from getting it to handing it on), not the ticket's resolution; an SLA's
HANDOFF_TIME objective times the first handoff. The calendar is the default one
(Monday to Friday, 09:00-17:00 UTC); Monday 2 March 2026 is a working day, and every
time below is inside it. Outcomes are worked out by hand.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
from slo_support import march, objective_spec, objectives_of
from support import GraphBuilder, load

from hub.domain.buckets import BucketSeries
from hub.domain.handoffs import GroupChange, assignments
from hub.domain.models import AgreementKind, Indicator, Objective, WindowKind
from hub.domain.sources import SourceIncident
from hub.domain.windows import Window
from hub.engine.status import StatusEngine, TicketRules, ticket_times
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.settings import SloSettings

MARCH = Window(march(1), march(31))
AT = march(16, 12)
THRESHOLD = 2 * 3600
OLA_HANDOFF = objective_spec(Indicator.HANDOFF_TIME, 50.0, threshold=THRESHOLD, name="db-handoff")
SLA_HANDOFF = objective_spec(Indicator.HANDOFF_TIME, 50.0, threshold=THRESHOLD, name="handoff")
TEAMS = ["network", "database", "application"]


def handed(
    source: str,
    key: str,
    opened: datetime,
    resolved: datetime,
    *moves: tuple[datetime, str, str],
) -> SourceIncident:
    """A ticket on `svc`, opened in the first move's team (none without moves) and moved
    ``(at, from team, to team)``; team refs are `source`'s external ids of the teams."""
    changes = [GroupChange(at, f"{source}:{old}", f"{source}:{new}") for at, old, new in moves]
    return SourceIncident(
        source=f"{source}-itsm",
        external_id=key,
        updated_at=resolved,
        state="Resolved",
        opened_at=opened,
        resolved_at=resolved,
        assignments=assignments(opened, changes),
        component_refs=(f"{source}:svc",),
    )


def settled(series: BucketSeries) -> dict[datetime, tuple[float, float]]:
    """(within, settled) by the bucket the tickets settled in."""
    return {
        series.start + timedelta(minutes=5 * int(i)): (
            float(series.good[i]),
            float(series.total[i]),
        )
        for i in np.flatnonzero(series.total > 0)
    }


async def test_an_ola_times_its_provider_teams_span_and_an_sla_the_first_handoff(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    _, author = await load(builder, [], services=["svc"])
    teams = [{"externalId": team, "name": team.title()} for team in TEAMS]
    await builder.load([], services=["svc"], extra={"teams": teams})
    author.ids.update(team=(await builder.ids(TEAMS))["database"])
    ola = await author(AgreementKind.OLA, "Database OLA", ["svc"], [OLA_HANDOFF])
    sla = await author(AgreementKind.SLA, "Service desk", ["svc"], [SLA_HANDOFF])
    [by_ola] = await objectives_of(graph, ola)
    [by_sla] = await objectives_of(graph, sla)
    tickets = [
        # network 09:00-09:20 (t1), database 09:20-10:50 (t2), application until 12:00.
        handed(
            source,
            "T",
            march(2, 9),
            march(2, 12),
            (march(2, 9, 20), "network", "database"),
            (march(2, 10, 50), "database", "application"),
        ),
        # network 09:00-09:30, then application: never the database team's.
        handed(source, "U", march(2, 9), march(2, 10), (march(2, 9, 30), "network", "application")),
        # No assignment history: the fallback, opening to resolution (45 minutes).
        handed(source, "V", march(2, 13), march(2, 13, 45)),
    ]
    await SyncRepository(graph).write_batch(f"{source}-itsm", incidents=tickets)

    found = await StatusEngine(graph, SloSettings()).series_between([by_ola, by_sla], MARCH, AT)

    # T: the database team held it t2 - t1 = 1.5 h (within 2 h), settled at t2; measured
    # to the resolution (09:20-12:00, 2 h 40) it would be late at 11:20. U is not
    # counted. V: 45 minutes, within.
    assert settled(found[by_ola.id]) == {march(2, 10, 50): (1, 1), march(2, 13, 45): (1, 1)}
    # The SLA times the first handoff: T at 09:20 (20 min), U at 09:30, V at 13:45.
    assert settled(found[by_sla.id]) == {
        march(2, 9, 20): (1, 1),
        march(2, 9, 30): (1, 1),
        march(2, 13, 45): (1, 1),
    }


def test_a_span_matches_the_provider_team_by_external_ref_or_by_its_id() -> None:
    spans = assignments(
        march(2, 9),
        [
            GroupChange(march(2, 9, 20), "sn:net", "jira:team_db"),
            GroupChange(march(2, 10), "jira:team_db", "sn:app"),
        ],
    )
    ticket = {
        "openedAt": "2026-03-02T09:00:00.000000Z",
        "resolvedAt": "2026-03-02T11:00:00.000000Z",
        "handedOffAt": "2026-03-02T09:20:00.000000Z",
        "assignments": json.dumps([span.to_json() for span in spans]),
    }
    rules = TicketRules.of(SloSettings())
    handoff = Objective(
        "o", Indicator.HANDOFF_TIME, 50.0, THRESHOLD, WindowKind.CALENDAR_MONTH, None, None
    )

    by_id = ticket_times(handoff, ticket, rules.for_provider_team(frozenset({"team_db"})), AT)
    by_ref = ticket_times(
        handoff, ticket, rules.for_provider_team(frozenset({"team_x", "jira:team_db"})), AT
    )
    other = ticket_times(handoff, ticket, rules.for_provider_team(frozenset({"team_x"})), AT)
    first = ticket_times(handoff, ticket, rules, AT)

    assert by_id is not None
    assert (by_id.opened, by_id.stop) == (march(2, 9, 20), march(2, 10))
    assert by_ref == by_id
    assert other is None
    assert first is not None
    assert (first.opened, first.stop) == (march(2, 9), march(2, 9, 20))
