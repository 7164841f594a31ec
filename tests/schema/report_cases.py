"""Access-matrix cases for compliance reports (`reportTemplates`, `complianceReport`,
`reportSnapshots`, `publishReport`, `commentOnReport`), in the shape of
`test_access_matrix.CASES` entries, keyed by field.

A report holds only what the token may read: the unit's report is seen in scope and
empty (the unit's rows absent) out of it; a customer token reads its own customer's
SLAs only. Snapshots are read by tokens whose scope covers them (customer tokens: the
snapshots published for their customer). Publishing and commentary are for editors;
a comment on a service out of scope answers as one on an unknown service.

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(report_cases.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from access_support import World
from test_access_matrix import (
    BLIND,
    NOT_FOUND,
    SCOPED,
    SEES,
    Case,
    everyone,
    from_role,
    no_variables,
)

from hub.domain.reports import ReportFilter
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.reports import publish
from hub.settings import Settings

JANUARY = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
UNKNOWN_SERVICE = "cmp_00000000000000000000000000000000"
PUBLISHER = Actor(user="matrix-publisher", role=Role.EDITOR)

REPORT = """
query R($from: DateTime!, $to: DateTime!, $scope: ReportScope) {
  complianceReport(template: "operations", from: $from, to: $to, scope: $scope) {
    rows { children { children { children { objective { id } } } } }
  }
}
"""


async def unit_report(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {**JANUARY, "scope": {"serviceIds": [world.ids[f"svc:{unit}"]]}}


def has_objective(data: dict[str, Any], world: World, unit: str) -> bool:
    found = {
        leaf["objective"]["id"]
        for unit_row in data["complianceReport"]["rows"][1:]
        for region in unit_row["children"]
        for service in region["children"]
        for leaf in service["children"]
        if leaf["objective"] is not None
    }
    return world.ids[f"objective:{unit}"] in found


async def customer_snapshot(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """A snapshot of January published for the unit's customer, newest of all."""
    customer = world.ids[f"cust:{unit}"]
    snapshot = await publish(
        graph,
        Settings(),
        PUBLISHER,
        "customer",
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
        ReportFilter(customer_id=customer),
        None,
    )
    world.ids[f"snapshot:{unit}"] = snapshot.id
    return {}


def lists_snapshot(data: dict[str, Any], world: World, unit: str) -> bool:
    return world.ids[f"snapshot:{unit}"] in {s["id"] for s in data["reportSnapshots"]}


async def publish_unit(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {**JANUARY, "scope": {"businessUnits": [world.unit(unit)]}}


def published_unit(data: dict[str, Any], world: World, unit: str) -> bool:
    rows = data["publishReport"]["report"]["rows"]
    return world.unit(unit) in {row["label"] for row in rows}


async def comment_unit(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"serviceId": world.ids[f"svc:{unit}"]}


CASES: dict[str, Case] = {
    "Query.reportTemplates": Case(
        "Query.reportTemplates",
        "the-standard-templates",
        "{ reportTemplates }",
        no_variables,
        lambda data, world, unit: "operations" in data["reportTemplates"],
        everyone((SEES, SEES, SEES), (SEES, SEES, SEES)),
    ),
    "Query.complianceReport": Case(
        "Query.complianceReport",
        "a-units-service",
        REPORT,
        unit_report,
        has_objective,
        SCOPED,
    ),
    "Query.reportSnapshots": Case(
        "Query.reportSnapshots",
        "published-for-a-units-customer",
        "{ reportSnapshots(first: 100) { id } }",
        customer_snapshot,
        lists_snapshot,
        SCOPED,
    ),
    "Mutation.publishReport": Case(
        "Mutation.publishReport",
        "of-a-unit",
        """mutation P($from: DateTime!, $to: DateTime!, $scope: ReportScope) {
          publishReport(template: "executive", from: $from, to: $to, scope: $scope) {
            id report { rows { label } } } }""",
        publish_unit,
        published_unit,
        from_role(Role.EDITOR, (SEES, SEES, BLIND)),
    ),
    "Mutation.commentOnReport": Case(
        "Mutation.commentOnReport",
        "on-a-units-service",
        """mutation C($serviceId: ID!) {
          commentOnReport(serviceId: $serviceId, month: "2026-01", visibility: INTERNAL,
                          text: "matrix") { id } }""",
        comment_unit,
        lambda data, world, unit: data["commentOnReport"] is not None,
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"serviceId": UNKNOWN_SERVICE},
    ),
}
