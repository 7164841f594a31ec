"""Every graph call has a time limit: a server that never answers (ArcadeDB drops a
Bolt message over 16 MiB without a word) costs the caller the limit, not forever, and
gives back its pooled connection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import neo4j
import pytest

from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import GraphTimeoutError
from hub.graph.repositories import ComponentRepository
from hub.graph.session import open_graph
from hub.settings import Settings

UNANSWERED = "x" * (17 << 20)


@pytest.fixture
async def one_connection(graph_connection: GraphConnection) -> AsyncIterator[Graph]:
    """A graph whose driver has a pool of one connection and a 2 s transaction limit."""
    driver = neo4j.AsyncGraphDatabase.driver(
        graph_connection.uri,
        auth=(graph_connection.user, graph_connection.password),
        max_connection_pool_size=1,
        connection_acquisition_timeout=5,
        notifications_min_severity="OFF",
    )
    graph = Graph(driver, graph_connection.database, transaction_timeout=2)
    yield graph
    await graph.close()


async def test_a_statement_never_answered_times_out_and_frees_its_connection(
    one_connection: Graph,
) -> None:
    started = time.monotonic()
    with pytest.raises(GraphTimeoutError, match="did not answer within 2 s"):
        await ComponentRepository(one_connection).list_services(limit=1, name_contains=UNANSWERED)
    waited = time.monotonic() - started

    # The only connection of the pool is usable again at once (a leaked one would make
    # this wait for the acquisition timeout and fail).
    started = time.monotonic()
    await one_connection.ping()

    assert 2 <= waited < 6
    assert time.monotonic() - started < 2


async def test_the_transaction_limit_comes_from_the_settings(
    graph_connection: GraphConnection, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, neo4j={"transaction_timeout_seconds": 1})
    async with open_graph(settings, graph_connection) as graph:
        started = time.monotonic()
        with pytest.raises(GraphTimeoutError, match="within 1 s"):
            await ComponentRepository(graph).list_services(limit=1, name_contains=UNANSWERED)

    assert time.monotonic() - started < 5
