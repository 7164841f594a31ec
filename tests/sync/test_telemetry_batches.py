"""Telemetry sync at scale: batched writes across objectives, concurrent fetches.

A run fetches `max_concurrency` objectives at once and writes each batch of objectives
with one read and one write of their days, then one write of the watermarks. The
session graph is shared, so a run also measures other tests' objectives bound to
`prometheus`; the assertions count what this test's objectives show, and the
statements relative to what the run measured.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from fakes.metrics import FakeMetrics
from hypothesis import given
from hypothesis import strategies as st
from slo_support import minutes, points, sla_objectives
from support import GraphBuilder, listening

from hub.domain.buckets import BucketSeries
from hub.domain.models import Indicator, Objective, WindowKind
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings, TelemetryBinding
from hub.sync.telemetry import Plan, _batches, _Fetch, run_telemetry_sync

STEP = 300
EVENTS = 300.0  # a rate of 1.0 per second over one step
T = datetime(2024, 7, 1, tzinfo=UTC)
NOW = minutes(T, 60)
COUNT = 7


class SlowMetrics(FakeMetrics):
    """`FakeMetrics` whose answers take a little while, counting the calls in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[tuple[float, float]], str | None]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await super().points(query, start, end, step_seconds)
        finally:
            self.in_flight -= 1


def queries(source: str, n: int) -> tuple[str, str]:
    return f'sum(rate({source}_{n}_total{{code!~"5.."}}[5m]))', f"sum(rate({source}_{n}_total[5m]))"


async def fleet(builder: GraphBuilder, metrics: FakeMetrics) -> tuple[list[Objective], SloSettings]:
    """COUNT objectives, objective n good in all but n of its twelve buckets."""
    names = [f"{builder.source}-{n}" for n in range(COUNT)]
    objectives = await sla_objectives(builder, *names)
    bindings = []
    for n, objective in enumerate(objectives):
        good_q, total_q = queries(builder.source, n)
        metrics.add(good_q, points(T, {k: 0.0 if k <= n else 1.0 for k in range(1, 13)}))
        metrics.add(total_q, points(T, dict.fromkeys(range(1, 13), 1.0)))
        bindings.append(TelemetryBinding(objective=objective.id, good=good_q, total=total_q))
    return objectives, SloSettings(bindings=bindings)


async def good_events(graph: Graph, objectives: list[Objective]) -> list[float]:
    found = await TelemetryRepository(graph).many_series(
        [(o.id, "prometheus") for o in objectives], Window(T, NOW)
    )
    return [float(np.nansum(found[(o.id, "prometheus")].good)) for o in objectives]


async def test_a_run_fetches_concurrently_and_writes_each_batch_at_once(
    graph: Graph, builder: GraphBuilder
) -> None:
    metrics = SlowMetrics()
    objectives, settings = await fleet(builder, metrics)
    batches: list[int] = []

    with listening(graph) as log:
        run = await run_telemetry_sync(
            graph,
            metrics,
            settings,
            step_seconds=STEP,
            now=NOW,
            max_concurrency=3,
            batch_objectives=2,
            progress=lambda r: batches.append(r.updated),
        )

    assert run.status == "SUCCEEDED", run.error
    assert await good_events(graph, objectives) == [(12 - n) * EVENTS for n in range(COUNT)]
    watermarks = await SyncRepository(graph).watermarks("prometheus")
    assert {watermarks[f"{o.id}|primary"] for o in objectives} == {to_iso(NOW)}
    # Never more than three objectives fetching at once, and more than one.
    assert 2 <= metrics.most_in_flight <= 3
    # One read, one write of the days and one of the watermarks per batch of two.
    measured = sum(1 for w in watermarks.values() if w == to_iso(NOW))
    sent = Counter(log.names)
    assert sent["telemetry.UPSERT_TELEMETRY_DAYS"] == len(batches) == math.ceil(measured / 2)
    assert sent["sync.SAVE_WATERMARKS"] == len(batches)
    assert batches == sorted(batches)  # progress after each batch, as counts grow


async def test_the_former_path_of_one_objective_a_batch_stores_the_same(
    graph: Graph, builder: GraphBuilder
) -> None:
    """Batch size 1 and one fetch at a time is how the sync ran before batching: the
    batched run must leave the same buckets."""
    metrics = FakeMetrics()
    objectives, settings = await fleet(builder, metrics)

    one = await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=NOW, batch_objectives=1
    )
    before = await good_events(graph, objectives)
    many = await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=minutes(NOW, 5), max_concurrency=4
    )

    assert one.status == many.status == "SUCCEEDED"
    assert before == await good_events(graph, objectives)
    assert before == [(12 - n) * EVENTS for n in range(COUNT)]


async def test_a_source_going_down_mid_batch_keeps_the_watermarks_of_what_it_did_not_measure(
    graph: Graph, builder: GraphBuilder
) -> None:
    metrics = SlowMetrics()
    objectives, settings = await fleet(builder, metrics)
    failing = set(queries(builder.source, 3))
    metrics.failing |= failing

    down = await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=NOW, max_concurrency=3
    )

    assert down.status == "FAILED"
    assert down.error is not None
    assert "prometheus: connection refused" in down.error
    assert "not measured in this run: " in down.error
    watermarks = await SyncRepository(graph).watermarks("prometheus")
    assert f"{objectives[3].id}|primary" not in watermarks
    # What was measured has its buckets and its watermark; what was not has neither.
    shown = await good_events(graph, objectives)
    for n, objective in enumerate(objectives):
        if f"{objective.id}|primary" in watermarks:
            assert shown[n] == (12 - n) * EVENTS
        else:
            assert shown[n] == 0.0

    # Back up: the next run measures the rest, and everything is as one run leaves it.
    metrics.failing -= failing
    again: SyncRun = await run_telemetry_sync(
        graph, metrics, settings, step_seconds=STEP, now=NOW, max_concurrency=3
    )
    assert again.status == "SUCCEEDED", again.error
    assert await good_events(graph, objectives) == [(12 - n) * EVENTS for n in range(COUNT)]


async def test_store_many_reads_and_writes_the_days_of_a_batch_once(graph: Graph) -> None:
    telemetry = TelemetryRepository(graph)
    start = datetime(2024, 7, 2, 23, 50, tzinfo=UTC)  # two buckets, then two past midnight
    batch = [
        (f"obj_store_many_{n}", "prometheus", BucketSeries(start, np.full(4, n), np.full(4, 10.0)))
        for n in range(5)
    ]
    # The same day twice in one batch: both merge, in batch order.
    batch.append(
        (
            "obj_store_many_0",
            "prometheus",
            BucketSeries(
                start, np.array([7.0, np.nan, np.nan, np.nan]), np.array([9.0, *[np.nan] * 3])
            ),
        )
    )

    with listening(graph) as log:
        written = await telemetry.store_many(batch)

    assert written == 5 * 4 + 1
    assert log.names == ["telemetry.TELEMETRY_DAYS", "telemetry.UPSERT_TELEMETRY_DAYS"]
    found = await telemetry.many_series(
        [(f"obj_store_many_{n}", "prometheus") for n in range(5)], Window(start, minutes(start, 20))
    )
    offset = (23 * 60 + 50) // 5
    for n in range(5):
        series = found[(f"obj_store_many_{n}", "prometheus")]
        good = series.good[offset : offset + 4].tolist()
        total = series.total[offset : offset + 4].tolist()
        assert (good, total) == (
            ([7.0, 0.0, 0.0, 0.0], [9.0, 10.0, 10.0, 10.0]) if n == 0 else ([n] * 4, [10.0] * 4)
        )


@given(
    spans=st.lists(st.integers(min_value=1, max_value=40 * 288), max_size=60),
    size=st.integers(min_value=1, max_value=10),
    max_days=st.integers(min_value=1, max_value=100),
)
def test_batches_keep_order_and_bounds(spans: list[int], size: int, max_days: int) -> None:
    """Every plan once, in order; no batch over `size` plans, nor over `max_days` days
    unless it is one plan alone (a plan is never split)."""
    objective = Objective(
        id="obj_batches",
        indicator=Indicator.AVAILABILITY,
        target=99.0,
        threshold=None,
        window_kind=WindowKind.ROLLING,
        window_days=28,
        priority=None,
    )
    plan = Plan(objective=objective, role="primary")
    due = [
        _Fetch(plan, str(n), Window(T, T + timedelta(minutes=5 * buckets)))
        for n, buckets in enumerate(spans)
    ]

    batches = list(_batches(due, size, max_days))

    assert [item.key for batch in batches for item in batch] == [item.key for item in due]
    for batch in batches:
        days = sum(len(touched_days(i.span)) for i in batch)
        assert 1 <= len(batch) <= size
        assert days <= max_days or len(batch) == 1


def touched_days(span: Window) -> list[object]:
    first, last = span.start.date(), (span.end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
