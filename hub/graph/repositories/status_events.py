"""The objectives a status subscriber is told of, as its token may see them
(`hub.graph.cypher.status_events`): the access checkpoint of `objectiveStatusChanged`.
An objective out of the scope is not returned at all, so its status is never read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import Objective
from hub.graph.client import Graph, Row
from hub.graph.cypher import status_events as q
from hub.graph.repositories.agreements import objective_from_props


@dataclass(frozen=True, slots=True)
class StatusTarget:
    """An objective a subscriber may read, with the agreement and services it answers
    for that the subscriber may read too (`service_ids`: the holding service first,
    then the covered ones, by id) and their business units."""

    objective: Objective
    agreement_id: str | None
    service_ids: tuple[str, ...]
    business_units: frozenset[str]

    def matches(self, service_id: str | None, business_unit: str | None) -> bool:
        """Whether the subscription's filters (None: any) admit it."""
        return (service_id is None or service_id in self.service_ids) and (
            business_unit is None or business_unit in self.business_units
        )


def _target(row: Row) -> StatusTarget:
    units = [row["customerUnit"], *row["holderUnits"], *row["coveredUnits"]]
    return StatusTarget(
        objective=objective_from_props(row["objective"]),
        agreement_id=row["agreementId"],
        service_ids=(*row["holderIds"], *sorted(row["coveredIds"])),
        business_units=frozenset(unit for unit in units if unit is not None),
    )


class StatusTargetRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        self._graph = graph
        self._scope = scope

    async def targets(self, objective_ids: Sequence[str]) -> list[StatusTarget]:
        """The objectives of `objective_ids` the scope admits, by id."""
        if not objective_ids:
            return []
        rows = await self._graph.read(
            q.STATUS_EVENT_TARGETS, ids=sorted(set(objective_ids)), **self._scope.params()
        )
        return sorted((_target(row) for row in rows), key=lambda t: t.objective.id)
