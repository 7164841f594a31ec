"""The pushed days a writer keeps (`hub.graph.repositories.push.PushedDays`): a day it
wrote last is written in one statement, without reading it back, while the graph holds
it as written; it is read and written anew as soon as anything else wrote it; only
committed writes are kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from slo_support import sla_objectives
from support import GraphBuilder

from hub.domain.models import Indicator, Objective
from hub.domain.push import PUSH_SOURCE, DayMeasure, PointSet, PushKind, day_series
from hub.domain.windows import Window
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher, statement_name
from hub.graph.cypher import push as q
from hub.graph.cypher import telemetry as telemetry_q
from hub.graph.ids import utc_now
from hub.graph.repositories.push import PushedDays, PushRepository
from hub.graph.repositories.telemetry import TelemetryRepository, day_key, day_props


@pytest.fixture
def hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def minutes(hour: datetime, first: int, count: int, good: float) -> PointSet:
    times = [(hour + timedelta(minutes=m)).timestamp() for m in range(first, first + count)]
    return PointSet.of(PushKind.EVENTS, times, [good] * count, [10.0] * count)


async def sent_by(graph: Graph, store: Awaitable[int]) -> list[str]:
    """The statements that awaiting `store` sends."""
    sent: list[str] = []

    def listener(statement: Cypher) -> None:
        sent.append(statement_name(statement))

    graph.add_listener(listener)
    try:
        await store
    finally:
        graph.remove_listener(listener)
    return sent


async def day_buckets(graph: Graph, objective: Objective, hour: datetime) -> np.ndarray:
    midnight = datetime(hour.year, hour.month, hour.day, tzinfo=UTC)
    series = await TelemetryRepository(graph).series(
        objective.id, PUSH_SOURCE, Window(midnight, midnight + timedelta(days=1))
    )
    return series.good[series.index_of(midnight) :][:288]


async def test_a_day_written_last_here_is_not_read_back_and_comes_out_the_same(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "kept-day")
    days = PushedDays()
    cached, plain = PushRepository(graph, days), PushRepository(graph)
    measure = DayMeasure(objective, datetime.now(UTC))
    first, second = minutes(hour, 1, 30, 7.0), minutes(hour, 20, 30, 9.0)

    await cached.store(objective.id, first, measure)
    sent = await sent_by(graph, cached.store(objective.id, second, measure))

    assert sent == ["push.UPDATE_PUSHED_DAYS_IF_UNCHANGED"]
    stored = await plain.points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    whole = first.replaced_by(second)
    assert stored.times.tolist() == whole.times.tolist()
    assert stored.good.tolist() == whole.good.tolist()
    np.testing.assert_array_equal(
        await day_buckets(graph, objective, hour),
        day_series(objective, whole, hour.date(), measure.now).good,
    )


async def test_a_day_written_elsewhere_since_is_read_again_and_loses_nothing(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "shared-day")
    here, elsewhere = PushRepository(graph, PushedDays()), PushRepository(graph, PushedDays())
    measure = DayMeasure(objective, datetime.now(UTC))
    ours, theirs, again = (minutes(hour, m, 5, float(m)) for m in (1, 10, 20))

    await here.store(objective.id, ours, measure)
    await elsewhere.store(objective.id, theirs, measure)  # another process, say
    sent = await sent_by(graph, here.store(objective.id, again, measure))

    assert sent == [
        "push.UPDATE_PUSHED_DAYS_IF_UNCHANGED",  # not written: changed since
        "push.LOCK_PUSHED_DAYS",
        "telemetry.UPSERT_TELEMETRY_DAYS",
    ]
    stored = await PushRepository(graph).points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    assert stored.good.tolist() == [1.0] * 5 + [10.0] * 5 + [20.0] * 5


async def test_a_write_that_failed_is_not_kept(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "failed-day")
    days = PushedDays()
    measure = DayMeasure(objective, datetime.now(UTC))
    await PushRepository(graph, days).store(objective.id, minutes(hour, 1, 5, 1.0), measure)
    key = day_key(objective.id, PUSH_SOURCE, hour.date())
    kept = days.get(key)

    def fail_after_the_write(statement: Cypher, seconds: float) -> None:
        if statement is q.UPDATE_PUSHED_DAYS_IF_UNCHANGED:
            raise RuntimeError("the transaction fails after the day was sent")

    failing = Graph.connect(graph_connection)
    failing.add_timer(fail_after_the_write)
    try:
        with pytest.raises(RuntimeError, match="after the day was sent"):
            await PushRepository(failing, days).store(
                objective.id, minutes(hour, 6, 5, 2.0), measure
            )
    finally:
        await failing.close()

    assert kept is not None
    assert days.get(key) is kept
    await PushRepository(graph, days).store(objective.id, minutes(hour, 11, 5, 3.0), measure)
    stored = await PushRepository(graph).points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    assert stored.good.tolist() == [1.0] * 5 + [3.0] * 5


async def test_the_days_kept_are_bounded_the_least_recently_written_going_first(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    objectives = await sla_objectives(builder, *(f"bounded-{n}" for n in range(4)))
    by_days, by_points = PushedDays(size=2), PushedDays(max_points=12)
    now = datetime.now(UTC)
    keys = [day_key(o.id, PUSH_SOURCE, hour.date()) for o in objectives]

    for days in (by_days, by_points):
        repository = PushRepository(graph, days)
        for o in (*objectives[:3], objectives[0]):  # the first written again, last
            await repository.store(o.id, minutes(hour, 1, 5, 1.0), DayMeasure(o, now))

    # Five points a day: 12 points hold two days, as a size of 2 does.
    for days in (by_days, by_points):
        assert len(days) == 2
        assert [days.get(k) is not None for k in keys] == [True, False, True, False]


async def test_a_column_the_kind_lacks_is_not_stored_and_an_older_day_loses_it(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    """Counts store no latency column (it would be all NaN); a day stored with one
    (before columns were left out) has it removed on its next push."""
    [objective] = await sla_objectives(builder, "no-nan-column")
    day = hour.date()
    older = minutes(hour, 1, 5, 1.0)
    props = day_props(
        objective.id, PUSH_SOURCE, day, np.full(288, np.nan), np.full(288, np.nan), utc_now()
    )
    props.update(
        pushedKind="EVENTS",
        pushedTimes=older.times.tobytes(),
        pushedGood=older.good.tobytes(),
        pushedTotal=older.total.tobytes(),
        pushedSeconds=older.seconds.tobytes(),
    )
    key = day_key(objective.id, PUSH_SOURCE, day)
    await graph.write(telemetry_q.UPSERT_TELEMETRY_DAYS, rows=[{"key": key, "props": props}])
    measure = DayMeasure(objective, datetime.now(UTC))

    await PushRepository(graph, PushedDays()).store(objective.id, minutes(hour, 6, 5, 2.0), measure)

    [row] = await graph.read(q.PUSHED_DAYS, keys=[key])
    assert row["seconds"] is None
    assert len(row["good"]) == len(row["times"]) == 10 * 8
    stored = await PushRepository(graph).points(objective.id, day, PushKind.EVENTS)
    assert stored is not None
    assert stored.good.tolist() == [1.0] * 5 + [2.0] * 5
    assert np.isnan(stored.seconds).all()


def latency_minutes(hour: datetime, first: int, count: int, seconds: float) -> PointSet:
    times = [(hour + timedelta(minutes=m)).timestamp() for m in range(first, first + count)]
    return PointSet.of(PushKind.LATENCY, times, seconds=[seconds] * count)


async def test_a_group_with_another_kind_writes_what_pushes_one_at_a_time_write(
    graph: Graph, builder: GraphBuilder, hour: datetime
) -> None:
    # A threshold, so that either kind can measure them.
    grouped_objective, single_objective = await sla_objectives(
        builder, "grouped", "single", indicator=Indicator.LATENCY, threshold=0.3
    )
    both = (grouped_objective, single_objective)
    measure = {o.id: DayMeasure(o, datetime.now(UTC)) for o in both}
    pushes = [
        minutes(hour, 1, 10, 3.0),  # stored first, alone
        latency_minutes(hour, 5, 10, 0.2),  # another kind: replaces the day's points
        minutes(hour, 30, 10, 4.0),  # and again
    ]
    repository = PushRepository(graph)
    for objective in both:
        await repository.store(objective.id, pushes[0], measure[objective.id])

    await repository.store_many(
        [(grouped_objective.id, p, measure[grouped_objective.id]) for p in pushes[1:]]
    )
    for p in pushes[1:]:
        await repository.store(single_objective.id, p, measure[single_objective.id])

    grouped = await repository.points(grouped_objective.id, hour.date(), PushKind.EVENTS)
    single = await repository.points(single_objective.id, hour.date(), PushKind.EVENTS)
    assert grouped is not None
    assert single is not None
    assert grouped.times.tolist() == single.times.tolist() == pushes[2].times.tolist()
    assert grouped.good.tolist() == [4.0] * 10


async def test_two_writers_at_once_lose_no_point(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder, hour: datetime
) -> None:
    [objective] = await sla_objectives(builder, "two-writers")
    measure = DayMeasure(objective, datetime.now(UTC))
    other_graph = Graph.connect(graph_connection)
    try:
        here = PushRepository(graph, PushedDays())
        elsewhere = PushRepository(other_graph, PushedDays())  # another process, say
        await asyncio.gather(
            *(
                (here if m % 2 else elsewhere).store(
                    objective.id, minutes(hour, m, 1, float(m)), measure
                )
                for m in range(40)
            )
        )
    finally:
        await other_graph.close()

    stored = await PushRepository(graph).points(objective.id, hour.date(), PushKind.EVENTS)
    assert stored is not None
    assert stored.good.tolist() == [float(m) for m in range(40)]
