"""`hub slo import FILE` and `hub slo export`, run as users run them, against the real graph."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from slo_support import bound_sla, store, utc
from support import GraphBuilder
from test_cli import run_hub

from hub.engine.service import ServiceLevels
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import ObjectiveRepository


@pytest.fixture
def data_dir(graph_data_dir: Path, graph_connection: GraphConnection) -> Path:
    """The session server's data dir: commands attach to the running server."""
    return graph_data_dir


def documents(source: str) -> list[dict[str, Any]]:
    """Two SLOs as an export writes them (so that an export must equal them)."""
    ratio = {
        "counter": False,
        "good": {"metricSource": {"type": "Prometheus", "spec": {"query": "sum(rate(ok[5m]))"}}},
        "total": {"metricSource": {"type": "Prometheus", "spec": {"query": "sum(rate(all[5m]))"}}},
    }
    return [
        {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": "availability", "labels": {"team": ["payments"]}},
            "spec": {
                "service": f"{source}-checkout",
                "indicator": {"metadata": {"name": "good-ratio"}, "spec": {"ratioMetric": ratio}},
                "timeWindow": [{"duration": "4w", "isRolling": True}],
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": "three nines", "target": 0.999}],
            },
        },
        {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": "minutes", "labels": {"hub.indicator": "ERROR_RATE"}},
            "spec": {
                "service": f"{source}:{source}-checkout",
                "indicator": {"spec": {"ratioMetric": ratio}},
                "timeWindow": [
                    {
                        "duration": "1M",
                        "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "UTC"},
                        "isRolling": False,
                    }
                ],
                "budgetingMethod": "Timeslices",
                "objectives": [
                    {"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "1m"},
                    {"target": 0.9995, "timeSliceTarget": 0.9, "timeSliceWindow": "5m"},
                ],
            },
        },
    ]


def counts(stdout: str) -> dict[str, int]:
    return {
        name: int(value)
        for name, _, value in (line.partition(": ") for line in stdout.strip().splitlines())
    }


async def test_import_then_export_gives_the_file_back(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    ids = await builder.load(services=[f"{source}-checkout"])
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump_all(documents(source), sort_keys=False))

    first = run_hub("slo", "import", str(path), data_dir=data_dir)
    second = run_hub("slo", "import", str(path), data_dir=data_dir)
    exported = run_hub("slo", "export", data_dir=data_dir)

    assert first.returncode == 0, first.stderr
    assert counts(first.stdout) == {"created": 3, "updated": 0, "unchanged": 0, "removed": 0}
    assert counts(second.stdout) == {"created": 0, "updated": 0, "unchanged": 3, "removed": 0}
    assert exported.returncode == 0, exported.stderr
    # stdout is only YAML: all of it parses; other tests' services are in it too.
    everything = list(yaml.safe_load_all(exported.stdout))
    ours = [d for d in everything if d["spec"].get("service", "").endswith(f"{source}-checkout")]
    assert ours == documents(source)
    found = await ObjectiveRepository(graph).objectives_by_service_ids(list(ids.values()))
    assert sorted(o.name or "" for o in found[ids[f"{source}-checkout"]]) == [
        "availability",
        "minutes#1",
        "minutes#2",
    ]


async def test_a_bad_file_exits_1_listing_every_problem_and_writes_nothing(
    data_dir: Path, graph: Graph, builder: GraphBuilder, source: str, tmp_path: Path
) -> None:
    ids = await builder.load(services=[f"{source}-checkout"])
    service_id = ids[f"{source}-checkout"]
    good, timeslices = documents(source)
    path = tmp_path / "slos.yaml"
    path.write_text(yaml.safe_dump_all([good], sort_keys=False))
    assert run_hub("slo", "import", str(path), data_dir=data_dir).returncode == 0
    repository = ObjectiveRepository(graph)
    before = await repository.objectives_by_service_ids([service_id])

    # A valid change next to a bad SLO, and one naming no service: nothing is written.
    good["spec"]["objectives"][0]["target"] = 0.995
    timeslices["spec"]["objectives"][0]["target"] = 99
    unknown = {**documents(source)[0], "metadata": {"name": "elsewhere"}}
    unknown["spec"] = {**unknown["spec"], "service": f"{source}-nowhere"}
    path.write_text(yaml.safe_dump_all([good, timeslices], sort_keys=False))
    shape = run_hub("slo", "import", str(path), data_dir=data_dir)
    path.write_text(yaml.safe_dump_all([good, unknown], sort_keys=False))
    reference = run_hub("slo", "import", str(path), data_dir=data_dir)

    assert shape.returncode == 1
    assert "documents[1].spec.objectives[0].target: must be more than 0" in shape.stderr
    assert "nothing was written" in shape.stderr
    assert shape.stdout == ""
    assert reference.returncode == 1
    assert f"documents[1].spec.service: no service '{source}-nowhere'" in reference.stderr
    assert await repository.objectives_by_service_ids([service_id]) == before
    (objective,) = before[service_id]
    assert objective.target == 99.9


def test_an_unparsable_file_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: [openslo/v1\n")

    result = run_hub("slo", "import", str(path), data_dir=data_dir)

    assert result.returncode == 1
    assert "documents: not valid YAML" in result.stderr


async def test_slo_assess_records_and_lists_the_breaches_of_ended_periods(
    graph: Graph, builder: GraphBuilder, data_dir: Path
) -> None:
    objective, settings = await bound_sla(graph, builder, target=99.0)
    # January 2026 measured 98%: one bucket of 10,000 events, 200 of them bad.
    await store(graph, objective.id, utc(2026, 1, 10), [9800], [10000])
    bindings = json.dumps([b.model_dump() for b in settings.bindings])

    done = await asyncio.to_thread(
        run_hub,
        "slo",
        "assess",
        "--at",
        "2026-02-01T00:00:00",
        data_dir=data_dir,
        env={"HUB_SLO__BINDINGS": bindings},
    )

    assert done.returncode == 0, done.stderr
    assert f"2026-01-01 {objective.id} MAJOR: 98.0000% < 99%" in done.stdout.splitlines()
    [violation] = await ServiceLevels(graph, settings).violations(
        agreement_id=objective.agreement_id
    )
    assert (violation.period_start, violation.measured) == (utc(2026, 1, 1), 98.0)
