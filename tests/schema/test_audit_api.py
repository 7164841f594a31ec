"""`auditTrail` and `node(id)` for audit records, asked in-process as each role would:
admins read every record, approvers those of scoped records in their scope, everyone
else is refused; the values returned are exactly the ones the hash covers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import strawberry
from support import AUTHORED_AT, GraphBuilder, load

from hub.domain.audit import record_hash
from hub.domain.models import AgreementKind, AgreementStatus, Indicator, ObjectiveSpec, WindowKind
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories import TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

TRAIL = """
query Trail($targetId: ID, $action: String, $first: Int, $after: String) {
  auditTrail(targetId: $targetId, action: $action, first: $first, after: $after) {
    edges {
      cursor
      node {
        __typename id sequence at actor action targetId reason before after
        previousHash hash
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
NODE = """
query Node($id: ID!) { node(id: $id) { __typename id ... on AuditRecord { sequence hash } } }
"""

ADMIN = Actor("ada", Role.ADMIN)
APPROVER = Actor("abe-audit", Role.APPROVER)
RETAIL_APPROVER = Actor("rita", Role.APPROVER, domains=frozenset({"retail"}))


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def execute(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [error.formatted for error in result.errors or []]


async def trail(
    schema: strawberry.Schema, graph: Graph, actor: Actor, **variables: Any
) -> list[dict[str, Any]]:
    data, errors = await execute(schema, graph, actor, TRAIL, **variables)
    assert errors == []
    assert data is not None
    return [edge["node"] for edge in data["auditTrail"]["edges"]]


@pytest.fixture
async def world(graph: Graph, builder: GraphBuilder) -> dict[str, str]:
    """A retail SLA (created, submitted, approved), a wholesale one, and a token."""
    _, author = await load(builder, [("svc", "db")], services=["svc"])
    objective = ObjectiveSpec(
        indicator=Indicator.AVAILABILITY, target=99.9, window_kind=WindowKind.CALENDAR_MONTH
    )
    retail = await author(AgreementKind.SLA, "Retail SLA", ["svc"], [objective])
    wholesale = await author(
        AgreementKind.SLA,
        "Wholesale SLA",
        ["svc"],
        [objective],
        customer="cust-2",
        status=AgreementStatus.DRAFT,
    )
    issued = await TokenRepository(graph).issue(
        TokenSpec.of(f"audited-{uuid.uuid4().hex[:8]}", Role.VIEWER)
    )
    return {"retail": retail, "wholesale": wholesale, "token": issued.id}


async def test_admins_read_every_record_oldest_first(
    schema: strawberry.Schema, graph: Graph, world: dict[str, str]
) -> None:
    retail = await trail(schema, graph, ADMIN, targetId=world["retail"])
    token = await trail(schema, graph, ADMIN, targetId=world["token"])

    assert [(r["action"], r["reason"]) for r in retail] == [
        ("agreement.create", None),
        ("agreement.submit", "please review"),
        ("agreement.approve", "checked"),
    ]
    assert [r["sequence"] for r in retail] == sorted(r["sequence"] for r in retail)
    # The approval records the workflow state and the start it set (the authoring
    # instant of `support.Author`: no start was given).
    assert retail[2]["before"] == (
        '{"approvals":[],"effectiveFrom":null,"state":"PENDING_APPROVAL"}'
    )
    assert retail[2]["after"] == (
        f'{{"approvals":["abe"],"effectiveFrom":"{to_iso(AUTHORED_AT)}","state":"APPROVED"}}'
    )
    assert [(r["__typename"], r["action"], r["actor"]) for r in token] == [
        ("AuditRecord", "token.create", "cli")
    ]
    # What the token is bound to, never its hash.
    assert sorted(json.loads(token[0]["after"])) == [
        "customerId",
        "domains",
        "expiresAt",
        "groups",
        "id",
        "objectives",
        "regions",
        "role",
        "user",
    ]


async def test_each_hash_is_recomputed_from_the_values_returned(
    schema: strawberry.Schema, graph: Graph, world: dict[str, str]
) -> None:
    records = await trail(schema, graph, ADMIN, targetId=world["retail"])

    for r in records:
        assert r["hash"] == record_hash(
            r["sequence"],
            r["at"],
            r["actor"],
            r["action"],
            r["targetId"],
            r["reason"],
            r["before"],
            r["after"],
            r["previousHash"],
        )
    everything = await trail(schema, graph, ADMIN, first=500)
    by_sequence = {r["sequence"]: r for r in everything}
    for r in everything:
        if r["sequence"] - 1 in by_sequence:
            assert r["previousHash"] == by_sequence[r["sequence"] - 1]["hash"]


async def test_the_trail_pages_by_sequence_and_filters_by_action(
    schema: strawberry.Schema, graph: Graph, world: dict[str, str]
) -> None:
    data, _ = await execute(schema, graph, ADMIN, TRAIL, targetId=world["retail"], first=2)
    assert data is not None
    first = data["auditTrail"]
    assert first["pageInfo"]["hasNextPage"] is True
    data, _ = await execute(
        schema,
        graph,
        ADMIN,
        TRAIL,
        targetId=world["retail"],
        first=2,
        after=first["pageInfo"]["endCursor"],
    )
    assert data is not None
    second = data["auditTrail"]

    assert [e["node"]["action"] for e in first["edges"] + second["edges"]] == [
        "agreement.create",
        "agreement.submit",
        "agreement.approve",
    ]
    assert second["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": second["edges"][-1]["cursor"],
    }
    submits = await trail(schema, graph, ADMIN, targetId=world["retail"], action="agreement.submit")
    assert [r["action"] for r in submits] == ["agreement.submit"]


async def test_approvers_read_the_records_of_scoped_records_in_their_scope(
    schema: strawberry.Schema, graph: Graph, world: dict[str, str]
) -> None:
    async def count(actor: Actor, key: str) -> int:
        return len(await trail(schema, graph, actor, targetId=world[key]))

    assert [await count(APPROVER, key) for key in ("retail", "wholesale", "token")] == [3, 1, 0]
    assert [await count(RETAIL_APPROVER, key) for key in ("retail", "wholesale", "token")] == [
        3,
        0,
        0,
    ]
    scoped = await trail(schema, graph, RETAIL_APPROVER, first=500)
    assert world["wholesale"] not in {r["targetId"] for r in scoped}


@pytest.mark.parametrize(
    "actor",
    [
        Actor("vic", Role.VIEWER),
        Actor("erin", Role.EDITOR),
        Actor("portal", Role.CUSTOMER, customer_id="cus_x"),
        Actor("probe", Role.PUSHER, objectives=frozenset({"obj_x"})),
    ],
    ids=["viewer", "editor", "customer", "pusher"],
)
async def test_everyone_else_is_refused(
    schema: strawberry.Schema, graph: Graph, actor: Actor
) -> None:
    data, errors = await execute(schema, graph, actor, TRAIL)

    assert data is None
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [(["auditTrail"], "FORBIDDEN")]


async def test_a_bad_cursor_names_the_argument(schema: strawberry.Schema, graph: Graph) -> None:
    _, errors = await execute(schema, graph, ADMIN, TRAIL, after="bm90LWEtbnVtYmVy")

    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]
    assert [p["field"] for p in errors[0]["extensions"]["problems"]] == ["after"]


async def test_node_answers_audit_records_to_admins_only(
    schema: strawberry.Schema, graph: Graph, world: dict[str, str]
) -> None:
    (record,) = await trail(schema, graph, ADMIN, targetId=world["token"])

    as_admin, _ = await execute(schema, graph, ADMIN, NODE, id=record["id"])
    as_approver, errors = await execute(schema, graph, APPROVER, NODE, id=record["id"])

    assert as_admin == {
        "node": {
            "__typename": "AuditRecord",
            "id": record["id"],
            "sequence": record["sequence"],
            "hash": record["hash"],
        }
    }
    assert as_approver == {"node": None}
    assert errors == []
