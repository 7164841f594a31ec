"""Pushed measurements in the graph: the points of each objective and day, and the
buckets they make, on one `TelemetryDay` node (see `hub.graph.cypher.push`).

A push merges its points into the stored ones of each day they touch (a time pushed
again replaces its point), measures again the day's buckets its points touch (the
whole day when the objective's measuring terms changed since the day was stored:
`pushedTerms`) and writes points, buckets and terms together, in one managed
transaction: a retry reads again and gives the same day, and two pushes to one day
cannot lose each other's points. A writer that keeps the days it wrote (`PushedDays`)
reads back only those the graph no longer holds as it wrote them: the next push to a
day it wrote last is one statement, which writes the day only if it is unchanged.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
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


def _encode(values: np.ndarray) -> bytes | None:
    # A column the points' kind lacks (all NaN) is not stored: absent reads as NaN.
    if np.isnan(values).all():
        return None
    return values.astype("<f8").tobytes()


def _decode(row: dict[str, Any], kind: PushKind) -> PointSet | None:
    if row.get("kind") != kind.value or row.get("times") is None:
        return None  # nothing pushed yet, or points of another kind: replaced
    times = np.frombuffer(row["times"], dtype="<f8")
    columns = [
        None if row.get(name) is None else np.frombuffer(row[name], dtype="<f8")
        for name in ("good", "total", "seconds")
    ]
    return PointSet.of(kind, times, *columns)


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


@dataclass(frozen=True, slots=True)
class _Written:
    """A pushed day as this process wrote it: its points, buckets and terms, and what
    identifies that write in the graph (`pushedVersion`, `updatedAt`)."""

    version: str
    updated_at: str
    points: PointSet
    buckets: BucketSeries
    terms: str


class PushedDays:
    """The pushed days this process wrote last, at most `size` days holding at most
    `max_points` points together (the least recently written go first: a day of one
    point a second holds 86,400), so that a push to one of them need not read it back.

    A day from here is written only on condition that the graph still holds this
    write of it: its `pushedVersion` (random, new at every push's write) and
    `updatedAt` (set by any write of a day) both as written here. Any other write of
    the day since (another process, a transaction whose outcome was not known here)
    changes them, and the day is then read from the graph and written anew, in the
    same transaction. Only committed writes are kept.
    """

    def __init__(self, size: int = 512, max_points: int = 1_000_000) -> None:
        if size < 1 or max_points < 1:
            raise ValueError("size, max_points: keep 1 day and 1 point or more")
        self._size = size
        self._max_points = max_points
        self._points = 0
        self._days: OrderedDict[str, _Written] = OrderedDict()

    def __len__(self) -> int:
        return len(self._days)

    def get(self, key: str) -> _Written | None:
        return self._days.get(key)

    def keep(self, written: dict[str, _Written]) -> None:
        for key, day in written.items():
            gone = self._days.pop(key, None)
            self._points += len(day.points) - (0 if gone is None else len(gone.points))
            self._days[key] = day
        while self._days and (len(self._days) > self._size or self._points > self._max_points):
            _, gone = self._days.popitem(last=False)
            self._points -= len(gone.points)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a group write does to one day: the points of its pushes in order, and the
    measure of the last of them."""

    objective_id: str
    day: date
    news: list[PointSet]
    measure_day: MeasureDay
    # A push of another kind than the one before it in the group: the day's stored
    # points are replaced, not merged, as when the pushes are written one at a time.
    fresh: bool = False

    def pushed(self) -> PointSet:
        """The pushes' points, a later push's point replacing an earlier one's."""
        pushed = self.news[0]
        for new in self.news[1:]:
            pushed = pushed.replaced_by(new)
        return pushed


@dataclass(frozen=True, slots=True)
class _Before:
    """A day before a push: its points of the push's kind, and its buckets and terms
    when they were measured from those points (else None)."""

    points: PointSet | None
    buckets: BucketSeries | None
    terms: str | None


def _read(row: dict[str, Any], plan: _Plan) -> _Before:
    if plan.fresh:
        return _Before(None, None, row.get("terms"))
    points = _decode(row, plan.news[-1].kind)
    buckets = None if points is None else _buckets(row, plan.day)
    return _Before(points, buckets, row.get("terms"))


def _cached(written: _Written, plan: _Plan) -> _Before:
    if plan.fresh or written.points.kind is not plan.news[-1].kind:
        return _Before(None, None, written.terms)
    return _Before(written.points, written.buckets, written.terms)


def _day(plan: _Plan, before: _Before, now: str, version: str) -> tuple[dict[str, Any], _Written]:
    """The day's properties after `plan`'s pushes, and the day as written."""
    pushed = plan.pushed()
    merged = pushed if before.points is None else before.points.replaced_by(pushed)
    # The day's buckets as they were, if they were measured from the points before,
    # and the objective's terms they were measured under (None: stored before terms
    # were kept, so measured whole again).
    series = plan.measure_day(merged, pushed, plan.day, before.buckets, before.terms)
    props = day_props(
        plan.objective_id, PUSH_SOURCE, plan.day, series.good.copy(), series.total.copy(), now
    )
    terms = plan.measure_day.terms
    props.update(
        pushedKind=merged.kind.value,
        pushedTimes=_encode(merged.times),
        pushedGood=_encode(merged.good),
        pushedTotal=_encode(merged.total),
        pushedSeconds=_encode(merged.seconds),
        pushedTerms=terms,
        pushedVersion=version,
    )
    return props, _Written(version, now, merged, series, terms)


class PushRepository:
    """Pushed days and pushers' credentials; `days` (`PushedDays`) spares reading back
    the days this process wrote last."""

    def __init__(self, graph: Graph, days: PushedDays | None = None) -> None:
        self._graph = graph
        self._days = days

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
        replaces an earlier one's at the same time). With `PushedDays`, a day this
        process wrote last is not read: it is written in one statement on condition
        that the graph still holds it as written here, and read and written only if not."""
        plans: dict[str, _Plan] = {}
        for objective_id, points, measure_day in pushes:
            for day, new in points.by_day().items():
                key = day_key(objective_id, PUSH_SOURCE, day)
                earlier = plans.get(key)
                news = [] if earlier is None else earlier.news
                fresh = earlier is not None and earlier.fresh
                if news and news[-1].kind is not new.kind:
                    # Another kind replaces the day's points (as `_decode` of another
                    # kind finds none): what came before it in the group goes too.
                    news, fresh = [], True
                news.append(new)
                # The last push's measure (as a rule the objective as read last):
                # whichever it is, the day's buckets and stored terms agree.
                plans[key] = _Plan(objective_id, day, news, measure_day, fresh)
        if not plans:
            return 0
        cache = self._days

        async def work(tx: Transaction) -> dict[str, _Written]:
            now, version = utc_now(), secrets.token_hex(8)
            written: dict[str, _Written] = {}
            known = {} if cache is None else {k: w for k in plans if (w := cache.get(k))}
            if known:
                rows, days = [], {}
                for key, last in known.items():
                    props, days[key] = _day(plans[key], _cached(last, plans[key]), now, version)
                    rows.append(
                        {
                            "key": key,
                            "props": props,
                            "version": last.version,
                            "updatedAt": last.updated_at,
                        }
                    )
                done = await tx.run(q.UPDATE_PUSHED_DAYS_IF_UNCHANGED, rows=rows)
                written = {row["key"]: days[row["key"]] for row in done}
            # Days not written here last, or written elsewhere since: read, then written.
            unknown = [key for key in plans if key not in written]
            if unknown:
                rows = await tx.run(q.LOCK_PUSHED_DAYS, keys=unknown, now=now)
                stored = {row["key"]: row for row in rows}
                upserts = []
                for key in unknown:
                    plan = plans[key]
                    before = _read(stored.get(key, {}), plan)
                    props, written[key] = _day(plan, before, now, version)
                    upserts.append({"key": key, "props": props})
                await tx.run(telemetry_q.UPSERT_TELEMETRY_DAYS, rows=upserts)
            return written

        written = await self._graph.write_transaction(work)
        if cache is not None:  # committed: these are the days as the graph holds them
            cache.keep(written)
        return len(plans)

    async def points(self, objective_id: str, day: date, kind: PushKind) -> PointSet | None:
        """The points stored for `objective_id` on `day` (None if none of `kind`)."""
        rows = await self._graph.read(q.PUSHED_DAYS, keys=[day_key(objective_id, PUSH_SOURCE, day)])
        return _decode(rows[0], kind) if rows else None
