"""Pushed points land in the same buckets and status as pulled ones.

A real Prometheus (Debian's package, `tests/prometheus_server.py`) holds one day of a
request counter, per minute, with errors in a few stretches. One objective of an SLA is
measured from it by `hub sync prometheus`'s ingestion; its twin objective gets the
same day pushed to `POST /api/v1/measurements`, each minute's increase as one point
(written in several time zones, a hundred points a push). Their buckets and their
status must be equal.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from slo_support import engine_status, sla_objectives
from support import GraphBuilder

from hub.app import create_app
from hub.connectors.prometheus import PrometheusSource
from hub.domain.tokens import TokenSpec
from hub.domain.windows import Window
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.push import PATH
from hub.settings import PrometheusSettings, Settings, SloSettings, TelemetryBinding
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import run_telemetry_sync

T0 = datetime(2024, 5, 6, tzinfo=UTC)
MINUTES = 1440
NOW = T0 + timedelta(minutes=MINUTES)
# Minute m (1..1440) is the increase up to the sample at T0 + m minutes.
TOTAL = [100 + (m % 7) for m in range(1, MINUTES + 1)]
ERRORS = [(40 if 600 < m <= 660 else 0) + (3 if m % 50 == 0 else 0) for m in range(1, MINUTES + 1)]
OK = [t - e for t, e in zip(TOTAL, ERRORS, strict=True)]
METRIC = "pushpull_requests_total"
ZONES = [timezone(timedelta(hours=h)) for h in (0, 2, -5, 9, -11, 14)]

DATA = openmetrics_text(
    MetricFamily(
        "pushpull_requests",
        "counter",
        [
            ({"job": "pushpull", "code": "200"}, cumulative(0, OK)),
            ({"job": "pushpull", "code": "500"}, cumulative(0, ERRORS)),
        ],
        T0,
    )
)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus-pushpull")) as url:
        yield url


@pytest.fixture(scope="module")
async def client(
    graph_connection: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(data_dir=tmp_path_factory.mktemp("hub-pushpull")),
        graph_connection,
        schedule_syncs=False,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield c


def pushes(objective_id: str) -> list[dict[str, object]]:
    """The day as pushes of 100 points, each push in a zone of its own."""
    points = [
        {
            "time": (T0 + timedelta(minutes=m + 1)).astimezone(ZONES[m // 100 % len(ZONES)]),
            "good": OK[m],
            "total": TOTAL[m],
        }
        for m in range(MINUTES)
    ]
    return [
        {
            "objective": objective_id,
            "points": [
                {**p, "time": p["time"].isoformat()}  # type: ignore[attr-defined]
                for p in points[n : n + 100]
            ],
        }
        for n in range(0, MINUTES, 100)
    ]


async def test_a_pushed_day_equals_the_same_day_pulled_from_prometheus(
    graph: Graph, builder: GraphBuilder, prometheus_url: str, client: httpx.AsyncClient
) -> None:
    pulled, pushed = await sla_objectives(builder, "pulled", "pushed")
    settings = SloSettings(
        bindings=[
            TelemetryBinding(
                objective=pulled.id,
                good=f'sum({METRIC}{{job="pushpull",code!~"5.."}})',
                total=f'sum({METRIC}{{job="pushpull"}})',
                counter=True,
            )
        ]
    )
    token = (
        await TokenRepository(graph).issue(
            TokenSpec.of("pushpull", Role.PUSHER, objectives=[pushed.id])
        )
    ).token

    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            graph, PrometheusMetrics(prometheus), settings, step_seconds=60, now=NOW
        )
    answers = [
        await client.post(
            PATH, content=json.dumps(body), headers={"Authorization": f"Bearer {token}"}
        )
        for body in pushes(pushed.id)
    ]

    assert run.status == "SUCCEEDED", run.error
    assert [a.json() for a in answers] == [
        {"accepted": len(body["points"]), "quarantined": 0}  # type: ignore[arg-type]
        for body in pushes(pushed.id)
    ]
    day = Window(T0, NOW)
    telemetry = TelemetryRepository(graph)
    from_prometheus = await telemetry.series(pulled.id, "prometheus", day)
    from_pushes = await telemetry.series(pushed.id, "push", day)
    assert from_prometheus.start == from_pushes.start == T0
    # Every bucket of the day has data, and the figures are the hand-made ones.
    assert not np.isnan(from_pushes.total).any()
    assert float(np.sum(from_pushes.total)) == sum(TOTAL)
    assert float(np.sum(from_pushes.good)) == sum(OK)
    np.testing.assert_array_equal(from_pushes.good, from_prometheus.good)
    np.testing.assert_array_equal(from_pushes.total, from_prometheus.total)

    for at in (NOW, T0 + timedelta(hours=11), NOW + timedelta(days=2)):
        by_pull = await engine_status(graph, pulled, settings, at)
        by_push = await engine_status(graph, pushed, settings, at)
        assert (by_push.good, by_push.total) == (by_pull.good, by_pull.total)
        assert by_push.compliance == by_pull.compliance
        assert by_push.data_coverage == by_pull.data_coverage
        assert by_push.budget_remaining == by_pull.budget_remaining
        assert by_push.state == by_pull.state
    final = await engine_status(graph, pushed, settings, NOW)
    assert (final.good, final.total) == (sum(OK), sum(TOTAL))
