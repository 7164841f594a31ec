"""Distribution lists in the graph: made, removed, read in scope; their scheduled runs
claimed and settled; their deliveries read back from the outbox.

Scope is applied here, once: a token reads (and removes) the lists whose business
units and regions all lie within its own (`hub.domain.distribution.visible_to`);
customer tokens read none. The scheduled job (`hub.sync.distribution`) reads all.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.distribution import (
    DistributionChannel,
    DistributionList,
    DistributionSpec,
    Recipient,
    run_key,
    visible_to,
    within_scope,
)
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import distribution as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso

RUN_PREFIX = "dlr_"


@dataclass(frozen=True, slots=True)
class Run:
    """One scheduled run of a list, as claimed."""

    key: str
    id: str
    list_id: str
    scheduled_at: datetime
    status: str
    holder: str
    snapshot_id: str | None = None
    period_from: datetime | None = None
    period_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One delivery of a run: an outbox delivery (EMAIL, WEBHOOK) or the run itself
    (PORTAL). `status` is the contract's: PENDING, DELIVERED or FAILED."""

    snapshot_id: str
    at: datetime
    status: str
    attempts: int
    error: str | None
    channel: str
    target: str | None


_OUTBOX_STATUS = {
    "PENDING": "PENDING",
    "SENT": "DELIVERED",
    "FAILED": "FAILED",
    "GAVE_UP": "FAILED",
}


def delivery_status(outbox_status: str) -> str:
    """The contract's DeliveryStatus of an outbox delivery status."""
    return _OUTBOX_STATUS.get(outbox_status, "FAILED")


def list_from_props(props: dict[str, Any]) -> DistributionList:
    created = from_iso(props["createdAt"])
    assert created is not None
    return DistributionList(
        id=props["id"],
        name=props["name"],
        template=props["template"],
        schedule=props["schedule"],
        time_zone=props["timeZone"],
        channel=DistributionChannel(props["channel"]),
        recipients=tuple(
            Recipient(r.get("role"), r.get("address")) for r in json.loads(props["recipients"])
        ),
        business_units=tuple(props.get("businessUnits") or ()),
        regions=tuple(props.get("regions") or ()),
        created_at=created,
        created_by=props.get("createdBy") or "",
        last_run_at=from_iso(props.get("lastRunAt")),
    )


def _run_from_props(props: dict[str, Any]) -> Run:
    scheduled = from_iso(props["scheduledAt"])
    assert scheduled is not None
    return Run(
        key=props["key"],
        id=props["id"],
        list_id=props["listId"],
        scheduled_at=scheduled,
        status=props["status"],
        holder=props["holder"],
        snapshot_id=props.get("snapshotId"),
        period_from=from_iso(props.get("periodFrom")),
        period_to=from_iso(props.get("periodTo")),
    )


async def finish_run(
    tx: Transaction,
    run: Run,
    *,
    now: datetime,
    status: str,
    channel: DistributionChannel,
    targets: Sequence[str] = (),
    error: str | None = None,
) -> bool:
    """Settle `run` (claimed by `run.holder`) DONE or FAILED in the caller's transaction,
    and move its list's lastRunAt on; False if the claim was lost."""
    rows = await tx.run(
        q.FINISH_DISTRIBUTION_RUN,
        key=run.key,
        holder=run.holder,
        status=status,
        now=to_iso(now),
        error=error,
        targets=list(targets),
        channel=channel.value,
    )
    if not rows:
        return False
    await tx.run(q.ADVANCE_LAST_RUN, listId=run.list_id, scheduledAt=to_iso(run.scheduled_at))
    return True


class DistributionRepository:
    """Distribution lists for one token's `scope` (unlimited for the scheduled job)."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock):
        self._graph = graph
        self._scope = scope
        self._clock = clock

    # ---- lists ------------------------------------------------------------------------

    async def create(self, spec: DistributionSpec, created_by: str) -> DistributionList:
        """Record a checked list; its units and regions must lie within the scope."""
        if not within_scope(self._scope, spec.business_units, spec.regions):
            units_ok = within_scope(replace(self._scope, regions=None), spec.business_units, ())
            raise InvalidInputError(
                [
                    FieldProblem(
                        "regions" if units_ok else "businessUnits",
                        "name only those your token is limited to (at least one of them): "
                        "a list may not reach records your token cannot read",
                    )
                ]
            )
        list_id = new_id("DistributionList")
        props = {
            "id": list_id,
            "name": spec.name.strip(),
            "template": spec.template,
            "businessUnits": sorted(set(spec.business_units)),
            "regions": sorted(set(spec.regions)),
            "schedule": spec.schedule,
            "timeZone": spec.time_zone,
            "channel": spec.channel.value,
            "recipients": json.dumps(
                [{"role": r.role, "address": r.address} for r in spec.recipients],
                separators=(",", ":"),
            ),
            "createdAt": to_iso(self._clock()),
            "createdBy": created_by,
        }
        rows = await self._graph.write(q.CREATE_DISTRIBUTION_LIST, id=list_id, props=props)
        return list_from_props(rows[0]["list"])

    async def delete(self, list_id: str) -> None:
        """Remove a list the scope reads; NotFoundError for one it does not (or none)."""
        found = await self.by_ids([list_id])
        if list_id not in found:
            raise NotFoundError("distribution list", list_id)
        await self._graph.write(q.DELETE_DISTRIBUTION_LIST, id=list_id)

    async def lists(self) -> list[DistributionList]:
        """Every list the scope reads, by name."""
        rows = await self._graph.read(q.DISTRIBUTION_LISTS)
        return self._visible(rows)

    async def by_ids(self, ids: Sequence[str]) -> dict[str, DistributionList]:
        if not ids:
            return {}
        rows = await self._graph.read(q.DISTRIBUTION_LISTS_BY_IDS, ids=list(ids))
        return {d.id: d for d in self._visible(rows)}

    async def of_template(self, template: str) -> list[DistributionList]:
        rows = await self._graph.read(q.DISTRIBUTION_LISTS_OF_TEMPLATE, template=template)
        return self._visible(rows)

    def _visible(self, rows: Sequence[Row]) -> list[DistributionList]:
        found = [list_from_props(row["list"]) for row in rows]
        return [d for d in found if visible_to(self._scope, d.business_units, d.regions)]

    # ---- runs (the scheduled job's side) ----------------------------------------------

    async def claim_run(
        self, list_id: str, scheduled: datetime, holder: str, until: datetime
    ) -> Run | None:
        """Claim the run of `list_id` scheduled at `scheduled` for `holder`; the run if
        `holder` now owns it, None if it is done or another holder's (see
        `CLAIM_DISTRIBUTION_RUN`)."""
        key = run_key(list_id, scheduled)
        rows = await self._graph.write(
            q.CLAIM_DISTRIBUTION_RUN,
            key=key,
            runId=f"{RUN_PREFIX}{uuid.uuid4().hex}",
            listId=list_id,
            scheduledAt=to_iso(scheduled),
            holder=holder,
            until=to_iso(until),
            now=to_iso(self._clock()),
        )
        run = _run_from_props(rows[0]["run"])
        return run if run.holder == holder and run.status == "CLAIMED" else None

    async def record_snapshot(
        self, run: Run, snapshot_id: str, period: tuple[datetime, datetime]
    ) -> Run | None:
        """Keep the snapshot published for a claimed run; None if the claim was lost."""
        rows = await self._graph.write(
            q.RECORD_RUN_SNAPSHOT,
            key=run.key,
            holder=run.holder,
            snapshotId=snapshot_id,
            periodFrom=to_iso(period[0]),
            periodTo=to_iso(period[1]),
        )
        if not rows:
            return None
        return Run(
            run.key,
            run.id,
            run.list_id,
            run.scheduled_at,
            run.status,
            run.holder,
            snapshot_id,
            period[0],
            period[1],
        )

    # ---- deliveries -------------------------------------------------------------------

    async def deliveries(self, distribution: DistributionList, limit: int) -> list[DeliveryRecord]:
        """The deliveries of the list's latest `limit` runs that published a snapshot,
        newest run first: each outbox delivery (EMAIL, WEBHOOK), or the run (PORTAL)."""
        runs = [
            _run_from_props(row["run"])
            for row in await self._graph.read(
                q.RUNS_OF_LIST, listId=distribution.id, limit=max(limit, 0)
            )
        ]
        if not runs:
            return []
        by_run: dict[str, list[Row]] = {}
        for row in await self._graph.read(q.DELIVERIES_OF_RUNS, runIds=[r.id for r in runs]):
            by_run.setdefault(str(row["runId"]), []).append(row)
        found: list[DeliveryRecord] = []
        for run in runs:
            assert run.snapshot_id is not None
            if distribution.channel is DistributionChannel.PORTAL:
                found.append(
                    DeliveryRecord(
                        run.snapshot_id, run.scheduled_at, "DELIVERED", 1, None, "PORTAL", None
                    )
                )
                continue
            for row in by_run.get(run.id, []):
                created = from_iso(row["createdAt"])
                assert created is not None
                status = delivery_status(str(row["status"]))
                found.append(
                    DeliveryRecord(
                        run.snapshot_id,
                        from_iso(row["sentAt"]) or created,
                        status,
                        int(row["attempts"]),
                        # The outbox keeps the last failure; a delivered one has none.
                        None if status == "DELIVERED" else row["lastError"],
                        str(row["channel"]),
                        row["target"],
                    )
                )
        return found[:limit]
