"""Dependency chains and blast radius, walked breadth-first one level per round trip."""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.models import ChainComponent, Walk
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import Cypher
from hub.graph.cypher import traversals as q
from hub.graph.ids import Clock, system_clock, to_iso


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a walk up from a component reaches: the agreement versions in force (by kind
    and name) and the customers of the SLAs among them (by name)."""

    agreement_ids: tuple[str, ...]
    customer_ids: tuple[str, ...]


class TraversalRepository:
    def __init__(self, graph: Graph, clock: Clock = system_clock) -> None:
        # `clock` says when "in force" is judged (one instant per request).
        self._graph = graph
        self._clock = clock

    async def dependency_chain(self, root_id: str, max_depth: int) -> Walk:
        """Everything `root_id` depends on, transitively, up to `max_depth` hops."""
        return await self._walk(q.DEPENDENCIES_OF, root_id, max_depth, with_edges=True)

    async def dependants(self, root_id: str, max_depth: int, *, with_edges: bool = True) -> Walk:
        """Everything that depends on `root_id`, transitively, up to `max_depth` hops.

        Without edges the walk reads one row per component instead of one per edge.
        """
        step = q.DEPENDANTS_OF if with_edges else q.DEPENDANT_IDS_OF
        return await self._walk(step, root_id, max_depth, with_edges=with_edges)

    async def exposure(self, component_ids: list[str]) -> Exposure:
        """The agreement versions in force now that cover these components."""
        rows = await self._graph.read(
            q.ACTIVE_AGREEMENTS_COVERING, ids=component_ids, now=to_iso(self._clock())
        )
        agreements = tuple(dict.fromkeys(r["id"] for r in rows))
        with_customer = sorted(
            (r["customerName"], r["customerId"]) for r in rows if r["customerId"]
        )
        customers = tuple(dict.fromkeys(customer_id for _, customer_id in with_customer))
        return Exposure(agreements, customers)

    async def _walk(self, step: Cypher, root_id: str, max_depth: int, *, with_edges: bool) -> Walk:
        """Breadth-first over ACTIVE components; each reached node is expanded once.

        The levels are statements of one read transaction (one snapshot, one session).
        Edges are kept as (consumer, provider) whichever way the walk goes. After the
        last allowed level, one more step finds the edges among what was reached and
        tells whether anything lay beyond (`truncated`).
        """

        async def walk(tx: Transaction) -> Walk:
            status = await tx.run(q.COMPONENT_STATUS, id=root_id)
            if not status or status[0]["status"] != "ACTIVE":
                return Walk(root_id, (), (), False)
            depth_of: dict[str, int] = {root_id: 0}
            edges: dict[tuple[str, str], None] = {}
            frontier, depth, truncated = [root_id], 0, False
            while frontier:
                rows = await tx.run(step, frontier=frontier)
                last = depth == max_depth
                depth += 1
                reached: list[str] = []
                for row in rows:
                    node = row["next"]
                    if node not in depth_of:
                        if last:
                            truncated = True
                            continue
                        depth_of[node] = depth
                        reached.append(node)
                    if with_edges:
                        edges[(row["source"], row["target"])] = None
                if last:
                    break
                frontier = reached
            del depth_of[root_id]
            components = tuple(
                ChainComponent(node, d)
                for node, d in sorted(depth_of.items(), key=lambda item: (item[1], item[0]))
            )
            return Walk(root_id, components, tuple(edges), truncated)

        return await self._graph.read_transaction(walk)
