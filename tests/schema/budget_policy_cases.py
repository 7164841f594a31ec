"""Access-matrix cases for error-budget policies (`budgetPolicyActions`, and
`Service.changeFreeze` read through `node`), in the shape of `test_access_matrix.CASES`
entries, keyed by field.

Policy actions and change freezes are internal records: a staff token reads them where
it reads their objective (or service), a customer token never (an empty list; a null
freeze on a service it may read). Each case first records an action (or a freeze) for
the world's objective (service) of the target's unit, idempotently: a fixed key MERGEd.

Import this module after `test_access_matrix` has defined its helpers (it imports them).
"""

from __future__ import annotations

from typing import Any

from access_support import World
from test_access_matrix import BLIND, SEES, Case, everyone

from hub.graph.client import Graph, Transaction
from hub.graph.repositories.budget_policies import record_actions, set_freezes

ACTIONS = (
    "query A($id: ID!) { budgetPolicyActions(objectiveId: $id) "
    "{ id objectiveId action phase recipients } }"
)
FREEZE = "query F($id: ID!) { node(id: $id) { ... on Service { changeFreeze { id reason } } } }"
UNKNOWN_OBJECTIVE = "obj_00000000000000000000000000000000"


async def _with_action(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    objective_id = world.ids[f"objective:{unit}"]
    key = f"{objective_id}#1|EXHAUSTED|NOTIFY_OWNER"
    props = {
        "id": f"pac_{objective_id[4:]}",
        "key": key,
        "objectiveId": objective_id,
        "episodeKey": f"{objective_id}#1",
        "phase": "EXHAUSTED",
        "action": "NOTIFY_OWNER",
        "at": "2026-01-20T00:00:00Z",
        "state": "EXHAUSTED",
        "recipients": ["owner@example.com"],
    }

    async def work(tx: Transaction) -> None:
        await record_actions(tx, [{"key": key, "props": props}])

    await graph.write_transaction(work)
    return {"id": objective_id}


def _has_action(data: dict[str, Any], world: World, unit: str) -> bool:
    wanted = world.ids[f"objective:{unit}"]
    return any(a["objectiveId"] == wanted for a in data["budgetPolicyActions"])


async def _with_freeze(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    service_id = world.ids[f"svc:{unit}"]
    objective_id = world.ids[f"objective:{unit}"]
    key = f"{objective_id}#1"
    props = {
        "id": f"frz_{objective_id[4:]}",
        "key": key,
        "objectiveId": objective_id,
        "serviceIds": [service_id],
        "reason": "error budget EXHAUSTED (matrix)",
        "since": "2026-01-20T00:00:00Z",
        "liftedAt": None,
    }

    async def work(tx: Transaction) -> None:
        await set_freezes(tx, [{"key": key, "props": props}])

    await graph.write_transaction(work)
    return {"id": service_id}


def _has_freeze(data: dict[str, Any], world: World, unit: str) -> bool:
    node = data["node"]
    return node is not None and node.get("changeFreeze") is not None


CASES: dict[str, Case] = {
    "Query.budgetPolicyActions": Case(
        "Query.budgetPolicyActions",
        "of-an-sla-objective",
        ACTIONS,
        _with_action,
        _has_action,
        everyone((SEES, SEES, BLIND), (BLIND, BLIND, BLIND)),
        unknown=lambda world: {"id": UNKNOWN_OBJECTIVE},
    ),
    "Query.node:changeFreeze": Case(
        "Query.node",
        "service-change-freeze",
        FREEZE,
        _with_freeze,
        _has_freeze,
        everyone((SEES, SEES, BLIND), (BLIND, BLIND, BLIND)),
        # A customer reads the service with a null freeze; an unknown id reads no
        # service at all: nothing to compare the hidden freeze with.
        unknown=None,
    ),
}
