"""Importing bundles through `BundleImporter`: idempotent, whole or nothing, by source."""

from __future__ import annotations

from typing import Any

import pytest

from hub.domain.access import UNLIMITED
from hub.domain.bundle import BundleError
from hub.domain.models import Component, ComponentKind, LifecycleStatus, Tier, Walk
from hub.graph.client import Graph
from hub.graph.cypher import components as cq
from hub.graph.cypher import parties as pq
from hub.graph.cypher import traversals as tq
from hub.graph.ids import stable_id
from hub.graph.repositories import (
    BundleImporter,
    ComponentRepository,
    ImportCounts,
    TraversalRepository,
)

Bundle = dict[str, Any]


@pytest.fixture
def importer(graph: Graph) -> BundleImporter:
    return BundleImporter(graph)


@pytest.fixture
def components(graph: Graph) -> ComponentRepository:
    return ComponentRepository(graph)


@pytest.fixture
def walks(graph: Graph) -> TraversalRepository:
    return TraversalRepository(graph)


def estate(source: str) -> Bundle:
    """A small estate: one of every record kind, owners and a diamond of dependencies."""
    return {
        "source": source,
        "teams": [{"externalId": "team-pay", "name": "Payments"}],
        "vendors": [{"externalId": "ven-cloud", "name": "Cloudco"}],
        "customers": [
            {"externalId": "cus-retail", "name": "Retail", "businessUnit": "retail"},
        ],
        "services": [
            {
                "externalId": "svc-pay",
                "name": "Payments API",
                "tier": "TIER_1",
                "businessUnit": "retail",
                "ownerTeam": "team-pay",
            },
            {"externalId": "svc-auth", "name": "Auth"},
        ],
        "configurationItems": [
            {"externalId": "ci-db", "name": "payments-db", "ciClass": "cmdb_ci_db"},
            {"externalId": "ci-net", "name": "core-router", "ciClass": "cmdb_ci_router"},
        ],
        "dependencies": [
            {"from": "svc-pay", "to": "svc-auth"},
            {"from": "svc-pay", "to": "ci-db"},
            {"from": "svc-auth", "to": "ci-net"},
            {"from": "ci-db", "to": "ci-net"},
        ],
    }


ESTATE_KEYS = ["team-pay", "ven-cloud", "cus-retail", "svc-pay", "svc-auth", "ci-db", "ci-net"]
ESTATE_COMPONENTS = ["svc-pay", "svc-auth", "ci-db", "ci-net"]


async def ids_of(components: ComponentRepository, source: str, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key in keys:
        node_id = await components.lookup(source, key)
        assert node_id is not None, key
        found[key] = node_id
    return found


async def raw_edge_count(graph: Graph, ids: list[str]) -> int:
    """DEPENDS_ON relationships leaving `ids`, one row per relationship (no dedup)."""
    return len(await graph.read(tq.DEPENDENCIES_OF, frontier=ids))


# --- idempotence --------------------------------------------------------------------------


async def test_importing_twice_changes_nothing(
    graph: Graph,
    source: str,
    importer: BundleImporter,
    components: ComponentRepository,
    walks: TraversalRepository,
) -> None:
    counts = await importer.load(estate(source))
    assert counts == ImportCounts(
        teams=1, vendors=1, customers=1, services=2, configuration_items=2, dependencies=4
    )
    first_ids = await ids_of(components, source, ESTATE_KEYS)
    first_components = await components.by_ids(list(first_ids.values()))
    first_walk = await walks.dependency_chain(first_ids["svc-pay"], 5)
    first_edges = await raw_edge_count(graph, list(first_ids.values()))

    again = await importer.load(estate(source))

    assert again == counts
    second_ids = await ids_of(components, source, ESTATE_KEYS)
    assert second_ids == first_ids
    assert await components.by_ids(list(second_ids.values())) == first_components
    second_walk = await walks.dependency_chain(second_ids["svc-pay"], 5)
    assert second_walk == first_walk
    assert len(second_walk.edges) == 4
    assert first_edges == 4
    assert await raw_edge_count(graph, list(second_ids.values())) == 4
    # One ref, one node, one owner per key: lookups see no duplicates.
    for key in ESTATE_KEYS:
        rows = await graph.read(cq.LOOKUP_REF, key=f"{source}:{key}")
        assert rows == [{"id": second_ids[key]}], key
    rows = await graph.read(cq.COMPONENTS_BY_IDS, ids=[second_ids["svc-pay"]], **UNLIMITED.params())
    assert [row["ownerId"] for row in rows] == [second_ids["team-pay"]]
    refs = await components.refs_by_node_ids(list(second_ids.values()))
    ref_counts = {node_id: len(found) for node_id, found in refs.items()}
    assert ref_counts == dict.fromkeys(second_ids.values(), 1)


async def test_imported_ids_are_stable_and_records_are_as_written(
    source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    await importer.load(estate(source))
    ids = await ids_of(components, source, ESTATE_KEYS)

    assert ids["svc-pay"] == stable_id("Component", source, "svc-pay")
    assert ids["ci-db"] == stable_id("Component", source, "ci-db")
    assert ids["team-pay"] == stable_id("Team", source, "team-pay")
    assert ids["ven-cloud"] == stable_id("Vendor", source, "ven-cloud")
    assert ids["cus-retail"] == stable_id("Customer", source, "cus-retail")
    found = await components.by_ids([ids["svc-pay"], ids["ci-db"]])
    assert found == {
        ids["svc-pay"]: Component(
            id=ids["svc-pay"],
            kind=ComponentKind.SERVICE,
            name="Payments API",
            status=LifecycleStatus.ACTIVE,
            tier=Tier.TIER_1,
            business_unit="retail",
            region=None,
            owner_team_id=ids["team-pay"],
        ),
        ids["ci-db"]: Component(
            id=ids["ci-db"],
            kind=ComponentKind.CONFIGURATION_ITEM,
            name="payments-db",
            status=LifecycleStatus.ACTIVE,
            ci_class="cmdb_ci_db",
        ),
    }


async def test_duplicate_dependencies_in_one_bundle_make_one_edge(
    graph: Graph, source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    bundle = {
        "source": source,
        "configurationItems": [
            {"externalId": "a", "name": "a", "ciClass": "x"},
            {"externalId": "b", "name": "b", "ciClass": "x"},
        ],
        "dependencies": [{"from": "a", "to": "b"}, {"from": "a", "to": "b"}],
    }

    await importer.load(bundle)
    await importer.load(bundle)

    ids = await ids_of(components, source, ["a", "b"])
    assert await graph.read(tq.DEPENDENCIES_OF, frontier=[ids["a"]]) == [
        {"next": ids["b"], "source": ids["a"], "target": ids["b"]}
    ]


# --- updates ------------------------------------------------------------------------------


async def test_a_later_bundle_updates_a_records_name(
    source: str,
    importer: BundleImporter,
    components: ComponentRepository,
    walks: TraversalRepository,
) -> None:
    await importer.load(estate(source))
    before = await ids_of(components, source, ESTATE_KEYS)

    await importer.load(
        {
            "source": source,
            "teams": [{"externalId": "team-pay", "name": "Payments Platform"}],
            "services": [
                {"externalId": "svc-pay", "name": "Payments API v2", "ownerTeam": "team-pay"}
            ],
            "configurationItems": [
                {"externalId": "ci-db", "name": "payments-db-02", "ciClass": "cmdb_ci_db"}
            ],
        }
    )

    after = await ids_of(components, source, ESTATE_KEYS)
    assert after == before
    found = await components.by_ids([after["svc-pay"], after["ci-db"], after["svc-auth"]])
    assert found[after["svc-pay"]].name == "Payments API v2"
    assert found[after["svc-pay"]].owner_team_id == after["team-pay"]
    assert found[after["ci-db"]].name == "payments-db-02"
    assert found[after["svc-auth"]].name == "Auth"
    # The update leaves the dependencies it did not mention alone.
    walk = await walks.dependency_chain(after["svc-pay"], 5)
    assert len(walk.edges) == 4


# --- invalid bundles ----------------------------------------------------------------------


async def test_an_invalid_record_rejects_the_whole_bundle(
    graph: Graph, source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    bundle = {
        "source": source,
        "teams": [{"externalId": "team-ok", "name": "Fine"}],
        "services": [
            {"externalId": "svc-ok", "name": "Fine"},
            {"externalId": "svc-bad", "name": "", "tier": "TIER_9"},
        ],
        "configurationItems": [{"externalId": "ci-bad", "name": "no class"}],
    }

    with pytest.raises(BundleError) as caught:
        await importer.load(bundle)

    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert sum(p.startswith("services[1].name:") for p in problems) == 1, problems
    assert sum(p.startswith("services[1].tier:") for p in problems) == 1, problems
    assert sum(p.startswith("configurationItems[0].ciClass:") for p in problems) == 1, problems
    assert "3 problems" in str(caught.value)
    for key in ("team-ok", "svc-ok", "svc-bad", "ci-bad"):
        assert await components.lookup(source, key) is None, key
    rows = await graph.read(cq.REF_KINDS, keys=[f"{source}:svc-ok"])
    assert rows == []


async def test_bad_references_reject_the_whole_bundle_and_leave_the_graph_as_it_was(
    source: str,
    importer: BundleImporter,
    components: ComponentRepository,
    walks: TraversalRepository,
) -> None:
    await importer.load(estate(source))
    before = await ids_of(components, source, ESTATE_KEYS)
    before_components = await components.by_ids(list(before.values()))
    before_walk = await walks.dependency_chain(before["svc-pay"], 5)
    bundle = {
        "source": source,
        "teams": [
            {"externalId": "team-new", "name": "New"},
            {"externalId": "team-new", "name": "New again"},
        ],
        "services": [
            # Valid on its own: would rename an existing service and add a new one.
            {"externalId": "svc-pay", "name": "Renamed", "ownerTeam": "team-new"},
            {"externalId": "svc-new", "name": "New", "ownerTeam": "team-ghost"},
        ],
        "configurationItems": [{"externalId": "svc-new", "name": "Clash", "ciClass": "x"}],
        "dependencies": [
            {"from": "svc-new", "to": "ci-db"},
            {"from": "svc-pay", "to": "ci-ghost"},
            {"from": "nowhere", "to": "svc-new"},
        ],
    }

    with pytest.raises(BundleError) as caught:
        await importer.load(bundle)

    problems = caught.value.problems
    assert len(problems) == 5, problems
    assert problems[0] == "teams[1].externalId: 'team-new' already names a Team of this bundle"
    assert problems[1] == (
        "configurationItems[0].externalId: 'svc-new' already names a Service of this bundle"
    )
    assert problems[2] == (
        f"services[1].ownerTeam: no team 'team-ghost' in this bundle or in source {source!r}"
    )
    assert problems[3].startswith("dependencies[1].to: 'ci-ghost' is neither")
    assert problems[4].startswith("dependencies[2].from: 'nowhere' is neither")
    assert f"source {source!r}" in problems[3]
    # Nothing was written: no new records, no renamed ones, no new edges or owners.
    for key in ("team-new", "svc-new", "ci-ghost", "nowhere"):
        assert await components.lookup(source, key) is None, key
    assert await ids_of(components, source, ESTATE_KEYS) == before
    assert await components.by_ids(list(before.values())) == before_components
    assert await walks.dependency_chain(before["svc-pay"], 5) == before_walk


async def test_a_bad_source_name_is_reported_with_the_rest(
    source: str, importer: BundleImporter
) -> None:
    with pytest.raises(BundleError) as caught:
        await importer.load(
            {
                "source": "Not:Valid",
                "services": [{"externalId": " padded", "name": "x"}],
                "unknown": [],
            }
        )

    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert sorted(p.split(":")[0] for p in problems) == [
        "services[0].externalId",
        "source",
        "unknown",
    ]


# --- references across bundles ------------------------------------------------------------


async def test_a_dependency_may_name_a_component_imported_earlier_under_the_same_source(
    source: str,
    importer: BundleImporter,
    components: ComponentRepository,
    walks: TraversalRepository,
) -> None:
    await importer.load(
        {
            "source": source,
            "configurationItems": [{"externalId": "ci-db", "name": "db", "ciClass": "db"}],
        }
    )
    await importer.load(
        {
            "source": source,
            "services": [{"externalId": "svc-app", "name": "App"}],
            "dependencies": [{"from": "svc-app", "to": "ci-db"}],
        }
    )
    # Both ends may be earlier components.
    await importer.load(
        {
            "source": source,
            "services": [{"externalId": "svc-web", "name": "Web"}],
            "dependencies": [
                {"from": "svc-web", "to": "svc-app"},
                {"from": "ci-db", "to": "svc-web"},
            ],
        }
    )

    ids = await ids_of(components, source, ["svc-web", "svc-app", "ci-db"])
    walk = await walks.dependency_chain(ids["svc-web"], 5)
    assert {(c.component_id, c.depth) for c in walk.reached} == {
        (ids["svc-app"], 1),
        (ids["ci-db"], 2),
    }
    assert set(walk.edges) == {
        (ids["svc-web"], ids["svc-app"]),
        (ids["svc-app"], ids["ci-db"]),
        (ids["ci-db"], ids["svc-web"]),
    }


async def test_a_dependency_may_not_name_a_component_of_another_source(
    source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    other = f"{source}o"
    await importer.load(
        {
            "source": other,
            "configurationItems": [{"externalId": "ci-db", "name": "db", "ciClass": "db"}],
        }
    )

    with pytest.raises(BundleError) as caught:
        await importer.load(
            {
                "source": source,
                "services": [{"externalId": "svc-app", "name": "App"}],
                "dependencies": [{"from": "svc-app", "to": "ci-db"}],
            }
        )

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("dependencies[0].to: 'ci-db' is neither")
    assert await components.lookup(source, "svc-app") is None


async def test_a_dependency_may_not_name_a_team(
    source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    await importer.load({"source": source, "teams": [{"externalId": "team", "name": "T"}]})

    with pytest.raises(BundleError) as caught:
        await importer.load(
            {
                "source": source,
                "services": [{"externalId": "svc", "name": "S"}],
                "dependencies": [{"from": "svc", "to": "team"}],
            }
        )

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("dependencies[0].to: 'team' is neither")
    assert await components.lookup(source, "svc") is None


async def test_a_self_loop_dependency_is_allowed(
    graph: Graph,
    source: str,
    importer: BundleImporter,
    components: ComponentRepository,
    walks: TraversalRepository,
) -> None:
    await importer.load(
        {
            "source": source,
            "configurationItems": [{"externalId": "cluster", "name": "c", "ciClass": "x"}],
            "dependencies": [{"from": "cluster", "to": "cluster"}],
        }
    )

    node = await components.lookup(source, "cluster")
    assert node is not None
    assert await walks.dependency_chain(node, 3) == Walk(node, (), ((node, node),), False)
    assert await walks.dependants(node, 3) == Walk(node, (), ((node, node),), False)
    assert await graph.read(tq.DEPENDENCIES_OF, frontier=[node]) == [
        {"next": node, "source": node, "target": node}
    ]


# --- owners -------------------------------------------------------------------------------


async def test_owner_team_links_a_service_to_its_team(
    graph: Graph, source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    await importer.load(estate(source))
    ids = await ids_of(components, source, ESTATE_KEYS)

    found = await components.by_ids([ids["svc-pay"], ids["svc-auth"], ids["ci-db"]])

    assert found[ids["svc-pay"]].owner_team_id == ids["team-pay"]
    assert found[ids["svc-auth"]].owner_team_id is None
    assert found[ids["ci-db"]].owner_team_id is None
    teams = await graph.read(pq.TEAMS_BY_IDS, ids=[ids["team-pay"]], **UNLIMITED.params())
    assert teams == [{"id": ids["team-pay"], "name": "Payments"}]


async def test_a_later_bundle_moves_or_clears_the_owner(
    graph: Graph, source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    await importer.load(estate(source))
    await importer.load(
        {
            "source": source,
            "teams": [{"externalId": "team-core", "name": "Core"}],
            "services": [
                {"externalId": "svc-pay", "name": "Payments API", "ownerTeam": "team-core"},
                {"externalId": "svc-auth", "name": "Auth", "ownerTeam": "team-core"},
            ],
        }
    )
    ids = await ids_of(components, source, [*ESTATE_KEYS, "team-core"])

    moved = await components.by_ids([ids["svc-pay"], ids["svc-auth"]])
    assert moved[ids["svc-pay"]].owner_team_id == ids["team-core"]
    assert moved[ids["svc-auth"]].owner_team_id == ids["team-core"]
    # Exactly one OWNED_BY left: the old one was replaced, not added to.
    rows = await graph.read(cq.COMPONENTS_BY_IDS, ids=[ids["svc-pay"]], **UNLIMITED.params())
    assert [row["ownerId"] for row in rows] == [ids["team-core"]]

    await importer.load(
        {"source": source, "services": [{"externalId": "svc-pay", "name": "Payments API"}]}
    )

    cleared = await components.by_ids([ids["svc-pay"], ids["svc-auth"]])
    assert cleared[ids["svc-pay"]].owner_team_id is None
    assert cleared[ids["svc-auth"]].owner_team_id == ids["team-core"]


async def test_a_key_keeps_its_kind_across_imports(
    source: str, importer: BundleImporter, components: ComponentRepository
) -> None:
    await importer.load({"source": source, "teams": [{"externalId": "pay", "name": "Payments"}]})
    clash = {"source": source, "services": [{"externalId": "pay", "name": "Payments"}]}

    with pytest.raises(BundleError) as caught:
        await importer.load(clash)

    assert caught.value.problems == [
        f"services[0].externalId: 'pay' already names a Team of source {source!r}; "
        "a record cannot change kind"
    ]
    team_id = await components.lookup(source, "pay")
    assert team_id is not None
    assert team_id.startswith("team_")
