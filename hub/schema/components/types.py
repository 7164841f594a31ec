"""Services and configuration items: anything that can sit on a dependency chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from hub.domain import models
from hub.schema.base import AgreementStatus, ExternalRef, LifecycleStatus, Node, Tier
from hub.schema.context import Info
from hub.schema.parties.types import Team

if TYPE_CHECKING:
    from hub.schema.agreements.types import Objective, ServiceLevelAgreement
    from hub.schema.service_levels.budget_policies import ChangeFreeze


@strawberry.interface(description="A service or a configuration item.")
class Component(Node):
    name: str
    status: LifecycleStatus

    @strawberry.field
    async def external_refs(self, info: Info) -> list[ExternalRef]:
        refs = await info.context.loaders.external_refs.load(str(self.id))
        return [ExternalRef(source=ref.source, external_id=ref.external_id) for ref in refs]


@strawberry.type
class Service(Component):
    tier: Tier | None
    business_unit: str | None
    region: str | None
    owner_id: strawberry.Private[str | None]

    @strawberry.field
    async def owner(self, info: Info) -> Team | None:
        if self.owner_id is None:
            return None
        team = await info.context.loaders.team.load(self.owner_id)
        return None if team is None else Team.from_domain(team)

    @strawberry.field(
        description="SLAs covering the service: the latest version of each, or with "
        "`status`, every version whose status now is one of them (ACTIVE: in force now)."
    )
    async def slas(
        self, info: Info, status: list[AgreementStatus] | None = None
    ) -> list[Annotated[ServiceLevelAgreement, strawberry.lazy("hub.schema.agreements.types")]]:
        from hub.schema.agreements.types import ServiceLevelAgreement, load_agreements

        # As `agreements` lists them: the latest version of each, or with `status`,
        # every version whose status now is one of those.
        wanted = None if status is None else set(status)
        slas = await info.context.loaders.sla_ids_of_service.load(str(self.id))
        ids = [
            sla.agreement_id
            for sla in slas
            if (sla.latest if wanted is None else sla.status in wanted)
        ]
        return [a for a in await load_agreements(info, ids) if isinstance(a, ServiceLevelAgreement)]

    @strawberry.field(
        description="Service-level objectives that belong to no agreement (internal SLOs, "
        "e.g. imported from OpenSLO; `name` is the OpenSLO metadata.name)."
    )
    async def objectives(
        self, info: Info
    ) -> list[Annotated[Objective, strawberry.lazy("hub.schema.agreements.types")]]:
        from hub.schema.agreements.types import Objective

        found = await info.context.loaders.service_objectives.load(str(self.id))
        return [Objective.from_domain(o) for o in found]

    @strawberry.field(
        description="The change freeze an error-budget policy set on the service: the "
        "earliest in force, else the one lifted last; null without any. Internal: null "
        "for customers."
    )
    async def change_freeze(
        self, info: Info
    ) -> (
        Annotated[ChangeFreeze, strawberry.lazy("hub.schema.service_levels.budget_policies")] | None
    ):
        from hub.schema.service_levels.budget_policies import service_change_freeze

        return await service_change_freeze(info, str(self.id))


@strawberry.type
class ConfigurationItem(Component):
    ci_class: str = strawberry.field(description="e.g. cmdb_ci_linux_server")
    environment: str | None
    location: str | None


def component_type(component: models.Component) -> Service | ConfigurationItem:
    if component.kind is models.ComponentKind.SERVICE:
        return Service(
            id=strawberry.ID(component.id),
            name=component.name,
            status=component.status,
            tier=component.tier,
            business_unit=component.business_unit,
            region=component.region,
            owner_id=component.owner_team_id,
        )
    return ConfigurationItem(
        id=strawberry.ID(component.id),
        name=component.name,
        status=component.status,
        ci_class=component.ci_class or "",
        environment=component.environment,
        location=component.location,
    )


async def load_components(info: Info, ids: Sequence[str]) -> list[Component]:
    """The components named by `ids`, in order, through the request's loader."""
    found = await info.context.loaders.component.load_many(list(ids))
    return [component_type(c) for c in found if c is not None]


async def load_component(info: Info, component_id: str) -> Component | None:
    found = await info.context.loaders.component.load(component_id)
    return None if found is None else component_type(found)
