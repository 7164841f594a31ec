"""Coverage gaps: the graph gathers each SLA's chain, the domain rules judge it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.gaps import ChainMember, Cover, Gap, chains_gaps
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import gaps as q
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.agreements import objective_from_props
from hub.graph.repositories.levels import SlaLevelRepository
from hub.graph.repositories.traversals import walk_down
from hub.settings import ApiSettings

# The one depth bound of every walk (`api.max_traversal_depth`), when none is given.
DEFAULT_MAX_DEPTH = ApiSettings().max_traversal_depth


class CoverageGapRepository:
    def __init__(
        self,
        graph: Graph,
        scope: Scope = UNLIMITED,
        clock: Clock = system_clock,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope). `clock` says
        # when "in force" is judged: the SLAs and covers of that instant count.
        # `max_depth`: how many hops below a covered component the chain goes.
        self._graph = graph
        self._scope = scope
        self._clock = clock
        self._max_depth = max_depth

    async def gaps(self, sla_id: str | None = None) -> list[Gap]:
        """Gaps of one SLA in force, or of every SLA in force; any other has none."""
        by_sla = await self._gaps(None if sla_id is None else [sla_id])
        return [gap for _, found in sorted(by_sla.items()) for gap in found]

    async def gaps_by_sla_ids(self, sla_ids: Sequence[str]) -> dict[str, list[Gap]]:
        """The gaps of each SLA named, with one walk for all of their chains."""
        found = await self._gaps(list(sla_ids))
        return {sla_id: found.get(sla_id, []) for sla_id in sla_ids}

    async def _gaps(self, sla_ids: list[str] | None) -> dict[str, list[Gap]]:
        now = to_iso(self._clock())
        chains = await self._graph.read_transaction(lambda tx: self._chains(tx, sla_ids, now))
        if not chains:
            return {}
        # What the SLA promises: its effective objectives, inherited ones included.
        objectives = await SlaLevelRepository(
            self._graph, clock=self._clock
        ).objectives_in_force_by_ids(list(chains))
        return chains_gaps(chains, objectives)

    async def _chains(
        self, tx: Transaction, sla_ids: list[str] | None, now: str
    ) -> dict[str, list[ChainMember]]:
        """Each SLA's chain, its members in name order: the SLAs' roots, one walk down
        from all of them, and the cover of everything it reached, in one read
        transaction (one snapshot)."""
        rows = await tx.run(q.SLA_ROOTS, slaIds=sla_ids, now=now, **self._scope.params())
        roots: dict[str, list[str]] = {row["slaId"]: row["roots"] for row in rows}
        if not roots:
            return {}
        walk = await walk_down(tx, [r for found in roots.values() for r in found], self._max_depth)
        records = await tx.run(q.CHAIN_MEMBERS, ids=list(walk.depth_of), now=now)
        found: list[dict[str, Any]] = records[0]["members"] if records else []
        cover_ids = sorted({c for member in found for c in member["covers"]})
        covers: dict[str, Cover] = {}
        if cover_ids:
            for row in await tx.run(q.COVER_OBJECTIVES, ids=cover_ids):
                covers[row["id"]] = Cover(
                    agreement_id=row["id"],
                    agreement_name=row["name"],
                    objectives=tuple(objective_from_props(o) for o in row["objectives"]),
                )
        # One member per component, shared by every chain it is on.
        members = {
            m["id"]: ChainMember(m["id"], m["name"], tuple(covers[c] for c in m["covers"]))
            for m in found
        }
        # Chains are listed in name order: rank every member once, sort ints per chain.
        ordered = sorted(members.values(), key=lambda m: (m.component_name, m.component_id))
        rank = {m.component_id: index for index, m in enumerate(ordered)}
        reach: dict[str, set[str]] = {}
        by_sla: dict[str, list[ChainMember]] = {}
        for sla, starts in roots.items():
            for root in starts:
                if root not in reach:
                    reach[root] = walk.reach(root)
            chain = (
                reach[starts[0]] if len(starts) == 1 else set().union(*(reach[r] for r in starts))
            )
            ids = sorted(filter(rank.__contains__, chain), key=rank.__getitem__)
            by_sla[sla] = list(map(members.__getitem__, ids))
        return by_sla
