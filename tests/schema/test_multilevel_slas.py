"""Multi-level SLAs (docs/governance.md, "Multi-level SLAs") on the real embedded graph:
which parents an SLA may name, the effective terms a service SLA inherits from a
corporate one, violations and coverage gaps judged by them, and a corporate revision
that changes them from its start on, never before.

The family: `Corporate` (CORPORATE; availability 99.5 %, latency 99.9 % under 0.5 s;
clauses: a penalty and two exclusions) and `Shop` (SERVICE, under `Corporate`; its own
latency 99.0 % under 0.3 s and its own penalty clause), both approved at
`support.AUTHORED_AT` (December 2025) and in force since. Shop inherits the corporate
availability floor and overrides the latency objective; its inherited availability is
its own derived objective, measured by its own series (a binding naming its id).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import strawberry
from slo_support import CREDIT_POLICY, bound, objective_spec, objectives_of, store, utc
from support import APPROVER, EDITOR, Author, GraphBuilder, load

from hub.domain.gaps import GapKind
from hub.domain.levels import SlaLevel
from hub.domain.models import AgreementKind, AgreementRevisionSpec, Indicator
from hub.domain.terms import ClauseKind, ClauseSpec
from hub.domain.workflow import Actor, Role
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, CoverageGapRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.levels import inherited_objective_id
from hub.graph.repositories.violations import Violation
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

APR, MAY = utc(2026, 4, 1), utc(2026, 5, 1)
MAR = utc(2026, 3, 1)
TAKEOVER = utc(2026, 4, 11)  # the corporate revision is in force from here
CREATE = (
    "mutation C($input: AgreementInput!) { createAgreement(input: $input)"
    " { id ... on ServiceLevelAgreement { level } } }"
)
FAMILY = """
query N($id: ID!) {
  node(id: $id) {
    ... on ServiceLevelAgreement {
      id level
      parent { id level }
      children { id }
      objectives { id }
      effectiveObjectives { id indicator target threshold name }
      effectiveClauses { kind text }
    }
  }
}
"""
REVISE = (
    'mutation R($id: ID!) { reviseAgreement(id: $id, input: {name: "Shop 2"},'
    ' reason: "rename") { id ... on ServiceLevelAgreement { level parent { id } } } }'
)
RETAIL_EDITOR = Actor("rita", Role.EDITOR, domains=frozenset({"retail"}))


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


def latency(target: float, threshold: float, name: str) -> Any:
    return objective_spec(Indicator.LATENCY, target, threshold=threshold, name=name)


async def family(builder: GraphBuilder) -> tuple[dict[str, str], Author, str, str]:
    """The corporate and the service SLA's ids (version 1 of each)."""
    ids, author = await load(builder, [], services=["shop"])
    corporate = await author(
        AgreementKind.SLA,
        "Corporate",
        ["shop"],
        [objective_spec(target=99.5, name="floor"), latency(99.9, 0.5, "corp-latency")],
        level=SlaLevel.CORPORATE,
        clauses=(
            ClauseSpec(kind=ClauseKind.PENALTY, text="corporate penalty"),
            ClauseSpec(kind=ClauseKind.EXCLUSION, text="force majeure"),
            ClauseSpec(kind=ClauseKind.EXCLUSION, text="customer changes"),
        ),
    )
    service = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [latency(99.0, 0.3, "latency")],
        parent_id=corporate,
        credit_policy=CREDIT_POLICY,
        clauses=(ClauseSpec(kind=ClauseKind.PENALTY, text="service penalty"),),
    )
    return ids, author, corporate, service


async def own_ids(graph: Graph, agreement_id: str) -> dict[str, str]:
    return {o.name or "": o.id for o in await objectives_of(graph, agreement_id)}


# ---- validation -------------------------------------------------------------------------


def sla_input(ids: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "kind": "SLA",
        "name": "x",
        "covers": [ids["shop"]],
        "customerId": ids["cust-1"],
        "objectives": [
            {"indicator": "AVAILABILITY", "target": 99.0, "windowKind": "CALENDAR_MONTH"}
        ],
        **fields,
    }


async def test_which_parents_an_sla_may_name(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author, corporate, service = await family(builder)
    customer = await author(
        AgreementKind.SLA, "Retail", ["shop"], [objective_spec()], level=SlaLevel.CUSTOMER
    )
    ola = await author(AgreementKind.OLA, "Ops", ["shop"], [objective_spec()])
    hidden = await author(
        AgreementKind.SLA,
        "Wholesale corporate",
        ["shop"],
        [objective_spec()],
        level=SlaLevel.CORPORATE,
        customer="cust-2",
    )
    team = {"kind": "OLA", "customerId": None, "providerTeamId": ids["team"]}
    refused = [
        # (input fields, actor, the field named, words of its message)
        ({**team, "level": "SERVICE"}, EDITOR, "input.level", "only an SLA has a level"),
        ({**team, "parentId": corporate}, EDITOR, "input.parentId", "only an SLA names"),
        ({"level": "CORPORATE", "parentId": corporate}, EDITOR, "input.parentId", "no parent"),
        ({"level": "CUSTOMER", "parentId": customer}, EDITOR, "input.parentId", "CORPORATE"),
        ({"level": "CUSTOMER", "parentId": service}, EDITOR, "input.parentId", "not a SERVICE"),
        ({"parentId": service}, EDITOR, "input.parentId", "not a SERVICE one"),
        ({"parentId": "agr_nope"}, EDITOR, "input.parentId", "no SLA with lineage 'agr_nope'"),
        ({"parentId": ola}, EDITOR, "input.parentId", "no SLA with lineage"),
        # Outside the author's scope (cust-2 is in unit wholesale): as if it did not exist.
        ({"parentId": hidden}, RETAIL_EDITOR, "input.parentId", "no SLA with lineage"),
    ]
    for fields, actor, field, words in refused:
        data, errors = await ask(schema, graph, actor, CREATE, input=sla_input(ids, **fields))
        assert data is None, fields
        assert [e.get("code") for e in errors] == ["BAD_USER_INPUT"], (fields, errors)
        problems = {p["field"]: p["message"] for p in errors[0]["problems"]}
        # (The retail editor may not see the unowned service either: `covers` too.)
        assert field in problems, fields
        assert set(problems) <= {field, "input.covers.0"}, fields
        assert words in problems[field], (fields, problems)

    accepted = [
        ({}, "SERVICE"),
        ({"parentId": customer}, "SERVICE"),
        ({"parentId": corporate}, "SERVICE"),
        ({"level": "CUSTOMER", "parentId": corporate}, "CUSTOMER"),
        ({"level": "CORPORATE"}, "CORPORATE"),
    ]
    for fields, level in accepted:
        data = await ok(schema, graph, EDITOR, CREATE, input=sla_input(ids, **fields))
        assert data["createAgreement"]["level"] == level, fields


async def test_level_and_parent_are_kept_by_a_revision(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, _, corporate, service = await family(builder)

    revised = (await ok(schema, graph, EDITOR, REVISE, id=service))["reviseAgreement"]

    assert revised["level"] == "SERVICE"
    assert revised["parent"] == {"id": corporate}


# ---- effective terms ----------------------------------------------------------------------


async def test_a_service_sla_inherits_the_floor_and_overrides_latency(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, _, corporate, service = await family(builder)
    corporate_own = await own_ids(graph, corporate)
    service_own = await own_ids(graph, service)
    floor = inherited_objective_id(service, corporate_own["floor"])

    shop = (await ok(schema, graph, EDITOR, FAMILY, id=service))["node"]
    top = (await ok(schema, graph, EDITOR, FAMILY, id=corporate))["node"]

    assert (shop["level"], shop["parent"], shop["children"]) == (
        "SERVICE",
        {"id": corporate, "level": "CORPORATE"},
        [],
    )
    assert (top["level"], top["parent"], top["children"]) == ("CORPORATE", None, [{"id": service}])
    # `objectives` are the SLA's own; the effective ones add the inherited floor, a
    # derived objective of Shop's own (its id is what Shop's measurements carry).
    assert shop["objectives"] == [{"id": service_own["latency"]}]
    assert shop["effectiveObjectives"] == [
        {
            "id": service_own["latency"],
            "indicator": "LATENCY",
            "target": 99.0,
            "threshold": 0.3,
            "name": "latency",
        },
        {
            "id": floor,
            "indicator": "AVAILABILITY",
            "target": 99.5,
            "threshold": None,
            "name": "floor",
        },
    ]
    # The corporate SLA has no parent: its effective objectives are its own.
    assert [o["id"] for o in top["effectiveObjectives"]] == [
        corporate_own["floor"],
        corporate_own["corp-latency"],
    ]
    # Shop's penalty replaces the corporate one; the exclusions are inherited.
    assert shop["effectiveClauses"] == [
        {"kind": "PENALTY", "text": "service penalty"},
        {"kind": "EXCLUSION", "text": "force majeure"},
        {"kind": "EXCLUSION", "text": "customer changes"},
    ]


async def test_a_parent_hidden_from_the_reader_is_null_but_its_terms_still_apply(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """Wholesale's corporate SLA (cust-2) is the parent of a retail service SLA: a
    retail reader sees the service SLA, not its parent, and the inherited floor."""
    _, author = await load(builder, [], services=["shop"])
    corporate = await author(
        AgreementKind.SLA,
        "Corporate",
        ["shop"],
        [objective_spec(target=99.5, name="floor")],
        level=SlaLevel.CORPORATE,
        customer="cust-2",
    )
    service = await author(
        AgreementKind.SLA, "Shop", ["shop"], [latency(99.0, 0.3, "latency")], parent_id=corporate
    )
    reader = Actor("rob", Role.VIEWER, domains=frozenset({"retail"}))

    shop = (await ok(schema, graph, reader, FAMILY, id=service))["node"]

    assert shop["parent"] is None
    assert [o["name"] for o in shop["effectiveObjectives"]] == ["latency", "floor"]


# ---- violations, gaps, and a parent's revision ---------------------------------------------


async def listed(service: ServiceLevels, agreement_id: str, start: datetime) -> list[Violation]:
    found = await service.violations(agreement_id=agreement_id)
    return sorted(
        (v for v in found if v.period_start == start), key=lambda v: (v.objective_id, v.part_start)
    )


async def test_violations_judge_the_inherited_floor_and_the_own_latency(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, _, corporate, service = await family(builder)
    floor = inherited_objective_id(service, (await own_ids(graph, corporate))["floor"])
    own_latency = (await own_ids(graph, service))["latency"]
    # March: Shop's availability 99.3 % (below the corporate 99.5), its latency 98.5 %
    # of requests under 0.3 s (below its own 99.0; the corporate 99.9 does not apply).
    await store(graph, floor, utc(2026, 3, 10), [9930], [10_000])
    await store(graph, own_latency, utc(2026, 3, 10), [9850], [10_000])
    levels = ServiceLevels(graph, bound(floor, own_latency, assess_days=32))

    breaches = await levels.assess(utc(2026, 4, 2), [service])

    assert {(b.objective_id, b.period.start) for b in breaches} == {
        (floor, MAR),
        (own_latency, MAR),
    }
    by_objective = {v.objective_id: v for v in await listed(levels, service, MAR)}
    assert set(by_objective) == {floor, own_latency}
    assert (by_objective[floor].measured, by_objective[floor].target) == (
        pytest.approx(99.3),
        99.5,
    )
    assert (by_objective[own_latency].measured, by_objective[own_latency].target) == (
        pytest.approx(98.5),
        99.0,
    )
    # Both are Shop's violations, of the whole of March, under Shop's credit policy:
    # 99.3 and 98.5 are below 99.9 (10 %) and 98.5 also below 99 (25 %).
    assert {v.agreement_id for v in by_objective.values()} == {service}
    assert by_objective[floor].credit_percent == pytest.approx(10.0)
    assert by_objective[own_latency].credit_percent == pytest.approx(25.0)
    # The corporate SLA itself was not assessed.
    assert await levels.violations(agreement_id=corporate) == []


async def test_coverage_gaps_weigh_the_inherited_floor(graph: Graph, builder: GraphBuilder) -> None:
    _, author, _, service = await family(builder)
    # The provider team promises 99.3 % availability: weaker than the inherited floor.
    await author(
        AgreementKind.OLA,
        "Ops",
        ["shop"],
        [objective_spec(target=99.3, name="ops"), latency(99.5, 0.2, "ops-latency")],
    )

    gaps = await CoverageGapRepository(graph).gaps(service)

    found = {(g.kind, g.indicator, g.required, g.provided) for g in gaps}
    assert (GapKind.WEAKER_TARGET, Indicator.AVAILABILITY, 99.5, 99.3) in found
    # Shop's own latency (99.0 under 0.3 s) is covered by 99.5 under 0.2 s.
    assert not any(g.indicator is Indicator.LATENCY for g in gaps)


async def revise_corporate(graph: Graph, corporate: str) -> str:
    """Corporate version 2 (availability 99.9), approved on 10 April, in force from 11."""
    repository = AgreementRepository(graph, clock=lambda: utc(2026, 4, 10, 12))
    revision = AgreementRevisionSpec(
        objectives=(objective_spec(target=99.9, name="floor"), latency(99.9, 0.5, "corp-latency")),
        effective_from=TAKEOVER,
    )
    v2 = await repository.revise(corporate, revision, EDITOR, "a stricter floor")
    await repository.submit(v2, EDITOR, "please review")
    await repository.approve(v2, APPROVER, "board agreed")
    return v2


async def test_a_parent_revision_changes_the_child_from_its_start_never_before(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, _, corporate, service = await family(builder)
    floor_1 = inherited_objective_id(service, (await own_ids(graph, corporate))["floor"])
    corporate_2 = await revise_corporate(graph, corporate)
    floor_2 = inherited_objective_id(service, (await own_ids(graph, corporate_2))["floor"])
    own_latency = (await own_ids(graph, service))["latency"]
    # Each approval that gave Shop a derived objective is audited on Shop's version 1,
    # with the approver and note of that approval.
    inherits = [
        (r.actor, r.reason, json.loads(r.after or "{}"))
        for r in await AuditRepository(graph).for_target(service)
        if r.action == "agreement.inherit"
    ]
    assert inherits == [
        (APPROVER.user, "checked", {"inheritedObjectives": [floor_1]}),
        (APPROVER.user, "board agreed", {"inheritedObjectives": [floor_2]}),
    ]

    # Effective terms before the takeover: the 99.5 floor; from it on, 99.9.
    for moment, expected in ((utc(2026, 4, 5), (floor_1, 99.5)), (TAKEOVER, (floor_2, 99.9))):
        agreements = AgreementRepository(graph, clock=lambda moment=moment: moment)
        shop = await agreements.get(service)
        terms = (await agreements.levels().effective_terms([shop]))[service]
        assert [(o.id, o.target) for o in terms.objectives] == [(own_latency, 99.0), expected]
    # Now (after April), over GraphQL: the 99.9 floor.
    shop_now = (await ok(schema, graph, EDITOR, FAMILY, id=service))["node"]
    assert [(o["id"], o["target"]) for o in shop_now["effectiveObjectives"]] == [
        (own_latency, 99.0),
        (floor_2, 99.9),
    ]

    # April is split at the takeover. The first floor's part (1-11 April) is at
    # 99.8 % (meets 99.5); its bad bucket of 20 April is the second floor's part.
    # The second floor's part (11 April - 1 May) is at 99.8 % (below 99.9); the outage
    # of 5 April is the first floor's part.
    early, late = utc(2026, 4, 5, 12), utc(2026, 4, 20, 12)
    await store(graph, floor_1, early, [9980], [10_000])
    await store(graph, floor_1, late, [0], [10_000])
    await store(graph, floor_2, early, [0], [10_000])
    await store(graph, floor_2, late, [9980], [10_000])
    await store(graph, own_latency, early, [10_000], [10_000])
    levels = ServiceLevels(graph, bound(floor_1, floor_2, own_latency, assess_days=31))

    breaches = await levels.assess(utc(2026, 5, 2), [service])

    assert {(b.objective_id, b.period.start) for b in breaches} == {(floor_2, APR)}
    (violation,) = await listed(levels, service, APR)
    assert (violation.objective_id, violation.agreement_version) == (floor_2, 1)
    assert (violation.part_start, violation.part_end) == (TAKEOVER, MAY)
    assert (violation.measured, violation.target) == (pytest.approx(99.8), 99.9)
    # Below 99.9 earns 10 % of the fee, two thirds of it for 20 of 30 days.
    assert violation.credit_percent == pytest.approx(20 / 3)
