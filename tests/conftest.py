"""Shared fixtures: one real embedded graph server for the whole session.

Tests stay apart by source: each test imports its records under a source name of
its own, so ids never collide and walks never cross into another test's graph.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fakes.server import serve_app
from fakes.servicenow import FakeServiceNow
from support import GraphBuilder

from hub.connectors.http import RetryPolicy, SourceClient
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher, all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.settings import EmbeddedGraphSettings

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
def builder(graph: Graph, source: str) -> GraphBuilder:
    return GraphBuilder(graph, source)


# ---- a fake ServiceNow on loopback, for the connector and sync tests -----------------

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5)


@pytest.fixture
def fake() -> FakeServiceNow:
    return FakeServiceNow(username="hub", password="s3cret-pw", now="2026-03-01 08:00:00")


@pytest.fixture
def fake_url(fake: FakeServiceNow) -> Iterator[str]:
    with serve_app(fake.app) as url:
        yield url


@pytest.fixture
async def client(fake_url: str) -> AsyncIterator[SourceClient]:
    async with SourceClient(
        "servicenow", fake_url, auth=("hub", "s3cret-pw"), timeout=2.0, retry=FAST_RETRY
    ) as c:
        yield c
