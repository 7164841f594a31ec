"""Credits through the API, in process on the real embedded graph: the hand-computed
credit and indemnity of a breach that a UC's breach caused, the workflow's roles
(approver, editor, the SLA's customer), what customers see, the new terms
(`creditPolicy.currency`, `indemnityPercent`), and batching.

Hand computation: the SLA `Shop` (target 99.5 %, 10 % below 99.5 %) measured 99.0 %
in January; its monthly fee is 12000.00 EUR, so its credit is 10 % x 12000.00 =
1200.00 EUR. The UC `Hosting` underpinning it (an INDEMNIFICATION clause, 50 %)
missed its own 99 % in January (90 %): it carries 50 % x 1200.00 = 600.00 EUR,
charged to its vendor.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from slo_support import bound, objective_spec, objectives_of, store, utc
from support import APPROVER, EDITOR, VIEWER, GraphBuilder, listening, load

import hub.schema as hub_schema
from hub.domain.models import AgreementKind, CreditPolicySpec, CreditTierSpec
from hub.domain.terms import ClauseSpec
from hub.domain.workflow import Actor, Role
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.schema.context import Context, Info
from hub.schema.errors import ErrorPolicy, HubSchema
from hub.schema.remediation.credits import (
    Credit,
    CreditMutations,
    CreditQueries,
    Indemnity,
    violation_credit,
    violation_indemnities,
)
from hub.settings import ApiSettings

FEB = utc(2026, 2, 1)
ANN = Actor("ann", Role.APPROVER)
POLICY = CreditPolicySpec(
    tiers=(CreditTierSpec(below_percent=99.5, credit_percent=10),),
    monthly_fee=Decimal("12000.00"),
    currency="EUR",
)


@strawberry.type
class _Periods:
    """How the lead's Violation.credit / Violation.indemnities call this module."""

    @strawberry.field
    async def period_credit(self, info: Info, key: str) -> Credit | None:
        return await violation_credit(info, key)

    @strawberry.field
    async def period_indemnities(self, info: Info, key: str) -> list[Indemnity]:
        return await violation_indemnities(info, key)


def _schema() -> strawberry.Schema:
    """The served schema with the credit fields (mixed in here until the lead has)."""
    served = hub_schema.build_schema()
    queries: tuple[type, ...] = (hub_schema.Query, _Periods)
    mutations: tuple[type, ...] = (hub_schema.Mutation,)
    if CreditQueries not in hub_schema.Query.__mro__:
        queries += (CreditQueries,)
    if CreditMutations not in hub_schema.Mutation.__mro__:
        mutations += (CreditMutations,)
    query = strawberry.type(type("Query", queries, {}))
    mutation = strawberry.type(type("Mutation", mutations, {}))
    return HubSchema(
        query=query,
        mutation=mutation,
        types=[
            hub_schema.Service,
            hub_schema.ConfigurationItem,
            hub_schema.Team,
            hub_schema.Vendor,
            hub_schema.Customer,
            hub_schema.ServiceLevelAgreement,
            hub_schema.OperationalLevelAgreement,
            hub_schema.UnderpinningContract,
            hub_schema.Violation,
            hub_schema.AuditRecord,
        ],
        extensions=[ErrorPolicy],
        config=served.config,
    )


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return _schema()


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query, variable_values=variables, context_value=Context.create(graph, actor, ApiSettings())
    )
    codes = [str((e.extensions or {}).get("code", e.message)) for e in result.errors or []]
    return result.data, codes


async def ok(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> dict[str, Any]:
    data, codes = await ask(schema, graph, actor, query, **variables)
    assert codes == []
    assert data is not None
    return data


@dataclass
class World:
    sla: str
    uc: str
    key: str
    vendor: str
    customer: Actor
    stranger: Actor


async def breached(graph: Graph, builder: GraphBuilder) -> World:
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [objective_spec(target=99.5, name="avail")],
        credit_policy=POLICY,
    )
    uc = await author(
        AgreementKind.UC,
        "Hosting",
        ["db"],
        [objective_spec(name="hosting")],
        underpins=[sla],
        indemnity_percent=50.0,
        clauses=(ClauseSpec(kind="INDEMNIFICATION", text="The vendor carries half."),),
    )
    (objective,) = await objectives_of(graph, sla)
    (uc_objective,) = await objectives_of(graph, uc)
    await store(graph, objective.id, utc(2026, 1, 10), [9900], [10_000])
    await store(graph, uc_objective.id, utc(2026, 1, 10), [9000], [10_000])
    service = ServiceLevels(graph, bound(objective.id, uc_objective.id, assess_days=31))
    await service.assess(FEB, [sla, uc])
    return World(
        sla=sla,
        uc=uc,
        key=f"{sla}|{objective.id}|2026-01-01T00:00:00.000000Z",
        vendor=ids["vendor"],
        customer=Actor("shop-buyer", Role.CUSTOMER, customer_id=ids["cust-1"]),
        stranger=Actor("other-buyer", Role.CUSTOMER, customer_id=ids["cust-2"]),
    )


PERIOD = """
query P($key: String!) {
  periodCredit(key: $key) {
    id status percent amount currency calculation disputeReason resolution
    violation { id measured target creditPercent }
  }
  periodIndemnities(key: $key) {
    percent amount currency
    credit { id }
    agreement { id kind ... on UnderpinningContract { indemnityPercent } }
    party { id ... on Vendor { name } }
  }
}
"""
CREDITS = """
query C($status: [CreditStatus!], $from: DateTime, $to: DateTime) {
  credits(status: $status, from: $from, to: $to) { id status amount }
}
"""
APPROVE = 'mutation A($id: ID!) { approveCredit(id: $id, note: "ok") { id status } }'
ISSUE = "mutation I($id: ID!) { issueCredit(id: $id) { id status } }"
DISPUTE = (
    "mutation D($id: ID!, $reason: String!) { disputeCredit(id: $id, reason: $reason) {"
    " id status amount disputeReason } }"
)
RESOLVE = (
    "mutation R($id: ID!, $amount: Float!) {"
    ' resolveCredit(id: $id, amount: $amount, reason: "half") { id status amount resolution } }'
)
WAIVE = 'mutation W($id: ID!) { waiveCredit(id: $id, reason: "goodwill") { id status } }'


async def test_a_uc_breach_makes_an_sla_credit_and_the_vendors_indemnity(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    world = await breached(graph, builder)
    data = await ok(schema, graph, VIEWER, PERIOD, key=world.key)
    credit = data["periodCredit"]
    assert {k: v for k, v in credit.items() if k not in ("id", "violation")} == {
        "status": "PROPOSED",
        "percent": 10.0,
        "amount": 1200.0,
        "currency": "EUR",
        "calculation": "99% < 99.5%: tier 10% x fee 12000.00 EUR = 1200.00 EUR",
        "disputeReason": None,
        "resolution": None,
    }
    assert credit["violation"]["measured"] == pytest.approx(99.0)
    assert credit["violation"]["creditPercent"] == 10.0
    assert data["periodIndemnities"] == [
        {
            "percent": 50.0,
            "amount": 600.0,
            "currency": "EUR",
            "credit": {"id": credit["id"]},
            "agreement": {"id": world.uc, "kind": "UC", "indemnityPercent": 50.0},
            "party": {"id": world.vendor, "name": "Example Cloud Inc."},
        }
    ]
    listed = await ok(
        schema, graph, VIEWER, CREDITS, status=["PROPOSED"], **{"from": "2026-01-01T00:00:00Z"}
    )
    assert {"id": credit["id"], "status": "PROPOSED", "amount": 1200.0} in listed["credits"]


async def test_customers_read_their_own_credits_and_no_indemnities(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    world = await breached(graph, builder)
    data = await ok(schema, graph, world.customer, PERIOD, key=world.key)
    assert data["periodCredit"]["amount"] == 1200.0
    assert data["periodIndemnities"] == []
    mine = await ok(schema, graph, world.customer, CREDITS)
    assert [c["id"] for c in mine["credits"]] == [data["periodCredit"]["id"]]
    theirs = await ok(schema, graph, world.stranger, PERIOD, key=world.key)
    assert theirs == {"periodCredit": None, "periodIndemnities": []}
    assert await ok(schema, graph, world.stranger, CREDITS) == {"credits": []}
    # A stranger's dispute looks exactly like one of an unknown credit.
    credit_id = data["periodCredit"]["id"]
    assert (await ask(schema, graph, world.stranger, DISPUTE, id=credit_id, reason="x"))[1] == [
        "NOT_FOUND"
    ]
    assert (await ask(schema, graph, world.stranger, DISPUTE, id="crd_none", reason="x"))[1] == [
        "NOT_FOUND"
    ]


async def test_the_workflow_by_role(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    world = await breached(graph, builder)
    credit_id = (await ok(schema, graph, VIEWER, PERIOD, key=world.key))["periodCredit"]["id"]
    for actor in (VIEWER, EDITOR, world.customer):
        for document in (APPROVE, ISSUE, WAIVE):
            assert (await ask(schema, graph, actor, document, id=credit_id))[1] == ["FORBIDDEN"]
    assert (await ask(schema, graph, VIEWER, DISPUTE, id=credit_id, reason="x"))[1] == ["FORBIDDEN"]
    # Issued only once approved.
    assert (await ask(schema, graph, APPROVER, ISSUE, id=credit_id))[1] == ["FORBIDDEN_TRANSITION"]
    # The customer disputes its own credit; its disputer may not resolve it, another may.
    disputed = await ok(schema, graph, world.customer, DISPUTE, id=credit_id, reason="planned")
    assert disputed["disputeCredit"] == {
        "id": credit_id,
        "status": "DISPUTED",
        "amount": 1200.0,
        "disputeReason": "planned",
    }
    resolved = await ok(schema, graph, APPROVER, RESOLVE, id=credit_id, amount=600.0)
    assert resolved["resolveCredit"] == {
        "id": credit_id,
        "status": "RESOLVED",
        "amount": 600.0,
        "resolution": "half",
    }
    assert (await ask(schema, graph, APPROVER, ISSUE, id=credit_id))[1] == ["FORBIDDEN_TRANSITION"]
    issued = await ok(schema, graph, ANN, ISSUE, id=credit_id)
    assert issued["issueCredit"]["status"] == "ISSUED"
    # The indemnity follows the resolved amount: 50 % of 600.00.
    data = await ok(schema, graph, VIEWER, PERIOD, key=world.key)
    assert [i["amount"] for i in data["periodIndemnities"]] == [300.0]
    # An issued credit never changes: its dispute is a correction.
    correction = await ok(schema, graph, EDITOR, DISPUTE, id=credit_id, reason="more")
    assert correction["disputeCredit"]["id"] != credit_id
    assert correction["disputeCredit"]["amount"] == 0.0
    data = await ok(schema, graph, VIEWER, PERIOD, key=world.key)
    assert data["periodCredit"]["id"] == correction["disputeCredit"]["id"]


async def test_credit_terms_through_the_api(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    create = (
        "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id"
        " ... on ServiceLevelAgreement { creditPolicy { monthlyFee currency } }"
        " ... on UnderpinningContract { indemnityPercent } } }"
    )
    objective = {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
    sla = {
        "kind": "SLA",
        "name": "Web",
        "covers": [ids["web"]],
        "objectives": [objective],
        "customerId": ids["cust-1"],
        "creditPolicy": {
            "tiers": [{"belowPercent": 99.5, "creditPercent": 10}],
            "monthlyFee": 12000.1,
            "currency": "EUR",
        },
    }
    data = await ok(schema, graph, EDITOR, create, input=sla)
    assert data["createAgreement"]["creditPolicy"] == {"monthlyFee": 12000.1, "currency": "EUR"}
    bad_currency = {**sla, "creditPolicy": {**sla["creditPolicy"], "currency": "eur"}}
    assert (await ask(schema, graph, EDITOR, create, input=bad_currency))[1] == ["BAD_USER_INPUT"]
    assert (await ask(schema, graph, EDITOR, create, input={**sla, "indemnityPercent": 5}))[1] == [
        "BAD_USER_INPUT"
    ]
    uc = {
        "kind": "UC",
        "name": "Hosting",
        "covers": [ids["db"]],
        "objectives": [objective],
        "vendorId": ids["vendor"],
        "indemnityPercent": 50,
        "clauses": [{"kind": "INDEMNIFICATION", "text": "Half."}],
    }
    data = await ok(schema, graph, EDITOR, create, input=uc)
    assert data["createAgreement"]["indemnityPercent"] == 50.0
    too_much = {**uc, "indemnityPercent": 101}
    assert (await ask(schema, graph, EDITOR, create, input=too_much))[1] == ["BAD_USER_INPUT"]


async def test_periods_load_their_credits_in_one_round_trip(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    first = await breached(graph, builder)
    second = await breached(graph, GraphBuilder(graph, builder.source + "b"))
    query = (
        "query Q($a: String!, $b: String!) {"
        " a: periodCredit(key: $a) { id amount } b: periodCredit(key: $b) { id amount }"
        " x: periodIndemnities(key: $a) { amount } y: periodIndemnities(key: $b) { amount } }"
    )
    with listening(graph) as log:
        data = await ok(schema, graph, VIEWER, query, a=first.key, b=second.key)
    assert data["a"]["amount"] == data["b"]["amount"] == 1200.0
    assert data["x"] == data["y"] == [{"amount": 600.0}]
    assert log.names.count("credits.CREDITS_BY_REMEDIATION_KEYS") == 1
    assert log.names.count("credits.INDEMNITIES") == 1
