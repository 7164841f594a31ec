"""Opening the graph for a process: Neo4j when configured, else the embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.settings import Settings


@contextmanager
def graph_connection(settings: Settings) -> Iterator[GraphConnection]:
    """How to reach the graph for as long as the block runs.

    With no Neo4j URI, attach to the embedded server a running hub owns, or start one
    for the block's duration and stop it afterwards.
    """
    if not settings.uses_embedded_graph:
        assert settings.neo4j.uri is not None
        password = settings.neo4j.password
        yield GraphConnection(
            uri=settings.neo4j.uri,
            user=settings.neo4j.user,
            password="" if password is None else password.get_secret_value(),
            database=settings.neo4j.database,
        )
        return
    server = EmbeddedGraphServer(settings.data_dir, settings.embedded)
    connection = server.attach_or_start()
    try:
        yield connection
    finally:
        server.stop()


def connect_graph(settings: Settings, connection: GraphConnection) -> Graph:
    """A `Graph` on `connection` with the settings' timeouts; not migrated."""
    return Graph.connect(
        connection,
        connection_timeout=settings.neo4j.connection_timeout_seconds,
        max_transaction_retry_time=settings.neo4j.max_transaction_retry_seconds,
        transaction_timeout=settings.neo4j.transaction_timeout_seconds,
    )


@asynccontextmanager
async def open_graph(settings: Settings, connection: GraphConnection) -> AsyncIterator[Graph]:
    """A migrated `Graph` on `connection`, closed when the block ends."""
    graph = connect_graph(settings, connection)
    try:
        await migrate(graph)
        yield graph
    finally:
        await graph.close()
