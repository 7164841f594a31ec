"""Listing agreements with their nested fields costs a fixed number of graph round trips.

Every nested field goes through a per-request DataLoader, so a page of N agreements
costs one statement per *kind* of lookup, not per agreement. For the query below:

1. ``agreements.LIST_AGREEMENTS``: the page itself (with each counterpart's id);
2. ``parties.CUSTOMERS_BY_IDS``: ``customer`` of every SLA on the page;
3. ``agreements.OBJECTIVES_BY_AGREEMENT_IDS``: ``objectives`` of every agreement;
4. ``agreements.COVERED_IDS_BY_AGREEMENT_IDS``: which components each one ``covers``;
5. ``components.COMPONENTS_BY_IDS``: those components (with each service's owner id);
6. ``parties.TEAMS_BY_IDS``: ``owner`` of every covered service.

Steps 2-4 run side by side and 5-6 wait on 4 and 5, but each is one statement: six
round trips for 3 agreements and for 12 alike, and for a token limited to a business
unit as for one that is not: scope is part of each statement, never a check per row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from support import APPROVER, EDITOR, VIEWER, GraphBuilder, StatementLog, listening

from hub.domain.models import (
    AgreementKind,
    AgreementRevisionSpec,
    AgreementSpec,
    AgreementStatus,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.windows import objective_window
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings, TelemetryBinding

ROUND_TRIPS_PER_PAGE = 6
EXPECTED_STATEMENTS = Counter(
    {
        "agreements.LIST_AGREEMENTS": 1,
        "parties.CUSTOMERS_BY_IDS": 1,
        "agreements.OBJECTIVES_BY_AGREEMENT_IDS": 1,
        "agreements.COVERED_IDS_BY_AGREEMENT_IDS": 1,
        "components.COMPONENTS_BY_IDS": 1,
        "parties.TEAMS_BY_IDS": 1,
    }
)

QUERY = """
query Agreements($customerId: ID!) {
  agreements(first: 50, customerId: $customerId) {
    edges {
      node {
        id
        name
        status
        ... on ServiceLevelAgreement { customer { name } }
        objectives { indicator target }
        covers {
          id
          name
          ... on Service { owner { name } }
        }
      }
    }
    pageInfo { hasNextPage }
  }
}
"""

OBJECTIVES = (
    ObjectiveSpec(
        indicator=Indicator.AVAILABILITY, target=99.9, window_kind=WindowKind.CALENDAR_MONTH
    ),
    ObjectiveSpec(
        indicator=Indicator.LATENCY,
        target=95.0,
        threshold=0.3,
        window_kind=WindowKind.ROLLING,
        window_days=28,
    ),
)
# Cycled over the agreements, so that the page mixes every status an SLA can reach here.
STATUSES = (AgreementStatus.ACTIVE, AgreementStatus.PENDING_APPROVAL, AgreementStatus.DRAFT)
TEAMS = {"team-a": "Team A", "team-b": "Team B"}
# A viewer limited to the customers' business unit: the same page, the same round trips.
SCOPED_VIEWER = Actor(user="scoped-vic", role=Role.VIEWER, domains=frozenset({"retail"}))
READERS = pytest.mark.parametrize("reader", [VIEWER, SCOPED_VIEWER], ids=["unlimited", "scoped"])


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture
def statements(graph: Graph) -> Iterator[StatementLog]:
    with listening(graph) as log:
        yield log


def owner_key(index: int) -> str:
    return "team-a" if index % 2 == 0 else "team-b"


async def build_agreements(builder: GraphBuilder, count: int) -> tuple[str, dict[str, Any]]:
    """`count` SLAs for one new customer, agreement i covering service i and CI i.

    Returns the customer's id and, by agreement id, what the query must show for it.
    """
    services = [f"svc-{i:02d}" for i in range(count)]
    cis = [f"ci-{i:02d}" for i in range(count)]
    await builder.load(
        nodes=cis,
        extra={
            "teams": [{"externalId": key, "name": name} for key, name in TEAMS.items()],
            "customers": [{"externalId": "cust", "name": "Retail BU", "businessUnit": "retail"}],
            "services": [
                {
                    "externalId": key,
                    "name": f"Service {key}",
                    "ownerTeam": owner_key(i),
                    "businessUnit": "retail",
                }
                for i, key in enumerate(services)
            ],
            "dependencies": [{"from": s, "to": c} for s, c in zip(services, cis, strict=True)],
        },
    )
    ids = await builder.ids(["cust", *services, *cis])
    repository = AgreementRepository(builder.graph)
    expected: dict[str, Any] = {}
    for i in range(count):
        status = STATUSES[i % len(STATUSES)]
        spec = AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"SLA {i:02d}",
            covers=(ids[services[i]], ids[cis[i]]),
            objectives=OBJECTIVES,
            customer_id=ids["cust"],
        )
        agreement_id = await repository.create(spec, EDITOR)
        if status is not AgreementStatus.DRAFT:
            await repository.submit(agreement_id, EDITOR)
        if status is AgreementStatus.ACTIVE:
            await repository.approve(agreement_id, APPROVER)
        expected[agreement_id] = {
            "id": agreement_id,
            "name": f"SLA {i:02d}",
            "status": status.value,
            "customer": {"name": "Retail BU"},
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.9},
                {"indicator": "LATENCY", "target": 95.0},
            ],
            "covers": sorted(
                [
                    {
                        "id": ids[services[i]],
                        "name": f"Service {services[i]}",
                        "owner": {"name": TEAMS[owner_key(i)]},
                    },
                    {"id": ids[cis[i]], "name": cis[i]},
                ],
                key=lambda c: c["id"],
            ),
        }
    return ids["cust"], expected


def normalised(node: dict[str, Any]) -> dict[str, Any]:
    """A listed agreement with its order-free lists sorted."""
    return {
        **node,
        "objectives": sorted(node["objectives"], key=lambda o: o["indicator"]),
        "covers": sorted(node["covers"], key=lambda c: c["id"]),
    }


@pytest.mark.parametrize("count", [3, 12])
@READERS
async def test_listing_agreements_costs_the_same_round_trips_for_any_page_size(
    count: int,
    reader: Actor,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    customer_id, expected = await build_agreements(builder, count)
    context = Context.create(graph, reader, ApiSettings())
    statements.names.clear()
    before = graph.round_trips

    result = await schema.execute(
        QUERY, variable_values={"customerId": customer_id}, context_value=context
    )

    assert result.errors is None
    assert graph.round_trips - before == ROUND_TRIPS_PER_PAGE
    assert Counter(statements.names) == EXPECTED_STATEMENTS
    assert result.data is not None
    page = result.data["agreements"]
    assert page["pageInfo"] == {"hasNextPage": False}
    listed = {edge["node"]["id"]: normalised(edge["node"]) for edge in page["edges"]}
    assert listed == expected
    # By id order, as documented.
    assert [edge["node"]["id"] for edge in page["edges"]] == sorted(expected)


GAPS_QUERY = """
query AgreementGaps($customerId: ID!) {
  agreements(first: 50, customerId: $customerId) {
    edges {
      node {
        id
        covers { id name }
        ... on ServiceLevelAgreement {
          coverageGaps { kind sla { id } component { id name } }
        }
      }
    }
  }
}
"""


@pytest.mark.parametrize("count", [3, 12])
@READERS
async def test_coverage_gaps_of_a_page_of_slas_are_batched_too(
    count: int,
    reader: Actor,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    """`ServiceLevelAgreement.coverageGaps` costs the gap statements once per page.

    The gaps' components are the covered ones, so whether they need their own
    ``COMPONENTS_BY_IDS`` depends only on which loader batch they join first: one or
    two of those, never one per SLA.
    """
    customer_id, expected = await build_agreements(builder, count)
    context = Context.create(graph, reader, ApiSettings())
    statements.names.clear()

    result = await schema.execute(
        GAPS_QUERY, variable_values={"customerId": customer_id}, context_value=context
    )

    assert result.errors is None
    assert result.data is not None
    sent = Counter(statements.names)
    assert sent.pop("components.COMPONENTS_BY_IDS") in (1, 2)
    assert sent == Counter(
        {
            "agreements.LIST_AGREEMENTS": 1,
            "agreements.COVERED_IDS_BY_AGREEMENT_IDS": 1,
            # The chains: the SLAs' roots, ONE shared walk seeded with all of them (one
            # level here: nothing lies below the covered components), their cover.
            "gaps.SLA_ROOTS": 1,
            "traversals.DOWN_LEVEL": 1,
            "gaps.CHAIN_MEMBERS": 1,
            # The gap rules read the SLAs' effective objectives once for the whole page:
            # their ancestors in force, own objectives and inherited ones.
            "levels.ANCESTORS_IN_FORCE": 1,
            "agreements.OBJECTIVES_BY_AGREEMENT_IDS": 1,
            "levels.INHERITED_OBJECTIVES_BY_AGREEMENT_IDS": 1,
        }
    )
    # Only ACTIVE SLAs have gaps; nothing covers their service or CI.
    for edge in result.data["agreements"]["edges"]:
        node = edge["node"]
        active = expected[node["id"]]["status"] == "ACTIVE"
        gaps = sorted((g["kind"], g["component"]["id"]) for g in node["coverageGaps"])
        assert gaps == (sorted(("UNCOVERED", c["id"]) for c in node["covers"]) if active else [])
        assert {g["sla"]["id"] for g in node["coverageGaps"]} <= {node["id"]}


VERSIONS_QUERY = """
query Versions($customerId: ID!) {
  agreements(first: 50, customerId: $customerId, status: [ACTIVE, DRAFT]) {
    edges {
      node {
        id
        version
        previousVersion { id version }
        versions { id version status }
      }
    }
  }
}
"""


@pytest.mark.parametrize("count", [2, 8])
@READERS
async def test_versions_and_previous_versions_of_a_page_are_batched(
    count: int,
    reader: Actor,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    """`previousVersion` and `versions` cost one statement each per page, whatever the
    number of agreements and versions on it."""
    customer_id, expected = await build_agreements(builder, 3 * count)
    repository = AgreementRepository(builder.graph)
    lineages = {}
    for agreement_id, shown in expected.items():
        if shown["status"] == "ACTIVE":
            revision = await repository.revise(
                agreement_id, AgreementRevisionSpec(name="v2"), EDITOR, "round trips"
            )
            lineages[agreement_id] = [agreement_id, revision]
    context = Context.create(graph, reader, ApiSettings())
    statements.names.clear()

    result = await schema.execute(
        VERSIONS_QUERY, variable_values={"customerId": customer_id}, context_value=context
    )

    assert result.errors is None
    assert result.data is not None
    sent = Counter(statements.names)
    assert sent.pop("agreements.AGREEMENTS_BY_IDS", 0) <= 1
    assert sent == Counter({"agreements.LIST_AGREEMENTS": 1, "agreements.VERSIONS_BY_LINEAGES": 1})
    nodes = {edge["node"]["id"]: edge["node"] for edge in result.data["agreements"]["edges"]}
    for first, (v1, v2) in lineages.items():
        assert [v["id"] for v in nodes[v1]["versions"]] == [v1, v2]
        assert nodes[v2]["previousVersion"] == {"id": first, "version": 1}
        assert nodes[v2]["versions"] == nodes[v1]["versions"]
        assert [v["status"] for v in nodes[v1]["versions"]] == ["ACTIVE", "DRAFT"]
    assert len(lineages) == count


STATUS_QUERY = """
query Statuses($customerId: ID!) {
  agreements(first: 50, customerId: $customerId) {
    edges { node { id objectives { windowKind status { windowEnd state dataCoverage } } } }
  }
}
"""


@pytest.mark.parametrize("count", [3, 12])
@READERS
async def test_statuses_of_a_page_at_now_share_one_instant_and_fixed_statements(
    count: int,
    reader: Actor,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    """`Objective.status` without `at` is judged at the request's one instant, so the
    page's statuses load in one batch: the same statements for 3 agreements as for 12."""
    customer_id, expected = await build_agreements(builder, count)
    objectives = await AgreementRepository(graph).objectives_by_agreement_ids(list(expected))
    # Every objective is measured by Prometheus, every other one also by Datadog.
    bindings = [
        TelemetryBinding(objective=o.id, source=source, role=role, ratio="errors")
        for n, o in enumerate(o for found in objectives.values() for o in found)
        for source, role in (("prometheus", "primary"), ("datadog", "secondary"))[: 1 + n % 2]
    ]
    context = Context.create(graph, reader, ApiSettings(), slo=SloSettings(bindings=bindings))
    statements.names.clear()

    result = await schema.execute(
        STATUS_QUERY, variable_values={"customerId": customer_id}, context_value=context
    )

    assert result.errors is None
    assert result.data is not None
    # The page, its objectives, their exceptions in one read, and their telemetry days
    # in one read per distinct span (here a calendar month's and 28 rolling days').
    assert Counter(statements.names) == Counter(
        {
            "agreements.LIST_AGREEMENTS": 1,
            "agreements.OBJECTIVES_BY_AGREEMENT_IDS": 1,
            "exceptions.EXCUSED_WINDOWS": 1,
            "telemetry.TELEMETRY_DAYS": 2,
        }
    )
    nodes = [edge["node"] for edge in result.data["agreements"]["edges"]]
    assert {node["id"] for node in nodes} == set(expected)
    statuses = [(o["windowKind"], o["status"]) for node in nodes for o in node["objectives"]]
    assert len(statuses) == 2 * count
    # A rolling window ends at the instant it is judged at (in whole buckets): the
    # request's, for all of them.
    assert {s["windowEnd"] for kind, s in statuses if kind == "ROLLING"} == {
        objective_window(WindowKind.ROLLING, 28, context.now).end.isoformat().replace("+00:00", "Z")
    }
    assert {(s["state"], s["dataCoverage"]) for _, s in statuses} == {("NO_DATA", 0.0)}


def history_query(instants: int) -> str:
    """The portal's objective page in small: each objective's status now and at
    `instants` past instants, one alias each (`hub/portal/static/views.js`)."""
    variables = "".join(f", $t{i}: DateTime!" for i in range(instants))
    aliases = " ".join(f"h{i}: status(at: $t{i}) {{ windowEnd state }}" for i in range(instants))
    return (
        f"query History($customerId: ID!{variables}) {{\n"
        "  agreements(first: 50, customerId: $customerId) {\n"
        "    edges { node { id objectives { windowKind status { windowEnd state } "
        f"{aliases} }} }} }}\n"
        "  }\n}"
    )


@pytest.mark.parametrize("instants", [1, 14])
@READERS
async def test_statuses_at_many_instants_cost_the_statements_of_one(
    instants: int,
    reader: Actor,
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    statements: StatementLog,
) -> None:
    """`status(at:)` aliases of a page's objectives load in the batch of `status`: one
    read of the exceptions and one of the telemetry days per distinct union of spans
    (a calendar month's and 28 rolling days'), whatever the number of instants."""
    customer_id, expected = await build_agreements(builder, 4)
    context = Context.create(graph, reader, ApiSettings())
    instants_at = [context.now - timedelta(days=2 * (instants - i)) for i in range(instants)]
    variables: dict[str, Any] = {
        "customerId": customer_id,
        **{f"t{i}": at.isoformat() for i, at in enumerate(instants_at)},
    }
    statements.names.clear()

    result = await schema.execute(
        history_query(instants), variable_values=variables, context_value=context
    )

    assert result.errors is None
    assert result.data is not None
    assert Counter(statements.names) == Counter(
        {
            "agreements.LIST_AGREEMENTS": 1,
            "agreements.OBJECTIVES_BY_AGREEMENT_IDS": 1,
            "exceptions.EXCUSED_WINDOWS": 1,
            "telemetry.TELEMETRY_DAYS": 2,
        }
    )
    objectives = [o for e in result.data["agreements"]["edges"] for o in e["node"]["objectives"]]
    assert len(objectives) == 2 * len(expected)
    # Each alias is judged at its own instant: a rolling window ends there.
    rolling = [o for o in objectives if o["windowKind"] == "ROLLING"]
    assert rolling  # the loop below must check something
    for objective in rolling:
        assert [objective[f"h{i}"]["windowEnd"] for i in range(instants)] == [
            objective_window(WindowKind.ROLLING, 28, at).end.isoformat().replace("+00:00", "Z")
            for at in instants_at
        ]
        assert {objective[f"h{i}"]["state"] for i in range(instants)} == {"NO_DATA"}
