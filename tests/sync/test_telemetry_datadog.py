"""Telemetry ingestion from Datadog, end to end through the fake Datadog metrics API
(tests/fakes/datadog.py) served on loopback and read by the real `DatadogSource`; and
the reconciliation of a primary Prometheus with a secondary Datadog.

Objectives belong to an ACTIVE SLA and are bound in the test's own settings. Datadog
points are read as rates per second over the ingestion's step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fakes.datadog import FakeDatadog
from fakes.metrics import FakeMetrics
from fakes.server import serve_app
from slo_support import (
    coverage,
    engine_status,
    minutes,
    points,
    prometheus_queries,
    quarantined,
    sla_objectives,
)
from support import GraphBuilder

from hub.connectors.datadog import DatadogSource
from hub.connectors.http import RetryPolicy
from hub.domain.models import Indicator
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository
from hub.settings import DatadogSettings, SloSettings, TelemetryBinding
from hub.sync.metrics import DatadogMetrics
from hub.sync.telemetry import run_telemetry_sync

API_KEY = "dd-api-7Qx2Lk9Vb3Nm8Rt4"
APP_KEY = "dd-app-Hc5Wz1Pq6Ys0Ju2Ed7Fg"
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01, max_retry_after=5)


@pytest.fixture
def fake() -> FakeDatadog:
    return FakeDatadog(api_key=API_KEY, app_key=APP_KEY)


@pytest.fixture
def base_url(fake: FakeDatadog) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


def datadog(base_url: str) -> DatadogSource:
    settings = DatadogSettings.model_validate(
        {"url": base_url, "api_key": API_KEY, "app_key": APP_KEY, "timeout_seconds": 5}
    )
    return DatadogSource(settings, retry=FAST)


def hits(source: str, extra: str = "") -> str:
    return f"sum:trace.http.request.hits{{service:{source}{extra}}}.as_rate()"


# ---- good / total -------------------------------------------------------------------------

T_D = datetime(2024, 7, 1, tzinfo=UTC)


async def test_datadog_good_and_total_rates_become_buckets(
    graph: Graph, builder: GraphBuilder, source: str, fake: FakeDatadog, base_url: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-availability")
    good_q, total_q = hits(source, ",http.status_class:2xx"), hits(source)
    now = minutes(T_D, 30)
    times = [minutes(T_D, i).timestamp() for i in range(1, 31)]
    # A point every minute; a rate of 2/s is 120 requests over the 60-second step.
    good: list[tuple[float, float | None]] = [(t, 2.0) for t in times]
    for i in (7, 8, 9):
        good[i - 1] = (times[i - 1], 1.5)
    good[11] = (times[11], None)  # minute 12: Datadog had no value
    fake.add_series(good_q, good, unit="request", per_unit="second")
    fake.add_series(total_q, [(t, 2.0) for t in times], unit="request", per_unit="second")
    settings = SloSettings(
        bindings=[
            TelemetryBinding(objective=objective.id, source="datadog", good=good_q, total=total_q)
        ]
    )

    async with datadog(base_url) as source_:
        run = await run_telemetry_sync(
            graph, DatadogMetrics(source_), settings, step_seconds=60, now=now
        )

    assert run.status == "SUCCEEDED", run.error
    asked = {r.param("query"): (r.param("from"), r.param("to")) for r in fake.requests}
    window = (str(int((now - timedelta(days=28)).timestamp())), str(int(now.timestamp())))
    assert asked == {good_q: window, total_q: window}
    status = await engine_status(graph, objective, settings, now)
    assert status.total == 29 * 120  # the minute without a good value is dropped whole
    assert status.good == 29 * 120 - 3 * 30
    assert status.compliance == pytest.approx(100 * 3390 / 3480)
    assert status.data_coverage == pytest.approx(coverage(6))
    [entry] = (await quarantined(graph, "datadog", objective.id)).values()
    assert entry.external_id == f"{objective.id}|primary@{to_iso(minutes(T_D, 12))}"
    assert entry.reason == "good: not a finite number"
    assert run.quarantined == 1


async def test_datadog_milliseconds_are_compared_with_a_threshold_in_seconds(
    graph: Graph, builder: GraphBuilder, source: str, fake: FakeDatadog, base_url: str
) -> None:
    [objective] = await sla_objectives(
        builder, f"{source}-latency", indicator=Indicator.LATENCY, threshold=0.3, target=90.0
    )
    latency_q = f"avg:trace.http.request.duration{{service:{source}}}"
    now = minutes(T_D, 10)
    values = [250.0, 300.0, 450.0, 250.0, 250.0, 1200.0, 250.0, 250.0, 300.0, 299.0]
    fake.add_series(
        latency_q,
        [(minutes(T_D, i + 1).timestamp(), v) for i, v in enumerate(values)],
        unit="millisecond",
    )
    settings = SloSettings(
        bindings=[TelemetryBinding(objective=objective.id, source="datadog", latency=latency_q)]
    )

    async with datadog(base_url) as source_:
        run = await run_telemetry_sync(
            graph, DatadogMetrics(source_), settings, step_seconds=60, now=now
        )

    assert run.status == "SUCCEEDED", run.error
    status = await engine_status(graph, objective, settings, now)
    # Each point is a one-minute slice, good when at most 300 ms (0.3 s itself included).
    assert status.total == 10
    assert status.good == 8
    assert status.compliance == pytest.approx(80.0)
    stored = await TelemetryRepository(graph).series(objective.id, "datadog", Window(T_D, now))
    assert list(stored.good[:2]) == [4.0, 4.0]
    assert list(stored.total[:2]) == [5.0, 5.0]


async def test_a_datadog_refusing_the_keys_fails_the_run_naming_the_objective(
    graph: Graph, builder: GraphBuilder, source: str, fake: FakeDatadog, base_url: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-availability")
    fake.fail_next(403)
    settings = SloSettings(
        bindings=[
            TelemetryBinding(
                objective=objective.id,
                source="datadog",
                good=hits(source, ",ok"),
                total=hits(source),
            )
        ]
    )

    async with datadog(base_url) as source_:
        run = await run_telemetry_sync(
            graph, DatadogMetrics(source_), settings, step_seconds=60, now=minutes(T_D, 30)
        )

    assert run.status == "FAILED"
    assert run.error is not None
    assert f"objective {objective.id}: datadog: the query" in run.error
    assert "HTTP 403: Forbidden" in run.error
    assert API_KEY not in run.error
    assert f"{objective.id}|primary" not in await SyncRepository(graph).watermarks("datadog")


# ---- reconciliation -----------------------------------------------------------------------

T_R = datetime(2024, 8, 1, tzinfo=UTC)


async def test_primary_and_secondary_are_reconciled_and_the_secondary_fills_gaps(
    graph: Graph, builder: GraphBuilder, source: str, fake: FakeDatadog, base_url: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-availability")
    now = minutes(T_R, 60)

    # Prometheus: buckets 0-7 and 10-11; bucket 6 is 90 % good, bucket 7 99.8 %.
    prometheus = FakeMetrics("prometheus")
    p_good, p_total = prometheus_queries(source)
    primary = [*range(1, 9), 11, 12]  # point k fills bucket k - 1
    prometheus.add(p_good, points(T_R, {k: {7: 0.9, 8: 0.998}.get(k, 1.0) for k in primary}))
    prometheus.add(p_total, points(T_R, dict.fromkeys(primary, 1.0)))
    # Datadog: buckets 0-9, all good but 8 and 9 (half good), where Prometheus has none.
    d_good, d_total = hits(source, ",http.status_class:2xx"), hits(source)
    fake.add_series(d_good, points(T_R, {k: 0.5 if k > 8 else 1.0 for k in range(1, 11)}))
    fake.add_series(d_total, points(T_R, dict.fromkeys(range(1, 11), 1.0)))
    settings = SloSettings(
        bindings=[
            TelemetryBinding(objective=objective.id, good=p_good, total=p_total),
            TelemetryBinding(
                objective=objective.id,
                source="datadog",
                role="secondary",
                good=d_good,
                total=d_total,
            ),
        ]
    )
    telemetry = TelemetryRepository(graph)
    span = Window(T_R, now)

    first = await run_telemetry_sync(graph, prometheus, settings, step_seconds=300, now=now)
    assert first.status == "SUCCEEDED", first.error
    assert (await telemetry.discrepancies([objective.id], span))[objective.id] == []
    async with datadog(base_url) as source_:
        second = await run_telemetry_sync(
            graph, DatadogMetrics(source_), settings, step_seconds=300, now=now
        )
    assert second.status == "SUCCEEDED", second.error

    # Bucket 6 differs by 10 points, beyond the 0.5 allowed; bucket 7 by 0.2, within it.
    [flagged] = (await telemetry.discrepancies([objective.id], span))[objective.id]
    assert flagged == Discrepancy(
        objective.id, minutes(T_R, 30), "prometheus", "datadog:secondary", flagged.primary, 100.0
    )
    assert flagged.primary == pytest.approx(90.0)

    # The primary where both have data, the secondary in the primary's gap (buckets 8-9).
    status = await engine_status(graph, objective, settings, now)
    assert status.total == 12 * 300
    assert status.good == pytest.approx(6 * 300 + 270 + 299.4 + 2 * 150 + 2 * 300)
    assert status.data_coverage == pytest.approx(coverage(12))
    stored = await telemetry.series(objective.id, "datadog:secondary", span)
    assert list(stored.good[:10]) == [300.0] * 8 + [150.0] * 2
    assert np.isnan(stored.total[10:12]).all()

    # A tighter tolerance flags bucket 7 too; a looser one clears every flag.
    for tolerance, expected in ((0.1, [30, 35]), (15.0, [])):
        retuned = settings.model_copy(update={"reconciliation_tolerance": tolerance})
        async with datadog(base_url) as source_:
            await run_telemetry_sync(
                graph, DatadogMetrics(source_), retuned, step_seconds=300, now=now
            )
        found = (await telemetry.discrepancies([objective.id], span))[objective.id]
        assert sorted(d.bucket_start for d in found) == [minutes(T_R, m) for m in expected]
