"""Dependency chains and blast radius, walked breadth-first one level per round trip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import Component, LifecycleStatus, Walk
from hub.domain.walks import BreadthFirst
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


async def walk_down(tx: Transaction, roots: Sequence[str], max_depth: int) -> BreadthFirst:
    """The shared walk down dependencies: everything within `max_depth` hops below any
    of `roots` through ACTIVE components, seeded with all of them at once, one
    statement per level for every root together (`DOWN_LEVEL`), in `tx`.

    Each level is taken in frontier order with each node's providers in id order, so
    a node reached at the same depth from several roots keeps the first root's path
    (`BreadthFirst.path`); `BreadthFirst.reach` tells what each root reaches. Root
    cause and coverage gaps walk with this; chains and impact with the same
    `BreadthFirst` and statements that also carry each component's fields.
    """
    walk = BreadthFirst(roots, max_depth)
    while walk.frontier:
        records = await tx.run(q.DOWN_LEVEL, frontier=walk.frontier)
        below = {row["id"]: row["next"] for row in records[0]["level"]} if records else {}
        walk.expand((node, sorted(below.get(node, ()))) for node in walk.frontier)
    return walk


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

    async def walk_down(self, roots: Sequence[str], max_depth: int) -> BreadthFirst:
        """`walk_down` in a read transaction of its own."""
        seeds = list(roots)
        return await self._graph.read_transaction(lambda tx: walk_down(tx, seeds, max_depth))

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
        upward = step is not q.DEPENDENCIES_OF

        async def walk(tx: Transaction) -> Walk:
            status = await tx.run(q.COMPONENT_STATUS, id=root_id)
            if not status or status[0]["status"] != "ACTIVE":
                return Walk(root_id, (), (), False)
            walk = BreadthFirst([root_id], max_depth, probe=True, keep_edges=with_edges)
            while walk.frontier:
                rows = await tx.run(step, frontier=walk.frontier)
                if not with_edges:
                    walk.expand_ids(row["next"] for row in rows)
                elif upward:
                    walk.expand((row["target"], (row["next"],)) for row in rows)
                else:
                    walk.expand((row["source"], (row["next"],)) for row in rows)
            return walk.walk(root_id, upward=upward)

        return await self._graph.read_transaction(walk)

    async def _read(
        self, tx: Transaction, step: Cypher, root_id: str, max_depth: int, *, impact: bool
    ) -> Reached:
        """Breadth-first as `_walk`, one record per level (`DEPENDENCIES_LEVEL`,
        `DEPENDANTS_LEVEL`) that also holds the fields of the frontier's components
        under the scope's predicate; the first level's frontier is the root."""
        scope = self._scope.params()
        empty = Walk(root_id, (), (), False)
        readable: dict[str, Component] = {}
        root: Component | None = None
        walk = BreadthFirst([root_id], max_depth, probe=True, keep_edges=not impact)
        while walk.frontier:
            # An aggregate without grouping keys: always one record, [] if nothing matched.
            (record,) = await tx.run(step, frontier=walk.frontier, **scope)
            level: list[dict[str, Any]] = record["level"]
            for row in level:
                if row["props"] is not None:
                    readable[row["id"]] = component_from_row(
                        row["props"], row["labels"], row["ownerId"]
                    )
            if walk.depth == 0:
                root = readable.get(root_id)
                if root is None:
                    return Reached(None, empty)
                if root.status is not LifecycleStatus.ACTIVE:
                    return Reached(root, empty, readable, Exposure((), ()) if impact else None)
            if impact:
                walk.expand_ids(node for row in level for node in row["next"])
            else:
                walk.expand((row["id"], row["next"]) for row in level)
        result = walk.walk(root_id)
        if not impact:
            return Reached(root, result, readable)
        exposure = await self._exposure(tx, [root_id, *(c.component_id for c in result.reached)])
        return Reached(root, result, readable, exposure)
