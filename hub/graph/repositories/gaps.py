"""Coverage gaps: the graph gathers each SLA's chain, the domain rules judge it."""

from __future__ import annotations

from collections import defaultdict

from hub.domain.gaps import ChainMember, Cover, Gap, sla_gaps
from hub.graph.client import Graph
from hub.graph.cypher import gaps as q
from hub.graph.repositories.agreements import AgreementRepository, objective_from_props


class CoverageGapRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def gaps(self, sla_id: str | None = None) -> list[Gap]:
        """Gaps of one ACTIVE SLA, or of every ACTIVE SLA; an SLA not ACTIVE has none."""
        rows = await self._graph.read(q.SLA_CHAIN_COVER, slaId=sla_id)
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
            return []
        objectives = await AgreementRepository(self._graph).objectives_by_agreement_ids(
            list(chains)
        )
        return [
            gap
            for sla, members in sorted(chains.items())
            for gap in sla_gaps(sla, objectives[sla], members)
        ]
