"""Access-matrix cases for vendor and team performance and violation trends
(`vendorPerformance`, `teamPerformance`, `violationTrends`), in the shape of
`test_access_matrix.CASES` entries, keyed by field.

Teams and vendors are shared with staff and internal for customers: a customer token
gets an empty list (BLIND, not FORBIDDEN: redacted, as every internal record is). A
staff token sees the party with the records of the agreements it may read: the world's
OLAs belong to their SLA's unit; its UC underpins nothing, so only unlimited tokens
see its records. Trends count the violations the token may read and name only the
units it may read.

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(remediation_cases_performance.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from typing import Any

from access_support import World
from test_access_matrix import BLIND, SEES, Case, everyone

from hub.graph.client import Graph

PERFORMANCE = (
    "query P($id: ID) { %s(%s: $id) { party { id } missed consecutiveMisses"
    " remediationRequired records { met measured target periodStart periodEnd"
    " agreement { id } } } }"
)
TRENDS = (
    "query T($from: DateTime!, $to: DateTime!) { violationTrends(groupBy: BUSINESS_UNIT,"
    " interval: MONTH, from: $from, to: $to) { periodStart group violations creditAmount } }"
)


def party(key: str) -> Any:
    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": world.ids[key]}

    return variables


def has_records_of(field: str, key: str) -> Any:
    """Whether the party answered carries records of the agreement `key` (of the unit)."""

    def present(data: dict[str, Any], world: World, unit: str) -> bool:
        agreements = {record["agreement"]["id"] for row in data[field] for record in row["records"]}
        return world.ids[key.format(unit=unit)] in agreements

    return present


async def january(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


def unit_trend(data: dict[str, Any], world: World, unit: str) -> bool:
    """Whether the unit's January violations are counted under the unit's name (the
    world's own, and those other cases made by violating new SLAs of the unit)."""
    points = [p for p in data["violationTrends"] if p["group"] == world.unit(unit)]
    assert all(p["periodStart"] == "2026-01-01T00:00:00Z" for p in points), points
    return sum(p["violations"] for p in points) >= 1


CASES: dict[str, Case] = {
    "Query.vendorPerformance": Case(
        "Query.vendorPerformance",
        "uc-underpinning-nothing",
        PERFORMANCE % ("vendorPerformance", "vendorId"),
        party("vendor"),
        has_records_of("vendorPerformance", "uc"),
        everyone((SEES, BLIND, BLIND), (BLIND, BLIND, BLIND)),
    ),
    "Query.teamPerformance": Case(
        "Query.teamPerformance",
        "ola-of-the-unit",
        PERFORMANCE % ("teamPerformance", "teamId"),
        party("team"),
        has_records_of("teamPerformance", "ola:{unit}"),
        everyone((SEES, SEES, BLIND), (BLIND, BLIND, BLIND)),
    ),
    "Query.violationTrends": Case(
        "Query.violationTrends",
        "by-business-unit",
        TRENDS,
        january,
        unit_trend,
        everyone((SEES, SEES, BLIND), (BLIND, SEES, BLIND)),
    ),
}
