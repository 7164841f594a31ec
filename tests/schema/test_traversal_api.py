"""The traversal questions through GraphQL: dependencyChain, impact, coverageGaps, and
finding nodes by id or by a source's key.

Each test builds a small graph of its own (its own source), authors agreements through
the repository and the real workflow (create, submit, approve), then asks the schema
in-process as a viewer would.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import strawberry
from support import VIEWER, GraphBuilder, listening, load

from hub.domain.models import (
    AgreementKind,
    AgreementStatus,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.graph.client import Graph
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

CHAIN_QUERY = """
query Chain($id: ID!, $maxDepth: Int) {
  dependencyChain(id: $id, maxDepth: $maxDepth) {
    root { __typename id name }
    components { depth component { __typename id name } }
    edges { from { id } to { id } }
    truncated
  }
}
"""

IMPACT_QUERY = """
query Impact($id: ID!) {
  impact(id: $id) {
    root { id }
    components { depth component { id } }
    agreements {
      __typename id name status
      ... on ServiceLevelAgreement { customer { id name } }
    }
    customers { id name }
  }
}
"""

GAPS_QUERY = """
query Gaps($slaId: ID) {
  coverageGaps(slaId: $slaId) {
    sla { id name }
    component { id name }
    kind indicator required provided detail
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def ask(
    schema: strawberry.Schema, graph: Graph, query: str, **variables: Any
) -> dict[str, Any]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, VIEWER, ApiSettings()),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def ask_for_errors(
    schema: strawberry.Schema, graph: Graph, query: str, **variables: Any
) -> list[dict[str, Any]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, VIEWER, ApiSettings()),
    )
    assert result.errors is not None
    return [error.formatted for error in result.errors]


def objective(
    indicator: Indicator,
    target: float,
    threshold: float | None = None,
    priority: str | None = None,
) -> ObjectiveSpec:
    return ObjectiveSpec(
        indicator=indicator,
        target=target,
        threshold=threshold,
        window_kind=WindowKind.CALENDAR_MONTH,
        priority=priority,
    )


# ---- dependencyChain ------------------------------------------------------------------

# A diamond (a -> b, c -> d), a cycle back into it (d -> e -> b) and a self-loop on c.
# `z` depends on `a` but is not on a's chain.
DIAMOND_CYCLE: list[tuple[str, str]] = [
    ("a", "b"),
    ("a", "c"),
    ("b", "d"),
    ("c", "d"),
    ("d", "e"),
    ("e", "b"),
    ("c", "c"),
    ("z", "a"),
]


def chain_in_keys(chain: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    key_of = {node_id: key for key, node_id in ids.items()}
    edges = [(key_of[e["from"]["id"]], key_of[e["to"]["id"]]) for e in chain["edges"]]
    assert len(edges) == len(set(edges)), f"an edge is listed twice: {edges}"
    depths = [(key_of[c["component"]["id"]], c["depth"]) for c in chain["components"]]
    assert len(depths) == len(set(depths)), f"a component is listed twice: {depths}"
    return {
        "root": key_of[chain["root"]["id"]],
        "depths": dict(depths),
        "edges": set(edges),
        "truncated": chain["truncated"],
    }


async def test_dependency_chain_of_a_diamond_with_a_cycle(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, DIAMOND_CYCLE, services=["a", "z"])

    data = await ask(schema, graph, CHAIN_QUERY, id=ids["a"])

    chain = data["dependencyChain"]
    assert chain["root"] == {"__typename": "Service", "id": ids["a"], "name": "a"}
    assert chain_in_keys(chain, ids) == {
        "root": "a",
        "depths": {"b": 1, "c": 1, "d": 2, "e": 3},
        "edges": {e for e in DIAMOND_CYCLE if e != ("z", "a")},
        "truncated": False,
    }
    assert {c["component"]["__typename"] for c in chain["components"]} == {"ConfigurationItem"}
    # Components come nearest first.
    assert [c["depth"] for c in chain["components"]] == [1, 1, 2, 3]


async def test_walks_read_what_they_reach_once(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # The levels read the components they reach (under the token's scope) and prime
    # the request's loader: no second lookup of them, however many fields ask.
    ids, author = await load(builder, DIAMOND_CYCLE, services=["a", "z"])
    await author(AgreementKind.SLA, "A SLA", ["a"], [objective(Indicator.AVAILABILITY, 99.5)])
    query = """
    query Both($id: ID!, $root: ID!) {
      dependencyChain(id: $id) { components { component { id name } } }
      impact(id: $root) {
        components { component { id } }
        agreements { id covers { id name } }
        customers { id }
      }
    }
    """

    with listening(graph) as log:
        before = graph.round_trips
        data = await ask(schema, graph, query, id=ids["a"], root=ids["d"])

    assert len(data["dependencyChain"]["components"]) == 4
    assert {c["component"]["id"] for c in data["impact"]["components"]} == {
        ids[k] for k in ("a", "b", "c", "e", "z")
    }
    assert data["impact"]["agreements"] == [
        {"id": data["impact"]["agreements"][0]["id"], "covers": [{"id": ids["a"], "name": "a"}]}
    ]
    # Each level is one statement that also reads its frontier's fields, the root's
    # first. Chain of a: frontiers a / b c / d / e: 4. Impact of d: d / b c / a e / z: 4,
    # and what covers them. The SLA's `covers` finds a in the loader, primed by the
    # impact's walk: no component is looked up on its own.
    assert Counter(log.names) == Counter(
        {
            "traversals.DEPENDENCIES_LEVEL": 4,
            "traversals.DEPENDANTS_LEVEL": 4,
            "traversals.ACTIVE_AGREEMENTS_COVERING": 1,
            "agreements.AGREEMENTS_BY_IDS": 1,
            "agreements.COVERED_IDS_BY_AGREEMENT_IDS": 1,
            "parties.CUSTOMERS_BY_IDS": 1,
        }
    )
    assert graph.round_trips - before == 12


@pytest.mark.parametrize(
    ("max_depth", "depths", "truncated"),
    [
        (0, {}, True),
        (1, {"b": 1, "c": 1}, True),
        (2, {"b": 1, "c": 1, "d": 2}, True),
        # e is the last level: nothing lies beyond, so the walk was not cut short.
        (3, {"b": 1, "c": 1, "d": 2, "e": 3}, False),
    ],
)
async def test_dependency_chain_cut_by_max_depth(
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    max_depth: int,
    depths: dict[str, int],
    truncated: bool,
) -> None:
    ids, _ = await load(builder, DIAMOND_CYCLE, services=["a", "z"])

    data = await ask(schema, graph, CHAIN_QUERY, id=ids["a"], maxDepth=max_depth)

    reached = {"a", *depths}
    assert chain_in_keys(data["dependencyChain"], ids) == {
        "root": "a",
        "depths": depths,
        # Every edge among the root and what was reached, self-loop included.
        "edges": {(x, y) for x, y in DIAMOND_CYCLE if x in reached and y in reached},
        "truncated": truncated,
    }


async def test_dependency_chain_rejects_a_depth_beyond_the_limit_and_an_unknown_id(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _ = await load(builder, DIAMOND_CYCLE, services=["a", "z"])

    too_deep = await ask_for_errors(schema, graph, CHAIN_QUERY, id=ids["a"], maxDepth=26)
    unknown = await ask_for_errors(schema, graph, CHAIN_QUERY, id="cmp_" + "0" * 32)

    assert [e["extensions"] for e in too_deep] == [
        {
            "code": "BAD_USER_INPUT",
            "problems": [{"field": "maxDepth", "message": "must be from 0 to 25"}],
        }
    ]
    assert [e["extensions"]["code"] for e in unknown] == ["NOT_FOUND"]


# ---- impact ---------------------------------------------------------------------------


async def test_impact_lists_dependants_active_agreements_and_their_customers(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # web -> api -> db, batch -> db; `other` is unrelated.
    ids, author = await load(
        builder,
        [("web", "api"), ("api", "db"), ("batch", "db")],
        services=["web", "api", "batch", "other"],
    )
    availability = [objective(Indicator.AVAILABILITY, 99.5)]
    sla_web = await author(AgreementKind.SLA, "Web SLA", ["web"], availability)
    ola_db = await author(AgreementKind.OLA, "DB OLA", ["db"], availability)
    await author(
        AgreementKind.SLA,
        "API SLA (draft)",
        ["api"],
        availability,
        status=AgreementStatus.DRAFT,
        customer="cust-2",
    )
    await author(
        AgreementKind.SLA,
        "Batch SLA (pending)",
        ["batch"],
        availability,
        status=AgreementStatus.PENDING_APPROVAL,
        customer="cust-2",
    )
    await author(AgreementKind.SLA, "Other SLA", ["other"], availability, customer="cust-3")

    data = await ask(schema, graph, IMPACT_QUERY, id=ids["db"])

    impact = data["impact"]
    assert impact["root"] == {"id": ids["db"]}
    assert sorted((c["depth"], c["component"]["id"]) for c in impact["components"]) == sorted(
        [(1, ids["api"]), (1, ids["batch"]), (2, ids["web"])]
    )
    assert impact["agreements"] == [
        {
            "__typename": "OperationalLevelAgreement",
            "id": ola_db,
            "name": "DB OLA",
            "status": "ACTIVE",
        },
        {
            "__typename": "ServiceLevelAgreement",
            "id": sla_web,
            "name": "Web SLA",
            "status": "ACTIVE",
            "customer": {"id": ids["cust-1"], "name": "Retail BU"},
        },
    ]
    assert impact["customers"] == [{"id": ids["cust-1"], "name": "Retail BU"}]


async def test_impact_of_a_component_nothing_depends_on(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("web", "db")], services=["web"])
    sla = await author(
        AgreementKind.SLA, "Web SLA", ["web"], [objective(Indicator.AVAILABILITY, 99.0)]
    )

    data = await ask(schema, graph, IMPACT_QUERY, id=ids["web"])

    assert data["impact"]["components"] == []
    assert [a["id"] for a in data["impact"]["agreements"]] == [sla]
    assert data["impact"]["customers"] == [{"id": ids["cust-1"], "name": "Retail BU"}]


# ---- coverageGaps ---------------------------------------------------------------------


async def gaps_of(schema: strawberry.Schema, graph: Graph, sla_id: str) -> list[dict[str, Any]]:
    data = await ask(schema, graph, GAPS_QUERY, slaId=sla_id)
    gaps: list[dict[str, Any]] = data["coverageGaps"]
    assert {g["sla"]["id"] for g in gaps} <= {sla_id}
    return gaps


def summary(gaps: list[dict[str, Any]], ids: dict[str, str]) -> list[tuple[Any, ...]]:
    """(kind, component key, indicator, required, provided) of each gap."""
    key_of = {node_id: key for key, node_id in ids.items()}
    return [
        (
            g["kind"],
            None if g["component"] is None else key_of[g["component"]["id"]],
            g["indicator"],
            g["required"],
            g["provided"],
        )
        for g in gaps
    ]


async def test_a_chain_component_without_active_cover_is_uncovered(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("shop", "app"), ("app", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA, "Shop SLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.0)]
    )
    await author(
        AgreementKind.OLA, "Shop OLA", ["shop", "app"], [objective(Indicator.AVAILABILITY, 99.9)]
    )

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [("UNCOVERED", "db", None, None, None)]
    assert gaps[0]["sla"] == {"id": sla, "name": "Shop SLA"}
    assert gaps[0]["component"] == {"id": ids["db"], "name": "db"}
    assert gaps[0]["detail"] == "db is on the chain but no ACTIVE OLA or UC covers it"


async def test_an_ola_in_draft_or_pending_approval_is_no_cover(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    strong = [objective(Indicator.AVAILABILITY, 99.99)]
    sla = await author(
        AgreementKind.SLA, "Shop SLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.0)]
    )
    await author(AgreementKind.UC, "Shop UC", ["shop"], strong)
    await author(AgreementKind.OLA, "DB OLA (draft)", ["db"], strong, status=AgreementStatus.DRAFT)
    await author(
        AgreementKind.OLA,
        "DB OLA (pending)",
        ["db"],
        strong,
        status=AgreementStatus.PENDING_APPROVAL,
    )
    # An SLA never counts as cover, even an ACTIVE one on the same component.
    await author(AgreementKind.SLA, "DB SLA", ["db"], strong, customer="cust-2")

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [("UNCOVERED", "db", None, None, None)]


async def test_a_weaker_covering_objective_is_a_weaker_target(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop SLA",
        ["shop"],
        [objective(Indicator.LATENCY, 95.0, threshold=0.3)],
    )
    # shop has two ACTIVE OLAs: a weak one and one strong enough, so it has no gap;
    # db has only the weak one.
    await author(
        AgreementKind.OLA,
        "Weak OLA",
        ["shop", "db"],
        [objective(Indicator.LATENCY, 95.0, threshold=0.5)],
    )
    await author(
        AgreementKind.OLA,
        "Strong OLA",
        ["shop"],
        [objective(Indicator.LATENCY, 99.0, threshold=0.2)],
    )
    # A strong objective on an OLA that is not ACTIVE changes nothing for db.
    await author(
        AgreementKind.OLA,
        "Strong OLA (pending)",
        ["db"],
        [objective(Indicator.LATENCY, 99.0, threshold=0.1)],
        status=AgreementStatus.PENDING_APPROVAL,
    )

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [("WEAKER_TARGET", "db", "LATENCY", 0.3, 0.5)]
    assert gaps[0]["detail"] == (
        "db: the SLA promises LATENCY 0.3 s at 95%; its best OLA/UC objective is weaker"
    )


async def test_a_cover_without_the_indicator_is_a_weaker_target_with_nothing_provided(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [], services=["shop"])
    sla = await author(
        AgreementKind.SLA, "Shop SLA", ["shop"], [objective(Indicator.ERROR_RATE, 99.0)]
    )
    await author(
        AgreementKind.OLA, "Shop OLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.99)]
    )

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [("WEAKER_TARGET", "shop", "ERROR_RATE", 99.0, None)]


async def test_handoff_plus_response_beyond_the_sla_is_a_timeline_mismatch(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop SLA",
        ["shop"],
        [objective(Indicator.RESPONSE_TIME, 95.0, threshold=3600, priority="P1")],
    )
    # Answered in 1800 s (strong enough on its own) after a 2400 s hand-off: 4200 s.
    await author(
        AgreementKind.OLA,
        "Shop OLA",
        ["shop"],
        [
            objective(Indicator.RESPONSE_TIME, 95.0, threshold=1800, priority="P1"),
            objective(Indicator.HANDOFF_TIME, 95.0, threshold=2400, priority="P1"),
        ],
    )

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [("TIMELINE_MISMATCH", "shop", "RESPONSE_TIME", 3600.0, 4200.0)]


async def test_a_composed_availability_below_the_sla_is_an_infeasible_target(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA, "Shop SLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.9)]
    )
    # Each alone is strong enough (99.93 >= 99.9); in series 99.93% x 99.93% is not.
    await author(
        AgreementKind.OLA, "Shop OLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.93)]
    )
    await author(AgreementKind.UC, "DB UC", ["db"], [objective(Indicator.AVAILABILITY, 99.93)])

    gaps = await gaps_of(schema, graph, sla)

    assert summary(gaps, ids) == [
        ("INFEASIBLE_TARGET", None, "AVAILABILITY", 99.9, pytest.approx(99.860049))
    ]
    assert gaps[0]["component"] is None
    assert gaps[0]["sla"]["id"] == sla


async def test_a_fully_covered_sla_has_no_gaps(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA, "Shop SLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.9)]
    )
    await author(
        AgreementKind.OLA, "Shop OLA", ["shop"], [objective(Indicator.AVAILABILITY, 99.95)]
    )
    await author(AgreementKind.UC, "DB UC", ["db"], [objective(Indicator.AVAILABILITY, 99.95)])

    assert await gaps_of(schema, graph, sla) == []


@pytest.mark.parametrize("status", [AgreementStatus.DRAFT, AgreementStatus.PENDING_APPROVAL])
async def test_an_sla_that_is_not_active_has_no_gaps(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, status: AgreementStatus
) -> None:
    _ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop SLA",
        ["shop"],
        [objective(Indicator.AVAILABILITY, 99.9)],
        status=status,
    )

    assert await gaps_of(schema, graph, sla) == []
    every = await ask(schema, graph, GAPS_QUERY)
    assert [g for g in every["coverageGaps"] if g["sla"]["id"] == sla] == []


async def test_coverage_gaps_without_an_sla_id_include_every_active_sla(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [], services=["shop", "till"])
    availability = [objective(Indicator.AVAILABILITY, 99.0)]
    shop = await author(AgreementKind.SLA, "Shop SLA", ["shop"], availability)
    till = await author(AgreementKind.SLA, "Till SLA", ["till"], availability)

    data = await ask(schema, graph, GAPS_QUERY)

    ours = [g for g in data["coverageGaps"] if g["sla"]["id"] in {shop, till}]
    assert sorted((g["sla"]["id"], g["kind"], g["component"]["id"]) for g in ours) == sorted(
        [(shop, "UNCOVERED", ids["shop"]), (till, "UNCOVERED", ids["till"])]
    )


# ---- node and lookup ------------------------------------------------------------------

NODE_QUERY = """
query Node($id: ID!) { node(id: $id) { __typename id } }
"""
LOOKUP_QUERY = """
query Lookup($source: String!, $externalId: String!) {
  lookup(source: $source, externalId: $externalId) {
    __typename id
    ... on Component { name externalRefs { source externalId } }
  }
}
"""


@pytest.mark.parametrize(
    ("key", "typename"),
    [
        ("shop", "Service"),
        ("db", "ConfigurationItem"),
        ("cust-1", "Customer"),
        ("team", "Team"),
        ("vendor", "Vendor"),
    ],
)
async def test_lookup_and_node_find_a_record_by_its_key_and_id(
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    source: str,
    key: str,
    typename: str,
) -> None:
    ids, _ = await load(builder, [("shop", "db")], services=["shop"])

    found = await ask(schema, graph, LOOKUP_QUERY, source=source, externalId=key)
    by_id = await ask(schema, graph, NODE_QUERY, id=ids[key])

    assert found["lookup"]["__typename"] == typename
    assert found["lookup"]["id"] == ids[key]
    if typename in ("Service", "ConfigurationItem"):
        assert found["lookup"]["name"] == key
        assert found["lookup"]["externalRefs"] == [{"source": source, "externalId": key}]
    assert by_id == {"node": {"__typename": typename, "id": ids[key]}}


async def test_node_finds_each_kind_of_agreement(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _ids, author = await load(builder, [], services=["shop"])
    availability = [objective(Indicator.AVAILABILITY, 99.0)]
    agreements = {
        "ServiceLevelAgreement": await author(AgreementKind.SLA, "SLA", ["shop"], availability),
        "OperationalLevelAgreement": await author(
            AgreementKind.OLA, "OLA", ["shop"], availability, status=AgreementStatus.DRAFT
        ),
        "UnderpinningContract": await author(AgreementKind.UC, "UC", ["shop"], availability),
    }

    for typename, agreement_id in agreements.items():
        data = await ask(schema, graph, NODE_QUERY, id=agreement_id)
        assert data == {"node": {"__typename": typename, "id": agreement_id}}


@pytest.mark.parametrize(
    "node_id", ["cmp_" + "0" * 32, "agr_" + "0" * 32, "cus_" + "0" * 32, "nonsense", ""]
)
async def test_node_of_an_unknown_id_is_null(
    schema: strawberry.Schema, graph: Graph, node_id: str
) -> None:
    assert await ask(schema, graph, NODE_QUERY, id=node_id) == {"node": None}


async def test_lookup_of_an_unknown_key_is_null(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, source: str
) -> None:
    await load(builder, [], services=["shop"])

    assert await ask(schema, graph, LOOKUP_QUERY, source=source, externalId="nope") == {
        "lookup": None
    }
    assert await ask(schema, graph, LOOKUP_QUERY, source="elsewhere", externalId="shop") == {
        "lookup": None
    }
