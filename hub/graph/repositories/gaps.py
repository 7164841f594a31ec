"""Coverage gaps: the graph gathers each SLA's chain, the domain rules judge it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from hub.domain.access import UNLIMITED, Scope
from hub.domain.gaps import ChainMember, Cover, Gap, sla_gaps
from hub.graph.client import Graph
from hub.graph.cypher import gaps as q
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.agreements import objective_from_props
from hub.graph.repositories.levels import SlaLevelRepository


class CoverageGapRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope). `clock` says
        # when "in force" is judged: the SLAs and covers of that instant count.
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def gaps(self, sla_id: str | None = None) -> list[Gap]:
        """Gaps of one SLA in force, or of every SLA in force; any other has none."""
        by_sla = await self._gaps(None if sla_id is None else [sla_id])
        return [gap for _, found in sorted(by_sla.items()) for gap in found]

    async def gaps_by_sla_ids(self, sla_ids: Sequence[str]) -> dict[str, list[Gap]]:
        """The gaps of each SLA named, in one round trip for the chains."""
        found = await self._gaps(list(sla_ids))
        return {sla_id: found.get(sla_id, []) for sla_id in sla_ids}

    async def _gaps(self, sla_ids: list[str] | None) -> dict[str, list[Gap]]:
        rows = await self._graph.read(
            q.SLA_CHAIN_COVER,
            slaIds=sla_ids,
            now=to_iso(self._clock()),
            **self._scope.params(),
        )
        chains: dict[str, list[ChainMember]] = defaultdict(list)
        for row in rows:
            covers = tuple(
                Cover(
                    agreement_id=cover["id"],
                    agreement_name=cover["name"],
                    objectives=tuple(objective_from_props(o) for o in cover["objectives"]),
                )
                for cover in row["covers"]
            )
            chains[row["slaId"]].append(
                ChainMember(row["componentId"], row["componentName"], covers)
            )
        if not chains:
            return {}
        # What the SLA promises: its effective objectives, inherited ones included.
        objectives = await SlaLevelRepository(
            self._graph, clock=self._clock
        ).objectives_in_force_by_ids(list(chains))
        return {sla: sla_gaps(sla, objectives[sla], members) for sla, members in chains.items()}
