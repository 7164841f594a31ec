"""What a scoped or customer token reads through nested fields and walks, and four
eyes under concurrent approvals. The matrix (test_access_matrix.py) covers every root
field; these follow the paths below them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from slo_support import bound, objective_spec
from support import EDITOR

from hub.domain.models import AgreementKind, AgreementSpec, AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "scope")


async def ask(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    slo: SloSettings | None = None,
    **variables: Any,
) -> dict[str, Any]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings(), slo=slo),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


SERVICE = """
query Service($id: ID!) {
  node(id: $id) {
    ... on Service {
      owner { name }
      slas {
        id
        customer { id }
        underpinnedBy { id }
        coverageGaps { kind }
        objectives { status(at: "2026-01-31T23:55:00Z") { compliance } }
      }
    }
  }
}
"""


async def test_a_services_slas_leave_out_another_units_sla(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    # A corporate SLA that also covers the retail service.
    repository = AgreementRepository(graph)
    spec = world.sla_spec("corp", "Cross-unit SLA").model_copy(
        update={"covers": (world.ids["svc:retail"],)}
    )
    cross = await repository.create(spec, EDITOR)
    unlimited = await ask(
        schema, graph, world.actor(Role.VIEWER, False), SERVICE, id=world.ids["svc:retail"]
    )
    scoped = await ask(
        schema, graph, world.actor(Role.VIEWER, True), SERVICE, id=world.ids["svc:retail"]
    )

    assert {s["id"] for s in unlimited["node"]["slas"]} == {world.ids["sla:retail"], cross}
    (sla,) = scoped["node"]["slas"]
    assert sla["id"] == world.ids["sla:retail"]
    assert sla["customer"] == {"id": world.ids["cust:retail"]}
    assert sla["underpinnedBy"] == [{"id": world.ids["ola:retail"]}]
    assert sla["coverageGaps"] == [{"kind": "UNCOVERED"}]  # the service; the OLA covers the CI


async def test_a_customer_token_reads_its_sla_with_internal_fields_redacted(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    customer = world.actor(Role.CUSTOMER, False)

    slo = bound(world.ids["objective:retail"])
    data = await ask(schema, graph, customer, SERVICE, slo=slo, id=world.ids["svc:retail"])

    node = data["node"]
    assert node["owner"] is None  # teams are internal
    (sla,) = node["slas"]
    assert sla["id"] == world.ids["sla:retail"]
    assert sla["underpinnedBy"] == []
    assert sla["coverageGaps"] == []
    # Its own objectives and their status are not redacted: 9,000 of 10,000 in January.
    assert sla["objectives"][0]["status"]["compliance"] == pytest.approx(90.0)


WALKS = """
query Walks($id: ID!) {
  dependencyChain(id: $id) { components { component { id } } edges { from { id } to { id } } }
  impact(id: $id) { agreements { id } customers { id } }
  customers { edges { node { id } } }
  agreements(first: 500) { edges { node { id kind status } } }
}
"""


async def test_a_customer_token_walks_see_only_its_own_services_and_slas(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    data = await ask(
        schema, graph, world.actor(Role.CUSTOMER, False), WALKS, id=world.ids["svc:retail"]
    )

    # The chain runs through the shared CI, which a customer may not read: no
    # component and no edge names it.
    assert data["dependencyChain"] == {"components": [], "edges": []}
    assert data["impact"] == {
        "agreements": [{"id": world.ids["sla:retail"]}],
        "customers": [{"id": world.ids["cust:retail"]}],
    }
    assert [e["node"]["id"] for e in data["customers"]["edges"]] == [world.ids["cust:retail"]]
    listed = [e["node"] for e in data["agreements"]["edges"]]
    assert {(a["kind"], a["status"]) for a in listed} == {("SLA", "ACTIVE")}
    assert world.ids["sla:retail"] in {a["id"] for a in listed}


async def test_a_customer_token_does_not_read_its_own_draft_slas(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    draft = await world.agreement_in(graph, "retail", AgreementStatus.DRAFT)

    data = await ask(
        schema,
        graph,
        world.actor(Role.CUSTOMER, False),
        "query N($id: ID!) { node(id: $id) { id } }",
        id=draft,
    )

    assert data == {"node": None}


GAPS = """
query Gaps($id: ID) {
  coverageGaps(slaId: $id) { kind component { id name } detail }
}
"""


async def test_a_gap_on_another_units_service_keeps_its_verdict_without_naming_it(
    schema: strawberry.Schema, graph: Graph
) -> None:
    # storefront (unit a) depends on the ledger service of unit b; the SLA of a's
    # customer covers storefront, so the ledger is on its chain, covered by nothing.
    await BundleImporter(graph).load(
        {
            "source": "gaps-scope",
            "customers": [{"externalId": "cust-a", "name": "Customer A", "businessUnit": "ua"}],
            "services": [
                {"externalId": "front", "name": "storefront-a", "businessUnit": "ua"},
                {"externalId": "ledger", "name": "secret-ledger-b", "businessUnit": "ub"},
            ],
            "dependencies": [{"from": "front", "to": "ledger"}],
        }
    )
    components = ComponentRepository(graph)
    front = await components.lookup("gaps-scope", "front")
    customer = await components.lookup("gaps-scope", "cust-a")
    assert front is not None
    assert customer is not None
    repository = AgreementRepository(graph)
    sla = await repository.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name="Storefront SLA",
            covers=(front,),
            objectives=(objective_spec(target=99.9),),
            customer_id=customer,
        ),
        EDITOR,
    )
    await repository.submit(sla, EDITOR)
    await repository.approve(sla, Actor("abe", Role.APPROVER))
    scoped = Actor("unit-a", Role.VIEWER, domains=frozenset({"ua"}))

    gaps = (await ask(schema, graph, scoped, GAPS, id=sla))["coverageGaps"]

    told = {(g["kind"], g["component"] and g["component"]["name"]) for g in gaps}
    assert told == {("UNCOVERED", None), ("UNCOVERED", "storefront-a")}
    hidden = next(g for g in gaps if g["component"] is None)
    assert "secret-ledger-b" not in hidden["detail"]
    assert hidden["detail"].startswith("a component outside your access")


APPROVE = "mutation A($id: ID!) { approveAgreement(id: $id) { status approvedBy } }"


async def test_two_racing_approvals_both_count_or_one_is_told_conflict(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    """Four eyes with two approvals required: never a lost approval."""
    approvers = [Actor(f"approver-{i}", Role.APPROVER) for i in (1, 2)]
    repository = AgreementRepository(graph)
    for _ in range(8):
        agreement_id = await world.agreement_in(graph, "retail", AgreementStatus.PENDING_APPROVAL)

        async def approve(actor: Actor, agreement_id: str = agreement_id) -> Any:
            return await schema.execute(
                APPROVE,
                variable_values={"id": agreement_id},
                context_value=Context.create(graph, actor, ApiSettings(), 2),
            )

        results = await asyncio.gather(*(approve(a) for a in approvers))

        succeeded = {a.user for a, r in zip(approvers, results, strict=True) if not r.errors}
        for result in results:
            if result.errors:
                assert [e.extensions["code"] for e in result.errors] == ["CONFLICT"]
        stored = await repository.get(agreement_id)
        assert set(stored.approvals) == succeeded
        expected = (
            AgreementStatus.ACTIVE if len(succeeded) == 2 else AgreementStatus.PENDING_APPROVAL
        )
        assert stored.status is expected
