"""Helpers shared by test modules (import them as `from support import ...`).

They live here rather than in `conftest.py`: several directories have a conftest of
their own, and a module named `conftest` is ambiguous to import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import BundleImporter, ComponentRepository

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
