"""The per-request GraphQL context: who asks, their loaders and repositories."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import strawberry

from hub.domain.access import Scope
from hub.domain.boards import Board
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import Tier
from hub.domain.workflow import Actor
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import (
    AgreementRepository,
    AuditRepository,
    ComponentRepository,
    CoverageGapRepository,
    ObjectiveRepository,
    PartyRepository,
    TraversalRepository,
)
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.ownership import OwnershipRepository
from hub.graph.repositories.reviews import ReviewRepository
from hub.graph.repositories.sunset import SunsetRepository
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.schema.loaders import Loaders
from hub.settings import (
    ApiSettings,
    RemediationSettings,
    Settings,
    SloSettings,
    TierMonitoringSettings,
)


@dataclass(frozen=True, slots=True)
class RemediationContext:
    """What remediation's repositories are made of for one request: the graph, the
    token's scope, the request's clock and actor, and the settings (`settings` is None
    where a test builds a context without them: then nothing is notified)."""

    graph: Graph
    scope: Scope
    clock: Callable[[], datetime]
    actor: Actor
    policy: RemediationSettings
    settings: Settings | None


L = TypeVar("L")


def loader(info: strawberry.Info[Context, None], name: str, make: Callable[[Context], L]) -> L:
    """The request's dataloader `name`, made by `make` on first use."""
    cache = info.context.loader_cache
    if name not in cache:
        cache[name] = make(info.context)
    found: L = cache[name]
    return found


@dataclass(slots=True)
class Context:
    actor: Actor
    api: ApiSettings
    components: ComponentRepository
    parties: PartyRepository
    agreements: AgreementRepository
    traversals: TraversalRepository
    gaps: CoverageGapRepository
    loaders: Loaders
    sync: SyncRepository
    service_levels: ServiceLevels
    audit: AuditRepository
    exceptions: ExceptionRepository
    sunset: SunsetRepository
    reviews: ReviewRepository
    ownership: OwnershipRepository
    # [slo.monitoring]: the default mode of each tier (hub.domain.monitoring).
    monitoring: dict[Tier, TierMonitoringSettings]
    approvals_required: int = 1
    # Approval boards (policy.boards): which groups sign a version, fixed at submission.
    boards: tuple[Board, ...] = ()
    # Given by the app when it runs connectors; the schema does not know them.
    run_sync: Callable[[str], Awaitable[SyncRun]] | None = None
    # The request's one instant (see `create`): fields that default to "now" use it, so
    # a page of them agrees and their loaders batch into one call.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # What remediation's repositories are built from (hub.schema.remediation).
    remediation: RemediationContext | None = None
    # Per-request dataloaders made on first use by modules that own them (`loader`).
    loader_cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        graph: Graph,
        actor: Actor,
        api: ApiSettings,
        approvals_required: int = 1,
        run_sync: Callable[[str], Awaitable[SyncRun]] | None = None,
        slo: SloSettings | None = None,
        boards: Sequence[Board] = (),
        settings: Settings | None = None,
    ) -> Context:
        # The one place where a request's scope is bound: every repository that reads
        # or changes scoped records gets the token's scope here, and applies it to each
        # statement (hub.graph.cypher.scope). Loaders go through these repositories.
        # One instant per request: what is in force, and every derived status, is
        # judged at it, however many statements the request sends.
        now = datetime.now(UTC)

        def clock() -> datetime:
            return now

        scope = actor.scope.at(now)
        components = ComponentRepository(graph, scope)
        parties = PartyRepository(graph, scope)
        agreements = AgreementRepository(graph, scope, clock)
        gaps = CoverageGapRepository(graph, scope, clock, api.max_traversal_depth)
        slo = slo or SloSettings()
        service_levels = ServiceLevels(graph, slo, scope)
        ownership = OwnershipRepository(graph, scope, clock)
        return cls(
            actor=actor,
            api=api,
            components=components,
            parties=parties,
            agreements=agreements,
            traversals=TraversalRepository(graph, clock, scope),
            gaps=gaps,
            loaders=Loaders.create(
                components,
                parties,
                agreements,
                gaps,
                service_levels,
                ObjectiveRepository(graph, scope),
                ownership,
            ),
            sync=SyncRepository(graph),
            service_levels=service_levels,
            audit=AuditRepository.for_actor(graph, actor),
            exceptions=ExceptionRepository(graph, scope),
            sunset=SunsetRepository(graph, scope, clock),
            reviews=ReviewRepository(graph, scope, clock),
            ownership=ownership,
            monitoring=slo.monitoring,
            approvals_required=approvals_required,
            boards=tuple(boards),
            run_sync=run_sync,
            now=now,
            remediation=RemediationContext(
                graph,
                scope,
                clock,
                actor,
                settings.remediation if settings else RemediationSettings(),
                settings,
            ),
        )

    def page_size(self, first: int | None) -> int:
        """The page size asked for, bounded by the settings."""
        size = self.api.default_page_size if first is None else first
        if size < 0:
            raise InvalidInputError([FieldProblem("first", "must be 0 or more")])
        return min(size, self.api.max_page_size)


Info = strawberry.Info[Context, None]
