"""The scheduler inside `hub serve`: one job per enabled connector, never overlapping,
the periodic breach assessment and the scheduled backup (tests/sync/test_scheduled_backup.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.graph.client import Graph
from hub.settings import Settings
from hub.sync.registry import enabled
from hub.sync.scheduler import build_scheduler

# Escalation, the vendor and team review, the monthly audit (docs/remediation.md).
REMEDIATION = ("remediation:audit", "remediation:escalate", "remediation:performance")


def test_each_enabled_connector_gets_one_non_overlapping_job(graph: Graph) -> None:
    settings = Settings(
        servicenow={"url": "https://acme.service-now.com", "interval_seconds": 600},
        pagerduty={"token": "pd-token", "services_interval_seconds": 7200},
    )

    jobs = {job.id: job for job in build_scheduler(settings, graph).get_jobs()}

    assert sorted(jobs) == [
        "backup:scheduled",
        *REMEDIATION,
        "reports:distribute",
        "slo:assess",
        "slo:at-risk-escalation",
        "slo:budget-policies",
        "sync:pagerduty",
        "sync:pagerduty-services",
        "sync:servicenow-cmdb",
        "sync:servicenow-incidents",
    ]
    assert jobs["sync:servicenow-cmdb"].trigger.interval == timedelta(seconds=600)
    assert jobs["sync:pagerduty-services"].trigger.interval == timedelta(seconds=7200)
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())


def test_a_prometheus_url_schedules_its_sync_beside_the_breach_assessment(
    graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_PROMETHEUS__URL", "http://prometheus.example:9090")
    monkeypatch.setenv("HUB_PROMETHEUS__INTERVAL_SECONDS", "120")
    monkeypatch.setenv("HUB_SLO__ASSESS_INTERVAL_SECONDS", "600")
    settings = Settings()

    jobs = {job.id: job for job in build_scheduler(settings, graph).get_jobs()}

    assert enabled(settings) == ["prometheus"]
    assert sorted(jobs) == [
        "backup:scheduled",
        *REMEDIATION,
        "reports:distribute",
        "slo:assess",
        "slo:at-risk-escalation",
        "slo:budget-policies",
        "sync:prometheus",
    ]
    # TIER_1 objectives are measured every 60 s by default ([slo.monitoring]), which is
    # shorter than the connector's interval: the job runs that often.
    assert jobs["sync:prometheus"].trigger.interval == timedelta(seconds=60)
    assert jobs["slo:assess"].trigger.interval == timedelta(seconds=600)
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())


def test_no_configured_source_means_only_the_breach_assessment_backup_and_remedies(
    graph: Graph,
) -> None:
    settings = Settings()
    assert enabled(settings) == []
    job, policies, backup, distribute, escalate, at_risk, performance, audit = build_scheduler(
        settings, graph
    ).get_jobs()
    assert job.id == "slo:assess"
    assert policies.id == "slo:budget-policies"
    assert policies.trigger.interval == timedelta(minutes=15)
    assert distribute.id == "reports:distribute"
    assert escalate.trigger.interval == timedelta(minutes=15)
    assert at_risk.id == "slo:at-risk-escalation"
    assert at_risk.trigger.interval == timedelta(minutes=15)
    assert performance.trigger.interval == timedelta(hours=24)
    assert audit.id == "remediation:audit"
    assert str(audit.trigger) == "cron[day='5', hour='2']"
    assert job.trigger.interval == timedelta(seconds=settings.slo.assess_interval_seconds)
    assert backup.id == "backup:scheduled"
    assert backup.trigger.interval == timedelta(hours=24)
