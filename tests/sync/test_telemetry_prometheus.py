"""`hub sync prometheus` end to end: OpenSLO objectives measured from a real Prometheus.

Prometheus (Debian's package) serves samples backfilled with promtool: a checkout
service answering 100 requests a minute for four hours, with 10 errors a minute during
the third hour, and an error-ratio gauge with a few untrustworthy samples. The
objectives' status and budget are computed by hand below. Last, `hub sync prometheus`
runs as a process against the session graph: with the real clock, so against a
Prometheus of its own holding samples of a few hours ago.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from slo_support import coverage, engine_status, import_slo, quarantined, sla_objectives
from support import GraphBuilder

from hub.connectors.prometheus import PrometheusSource
from hub.domain.budget import BudgetState
from hub.domain.models import Objective
from hub.domain.windows import snap
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.sync import SyncRepository
from hub.settings import PrometheusSettings, SloSettings, TelemetryBinding
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import run_telemetry_sync

T0 = datetime(2024, 3, 1, tzinfo=UTC)
MINUTES = 240
NOW = T0 + timedelta(minutes=MINUTES)
ERRORS = [10 if 120 < minute <= 180 else 0 for minute in range(1, MINUTES + 1)]

# The share of failed requests, sampled each minute: 0 but for a NaN, a +Inf, a 1.5
# and one minute where everything failed.
RATIO_QUERY = 'checkout_error_ratio{job="checkout"}'
ODD_RATIOS = {30: float("nan"), 100: 1.0, 150: float("inf"), 200: 1.5}
RATIOS = [ODD_RATIOS.get(minute, 0.0) for minute in range(MINUTES)]
REPO = Path(__file__).resolve().parents[2]

DATA = openmetrics_text(
    MetricFamily(
        "http_requests",
        "counter",
        [
            ({"job": "checkout", "code": "200"}, cumulative(0, [100] * MINUTES)),
            ({"job": "checkout", "code": "500"}, cumulative(0, ERRORS)),
        ],
        T0,
    ),
    MetricFamily("checkout_error_ratio", "gauge", [({"job": "checkout"}, RATIOS)], T0),
)


async def import_checkout_slo(
    builder: GraphBuilder, metric: str = "http_requests_total"
) -> Objective:
    """The test's OpenSLO objective of 99% good checkout requests, counted by `metric`."""
    return await import_slo(
        builder,
        f"{builder.source}-availability",
        0.99,
        good=f'sum({metric}{{job="checkout",code!~"5.."}})',
        total=f'sum({metric}{{job="checkout"}})',
    )


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


async def test_a_first_sync_backfills_the_window_and_status_matches_hand_figures(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    objective = await import_checkout_slo(builder)
    settings = SloSettings()

    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            graph, PrometheusMetrics(prometheus), settings, step_seconds=60, now=NOW
        )

    assert run.status == "SUCCEEDED", run.error
    assert run.quarantined == 0
    status = await engine_status(graph, objective, settings, NOW)
    # A sample's increase covers the minute before it: all 240 minutes are in the window.
    good, bad = 100 * MINUTES, 10 * 60
    assert status.good == good
    assert status.total == good + bad
    assert status.compliance == pytest.approx(100 * good / (good + bad))
    assert status.budget_remaining == pytest.approx(100 * (1 - (bad / (good + bad)) / 0.01))
    assert status.state is BudgetState.EXHAUSTED
    assert status.data_coverage == pytest.approx(100 * MINUTES * 60 / (28 * 86400))
    assert await SyncRepository(graph).watermarks("prometheus") != {}


async def test_nan_and_infinite_samples_from_prometheus_are_quarantined(
    graph: Graph, builder: GraphBuilder, source: str, prometheus_url: str
) -> None:
    [objective] = await sla_objectives(builder, f"{source}-errors")
    settings = SloSettings(bindings=[TelemetryBinding(objective=objective.id, ratio=RATIO_QUERY)])

    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            graph, PrometheusMetrics(prometheus), settings, step_seconds=300, now=NOW
        )

    assert run.status == "SUCCEEDED", run.error
    found = {
        at: (e.reason, json.loads(e.payload)["value"])
        for at, e in (await quarantined(graph, "prometheus", objective.id)).items()
    }
    assert found == {
        to_iso(T0 + timedelta(minutes=30)): ("ratio: not a finite number", "nan"),
        to_iso(T0 + timedelta(minutes=150)): ("ratio: not a finite number", "inf"),
        to_iso(T0 + timedelta(minutes=200)): ("ratio: outside 0..1", "1.5"),
    }
    assert run.quarantined == 3
    status = await engine_status(graph, objective, settings, NOW)
    # One sample per 5-minute step from T0 to NOW: 49, each filling the bucket before it
    # (T0's fills the bucket before T0); 3 refused, their buckets missing; one all bad.
    assert status.total == 46
    assert status.good == 45
    assert status.data_coverage == pytest.approx(coverage(46))


# ---- `hub sync prometheus` as a process -----------------------------------------------------


def hub_sync(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "sync", "prometheus"],
        cwd=REPO,
        env={
            **os.environ,
            "HUB_DATA_DIR": str(data_dir),
            "HUB_PROMETHEUS__URL": url,
            "HUB_PROMETHEUS__STEP_SECONDS": "300",
        },
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )


async def test_hub_sync_prometheus_measures_recent_samples(
    graph: Graph,
    graph_data_dir: Path,
    builder: GraphBuilder,
    source: str,
    tmp_path: Path,
) -> None:
    # Three hours of samples ending five hours ago: old enough for promtool's blocks,
    # well inside the 28-day window whatever the clock says when the process runs.
    start = snap(datetime.now(UTC)) - timedelta(hours=8)
    metric = f"{source}_requests"
    errors = [10 if 60 < minute <= 90 else 0 for minute in range(1, 181)]
    text = openmetrics_text(
        MetricFamily(
            metric,
            "counter",
            [
                ({"job": "checkout", "code": "200"}, cumulative(0, [100] * 180)),
                ({"job": "checkout", "code": "500"}, cumulative(0, errors)),
            ],
            start,
        )
    )
    objective = await import_checkout_slo(builder, metric=f"{metric}_total")

    with start_prometheus(text, tmp_path) as url:
        done = await asyncio.to_thread(hub_sync, graph_data_dir, url)

    assert done.returncode == 0, done.stderr
    summary = dict(re.findall(r"^(\w+): (.+)$", done.stdout, re.MULTILINE))
    assert set(summary) == {"fetched", "created", "updated", "deleted", "quarantined", "duration"}
    assert int(summary["fetched"]) >= 2 * 37  # a point per 5 minutes of samples, per query
    assert summary["quarantined"] == "0"
    status = await engine_status(graph, objective, SloSettings(), datetime.now(UTC))
    assert status.good == 100 * 180
    assert status.total == 100 * 180 + 10 * 30


async def test_hub_sync_prometheus_exits_non_zero_when_prometheus_is_down(
    graph: Graph, graph_data_dir: Path, builder: GraphBuilder
) -> None:
    objective = await import_checkout_slo(builder)
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    done = await asyncio.to_thread(hub_sync, graph_data_dir, f"http://127.0.0.1:{port}")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "fetched: 0" in done.stdout
    assert "the sync of prometheus failed" in done.stderr
    # The first refused connection ends the run: every objective waits for the next one.
    assert "not measured in this run: " in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    watermarks = await SyncRepository(graph).watermarks("prometheus")
    assert f"{objective.id}|primary" not in watermarks
