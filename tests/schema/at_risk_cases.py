"""Access-matrix cases for escalation when at risk (`atRiskEscalations`,
`acknowledgeAtRisk`), in the shape of `test_access_matrix.CASES` entries, keyed by
field.

Episodes are internal records of an objective: staff read those of objectives in their
scope, customer tokens none; editors in scope acknowledge (out of scope: NOT_FOUND, as
an unknown id). Each mutation case opens a fresh episode on the unit's SLA objective
(closing the one before), so that every role and scope acknowledges one of its own.

Import this module after `test_access_matrix` has defined its helpers (it imports
them); it is listed in the matrix's `FEATURE_CASES`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from access_support import World
from test_access_matrix import NOT_FOUND, SCOPED_INTERNAL, SEES, Case, from_role

from hub.domain.at_risk import AtRiskStatus, episode_key
from hub.domain.workflow import Role
from hub.graph.client import Graph, Transaction
from hub.graph.ids import new_id, to_iso
from hub.graph.repositories.at_risk import AtRiskRepository, close_episodes, open_episodes

UNKNOWN_OBJECTIVE = "obj_00000000000000000000000000000000"
UNKNOWN_ESCALATION = "ark_00000000000000000000000000000000"


async def episode_of(graph: Graph, objective_id: str) -> str:
    """A new OPEN episode of `objective_id` (its unclosed one closed first): its id."""
    now = datetime.now(UTC)
    repository = AtRiskRepository(graph)
    sequence = (await repository.sequences([objective_id])).get(objective_id, 0) + 1
    unclosed = await repository.unclosed([objective_id])
    key = episode_key(objective_id, sequence)
    escalation_id = new_id("AtRiskEscalation")

    async def work(tx: Transaction) -> set[str]:
        await close_episodes(
            tx,
            [{"id": e.id, "at": to_iso(now), "reason": "matrix"} for e in unclosed.values()],
        )
        props = {
            "id": escalation_id,
            "key": key,
            "objectiveId": objective_id,
            "sequence": sequence,
            "episodeStart": to_iso(now),
            "status": str(AtRiskStatus.OPEN),
            "position": 0,
        }
        return await open_episodes(tx, [{"objectiveId": objective_id, "key": key, "props": props}])

    assert await graph.write_transaction(work) == {key}
    return escalation_id


async def listed_episode(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """The unit's objective, with an episode (made once per world)."""
    key = f"at-risk:{unit}"
    if key not in world.ids:
        world.ids[key] = await episode_of(graph, world.ids[f"objective:{unit}"])
    return {"id": world.ids[f"objective:{unit}"]}


async def open_episode(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await episode_of(graph, world.ids[f"objective:{unit}"])}


CASES: dict[str, Case] = {
    "Query.atRiskEscalations": Case(
        "Query.atRiskEscalations",
        "of-an-sla-objective",
        "query A($id: ID!) { atRiskEscalations(objectiveId: $id) { id status } }",
        listed_episode,
        lambda data, world, unit: (
            world.ids[f"at-risk:{unit}"] in {e["id"] for e in data["atRiskEscalations"]}
        ),
        SCOPED_INTERNAL,
        lambda world: {"id": UNKNOWN_OBJECTIVE},
    ),
    "Mutation.acknowledgeAtRisk": Case(
        "Mutation.acknowledgeAtRisk",
        "an-open-episode",
        'mutation K($id: ID!) { acknowledgeAtRisk(escalationId: $id, note: "matrix") '
        "{ id status note } }",
        open_episode,
        lambda data, world, unit: data["acknowledgeAtRisk"]["status"] == "ACKNOWLEDGED",
        # Editors in scope (the owner team's service-level managers) and admins.
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_ESCALATION},
    ),
}
