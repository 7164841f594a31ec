"""The Subscription root (reporting.graphql): `objectiveStatusChanged`, pushed over
WebSocket (graphql-transport-ws at /graphql, `hub.graphql_http`).

A subscription listens to the process's `hub.events.status_events`, which the telemetry
sync and the assessment feed with the ids of the objectives they touched. For each
batch it re-reads those objectives through the subscriber's own scoped repositories
(`StatusTargetRepository`, then the context's `ServiceLevels`): an objective the token
may not read is never even read, so scope holds by construction. It sends an event for
an objective whose status (state, good and total counts, compliance) differs from the
one it last sent that objective, at most one batch per `minIntervalSeconds`. The first
status it sends of an objective is the one after the first change it heard of.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Sequence
from typing import Annotated

import strawberry

from hub.domain.budget import ObjectiveStatus as DomainStatus
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.events import status_events
from hub.graph.repositories.status_events import StatusTarget, StatusTargetRepository
from hub.schema.agreements.types import Agreement, Objective, agreement_type
from hub.schema.components.types import Service, load_component
from hub.schema.context import Context, Info
from hub.schema.service_levels.types import ObjectiveStatus

DEFAULT_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 3600

Fingerprint = tuple[str, float | None, float | None, float | None]


@strawberry.type(description="An objective whose status changed, as the subscriber may read it.")
class ObjectiveStatusEvent:
    objective: Objective
    service: Service | None = strawberry.field(
        description="The service holding the objective, or one its agreement covers (the "
        "`serviceId` asked for, if any)."
    )
    agreement: Agreement | None
    status: ObjectiveStatus = strawberry.field(description="The status now.")


def fingerprint(status: DomainStatus) -> Fingerprint:
    """What must differ for a status to count as changed."""
    return (str(status.state), status.good, status.total, status.compliance)


def refresh(context: Context) -> None:
    """Give a connection's long-lived context a fresh instant and fresh loaders, as a new
    request would have: a subscription lives for hours, its context for as long."""
    r = context.remediation
    assert r is not None
    fresh = Context.create(
        r.graph,
        context.actor,
        context.api,
        context.approvals_required,
        run_sync=context.run_sync,
        slo=None if r.settings is None else r.settings.slo,
        boards=context.boards,
        settings=r.settings,
    )
    for field in dataclasses.fields(Context):
        setattr(context, field.name, getattr(fresh, field.name))


async def _event(
    info: Info, target: StatusTarget, status: DomainStatus, service_id: str | None
) -> ObjectiveStatusEvent:
    shown = service_id or next(iter(target.service_ids), None)
    service = None if shown is None else await load_component(info, shown)
    agreement = None
    if target.agreement_id is not None:
        loaded = await info.context.loaders.agreement.load(target.agreement_id)
        agreement = None if loaded is None else agreement_type(loaded)
    return ObjectiveStatusEvent(
        objective=Objective.from_domain(target.objective),
        service=service if isinstance(service, Service) else None,
        agreement=agreement,
        status=ObjectiveStatus.from_domain(status),
    )


async def changed_statuses(
    info: Info,
    ids: Sequence[str],
    service_id: str | None,
    business_unit: str | None,
    sent: dict[str, Fingerprint],
) -> list[ObjectiveStatusEvent]:
    """The events of the objectives of `ids` that the subscriber may read, that pass
    its filters and whose status differs from the one in `sent` (updated)."""
    refresh(info.context)
    context = info.context
    assert context.remediation is not None
    targets = [
        t
        for t in await StatusTargetRepository(
            context.remediation.graph, context.remediation.scope
        ).targets(ids)
        if t.matches(service_id, business_unit)
    ]
    if not targets:
        return []
    statuses = await context.service_levels.statuses([t.objective for t in targets], context.now)
    changed = []
    for target, status in zip(targets, statuses, strict=True):
        mark = fingerprint(status)
        if sent.get(target.objective.id) != mark:
            sent[target.objective.id] = mark
            changed.append((target, status))
    # Together, so that the services and agreements load in one batch each.
    return list(await asyncio.gather(*(_event(info, t, s, service_id) for t, s in changed)))


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Objectives whose status changed after a telemetry sync or an "
        "assessment, of one service or business unit if given, scoped like queries; at "
        "most one batch of events per minIntervalSeconds (0 to 3600)."
    )
    async def objective_status_changed(
        self,
        info: Info,
        service_id: strawberry.ID | None = None,
        business_unit: str | None = None,
        min_interval_seconds: Annotated[
            int | None,
            strawberry.argument(description="Throttle: seconds between two batches."),
        ] = DEFAULT_INTERVAL_SECONDS,
    ) -> AsyncGenerator[ObjectiveStatusEvent, None]:
        # Checked before the stream starts, so a bad argument is an `error` message
        # (with its code) rather than a stream that ends at once.
        interval = (
            DEFAULT_INTERVAL_SECONDS if min_interval_seconds is None else min_interval_seconds
        )
        if not 0 <= interval <= MAX_INTERVAL_SECONDS:
            raise InvalidInputError(
                [FieldProblem("minIntervalSeconds", f"give 0 to {MAX_INTERVAL_SECONDS} seconds")]
            )
        wanted = None if service_id is None else str(service_id)
        return _stream(info, wanted, business_unit, interval)


async def _stream(
    info: Info, service_id: str | None, business_unit: str | None, interval: int
) -> AsyncGenerator[ObjectiveStatusEvent, None]:
    sent: dict[str, Fingerprint] = {}
    with status_events.subscribe() as subscriber:
        async for ids in subscriber.batches(interval):
            for event in await changed_statuses(info, list(ids), service_id, business_unit, sent):
                yield event
