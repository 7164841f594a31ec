"""Actions and joint service reviews through the API, on the real embedded graph:
`addAction`, `completeAction`, `cancelAction`, `recordServiceReview`,
`serviceReviews`, each with its access cases (`remediation_cases_actions.CASES`, run
here as the access matrix runs its own) and its rules: dueAt not in the past, a
reason to settle, a link for runbook and monitoring changes, no second settling.

The schema is the served one with this module's classes added, so the tests run
whether or not the root types list them yet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from remediation_cases_actions import CASES, action_input, remediation_in
from strawberry.schema.config import StrawberryConfig
from support import EDITOR
from test_access_matrix import (
    BAD_INPUT,
    BLIND,
    NOT_FOUND,
    ROLES,
    SCOPES,
    SEES,
    TARGET_UNIT,
    Case,
    _masked,
)

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AuditRepository
from hub.schema import Mutation, Query
from hub.schema.base import DATETIME_SCALAR, DateTime
from hub.schema.context import Context
from hub.schema.errors import ErrorPolicy, HubSchema
from hub.schema.remediation.actions import ActionMutations
from hub.schema.remediation.reviews import ServiceReviewMutations, ServiceReviewQueries
from hub.settings import ApiSettings


@strawberry.type
class ActionsQuery(Query, ServiceReviewQueries):
    pass


@strawberry.type
class ActionsMutation(Mutation, ActionMutations, ServiceReviewMutations):
    pass


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return HubSchema(
        query=ActionsQuery,
        mutation=ActionsMutation,
        extensions=[ErrorPolicy],
        config=StrawberryConfig(auto_camel_case=True, scalar_map={DateTime: DATETIME_SCALAR}),
    )


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "matrix-actions")


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, document: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        document,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [
        {"message": e.message, **(e.extensions or {})} for e in result.errors or []
    ]


# ---- the access cases -------------------------------------------------------------


async def _answer(
    schema: strawberry.Schema, graph: Graph, case: Case, actor: Actor, variables: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    data, errors = await ask(schema, graph, actor, case.document, **variables)
    return data, [str(e.get("code")) for e in errors], [e["message"] for e in errors]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_access(
    case: Case, role: Role, scope: str, schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    expected = case.expected[role][SCOPES.index(scope)]
    unit = TARGET_UNIT[scope]
    actor = world.actor(role, scope != "unlimited")
    variables = await case.variables(world, graph, unit)

    data, codes, messages = await _answer(schema, graph, case, actor, variables)

    if expected in (SEES, BLIND):
        assert codes == [], messages
        assert data is not None
        assert case.present(data, world, unit) is (expected == SEES), data
    else:
        assert codes == [expected], messages
    if expected in (BLIND, NOT_FOUND, BAD_INPUT) and case.unknown is not None:
        unknown = await _answer(schema, graph, case, actor, case.unknown(world))
        assert _masked(unknown) == _masked((data, codes, messages))


# ---- the rules, through the API -----------------------------------------------------

ADD = (
    "mutation A($violationId: ID!, $input: ActionInput!) {"
    " addAction(violationId: $violationId, input: $input)"
    " { id kind description owner dueAt status doneAt reason link } }"
)
COMPLETE = (
    "mutation C($id: ID!, $reason: String!, $link: String) {"
    " completeAction(id: $id, reason: $reason, link: $link) { id status doneAt reason link } }"
)
CANCEL = (
    "mutation X($id: ID!, $reason: String!) {"
    " cancelAction(id: $id, reason: $reason) { id status doneAt reason } }"
)
REVIEW = (
    "mutation R($id: ID!, $heldAt: DateTime!, $people: [String!]!, $findings: String!,"
    " $actions: [ActionInput!]) { recordServiceReview(agreementId: $id, heldAt: $heldAt,"
    " participants: $people, findings: $findings, actions: $actions)"
    " { id heldAt participants findings agreement { id } actions { kind owner status } } }"
)
REVIEWS = "query S($id: ID) { serviceReviews(agreementId: $id) { id findings } }"


async def test_an_action_is_added_completed_with_its_link_and_audited(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    runbook = {**action_input(), "kind": "RUNBOOK_UPDATE", "description": "page the DBA"}
    data, errors = await ask(
        schema, graph, EDITOR, ADD, violationId=world.ids["violation:retail"], input=runbook
    )
    assert errors == []
    assert data is not None
    added = data["addAction"]
    assert (added["kind"], added["owner"], added["status"], added["doneAt"]) == (
        "RUNBOOK_UPDATE",
        "ops",
        "OPEN",
        None,
    )
    assert added["dueAt"] == "2031-06-01T00:00:00Z"

    _, errors = await ask(schema, graph, EDITOR, COMPLETE, id=added["id"], reason="done")
    assert [(e["code"], [p["field"] for p in e["problems"]]) for e in errors] == [
        ("BAD_USER_INPUT", ["link"])
    ]
    link = "https://wiki.example/runbooks/db"
    data, errors = await ask(
        schema, graph, EDITOR, COMPLETE, id=added["id"], reason="runbook updated", link=link
    )
    assert errors == []
    assert data is not None
    done = data["completeAction"]
    assert (done["status"], done["reason"], done["link"]) == ("DONE", "runbook updated", link)
    assert done["doneAt"] is not None

    _, errors = await ask(schema, graph, EDITOR, CANCEL, id=added["id"], reason="again")
    assert [e["code"] for e in errors] == ["FORBIDDEN_TRANSITION"]
    trail = await AuditRepository(graph).for_target(added["id"])
    assert [r.action for r in trail] == ["action.add", "action.complete"]
    assert json.loads(trail[1].after or "{}")["link"] == link


async def test_an_action_due_in_the_past_or_without_owner_is_refused(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    past = {
        **action_input(),
        "owner": " ",
        "dueAt": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    data, errors = await ask(
        schema, graph, EDITOR, ADD, violationId=world.ids["violation:retail"], input=past
    )
    assert data is None
    assert [(e["code"], sorted(p["field"] for p in e["problems"])) for e in errors] == [
        ("BAD_USER_INPUT", ["dueAt", "owner"])
    ]


async def test_a_cancelled_action_needs_a_reason(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    data, _ = await ask(
        schema,
        graph,
        EDITOR,
        ADD,
        violationId=world.ids["violation:corp"],
        input=action_input(),
    )
    assert data is not None
    action_id = data["addAction"]["id"]
    _, errors = await ask(schema, graph, EDITOR, CANCEL, id=action_id, reason="  ")
    assert [e["code"] for e in errors] == ["BAD_USER_INPUT"]
    data, errors = await ask(schema, graph, EDITOR, CANCEL, id=action_id, reason="not needed")
    assert errors == []
    assert data == {
        "cancelAction": {
            "id": action_id,
            "status": "CANCELLED",
            "doneAt": None,
            "reason": "not needed",
        }
    }


async def test_a_service_review_records_its_actions_and_lists_by_agreement(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    sla = world.ids["sla:corp"]
    held = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    data, errors = await ask(
        schema,
        graph,
        EDITOR,
        REVIEW,
        id=sla,
        heldAt=held.isoformat(),
        people=["vendor manager", " service owner ", "vendor manager"],
        findings="Two missed RCAs; alerting too noisy.",
        actions=[
            {**action_input(), "kind": "MONITORING_CHANGE", "owner": "sre"},
            {**action_input(), "kind": "RENEGOTIATION", "owner": "procurement"},
        ],
    )
    assert errors == []
    assert data is not None
    review = data["recordServiceReview"]
    assert review["heldAt"] == "2026-11-30T10:00:00Z"
    assert review["participants"] == ["vendor manager", "service owner"]
    assert review["agreement"] == {"id": sla}
    assert sorted((a["kind"], a["owner"], a["status"]) for a in review["actions"]) == [
        ("MONITORING_CHANGE", "sre", "OPEN"),
        ("RENEGOTIATION", "procurement", "OPEN"),
    ]
    data, _ = await ask(schema, graph, EDITOR, REVIEWS, id=sla)
    assert data is not None
    assert {"id": review["id"], "findings": "Two missed RCAs; alerting too noisy."} in data[
        "serviceReviews"
    ]
    # A customer token reads no reviews, even of its own SLA.
    customer = world.actor(Role.CUSTOMER, scoped=False)
    data, errors = await ask(schema, graph, customer, REVIEWS, id=world.ids["sla:retail"])
    assert (data, errors) == ({"serviceReviews": []}, [])


async def test_a_review_in_the_future_is_refused(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    data, errors = await ask(
        schema,
        graph,
        EDITOR,
        REVIEW,
        id=world.ids["sla:retail"],
        heldAt=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
        people=[],
        findings="",
    )
    assert data is None
    assert [sorted(p["field"] for p in e["problems"]) for e in errors] == [
        ["findings", "heldAt", "participants"]
    ]


async def test_the_remediation_of_a_violation_is_its_actions_subject(
    graph: Graph, world: World
) -> None:
    # addAction names a violation revision; the action hangs from its period's
    # remediation, whichever revision is named.
    assert (await remediation_in(world, graph, "retail")).startswith("rem_")
