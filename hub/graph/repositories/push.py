"""Pushed measurements in the graph: the points of each objective and day, and the
buckets they make, on one `TelemetryDay` node (see `hub.graph.cypher.push`).

A push merges its points into the stored ones of each day they touch (a time pushed
again replaces its point), measures again the day's buckets its points touch (the
whole day when the objective's measuring terms changed since the day was stored:
`pushedTerms`) and writes points, buckets and terms together, in one managed
transaction: a retry reads again and gives the same day, and two pushes to one day
cannot lose each other's points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np

from hub.domain.buckets import BucketSeries
from hub.domain.models import Objective
from hub.domain.push import PUSH_SOURCE, PointSet, PushKind
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import push as q
from hub.graph.cypher import telemetry as telemetry_q
from hub.graph.ids import utc_now
from hub.graph.repositories.identity import token_actor
from hub.graph.repositories.objectives import objective_from_props

# The helper that shapes a stored day is the telemetry repository's: pushed buckets are
# stored exactly as pulled ones are.
from hub.graph.repositories.telemetry import day_key, day_props


class MeasureDay(Protocol):
    """Measures a pushed day (`hub.domain.push.DayMeasure`): (the day's points, those
    just pushed, the day, its buckets before them or None, the terms those were
    measured under or None) -> the day's buckets, measured under `terms`."""

    @property
    def terms(self) -> str: ...

    def __call__(
        self,
        merged: PointSet,
        new: PointSet,
        day: date,
        stored: BucketSeries | None,
        stored_terms: str | None,
    ) -> BucketSeries: ...


@dataclass(frozen=True, slots=True)
class PushTarget:
    """An objective a pusher token may push to, and the names of the services it
    answers for (its own service, or those its agreement covers)."""

    objective: Objective
    service_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushCredential:
    """Who holds a token, and (for a pusher token) the objectives it may push to."""

    actor: Actor
    targets: tuple[PushTarget, ...] = ()


def _encode(values: np.ndarray) -> bytes:
    return values.astype("<f8").tobytes()


def _decode(row: dict[str, Any], kind: PushKind) -> PointSet | None:
    if row.get("kind") != kind.value or row.get("times") is None:
        return None  # nothing pushed yet, or points of another kind: replaced
    columns = [np.frombuffer(row[name], dtype="<f8") for name in ("good", "total", "seconds")]
    return PointSet.of(kind, np.frombuffer(row["times"], dtype="<f8"), *columns)


def _buckets(row: dict[str, Any], day: date) -> BucketSeries | None:
    if row.get("bucketGood") is None or row.get("bucketTotal") is None:
        return None
    good, total = (np.frombuffer(row[name], dtype="<f8") for name in ("bucketGood", "bucketTotal"))
    return BucketSeries(datetime(day.year, day.month, day.day, tzinfo=UTC), good, total)


def _targets(rows: Sequence[Row]) -> list[PushTarget]:
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


class PushRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def targets(self, objective_ids: Sequence[str]) -> list[PushTarget]:
        """The objectives among `objective_ids` that exist, with their service names."""
        rows = await self._graph.read(q.PUSH_OBJECTIVES, ids=sorted(set(objective_ids)))
        return _targets(rows)

    async def credentials(self, hashes: Sequence[str], now: str) -> dict[str, PushCredential]:
        """The valid tokens among `hashes` (SHA-256s, `hash_token`) at `now`, each with
        its holder and, for a pusher token, its objectives: one read transaction for
        the tokens of many concurrent pushes. A hash not returned does not authenticate."""

        async def work(tx: Transaction) -> dict[str, PushCredential]:
            rows = await tx.run(q.PUSH_TOKENS, hashes=sorted(set(hashes)), now=now)
            actors = {row["hash"]: token_actor(row) for row in rows}
            wanted = {o for a in actors.values() if a.role is Role.PUSHER for o in a.objectives}
            found: dict[str, PushTarget] = {}
            if wanted:
                objective_rows = await tx.run(q.PUSH_OBJECTIVES, ids=sorted(wanted))
                found = {t.objective.id: t for t in _targets(objective_rows)}
            return {
                key: PushCredential(
                    actor,
                    tuple(found[o] for o in sorted(actor.objectives) if o in found)
                    if actor.role is Role.PUSHER
                    else (),
                )
                for key, actor in actors.items()
            }

        return await self._graph.read_transaction(work)

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
                news = plans[key][2] if key in plans else []
                news.append(new)
                # The last push's measure (as a rule the objective as read last):
                # whichever it is, the day's buckets and stored terms agree.
                plans[key] = (objective_id, day, news, measure_day)
        if not plans:
            return 0

        async def work(tx: Transaction) -> int:
            rows = await tx.run(q.PUSHED_DAYS, keys=list(plans))
            stored = {row["key"]: row for row in rows}
            now = utc_now()
            written = []
            for key, (objective_id, day, news, measure_day) in plans.items():
                row = stored.get(key, {})
                before = _decode(row, news[0].kind)
                pushed = news[0]
                for new in news[1:]:
                    pushed = pushed.replaced_by(new)
                merged = pushed if before is None else before.replaced_by(pushed)
                # The day's buckets as they were, if they were measured from `before`,
                # and the objective's terms they were measured under (None: stored
                # before terms were kept, so measured whole again).
                buckets = None if before is None else _buckets(row, day)
                series = measure_day(merged, pushed, day, buckets, row.get("terms"))
                props = day_props(
                    objective_id, PUSH_SOURCE, day, series.good.copy(), series.total.copy(), now
                )
                props.update(
                    pushedKind=merged.kind.value,
                    pushedTimes=_encode(merged.times),
                    pushedGood=_encode(merged.good),
                    pushedTotal=_encode(merged.total),
                    pushedSeconds=_encode(merged.seconds),
                    pushedTerms=measure_day.terms,
                )
                written.append({"key": key, "props": props})
            await tx.run(telemetry_q.UPSERT_TELEMETRY_DAYS, rows=written)
            return len(written)

        return await self._graph.write_transaction(work)

    async def points(self, objective_id: str, day: date, kind: PushKind) -> PointSet | None:
        """The points stored for `objective_id` on `day` (None if none of `kind`)."""
        rows = await self._graph.read(q.PUSHED_DAYS, keys=[day_key(objective_id, PUSH_SOURCE, day)])
        return _decode(rows[0], kind) if rows else None
