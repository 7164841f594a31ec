"""Review cycles and renewals through the API, on the real embedded graph: a version's
`reviewCycle` is written with it and kept by a revision that leaves it out;
`nextReviewAt` is the start plus whole cycles, only while in force; `upcomingRenewals`
lists what expires or is due for review, soonest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.reviews import add_months
from hub.domain.workflow import Actor
from hub.graph.client import Graph
from hub.graph.ids import from_iso
from hub.graph.repositories import AgreementRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

FIELDS = "id version status effectiveFrom effectiveTo reviewCycle nextReviewAt"
CREATE = "mutation C($input: AgreementInput!) { createAgreement(input: $input) {" + FIELDS + "} }"
REVISE = (
    "mutation R($id: ID!, $input: AgreementRevisionInput!) {"
    ' reviseAgreement(id: $id, input: $input, reason: "review") {' + FIELDS + "} }"
)
NODE = "query N($id: ID!) { node(id: $id) { ... on Agreement {" + FIELDS + "} } }"
RENEWALS = (
    "query U($days: Int!) { upcomingRenewals(days: $days) { agreement { id name } due reason } }"
)


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [e.extensions or {"message": e.message} for e in result.errors or []]


async def ok(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> dict[str, Any]:
    data, errors = await ask(schema, graph, actor, query, **variables)
    assert errors == []
    assert data is not None
    return data


def sla(ids: dict[str, str], name: str, **terms: Any) -> dict[str, Any]:
    return {
        "kind": "SLA",
        "name": name,
        "covers": [ids["web"]],
        "customerId": ids["cust-1"],
        "objectives": [
            {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
        ],
        **terms,
    }


async def approved(graph: Graph, agreement_id: str) -> None:
    repository = AgreementRepository(graph)
    await repository.submit(agreement_id, EDITOR)
    await repository.approve(agreement_id, APPROVER)


async def test_the_review_cycle_is_a_term_of_a_version(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    made = await ok(
        schema, graph, EDITOR, CREATE, input=sla(ids, "Reviewed", reviewCycle="MONTHLY")
    )
    draft = made["createAgreement"]
    assert (draft["reviewCycle"], draft["nextReviewAt"]) == ("MONTHLY", None)  # not in force

    await approved(graph, draft["id"])
    read = (await ok(schema, graph, EDITOR, NODE, id=draft["id"]))["node"]
    start = from_iso(read["effectiveFrom"])
    assert start is not None
    assert read["status"] == "ACTIVE"
    assert from_iso(read["nextReviewAt"]) == add_months(start, 1)

    # Left out, the cycle is the previous version's; given, it replaces it.
    kept = await ok(schema, graph, EDITOR, REVISE, id=draft["id"], input={"name": "Reviewed 2"})
    assert kept["reviseAgreement"]["reviewCycle"] == "MONTHLY"
    assert kept["reviseAgreement"]["nextReviewAt"] is None  # a draft
    second = kept["reviseAgreement"]["id"]
    await approved(graph, second)
    read = (await ok(schema, graph, EDITOR, NODE, id=second))["node"]
    start = from_iso(read["effectiveFrom"])
    assert start is not None
    assert from_iso(read["nextReviewAt"]) == add_months(start, 1)
    assert (await ok(schema, graph, EDITOR, NODE, id=draft["id"]))["node"]["nextReviewAt"] is None
    changed = await ok(schema, graph, EDITOR, REVISE, id=second, input={"reviewCycle": "ANNUAL"})
    assert changed["reviseAgreement"]["reviewCycle"] == "ANNUAL"

    plain = await ok(schema, graph, EDITOR, CREATE, input=sla(ids, "Unreviewed"))
    await approved(graph, plain["createAgreement"]["id"])
    read = (await ok(schema, graph, EDITOR, NODE, id=plain["createAgreement"]["id"]))["node"]
    assert (read["reviewCycle"], read["nextReviewAt"]) == (None, None)


async def test_upcoming_renewals_soonest_first(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    now = datetime.now(UTC)
    soon = (now + timedelta(days=10)).isoformat()
    later = (now + timedelta(days=400)).isoformat()
    made: dict[str, str] = {}
    for name, terms in (
        ("Expiring", {"effectiveTo": soon}),
        ("Monthly", {"reviewCycle": "MONTHLY"}),
        ("Annual", {"reviewCycle": "ANNUAL", "effectiveTo": later}),
        ("Open-ended", {}),
    ):
        data = await ok(schema, graph, EDITOR, CREATE, input=sla(ids, name, **terms))
        made[name] = data["createAgreement"]["id"]
        await approved(graph, made[name])
    draft = await ok(schema, graph, EDITOR, CREATE, input=sla(ids, "Draft", effectiveTo=soon))
    made["Draft"] = draft["createAgreement"]["id"]

    async def renewals(days: int) -> list[tuple[str, str]]:
        data = await ok(schema, graph, EDITOR, RENEWALS, days=days)
        return [
            (r["agreement"]["name"], r["reason"])
            for r in data["upcomingRenewals"]
            if r["agreement"]["id"] in made.values()
        ]

    assert await renewals(60) == [("Expiring", "expires"), ("Monthly", "review")]
    assert await renewals(20) == [("Expiring", "expires")]
    assert await renewals(3660) == [
        ("Expiring", "expires"),
        ("Monthly", "review"),
        ("Annual", "review"),
    ]
    data = await ok(schema, graph, EDITOR, RENEWALS, days=20)
    (expiring,) = [r for r in data["upcomingRenewals"] if r["agreement"]["id"] == made["Expiring"]]
    assert from_iso(expiring["due"]) == from_iso(soon)


@pytest.mark.parametrize("days", [0, -5, 3661])
async def test_days_are_bounded(schema: strawberry.Schema, graph: Graph, days: int) -> None:
    data, errors = await ask(schema, graph, EDITOR, RENEWALS, days=days)
    assert data is None
    assert [e["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_a_template_gives_its_review_cycle_unless_the_input_does(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    query = (
        "mutation T($input: AgreementInput!) { createAgreementFromTemplate("
        'template: "tier-1-web-service", input: $input) { reviewCycle } }'
    )
    taken = await ok(schema, graph, EDITOR, query, input=sla(ids, "From template"))
    assert taken["createAgreementFromTemplate"]["reviewCycle"] == "QUARTERLY"
    given = await ok(
        schema, graph, EDITOR, query, input=sla(ids, "Own cycle", reviewCycle="MONTHLY")
    )
    assert given["createAgreementFromTemplate"]["reviewCycle"] == "MONTHLY"
