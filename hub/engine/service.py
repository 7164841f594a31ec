"""One entry point to the engine for the API and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.domain.access import UNLIMITED, Scope
from hub.domain.breaches import Breach, Severity
from hub.domain.budget import ObjectiveStatus
from hub.domain.models import Objective
from hub.domain.windows import Window, snap, snap_up
from hub.engine import root_cause as rc
from hub.engine import violations as vi
from hub.engine.status import StatusEngine
from hub.engine.suggestions import SuggestionEngine
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as q
from hub.graph.repositories.agreements import objective_from_props
from hub.graph.repositories.objectives import ObjectiveRepository
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository
from hub.graph.repositories.violations import Violation, ViolationFilter, ViolationRepository
from hub.settings import RemediationSettings, SloSettings


class ServiceLevels:
    def __init__(self, graph: Graph, settings: SloSettings, scope: Scope = UNLIMITED) -> None:
        # Reads of objectives and violations for a reader pass `scope` (the access
        # checkpoint, hub.graph.cypher.scope); assessment is the system's and reads all.
        self._graph = graph
        self._settings = settings
        self._scope = scope
        self._violations = ViolationRepository(graph, scope)
        self.status = StatusEngine(graph, settings)
        self.suggestions = SuggestionEngine(graph, settings, self.status, scope)

    async def statuses(
        self, objectives: Sequence[Objective], at: datetime
    ) -> list[ObjectiveStatus]:
        return await self.status.statuses(objectives, at)

    async def objectives_by_ids(self, ids: Sequence[str]) -> dict[str, Objective]:
        rows = await self._graph.read(q.OBJECTIVES_BY_IDS, ids=list(ids), **self._scope.params())
        found = [objective_from_props(row["objective"]) for row in rows]
        return {o.id: o for o in found}

    async def statuses_at(
        self, keys: Sequence[tuple[Objective, datetime]]
    ) -> list[ObjectiveStatus]:
        """Statuses for (objective, at) pairs, all in one engine call: the reads it
        makes do not grow with the number of instants (`StatusEngine.statuses_at`)."""
        unique: dict[tuple[str, datetime], Objective] = {}
        for objective, at in keys:
            unique.setdefault((objective.id, at), objective)
        statuses = await self.status.statuses_at([(o, at) for (_, at), o in unique.items()])
        found = dict(zip(unique, statuses, strict=True))
        return [found[(objective.id, at)] for objective, at in keys]

    async def discrepancies(
        self, keys: Sequence[tuple[str, datetime, datetime]]
    ) -> list[list[Discrepancy]]:
        """Discrepancies per (objective id, from, to), one read per distinct span."""
        telemetry = TelemetryRepository(self._graph)
        by_span: dict[tuple[datetime, datetime], list[str]] = {}
        for objective_id, start, end in keys:
            by_span.setdefault((start, end), []).append(objective_id)
        found: dict[tuple[str, datetime, datetime], list[Discrepancy]] = {}
        for (start, end), ids in by_span.items():
            for objective_id, listed in (
                await telemetry.discrepancies(list(dict.fromkeys(ids)), Window(start, end))
            ).items():
                found[(objective_id, start, end)] = listed
        return [found.get(key, []) for key in keys]

    async def assess(
        self,
        at: datetime,
        agreement_ids: Sequence[str] | None = None,
        policy: RemediationSettings | None = None,
    ) -> list[Breach]:
        """Assess violations at `at`; `policy` sets the deadlines of new remediations."""
        return await vi.assess_violations(
            self._graph, self._settings, at, agreement_ids, policy=policy
        )

    async def violations(
        self,
        *,
        agreement_id: str | None = None,
        severities: Sequence[Severity] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Violation]:
        """Violations as of now: the current revision of each breached period."""
        where = ViolationFilter(agreement_id, severities, start, end)
        return await self._violations.current(where, after=after, limit=limit)

    async def violations_as_recorded(
        self,
        known_at: datetime,
        *,
        agreement_id: str | None = None,
        severities: Sequence[Severity] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Violation]:
        """Violations as the hub had recorded them at `known_at`."""
        where = ViolationFilter(agreement_id, severities, start, end)
        return await self._violations.as_recorded(known_at, where, after=after, limit=limit)

    async def violations_by_ids(self, ids: Sequence[str]) -> dict[str, Violation]:
        return await self._violations.by_ids(ids)

    async def root_cause(self, sla_id: str, window: Window, max_depth: int) -> list[rc.Candidate]:
        """Candidates ranked by incidents and by the bad minutes of services on the chain
        that have objectives of their own (telemetry, not tickets)."""
        paths = await rc.chain_paths(self._graph, sla_id, max_depth, self._scope)
        owned = await ObjectiveRepository(self._graph).objectives_by_service_ids(list(paths))
        measured = {
            service_id: [o for o in objectives if not o.indicator.ticket_time]
            for service_id, objectives in owned.items()
        }
        flat = [o for objectives in measured.values() for o in objectives]
        span = Window(snap(window.start), snap_up(window.end))
        series = await self.status.series_between(flat, span, window.end) if flat else {}
        return await rc.ranked(self._graph, paths, window, measured, series)
