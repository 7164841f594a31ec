"""Telemetry buckets in the graph: days as byte arrays, merged, never erased by gaps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from hub.domain.buckets import BucketSeries
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository

MIDNIGHT = datetime(2026, 3, 1, tzinfo=UTC)


def objective_id() -> str:
    return f"obj_test_{uuid.uuid4().hex}"


def series(start: datetime, good: list[float], total: list[float]) -> BucketSeries:
    return BucketSeries(start=start, good=np.array(good, float), total=np.array(total, float))


async def test_stored_buckets_come_back_across_a_day_boundary(graph: Graph) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    start = MIDNIGHT - timedelta(minutes=10)  # two buckets before midnight, two after
    await repository.store(objective, "prometheus", series(start, [9, 8, 7, 6], [10, 10, 10, 10]))

    found = await repository.series(
        objective, "prometheus", Window(start, start + timedelta(minutes=20))
    )

    assert found.start == MIDNIGHT - timedelta(days=1)
    assert found.tally(Window(start, start + timedelta(minutes=20))).good == 30
    assert found.tally(Window(start, start + timedelta(minutes=20))).total == 40
    assert found.tally(Window(MIDNIGHT, MIDNIGHT + timedelta(minutes=10))).good == 13
    # Everything else on both days is missing, not good.
    assert found.tally(found.span).covered_seconds == 4 * 300


async def test_a_missing_bucket_never_erases_stored_data_and_new_data_replaces_old(
    graph: Graph,
) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    await repository.store(objective, "prometheus", series(MIDNIGHT, [1, 2, 3], [10, 10, 10]))

    await repository.store(
        objective, "prometheus", series(MIDNIGHT, [np.nan, 5, np.nan], [np.nan, 10, np.nan])
    )
    again = await repository.series(
        objective, "prometheus", Window(MIDNIGHT, MIDNIGHT + timedelta(minutes=15))
    )

    assert list(again.good[:3]) == [1, 5, 3]
    assert list(again.total[:3]) == [10, 10, 10]


async def test_sources_are_kept_apart(graph: Graph) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    await repository.store(objective, "prometheus", series(MIDNIGHT, [1], [10]))
    await repository.store(objective, "datadog:secondary", series(MIDNIGHT, [2], [10]))
    window = Window(MIDNIGHT, MIDNIGHT + timedelta(minutes=5))

    found = await repository.many_series(
        [(objective, "prometheus"), (objective, "datadog:secondary"), (objective, "nothing")],
        window,
    )

    assert found[(objective, "prometheus")].tally(window).good == 1
    assert found[(objective, "datadog:secondary")].tally(window).good == 2
    assert found[(objective, "nothing")].tally(window).covered_seconds == 0


async def test_discrepancies_are_flagged_and_cleared(graph: Graph) -> None:
    repository = TelemetryRepository(graph)
    objective = objective_id()
    at = MIDNIGHT + timedelta(minutes=5)
    flagged = Discrepancy(objective, at, "prometheus", "datadog:secondary", 99.0, 90.0)
    window = Window(MIDNIGHT, MIDNIGHT + timedelta(days=1))

    await repository.record_discrepancies(objective, window, [flagged])
    assert (await repository.discrepancies([objective], window))[objective] == [flagged]

    await repository.record_discrepancies(objective, window, [])
    assert (await repository.discrepancies([objective], window))[objective] == []
