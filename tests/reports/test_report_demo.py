"""Compliance reports on the demo enterprise: every leaf row equals the objective's
status over the same month, roll-ups sum good/total, and the formats agree."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.demo import demo_bundle, load_demo
from hub.domain.access import UNLIMITED
from hub.domain.models import WindowKind
from hub.domain.reports import Report, ReportFilter, RowLevel, compliance
from hub.engine.service import ServiceLevels
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.ids import stable_id
from hub.graph.repositories.reports import ReportRepository
from hub.reports import build_report, render_csv, render_json
from hub.reports.build import _month_tallies, _summed_months
from hub.settings import SloSettings

OCT_1 = datetime(2026, 10, 1, tzinfo=UTC)
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
# After the demo's late data (12 November) was assessed.
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def demo_service_ids() -> frozenset[str]:
    raw = demo_bundle()
    source = raw.get("source", "manual")
    return frozenset(stable_id("Component", source, s["externalId"]) for s in raw["services"])


@pytest.fixture(scope="module")
async def october(graph: Graph) -> Report:
    await load_demo(graph)
    return await build_report(
        graph,
        UNLIMITED,
        "operations",
        OCT_1,
        NOV_1,
        ReportFilter(service_ids=demo_service_ids()),
        NOW,
    )


async def test_every_leaf_equals_the_objective_status_over_the_month(
    graph: Graph, october: Report
) -> None:
    leaves = list(october.total.leaves())
    assert len(leaves) > 10
    levels = ServiceLevels(graph, SloSettings())
    objectives = await levels.objectives_by_ids([leaf.objective_id or "" for leaf in leaves])
    # Objective.status over October: the status path (StatusEngine.statuses, as the
    # `status` field's loader calls it) with the objective's window set to the 31 days
    # that end on 1 November, i.e. exactly October.
    asked = [
        replace(objectives[leaf.objective_id or ""], window_kind=WindowKind.ROLLING, window_days=31)
        for leaf in leaves
    ]
    statuses = await levels.statuses(asked, NOV_1)
    with_data = 0
    for leaf, status in zip(leaves, statuses, strict=True):
        assert (status.window.start, status.window.end) == (OCT_1, NOV_1)
        assert leaf.month == "2026-10"
        assert leaf.good == status.good, leaf.label
        assert leaf.total == status.total, leaf.label
        assert leaf.compliance == status.compliance, leaf.label
        with_data += status.total is not None
    assert with_data >= 4  # the demo's telemetry and ticket objectives


async def test_payments_breach_is_a_violation_with_its_figures(october: Report) -> None:
    payments = [
        row
        for row in october.total.walk()
        if row.level is RowLevel.SERVICE and row.label == "Payments"
    ]
    assert payments
    leaf = next(
        row
        for p in payments
        for row in p.children
        if row.label.startswith("card-payments-availability")
    )
    # 8928 buckets of 6000 requests, 1 error each, except 30 buckets with 4800 errors
    # (14 Oct 09:00-11:30) and 48 without data (20 Oct 02:00-06:00).
    buckets = 31 * 288 - 48
    assert leaf.total == 6000 * buckets
    assert leaf.good == 6000 * buckets - (buckets - 30) - 30 * 4800
    assert leaf.met is False
    assert leaf.violations == 1


def _check_rollup(row: Any) -> None:
    if not row.children:
        return
    with_data = [c for c in row.children if c.total is not None]
    if with_data:
        assert row.good == pytest.approx(sum(c.good for c in with_data))
        assert row.total == pytest.approx(sum(c.total for c in with_data))
        assert row.compliance == pytest.approx(compliance(row.good, row.total))
    assert row.violations == sum(c.violations for c in row.children)
    assert row.credit == sum(c.credit for c in row.children)
    for child in row.children:
        _check_rollup(child)


async def test_rollups_sum_good_and_total(october: Report) -> None:
    total = october.total
    assert total.level is RowLevel.TOTAL
    assert [r.level for r in total.children] == [RowLevel.BUSINESS_UNIT] * len(total.children)
    _check_rollup(total)
    leaves = [leaf for leaf in total.leaves() if leaf.total is not None]
    assert total.total == pytest.approx(sum(leaf.total or 0 for leaf in leaves))
    assert total.violations >= 3  # payments, checkout, B2B ordering


async def test_json_and_csv_carry_the_same_rows(october: Report) -> None:
    document = json.loads(render_json(october))
    assert document["template"] == "operations"
    assert document["rows"][0]["level"] == "TOTAL"
    assert [r["label"] for r in document["rows"][1:]] == [r.label for r in october.total.children]
    lines = list(csv.DictReader(io.StringIO(render_csv(october).decode())))
    leaves = list(october.total.leaves())
    assert len(lines) == len(leaves)
    for line, leaf in zip(lines, leaves, strict=True):
        assert line["objective_id"] == leaf.objective_id
        assert line["month"] == leaf.month
        assert (float(line["total"]) if line["total"] else None) == leaf.total


async def test_day_sums_and_buckets_give_the_same_months(graph: Graph, october: Report) -> None:
    """Whole months of one-source telemetry objectives are summed from the days' stored
    sums; the buckets (`_month_tallies`, the status path) give the same figures."""
    counted = {
        c.objective.id: c
        for c in await ReportRepository(graph).objectives(("SLA", "OLA", "UC"), OCT_1, NOV_1, None)
    }
    leaves = list(october.total.leaves())
    group = [counted[leaf.objective_id or ""] for leaf in leaves]
    engine = StatusEngine(graph, SloSettings())
    tallied = await _month_tallies(engine, group, OCT_1, NOV_1, NOW)
    summed = await _summed_months(
        ReportRepository(graph), engine, SloSettings(), group, OCT_1, NOV_1, NOW
    )
    assert len(summed) >= 3  # the demo's Prometheus objectives take the sums
    for leaf in leaves:
        assert (leaf.good, leaf.total) == tallied.get(leaf.objective_id or "", (None, None))
        if (leaf.objective_id, "2026-10") in summed:
            assert summed[(leaf.objective_id or "", "2026-10")] == (leaf.good, leaf.total)
