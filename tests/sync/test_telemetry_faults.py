"""Telemetry ingestion when the data or the source misbehaves, against a fake source.

`FakeMetrics` (tests/fakes/metrics.py) stands in for Prometheus: it answers each query
from registered points and records what it was asked. Most objectives belong to an
ACTIVE SLA and are measured through `[[slo.bindings]]` of the test's own settings, so
no other test's run measures them. With a step of 300 seconds each point is one
bucket: a rate of 1.0 is 300 events, and the point at t fills the bucket before t.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fakes.metrics import FakeMetrics
from slo_support import (
    coverage,
    engine_status,
    import_slo,
    minutes,
    points,
    prometheus_queries,
    quarantined,
    sla_objectives,
)
from support import GraphBuilder

from hub.connectors.prometheus import sloth_error_ratio_query
from hub.domain.budget import BudgetState
from hub.domain.measurements import FUTURE
from hub.domain.models import Objective
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings, TelemetryBinding
from hub.sync.lease import LeaseHeldError
from hub.sync.telemetry import run_telemetry_sync

STEP = 300
EVENTS = 300.0  # a rate of 1.0 per second over one step
NAN = float("nan")
INF = float("inf")


async def on_fake_prometheus(
    builder: GraphBuilder,
    start: datetime,
    good: dict[int, float] | None = None,
    total: dict[int, float] | None = None,
    **settings: Any,
) -> tuple[Objective, FakeMetrics, SloSettings]:
    """The test's availability objective, bound to its good and total queries on a fake
    Prometheus that holds `good` and `total` (by default `good`) as points from `start`."""
    [objective] = await sla_objectives(builder, f"{builder.source}-availability")
    good_q, total_q = prometheus_queries(builder.source)
    metrics = FakeMetrics()
    if good is not None:
        metrics.add(good_q, points(start, good))
        metrics.add(total_q, points(start, good if total is None else total))
    binding = TelemetryBinding(objective=objective.id, good=good_q, total=total_q)
    return objective, metrics, SloSettings(bindings=[binding], **settings)


async def sync(
    graph: Graph, metrics: FakeMetrics, settings: SloSettings, now: datetime, **options: Any
) -> SyncRun:
    """One telemetry run against the fake source at `now`, a point a bucket."""
    return await run_telemetry_sync(graph, metrics, settings, step_seconds=STEP, now=now, **options)


def same_buckets(actual: np.ndarray, expected: list[float]) -> bool:
    return bool(np.array_equal(actual, np.array(expected), equal_nan=True))


# ---- quarantine ---------------------------------------------------------------------------

T_Q = datetime(2024, 4, 1, tzinfo=UTC)


async def test_untrustworthy_points_are_quarantined_and_their_buckets_stay_missing(
    graph: Graph, builder: GraphBuilder
) -> None:
    now = minutes(T_Q, 60)
    good = dict.fromkeys(range(1, 14), 1.0) | {2: NAN, 3: 0.5, 6: 1.5, 8: -0.5}
    total = dict.fromkeys(range(1, 14), 1.0) | {4: INF, 10: -1.0}
    objective, metrics, settings = await on_fake_prometheus(builder, T_Q, good, total)
    metrics.ahead_seconds = 600  # its clock runs ten minutes ahead

    run = await sync(graph, metrics, settings, now)

    assert run.status == "SUCCEEDED", run.error
    found = await quarantined(graph, "prometheus", objective.id)
    reasons = {at: entry.reason for at, entry in found.items()}
    assert reasons == {
        to_iso(minutes(T_Q, 10)): "good: not a finite number",
        to_iso(minutes(T_Q, 20)): "total: not a finite number",
        to_iso(minutes(T_Q, 30)): "good: 1.5 is more than the total of 1",
        to_iso(minutes(T_Q, 40)): "good: negative",
        to_iso(minutes(T_Q, 50)): "total: negative",
        # Both series sent a sample from the future: neither reason is lost.
        to_iso(minutes(T_Q, 65)): f"good: {FUTURE}; total: {FUTURE}",
    }
    assert json.loads(found[to_iso(minutes(T_Q, 10))].payload) == {
        "objective": objective.id,
        "at": minutes(T_Q, 10).timestamp(),
        "value": "nan",
    }
    assert run.quarantined == len(found)

    # The rest of the objective is stored; a rejected point's bucket is missing.
    stored = await TelemetryRepository(graph).series(objective.id, "prometheus", Window(T_Q, now))
    with_data = [0, 2, 4, 6, 8, 10, 11]
    expected_total = [EVENTS if n in with_data else NAN for n in range(12)]
    expected_good = [
        (0.5 * EVENTS if n == 2 else EVENTS) if n in with_data else NAN for n in range(12)
    ]
    assert same_buckets(stored.total[:12], expected_total)
    assert same_buckets(stored.good[:12], expected_good)
    assert np.isnan(stored.total[12:]).all()

    status = await engine_status(graph, objective, settings, now)
    assert status.good == 6 * EVENTS + 0.5 * EVENTS
    assert status.total == 7 * EVENTS  # missing buckets are not counted as good
    assert status.compliance == pytest.approx(100 * 1950 / 2100)
    assert status.data_coverage == pytest.approx(coverage(7))


async def test_a_ratio_outside_zero_to_one_is_quarantined(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-errors")
    ratio_q = f"sum(rate({source}_errors_total[5m])) / sum(rate({source}_requests_total[5m]))"
    now = minutes(T_Q, 30)
    metrics = FakeMetrics()
    metrics.add(ratio_q, points(T_Q, {1: 0.0, 2: 1.2, 3: 0.5, 4: -0.3, 5: 0.0, 6: 0.1}))
    settings = SloSettings(bindings=[TelemetryBinding(objective=objective.id, ratio=ratio_q)])

    run = await sync(graph, metrics, settings, now)

    assert run.status == "SUCCEEDED", run.error
    reasons = {
        at: e.reason for at, e in (await quarantined(graph, "prometheus", objective.id)).items()
    }
    assert reasons == {
        to_iso(minutes(T_Q, 10)): "ratio: outside 0..1",
        to_iso(minutes(T_Q, 20)): "ratio: outside 0..1",
    }
    status = await engine_status(graph, objective, settings, now)
    # An error ratio r is one event, 1 - r of it good; the rejected buckets are missing.
    assert status.total == 4
    assert status.good == pytest.approx(1 + 0.5 + 1 + 0.9)
    assert status.data_coverage == pytest.approx(coverage(4))


# ---- gaps and watermarks ------------------------------------------------------------------

T_G = datetime(2024, 5, 1, tzinfo=UTC)


async def test_a_failed_source_keeps_the_watermark_and_the_next_run_backfills_the_gap(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    good_q, total_q = prometheus_queries(source)
    objective = await import_slo(
        builder, f"{source}-availability", 0.99, good=good_q, total=total_q, counter=False
    )
    key = f"{objective.id}|primary"
    settings = SloSettings(overlap_seconds=600)
    repository = SyncRepository(graph)
    metrics = FakeMetrics()
    # Six buckets, [T+2h, T+2h30), never get a point.
    values = {k: 1.0 for k in range(1, 37) if not 25 <= k <= 30}
    metrics.add(good_q, points(T_G, {k: v for k, v in values.items() if k <= 12}))
    metrics.add(total_q, points(T_G, {k: v for k, v in values.items() if k <= 12}))

    # First run: the whole 28-day window, from `now` snapped down to 5 minutes.
    first_now = minutes(T_G, 62.5)
    first = await sync(graph, metrics, settings, first_now)
    assert first.status == "SUCCEEDED", first.error
    window_start = minutes(T_G, 60) - timedelta(days=28)
    assert {
        (c.query, c.start, c.end, c.step_seconds) for c in metrics.calls_for(good_q, total_q)
    } == {
        (good_q, window_start, minutes(T_G, 60), STEP),
        (total_q, window_start, minutes(T_G, 60), STEP),
    }
    assert (await repository.watermarks("prometheus"))[key] == to_iso(minutes(T_G, 60))

    # The source is down: the run stops at the objective, names it, its watermark stays.
    metrics.calls.clear()
    metrics.failing |= {good_q, total_q}
    down = await sync(graph, metrics, settings, minutes(T_G, 120))
    assert down.status == "FAILED"
    assert down.error is not None
    assert "prometheus: connection refused" in down.error
    assert f"not measured in this run: {objective.id}" in down.error
    [call] = metrics.calls_for(good_q)
    assert call.start == minutes(T_G, 50)  # the watermark less the 600 s overlap
    assert (await repository.watermarks("prometheus"))[key] == to_iso(minutes(T_G, 60))

    # Back up: the next run starts from the same watermark, so the missed hour is read.
    metrics.calls.clear()
    metrics.failing.clear()
    later = {k: v for k, v in values.items() if k > 12}
    metrics.add(good_q, points(T_G, later))
    metrics.add(total_q, points(T_G, later))
    now = minutes(T_G, 180)
    again = await sync(graph, metrics, settings, now)
    assert again.status == "SUCCEEDED", again.error
    assert {(c.start, c.end) for c in metrics.calls_for(good_q, total_q)} == {
        (minutes(T_G, 50), now)
    }
    assert (await repository.watermarks("prometheus"))[key] == to_iso(now)

    stored = await TelemetryRepository(graph).series(objective.id, "prometheus", Window(T_G, now))
    assert same_buckets(stored.total[:36], [NAN if 24 <= n <= 29 else EVENTS for n in range(36)])
    status = await engine_status(graph, objective, settings, now)
    assert status.good == status.total == 30 * EVENTS  # the gap is missing, not good
    assert status.compliance == 100
    assert status.data_coverage == pytest.approx(coverage(30))
    assert status.data_coverage < 100


async def test_a_watermark_after_now_reads_the_overlap_before_now(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    """The clock went back (or a run was made for an earlier moment): the run does not
    crash on a span ending before it starts, it reads the overlap before `now`."""
    values = dict.fromkeys(range(1, 25), 1.0)
    objective, metrics, settings = await on_fake_prometheus(
        builder, T_G, values, overlap_seconds=900
    )
    good_q, total_q = prometheus_queries(source)
    later = await sync(graph, metrics, settings, minutes(T_G, 120))
    assert later.status == "SUCCEEDED", later.error
    metrics.calls.clear()

    earlier = minutes(T_G, 60)
    run = await sync(graph, metrics, settings, earlier)

    assert run.status == "SUCCEEDED", run.error
    assert {(c.start, c.end) for c in metrics.calls_for(good_q, total_q)} == {
        (minutes(T_G, 45), earlier)
    }
    status = await engine_status(graph, objective, settings, minutes(T_G, 120))
    assert status.total == 24 * EVENTS


async def test_a_query_matching_no_series_succeeds_with_no_data(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    now = datetime(2024, 5, 10, 12, tzinfo=UTC)
    objective, metrics, settings = await on_fake_prometheus(
        builder, T_G
    )  # it knows no series at all
    good_q, total_q = prometheus_queries(source)

    run = await sync(graph, metrics, settings, now)

    assert run.status == "SUCCEEDED", run.error
    assert len(metrics.calls_for(good_q, total_q)) == 2
    assert (await SyncRepository(graph).watermarks("prometheus"))[
        f"{objective.id}|primary"
    ] == to_iso(now)
    status = await engine_status(graph, objective, settings, now)
    assert status.data_coverage == 0
    assert status.good is None
    assert status.total is None
    assert status.compliance is None
    assert status.state is BudgetState.NO_DATA


# ---- bindings -----------------------------------------------------------------------------


async def test_bindings_naming_no_objective_or_several_fail_the_run_but_not_the_others(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    twin = f"{source}-twin"
    [measured, _] = await sla_objectives(builder, f"{source}-measured", twin, sla="one")
    await sla_objectives(builder, twin, sla="two")
    good_q, total_q = prometheus_queries(source)
    now = minutes(T_Q, 30)
    metrics = FakeMetrics()
    metrics.add(good_q, points(T_Q, dict.fromkeys(range(1, 7), 1.0)))
    metrics.add(total_q, points(T_Q, dict.fromkeys(range(1, 7), 1.0)))
    missing = f"{source}-nowhere"
    settings = SloSettings(
        bindings=[
            TelemetryBinding(objective=missing, good=good_q, total=total_q),
            TelemetryBinding(objective=twin, good=good_q, total=total_q),
            TelemetryBinding(objective=measured.id, good=good_q, total=total_q),
        ]
    )

    run = await sync(graph, metrics, settings, now)

    assert run.status == "FAILED"
    assert run.error is not None
    assert f"binding '{missing}': names no objective; use the objective id" in run.error
    assert f"binding '{twin}': names 2 objectives; use the objective id" in run.error
    status = await engine_status(graph, measured, settings, now)
    assert status.good == status.total == 6 * EVENTS


async def test_a_sloth_binding_reads_sloths_recorded_error_ratio(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-availability")
    expected = (
        f'slo:sli_error:ratio_rate5m{{sloth_service="{source}-checkout",sloth_slo="availability"}}'
    )
    now = minutes(T_Q, 30)
    metrics = FakeMetrics()
    metrics.add(expected, points(T_Q, {1: 0.0, 2: 0.0, 3: 0.1, 4: 0.2, 5: 0.0, 6: 0.0}))
    settings = SloSettings(
        bindings=[
            TelemetryBinding(
                objective=objective.id,
                sloth_service=f"{source}-checkout",
                sloth_slo="availability",
            )
        ]
    )

    run = await sync(graph, metrics, settings, now, sloth_query=sloth_error_ratio_query)

    assert run.status == "SUCCEEDED", run.error
    assert [c.query for c in metrics.calls if source in c.query] == [expected]
    status = await engine_status(graph, objective, settings, now)
    assert status.total == 6
    assert status.good == pytest.approx(6 - 0.1 - 0.2)


# ---- idempotence and the lease ------------------------------------------------------------


async def test_the_same_sync_twice_leaves_the_same_buckets(
    graph: Graph, builder: GraphBuilder
) -> None:
    now = minutes(T_Q, 60)
    good = {k: 0.9 if k % 4 == 0 else 1.0 for k in range(1, 13)}
    total = {k: NAN if k == 5 else 1.0 for k in range(1, 13)}
    objective, metrics, settings = await on_fake_prometheus(builder, T_Q, good, total)
    telemetry = TelemetryRepository(graph)
    span = Window(T_Q, now)

    first = await sync(graph, metrics, settings, now)
    stored = await telemetry.series(objective.id, "prometheus", span)
    status = await engine_status(graph, objective, settings, now)
    second = await sync(graph, metrics, settings, now)

    assert first.status == second.status == "SUCCEEDED"
    again = await telemetry.series(objective.id, "prometheus", span)
    assert np.array_equal(again.good, stored.good, equal_nan=True)
    assert np.array_equal(again.total, stored.total, equal_nan=True)
    assert await engine_status(graph, objective, settings, now) == status
    assert status.total == 11 * EVENTS
    assert status.good == pytest.approx(11 * EVENTS - 3 * 0.1 * EVENTS)
    assert list(await quarantined(graph, "prometheus", objective.id)) == [to_iso(minutes(T_Q, 25))]


async def test_a_held_lease_refuses_the_run_and_writes_nothing(
    graph: Graph, builder: GraphBuilder
) -> None:
    now = minutes(T_Q, 60)
    objective, metrics, settings = await on_fake_prometheus(
        builder, T_Q, dict.fromkeys(range(1, 13), 1.0)
    )
    repository = SyncRepository(graph)
    runs_before = await repository.runs("prometheus", limit=5)
    other = "another-host.example:4242"  # alive as far as this host can tell
    assert await repository.acquire_lease("prometheus", other, timedelta(minutes=10)) == other
    try:
        with pytest.raises(LeaseHeldError, match=f"prometheus is being synced by {other}"):
            await sync(graph, metrics, settings, now)
    finally:
        await repository.release_lease("prometheus", other)

    assert metrics.calls == []
    assert await repository.runs("prometheus", limit=5) == runs_before
    assert f"{objective.id}|primary" not in await repository.watermarks("prometheus")
    stored = await TelemetryRepository(graph).series(objective.id, "prometheus", Window(T_Q, now))
    assert np.isnan(stored.total).all()
