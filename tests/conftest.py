"""Shared fixtures: one real embedded graph server for the whole session.

Tests stay apart by source: each test imports its records under a source name of
its own, so ids never collide and walks never cross into another test's graph.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher, all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ComponentRepository
from hub.settings import ApiSettings, EmbeddedGraphSettings

TEST_HEAP = "512m"


@pytest.fixture(scope="session")
def graph_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hub-data")


@pytest.fixture(scope="session")
def graph_connection(graph_data_dir: Path) -> Iterator[GraphConnection]:
    server = EmbeddedGraphServer(graph_data_dir, EmbeddedGraphSettings(heap=TEST_HEAP))
    connection = server.attach_or_start()
    yield connection
    server.stop()


@pytest.fixture(scope="session")
async def graph(graph_connection: GraphConnection) -> AsyncIterator[Graph]:
    g = Graph.connect(graph_connection)
    unregistered: list[str] = []
    registered = {statement.text for statement in all_statements().values()}

    def check(statement: Cypher) -> None:
        if statement.text not in registered:
            unregistered.append(statement.text)

    # Every statement sent must be one that the dialect test checks with Neo4j's parser.
    g.add_listener(check)
    await migrate(g)
    yield g
    await g.close()
    assert unregistered == [], "statements sent that are not constants of hub.graph.cypher"


@pytest.fixture
def source() -> str:
    """A source name no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings()


EDITOR = Actor(user="erin", role=Role.EDITOR)
APPROVER = Actor(user="abe", role=Role.APPROVER)
VIEWER = Actor(user="vic", role=Role.VIEWER)


class GraphBuilder:
    """Builds small graphs from plain edges through the real import path."""

    def __init__(self, graph: Graph, source: str) -> None:
        self.graph = graph
        self.source = source
        self.components = ComponentRepository(graph)

    async def load(
        self,
        edges: Sequence[tuple[str, str]] = (),
        nodes: Sequence[str] = (),
        services: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        """Import `nodes` and the ends of `edges` (keys in `services` become services);
        return their ids by key."""
        keys = list(dict.fromkeys([*nodes, *[k for e in edges for k in e], *services]))
        bundle: dict[str, Any] = {
            "source": self.source,
            "services": [{"externalId": k, "name": k} for k in keys if k in services],
            "configurationItems": [
                {"externalId": k, "name": k, "ciClass": "cmdb_ci_server"}
                for k in keys
                if k not in services
            ],
            "dependencies": [{"from": a, "to": b} for a, b in edges],
            **(extra or {}),
        }
        await BundleImporter(self.graph).load(bundle)
        return await self.ids(keys)

    async def ids(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in keys:
            node_id = await self.components.lookup(self.source, key)
            assert node_id is not None, key
            found[key] = node_id
        return found


@pytest.fixture
def builder(graph: Graph, source: str) -> GraphBuilder:
    return GraphBuilder(graph, source)
