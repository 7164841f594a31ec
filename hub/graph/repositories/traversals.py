"""Dependency chains and blast radius, walked breadth-first one level per round trip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import ChainComponent, Component, LifecycleStatus, Walk
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import Cypher
from hub.graph.cypher import traversals as q
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.components import component_from_row


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a walk up from a component reaches: the agreement versions in force (by kind
    and name) and the customers of the SLAs among them (by name)."""

    agreement_ids: tuple[str, ...]
    customer_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reached:
    """A walk read for an answer: the root and the components reached that the scope
    lets the reader read (`readable`, by id, the root among them), and for an impact
    the exposure. `root` is None when there is no such component or it is not readable;
    the walk is then empty."""

    root: Component | None
    walk: Walk
    readable: dict[str, Component] = field(default_factory=dict)
    exposure: Exposure | None = None


class TraversalRepository:
    def __init__(self, graph: Graph, clock: Clock = system_clock, scope: Scope = UNLIMITED) -> None:
        # `clock` says when "in force" is judged (one instant per request). `scope` is
        # the access checkpoint of the components `read_chain` and `read_impact` return
        # (the walks themselves go through every component).
        self._graph = graph
        self._clock = clock
        self._scope = scope

    async def dependency_chain(self, root_id: str, max_depth: int) -> Walk:
        """Everything `root_id` depends on, transitively, up to `max_depth` hops."""
        return await self._walk(q.DEPENDENCIES_OF, root_id, max_depth, with_edges=True)

    async def dependants(self, root_id: str, max_depth: int, *, with_edges: bool = True) -> Walk:
        """Everything that depends on `root_id`, transitively, up to `max_depth` hops.

        Without edges the walk reads one row per component instead of one per edge.
        """
        step = q.DEPENDANTS_OF if with_edges else q.DEPENDANT_IDS_OF
        return await self._walk(step, root_id, max_depth, with_edges=with_edges)

    async def read_chain(self, root_id: str, max_depth: int) -> Reached:
        """`dependency_chain` with the readable components it reaches, edges included,
        in one read transaction."""
        return await self._graph.read_transaction(
            lambda tx: self._read(tx, q.DEPENDENCIES_LEVEL, root_id, max_depth, impact=False)
        )

    async def read_impact(self, root_id: str, max_depth: int) -> Reached:
        """`dependants` (no edges) with the readable components it reaches and the
        exposure of the root and everything reached, in one read transaction."""
        return await self._graph.read_transaction(
            lambda tx: self._read(tx, q.DEPENDANTS_LEVEL, root_id, max_depth, impact=True)
        )

    async def exposure(self, component_ids: Sequence[str]) -> Exposure:
        """The agreement versions in force now that cover these components, and their
        customers (what a failure of all of them exposes)."""
        ids = list(component_ids)
        return await self._graph.read_transaction(lambda tx: self._exposure(tx, ids))

    async def _exposure(self, tx: Transaction, component_ids: list[str]) -> Exposure:
        """The agreement versions in force now that cover these components."""
        rows = await tx.run(
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

    async def _read(
        self, tx: Transaction, step: Cypher, root_id: str, max_depth: int, *, impact: bool
    ) -> Reached:
        """Breadth-first as `_walk`, one record per level (`DEPENDENCIES_LEVEL`,
        `DEPENDANTS_LEVEL`) that also holds the fields of the frontier's components
        under the scope's predicate; the first level's frontier is the root."""
        scope = self._scope.params()
        empty = Walk(root_id, (), (), False)
        depth_of: dict[str, int] = {root_id: 0}
        edges: dict[tuple[str, str], None] = {}
        readable: dict[str, Component] = {}
        root: Component | None = None
        frontier, depth, truncated = [root_id], 0, False
        while frontier:
            # An aggregate without grouping keys: always one record, [] if nothing matched.
            (record,) = await tx.run(step, frontier=frontier, **scope)
            level: list[dict[str, Any]] = record["level"]
            for row in level:
                if row["props"] is not None:
                    readable[row["id"]] = component_from_row(
                        row["props"], row["labels"], row["ownerId"]
                    )
            if depth == 0:
                root = readable.get(root_id)
                if root is None:
                    return Reached(None, empty)
                if root.status is not LifecycleStatus.ACTIVE:
                    return Reached(root, empty, readable, Exposure((), ()) if impact else None)
            last = depth == max_depth
            depth += 1
            reached: list[str] = []
            for row in level:
                for node in row["next"]:
                    if node not in depth_of:
                        if last:
                            truncated = True
                            continue
                        depth_of[node] = depth
                        reached.append(node)
                    if not impact:
                        edges[(row["id"], node)] = None
            if last:
                break
            frontier = reached
        del depth_of[root_id]
        components = tuple(
            ChainComponent(node, d)
            for node, d in sorted(depth_of.items(), key=lambda item: (item[1], item[0]))
        )
        walk = Walk(root_id, components, tuple(edges), truncated)
        if not impact:
            return Reached(root, walk, readable)
        exposure = await self._exposure(tx, [root_id, *(c.component_id for c in components)])
        return Reached(root, walk, readable, exposure)
