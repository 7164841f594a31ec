"""Answers to the graph questions: dependency chains, blast radius, coverage gaps."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from hub.domain.gaps import Gap, GapKind
from hub.schema.agreements.types import Agreement, ServiceLevelAgreement, load_agreements
from hub.schema.base import Indicator
from hub.schema.components.types import Component, load_components
from hub.schema.context import Info
from hub.schema.parties.types import Customer

strawberry.enum(GapKind)


@strawberry.type
class ChainComponent:
    component: Component
    depth: int = strawberry.field(description="Fewest DEPENDS_ON hops from the root (1 = direct).")


@strawberry.type
class DependencyEdge:
    from_: Component = strawberry.field(name="from")
    to: Component


@strawberry.type
class DependencyChain:
    root: Component
    components: list[ChainComponent]
    edges: list[DependencyEdge]
    truncated: bool = strawberry.field(description="True when maxDepth cut the walk short.")


@strawberry.type
class Impact:
    root: Component
    components: list[ChainComponent]
    agreements: list[Agreement]
    customers: list[Customer]


@strawberry.type
class CoverageGap:
    sla: ServiceLevelAgreement
    component: Component | None
    kind: GapKind
    indicator: Indicator | None
    required: float | None
    provided: float | None
    detail: str


async def coverage_gap_types(info: Info, gaps: Sequence[Gap]) -> list[CoverageGap]:
    """`gaps` as GraphQL values, their SLAs and components loaded in batches."""
    slas = {
        str(a.id): a
        for a in await load_agreements(info, sorted({g.sla_id for g in gaps}))
        if isinstance(a, ServiceLevelAgreement)
    }
    component_ids = sorted({g.component_id for g in gaps if g.component_id})
    components = {str(c.id): c for c in await load_components(info, component_ids)}
    # A gap of an SLA the reader may not read is left out; one on a component of the
    # chain that the reader may not read keeps its verdict without naming it.
    told = [
        g if g.component_id is None or g.component_id in components else g.without_component()
        for g in gaps
        if g.sla_id in slas
    ]
    return [
        CoverageGap(
            sla=slas[g.sla_id],
            component=None if g.component_id is None else components[g.component_id],
            kind=g.kind,
            indicator=g.indicator,
            required=g.required,
            provided=g.provided,
            detail=g.detail,
        )
        for g in told
    ]
