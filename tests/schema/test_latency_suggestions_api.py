"""Latency percentiles in `baseline` and suggested LATENCY thresholds, from two days of
a p99 gauge backfilled into a real Prometheus and synced as `hub sync prometheus` does.

The gauge (milliseconds) has one sample a minute, Monday 4 and Tuesday 5 March 2024;
the sample at T0 + (j + 1) minutes fills slice j, the minute before it. For minute m of
a day (0 to 1439), peak is 480 <= m < 960 (08:00-16:00 UTC, weekdays):

    off-peak: 100 + 10 * (m % 10) ms, except m = 180 (03:00): +Inf
    peak:     400 + 100 * (m % 5) ms

The objective is LATENCY, threshold 0.3 s, synced with a 60-second step: 60-second
slices. A day has 960 off-peak slices: each residue m % 10 comes 96 times, so 100 ms
95 times (03:00 is +Inf), 110 to 190 ms 96 times each; and 480 peak slices, 400 to
800 ms 96 times each. Over both days, ascending with running counts:

    100 ms x190 (190)  110 (382)  120 (574)  130 (766)  140 (958)  150 (1150)
    160 (1342)  170 (1534)  180 (1726)  190 (1918)  | 400 (2110)  500 (2302)
    600 (2494)  700 (2686)  800 (2878)  +Inf x2 (2880)

Percentile p of n slices ("inverted_cdf") is the k-th value, k = ceil(p n / 100):

- off-peak, n = 1920: p50 k=960 -> 0.15; p90 k=1728 -> 0.19; p95 k=1824 -> 0.19;
  p99 k=1901 -> 0.19; p99.9 k=1919 -> +Inf (null).
- everything, n = 2880: p50 k=1440 -> 0.17; p90 k=2592 -> 0.7; p95 k=2736 -> 0.8;
  p99 k=2852 -> 0.8; p99.9 k=2878 -> 0.8.

Daily compliance (slices within 0.3 s): off-peak 959 of 960 = 99.8958 % a day,
everything 959 of 1440 = 66.5972 %. Tiers here: TIER_1 p10 >= 99.9, TIER_2 p50 >= 90,
TIER_3 p50 >= 75, TIER_4 p50 >= 50; targets round down to 2 decimals, thresholds up
to 0.01 s:

- everything: TIER_1 99.9 (k = ceil(2877.12) = 2878) -> 0.8; TIER_2 90 (k=2592) ->
  0.7; TIER_3 75 (k=2160) -> 0.5; TIER_4 66.59 (k = ceil(1917.792) = 1918) -> 0.19.
- off-peak: TIER_1 99.9 (k=1919: +Inf) -> null; TIER_2, TIER_3, TIER_4 99.89
  (k = ceil(1917.888) = 1918) -> 0.19.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pytest
from prometheus_server import MetricFamily, openmetrics_text, start_prometheus
from slo_support import sla_objectives
from support import VIEWER, GraphBuilder

from hub.connectors.prometheus import PrometheusSource
from hub.domain.models import Indicator, Objective, Tier
from hub.domain.windows import Window
from hub.graph.client import Graph
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import (
    ApiSettings,
    PeakHoursSettings,
    PeakSettings,
    PrometheusSettings,
    SloSettings,
    SuggestionSettings,
    TelemetryBinding,
    TierTargetSettings,
)
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import run_telemetry_sync

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
DAYS = 2
MINUTES = DAYS * 1440
END = T0 + timedelta(days=DAYS)
QUERY = 'suggest_latency_p99_ms{job="checkout"}'


def latency_ms(slice_index: int) -> float:
    """The latency of slice `slice_index` (minutes from T0), as the docstring lays out."""
    m = slice_index % 1440
    if 480 <= m < 960:
        return 400.0 + 100 * (m % 5)
    if m == 180:
        return math.inf
    return 100.0 + 10 * (m % 10)


DATA = openmetrics_text(
    MetricFamily(
        "suggest_latency_p99_ms",
        "gauge",
        [({"job": "checkout"}, [latency_ms(j) for j in range(MINUTES)])],
        T0 + timedelta(minutes=1),
    )
)

PEAK = PeakSettings(
    time_zone="UTC",
    hours=[PeakHoursSettings(weekdays=[0, 1, 2, 3, 4], start=time(8), end=time(16))],
)
TIERS = SuggestionSettings(
    tiers={
        Tier.TIER_1: TierTargetSettings(percentile=10, minimum_target=99.9),
        Tier.TIER_2: TierTargetSettings(percentile=50, minimum_target=90),
        Tier.TIER_3: TierTargetSettings(percentile=50, minimum_target=75),
        Tier.TIER_4: TierTargetSettings(percentile=50, minimum_target=50),
    }
)

BASELINE = """
query B($id: ID!, $from: DateTime!, $to: DateTime!, $peak: Boolean) {
  baseline(objectiveId: $id, from: $from, to: $to, excludePeak: $peak) {
    compliance bucketsUsed
    latency { sliceSeconds slices peakSlicesExcluded method
              percentiles { percentile seconds } }
  }
}
"""

SUGGEST = """
query S($id: ID!, $from: DateTime!, $to: DateTime!, $peak: Boolean) {
  suggestObjectives(serviceId: $id, indicator: LATENCY, from: $from, to: $to,
                    excludePeak: $peak) {
    objectives {
      threshold
      targets { tier target threshold }
      evidence { objective { name } days { compliance } latency { slices } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def settings(*bindings: TelemetryBinding) -> SloSettings:
    return SloSettings(peak=PEAK, suggestions=TIERS, bindings=list(bindings))


async def sync(graph: Graph, prometheus_url: str, slo: SloSettings, now: datetime) -> None:
    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            graph, PrometheusMetrics(prometheus), slo, step_seconds=60, now=now
        )
    assert run.status == "SUCCEEDED", run.error


async def p99_history(
    builder: GraphBuilder, prometheus_url: str
) -> tuple[str, Objective, Objective, SloSettings]:
    """The checkout service with an SLA of two LATENCY objectives (0.3 s): `p99` bound to
    the gauge, `ratio` measured by good/total (constant rates: 9 of 10 within); synced."""
    p99, ratio = await sla_objectives(
        builder, "p99", "ratio", indicator=Indicator.LATENCY, threshold=0.3, target=99.0
    )
    ids = await builder.load(services=["checkout"])
    slo = settings(
        TelemetryBinding(objective=p99.id, source="prometheus", latency=QUERY, unit="ms"),
        TelemetryBinding(
            objective=ratio.id, source="prometheus", good="vector(9)", total="vector(10)"
        ),
    )
    await sync(builder.graph, prometheus_url, slo, END)
    return ids["checkout"], p99, ratio, slo


async def ask(
    graph: Graph, slo: SloSettings, document: str, variables: dict[str, Any]
) -> dict[str, Any]:
    result = await build_schema().execute(
        document,
        variable_values=variables,
        context_value=Context.create(graph, VIEWER, ApiSettings(), slo=slo),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def span(peak: bool) -> dict[str, Any]:
    return {"from": T0.isoformat(), "to": END.isoformat(), "peak": peak}


def span_of() -> Window:
    return Window(T0, END)


def percentiles(found: dict[str, Any]) -> list[tuple[float, float | None]]:
    return [(p["percentile"], p["seconds"]) for p in found["latency"]["percentiles"]]


async def test_the_baseline_reports_latency_percentiles_of_the_slices(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    _, p99, _, slo = await p99_history(builder, prometheus_url)

    off_peak = (await ask(graph, slo, BASELINE, {"id": p99.id, **span(True)}))["baseline"]
    whole = (await ask(graph, slo, BASELINE, {"id": p99.id, **span(False)}))["baseline"]

    assert off_peak["compliance"] == pytest.approx(100 * 959 / 960)
    assert off_peak["bucketsUsed"] == 192 * DAYS
    latency = off_peak["latency"]
    assert latency["sliceSeconds"] == 60
    assert latency["slices"] == 1920
    assert latency["peakSlicesExcluded"] == 960
    assert "inverted_cdf" in latency["method"]
    assert percentiles(off_peak) == [
        (50.0, pytest.approx(0.15)),
        (90.0, pytest.approx(0.19)),
        (95.0, pytest.approx(0.19)),
        (99.0, pytest.approx(0.19)),
        (99.9, None),  # +Inf: slower than the source measured
    ]
    assert whole["compliance"] == pytest.approx(100 * 959 / 1440)
    assert whole["latency"]["slices"] == 2880
    assert whole["latency"]["peakSlicesExcluded"] == 0
    assert percentiles(whole) == [
        (50.0, pytest.approx(0.17)),
        (90.0, pytest.approx(0.7)),
        (95.0, pytest.approx(0.8)),
        (99.0, pytest.approx(0.8)),
        (99.9, pytest.approx(0.8)),
    ]
    # As stored: seconds per one-minute slice, +Inf kept.
    key = (p99.id, "prometheus")
    stored = (await TelemetryRepository(graph).latency_series([key], span_of()))[key]
    assert stored is not None
    assert stored.start == T0
    assert stored.seconds[:3].tolist() == pytest.approx([0.1, 0.11, 0.12])
    assert stored.seconds[180] == math.inf
    assert stored.seconds[480] == pytest.approx(0.4)


async def test_suggested_thresholds_per_tier_come_from_the_slices(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    service_id, _, _, slo = await p99_history(builder, prometheus_url)

    whole = await ask(graph, slo, SUGGEST, {"id": service_id, **span(False)})
    off_peak = await ask(graph, slo, SUGGEST, {"id": service_id, **span(True)})

    [found] = [
        o
        for o in whole["suggestObjectives"]["objectives"]
        if o["evidence"]["objective"]["name"] == "p99"
    ]
    assert found["threshold"] == 0.3  # the measured one
    assert found["evidence"]["latency"] == {"slices": 2880}
    assert [d["compliance"] for d in found["evidence"]["days"]] == pytest.approx(
        [100 * 959 / 1440] * DAYS
    )
    assert [(t["tier"], t["target"], t["threshold"]) for t in found["targets"]] == [
        ("TIER_1", 99.9, pytest.approx(0.8)),
        ("TIER_2", 90.0, pytest.approx(0.7)),
        ("TIER_3", 75.0, pytest.approx(0.5)),
        ("TIER_4", 66.59, pytest.approx(0.19)),
    ]
    [found] = [
        o
        for o in off_peak["suggestObjectives"]["objectives"]
        if o["evidence"]["objective"]["name"] == "p99"
    ]
    assert found["evidence"]["latency"] == {"slices": 1920}
    assert [(t["tier"], t["target"], t["threshold"]) for t in found["targets"]] == [
        ("TIER_1", 99.9, None),  # 99.9 % of the slices takes a +Inf one
        ("TIER_2", 99.89, pytest.approx(0.19)),
        ("TIER_3", 99.89, pytest.approx(0.19)),
        ("TIER_4", 99.89, pytest.approx(0.19)),
    ]


async def test_a_good_over_total_latency_objective_keeps_no_durations(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    service_id, _, ratio, slo = await p99_history(builder, prometheus_url)

    found = await ask(graph, slo, SUGGEST, {"id": service_id, **span(False)})
    baseline = await ask(graph, slo, BASELINE, {"id": ratio.id, **span(False)})

    [suggested] = [
        o
        for o in found["suggestObjectives"]["objectives"]
        if o["evidence"]["objective"]["name"] == "ratio"
    ]
    assert suggested["evidence"]["latency"] is None
    assert [d["compliance"] for d in suggested["evidence"]["days"]] == pytest.approx([90.0] * DAYS)
    # Its buckets say how often 0.3 s was met, nothing about another threshold.
    assert {t["threshold"] for t in suggested["targets"]} == {0.3}
    assert baseline["baseline"]["compliance"] == pytest.approx(90.0)
    assert baseline["baseline"]["latency"] is None
    key = (ratio.id, "prometheus")
    assert await TelemetryRepository(graph).latency_series([key], span_of()) == {key: None}


async def test_a_resync_of_an_overlap_keeps_the_stored_latency(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    _, p99, _, slo = await p99_history(builder, prometheus_url)
    repository = TelemetryRepository(graph)
    key = (p99.id, "prometheus")
    before = (await repository.latency_series([key], span_of()))[key]
    first = await ask(graph, slo, BASELINE, {"id": p99.id, **span(True)})

    # Two hours later: the run refetches the overlap before END (same samples) and the
    # minutes after it; Tuesday is written again, merged with what it held.
    await sync(graph, prometheus_url, slo, END + timedelta(hours=2))

    after = (await repository.latency_series([key], span_of()))[key]
    assert before is not None
    assert after is not None
    assert np.array_equal(before.seconds, after.seconds, equal_nan=True)
    again = await ask(graph, slo, BASELINE, {"id": p99.id, **span(True)})
    assert again == first
    # Lookback: the last sample answers for the evaluations just after END.
    wednesday = (await repository.latency_series([key], Window(END, END + timedelta(hours=1))))[key]
    assert wednesday is not None
    assert wednesday.seconds[0] == pytest.approx(latency_ms(MINUTES - 1) / 1000)
