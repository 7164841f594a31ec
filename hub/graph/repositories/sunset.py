"""Sunsetting services and the agreements that cover only retired components.

`sunset_covering(tx, ...)` is the rule's one implementation in the graph, called in the
transaction that retires components (a sync batch, a sync's deletions, `sunsetService`)
so that the agreements end, and are audited, together with the change that ended them.
`SunsetRepository` is the API's side: the service must be in the caller's scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.models import LifecycleStatus
from hub.domain.sunset import sunset_moment
from hub.domain.workflow import Actor, require_reason
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import sunset as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.audit import write_audit, write_audits

__all__ = ["SunsetRepository", "retired_by_refs", "sunset_covering"]


async def retired_by_refs(tx: Transaction, ref_keys: Sequence[str]) -> list[str]:
    """The ids of the components named by `ref_keys` that are retired now."""
    if not ref_keys:
        return []
    rows = await tx.run(q.RETIRED_COMPONENTS_BY_REFS, refKeys=list(ref_keys))
    return [str(i) for i in rows[0]["ids"]] if rows else []


async def sunset_covering(
    tx: Transaction,
    component_ids: Sequence[str],
    at: datetime,
    actor: Actor | str,
    reason: str,
) -> list[str]:
    """Sunset, at `at`, every version in force then that covers one of `component_ids`
    and only retired components; each is audited in `tx`. Returns their ids."""
    if not component_ids:
        return []
    moment = to_iso(at)
    rows = await tx.run(q.AGREEMENTS_TO_SUNSET, ids=sorted(set(component_ids)), at=moment)
    if not rows:
        return []
    ended = await tx.run(
        q.SUNSET_AGREEMENTS, ids=[row["id"] for row in rows], at=moment, now=moment
    )
    done = set(ended[0]["ids"]) if ended else set()
    await write_audits(
        tx,
        [
            AuditEntry.of(
                actor,
                "agreement.sunset",
                row["id"],
                reason=reason,
                before={"effectiveTo": row["effectiveTo"], "sunsetAt": None},
                after={"effectiveTo": moment, "sunsetAt": moment, "status": "SUNSET"},
            )
            for row in rows
            if row["id"] in done
        ],
    )
    return [row["id"] for row in rows if row["id"] in done]


class SunsetRepository:
    """`sunsetService`: retire a service in the caller's scope and sunset the
    agreements that covered only retired components, all audited in one transaction."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        # The access checkpoint: the service is looked up with `self._scope`.
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def sunset_service(
        self, service_id: str, actor: Actor, reason: str | None, at: datetime | None = None
    ) -> list[str]:
        """Mark the service SUNSET (pinned: a later sync does not revive it) and sunset
        its agreements at `at` (default now; never backdated). Returns the ids of the
        agreement versions sunset. `NotFoundError` for a service out of scope."""
        why = require_reason(reason)
        now = self._clock()
        moment = sunset_moment(at, now)

        async def work(tx: Transaction) -> list[str]:
            rows = await tx.run(q.SERVICE_TO_SUNSET, id=service_id, **self._scope.params())
            if not rows:
                raise NotFoundError("service", service_id)
            before = rows[0]["status"] or str(LifecycleStatus.ACTIVE)
            await tx.run(q.PIN_SERVICE_SUNSET, id=service_id, at=to_iso(moment), now=to_iso(now))
            await write_audit(
                tx,
                AuditEntry.of(
                    actor,
                    "service.sunset",
                    service_id,
                    reason=why,
                    before={"status": before, "sunsetPinned": bool(rows[0]["pinned"])},
                    after={
                        "status": str(LifecycleStatus.SUNSET),
                        "sunsetPinned": True,
                        "sunsetAt": to_iso(moment),
                    },
                ),
            )
            return await sunset_covering(tx, [service_id], moment, actor, why)

        return await self._graph.write_transaction(work)

    async def sunset_objective_ids(self, now: datetime) -> set[str]:
        """The objectives of agreements sunset by `now` (no longer measured or assessed)."""
        rows = await self._graph.read(q.SUNSET_OBJECTIVE_IDS, now=to_iso(now))
        return {str(i) for i in rows[0]["ids"]} if rows else set()
