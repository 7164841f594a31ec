"""Per-request DataLoaders: one batched repository call per kind of lookup.

Created afresh for every request in `hub.schema.context`, so no cache outlives it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from strawberry.dataloader import DataLoader

from hub.domain import models
from hub.domain.budget import ObjectiveStatus
from hub.domain.gaps import Gap
from hub.domain.monitoring import ObjectiveMonitoring
from hub.engine.service import ServiceLevels
from hub.graph.repositories import (
    AgreementRepository,
    ComponentRepository,
    CoverageGapRepository,
    ObjectiveRepository,
    PartyRepository,
)
from hub.graph.repositories.agreements import ServiceSla
from hub.graph.repositories.levels import EffectiveTerms
from hub.graph.repositories.ownership import OwnershipRepository
from hub.graph.repositories.telemetry import Discrepancy

K = TypeVar("K")
V = TypeVar("V")


def _by_key(
    fetch: Callable[[Sequence[str]], Awaitable[dict[str, V]]],
) -> Callable[[list[str]], Awaitable[list[V | None]]]:
    async def load(keys: list[str]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key) for key in keys]

    return load


def _lists(
    fetch: Callable[[Sequence[str]], Awaitable[dict[str, list[V]]]],
) -> Callable[[list[str]], Awaitable[list[list[V]]]]:
    async def load(keys: list[str]) -> list[list[V]]:
        found = await fetch(keys)
        return [found.get(key, []) for key in keys]

    return load


@dataclass(frozen=True, slots=True)
class Loaders:
    component: DataLoader[str, models.Component | None]
    external_refs: DataLoader[str, list[models.ExternalRef]]
    team: DataLoader[str, models.Team | None]
    vendor: DataLoader[str, models.Vendor | None]
    customer: DataLoader[str, models.Customer | None]
    agreement: DataLoader[str, models.Agreement | None]
    versions: DataLoader[str, list[models.Agreement]]
    objectives: DataLoader[str, list[models.Objective]]
    covered_ids: DataLoader[str, list[str]]
    underpinning_ids: DataLoader[str, list[str]]
    sla_ids_of_service: DataLoader[str, list[ServiceSla]]
    gaps_of_sla: DataLoader[str, list[Gap]]
    service_objectives: DataLoader[str, list[models.Objective]]
    objective: DataLoader[str, models.Objective | None]
    objective_status: DataLoader[tuple[models.Objective, datetime], ObjectiveStatus]
    discrepancies: DataLoader[tuple[str, datetime, datetime], list[Discrepancy]]
    # Multi-level SLAs: the child versions in force of a lineage, a version's
    # effective terms (keyed by the version read, cached by its id).
    children_ids: DataLoader[str, list[str]]
    effective_terms: DataLoader[models.Agreement, EffectiveTerms]
    # Owner teams, explicit mode and tier of an objective (hub.domain.monitoring).
    monitoring: DataLoader[str, ObjectiveMonitoring | None]

    @classmethod
    def create(
        cls,
        components: ComponentRepository,
        parties: PartyRepository,
        agreements: AgreementRepository,
        gaps: CoverageGapRepository,
        service_levels: ServiceLevels,
        objectives: ObjectiveRepository,
        ownership: OwnershipRepository,
    ) -> Loaders:
        return cls(
            component=DataLoader(_by_key(components.by_ids)),
            external_refs=DataLoader(_lists(components.refs_by_node_ids)),
            team=DataLoader(_by_key(parties.teams_by_ids)),
            vendor=DataLoader(_by_key(parties.vendors_by_ids)),
            customer=DataLoader(_by_key(parties.customers_by_ids)),
            agreement=DataLoader(_by_key(agreements.by_ids)),
            versions=DataLoader(_lists(agreements.versions_by_lineages)),
            objectives=DataLoader(_lists(agreements.objectives_by_agreement_ids)),
            covered_ids=DataLoader(_lists(agreements.covered_ids_by_agreement_ids)),
            underpinning_ids=DataLoader(_lists(agreements.underpinning_ids_by_sla_ids)),
            sla_ids_of_service=DataLoader(_lists(agreements.sla_ids_by_service_ids)),
            gaps_of_sla=DataLoader(_lists(gaps.gaps_by_sla_ids)),
            service_objectives=DataLoader(_lists(objectives.objectives_by_service_ids)),
            objective=DataLoader(_by_key(service_levels.objectives_by_ids)),
            objective_status=DataLoader(service_levels.statuses_at),
            discrepancies=DataLoader(service_levels.discrepancies),
            children_ids=DataLoader(_lists(agreements.levels().children_ids_by_lineages)),
            effective_terms=DataLoader(
                agreements.levels().effective_terms_of, cache_key_fn=lambda a: a.id
            ),
            monitoring=DataLoader(_by_key(ownership.by_objective_ids)),
        )
