"""`suggestObjectives` and `baseline` on four days of checkout traffic backfilled into a
real Prometheus and synced into buckets the way `hub sync prometheus` does.

Checkout answers 100 requests a minute, Monday 4 to Thursday 7 March 2024. During the
peak hours (08:00-16:00 UTC, weekdays) it fails `PEAK_ERRORS[d]` more requests a
minute on day d; off-peak nothing fails. A day then holds 144,000 good requests of
144,000 + 480 * e, so the daily compliance is 144000 / (144000 + 480 e):

    e = 1: 99.66777...   e = 3: 99.00990...   e = 0: 100   e = 6: 98.03921...

Ascending: 98.039, 99.010, 99.668, 100; numpy "lower" takes rank floor(p/100 * 3).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from prometheus_server import MetricFamily, cumulative, openmetrics_text, start_prometheus
from pydantic import ValidationError
from slo_support import import_slo, incident, objective_spec, sla_objectives, ticket
from support import VIEWER, GraphBuilder, load

from hub.connectors.prometheus import PrometheusSource
from hub.domain.models import AgreementKind, Indicator, Tier
from hub.engine.suggestions import peak_calendar
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import (
    ApiSettings,
    PeakHoursSettings,
    PeakSettings,
    PrometheusSettings,
    SloSettings,
    SuggestionSettings,
    TierTargetSettings,
)
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import run_telemetry_sync

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
DAYS = 4
MINUTES = DAYS * 1440
END = T0 + timedelta(days=DAYS)
PEAK_ERRORS = [1, 3, 0, 6]


def errors_at(minute: int) -> int:
    """Errors counted by the sample `minute` minutes after T0 (it covers the minute before)."""
    day, of_day = divmod(minute - 1, 1440)
    return PEAK_ERRORS[day] if 480 <= of_day < 960 else 0


DATA = openmetrics_text(
    MetricFamily(
        "suggest_requests",
        "counter",
        [
            ({"job": "checkout", "code": "200"}, cumulative(0, [100] * MINUTES)),
            (
                {"job": "checkout", "code": "500"},
                cumulative(0, [errors_at(m) for m in range(1, MINUTES + 1)]),
            ),
        ],
        T0,
    )
)

SETTINGS = SloSettings(
    peak=PeakSettings(
        time_zone="UTC",
        hours=[PeakHoursSettings(weekdays=[0, 1, 2, 3, 4], start=time(8), end=time(16))],
    ),
    suggestions=SuggestionSettings(
        tiers={
            Tier.TIER_1: TierTargetSettings(percentile=10, minimum_target=99.9),
            Tier.TIER_3: TierTargetSettings(percentile=50, minimum_target=95),
            Tier.TIER_4: TierTargetSettings(percentile=75, minimum_target=90),
        }
    ),
)

SUGGEST = """
query S($id: ID!, $from: DateTime!, $to: DateTime!, $peak: Boolean) {
  suggestObjectives(serviceId: $id, indicator: AVAILABILITY, from: $from, to: $to,
                    excludePeak: $peak) {
    tier incidents incidentDays
    forTier { tier target }
    objectives {
      agreementId threshold
      targets { tier percentile minimumTarget achieved target raisedToMinimum }
      evidence {
        objective { name }
        compliance bucketsUsed peakBucketsExcluded daysUsed daysWithoutData
        percentiles { percentile compliance }
        days { start compliance buckets }
      }
    }
  }
}
"""

BASELINE = """
query B($id: ID!, $from: DateTime!, $to: DateTime!, $peak: Boolean) {
  baseline(objectiveId: $id, from: $from, to: $to, excludePeak: $peak) {
    compliance good total bucketsUsed peakBucketsExcluded
    percentiles { percentile compliance }
  }
}
"""


def daily(errors: int) -> float:
    return 100 * 144_000 / (144_000 + 480 * errors)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_prometheus(DATA, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


async def checkout_history(builder: GraphBuilder, prometheus_url: str) -> tuple[str, str]:
    """The checkout service (TIER_3) with its synced availability objective; their ids."""
    objective = await import_slo(
        builder,
        f"{builder.source}-availability",
        0.99,
        good='sum(suggest_requests_total{job="checkout",code!~"5.."})',
        total='sum(suggest_requests_total{job="checkout"})',
    )
    ids = await builder.load(services=["checkout"], tiers={"checkout": "TIER_3"})
    async with PrometheusSource(PrometheusSettings(url=prometheus_url)) as prometheus:
        run = await run_telemetry_sync(
            builder.graph, PrometheusMetrics(prometheus), SETTINGS, step_seconds=300, now=END
        )
    assert run.status == "SUCCEEDED", run.error
    # Two incidents on checkout: one on Tuesday, one from Wednesday 23:00 to Thursday 01:00.
    await SyncRepository(builder.graph).write_batch(
        f"{builder.source}-pd",
        incidents=[
            incident(
                builder.source,
                "i1",
                "checkout",
                "P2",
                T0 + timedelta(days=1, hours=9),
                T0 + timedelta(days=1, hours=10),
            ),
            incident(
                builder.source,
                "i2",
                "checkout",
                "P1",
                T0 + timedelta(days=2, hours=23),
                T0 + timedelta(days=3, hours=1),
            ),
        ],
    )
    return ids["checkout"], objective.id


async def ask(graph: Graph, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    result = await build_schema().execute(
        document,
        variable_values=variables,
        context_value=Context.create(graph, VIEWER, ApiSettings(), slo=SETTINGS),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def span(peak: bool) -> dict[str, Any]:
    return {"from": T0.isoformat(), "to": END.isoformat(), "peak": peak}


async def test_targets_per_tier_come_from_the_daily_compliance_percentiles(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    service_id, _ = await checkout_history(builder, prometheus_url)

    found = (await ask(graph, SUGGEST, {"id": service_id, **span(False)}))["suggestObjectives"]

    assert found["tier"] == "TIER_3"
    assert found["incidents"] == 2
    assert found["incidentDays"] == 3  # Tuesday, Wednesday and Thursday
    [objective] = found["objectives"]
    assert objective["agreementId"] is None
    assert objective["threshold"] is None
    evidence = objective["evidence"]
    assert [d["compliance"] for d in evidence["days"]] == pytest.approx(
        [daily(e) for e in PEAK_ERRORS]
    )
    assert [d["buckets"] for d in evidence["days"]] == [288] * DAYS
    assert evidence["bucketsUsed"] == 288 * DAYS
    assert evidence["peakBucketsExcluded"] == 0
    assert evidence["daysUsed"] == DAYS
    assert evidence["daysWithoutData"] == 0
    total = DAYS * 144_000 + 480 * sum(PEAK_ERRORS)
    assert evidence["compliance"] == pytest.approx(100 * DAYS * 144_000 / total)
    by_p = {p["percentile"]: p["compliance"] for p in evidence["percentiles"]}
    assert by_p[10.0] == pytest.approx(daily(6))  # rank floor(0.3) = 0
    assert by_p[50.0] == pytest.approx(daily(3))  # rank floor(1.5) = 1
    assert by_p[75.0] == pytest.approx(daily(1))  # rank floor(2.25) = 2
    assert by_p[99.0] == pytest.approx(daily(1))  # rank floor(2.97) = 2
    targets = {t["tier"]: t for t in objective["targets"]}
    assert list(targets) == ["TIER_1", "TIER_3", "TIER_4"]
    # TIER_1: p10 = 98.039 is below 99.9, so the tier's minimum.
    assert targets["TIER_1"]["achieved"] == pytest.approx(daily(6))
    assert targets["TIER_1"]["target"] == 99.9
    assert targets["TIER_1"]["raisedToMinimum"] is True
    # TIER_3: p50 = 99.0099, rounded down to 99.0; TIER_4: p75 = 99.6677 -> 99.66.
    assert targets["TIER_3"]["target"] == 99.0
    assert targets["TIER_4"]["target"] == 99.66
    assert targets["TIER_4"]["raisedToMinimum"] is False
    assert found["forTier"] == [{"tier": "TIER_3", "target": 99.0}]


async def test_off_peak_suggestions_leave_the_worse_peak_hours_out(
    graph: Graph, builder: GraphBuilder, prometheus_url: str
) -> None:
    service_id, objective_id = await checkout_history(builder, prometheus_url)

    found = (await ask(graph, SUGGEST, {"id": service_id, **span(True)}))["suggestObjectives"]

    [objective] = found["objectives"]
    evidence = objective["evidence"]
    # 96 peak buckets (08:00-16:00) a weekday left out; the other 192 never failed.
    assert [d["compliance"] for d in evidence["days"]] == [100.0] * DAYS
    assert [d["buckets"] for d in evidence["days"]] == [192] * DAYS
    assert evidence["peakBucketsExcluded"] == 96 * DAYS
    assert evidence["compliance"] == 100.0
    assert {t["tier"]: t["target"] for t in objective["targets"]} == {
        "TIER_1": 100.0,
        "TIER_3": 100.0,
        "TIER_4": 100.0,
    }

    off_peak = (await ask(graph, BASELINE, {"id": objective_id, **span(True)}))["baseline"]
    assert off_peak["good"] == off_peak["total"] == DAYS * 192 * 500
    assert off_peak["peakBucketsExcluded"] == 96 * DAYS
    whole = (await ask(graph, BASELINE, {"id": objective_id, **span(False)}))["baseline"]
    assert whole["good"] == DAYS * 144_000
    assert whole["total"] == DAYS * 144_000 + 480 * sum(PEAK_ERRORS)
    assert {p["percentile"]: p["compliance"] for p in whole["percentiles"]}[25.0] == pytest.approx(
        daily(6)
    )


async def test_a_service_nobody_knows_is_not_found(graph: Graph) -> None:
    result = await build_schema().execute(
        SUGGEST,
        variable_values={"id": "cmp_00000000000000000000000000000000", **span(False)},
        context_value=Context.create(graph, VIEWER, ApiSettings(), slo=SETTINGS),
    )
    assert result.errors is not None
    assert result.errors[0].extensions is not None
    assert result.errors[0].extensions["code"] == "NOT_FOUND"


def test_peak_settings_become_the_calendar_and_refuse_reversed_hours() -> None:
    calendar = peak_calendar(SETTINGS.peak)
    assert calendar.is_peak(T0 + timedelta(hours=8))
    assert not calendar.is_peak(T0 + timedelta(hours=16))
    with pytest.raises(ValidationError, match="end: must be after start"):
        PeakHoursSettings(start=time(17), end=time(9))
    with pytest.raises(ValidationError, match="unknown time zone"):
        PeakSettings(time_zone="Mars/Olympus")


async def test_an_sla_objective_without_data_suggests_each_tiers_minimum(
    graph: Graph, builder: GraphBuilder
) -> None:
    [objective] = await sla_objectives(builder, "checkout availability")
    ids = await builder.load(services=["checkout"])

    found = (await ask(graph, SUGGEST, {"id": ids["checkout"], **span(True)}))["suggestObjectives"]

    assert found["tier"] is None
    assert found["forTier"] == []
    [suggested] = found["objectives"]
    assert suggested["agreementId"] == objective.agreement_id
    assert suggested["evidence"]["objective"]["name"] == "checkout availability"
    assert suggested["evidence"]["daysUsed"] == 0
    assert suggested["evidence"]["daysWithoutData"] == DAYS
    assert suggested["evidence"]["percentiles"] == []
    assert {t["tier"]: (t["achieved"], t["target"]) for t in suggested["targets"]} == {
        "TIER_1": (None, 99.9),
        "TIER_3": (None, 95.0),
        "TIER_4": (None, 90.0),
    }


# ---- ticket times: thresholds from the incidents' clocks ----------------------------------

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
TICKETS = """
query S($id: ID!, $from: DateTime!, $to: DateTime!) {
  suggestObjectives(serviceId: $id, indicator: RESOLUTION_TIME, from: $from, to: $to) {
    objectives {
      threshold tickets
      targets { tier target threshold }
      evidence { days { start compliance } }
    }
  }
}
"""


async def test_ticket_thresholds_come_from_the_ticket_clocks(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    ids, author = await load(builder, [], services=["desk"])
    spec = objective_spec(
        Indicator.RESOLUTION_TIME, 90.0, threshold=4 * 3600, priority="P2", name="resolution"
    )
    await author(AgreementKind.SLA, "Desk", ["desk"], [spec])
    at_nine = MONDAY + timedelta(hours=9)
    minutes = [30, 60, 90, 120, 240]
    tickets = [
        ticket(source, f"t{m}", "P2", at_nine, resolved=at_nine + timedelta(minutes=m), on="desk")
        for m in minutes
    ]
    # Monday 09:00 to Tuesday 11:00 on the default clock (UTC, 09:00-17:00): 480 + 120
    # minutes; late, it settles when its clock passes 4 h (Monday 13:00).
    tickets.append(
        ticket(
            source, "late", "P2", at_nine, resolved=at_nine + timedelta(days=1, hours=2), on="desk"
        )
    )
    tickets.append(  # another priority: not the objective's
        ticket(source, "p3", "P3", at_nine, resolved=at_nine + timedelta(hours=7), on="desk")
    )
    await SyncRepository(graph).write_batch(f"{source}-itsm", incidents=tickets)
    settings = SloSettings(
        suggestions=SuggestionSettings(
            tiers={
                Tier.TIER_1: TierTargetSettings(percentile=10, minimum_target=99.9),
                Tier.TIER_3: TierTargetSettings(percentile=50, minimum_target=50),
            }
        )
    )

    result = await build_schema().execute(
        TICKETS,
        variable_values={
            "id": ids["desk"],
            "from": MONDAY.isoformat(),
            "to": (MONDAY + timedelta(days=5)).isoformat(),
        },
        context_value=Context.create(graph, VIEWER, ApiSettings(), slo=settings),
    )

    assert result.errors is None, result.errors
    assert result.data is not None
    [found] = result.data["suggestObjectives"]["objectives"]
    assert found["threshold"] == 4 * 3600
    assert found["tickets"] == 6
    # Monday: five of six settled within 4 h.
    assert [d["compliance"] for d in found["evidence"]["days"]] == [pytest.approx(500 / 6)]
    # Clocks: 30, 60, 90, 120, 240 and 600 minutes. TIER_1 (99.9 %) needs all six within:
    # 600 min; TIER_3 suggests 83.33 % (p50 of one day), which five of six (83.33... %)
    # meet: 240 min.
    assert found["targets"] == [
        {"tier": "TIER_1", "target": 99.9, "threshold": 600 * 60},
        {"tier": "TIER_3", "target": 83.33, "threshold": 240 * 60},
    ]
