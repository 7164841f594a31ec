"""A hub graph in a database of its own on the session's server, with a raw driver to
tamper with it (import as `from audit_support import ...`).

Tests that edit, remove or insert audit records by hand work there, so the chain the
other tests share stays intact. ArcadeDB creates and drops databases over its HTTP API,
which is cheaper than starting a second server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import httpx
import neo4j

from hub.graph.client import Graph, GraphConnection


@dataclass
class PrivateGraph:
    """A hub `Graph` on a database of its own, and a raw driver to tamper with it."""

    graph: Graph
    driver: neo4j.AsyncDriver
    connection: GraphConnection

    async def run(self, query: LiteralString, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = await self.driver.execute_query(
            query, params, database_=self.connection.database
        )
        return [dict(record) for record in records]

    async def record(self, sequence: int) -> dict[str, Any]:
        """The properties of the audit record at `sequence`."""
        rows = await self.run(
            "MATCH (r:AuditRecord {sequence: $sequence}) RETURN properties(r) AS props",
            sequence=sequence,
        )
        props: dict[str, Any] = rows[0]["props"]
        return props

    def env(self) -> dict[str, str]:
        """Settings that point a `hub` command at this database."""
        return {
            "HUB_NEO4J__URI": self.connection.uri,
            "HUB_NEO4J__USER": self.connection.user,
            "HUB_NEO4J__PASSWORD": self.connection.password,
            "HUB_NEO4J__DATABASE": self.connection.database or "",
        }


@asynccontextmanager
async def private_graph(
    graph_data_dir: Path, connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    name = f"audit_{uuid.uuid4().hex[:10]}"
    state = json.loads((graph_data_dir / "graph" / "server.json").read_text())
    url = f"http://127.0.0.1:{state['http_port']}/api/v1/server"
    auth = (connection.user, connection.password)
    async with httpx.AsyncClient(auth=auth, timeout=30) as http:
        created = await http.post(url, json={"command": f"create database {name}"})
        assert created.status_code == 200, created.text
        private = GraphConnection(connection.uri, connection.user, connection.password, name)
        graph = Graph.connect(private)
        driver = neo4j.AsyncGraphDatabase.driver(
            private.uri, auth=auth, notifications_min_severity="OFF"
        )
        try:
            yield PrivateGraph(graph, driver, private)
        finally:
            await graph.close()
            await driver.close()
            await http.post(url, json={"command": f"drop database {name}"})
