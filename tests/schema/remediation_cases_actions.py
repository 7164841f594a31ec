"""Access-matrix cases for actions and joint service reviews (`addAction`,
`completeAction`, `cancelAction`, `recordServiceReview`, `serviceReviews`), in the
shape of `test_access_matrix.CASES` entries, keyed by field.

Actions and reviews are internal and belong to their agreement: editors change them
in the agreement's scope (out of scope they do not exist: NOT_FOUND, as an unknown
id), staff read reviews in scope, customer tokens are refused the mutations and read
no reviews.

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(remediation_cases_actions.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from access_support import World
from support import EDITOR
from test_access_matrix import (
    BLIND,
    NOT_FOUND,
    SEES,
    Case,
    everyone,
    from_role,
)

from hub.domain.actions import ActionKind, ActionSpec
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.actions import ActionRepository
from hub.graph.repositories.remediation import RemediationRepository, remediation_key
from hub.graph.repositories.service_reviews import ServiceReviewRepository
from hub.graph.repositories.violations import ViolationRepository

UNKNOWN_ACTION = "act_00000000000000000000000000000000"
UNKNOWN_VIOLATION = "vio_00000000000000000000000000000000"
UNKNOWN_AGREEMENT = "agr_00000000000000000000000000000000"
# Far ahead of every clock the tests run at: a due date never in the past.
DUE = datetime(2031, 6, 1, tzinfo=UTC)


def action_input() -> dict[str, Any]:
    return {
        "kind": "CORRECTIVE",
        "description": "add a replica",
        "owner": "ops",
        "dueAt": DUE.isoformat(),
    }


async def remediation_in(world: World, graph: Graph, unit: str) -> str:
    """The remediation of the unit's violated period."""
    violation_id = world.ids[f"violation:{unit}"]
    violation = (await ViolationRepository(graph).by_ids([violation_id]))[violation_id]
    key = remediation_key(
        violation.agreement_id, violation.objective_id, to_iso(violation.period_start)
    )
    return (await RemediationRepository(graph).by_keys([key]))[key].id


async def open_action_in(world: World, graph: Graph, unit: str) -> str:
    """A new OPEN action on the unit's violation, added by the test editor."""
    subject = await remediation_in(world, graph, unit)
    spec = ActionSpec(ActionKind.CORRECTIVE, "matrix action", "ops", DUE)
    [added] = await ActionRepository(graph).add(subject, [spec], EDITOR)
    return added.id


async def review_in(world: World, graph: Graph, unit: str) -> str:
    """The unit's joint service review (recorded once per world)."""
    key = f"service-review:{unit}"
    if key not in world.ids:
        review = await ServiceReviewRepository(graph).record(
            world.ids[f"sla:{unit}"],
            datetime.now(UTC) - timedelta(days=1),
            ["vendor manager", "service owner"],
            "matrix findings",
            [],
            EDITOR,
        )
        world.ids[key] = review.id
    return world.ids[key]


async def violation_and_input(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"violationId": world.ids[f"violation:{unit}"], "input": action_input()}


async def fresh_action(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await open_action_in(world, graph, unit), "reason": "matrix"}


async def review_of_agreement(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    await review_in(world, graph, unit)
    return {"id": world.ids[f"sla:{unit}"]}


async def new_review(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {
        "id": world.ids[f"sla:{unit}"],
        "heldAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "actions": [action_input()],
    }


CASES: dict[str, Case] = {
    "Mutation.addAction": Case(
        "Mutation.addAction",
        "on-a-violation",
        "mutation A($violationId: ID!, $input: ActionInput!) {"
        " addAction(violationId: $violationId, input: $input) { id status } }",
        violation_and_input,
        lambda data, world, unit: data["addAction"]["status"] == "OPEN",
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"violationId": UNKNOWN_VIOLATION, "input": action_input()},
    ),
    "Mutation.completeAction": Case(
        "Mutation.completeAction",
        "an-open-action",
        "mutation C($id: ID!, $reason: String!) {"
        " completeAction(id: $id, reason: $reason) { id status } }",
        fresh_action,
        lambda data, world, unit: data["completeAction"]["status"] == "DONE",
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_ACTION, "reason": "matrix"},
    ),
    "Mutation.cancelAction": Case(
        "Mutation.cancelAction",
        "an-open-action",
        "mutation C($id: ID!, $reason: String!) {"
        " cancelAction(id: $id, reason: $reason) { id status } }",
        fresh_action,
        lambda data, world, unit: data["cancelAction"]["status"] == "CANCELLED",
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_ACTION, "reason": "matrix"},
    ),
    "Mutation.recordServiceReview": Case(
        "Mutation.recordServiceReview",
        "on-an-sla",
        "mutation R($id: ID!, $heldAt: DateTime!, $actions: [ActionInput!]) {"
        " recordServiceReview(agreementId: $id, heldAt: $heldAt,"
        ' participants: ["vendor manager"], findings: "matrix", actions: $actions)'
        " { id actions { status } } }",
        new_review,
        lambda data, world, unit: (
            [a["status"] for a in data["recordServiceReview"]["actions"]] == ["OPEN"]
        ),
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {
            "id": UNKNOWN_AGREEMENT,
            "heldAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "actions": [action_input()],
        },
    ),
    "Query.serviceReviews": Case(
        "Query.serviceReviews",
        "of-an-sla",
        "query S($id: ID) { serviceReviews(agreementId: $id) { id } }",
        review_of_agreement,
        lambda data, world, unit: (
            world.ids[f"service-review:{unit}"] in {r["id"] for r in data["serviceReviews"]}
        ),
        everyone((SEES, SEES, BLIND), (BLIND, BLIND, BLIND)),
        lambda world: {"id": UNKNOWN_AGREEMENT},
    ),
}
