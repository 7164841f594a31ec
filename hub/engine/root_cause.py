"""Root cause: which components on an SLA's chain most likely caused a bad window.

Every component the SLA covers, and everything they depend on, is a candidate when it
had incidents overlapping the window or (for services with their own objectives)
bad minutes in it. The score adds, per incident, its priority weight times one plus
the hours it overlapped the window (at most a day), and an hour's worth per sixty bad
minutes. Ties go to the deeper component: a fault below explains faults above it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from hub.domain.access import UNLIMITED, Scope
from hub.domain.buckets import BucketSeries
from hub.domain.errors import quoted
from hub.domain.models import AgreementKind, Objective, Walk
from hub.domain.windows import BUCKET_SECONDS, Window
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import from_iso, kind_of, to_iso
from hub.graph.repositories.agreements import AgreementRepository
from hub.graph.repositories.traversals import TraversalRepository

PRIORITY_WEIGHT = {"P1": 5.0, "P2": 4.0, "P3": 3.0, "P4": 2.0, "P5": 1.0}
MAX_OVERLAP_HOURS = 24.0


@dataclass(frozen=True, slots=True)
class Candidate:
    component_id: str
    path: tuple[str, ...]  # from a covered component down to this one
    incidents: int
    bad_minutes: float
    score: float


def shortest_paths(walks: Sequence[Walk]) -> dict[str, tuple[str, ...]]:
    """For each component reached from any root, the shortest path from a root (the
    first root listed wins ties), following the walks' dependency edges."""
    best: dict[str, tuple[str, ...]] = {}
    for walk in walks:
        below: dict[str, list[str]] = {}
        for consumer, provider in walk.edges:
            below.setdefault(consumer, []).append(provider)
        paths: dict[str, tuple[str, ...]] = {walk.root_id: (walk.root_id,)}
        queue = deque([walk.root_id])
        while queue:
            node = queue.popleft()
            for provider in sorted(below.get(node, ())):
                if provider not in paths:
                    paths[provider] = (*paths[node], provider)
                    queue.append(provider)
        for node, path in paths.items():
            if node not in best or len(path) < len(best[node]):
                best[node] = path
    return best


def incident_score(incident: Mapping[str, Any], window: Window) -> float:
    opened = from_iso(incident.get("openedAt")) or window.start
    ended = from_iso(incident.get("resolvedAt") or incident.get("closedAt")) or window.end
    overlap = (min(ended, window.end) - max(opened, window.start)) / timedelta(hours=1)
    weight = PRIORITY_WEIGHT.get(str(incident.get("priority")), 1.0)
    return weight * (1.0 + min(max(overlap, 0.0), MAX_OVERLAP_HOURS))


def bad_minutes(series: BucketSeries, target: float, window: Window) -> float:
    """Minutes of `window` in buckets whose compliance fell below `target`."""
    lo = max(0, int((window.start - series.start).total_seconds()) // BUCKET_SECONDS)
    hi = min(len(series.total), int((window.end - series.start).total_seconds()) // BUCKET_SECONDS)
    if lo >= hi:
        return 0.0
    good, total = series.good[lo:hi], series.total[lo:hi]
    measured = ~np.isnan(total) & (total > 0)
    below = measured & (100.0 * np.where(measured, good, 0) < target * np.where(measured, total, 1))
    return float(np.count_nonzero(below)) * BUCKET_SECONDS / 60.0


def rank(
    paths: Mapping[str, tuple[str, ...]],
    incidents: Mapping[str, Sequence[Mapping[str, Any]]],
    minutes: Mapping[str, float],
    window: Window,
) -> list[Candidate]:
    candidates = []
    for component_id, path in paths.items():
        found = incidents.get(component_id, ())
        bad = minutes.get(component_id, 0.0)
        if not found and bad <= 0:
            continue
        score = sum(incident_score(i, window) for i in found) + bad / 60.0
        candidates.append(Candidate(component_id, path, len(found), bad, round(score, 6)))
    return sorted(candidates, key=lambda c: (-c.score, -len(c.path), c.component_id))


class NotAnSlaError(ValueError):
    pass


async def chain_paths(
    graph: Graph, sla_id: str, max_depth: int, scope: Scope = UNLIMITED
) -> dict[str, tuple[str, ...]]:
    """Everything on `sla_id`'s chain with its shortest path from a covered component.

    The SLA must be one `scope` may read (`NotFoundError` otherwise, as for an unknown
    id); the walk itself runs over the whole graph.
    """
    agreements = AgreementRepository(graph, scope)
    agreement = (await agreements.by_ids([sla_id])).get(sla_id)
    if agreement is None and kind_of(sla_id) == "Agreement":
        raise NotFoundError("SLA", sla_id)
    if agreement is None or agreement.kind is not AgreementKind.SLA:
        raise NotAnSlaError(f"slaId: {quoted(sla_id)} is not an SLA")
    covered = (await agreements.covered_ids_by_agreement_ids([sla_id]))[sla_id]
    return await walk_paths(graph, covered, max_depth)


async def walk_paths(
    graph: Graph, roots: Sequence[str], max_depth: int
) -> dict[str, tuple[str, ...]]:
    """Everything within `max_depth` hops below any of `roots`, through ACTIVE
    components, with its shortest path from a root: the shared walk
    (`hub.graph.repositories.traversals.walk_down`) seeded with all of them, one
    statement per level in one read transaction.

    The paths are those `shortest_paths` finds from one walk per root: the levels grow
    in root order and each node's providers are taken in id order, so a node reached at
    the same depth from several roots keeps the first root's path.
    """
    walk = await TraversalRepository(graph).walk_down(roots, max_depth)
    return walk.paths()


async def ranked(
    graph: Graph,
    paths: Mapping[str, tuple[str, ...]],
    window: Window,
    service_objectives: Mapping[str, Sequence[Objective]] | None = None,
    series: Mapping[str, BucketSeries] | None = None,
) -> list[Candidate]:
    """The candidates among `paths` over `window`. `service_objectives` and `series` (by
    objective id) bring telemetry of services on the chain, if any."""
    rows = await graph.read(
        q.INCIDENTS_ON_COMPONENTS,
        ids=list(paths),
        **{"from": to_iso(window.start), "to": to_iso(window.end)},
    )
    incidents = {row["id"]: row["incidents"] for row in rows}
    minutes: dict[str, float] = {}
    for component_id, objectives in (service_objectives or {}).items():
        for objective in objectives:
            found = (series or {}).get(objective.id)
            if found is not None and component_id in paths:
                minutes[component_id] = minutes.get(component_id, 0.0) + bad_minutes(
                    found, objective.target, window
                )
    return rank(paths, incidents, minutes, window)


async def root_cause(
    graph: Graph,
    sla_id: str,
    window: Window,
    max_depth: int,
    service_objectives: Mapping[str, Sequence[Objective]] | None = None,
    series: Mapping[str, BucketSeries] | None = None,
) -> list[Candidate]:
    """The ranked candidates for `sla_id` over `window` (see `ranked`)."""
    paths = await chain_paths(graph, sla_id, max_depth)
    return await ranked(graph, paths, window, service_objectives, series)
