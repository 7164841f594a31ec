"""Statuses at many instants, computed together, equal the ones computed one at a time.

The portal's objective page asks each objective's status now and at 14 past instants
(`hub/portal/static/views.js`): `StatusEngine.statuses_at` reads the telemetry days,
exceptions and tickets of all of them once, over the union of their spans, and cuts
each pair's own days and windows out of that read. Here every objective of the demo's
agreements (telemetry and ticket objectives, calendar and rolling windows, and the B2B
SLA whose maintenance window is an approved exception) is judged at 15 instants, and
each status must equal, field for field, the one the engine gives for that pair alone
from `series_between` over its own span.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest
from slo_support import bound, excuse, objective_spec, objectives_of, store, utc
from support import GraphBuilder, listening, load

from hub.demo import demo_bundle, load_demo
from hub.domain.budget import BudgetState, ObjectiveStatus, objective_status
from hub.domain.models import AgreementKind, Objective, WindowKind
from hub.engine.service import ServiceLevels
from hub.engine.status import StatusEngine, alert_pairs, measured_span
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.agreements import AgreementFilter
from hub.settings import SloSettings, TelemetryBinding

# The newest instant is off the bucket grid; the others go back two days at a time, as
# the portal's are, across the October/November month boundary. The last one lies in
# the B2B SLA's approved maintenance window (12 September 22:00 to 13 September 02:00).
NEWEST = datetime.fromisoformat("2026-11-04T09:17:42.5+00:00")
INSTANTS = (
    *(NEWEST - timedelta(days=2 * n) for n in range(14)),
    utc(2026, 9, 13, 1, 2),
)


@pytest.fixture(scope="module")
async def demo_objectives(graph: Graph) -> list[Objective]:
    """Every objective of every version of the demo's agreements."""
    await load_demo(graph)
    names = {a["name"] for a in demo_bundle()["agreements"]}
    agreements = await AgreementRepository(graph).find(AgreementFilter(), limit=10_000)
    ids = [a.id for a in agreements if a.name in names]
    found = await AgreementRepository(graph).objectives_by_agreement_ids(ids)
    return sorted((o for listed in found.values() for o in listed), key=lambda o: o.id)


async def one_at_a_time(
    engine: StatusEngine, settings: SloSettings, objective: Objective, at: datetime
) -> ObjectiveStatus:
    """The status of one pair from its own reads of its own span."""
    window, span = measured_span(objective, at)
    series = (await engine.series_between([objective], span, at))[objective.id]
    return objective_status(series, objective.target, window, at, alert_pairs(settings))


async def test_statuses_at_many_instants_equal_those_one_at_a_time(
    graph: Graph, demo_objectives: list[Objective]
) -> None:
    settings = SloSettings()
    engine = StatusEngine(graph, settings)
    pairs = [(o, at) for o in demo_objectives for at in INSTANTS]

    with listening(graph) as log:
        together = await engine.statuses_at(pairs)
    alone = [await one_at_a_time(engine, settings, o, at) for o, at in pairs]

    assert together == alone
    # One read of each kind for all the pairs (telemetry: one per distinct union of
    # an objective's spans, so per kind of window here).
    sent = Counter(log.names)
    unions = {
        (measured_span(o, INSTANTS[-1])[1].start, measured_span(o, NEWEST)[1].end)
        for o in demo_objectives
        if not o.indicator.ticket_time
    }
    assert sent.pop("telemetry.TELEMETRY_DAYS") == len(unions)
    assert sent.pop("service_levels.OBJECTIVE_PROVIDER_TEAMS", 0) <= 1
    assert sent == Counter({"exceptions.EXCUSED_WINDOWS": 1, "service_levels.OBJECTIVE_TICKETS": 1})
    # Not a comparison of empty statuses: telemetry and tickets both counted, and the
    # page spans several states.
    ticket = [s for (o, _), s in zip(pairs, together, strict=True) if o.indicator.ticket_time]
    measured = [s for (o, _), s in zip(pairs, together, strict=True) if not o.indicator.ticket_time]
    assert any(s.total for s in ticket)
    assert sum(s.compliance is not None for s in measured) >= 2 * len(INSTANTS)
    assert {BudgetState.HEALTHY, BudgetState.EXHAUSTED} <= {s.state for s in together}


async def test_the_loader_path_dedupes_pairs_and_keeps_their_order(
    graph: Graph, demo_objectives: list[Objective]
) -> None:
    """`ServiceLevels.statuses_at` (the GraphQL loader's batch): a pair asked twice
    gets the same status, every key its own, in the order asked."""
    service_levels = ServiceLevels(graph, SloSettings())
    keys = [(o, at) for at in INSTANTS[:3] for o in demo_objectives]
    keys += keys[:5]

    found = await service_levels.statuses_at(keys)

    by_instant = {at: await service_levels.statuses(demo_objectives, at) for at in INSTANTS[:3]}
    expected = [by_instant[at][demo_objectives.index(o)] for o, at in keys]
    assert found == expected


async def test_fractional_telemetry_and_touching_exceptions_agree_to_the_last_bit(
    graph: Graph, builder: GraphBuilder
) -> None:
    """The demo's counts are whole numbers, whose sums are exact however they are
    taken. Here the buckets hold fractions from two sources (the primary with gaps the
    secondary fills), and two approved exceptions touch: one of them overlaps only
    some of the pairs' spans, so each pair must cut out its own days and windows for its
    sums to come out the same to the last bit as a read of its own span."""
    ids, author = await load(builder, [("shop", "db")])
    specs = [
        objective_spec(target=99.5, name="month"),
        objective_spec(target=99.0, window=WindowKind.ROLLING, window_days=7, name="week"),
    ]
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], specs)
    objectives = await objectives_of(graph, sla)
    settings = bound(*(o.id for o in objectives))
    settings.bindings.extend(
        TelemetryBinding(objective=o.id, source="datadog", role="secondary", good="ok", total="all")
        for o in objectives
    )
    start = utc(2026, 8, 1)
    count = 75 * 288  # to mid-October
    rng = np.random.default_rng(13)
    for o in objectives:
        for source, missing in (("prometheus", 0.2), ("datadog:secondary", 0.05)):
            total = rng.uniform(50.0, 150.0, count)
            good = total * rng.uniform(0.97, 1.0, count)
            gaps = rng.random(count) < missing
            good[gaps] = total[gaps] = np.nan
            await store(graph, o.id, start, good, total, source=source)
    # Touching windows on 21 September, the day the rolling week of the instant of
    # 28 September 16:52 starts on (at 16:50): the second overlaps that week, the first
    # only its day. Read alone, that pair sees the second; the month sees both.
    await excuse(graph, [ids["shop"]], utc(2026, 9, 21, 1), utc(2026, 9, 21, 5))
    await excuse(graph, [ids["shop"]], utc(2026, 9, 21, 5), utc(2026, 9, 21, 18))
    newest = datetime.fromisoformat("2026-10-12T17:41:09+00:00")
    instants = [newest - timedelta(days=2 * n, minutes=7 * n) for n in range(15)]
    engine = StatusEngine(graph, settings)
    pairs = [(o, at) for o in objectives for at in instants]

    together = await engine.statuses_at(pairs)
    alone = [await one_at_a_time(engine, settings, o, at) for o, at in pairs]

    assert together == alone
    assert all(s.compliance is not None for s in together)
    assert len({s.budget_remaining for s in together}) == len(pairs)
