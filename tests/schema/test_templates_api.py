"""Agreement templates through GraphQL: listed, and a DRAFT made from one."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from support import EDITOR, VIEWER, GraphBuilder, load

from hub.domain.workflow import Actor
from hub.graph.client import Graph
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

FROM_TEMPLATE = """
mutation FromTemplate($template: String!, $input: AgreementInput!) {
  createAgreementFromTemplate(template: $template, input: $input) {
    name status
    objectives { indicator target threshold priority name }
    clauses { kind }
    supportHours { timeZone }
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def run(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> Any:
    return await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )


async def test_the_templates_are_listed_with_their_terms(
    schema: strawberry.Schema, graph: Graph
) -> None:
    result = await run(
        schema,
        graph,
        VIEWER,
        "{ agreementTemplates { name kind serviceTier reviewCycle objectives { name } } }",
    )

    assert result.errors is None
    listed = {t["name"]: t for t in result.data["agreementTemplates"]}
    assert sorted(listed) == [
        "internal-platform-service",
        "network-ola",
        "tier-1-web-service",
        "vendor-cloud-iaas",
    ]
    assert listed["tier-1-web-service"]["serviceTier"] == "TIER_1"
    assert listed["tier-1-web-service"]["reviewCycle"] == "QUARTERLY"
    assert [o["name"] for o in listed["tier-1-web-service"]["objectives"]] == [
        "availability",
        "latency-p99",
        "p1-response",
        "p1-resolution",
    ]


async def test_an_ola_from_a_template_takes_its_terms_where_the_input_gives_none(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("shop", "db")], services=["shop"])
    given = {
        "kind": "OLA",
        "name": "Database platform",
        "covers": [ids["db"]],
        "providerTeamId": ids["team"],
        "objectives": [],
    }

    result = await run(
        schema, graph, EDITOR, FROM_TEMPLATE, template="internal-platform-service", input=given
    )

    assert result.errors is None
    made = result.data["createAgreementFromTemplate"]
    assert made["status"] == "DRAFT"
    assert [(o["indicator"], o["target"], o["name"]) for o in made["objectives"]] == [
        ("AVAILABILITY", 99.9, "availability"),
        ("RESPONSE_TIME", 90.0, "p2-response"),
        ("HANDOFF_TIME", 95.0, "handoff"),
    ]
    assert [c["kind"] for c in made["clauses"]] == ["INCLUSION", "CUSTOMER_RESPONSIBILITY"]
    assert made["supportHours"] == {"timeZone": "Europe/Berlin"}

    own = [{"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}]
    overridden = await run(
        schema,
        graph,
        EDITOR,
        FROM_TEMPLATE,
        template="internal-platform-service",
        input={**given, "objectives": own, "clauses": []},
    )
    assert overridden.errors is None
    made = overridden.data["createAgreementFromTemplate"]
    assert [o["target"] for o in made["objectives"]] == [99.5]
    assert made["clauses"] == []


async def test_an_unknown_template_or_another_kind_is_bad_input(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [], services=["shop"])
    given = {
        "kind": "SLA",
        "name": "Shop SLA",
        "covers": [ids["shop"]],
        "customerId": ids["cust-1"],
        "objectives": [],
    }

    unknown = await run(schema, graph, EDITOR, FROM_TEMPLATE, template="nope", input=given)
    wrong_kind = await run(
        schema, graph, EDITOR, FROM_TEMPLATE, template="network-ola", input=given
    )

    (error,) = unknown.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert error.extensions["problems"][0]["field"] == "template"
    assert "tier-1-web-service" in error.extensions["problems"][0]["message"]
    (error,) = wrong_kind.errors
    assert error.extensions["problems"][0]["field"] == "input.kind"
