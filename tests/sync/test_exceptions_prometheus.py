"""Availability with and without an approved exception, measured from a real Prometheus.

Prometheus (Debian's package) serves samples backfilled with promtool: a shop service
answering 100 requests a minute for four hours from T0, with 10 errors a minute during
the third hour. Two objectives measure it after one `prometheus` sync: the service's
own OpenSLO objective and the objective of an SLA covering the service (bound in the
settings), both 99 % over 28 rolling days. Exceptions of the service then leave their
windows out of both. Every figure below is worked out by hand:

- a counter sample's increase covers the minute before it, so minutes 121-180 fill
  the buckets of [T0 + 2h, T0 + 3h);
- without an exception: 24,000 good of 24,600 requests; 48 buckets with data of the
  8,064 in 28 days;
- an emergency of [T0 + 2h30, T0 + 3h) excuses six buckets, 3,000 good and 300 bad
  requests: 21,000 good of 21,300, 42 buckets of 8,058;
- planned maintenance of [T0 + 2h, T0 + 2h30) as well: the whole bad hour is left
  out, 18,000 of 18,000, 36 buckets of 8,052.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from slo_support import engine_status, excuse, import_slo, sla_objectives
from support import GraphBuilder

from hub.connectors.prometheus import PrometheusSource
from hub.domain.budget import BudgetState, ObjectiveStatus
from hub.domain.exceptions import ExceptionKind
from hub.domain.models import Objective
from hub.graph.client import Graph
from hub.settings import PrometheusSettings, SloSettings, TelemetryBinding
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import run_telemetry_sync

T0 = datetime(2024, 3, 1, tzinfo=UTC)
MINUTES = 240
NOW = T0 + timedelta(minutes=MINUTES)
ERRORS = [10 if 120 < minute <= 180 else 0 for minute in range(1, MINUTES + 1)]
GOOD = 'sum(shop_requests_total{job="shop",code!~"5.."})'
TOTAL = 'sum(shop_requests_total{job="shop"})'
WINDOW_BUCKETS = 28 * 288

DATA = openmetrics_text(
    MetricFamily(
        "shop_requests",
        "counter",
        [
            ({"job": "shop", "code": "200"}, cumulative(0, [100] * MINUTES)),
            ({"job": "shop", "code": "500"}, cumulative(0, ERRORS)),
        ],
        T0,
    )
)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus-exceptions")) as url:
        yield url


def figures(status: ObjectiveStatus) -> tuple[float | None, float | None, float]:
    return status.good, status.total, status.data_coverage


async def test_availability_with_and_without_an_exception(
    graph: Graph, builder: GraphBuilder, source: str, prometheus_url: str
) -> None:
    own = await import_slo(builder, f"{source}-own", 0.99, good=GOOD, total=TOTAL)
    [agreed] = await sla_objectives(builder, f"{source}-agreed")
    (shop,) = (await builder.ids(["checkout"])).values()
    settings = SloSettings(
        bindings=[TelemetryBinding(objective=agreed.id, good=GOOD, total=TOTAL, counter=True)]
    )
    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            graph, PrometheusMetrics(prometheus), settings, step_seconds=60, now=NOW
        )
    assert run.status == "SUCCEEDED", run.error

    async def both() -> list[ObjectiveStatus]:
        objectives: list[Objective] = [own, agreed]
        return [await engine_status(graph, o, settings, NOW) for o in objectives]

    without = await both()
    await excuse(
        graph,
        [shop],
        T0 + timedelta(hours=2, minutes=30),
        T0 + timedelta(hours=3),
        ExceptionKind.EMERGENCY,
    )
    emergency = await both()
    await excuse(graph, [shop], T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=30))
    maintenance = await both()

    for status in without:
        assert figures(status) == (
            24_000,
            24_600,
            pytest.approx(100 * 48 / WINDOW_BUCKETS),
        )
        assert status.compliance == pytest.approx(100 * 24_000 / 24_600)
        assert status.budget_remaining == pytest.approx(100 * (1 - (600 / 24_600) / 0.01))
        assert status.state is BudgetState.EXHAUSTED
    for status in emergency:
        assert figures(status) == (
            21_000,
            21_300,
            pytest.approx(100 * 42 / (WINDOW_BUCKETS - 6)),
        )
        assert status.compliance == pytest.approx(100 * 21_000 / 21_300)
        assert status.budget_remaining == pytest.approx(100 * (1 - (300 / 21_300) / 0.01))
    for status in maintenance:
        assert figures(status) == (
            18_000,
            18_000,
            pytest.approx(100 * 36 / (WINDOW_BUCKETS - 12)),
        )
        assert status.compliance == 100.0
        assert status.budget_remaining == 100.0
        assert status.state is BudgetState.HEALTHY
