"""Per-objective telemetry buckets in the graph, and their source discrepancies.

One `TelemetryDay` node holds one UTC day of one objective from one source: 288
five-minute buckets as float64 byte arrays, NaN where the source had no data. A write
merges new buckets into what is stored (a bucket with data replaces the stored one; a
missing bucket never erases data), so re-fetching an overlap is harmless and a retried
write gives the same day.

A day of an objective measured from a latency series also keeps its slice latencies
(`latency`: 86,400 / `latencySliceSeconds` float64 seconds, NaN without a sample),
merged the same way: a slice with a sample replaces the stored one, a missing one never
erases it. A day stored at another slice length (the query's step changed) has its
latency array replaced whole by the new slices: slices of two lengths cannot share one
array. Days of other objectives hold no latency property at all. Only suggestions read
it (`latency_series`); status reads never carry those bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from hub.domain.buckets import BucketSeries
from hub.domain.latency import LatencySeries
from hub.domain.windows import BUCKET_SECONDS, Window
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import telemetry as q
from hub.graph.ids import to_iso, utc_now

DAY_SECONDS = 86_400
DAY_BUCKETS = DAY_SECONDS // BUCKET_SECONDS
_EMPTY_DAY = np.full(DAY_BUCKETS, np.nan).tobytes()


def day_key(objective_id: str, source: str, day: date) -> str:
    return f"{objective_id}|{source}|{day.isoformat()}"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _days(start: datetime, end: datetime) -> list[date]:
    """The UTC days that [start, end) touches."""
    first = start.date()
    last = (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _decode(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob if blob is not None else _EMPTY_DAY, dtype="<f8")


def _decode_latency(row: dict[str, Any] | None, slice_seconds: int) -> np.ndarray:
    """A stored day's slice latencies when kept at `slice_seconds`, else all NaN."""
    size = DAY_SECONDS // slice_seconds
    blob = None if row is None else row.get("latency")
    if blob is not None and row is not None and row.get("latencySliceSeconds") == slice_seconds:
        found = np.frombuffer(blob, dtype="<f8")
        if found.shape[0] == size:
            return found.copy()
    return np.full(size, np.nan)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    objective_id: str
    bucket_start: datetime
    primary_source: str
    secondary_source: str
    primary: float | None  # compliance (percent) of the bucket from each source
    secondary: float | None


class TelemetryRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def series(self, objective_id: str, source: str, window: Window) -> BucketSeries:
        found = await self.many_series([(objective_id, source)], window)
        return found[(objective_id, source)]

    async def many_series(
        self, wanted: Sequence[tuple[str, str]], window: Window
    ) -> dict[tuple[str, str], BucketSeries]:
        """The buckets of each (objective, source) over the days `window` touches, in one
        read; the series span whole days, so callers tally the window they need."""
        days = _days(window.start, window.end)
        keys = [day_key(o, s, d) for o, s in wanted for d in days]
        rows = await self._graph.read(q.TELEMETRY_DAYS, keys=keys)
        stored = {row["key"]: row for row in rows}
        start = _midnight(days[0])
        result: dict[tuple[str, str], BucketSeries] = {}
        for objective_id, source in wanted:
            good = np.empty(len(days) * DAY_BUCKETS)
            total = np.empty(len(days) * DAY_BUCKETS)
            for n, day in enumerate(days):
                row = stored.get(day_key(objective_id, source, day))
                span = slice(n * DAY_BUCKETS, (n + 1) * DAY_BUCKETS)
                good[span] = _decode(row["good"] if row else None)
                total[span] = _decode(row["total"] if row else None)
            result[(objective_id, source)] = BucketSeries(start=start, good=good, total=total)
        return result

    async def latency_series(
        self, wanted: Sequence[tuple[str, str]], window: Window
    ) -> dict[tuple[str, str], LatencySeries | None]:
        """The slice latencies of each (objective, source) over the days `window`
        touches, in one read; None for a pair without any kept in them. A series takes
        the slice length of its latest day; days kept at another length count as
        without samples."""
        days = _days(window.start, window.end)
        keys = [day_key(o, s, d) for o, s in wanted for d in days]
        rows = await self._graph.read(q.TELEMETRY_LATENCY_DAYS, keys=keys)
        stored = {row["key"]: row for row in rows}
        result: dict[tuple[str, str], LatencySeries | None] = {}
        for objective_id, source in wanted:
            kept = [
                (n, row)
                for n, day in enumerate(days)
                if (row := stored.get(day_key(objective_id, source, day))) is not None
            ]
            if not kept:
                result[(objective_id, source)] = None
                continue
            slice_seconds = int(kept[-1][1]["latencySliceSeconds"])
            per_day = DAY_SECONDS // slice_seconds
            seconds = np.full(len(days) * per_day, np.nan)
            for n, row in kept:
                seconds[n * per_day : (n + 1) * per_day] = _decode_latency(row, slice_seconds)
            result[(objective_id, source)] = LatencySeries(
                _midnight(days[0]), slice_seconds, seconds
            )
        return result

    async def store(self, objective_id: str, source: str, series: BucketSeries) -> int:
        """Merge `series` into the stored days in one transaction; returns how many
        buckets with data it carried."""
        return await self.store_many([(objective_id, source, series)])

    async def store_many(
        self,
        batch: Sequence[tuple[str, str, BucketSeries]],
        latencies: Sequence[LatencySeries | None] = (),
    ) -> int:
        """Merge each (objective, source, series) into the stored days, all in one
        transaction: one read of the days they touch and one write of them, however
        many objectives the batch holds. `latencies`, empty or one per item of the
        batch, are the slice latencies to keep with them (None: none); when any is
        given, the days they touch are read a second time for their stored latencies.
        Returns how many buckets with data the batch carried."""
        if not batch:
            return 0
        if latencies and len(latencies) != len(batch):
            raise ValueError("latencies: give one per item of the batch, or none")
        items = [
            (o, s, series, latencies[n] if latencies else None)
            for n, (o, s, series) in enumerate(batch)
        ]

        async def work(tx: Transaction) -> int:
            touched = [
                (o, s, series, latency, _touched_days(series, latency))
                for o, s, series, latency in items
            ]
            keys = list(dict.fromkeys(day_key(o, s, d) for o, s, _, _, ds in touched for d in ds))
            stored = {row["key"]: row for row in await tx.run(q.TELEMETRY_DAYS, keys=keys)}
            latency_keys = list(
                dict.fromkeys(
                    day_key(o, s, d)
                    for o, s, _, latency, ds in touched
                    if latency is not None
                    for d in ds
                )
            )
            stored_latency: dict[str, dict[str, Any]] = {}
            if latency_keys:
                rows = await tx.run(q.TELEMETRY_LATENCY_DAYS, keys=latency_keys)
                stored_latency = {row["key"]: row for row in rows}
            # A day two items of the batch share takes both, in batch order.
            merged: dict[str, tuple[str, str, date, np.ndarray, np.ndarray]] = {}
            kept: dict[str, tuple[int, np.ndarray]] = {}
            for objective_id, source, series, latency, days in touched:
                for day in days:
                    key = day_key(objective_id, source, day)
                    if key not in merged:
                        row = stored.get(key)
                        good = _decode(row["good"] if row else None).copy()
                        total = _decode(row["total"] if row else None).copy()
                        merged[key] = (objective_id, source, day, good, total)
                    _, _, _, good, total = merged[key]
                    _overlay_day(good, total, series, _midnight(day))
                    if latency is None:
                        continue
                    size = latency.slice_seconds
                    if key not in kept or kept[key][0] != size:
                        kept[key] = (size, _decode_latency(stored_latency.get(key), size))
                    _overlay_latency(kept[key][1], latency, _midnight(day))
            now = utc_now()
            rows = [
                {"key": key, "props": day_props(o, s, day, good, total, now, kept.get(key))}
                for key, (o, s, day, good, total) in merged.items()
            ]
            await tx.run(q.UPSERT_TELEMETRY_DAYS, rows=rows)
            return sum(int(np.count_nonzero(~np.isnan(series.total))) for _, _, series in batch)

        return await self._graph.write_transaction(work)

    async def prune(self, before: date, batch: int = 10_000) -> int:
        """Delete days before `before` (retention); returns how many went."""
        pruned = 0
        while True:
            rows = await self._graph.write(
                q.PRUNE_TELEMETRY_DAYS, before=before.isoformat(), limit=batch
            )
            gone = int(rows[0]["pruned"]) if rows else 0
            pruned += gone
            if gone < batch:
                return pruned

    async def record_discrepancies(
        self, objective_id: str, span: Window, found: Sequence[Discrepancy]
    ) -> None:
        """Flag the buckets of `span` whose sources disagree (`found`), and clear the
        flags of its other buckets: they agree now."""
        rows = [_discrepancy_row(d) for d in found]

        async def work(tx: Transaction) -> None:
            if rows:
                await tx.run(q.UPSERT_DISCREPANCIES, rows=rows)
            await tx.run(
                q.RESOLVE_DISCREPANCIES,
                objectiveId=objective_id,
                keep=[row["key"] for row in rows],
                **{"from": to_iso(span.start), "to": to_iso(span.end)},
            )

        await self._graph.write_transaction(work)

    async def discrepancies(
        self, objective_ids: Sequence[str], window: Window
    ) -> dict[str, list[Discrepancy]]:
        rows = await self._graph.read(
            q.DISCREPANCIES_BY_OBJECTIVE_IDS,
            ids=list(objective_ids),
            **{"from": to_iso(window.start), "to": to_iso(window.end)},
        )
        found: dict[str, list[Discrepancy]] = {i: [] for i in objective_ids}
        for row in rows:
            p = row["discrepancy"]
            found[row["id"]].append(
                Discrepancy(
                    objective_id=p["objectiveId"],
                    bucket_start=datetime.fromisoformat(p["bucketStart"]),
                    primary_source=p["primarySource"],
                    secondary_source=p["secondarySource"],
                    primary=p.get("primary"),
                    secondary=p.get("secondary"),
                )
            )
        return found


def _overlay_day(
    good: np.ndarray, total: np.ndarray, series: BucketSeries, midnight: datetime
) -> None:
    """Copy the buckets of `series` that have data and fall on this day into it."""
    offset = int((midnight - series.start).total_seconds()) // BUCKET_SECONDS
    lo, hi = max(offset, 0), min(offset + DAY_BUCKETS, len(series.total))
    if lo >= hi:
        return
    new_good = series.good[lo:hi]
    new_total = series.total[lo:hi]
    has_data = ~np.isnan(new_total)
    target = slice(lo - offset, hi - offset)
    good[target] = np.where(has_data, new_good, good[target])
    total[target] = np.where(has_data, new_total, total[target])


def _touched_days(series: BucketSeries, latency: LatencySeries | None) -> list[date]:
    days = _days(series.start, series.end)
    if latency is None or not latency.buckets:
        return days
    return sorted({*days, *_days(latency.start, latency.end)})


def _overlay_latency(day: np.ndarray, latency: LatencySeries, midnight: datetime) -> None:
    """Copy the slices of `latency` that have a sample and fall on this day into it."""
    offset = int((midnight - latency.start).total_seconds()) // latency.slice_seconds
    lo, hi = max(offset, 0), min(offset + day.shape[0], latency.seconds.shape[0])
    if lo >= hi:
        return
    new = latency.seconds[lo:hi]
    target = slice(lo - offset, hi - offset)
    day[target] = np.where(np.isnan(new), day[target], new)


def day_props(
    objective_id: str,
    source: str,
    day: date,
    good: np.ndarray,
    total: np.ndarray,
    now: str,
    latency: tuple[int, np.ndarray] | None = None,
) -> dict[str, Any]:
    """A day's properties; `latency` (slice seconds, slice latencies) only for a day
    that keeps them."""
    with_data = ~np.isnan(total)
    extra: dict[str, Any] = {}
    if latency is not None:
        extra = {"latency": latency[1].astype("<f8").tobytes(), "latencySliceSeconds": latency[0]}
    return {
        "objectiveId": objective_id,
        "source": source,
        "day": day.isoformat(),
        "good": good.astype("<f8").tobytes(),
        "total": total.astype("<f8").tobytes(),
        "goodSum": float(np.sum(good[with_data])),
        "totalSum": float(np.sum(total[with_data])),
        "bucketsWithData": int(np.count_nonzero(with_data)),
        "updatedAt": now,
        **extra,
    }


def _discrepancy_row(d: Discrepancy) -> dict[str, Any]:
    props = {
        "objectiveId": d.objective_id,
        "bucketStart": to_iso(d.bucket_start),
        "primarySource": d.primary_source,
        "secondarySource": d.secondary_source,
        "primary": d.primary,
        "secondary": d.secondary,
        "flaggedAt": utc_now(),
    }
    return {
        "key": f"{d.objective_id}|{to_iso(d.bucket_start)}",
        "props": {k: v for k, v in props.items() if v is not None},
    }
