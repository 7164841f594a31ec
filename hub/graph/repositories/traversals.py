"""Dependency chains and blast radius, walked breadth-first one level per round trip."""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.models import ChainComponent, Walk
from hub.graph.client import Graph
from hub.graph.cypher import Cypher
from hub.graph.cypher import traversals as q


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a walk up from a component reaches: ACTIVE agreements (by kind and name) and
    the customers of the SLAs among them (by name)."""

    agreement_ids: tuple[str, ...]
    customer_ids: tuple[str, ...]


class TraversalRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def dependency_chain(self, root_id: str, max_depth: int) -> Walk:
        """Everything `root_id` depends on, transitively, up to `max_depth` hops."""
        return await self._walk(q.DEPENDENCIES_OF, root_id, max_depth)

    async def dependants(self, root_id: str, max_depth: int) -> Walk:
        """Everything that depends on `root_id`, transitively, up to `max_depth` hops."""
        return await self._walk(q.DEPENDANTS_OF, root_id, max_depth)

    async def exposure(self, component_ids: list[str]) -> Exposure:
        rows = await self._graph.read(q.ACTIVE_AGREEMENTS_COVERING, ids=component_ids)
        agreements = tuple(dict.fromkeys(r["id"] for r in rows))
        with_customer = sorted(
            (r["customerName"], r["customerId"]) for r in rows if r["customerId"]
        )
        customers = tuple(dict.fromkeys(customer_id for _, customer_id in with_customer))
        return Exposure(agreements, customers)

    async def _walk(self, step: Cypher, root_id: str, max_depth: int) -> Walk:
        """Breadth-first over ACTIVE components; each reached node is expanded once.

        Edges are kept as (consumer, provider) whichever way the walk goes. After the
        last allowed level, one more step finds the edges among what was reached and
        tells whether anything lay beyond (`truncated`).
        """
        status = await self._graph.read(q.COMPONENT_STATUS, id=root_id)
        if not status or status[0]["status"] != "ACTIVE":
            return Walk(root_id, (), (), False)
        depth_of: dict[str, int] = {root_id: 0}
        edges: dict[tuple[str, str], None] = {}
        frontier = [root_id]
        depth = 0
        truncated = False
        while frontier:
            rows = await self._graph.read(step, frontier=frontier)
            if depth == max_depth:
                for row in rows:
                    edge = (row["source"], row["target"])
                    if edge[0] in depth_of and edge[1] in depth_of:
                        edges[edge] = None
                    else:
                        truncated = True
                break
            depth += 1
            reached: list[str] = []
            for row in rows:
                edges[(row["source"], row["target"])] = None
                for node in (row["source"], row["target"]):
                    if node not in depth_of:
                        depth_of[node] = depth
                        reached.append(node)
            frontier = reached
        del depth_of[root_id]
        components = tuple(
            ChainComponent(node, d)
            for node, d in sorted(depth_of.items(), key=lambda i: (i[1], i[0]))
        )
        return Walk(root_id, components, tuple(edges), truncated)
