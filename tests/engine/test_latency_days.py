"""Slice latencies kept on telemetry days: merged like buckets, read only when asked."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hub.domain.buckets import BucketSeries
from hub.domain.latency import LatencySeries
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.cypher import telemetry as q
from hub.graph.repositories.telemetry import TelemetryRepository

MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)
NAN = math.nan
DAY = Window(MIDNIGHT, MIDNIGHT + timedelta(days=1))


def objective_id() -> str:
    return f"obj_latency_{uuid.uuid4().hex}"


def buckets(start: datetime, count: int) -> BucketSeries:
    return BucketSeries(start, np.full(count, 1.0), np.full(count, 1.0))


def latency(start: datetime, slice_seconds: int, values: list[float]) -> LatencySeries:
    return LatencySeries(start, slice_seconds, np.asarray(values, dtype=np.float64))


async def test_a_resent_slice_replaces_the_stored_one_and_a_missing_one_erases_nothing(
    graph: Graph,
) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    await repository.store_many(
        [(objective, "prometheus", buckets(MIDNIGHT, 2))],
        latencies=[latency(MIDNIGHT, 60, [0.1, 0.2, NAN, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])],
    )
    # The second write: a new value, an infinite one, and gaps where the first had data.
    await repository.store_many(
        [(objective, "prometheus", buckets(MIDNIGHT, 2))],
        latencies=[latency(MIDNIGHT, 60, [0.15, NAN, 0.3, math.inf, NAN, NAN, NAN, NAN, NAN, NAN])],
    )

    found = (await repository.latency_series([(objective, "prometheus")], DAY))[
        (objective, "prometheus")
    ]

    assert found is not None
    assert found.start == MIDNIGHT
    assert found.slice_seconds == 60
    assert found.seconds.shape == (1440,)
    assert found.seconds[:10].tolist() == [0.15, 0.2, 0.3, math.inf, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert np.isnan(found.seconds[10:]).all()
    # The buckets merged as before, beside the latencies.
    series = await repository.series(objective, "prometheus", DAY)
    assert series.total[:2].tolist() == [1.0, 1.0]


async def test_a_day_kept_at_another_slice_length_is_replaced_whole(graph: Graph) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    await repository.store_many(
        [(objective, "prometheus", buckets(MIDNIGHT, 1))],
        latencies=[latency(MIDNIGHT, 60, [0.1, 0.2, 0.3, 0.4, 0.5])],
    )
    later = MIDNIGHT + timedelta(minutes=5)
    await repository.store_many(
        [(objective, "prometheus", buckets(later, 1))],
        latencies=[latency(later, 300, [0.7])],
    )

    found = (await repository.latency_series([(objective, "prometheus")], DAY))[
        (objective, "prometheus")
    ]

    assert found is not None
    assert found.slice_seconds == 300
    assert found.seconds.shape == (288,)
    assert np.isnan(found.seconds[0])  # the 60-second slices went with the old array
    assert found.seconds[1] == 0.7


async def test_days_without_latencies_keep_no_property_and_read_as_none(graph: Graph) -> None:
    repository = TelemetryRepository(graph)
    plain, kept = objective_id(), objective_id()
    start = MIDNIGHT - timedelta(minutes=5)  # one bucket before midnight, one after
    await repository.store_many(
        [(plain, "prometheus", buckets(start, 2)), (kept, "prometheus", buckets(start, 2))],
        latencies=[None, latency(start, 300, [0.25, 0.5])],
    )

    rows = await graph.read(
        q.TELEMETRY_LATENCY_DAYS,
        keys=[f"{o}|prometheus|{d}" for o in (plain, kept) for d in ("2026-02-28", "2026-03-01")],
    )
    assert sorted(r["key"] for r in rows) == [
        f"{kept}|prometheus|2026-02-28",
        f"{kept}|prometheus|2026-03-01",
    ]
    assert {r["latencySliceSeconds"] for r in rows} == {300}
    assert all(len(r["latency"]) == 288 * 8 for r in rows)
    both = Window(start, start + timedelta(minutes=10))
    found = await repository.latency_series([(plain, "prometheus"), (kept, "prometheus")], both)
    assert found[(plain, "prometheus")] is None
    series = found[(kept, "prometheus")]
    assert series is not None
    assert series.start == MIDNIGHT - timedelta(days=1)
    assert series.seconds[287] == 0.25
    assert series.seconds[288] == 0.5


async def test_latencies_must_match_the_batch(graph: Graph) -> None:
    with pytest.raises(ValueError, match="one per item"):
        await TelemetryRepository(graph).store_many(
            [(objective_id(), "prometheus", buckets(MIDNIGHT, 1))], latencies=[None, None]
        )
