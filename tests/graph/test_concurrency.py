"""Concurrent MERGEs of one unique key all succeed and leave one node per key.

ArcadeDB, unlike Neo4j, can fail two transactions that MERGE the same unique key at
once with ``ConstraintValidationFailed``; `Graph.write_transaction` retries that case,
since every write of the hub is idempotent and the retried MERGE then matches.

ArcadeDB also creates the type of a two-label node (``Component~Service``) on first
use, and concurrent first uses used to fail; migration 2 creates those types.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import ClientError, ConstraintError

from hub.domain.access import UNLIMITED
from hub.graph.client import Graph, GraphConnection, Transaction
from hub.graph.cypher import components as cq
from hub.graph.cypher import parties as pq
from hub.graph.cypher import schema as sq
from hub.graph.cypher import traversals as tq
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.errors import GraphError
from hub.graph.ids import ref_key, stable_id, utc_now
from hub.graph.migrations import migrate
from hub.graph.repositories import (
    BundleImporter,
    ComponentRepository,
    ImportCounts,
    TraversalRepository,
)
from hub.settings import EmbeddedGraphSettings

TASKS = 8
ROUNDS = 3
KEY_KINDS = {"team": "Team", "svc-a": "Component", "svc-b": "Component", "ci": "Component"}
EXPECTED_COUNTS = ImportCounts(
    teams=1, vendors=0, customers=0, services=2, configuration_items=1, dependencies=3
)


def small_bundle(source: str) -> dict[str, Any]:
    return {
        "source": source,
        "teams": [{"externalId": "team", "name": "Team"}],
        "services": [
            {"externalId": "svc-a", "name": "A", "ownerTeam": "team"},
            {"externalId": "svc-b", "name": "B", "ownerTeam": "team"},
        ],
        "configurationItems": [{"externalId": "ci", "name": "CI", "ciClass": "server"}],
        "dependencies": [
            {"from": "svc-a", "to": "svc-b"},
            {"from": "svc-a", "to": "ci"},
            {"from": "svc-b", "to": "ci"},
        ],
    }


def team_rows(source: str, keys: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "refKey": ref_key(source, key),
            "source": source,
            "externalId": key,
            "newId": stable_id("Team", source, key),
            "props": {"name": key.upper()},
        }
        for key in keys
    ]


async def assert_one_node_per_key(graph: Graph, source: str, kinds: dict[str, str]) -> None:
    """Each key has one ref naming one node, with the key's stable id, and nothing more."""
    for key, kind in kinds.items():
        expected = stable_id(kind, source, key)
        assert await graph.read(cq.LOOKUP_REF, key=ref_key(source, key)) == [{"id": expected}]
        refs = await graph.read(cq.REFS_BY_NODE_IDS, ids=[expected])
        assert refs == [{"id": expected, "source": source, "externalId": key}]
        if kind == "Team":
            nodes = await graph.read(pq.TEAMS_BY_IDS, ids=[expected], **UNLIMITED.params())
            assert [row["id"] for row in nodes] == [expected]
        else:
            nodes = await graph.read(cq.COMPONENTS_BY_IDS, ids=[expected], **UNLIMITED.params())
            assert [row["props"]["id"] for row in nodes] == [expected]


async def assert_small_bundle_loaded_once(graph: Graph, source: str) -> None:
    await assert_one_node_per_key(graph, source, KEY_KINDS)
    ids = {key: stable_id(kind, source, key) for key, kind in KEY_KINDS.items()}
    owners = await graph.read(
        cq.COMPONENTS_BY_IDS, ids=[ids["svc-a"], ids["svc-b"]], **UNLIMITED.params()
    )
    assert sorted((row["props"]["id"], row["ownerId"]) for row in owners) == sorted(
        [(ids["svc-a"], ids["team"]), (ids["svc-b"], ids["team"])]
    )
    # One row per DEPENDS_ON relationship: no edge was doubled.
    edges = await graph.read(tq.DEPENDENCIES_OF, frontier=[ids["svc-a"], ids["svc-b"]])
    assert sorted((row["source"], row["target"]) for row in edges) == sorted(
        [(ids["svc-a"], ids["svc-b"]), (ids["svc-a"], ids["ci"]), (ids["svc-b"], ids["ci"])]
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_concurrent_imports_of_one_bundle_all_succeed(
    graph: Graph, source: str, round_: int
) -> None:
    bundle = small_bundle(source)

    results = await asyncio.gather(
        *(BundleImporter(graph).load(bundle) for _ in range(TASKS)), return_exceptions=True
    )

    assert results == [EXPECTED_COUNTS] * TASKS
    await assert_small_bundle_loaded_once(graph, source)


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_concurrent_merges_of_the_same_teams_all_succeed(
    graph: Graph, source: str, round_: int
) -> None:
    keys = [f"team-{i}" for i in range(5)]
    rows = team_rows(source, keys)

    results = await asyncio.gather(
        *(graph.write(pq.UPSERT_TEAMS, rows=rows, now=utc_now()) for _ in range(TASKS)),
        return_exceptions=True,
    )

    assert results == [[{"written": len(keys)}]] * TASKS
    await assert_one_node_per_key(graph, source, dict.fromkeys(keys, "Team"))
    names = await graph.read(
        pq.TEAMS_BY_IDS, ids=[row["newId"] for row in rows], **UNLIMITED.params()
    )
    assert sorted(row["name"] for row in names) == sorted(key.upper() for key in keys)


async def test_concurrent_imports_of_overlapping_bundles(graph: Graph, source: str) -> None:
    # Different bundles, one shared CI: every import lands and the CI exists once.
    bundles = [
        {
            "source": source,
            "services": [{"externalId": f"svc-{i}", "name": f"S{i}"}],
            "configurationItems": [{"externalId": "shared", "name": "db", "ciClass": "db"}],
            "dependencies": [{"from": f"svc-{i}", "to": "shared"}],
        }
        for i in range(TASKS)
    ]

    results = await asyncio.gather(
        *(BundleImporter(graph).load(bundle) for bundle in bundles), return_exceptions=True
    )

    one_each = ImportCounts(
        teams=0, vendors=0, customers=0, services=1, configuration_items=1, dependencies=1
    )
    assert results == [one_each] * TASKS
    kinds = {"shared": "Component", **{f"svc-{i}": "Component" for i in range(TASKS)}}
    await assert_one_node_per_key(graph, source, kinds)
    shared = await ComponentRepository(graph).lookup(source, "shared")
    assert shared == stable_id("Component", source, "shared")
    services = [stable_id("Component", source, f"svc-{i}") for i in range(TASKS)]
    walk = await TraversalRepository(graph).dependants(shared, 1)
    assert sorted((c.component_id, c.depth) for c in walk.reached) == sorted(
        (service, 1) for service in services
    )
    assert sorted(walk.edges) == sorted((service, shared) for service in services)
    assert walk.truncated is False


# --- a graph no import has touched yet ----------------------------------------------------


@pytest.fixture
def fresh_connection(tmp_path: Path) -> Iterator[GraphConnection]:
    """A second embedded server of its own, on an empty database."""
    server = EmbeddedGraphServer(tmp_path, EmbeddedGraphSettings(heap="256m"))
    connection = server.attach_or_start()
    yield connection
    server.stop()


async def test_concurrent_first_imports_into_an_empty_graph_all_succeed(
    fresh_connection: GraphConnection, source: str
) -> None:
    # ArcadeDB creates the type of a two-label node ("Component~Service") on first use;
    # concurrent first uses used to fail all but one import. Migrations create it.
    fresh = Graph.connect(fresh_connection)
    try:
        await migrate(fresh)
        bundle = small_bundle(source)

        results = await asyncio.gather(
            *(BundleImporter(fresh).load(bundle) for _ in range(TASKS)), return_exceptions=True
        )

        assert results == [EXPECTED_COUNTS] * TASKS
        await assert_small_bundle_loaded_once(fresh, source)
        probes = ["migration-probe:Service", "migration-probe:ConfigurationItem"]
        assert await fresh.read(cq.COMPONENTS_BY_IDS, ids=probes, **UNLIMITED.params()) == []
    finally:
        await fresh.close()


# --- the retry itself, made deterministic ------------------------------------------------


async def test_a_constraint_failure_is_retried_until_the_write_succeeds(graph: Graph) -> None:
    calls: list[int] = []

    async def work(tx: Transaction) -> str:
        calls.append(len(calls))
        rows = await tx.run(sq.PING)
        if len(calls) < 3:
            raise ConstraintError("a concurrent MERGE created the key first")
        return f"done after {len(calls)} with {rows}"

    result = await graph.write_transaction(work)

    assert result == "done after 3 with [{'ok': 1}]"
    assert calls == [0, 1, 2]


async def test_a_constraint_failure_is_given_up_after_five_attempts(graph: Graph) -> None:
    calls: list[int] = []

    async def work(tx: Transaction) -> None:
        calls.append(len(calls))
        raise ConstraintError("the key is really taken")

    with pytest.raises(GraphError) as caught:
        await graph.write_transaction(work)

    assert isinstance(caught.value.__cause__, ConstraintError)
    assert len(calls) == 5


async def test_other_client_errors_are_not_retried(graph: Graph) -> None:
    calls: list[int] = []

    async def work(tx: Transaction) -> None:
        calls.append(len(calls))
        raise ClientError("a statement that can never succeed")

    with pytest.raises(GraphError) as caught:
        await graph.write_transaction(work)

    assert type(caught.value.__cause__) is ClientError
    assert calls == [0]


async def test_a_record_deleted_by_a_concurrent_transaction_is_retried(graph: Graph) -> None:
    calls: list[int] = []

    async def work(tx: Transaction) -> int:
        calls.append(len(calls))
        if len(calls) < 2:
            raise ClientError._hydrate_neo4j(  # how the driver builds server errors
                code="Neo.ClientError.Statement.EntityNotFound", message="record deleted"
            )
        return len(calls)

    assert await graph.write_transaction(work) == 2
