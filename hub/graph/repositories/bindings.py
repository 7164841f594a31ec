"""Change control of agreement objectives' telemetry bindings in the graph: the
objectives it covers, pinning their bindings once, and refusals audited once each
(`hub.domain.change_control` has the rules).

Only automation (telemetry syncs, the start-up check) calls this: like
`ObjectiveRepository.measured_objectives`, it reads every agreement, unscoped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.domain.audit import AuditEntry
from hub.domain.change_control import (
    PIN_ACTION,
    REFUSED_ACTION,
    Binding,
    Refusal,
    bindings_json,
    bindings_value,
)
from hub.domain.models import Objective
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import bindings as q
from hub.graph.ids import to_iso, utc_now
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.objectives import objective_from_props

__all__ = ["BindingRepository", "Pin"]

_PIN_REASON = "pinned from the settings by the first telemetry sync of the version in force"


@dataclass(frozen=True, slots=True)
class Pin:
    """The settings bindings an approved objective without its own is measured by."""

    objective_id: str
    agreement_id: str
    bindings: tuple[Binding, ...]


class BindingRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def live_objectives(self, now: datetime) -> list[Objective]:
        """The objectives of the versions in force at `now`, with their agreement and
        own bindings (none yet for one not pinned)."""
        rows = await self._graph.read(q.LIVE_AGREEMENT_OBJECTIVES, now=to_iso(now))
        return [objective_from_props(r["props"], agreement_id=r["agreementId"]) for r in rows]

    async def ended_among(self, ids: Sequence[str], now: datetime) -> set[str]:
        """Which of `ids` are objectives of approved versions no longer in force at `now`."""
        if not ids:
            return set()
        rows = await self._graph.read(q.ENDED_AMONG, ids=list(ids), now=to_iso(now))
        return {str(i) for i in rows[0]["ids"]} if rows else set()

    async def pin(self, pins: Sequence[Pin], actor: str) -> set[str]:
        """Give each objective its bindings unless it has some already; each one pinned
        is audited in the same transaction. Returns the ids pinned."""
        if not pins:
            return set()
        by_id = {p.objective_id: p for p in pins}

        async def work(tx: Transaction) -> set[str]:
            rows = await tx.run(
                q.PIN_OBJECTIVE_BINDINGS,
                rows=[
                    {
                        "id": p.objective_id,
                        "agreementId": p.agreement_id,
                        "bindings": bindings_json(p.bindings),
                    }
                    for p in pins
                ],
                now=utc_now(),
            )
            pinned = sorted(str(r["id"]) for r in rows)
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        PIN_ACTION,
                        objective_id,
                        reason=_PIN_REASON,
                        before={"bindings": None},
                        after={"bindings": bindings_value(by_id[objective_id].bindings)},
                    )
                    for objective_id in pinned
                ],
            )
            return set(pinned)

        return await self._graph.write_transaction(work)

    async def refuse(self, refusals: Sequence[Refusal], actor: str) -> int:
        """Audit each refusal, unless the same attempt on the same objective was audited
        before (a settings binding refused at every run is recorded once). Returns how
        many records were written."""
        if not refusals:
            return 0
        entries = [
            AuditEntry.of(
                actor,
                REFUSED_ACTION,
                r.objective_id,
                reason=r.problem(),
                before={"bindings": bindings_value(r.in_force)},
                after={"bindings": bindings_value(r.attempted)},
            )
            for r in refusals
        ]

        async def work(tx: Transaction) -> int:
            rows = await tx.run(
                q.AUDITED_REFUSALS,
                rows=[{"id": e.target_id, "after": e.after} for e in entries],
                action=REFUSED_ACTION,
            )
            seen = {(r["id"], r["after"]) for r in rows}
            new: list[AuditEntry] = []
            for entry in entries:
                if (entry.target_id, entry.after) not in seen:
                    seen.add((entry.target_id, entry.after))
                    new.append(entry)
            await write_audits(tx, new)
            return len(new)

        return await self._graph.write_transaction(work)
