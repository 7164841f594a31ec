"""`hub audit run --period YYYY-MM`, run as users run it: in a subprocess, against a
database of its own on the session's server (so the audit sees only what the test
built)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph
from slo_support import bound, objective_spec, objectives_of, store, utc
from support import GraphBuilder, load
from test_cli import run_hub

from hub.domain.models import AgreementKind
from hub.engine.service import ServiceLevels
from hub.graph.client import GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories.periodic_audit import PeriodicAuditRepository

OCT = utc(2026, 10, 1)


@pytest.fixture
async def private(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        yield private


def test_a_period_that_is_no_month_exits_2(graph_data_dir: Path) -> None:
    result = run_hub("audit", "run", "--period", "2026-13", data_dir=graph_data_dir)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: period: give a month as YYYY-MM (e.g. 2026-10), not '2026-13'"
    )


async def test_a_month_without_findings_exits_0_and_is_archived(
    graph_data_dir: Path, private: PrivateGraph
) -> None:
    result = run_hub(
        "audit", "run", "--period", "2026-10", data_dir=graph_data_dir, env=private.env()
    )

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith("audit of 2026-10: no findings (0 violations, 0 credits, 0 objectives, ")
    [report] = await PeriodicAuditRepository(private.graph).reports_of("2026-10")
    assert report.findings == ()
    assert f"archived as report {report.id}, sha256 {report.sha256}" in line


async def test_findings_are_printed_one_per_line_and_exit_1(
    graph_data_dir: Path, private: PrivateGraph
) -> None:
    # An SLA whose objective had data for 3 days of October: 9.68 % coverage.
    builder = GraphBuilder(private.graph, "cli-audit")
    _, author = await load(builder, [], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(name="availability")])
    (objective,) = await objectives_of(private.graph, sla)
    await store(private.graph, objective.id, OCT, [100.0] * 3 * 288, [100.0] * 3 * 288)
    levels = ServiceLevels(private.graph, bound(objective.id, assess_days=40))
    await levels.assess(utc(2026, 11, 1) + timedelta(hours=1))

    result = run_hub(
        "audit", "run", "--period", "2026-10", data_dir=graph_data_dir, env=private.env()
    )

    assert result.returncode == 1, result.stderr
    finding, summary = result.stdout.strip().splitlines()
    assert finding == (
        f"LOW_COVERAGE {objective.id}: data in 9.68% of the period's buckets (864 of 8928) "
        f"for agreement {sla}; the minimum is 90%"
    )
    assert summary.startswith("audit of 2026-10: LOW_COVERAGE 1 (0 violations, 0 credits, ")
    [report] = await PeriodicAuditRepository(private.graph).reports_of("2026-10")
    assert [f.line() for f in report.findings] == [finding]
