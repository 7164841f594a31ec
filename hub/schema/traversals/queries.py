"""The traversal questions: dependency chain, impact and coverage gaps."""

from __future__ import annotations

import asyncio

import strawberry

from hub.domain import models
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.graph.errors import NotFoundError
from hub.graph.repositories.traversals import Exposure, Reached
from hub.schema.agreements.types import load_agreements
from hub.schema.components.types import Component, component_type, load_component
from hub.schema.context import Info
from hub.schema.parties.types import Customer
from hub.schema.traversals.types import (
    ChainComponent,
    CoverageGap,
    DependencyChain,
    DependencyEdge,
    Impact,
    coverage_gap_types,
)

DEFAULT_MAX_DEPTH = 10


async def _root(info: Info, component_id: str) -> Component:
    root = await load_component(info, component_id)
    if root is None:
        raise NotFoundError("component", component_id)
    return root


def _depth(info: Info, max_depth: int | None) -> int:
    limit = info.context.api.max_traversal_depth
    if max_depth is None:
        return DEFAULT_MAX_DEPTH
    if not 0 <= max_depth <= limit:
        raise InvalidInputError([FieldProblem("maxDepth", f"must be from 0 to {limit}")])
    return max_depth


async def _read(info: Info, component_id: str, max_depth: int | None, *, impact: bool) -> Reached:
    """The walk with what it reached that the reader may read. The depth is checked
    only once the root is known to exist and be readable, as it always was."""
    try:
        depth = _depth(info, max_depth)
    except InvalidInputError:
        await _root(info, component_id)
        raise
    traversals = info.context.traversals
    read = traversals.read_impact if impact else traversals.read_chain
    reached = await read(component_id, depth)
    if reached.root is None:
        raise NotFoundError("component", component_id)
    # The walk read these under the request's scope, as the loader would: later
    # fields of the same request that load them find them there.
    primed: dict[str, models.Component | None] = {
        c.component_id: None for c in reached.walk.reached
    }
    info.context.loaders.component.prime_many(primed | reached.readable)
    return reached


def _components(reached: Reached) -> tuple[Component, dict[str, Component], list[ChainComponent]]:
    """The root, the readable components by id, and the chain's entries: the walk ran
    over the whole graph (depths stay true); what the reader may not read is left out,
    and so are the edges touching it."""
    by_id: dict[str, Component] = {
        node_id: component_type(c) for node_id, c in reached.readable.items()
    }
    entries = [
        ChainComponent(component=by_id[c.component_id], depth=c.depth)
        for c in reached.walk.reached
        if c.component_id in by_id
    ]
    return by_id[reached.walk.root_id], by_id, entries


@strawberry.type
class TraversalQueries:
    @strawberry.field(description="Everything `id` depends on, transitively, up to maxDepth hops.")
    async def dependency_chain(
        self, info: Info, id: strawberry.ID, max_depth: int | None = 10
    ) -> DependencyChain:
        reached = await _read(info, str(id), max_depth, impact=False)
        root, by_id, entries = _components(reached)
        return DependencyChain(
            root=root,
            components=entries,
            edges=[
                DependencyEdge(from_=by_id[a], to=by_id[b])
                for a, b in reached.walk.edges
                if a in by_id and b in by_id
            ],
            truncated=reached.walk.truncated,
        )

    @strawberry.field(
        description="Everything that depends on `id`, and the agreements and customers exposed."
    )
    async def impact(self, info: Info, id: strawberry.ID, max_depth: int | None = 10) -> Impact:
        reached = await _read(info, str(id), max_depth, impact=True)
        root, _, entries = _components(reached)
        exposure = reached.exposure or Exposure((), ())
        # Both through the request's scoped loaders, at once.
        agreements, customers = await asyncio.gather(
            load_agreements(info, exposure.agreement_ids),
            info.context.loaders.customer.load_many(list(exposure.customer_ids)),
        )
        return Impact(
            root=root,
            components=entries,
            agreements=agreements,
            customers=[Customer.from_domain(c) for c in customers if c is not None],
        )

    @strawberry.field(
        description="Gaps for one SLA in force, or for every SLA in force when slaId is "
        "omitted (judged with the OLAs and UCs in force)."
    )
    async def coverage_gaps(
        self, info: Info, sla_id: strawberry.ID | None = None
    ) -> list[CoverageGap]:
        gaps = await info.context.gaps.gaps(None if sla_id is None else str(sla_id))
        return await coverage_gap_types(info, gaps)
