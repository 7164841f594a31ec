"""Report distribution and anomalies (reporting.graphql, "Distribution", "Anomalies"):
`distributionLists`, `reportAnomalies`, `createDistributionList` and
`deleteDistributionList`.

Editors create and delete lists within their token's scope (every unit and region of
the list their token's own); staff read the lists whose units and regions their scope
holds; customer tokens are refused the mutations and read no list and no anomaly. The
rules are `hub.domain.distribution`'s; scope is applied by the repositories.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from hub.domain import distribution as rules
from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient
from hub.graph.errors import NotFoundError
from hub.graph.repositories.anomalies import AnomalyRecord, AnomalyRepository
from hub.graph.repositories.distribution import DeliveryRecord, DistributionRepository
from hub.graph.repositories.reports import ReportRepository, StoredSnapshot
from hub.schema.base import DateTime, Node
from hub.schema.context import Context, Info, loader
from hub.schema.permissions import IsEditor

if TYPE_CHECKING:
    from hub.schema.components.types import Service
    from hub.schema.reports.types import ReportSnapshot

strawberry.enum(DistributionChannel, name="Channel")


@strawberry.enum(name="DeliveryStatus")
class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


def _snapshots(context: Context) -> DataLoader[str, StoredSnapshot | None]:
    """Snapshots by id, each read once per request (runs of one list share few)."""
    assert context.remediation is not None
    reports = ReportRepository(context.remediation.graph, context.remediation.scope)

    async def load(ids: list[str]) -> list[StoredSnapshot | None]:
        return [await reports.snapshot(snapshot_id) for snapshot_id in ids]

    return DataLoader(load_fn=load)


def _lists(context: Context) -> DistributionRepository:
    assert context.remediation is not None
    r = context.remediation
    return DistributionRepository(r.graph, r.scope, r.clock)


@strawberry.type(name="Recipient", description="A recipient by role or by address.")
class RecipientType:
    role: str | None
    address: str | None


@strawberry.type(
    description="One delivery of a published snapshot: an email or webhook of the "
    "notification outbox (retried with backoff), or a PORTAL run."
)
class Delivery:
    at: DateTime = strawberry.field(description="When it was sent, else when it was made.")
    status: DeliveryStatus
    attempts: int
    error: str | None = strawberry.field(description="Why the last attempt failed.")
    channel: DistributionChannel
    target: str | None = strawberry.field(
        description="The address or webhook name; null for PORTAL."
    )
    snapshot_id: strawberry.ID

    @strawberry.field(description="The published snapshot delivered.")
    async def snapshot(
        self, info: Info
    ) -> Annotated[ReportSnapshot, strawberry.lazy("hub.schema.reports.types")]:
        from hub.schema.reports.types import ReportSnapshot

        found = await loader(info, "distribution.snapshot", _snapshots).load(str(self.snapshot_id))
        if found is None:
            raise NotFoundError("ReportSnapshot", str(self.snapshot_id))
        return ReportSnapshot.from_stored(found)

    @classmethod
    def of(cls, record: DeliveryRecord) -> Delivery:
        return cls(
            at=record.at,
            status=DeliveryStatus(record.status),
            attempts=record.attempts,
            error=record.error,
            channel=DistributionChannel(record.channel),
            target=record.target,
            snapshot_id=strawberry.ID(record.snapshot_id),
        )


@strawberry.type(
    description="A report sent on a schedule (cron in a time zone) to recipients over "
    "one channel; each run covers the last whole calendar month in that time zone."
)
class DistributionList(Node):
    id: strawberry.ID
    name: str
    template: str
    business_units: list[str]
    regions: list[str]
    schedule: str = strawberry.field(description="A five-field cron expression.")
    time_zone: str
    channel: DistributionChannel
    recipients: list[RecipientType]
    last_run_at: DateTime | None
    record: strawberry.Private[rules.DistributionList]

    @strawberry.field(description="The deliveries of its latest runs, newest first.")
    async def deliveries(self, info: Info, first: int | None = 20) -> list[Delivery]:
        limit = info.context.page_size(first)
        found = await _lists(info.context).deliveries(self.record, limit)
        return [Delivery.of(d) for d in found]

    @classmethod
    def of(cls, record: rules.DistributionList) -> DistributionList:
        return cls(
            id=strawberry.ID(record.id),
            name=record.name,
            template=record.template,
            business_units=list(record.business_units),
            regions=list(record.regions),
            schedule=record.schedule,
            time_zone=record.time_zone,
            channel=record.channel,
            recipients=[RecipientType(role=r.role, address=r.address) for r in record.recipients],
            last_run_at=record.last_run_at,
            record=record,
        )


@strawberry.type(
    description="A compliance drop (against the mean of the previous periods) or a "
    "burst of violations of a service or business unit in one calendar month."
)
class ReportAnomaly(Node):
    id: strawberry.ID
    at: DateTime
    business_unit: str | None
    period_start: DateTime
    compliance: float
    baseline: float = strawberry.field(description="The mean compliance of the periods before.")
    detail: str
    service_id: strawberry.Private[str | None]

    @strawberry.field
    async def service(
        self, info: Info
    ) -> Annotated[Service, strawberry.lazy("hub.schema.components.types")] | None:
        from hub.schema.components.types import Service, load_component

        if self.service_id is None:
            return None
        found = await load_component(info, self.service_id)
        return found if isinstance(found, Service) else None

    @classmethod
    def of(cls, record: AnomalyRecord) -> ReportAnomaly:
        return cls(
            id=strawberry.ID(record.id),
            at=record.at,
            business_unit=record.business_unit,
            period_start=record.period_start,
            compliance=record.compliance,
            baseline=record.baseline,
            detail=record.detail,
            service_id=record.service_id,
        )


@strawberry.input(name="RecipientInput")
class RecipientInput:
    role: str | None = None
    address: str | None = None


@strawberry.input
class DistributionListInput:
    name: str
    template: str
    schedule: str
    time_zone: str
    channel: DistributionChannel
    recipients: list[RecipientInput]
    business_units: list[str] | None = None
    regions: list[str] | None = None

    def spec(self) -> DistributionSpec:
        return DistributionSpec(
            name=self.name,
            template=self.template,
            schedule=self.schedule,
            time_zone=self.time_zone,
            channel=DistributionChannel(self.channel),
            recipients=tuple(Recipient(r.role, r.address) for r in self.recipients),
            business_units=tuple(self.business_units or ()),
            regions=tuple(self.regions or ()),
        )


async def distribution_list_node(info: Info, node_id: str) -> DistributionList | None:
    """`node(id)` of a distribution list: one the token's scope reads, else null."""
    found = await _lists(info.context).by_ids([node_id])
    return None if node_id not in found else DistributionList.of(found[node_id])


async def anomaly_node(info: Info, node_id: str) -> ReportAnomaly | None:
    """`node(id)` of a report anomaly: one the token may read, else null."""
    assert info.context.remediation is not None
    r = info.context.remediation
    found = await AnomalyRepository(r.graph, r.scope).by_ids([node_id])
    return None if node_id not in found else ReportAnomaly.of(found[node_id])


@strawberry.type
class DistributionQueries:
    @strawberry.field(description="The distribution lists your token's scope holds.")
    async def distribution_lists(self, info: Info) -> list[DistributionList]:
        if not info.context.actor.scope.internal:
            return []
        return [DistributionList.of(d) for d in await _lists(info.context).lists()]

    @strawberry.field(
        description="Anomalies of the calendar months starting in [from, to), newest first."
    )
    async def report_anomalies(
        self,
        info: Info,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
    ) -> list[ReportAnomaly]:
        assert info.context.remediation is not None
        r = info.context.remediation
        found = await AnomalyRepository(r.graph, r.scope).between(
            from_, to, info.context.api.max_page_size
        )
        return [ReportAnomaly.of(a) for a in found]


@strawberry.type
class DistributionMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Make a distribution list; its units and regions must be your token's.",
    )
    async def create_distribution_list(
        self, info: Info, input: DistributionListInput
    ) -> DistributionList:
        spec = input.spec()
        assert info.context.remediation is not None
        settings = info.context.remediation.settings
        if settings is None:
            rules.check(spec)
        else:
            rules.check(
                spec,
                lists={
                    name: (entry.emails, entry.webhooks)
                    for name, entry in settings.notifications.lists.items()
                },
                webhooks=settings.webhooks.keys(),
            )
        created = await _lists(info.context).create(spec, info.context.actor.user)
        return DistributionList.of(created)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Remove a distribution list; what it delivered stays recorded.",
    )
    async def delete_distribution_list(self, info: Info, id: strawberry.ID) -> bool:
        await _lists(info.context).delete(str(id))
        return True


__all__ = [
    "DistributionMutations",
    "DistributionQueries",
    "anomaly_node",
    "distribution_list_node",
]
