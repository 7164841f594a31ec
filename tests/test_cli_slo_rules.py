"""`hub slo rules` and `hub slo apply`, run as users run them, against the real graph and a
real Prometheus that loads the generated rules and fires the page they define."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_server import (
    cumulative,
    openmetrics_counters,
    recent_start,
    start_prometheus,
    tool,
)
from slo_support import bound_sla
from support import GraphBuilder
from test_cli import run_hub

from hub.domain.monitoring import MonitoringMode
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import ObjectiveRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.ownership import OwnershipRepository

FIRING_TIMEOUT = 60.0


@pytest.fixture
def data_dir(graph_data_dir: Path, graph_connection: GraphConnection) -> Path:
    """The session server's data dir: commands attach to the running server."""
    return graph_data_dir


def slo_document(source: str, target: float = 0.999, **annotations: str) -> dict[str, Any]:
    """An SLO over request counters of the job named `source`."""

    def query(extra: str) -> dict[str, Any]:
        selector = f'http_requests_total{{job="{source}"{extra}}}'
        return {"metricSource": {"type": "Prometheus", "spec": {"query": selector}}}

    metadata: dict[str, Any] = {"name": "availability"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": metadata,
        "spec": {
            "service": f"{source}-checkout",
            "indicator": {
                "spec": {
                    "ratioMetric": {
                        "counter": True,
                        "bad": query(',code=~"5.."'),
                        "total": query(""),
                    }
                }
            },
            "timeWindow": [{"duration": "30d", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"target": target}],
        },
    }


def ours(text: str, service: str) -> list[dict[str, Any]]:
    """The rule groups of `service` (other tests' objectives have rules too)."""
    groups: list[dict[str, Any]] = yaml.safe_load(text)["groups"]
    return [g for g in groups if g["name"].endswith(f"-{service}-availability")]


def counts(stdout: str) -> dict[str, int]:
    return {
        name: int(value)
        for name, _, value in (line.partition(": ") for line in stdout.strip().splitlines())
    }


async def test_rules_pass_promtool_and_page_in_a_real_prometheus(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    await builder.load(services=[f"{source}-checkout"])
    slos = tmp_path / "slos.yaml"
    slos.write_text(yaml.safe_dump(slo_document(source), sort_keys=False))
    assert run_hub("slo", "import", str(slos), data_dir=data_dir).returncode == 0
    rules = tmp_path / "rules.yml"

    generated = run_hub("slo", "rules", "--output", str(rules), data_dir=data_dir)
    checked = promtool_check(rules)

    assert generated.returncode == 0, generated.stderr
    assert generated.stdout == ""
    assert checked.returncode == 0, checked.stdout + checked.stderr
    service = f"{source}-checkout"
    groups = ours(rules.read_text(), service)
    assert [g["name"] for g in groups] == [
        f"sloth-slo-{kind}-{service}-availability"
        for kind in ("sli-recordings", "meta-recordings", "alerts")
    ]
    five_minutes = groups[0]["rules"][0]
    assert five_minutes["expr"] == (
        f'(sum(rate(http_requests_total{{job="{source}",code=~"5.."}}[5m])))\n/\n'
        f'(sum(rate(http_requests_total{{job="{source}"}}[5m])))'
    )
    assert five_minutes["labels"]["sloth_slo"] == "availability"

    # Three hours of 10% errors up to a minute ago: a 100x burn of a 99.9% target.
    start = recent_start(180, datetime.now(UTC))
    text = openmetrics_counters(
        "http_requests",
        [
            ({"job": source, "code": "500"}, cumulative(0, [6] * 180)),
            ({"job": source, "code": "200"}, cumulative(0, [54] * 180)),
        ],
        start=start,
    )
    with start_prometheus(text, tmp_path / "prometheus", rules=rules) as url:
        firing = wait_for_alerts(url, service)

    assert {a["labels"]["sloth_severity"] for a in firing} == {"page", "ticket"}
    page = next(a for a in firing if a["labels"]["sloth_severity"] == "page")
    assert page["labels"]["alertname"] == f"{source.capitalize()}CheckoutAvailabilitySLO"
    assert page["labels"]["sloth_slo"] == "availability"
    assert float(page["value"]) == pytest.approx(0.1)


async def test_an_agreement_objective_bound_in_the_settings_gets_rules_under_its_sla(
    data_dir: Path, graph: Graph, builder: GraphBuilder, tmp_path: Path
) -> None:
    objective, settings = await bound_sla(graph, builder, target=99.0)
    bindings = json.dumps([b.model_dump() for b in settings.bindings])

    done = await asyncio.to_thread(
        run_hub, "slo", "rules", data_dir=data_dir, env={"HUB_SLO__BINDINGS": bindings}
    )

    assert done.returncode == 0, done.stderr
    groups: list[dict[str, Any]] = yaml.safe_load(done.stdout)["groups"]
    records = {
        rule["record"]: rule
        for group in groups
        for rule in group["rules"]
        if rule.get("labels", {}).get("hub_objective") == objective.id
    }
    # Rates ("ok" over "all"), so the 5-minute ratio is theirs and longer ones average it.
    assert records["slo:sli_error:ratio_rate5m"]["expr"] == "1 - (\n(ok)\n/\n(all)\n)"
    assert records["slo:sli_error:ratio_rate1h"]["expr"].startswith("sum_over_time(")
    assert records["slo:time_period:days"]["expr"] == "vector(30)"  # a calendar month
    labels = records["sloth_slo_info"]["labels"]
    assert (labels["sloth_service"], labels["sloth_slo"]) == ("Shop", "availability")


async def test_a_reported_objective_gets_no_rules(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    await builder.load(services=[f"{source}-checkout"])
    slos = tmp_path / "slos.yaml"
    slos.write_text(yaml.safe_dump(slo_document(source), sort_keys=False))
    assert run_hub("slo", "import", str(slos), data_dir=data_dir).returncode == 0
    service = f"{source}-checkout"
    (objective,) = [
        o for c, o in await ObjectiveRepository(graph).service_objectives() if c.name == service
    ]
    before = await asyncio.to_thread(run_hub, "slo", "rules", data_dir=data_dir)
    await OwnershipRepository(graph).set_ownership(
        objective.id,
        provider_team_id=None,
        consumer_team_id=None,
        mode=MonitoringMode.REPORTED,
        actor=Actor("lead", Role.EDITOR),
        reason="reports only",
    )

    after = await asyncio.to_thread(run_hub, "slo", "rules", data_dir=data_dir)

    assert [g["name"] for g in ours(before.stdout, service)] == [
        f"sloth-slo-{kind}-{service}-availability"
        for kind in ("sli-recordings", "meta-recordings", "alerts")
    ]
    assert after.returncode == 0, after.stderr
    assert ours(after.stdout, service) == []
    assert f"skipped: {objective.id}: REPORTED mode, measured for reports only" in after.stderr


def promtool_check(rules: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for_alerts(url: str, service: str) -> list[dict[str, Any]]:
    """The firing alerts of `service` once both severities fire (or what fires at the
    timeout)."""
    deadline = time.monotonic() + FIRING_TIMEOUT
    firing: list[dict[str, Any]] = []
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            alerts = client.get(f"{url}/api/v1/alerts").json()["data"]["alerts"]
            firing = [
                a
                for a in alerts
                if a["state"] == "firing" and a["labels"].get("sloth_service") == service
            ]
            if len(firing) >= 2:
                break
            time.sleep(0.5)
    return firing


def teams(source: str) -> dict[str, Any]:
    """Two teams for an SLO's two sides (names carry the source, so each is unique), and
    two that share a name."""
    return {
        "teams": [
            {"externalId": f"{source}-payments", "name": f"Payments {source}"},
            {"externalId": f"{source}-web", "name": f"Web {source}"},
            {"externalId": f"{source}-twin-1", "name": f"Twin {source}"},
            {"externalId": f"{source}-twin-2", "name": f"Twin {source}"},
        ]
    }


async def test_apply_creates_then_updates_in_place_and_leaves_other_slos_alone(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    ids = await builder.load(services=[f"{source}-checkout"], extra=teams(source))
    ids.update(await builder.ids([f"{source}-payments", f"{source}-web"]))
    service_id = ids[f"{source}-checkout"]
    other = {**slo_document(source), "metadata": {"name": "other"}}
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump(other, sort_keys=False))
    assert run_hub("slo", "import", str(path), data_dir=data_dir).returncode == 0
    template = slo_document(
        source,
        **{
            "hub.indicator": "ERROR_RATE",
            "hub.owner": f"Payments {source}",  # by name
            "hub.consumer": ids[f"{source}-web"],  # by id
            "hub.mode": "reported",
        },
    )
    path.write_text(yaml.safe_dump(template, sort_keys=False))

    first = run_hub("slo", "apply", str(path), data_dir=data_dir)
    again = run_hub("slo", "apply", str(path), data_dir=data_dir)
    template["spec"]["objectives"][0]["target"] = 0.995
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    changed = run_hub("slo", "apply", str(path), data_dir=data_dir)

    assert first.returncode == 0, first.stderr
    assert counts(first.stdout) == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "ownership_changed": 1,
    }
    assert counts(again.stdout) == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
        "removed": 0,
        "ownership_changed": 0,
    }
    assert counts(changed.stdout) == {
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "removed": 0,
        "ownership_changed": 0,
    }
    assert "note:" not in first.stderr  # nothing is kept unapplied any more
    found = await ObjectiveRepository(graph).objectives_by_service_ids([service_id])
    by_name = {o.name: o for o in found[service_id]}
    assert sorted(by_name) == ["availability", "other"]  # "other" is not in the file
    applied = by_name["availability"]
    assert (applied.indicator, applied.target) == ("ERROR_RATE", 99.5)
    assert applied.origin is not None
    assert dict(applied.origin.annotations)["hub.owner"] == f"Payments {source}"
    monitoring = (await OwnershipRepository(graph).by_objective_ids([applied.id]))[applied.id]
    assert (
        monitoring.provider_team_id,
        monitoring.consumer_team_id,
        monitoring.explicit_mode,
    ) == (ids[f"{source}-payments"], ids[f"{source}-web"], MonitoringMode.REPORTED)
    trail = [
        r
        for r in await AuditRepository(graph).for_target(applied.id)
        if r.action == "objective.ownership"
    ]
    assert [(r.actor, r.reason) for r in trail] == [("cli", "hub slo apply slos.yaml")]
    assert json.loads(trail[0].after or "null") == {
        "providerTeamId": ids[f"{source}-payments"],
        "consumerTeamId": ids[f"{source}-web"],
        "monitoringMode": "REPORTED",
    }
    untouched = by_name["other"]
    assert (await OwnershipRepository(graph).by_objective_ids([untouched.id]))[
        untouched.id
    ].explicit_mode is None


async def test_apply_leaves_what_the_annotations_do_not_name(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    ids = await builder.load(services=[f"{source}-checkout"], extra=teams(source))
    ids.update(await builder.ids([f"{source}-payments", f"{source}-web"]))
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump(slo_document(source), sort_keys=False))
    assert run_hub("slo", "apply", str(path), data_dir=data_dir).returncode == 0
    (objective,) = (
        await ObjectiveRepository(graph).objectives_by_service_ids([ids[f"{source}-checkout"]])
    )[ids[f"{source}-checkout"]]
    await OwnershipRepository(graph).set_ownership(
        objective.id,
        provider_team_id=None,
        consumer_team_id=ids[f"{source}-web"],
        mode=MonitoringMode.ACTIVE,
        actor=Actor("lead", Role.EDITOR),
        reason="set by hand",
    )
    document = slo_document(source, **{"hub.owner": f"Payments {source}"})
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    applied = run_hub("slo", "apply", str(path), data_dir=data_dir)

    assert applied.returncode == 0, applied.stderr
    assert counts(applied.stdout)["ownership_changed"] == 1
    monitoring = (await OwnershipRepository(graph).by_objective_ids([objective.id]))[objective.id]
    assert (
        monitoring.provider_team_id,
        monitoring.consumer_team_id,
        monitoring.explicit_mode,
    ) == (ids[f"{source}-payments"], ids[f"{source}-web"], MonitoringMode.ACTIVE)


@pytest.mark.parametrize(
    ("annotations", "problem"),
    [
        (
            {"hub.owner": "Nobody At All"},
            "documents[0].metadata.annotations.hub.owner: no team with the id or name "
            "'Nobody At All'",
        ),
        (
            {"hub.consumer": "Twin SOURCE"},
            "documents[0].metadata.annotations.hub.consumer: 2 teams with the id or name "
            "'Twin SOURCE'",
        ),
        (
            {"hub.mode": "sometimes"},
            "documents[0].metadata.annotations.hub.mode: 'sometimes' is no monitoring mode; "
            "give ACTIVE or REPORTED",
        ),
    ],
)
async def test_apply_refuses_a_bad_ownership_annotation_and_writes_nothing(
    data_dir: Path,
    graph: Graph,
    builder: GraphBuilder,
    source: str,
    tmp_path: Path,
    annotations: dict[str, str],
    problem: str,
) -> None:
    ids = await builder.load(services=[f"{source}-checkout"], extra=teams(source))
    path = tmp_path / "slos.yaml"
    named = {key: value.replace("SOURCE", source) for key, value in annotations.items()}
    path.write_text(yaml.safe_dump(slo_document(source, **named), sort_keys=False))

    refused = run_hub("slo", "apply", str(path), data_dir=data_dir)

    assert refused.returncode == 1
    assert problem.replace("SOURCE", source) in refused.stderr
    assert "nothing was written" in refused.stderr
    found = await ObjectiveRepository(graph).objectives_by_service_ids([ids[f"{source}-checkout"]])
    assert found[ids[f"{source}-checkout"]] == []


async def test_apply_refuses_an_annotation_that_contradicts_the_label(
    data_dir: Path, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    await builder.load(services=[f"{source}-checkout"])
    document = slo_document(source, **{"hub.indicator": "ERROR_RATE"})
    document["metadata"]["labels"] = {"hub.indicator": "AVAILABILITY"}
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    refused = run_hub("slo", "apply", str(path), data_dir=data_dir)

    assert refused.returncode == 1
    assert "documents[0].metadata.annotations.hub.indicator: differs from the label" in (
        refused.stderr
    )
    assert "nothing was written" in refused.stderr
