"""Pushed measurements in the graph: the points of each objective and day, and the
buckets they make, on one `TelemetryDay` node (see `hub.graph.cypher.push`).

A push merges its points into the stored ones of each day they touch (a time pushed
again replaces its point), measures the whole day again from them and writes points
and buckets together, in one managed transaction: a retry reads again and gives the
same day, and two pushes to one day cannot lose each other's points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from hub.domain.buckets import BucketSeries
from hub.domain.models import Objective
from hub.domain.push import PUSH_SOURCE, PointSet, PushKind
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import push as q
from hub.graph.cypher import telemetry as telemetry_q
from hub.graph.ids import utc_now
from hub.graph.repositories.objectives import objective_from_props

# The helper that shapes a stored day is the telemetry repository's: pushed buckets are
# stored exactly as pulled ones are.
from hub.graph.repositories.telemetry import day_key, day_props

MeasureDay = Callable[[PointSet, date], BucketSeries]


@dataclass(frozen=True, slots=True)
class PushTarget:
    """An objective a pusher token may push to, and the names of the services it
    answers for (its own service, or those its agreement covers)."""

    objective: Objective
    service_names: tuple[str, ...]


def _encode(values: np.ndarray) -> bytes:
    return values.astype("<f8").tobytes()


def _decode(row: dict[str, Any], kind: PushKind) -> PointSet | None:
    if row.get("kind") != kind.value or row.get("times") is None:
        return None  # nothing pushed yet, or points of another kind: replaced
    columns = [np.frombuffer(row[name], dtype="<f8") for name in ("good", "total", "seconds")]
    return PointSet.of(kind, np.frombuffer(row["times"], dtype="<f8"), *columns)


class PushRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def targets(self, objective_ids: Sequence[str]) -> list[PushTarget]:
        """The objectives among `objective_ids` that exist, with their service names."""
        rows = await self._graph.read(q.PUSH_OBJECTIVES, ids=sorted(set(objective_ids)))
        found = []
        for row in rows:
            labels = row["ownerLabels"]
            service = "Service" in labels
            objective = objective_from_props(
                row["props"],
                service_id=row["ownerId"] if service else None,
                agreement_id=row["ownerId"] if "Agreement" in labels else None,
            )
            names = [row["ownerName"]] if service else list(row["coveredNames"])
            found.append(PushTarget(objective, tuple(n for n in names if n)))
        return found

    async def store(self, objective_id: str, points: PointSet, measure_day: MeasureDay) -> int:
        """Merge `points` into the stored points of the days they count in and write
        those days' points and buckets (`measure_day` measures a day from its points).
        Returns how many days were written."""
        return await self.store_many([(objective_id, points, measure_day)])

    async def store_many(self, pushes: Sequence[tuple[str, PointSet, MeasureDay]]) -> int:
        """`store` for several pushes in one transaction: one read of the days they
        touch, one write. Pushes to one day apply in order (a later one's point
        replaces an earlier one's at the same time)."""
        plans: dict[str, tuple[str, date, list[PointSet], MeasureDay]] = {}
        for objective_id, points, measure_day in pushes:
            for day, new in points.by_day().items():
                key = day_key(objective_id, PUSH_SOURCE, day)
                if key not in plans:
                    plans[key] = (objective_id, day, [], measure_day)
                plans[key][2].append(new)
        if not plans:
            return 0

        async def work(tx: Transaction) -> int:
            rows = await tx.run(q.PUSHED_DAYS, keys=list(plans))
            stored = {row["key"]: row for row in rows}
            now = utc_now()
            written = []
            for key, (objective_id, day, news, measure_day) in plans.items():
                merged = _decode(stored.get(key, {}), news[0].kind)
                for new in news:
                    merged = new if merged is None else merged.replaced_by(new)
                assert merged is not None
                series = measure_day(merged, day)
                props = day_props(
                    objective_id, PUSH_SOURCE, day, series.good.copy(), series.total.copy(), now
                )
                props.update(
                    pushedKind=merged.kind.value,
                    pushedTimes=_encode(merged.times),
                    pushedGood=_encode(merged.good),
                    pushedTotal=_encode(merged.total),
                    pushedSeconds=_encode(merged.seconds),
                )
                written.append({"key": key, "props": props})
            await tx.run(telemetry_q.UPSERT_TELEMETRY_DAYS, rows=written)
            return len(written)

        return await self._graph.write_transaction(work)

    async def points(self, objective_id: str, day: date, kind: PushKind) -> PointSet | None:
        """The points stored for `objective_id` on `day` (None if none of `kind`)."""
        rows = await self._graph.read(q.PUSHED_DAYS, keys=[day_key(objective_id, PUSH_SOURCE, day)])
        return _decode(rows[0], kind) if rows else None
