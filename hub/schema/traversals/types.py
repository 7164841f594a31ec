"""Answers to the graph questions: dependency chains, blast radius, coverage gaps."""

from __future__ import annotations

import strawberry

from hub.domain.gaps import GapKind
from hub.schema.agreements.types import Agreement, ServiceLevelAgreement
from hub.schema.base import Indicator
from hub.schema.components.types import Component
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
