"""The traversal questions: dependency chain, impact and coverage gaps."""

from __future__ import annotations

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.graph.errors import NotFoundError
from hub.schema.agreements.types import load_agreements
from hub.schema.components.types import Component, load_component, load_components
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
        return min(DEFAULT_MAX_DEPTH, limit)
    if not 0 <= max_depth <= limit:
        raise InvalidInputError([FieldProblem("maxDepth", f"must be from 0 to {limit}")])
    return max_depth


@strawberry.type
class TraversalQueries:
    @strawberry.field(description="Everything `id` depends on, transitively, up to maxDepth hops.")
    async def dependency_chain(
        self, info: Info, id: strawberry.ID, max_depth: int | None = 10
    ) -> DependencyChain:
        root = await _root(info, str(id))
        walk = await info.context.traversals.dependency_chain(str(id), _depth(info, max_depth))
        # The walk ran over the whole graph (depths stay true); the loader leaves out
        # what the reader may not read, and so do the edges touching it.
        reached = await load_components(info, [c.component_id for c in walk.reached])
        by_id = {str(c.id): c for c in [root, *reached]}
        return DependencyChain(
            root=root,
            components=[
                ChainComponent(component=by_id[c.component_id], depth=c.depth)
                for c in walk.reached
                if c.component_id in by_id
            ],
            edges=[
                DependencyEdge(from_=by_id[a], to=by_id[b])
                for a, b in walk.edges
                if a in by_id and b in by_id
            ],
            truncated=walk.truncated,
        )

    @strawberry.field(
        description="Everything that depends on `id`, and the agreements and customers exposed."
    )
    async def impact(self, info: Info, id: strawberry.ID, max_depth: int | None = 10) -> Impact:
        root = await _root(info, str(id))
        walk = await info.context.traversals.dependants(
            str(id), _depth(info, max_depth), with_edges=False
        )
        reached_ids = [c.component_id for c in walk.reached]
        reached = await load_components(info, reached_ids)
        by_id = {str(c.id): c for c in reached}
        exposure = await info.context.traversals.exposure([str(id), *reached_ids])
        customers = await info.context.loaders.customer.load_many(list(exposure.customer_ids))
        return Impact(
            root=root,
            components=[
                ChainComponent(component=by_id[c.component_id], depth=c.depth)
                for c in walk.reached
                if c.component_id in by_id
            ],
            agreements=await load_agreements(info, exposure.agreement_ids),
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
