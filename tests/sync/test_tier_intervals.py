"""Tiers set how often the scheduled telemetry sync measures an objective: a TIER_1
objective on every run, a TIER_4 one only when its interval has passed since its
watermark, an untiered one at the connector's interval. A fake clock (`now`) drives
the runs on the real embedded graph; `FakeMetrics` records what each run fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes.metrics import FakeMetrics
from slo_support import objective_spec, objectives_of
from support import EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind
from hub.domain.monitoring import MonitoringMode
from hub.graph.client import Graph
from hub.graph.repositories.ownership import OwnershipRepository
from hub.settings import Settings, SloSettings, TelemetryBinding
from hub.sync.scheduler import job_interval, tiered_due_filter
from hub.sync.telemetry import run_telemetry_sync

START = datetime(2026, 3, 2, 12, 2, tzinfo=UTC)
RUNS = 17  # one a minute, 12:02 to 12:18, as the scheduler would run them


def settings_for(bindings: list[TelemetryBinding], **monitoring: object) -> Settings:
    return Settings(
        prometheus={"url": "http://prometheus.example:9090", "interval_seconds": 300},
        slo=SloSettings(bindings=bindings, **monitoring),
    )


async def test_each_objective_is_measured_at_its_tiers_interval(
    graph: Graph, builder: GraphBuilder, source: str
) -> None:
    _, author = await load(
        builder,
        [("critical", "db"), ("minor", "db"), ("plain", "db")],
        services=["critical", "minor", "plain"],
        tiers={"critical": "TIER_1", "minor": "TIER_4"},
    )
    objectives = {}
    for key in ("critical", "minor", "plain"):
        sla = await author(
            AgreementKind.SLA, f"{key} SLA", [key], [objective_spec(target=99.0, name="a")]
        )
        (objectives[key],) = await objectives_of(graph, sla)
    # Measured for reports only, but measured all the same: the mode does not slow it.
    await OwnershipRepository(graph).set_ownership(
        objectives["critical"].id,
        provider_team_id=None,
        consumer_team_id=None,
        mode=MonitoringMode.REPORTED,
        actor=EDITOR,
        reason="reported only",
    )
    queries = {key: (f"{source}_{key}_ok", f"{source}_{key}_all") for key in objectives}
    settings = settings_for(
        [
            TelemetryBinding(objective=o.id, good=queries[key][0], total=queries[key][1])
            for key, o in objectives.items()
        ]
    )
    metrics = FakeMetrics()
    measured: dict[str, list[str]] = {key: [] for key in objectives}

    for minute in range(RUNS):
        now = START + timedelta(minutes=minute)
        due = await tiered_due_filter(settings, graph, "prometheus", now)
        before = {key: len(metrics.calls_for(*q)) for key, q in queries.items()}
        run = await run_telemetry_sync(
            graph, metrics, settings.slo, step_seconds=300, now=now, due_filter=due
        )
        assert run.status == "SUCCEEDED", run.error
        for key, q in queries.items():
            if len(metrics.calls_for(*q)) > before[key]:
                measured[key].append(now.strftime("%H:%M"))

    assert measured["critical"] == [
        (START + timedelta(minutes=m)).strftime("%H:%M") for m in range(RUNS)
    ]
    # 900 s from the watermark of 12:02's run, the end of the 12:00 bucket.
    assert measured["minor"] == ["12:02", "12:15"]
    # No tier: the connector's 300 s, from each watermark.
    assert measured["plain"] == ["12:02", "12:05", "12:10", "12:15"]


def test_the_job_runs_at_the_shortest_tier_interval_when_it_is_shorter() -> None:
    assert job_interval(settings_for([]), "prometheus") == timedelta(seconds=60)
    slow = {
        tier: {"mode": "ACTIVE", "sync_interval_seconds": 1800}
        for tier in ("TIER_1", "TIER_2", "TIER_3", "TIER_4")
    }
    assert job_interval(settings_for([], monitoring=slow), "prometheus") == timedelta(seconds=300)
    # Other connectors keep their own interval.
    settings = Settings(servicenow={"url": "https://acme.service-now.com", "interval_seconds": 600})
    assert job_interval(settings, "servicenow-cmdb") == timedelta(seconds=600)
