"""An agreement's regulatory terms through the API, in process on the real embedded
graph: clauses, supported hours, regulations, jurisdiction and data residency are
written with a version, validated field by field, copied or replaced by a revision and
read back; `businessUnit` and `region` are derived when read; lists filter by
regulation and by the derived unit and region.

Customers (tests/support.py): cust-1 is in unit `retail`, cust-2 in `wholesale`,
cust-3 in none; none has a region.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from slo_support import objective_spec
from support import EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind
from hub.domain.terms import ClauseKind, ClauseSpec, SupportHoursSpec
from hub.domain.workflow import Actor
from hub.graph.client import Graph
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

TERMS = """
  id version regulations jurisdiction dataResidency businessUnit region
  clauses { kind text }
  supportHours { timeZone days start end }
"""
CREATE = "mutation C($input: AgreementInput!) { createAgreement(input: $input) {" + TERMS + "} }"
REVISE = (
    "mutation R($id: ID!, $input: AgreementRevisionInput!) {"
    ' reviseAgreement(id: $id, input: $input, reason: "terms") {' + TERMS + "} }"
)
NODE = "query N($id: ID!) { node(id: $id) { ... on Agreement {" + TERMS + "} } }"
LIST = """
query L($regulation: String, $unit: String, $region: String, $asOf: DateTime, $after: String) {
  agreements(regulation: $regulation, businessUnit: $unit, region: $region, asOf: $asOf,
             first: 500, after: $after) {
    edges { node { id businessUnit region regulations } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
BERLIN = {"timeZone": "Europe/Berlin", "days": [5, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}


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


async def test_terms_are_written_with_a_version_and_read_back(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    data = await ok(
        schema,
        graph,
        EDITOR,
        CREATE,
        input={
            "kind": "SLA",
            "name": "Web SLA",
            "covers": [ids["web"]],
            "customerId": ids["cust-1"],
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
            ],
            "supportHours": BERLIN,
            "clauses": [
                {"kind": "EXCLUSION", "text": "  Outages of third-party payment providers. "},
                {"kind": "JURISDICTION", "text": "German law applies."},
            ],
            "regulations": ["gdpr", "SOX"],
            "jurisdiction": "de",
            "dataResidency": ["EU", "eu-central-1"],
        },
    )
    created = data["createAgreement"]
    expected = {
        "version": 1,
        "regulations": ["GDPR", "SOX"],
        "jurisdiction": "DE",
        "dataResidency": ["EU", "eu-central-1"],
        "businessUnit": "retail",
        "region": None,
        "clauses": [
            {"kind": "EXCLUSION", "text": "Outages of third-party payment providers."},
            {"kind": "JURISDICTION", "text": "German law applies."},
        ],
        "supportHours": {**BERLIN, "days": [1, 2, 3, 4, 5]},
    }
    assert {k: v for k, v in created.items() if k != "id"} == expected
    read = (await ok(schema, graph, EDITOR, NODE, id=created["id"]))["node"]
    assert read == created


async def test_bad_terms_are_named_field_by_field(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    data, errors = await ask(
        schema,
        graph,
        EDITOR,
        CREATE,
        input={
            "kind": "SLA",
            "name": "Web SLA",
            "covers": [ids["web"]],
            "customerId": ids["cust-1"],
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
            ],
            "supportHours": {
                "timeZone": "Europe/Springfield",
                "days": [0, 1],
                "start": "8:00",
                "end": "18:00",
            },
            "clauses": [{"kind": "OTHER", "text": "   "}],
            "regulations": ["GDPR", "gdpr"],
            "jurisdiction": "XX",
            "dataResidency": [""],
        },
    )
    assert data is None
    assert [e["code"] for e in errors] == ["BAD_USER_INPUT"]
    problems = {p["field"]: p["message"] for p in errors[0]["problems"]}
    assert set(problems) == {
        "input.supportHours.timeZone",
        "input.supportHours.days",
        "input.supportHours.start",
        "input.clauses.0.text",
        "input.regulations",
        "input.jurisdiction",
        "input.dataResidency",
    }
    assert "IANA" in problems["input.supportHours.timeZone"]
    assert "1 (Monday) to 7 (Sunday)" in problems["input.supportHours.days"]
    assert '"HH:MM"' in problems["input.supportHours.start"]
    assert "ISO 3166" in problems["input.jurisdiction"]
    # The end before the start is named on the end.
    data, errors = await ask(
        schema,
        graph,
        EDITOR,
        CREATE,
        input={
            "kind": "SLA",
            "name": "Web SLA",
            "covers": [ids["web"]],
            "customerId": ids["cust-1"],
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
            ],
            "supportHours": {**BERLIN, "start": "18:00", "end": "08:00"},
        },
    )
    assert [p["field"] for p in errors[0]["problems"]] == ["input.supportHours.end"]


async def test_a_revision_keeps_what_it_leaves_out_and_replaces_the_lists_it_gives(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [("web", "db")], services=["web"])
    v1 = await author(
        AgreementKind.SLA,
        "Web SLA",
        ["web"],
        [objective_spec()],
        support_hours=SupportHoursSpec(time_zone="UTC", days=(1, 2), start="09:00", end="17:00"),
        clauses=(ClauseSpec(kind=ClauseKind.PENALTY, text="Credits per the policy."),),
        regulations=("GDPR",),
        jurisdiction="DE",
        data_residency=("EU",),
    )

    v2 = (
        await ok(
            schema, graph, EDITOR, REVISE, id=v1, input={"regulations": ["hipaa"], "clauses": []}
        )
    )["reviseAgreement"]
    assert {k: v for k, v in v2.items() if k != "id"} == {
        "version": 2,
        "regulations": ["HIPAA"],
        "clauses": [],
        "jurisdiction": "DE",
        "dataResidency": ["EU"],
        "supportHours": {"timeZone": "UTC", "days": [1, 2], "start": "09:00", "end": "17:00"},
        "businessUnit": "retail",
        "region": None,
    }
    # Version 1 keeps its terms.
    first = (await ok(schema, graph, EDITOR, NODE, id=v1))["node"]
    assert (first["regulations"], first["clauses"]) == (
        ["GDPR"],
        [{"kind": "PENALTY", "text": "Credits per the policy."}],
    )


async def test_lists_filter_by_regulation_and_by_the_derived_unit(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """An OLA's unit is its SLAs' when they agree; null when they differ, and for a UC
    that underpins nothing."""
    _, author = await load(builder, [("web", "db"), ("api", "db")], services=["web", "api"])
    retail = await author(
        AgreementKind.SLA, "Retail", ["web"], [objective_spec()], regulations=("GDPR",)
    )
    wholesale = await author(
        AgreementKind.SLA,
        "Wholesale",
        ["api"],
        [objective_spec()],
        customer="cust-2",
        regulations=("SOX",),
    )
    retail_2 = await author(
        AgreementKind.SLA, "Retail too", ["api"], [objective_spec()], regulations=("HIPAA", "GDPR")
    )
    nowhere = await author(
        AgreementKind.SLA, "No unit", ["api"], [objective_spec()], customer="cust-3"
    )
    ola_retail = await author(
        AgreementKind.OLA, "Hosting", ["db"], [objective_spec()], underpins=[retail, retail_2]
    )
    ola_mixed = await author(
        AgreementKind.OLA, "Shared", ["db"], [objective_spec()], underpins=[retail, wholesale]
    )
    ola_partly = await author(
        AgreementKind.OLA, "Partly", ["db"], [objective_spec()], underpins=[retail, nowhere]
    )
    uc = await author(AgreementKind.UC, "Cloud", ["db"], [objective_spec()])

    mine = {retail, wholesale, retail_2, nowhere, ola_retail, ola_mixed, ola_partly, uc}

    async def listed(**variables: Any) -> dict[str, tuple[str | None, str | None]]:
        """This test's agreements in the list, every page of it (the graph holds the
        other tests' agreements too)."""
        found: dict[str, tuple[str | None, str | None]] = {}
        after = None
        while True:
            page = (await ok(schema, graph, EDITOR, LIST, after=after, **variables))["agreements"]
            found |= {
                e["node"]["id"]: (e["node"]["businessUnit"], e["node"]["region"])
                for e in page["edges"]
                if e["node"]["id"] in mine
            }
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    everything = await listed()
    assert everything == {
        retail: ("retail", None),
        wholesale: ("wholesale", None),
        retail_2: ("retail", None),
        nowhere: (None, None),
        ola_retail: ("retail", None),
        ola_mixed: (None, None),
        ola_partly: (None, None),
        uc: (None, None),
    }
    assert set(await listed(regulation="gdpr")) == {retail, retail_2}
    assert set(await listed(regulation="SOX")) == {wholesale}
    assert set(await listed(regulation="PCI DSS")) == set()
    assert set(await listed(unit="retail")) == {retail, retail_2, ola_retail}
    assert set(await listed(unit="wholesale")) == {wholesale}
    assert set(await listed(region="EU")) == set()
    # The versions in force now, through the other list statement.
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    assert set(await listed(regulation="GDPR", unit="retail", asOf=now)) == {retail, retail_2}
    assert set(await listed(unit="retail", asOf=now)) == {retail, retail_2, ola_retail}
