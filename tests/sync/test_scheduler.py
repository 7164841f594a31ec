"""The scheduler inside `hub serve`: one job per enabled connector, never overlapping."""

from __future__ import annotations

from datetime import timedelta

from hub.graph.client import Graph
from hub.settings import Settings
from hub.sync.registry import enabled
from hub.sync.scheduler import build_scheduler


def test_each_enabled_connector_gets_one_non_overlapping_job(graph: Graph) -> None:
    settings = Settings(
        servicenow={"url": "https://acme.service-now.com", "interval_seconds": 600},
        pagerduty={"token": "pd-token", "services_interval_seconds": 7200},
    )

    jobs = {job.id: job for job in build_scheduler(settings, graph).get_jobs()}

    assert sorted(jobs) == [
        "sync:pagerduty",
        "sync:pagerduty-services",
        "sync:servicenow-cmdb",
        "sync:servicenow-incidents",
    ]
    assert jobs["sync:servicenow-cmdb"].trigger.interval == timedelta(seconds=600)
    assert jobs["sync:pagerduty-services"].trigger.interval == timedelta(seconds=7200)
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())


def test_no_configured_source_means_no_jobs(graph: Graph) -> None:
    settings = Settings()
    assert enabled(settings) == []
    assert build_scheduler(settings, graph).get_jobs() == []
