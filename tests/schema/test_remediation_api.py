"""The remediation workflow over GraphQL: violations of every kind by state, the
root cause (with the ranking's suggestion shown, not applied), a target revision
proposed as a DRAFT, evidence, and what a customer token reads of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import strawberry
from remediation_support import ViolatedEstate, violated_estate
from slo_support import incident, utc
from support import EDITOR, VIEWER, GraphBuilder

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

VIOLATIONS_OF = """
query V($kind: [AgreementKind!], $status: [ViolationStatus!]) {
  violationsOf(kind: $kind, status: $status, first: 500) {
    edges { node { id status agreement { id } detectedAt rcaDueAt rootCauseSummary
                   rootCauseRecordedAt evidence { sha256 content } } }
  }
}
"""
ROOT_CAUSE = """
mutation R($id: ID!, $components: [ID!]) {
  recordRootCause(violationId: $id, summary: "disk full on db", componentIds: $components) {
    id status rootCauseSummary rootCauseRecordedAt rootCauseComponents { id }
  }
}
"""
PROPOSE = """
mutation P($id: ID!) {
  proposeTargetRevision(violationId: $id, reason: "99.9 is not reachable on this chain",
    objectives: [{indicator: AVAILABILITY, target: 99.5, windowKind: CALENDAR_MONTH,
                  name: "ola-availability"}]) {
    id version status
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
async def estate(graph: Graph, builder: GraphBuilder) -> ViolatedEstate:
    return await violated_estate(graph, builder)


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [e.extensions or {"message": e.message} for e in result.errors or []]


async def ok(schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **v: Any) -> Any:
    data, errors = await ask(schema, graph, actor, query, **v)
    assert errors == []
    assert data is not None
    return data


async def violations(
    schema: strawberry.Schema, estate: ViolatedEstate, actor: Actor = VIEWER, **v: Any
) -> dict[str, dict[str, Any]]:
    """The estate's violations listed by violationsOf, by agreement name."""
    data = await ok(schema, estate.graph, actor, VIOLATIONS_OF, **v)
    names = {estate.ids[n]: n for n in ("sla", "ola", "uc")}
    return {
        names[e["node"]["agreement"]["id"]]: e["node"]
        for e in data["violationsOf"]["edges"]
        if e["node"]["agreement"]["id"] in names
    }


async def test_violations_of_every_kind_filtered_by_kind_and_state(
    schema: strawberry.Schema, estate: ViolatedEstate
) -> None:
    found = await violations(schema, estate)
    assert sorted(found) == ["ola", "sla", "uc"]
    assert {v["status"] for v in found.values()} == {"OPEN"}
    assert sorted(await violations(schema, estate, kind=["OLA", "UC"])) == ["ola", "uc"]
    assert sorted(await violations(schema, estate, status=["CLOSED"])) == []
    sla = found["sla"]
    assert sla["rcaDueAt"] > sla["detectedAt"]
    (evidence,) = sla["evidence"]
    assert json.loads(evidence["content"])["agreement"]["id"] == estate.ids["sla"]


async def test_recording_the_root_cause_moves_the_violation_on(
    schema: strawberry.Schema, estate: ViolatedEstate
) -> None:
    ola = (await violations(schema, estate))["ola"]
    data = await ok(
        schema, estate.graph, EDITOR, ROOT_CAUSE, id=ola["id"], components=[estate.ids["db"]]
    )
    recorded = data["recordRootCause"]
    assert recorded["status"] == "ACTIONS_OPEN"
    assert recorded["rootCauseSummary"] == "disk full on db"
    assert recorded["rootCauseComponents"] == [{"id": estate.ids["db"]}]
    assert recorded["rootCauseRecordedAt"] is not None
    assert sorted(await violations(schema, estate, status=["ACTIONS_OPEN"])) == ["ola"]


async def test_a_root_cause_needs_an_editor_and_known_components(
    schema: strawberry.Schema, estate: ViolatedEstate
) -> None:
    sla = (await violations(schema, estate))["sla"]
    _, errors = await ask(schema, estate.graph, VIEWER, ROOT_CAUSE, id=sla["id"])
    assert [e.get("code") for e in errors] == ["FORBIDDEN"]
    _, errors = await ask(
        schema, estate.graph, EDITOR, ROOT_CAUSE, id=sla["id"], components=["cmp_nothing"]
    )
    assert [e.get("code") for e in errors] == ["BAD_USER_INPUT"]
    _, errors = await ask(schema, estate.graph, EDITOR, ROOT_CAUSE, id="vio_nothing")
    assert [e.get("code") for e in errors] == ["NOT_FOUND"]


async def test_a_proposed_target_revision_is_a_draft_linked_to_the_violation(
    schema: strawberry.Schema, estate: ViolatedEstate
) -> None:
    ola = (await violations(schema, estate))["ola"]
    draft = (await ok(schema, estate.graph, EDITOR, PROPOSE, id=ola["id"]))["proposeTargetRevision"]
    assert draft["version"] == 2
    assert draft["status"] == "DRAFT"
    data = await ok(
        schema,
        estate.graph,
        VIEWER,
        "query($id: ID!) { node(id: $id) { ... on Violation { targetRevision { id } } } }",
        id=ola["id"],
    )
    assert data["node"]["targetRevision"] == {"id": draft["id"]}


async def test_a_customer_reads_its_sla_violation_without_internals(
    schema: strawberry.Schema, estate: ViolatedEstate
) -> None:
    sla = (await violations(schema, estate))["sla"]
    await ok(schema, estate.graph, EDITOR, ROOT_CAUSE, id=sla["id"])
    customer = Actor("cora", Role.CUSTOMER, customer_id=estate.ids["cust-1"])
    found = await violations(schema, estate, customer)
    assert sorted(found) == ["sla"]  # OLAs and UCs are internal
    assert found["sla"]["status"] == "ACTIONS_OPEN"
    assert found["sla"]["rootCauseSummary"] is None
    assert found["sla"]["rootCauseRecordedAt"] is None
    assert found["sla"]["evidence"] == []


async def test_the_root_cause_ranking_is_suggested_not_applied(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    estate = await violated_estate(graph, builder, assess=False)
    # The database failed for three hours in the violated January.
    await SyncRepository(graph).write_batch(
        f"{builder.source}-pd",
        incidents=[
            incident(
                builder.source, "db-down", "db", "P1", utc(2026, 1, 15, 9), utc(2026, 1, 15, 12)
            )
        ],
    )
    await estate.assess()
    sla = (await violations(schema, estate))["sla"]
    query = """
    query($id: ID!) { node(id: $id) { ... on Violation {
      rootCauseSummary rootCauseComponents { id }
      suggestedRootCause { component { id } incidents } } } }
    """
    found = (await ok(schema, graph, VIEWER, query, id=sla["id"]))["node"]
    assert found["suggestedRootCause"] == {"component": {"id": estate.ids["db"]}, "incidents": 1}
    assert found["rootCauseSummary"] is None  # shown, not applied
    assert found["rootCauseComponents"] == []
    # OLAs and UCs have no chain of their own to rank.
    ola = (await violations(schema, estate))["ola"]
    data = await ok(schema, graph, VIEWER, query, id=ola["id"])
    assert data["node"]["suggestedRootCause"] is None
