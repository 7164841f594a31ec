"""Measurements pushed to `POST /api/v1/measurements`: the body, its points, and the
buckets they make. Pure.

A body names one objective (by id, or `service/name`) and carries points, each either
`good` and `total` counts or a latency `value` in the `unit` the body (or the point)
gives::

    {"objective": "obj_123", "points": [{"time": "2026-12-07T10:00:00+01:00",
                                         "good": 998, "total": 1000}]}

A body that is not such JSON is refused whole (`PushBodyError`). Its points then pass
pulled telemetry's validation (`hub.domain.measurements`), whose functions also turn
them into buckets:

- good/total counts of an OCCURRENCES objective go through `events_from_rates` with a
  step of one second (a point's counts are its events, as a rate times its step is);
- good/total of a TIMESLICES objective through `timeslices` (each point is one slice);
- latency values through `latency_good` against the objective's threshold, after
  `per_second` has normalised them to seconds, the unit stored.

A point time is placed like a pulled sample's: it closes the interval before it, so it
counts in the bucket holding the last instant before it. A time without a UTC offset
is refused (its zone would be a guess); one with any offset counts at that instant.
Points refused (no offset, not finite, negative, good above total, in the future, a
second point at one time) are reported with their reason, to be quarantined; the rest
are kept by (objective, time), so pushing a time again replaces its point.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.domain import measurements
from hub.domain.buckets import BucketSeries, bucket_count
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import BudgetingMethod, Objective
from hub.domain.windows import BUCKET_SECONDS, EPOCH, snap, snap_up

FloatArray = npt.NDArray[np.float64]

DAY_SECONDS = 86_400
# The source key pushed buckets are stored under: the primary source of an objective
# that no connector measures (`hub.engine.sources`).
PUSH_SOURCE = "push"
NO_OFFSET = "time: no UTC offset; give one, e.g. 2026-12-07T10:00:00Z or 2026-12-07T11:00:00+01:00"
Unit = Literal["ms", "s", "us"]


class PushKind(enum.StrEnum):
    """What a body's points carry."""

    EVENTS = "EVENTS"  # good and total counts
    LATENCY = "LATENCY"  # a latency value


class PushBodyError(InvalidInputError):
    """A body that is not the contract's JSON (HTTP 400; nothing is kept)."""


# ---- the body -------------------------------------------------------------------------


class PushedPoint(BaseModel):
    """One point as sent: `good` and `total`, or `value` (with a `unit` here or on the body)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    time: str = Field(max_length=64)
    good: float | None = None
    total: float | None = None
    value: float | None = None
    unit: Unit | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> PushedPoint:
        counts = self.good is not None and self.total is not None
        if counts == (self.value is not None) or (
            not counts and (self.good is not None or self.total is not None)
        ):
            raise ValueError('give "good" and "total", or a latency "value", not both')
        if counts and self.unit is not None:
            raise ValueError('unit: only a latency "value" has a unit')
        return self

    @property
    def kind(self) -> PushKind:
        return PushKind.LATENCY if self.value is not None else PushKind.EVENTS


class PushBodyModel(BaseModel):
    """The body of `POST /api/v1/measurements` as the contract states it: what
    `parse_body` checks a body against when the fast reading declines it, and the
    source of its errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    objective: str = Field(min_length=1, max_length=500)
    unit: Unit | None = None
    points: list[PushedPoint]

    @model_validator(mode="after")
    def _one_kind(self) -> PushBodyModel:
        kinds = {p.kind for p in self.points}
        if len(kinds) > 1:
            raise ValueError("points: send either all counts or all latency values, not both")
        if PushKind.LATENCY in kinds:
            unitless = [n for n, p in enumerate(self.points) if p.unit is None]
            if self.unit is None and unitless:
                raise ValueError(
                    f'unit: give the latency unit ("ms", "s" or "us") on the body or on '
                    f"point {unitless[0]}"
                )
        return self

    @property
    def kind(self) -> PushKind:
        return self.points[0].kind if self.points else PushKind.EVENTS


@dataclass(frozen=True, slots=True, eq=False)
class PushBody:
    """A valid body as columns, one entry a point in the order sent: its time as sent,
    and `good`, `total` or a latency in `seconds` (normalised from its unit; NaN in the
    columns its kind lacks). `points` are the points as sent, for quarantine records
    (`payload`)."""

    objective: str
    kind: PushKind
    times: list[str]
    good: list[float]
    total: list[float]
    seconds: list[float]
    points: list[dict[str, Any]]

    @property
    def columns(self) -> tuple[list[float], list[float], list[float]]:
        return self.good, self.total, self.seconds

    @classmethod
    def of_model(cls, model: PushBodyModel) -> PushBody:
        """The columns of a body `PushBodyModel` accepted."""
        points = model.points
        return cls(
            model.objective,
            model.kind,
            [p.time for p in points],
            [math.nan if p.good is None else p.good for p in points],
            [math.nan if p.total is None else p.total for p in points],
            [
                math.nan
                if p.value is None
                else p.value / measurements.per_second(p.unit or model.unit)
                for p in points
            ],
            [p.model_dump(exclude_none=True) for p in points],
        )

    def payload(self, n: int) -> dict[str, Any]:
        """Point `n` as `PushedPoint` reads it: numbers as floats, no nulls."""
        return {
            k: float(v) if k in _NUMBER_FIELDS else v
            for k, v in self.points[n].items()
            if v is not None
        }


_NUMBER_FIELDS = frozenset({"good", "total", "value"})
_BODY_FIELDS = frozenset({"objective", "unit", "points"})
_COUNT_FIELDS = frozenset({"time", "good", "total"})
_VALUE_FIELDS = frozenset({"time", "value"})
_VALUE_UNIT_FIELDS = frozenset({"time", "value", "unit"})
_SECONDS_PER_UNIT: dict[Any, float] = {u: measurements.per_second(u) for u in get_args(Unit)}


def _number(value: object) -> bool:
    # Not bool (a subclass of int), as PushedPoint's strict floats refuse it.
    return type(value) is float or type(value) is int


def _text(value: object) -> str | None:
    return value if type(value) is str else None


def _fast_body(value: dict[str, Any]) -> PushBody | None:
    """The body when it is plainly valid (every point of one shape, no nulls), read
    without a model per point; None for anything else, which `PushBodyModel` then
    judges (and explains). Where both accept a body they read it alike (tested)."""
    objective, unit, points = value.get("objective"), value.get("unit"), value.get("points")
    if (
        not value.keys() <= _BODY_FIELDS
        or type(objective) is not str
        or not 1 <= len(objective) <= 500
        or type(points) is not list
        or (unit is not None and _SECONDS_PER_UNIT.get(_text(unit)) is None)
    ):
        return None
    times: list[str] = []
    first: list[float] = []
    second: list[float] = []
    nothing = [math.nan] * len(points)
    if points and type(points[0]) is dict and "value" in points[0]:
        for point in points:
            if type(point) is not dict:
                return None
            fields = point.keys()
            if fields == _VALUE_FIELDS:
                factor = _SECONDS_PER_UNIT.get(unit)
            elif fields == _VALUE_UNIT_FIELDS:
                factor = _SECONDS_PER_UNIT.get(_text(point["unit"]))
            else:
                return None
            time, number = point["time"], point["value"]
            if factor is None or type(time) is not str or len(time) > 64 or not _number(number):
                return None
            times.append(time)
            first.append(number / factor)
        return PushBody(objective, PushKind.LATENCY, times, nothing, nothing, first, points)
    for point in points:
        if type(point) is not dict or point.keys() != _COUNT_FIELDS:
            return None
        time, good, total = point["time"], point["good"], point["total"]
        if type(time) is not str or len(time) > 64 or not (_number(good) and _number(total)):
            return None
        times.append(time)
        first.append(float(good))
        second.append(float(total))
    return PushBody(objective, PushKind.EVENTS, times, first, second, nothing, points)


def parse_body(raw: bytes) -> PushBody:
    """The body, or `PushBodyError` naming every problem (400, nothing kept)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PushBodyError([FieldProblem("body", f"not JSON: {exc}")]) from None
    if not isinstance(value, dict):
        raise PushBodyError(
            [FieldProblem("body", 'send a JSON object: {"objective": ..., "points": [...]}')]
        )
    fast = _fast_body(value)
    if fast is not None:
        return fast
    try:
        return PushBody.of_model(PushBodyModel.model_validate(value))
    except ValidationError as exc:
        raise PushBodyError(InvalidInputError.from_validation(exc).problems) from None


# ---- points ---------------------------------------------------------------------------


def _frozen(values: npt.ArrayLike) -> FloatArray:
    array = np.array(values, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class PointSet:
    """Points of one objective, sorted by time, one per time: epoch seconds, and either
    good and total counts or a latency in seconds (NaN in the columns a kind lacks)."""

    kind: PushKind
    times: FloatArray
    good: FloatArray
    total: FloatArray
    seconds: FloatArray

    @classmethod
    def of(
        cls,
        kind: PushKind,
        times: npt.ArrayLike,
        good: npt.ArrayLike | None = None,
        total: npt.ArrayLike | None = None,
        seconds: npt.ArrayLike | None = None,
    ) -> PointSet:
        at = np.asarray(times, dtype=np.float64)
        nothing = np.full(at.shape[0], np.nan)
        columns = [
            np.asarray(nothing if c is None else c, dtype=np.float64)
            for c in (good, total, seconds)
        ]
        order = np.argsort(at, kind="stable")
        if np.any(at[order][1:] == at[order][:-1]):
            raise ValueError("times: a point set holds one point per time")
        return cls(kind, _frozen(at[order]), *(_frozen(c[order]) for c in columns))

    def __len__(self) -> int:
        return int(self.times.shape[0])

    def replaced_by(self, newer: PointSet) -> PointSet:
        """These points with `newer`'s added; where both hold a time, `newer` wins. A set
        of another kind replaces these altogether (the objective is measured anew)."""
        if newer.kind is not self.kind:
            return newer
        # Both sorted: each of these times is held by `newer` where it would go there.
        at = np.minimum(np.searchsorted(newer.times, self.times), max(len(newer) - 1, 0))
        keep = newer.times[at] != self.times if len(newer) else np.ones(len(self), dtype=bool)
        return PointSet.of(
            self.kind,
            np.concatenate((self.times[keep], newer.times)),
            np.concatenate((self.good[keep], newer.good)),
            np.concatenate((self.total[keep], newer.total)),
            np.concatenate((self.seconds[keep], newer.seconds)),
        )

    def by_day(self) -> dict[date, PointSet]:
        """The points split by the UTC day of the bucket each counts in (a point at
        midnight closes the day before's last bucket)."""
        bucket_starts = (np.ceil(self.times / BUCKET_SECONDS) - 1) * BUCKET_SECONDS
        day_numbers = np.floor(bucket_starts / DAY_SECONDS).astype(np.int64)
        found: dict[date, PointSet] = {}
        for number in np.unique(day_numbers).tolist():
            mask = day_numbers == number
            day = (EPOCH + timedelta(days=int(number))).date()
            found[day] = PointSet.of(
                self.kind,
                self.times[mask],
                self.good[mask],
                self.total[mask],
                self.seconds[mask],
            )
        return found


@dataclass(frozen=True, slots=True)
class RefusedPoint:
    """A point refused with its reason; `at` (epoch seconds) is None for a time that
    could not be read."""

    index: int
    time: str
    at: float | None
    point: dict[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class Checked:
    """A body's points: those kept, and those refused."""

    kept: PointSet
    refused: tuple[RefusedPoint, ...] = field(default_factory=tuple)


class PushTargetError(ValueError):
    """The objective does not take the body's points (HTTP 400; nothing kept)."""


def check_target(objective: Objective, kind: PushKind) -> None:
    """Raise `PushTargetError` when `objective` cannot be measured by points of `kind`."""
    if objective.indicator.ticket_time:
        raise PushTargetError(
            f"objective {objective.id} ({objective.indicator}) is measured from tickets, "
            "not from pushed measurements"
        )
    if kind is PushKind.LATENCY and objective.threshold is None:
        raise PushTargetError(
            f"objective {objective.id} has no latency threshold to compare a value with; "
            'push "good" and "total" counts'
        )


def _instant(text: str) -> float | str:
    """Epoch seconds of an ISO-8601 time with an offset, or why it is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return f"time: {quoted(text)} is not an ISO-8601 time, e.g. 2026-12-07T10:00:00Z"
    if moment.utcoffset() is None:
        return NO_OFFSET
    # Days at the ends of the calendar cannot be split into UTC days and buckets.
    if not _FIRST_TIME <= moment <= _LAST_TIME:
        return f"time: {quoted(text)} is out of range; give a time from year 1 to 9999"
    # Of an aware time, (moment - EPOCH).total_seconds(), in one call.
    return moment.timestamp()


_FIRST_TIME = datetime(1, 1, 2, tzinfo=UTC)
_LAST_TIME = datetime(9999, 12, 30, tzinfo=UTC)


def _measured(
    objective: Objective,
    kind: PushKind,
    columns: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]],
    start: datetime,
    end: datetime,
    now: datetime,
) -> measurements.Measured:
    """Pulled telemetry's measurement of (times, good, total, seconds) columns."""
    times, good, total, seconds = columns
    if kind is PushKind.LATENCY:
        assert objective.threshold is not None, "check_target refuses this"
        values = list(zip(times, seconds, strict=True))
        return measurements.latency_good(values, "s", objective.threshold, start, end, now)
    good_points = list(zip(times, good, strict=True))
    total_points = list(zip(times, total, strict=True))
    if objective.budgeting_method is BudgetingMethod.TIMESLICES:
        assert objective.time_slice_target is not None
        return measurements.timeslices(
            good_points,
            total_points,
            start,
            end,
            now,
            objective.time_slice_seconds or BUCKET_SECONDS,
            objective.time_slice_target,
        )
    return measurements.events_from_rates(good_points, total_points, start, end, now, 1)


def measure(
    objective: Objective, points: PointSet, start: datetime, end: datetime, now: datetime
) -> measurements.Measured:
    """The buckets of [start, end) from `points`, and the points refused, exactly as
    pulled telemetry of the same objective is measured (see the module docstring)."""
    columns = (points.times, points.good, points.total, points.seconds)
    if _plainly_valid(points.kind, columns, now, unique=True):
        series = _bucket_sums(objective, points, start, end)
        if series is not None:
            return measurements.Measured(series, ())
    listed = (
        points.times.tolist(),
        points.good.tolist(),
        points.total.tolist(),
        points.seconds.tolist(),
    )
    return _measured(objective, points.kind, listed, start, end, now)


def _bucket_sums(
    objective: Objective, points: PointSet, start: datetime, end: datetime
) -> BucketSeries | None:
    """The buckets pulled telemetry's `events_from_rates` (one-second step) or
    `latency_good` makes of points it refuses none of (`_plainly_valid`): per bucket the
    sums of good and total (good at most total), NaN without a point. The same sums in
    the same order (points sorted by time), without its per-point checks. None for
    timeslices objectives, and for a threshold `latency_good` would refuse: those are
    left to it."""
    if points.kind is PushKind.LATENCY:
        threshold = objective.threshold
        if threshold is None or not (math.isfinite(threshold) and threshold >= 0):
            return None
        good = (points.seconds <= threshold).astype(np.float64)
        total = np.ones(len(points))
    elif objective.budgeting_method is BudgetingMethod.TIMESLICES:
        return None
    else:
        good, total = points.good, points.total
    first, last = snap(start), snap_up(end)
    size = bucket_count(first, last)
    origin = (first - EPOCH).total_seconds()
    # A point closes the interval before it: on a boundary it counts in the bucket before.
    index = np.ceil((points.times - origin) / BUCKET_SECONDS).astype(np.int64) - 1
    inside = (index >= 0) & (index < size)
    index = index[inside]
    counts = np.bincount(index, minlength=size)
    good_sums = np.bincount(index, weights=good[inside], minlength=size).astype(np.float64)
    total_sums = np.bincount(index, weights=total[inside], minlength=size).astype(np.float64)
    good_sums = np.minimum(good_sums, total_sums)
    missing = counts == 0
    good_sums[missing] = np.nan
    total_sums[missing] = np.nan
    return BucketSeries(first, good_sums, total_sums)


def check_points(body: PushBody, objective: Objective, now: datetime) -> Checked:
    """Split the body's points into those kept and those refused, each with its reason.

    Times are read first (an offset is required); then the points pass pulled
    telemetry's validation. Of several points at one time the first is judged as a
    pulled sample is, and the others are refused as repeats.
    """
    check_target(objective, body.kind)
    readable: list[int] = []
    times: list[float] = []
    refused: list[RefusedPoint] = []
    for n, text in enumerate(body.times):
        at = _instant(text)
        if isinstance(at, str):
            refused.append(RefusedPoint(n, text, None, body.payload(n), at))
        else:
            readable.append(n)
            times.append(at)
    if len(readable) == len(body.times):
        good, total, seconds = body.good, body.total, body.seconds
    else:
        good, total, seconds = ([c[n] for n in readable] for c in body.columns)
    columns = (times, good, total, seconds)
    if _plainly_valid(body.kind, columns, now):
        # The rule, not the exception: pulled telemetry's checks would refuse none.
        kept_set = PointSet.of(body.kind, times, good, total, seconds)
        return Checked(kept_set, tuple(sorted(refused, key=lambda r: r.index)))
    judged = _judged(objective, body.kind, columns, now) if times else {}
    first_at: dict[float, int] = {}
    kept: list[int] = []
    for k, (n, at) in enumerate(zip(readable, times, strict=True)):
        reasons, repeat = judged.get(at, ([], []))
        if at in first_at:
            reason = "; ".join(reasons or repeat or [measurements.DUPLICATE])
        elif reasons:
            reason = "; ".join(reasons)
        else:
            first_at[at] = k
            kept.append(k)
            continue
        first_at.setdefault(at, k)
        refused.append(RefusedPoint(n, body.times[n], at, body.payload(n), reason))
    chosen = np.asarray(kept, dtype=np.int64)
    kept_set = PointSet.of(
        body.kind,
        np.asarray(times, dtype=np.float64)[chosen] if kept else [],
        np.asarray(good)[chosen] if kept else [],
        np.asarray(total)[chosen] if kept else [],
        np.asarray(seconds)[chosen] if kept else [],
    )
    return Checked(kept_set, tuple(sorted(refused, key=lambda r: r.index)))


def _plainly_valid(
    kind: PushKind,
    columns: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    now: datetime,
    *,
    unique: bool = False,
) -> bool:
    """True when pulled telemetry's measurement (`_judged`, `measure`) would refuse none
    of these points: one a time (`unique`: known to be, as a `PointSet`'s), none after
    `now`, and finite counts with good at most total, or finite latencies, none
    negative. It only spares that measurement: any doubt (a point it would refuse, or
    one near a limit) returns False, and the measurement rules."""
    times = np.asarray(columns[0], dtype=np.float64)
    if not (np.isfinite(times).all() and (times <= (now - EPOCH).total_seconds()).all()):
        return False
    if not unique and np.unique(times).shape[0] != times.shape[0]:
        return False
    if kind is PushKind.LATENCY:
        seconds = np.asarray(columns[3], dtype=np.float64)
        return bool(np.isfinite(seconds).all() and (seconds >= 0).all())
    good = np.asarray(columns[1], dtype=np.float64)
    total = np.asarray(columns[2], dtype=np.float64)
    return bool(
        np.isfinite(good).all()
        and np.isfinite(total).all()
        and (good >= 0).all()
        and (good <= total).all()
    )


def _judged(
    objective: Objective,
    kind: PushKind,
    columns: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]],
    now: datetime,
) -> dict[float, tuple[list[str], list[str]]]:
    """Pulled telemetry's verdict on the points, by time: (reasons, repeat reasons)."""
    # Not a PointSet: that holds one point per time, and repeats are for the check to find.
    margin = timedelta(seconds=BUCKET_SECONDS)
    start = datetime.fromtimestamp(min(columns[0]), UTC) - margin
    end = datetime.fromtimestamp(max(columns[0]), UTC) + margin
    result = _measured(objective, kind, columns, start, end, now)
    verdict: dict[float, tuple[list[str], list[str]]] = {}
    for rejected in result.rejected:
        reasons, repeat = verdict.setdefault(rejected.at, ([], []))
        target = repeat if rejected.reason.endswith(measurements.DUPLICATE) else reasons
        if rejected.reason not in target:
            target.append(rejected.reason)
    return verdict


def day_series(objective: Objective, points: PointSet, day: date, now: datetime) -> BucketSeries:
    """The 288 buckets of UTC `day` from the points that count in it (`PointSet.by_day`)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return measure(objective, points, start, start + timedelta(days=1), now).series


BUCKETS_A_DAY = DAY_SECONDS // BUCKET_SECONDS
# Bump when `measure` changes what it makes of the same points and terms: every stored
# day is then measured whole again on its next push.
MEASURE_VERSION = 1


def measuring_terms(objective: Objective) -> str:
    """A fingerprint of everything `measure` reads from `objective` (its budgeting
    method, latency threshold, time-slice target and length), stored with a pushed day's
    buckets. Objectives are edited in place, so buckets stored under other terms than
    the objective's now are stale: `day_series_after` then measures the whole day.

    >>> from hub.domain.models import Indicator, WindowKind
    >>> o = Objective("o", Indicator.LATENCY, 99.0, 0.3, WindowKind.ROLLING, 28, None)
    >>> measuring_terms(o)
    '[1,"OCCURRENCES",0.3,null,null]'
    """
    terms = [
        MEASURE_VERSION,
        objective.budgeting_method.value,
        objective.threshold,
        objective.time_slice_target,
        objective.time_slice_seconds,
    ]
    return orjson.dumps(terms).decode()


def day_series_after(
    objective: Objective,
    merged: PointSet,
    new: PointSet,
    day: date,
    now: datetime,
    stored: BucketSeries | None,
    stored_terms: str | None = None,
) -> BucketSeries:
    """`day_series` of `merged` (the day's stored points with `new` merged in), measuring
    only the buckets that `new` touches when `stored` holds the day's buckets as they
    were before, measured under `stored_terms` (`measuring_terms`): each bucket is
    measured from its own points alone, so the others cannot change. A push of 100
    minutes then measures about 20 buckets, not 288. Without `stored` (a first push, or
    points of another kind), or when `stored_terms` are not `objective`'s now (it was
    edited since, or the day was stored before terms were), the whole day is measured.
    Equal to `day_series(objective, merged, day, now)` either way.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if (
        stored is None
        or stored_terms != measuring_terms(objective)
        or len(new) == 0
        or stored.start != start
        or len(stored) != BUCKETS_A_DAY
    ):
        return day_series(objective, merged, day, now)
    origin = (start - EPOCH).total_seconds()
    # A point closes the interval before it: on a boundary it counts in the bucket before.
    touched = np.ceil((new.times - origin) / BUCKET_SECONDS).astype(np.int64) - 1
    first = max(int(touched.min()), 0)
    last = min(int(touched.max()), BUCKETS_A_DAY - 1) + 1
    if first >= last:
        return day_series(objective, merged, day, now)
    index = np.ceil((merged.times - origin) / BUCKET_SECONDS).astype(np.int64) - 1
    inside = (index >= first) & (index < last)
    span = PointSet.of(
        merged.kind,
        merged.times[inside],
        merged.good[inside],
        merged.total[inside],
        merged.seconds[inside],
    )
    span_start = start + timedelta(seconds=first * BUCKET_SECONDS)
    span_end = start + timedelta(seconds=last * BUCKET_SECONDS)
    measured = measure(objective, span, span_start, span_end, now).series
    good, total = stored.good.copy(), stored.total.copy()
    good[first:last] = measured.good
    total[first:last] = measured.total
    return BucketSeries(start, good, total)


@dataclass(frozen=True, slots=True)
class DayMeasure:
    """How the days of one push to `objective` are measured, at `now`
    (`day_series_after`); `terms` are stored with the buckets it makes."""

    objective: Objective
    now: datetime

    @property
    def terms(self) -> str:
        return measuring_terms(self.objective)

    def __call__(
        self,
        merged: PointSet,
        new: PointSet,
        day: date,
        stored: BucketSeries | None,
        stored_terms: str | None,
    ) -> BucketSeries:
        return day_series_after(self.objective, merged, new, day, self.now, stored, stored_terms)
