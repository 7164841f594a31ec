"""Access-matrix cases for report distribution and anomalies (`distributionLists`,
`reportAnomalies`, `createDistributionList`, `deleteDistributionList`, and `node` of
a list and of an anomaly), in the shape of `test_access_matrix.CASES` entries, keyed by
field (and kind, for `node`).

A distribution list belongs to its business units and regions: staff read it when
their token's scope holds all of them; editors make one only of their own units and
regions (another unit's is refused as bad input, naming the field) and remove one they
read (another's does not exist for them, nor for `node`). An anomaly is read with its
service. Both are internal: customer tokens read none and change none.

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(distribution_cases.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from access_support import World
from test_access_matrix import (
    BAD_INPUT,
    NODE,
    NOT_FOUND,
    SCOPED_INTERNAL,
    SEES,
    Case,
    from_role,
    node_present,
)

from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.repositories.anomalies import new_anomaly, record_anomalies
from hub.graph.repositories.distribution import DistributionRepository

UNKNOWN_LIST = "dls_00000000000000000000000000000000"
UNKNOWN_ANOMALY = "ran_00000000000000000000000000000000"
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def _spec(world: World, unit: str, name: str) -> DistributionSpec:
    return DistributionSpec(
        name=name,
        template="operations",
        schedule="0 7 1 * *",
        time_zone="Europe/Berlin",
        channel=DistributionChannel.EMAIL,
        recipients=(Recipient(address="ops@example.com"),),
        business_units=(world.unit(unit),),
        regions=(world.region(unit),),
    )


async def fresh_list(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    created = await DistributionRepository(graph).create(
        _spec(world, unit, f"Matrix list ({unit})"), "matrix"
    )
    return {"id": created.id}


async def listed(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """The unit's listed distribution list (made once per world)."""
    key = f"distribution:{unit}"
    if key not in world.ids:
        world.ids[key] = (await fresh_list(world, graph, unit))["id"]
    return {}


async def anomaly_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """An anomaly of the unit's service in April (recorded once per world)."""
    key = f"anomaly:{unit}"
    if key not in world.ids:
        anomaly = new_anomaly(
            at=APRIL,
            period_start=APRIL,
            compliance=94.5,
            baseline=99.5,
            detail=f"Service {unit}: matrix anomaly",
            service_id=world.ids[f"svc:{unit}"],
            business_unit=world.unit(unit),
            region=world.region(unit),
        )

        async def work(tx: Any) -> str:
            anomaly_id, _ = (await record_anomalies(tx, [anomaly]))[anomaly.key]
            return anomaly_id

        world.ids[key] = await graph.write_transaction(work)
    return {"from": "2026-04-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}


async def new_list_input(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {
        "input": {
            "name": f"Matrix list ({unit})",
            "template": "operations",
            "schedule": "0 7 1 * *",
            "timeZone": "Europe/Berlin",
            "channel": "EMAIL",
            "recipients": [{"address": "ops@example.com"}],
            "businessUnits": [world.unit(unit)],
            "regions": [world.region(unit)],
        }
    }


async def listed_id(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    await listed(world, graph, unit)
    return {"id": world.ids[f"distribution:{unit}"]}


async def anomaly_id(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    await anomaly_of(world, graph, unit)
    return {"id": world.ids[f"anomaly:{unit}"]}


def _ids_in(field: str, key: str) -> Any:
    return lambda data, world, unit: (
        world.ids[key.format(unit=unit)] in {item["id"] for item in data[field]}
    )


CASES: dict[str, Case] = {
    "Query.node:distribution-list": Case(
        "Query.node",
        "a-distribution-list",
        NODE,
        listed_id,
        node_present,
        SCOPED_INTERNAL,
        lambda world: {"id": UNKNOWN_LIST},
    ),
    "Query.node:report-anomaly": Case(
        "Query.node",
        "a-report-anomaly",
        NODE,
        anomaly_id,
        node_present,
        SCOPED_INTERNAL,
        lambda world: {"id": UNKNOWN_ANOMALY},
    ),
    "Query.distributionLists": Case(
        "Query.distributionLists",
        "of-a-unit",
        "query { distributionLists { id } }",
        listed,
        _ids_in("distributionLists", "distribution:{unit}"),
        SCOPED_INTERNAL,
    ),
    "Query.reportAnomalies": Case(
        "Query.reportAnomalies",
        "of-a-service",
        "query A($from: DateTime, $to: DateTime) { reportAnomalies(from: $from, to: $to) { id } }",
        anomaly_of,
        _ids_in("reportAnomalies", "anomaly:{unit}"),
        SCOPED_INTERNAL,
    ),
    "Mutation.createDistributionList": Case(
        "Mutation.createDistributionList",
        "of-a-unit",
        "mutation C($input: DistributionListInput!) { createDistributionList(input: $input)"
        " { id businessUnits } }",
        new_list_input,
        lambda data, world, unit: (
            data["createDistributionList"]["businessUnits"] == [world.unit(unit)]
        ),
        from_role(Role.EDITOR, (SEES, SEES, BAD_INPUT)),
    ),
    "Mutation.deleteDistributionList": Case(
        "Mutation.deleteDistributionList",
        "of-a-unit",
        "mutation D($id: ID!) { deleteDistributionList(id: $id) }",
        fresh_list,
        lambda data, world, unit: data["deleteDistributionList"] is True,
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_LIST},
    ),
}
