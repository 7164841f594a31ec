"""Pushed points (hub.domain.push): parsing, checking, replacing, and the buckets they
make, which must be pulled telemetry's for the same samples."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain import measurements
from hub.domain.models import BudgetingMethod, Indicator, Objective, WindowKind
from hub.domain.push import (
    NO_OFFSET,
    PointSet,
    PushBodyError,
    PushKind,
    PushTargetError,
    check_points,
    day_series,
    parse_body,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
DAY = datetime(2026, 3, 9, tzinfo=UTC)


def objective(**fields: object) -> Objective:
    base: dict[str, object] = {
        "id": "obj_1",
        "indicator": Indicator.AVAILABILITY,
        "target": 99.0,
        "threshold": None,
        "window_kind": WindowKind.ROLLING,
        "window_days": 28,
        "priority": None,
    }
    return Objective(**{**base, **fields})  # type: ignore[arg-type]


def raw(points: list[dict[str, object]], **extra: object) -> bytes:
    return json.dumps({"objective": "obj_1", "points": points, **extra}).encode()


def test_offsets_are_required_and_honoured() -> None:
    body = parse_body(
        raw(
            [
                {"time": "2026-03-09T11:00:00+01:00", "good": 1, "total": 2},
                {"time": "2026-03-09T10:00:00", "good": 1, "total": 2},
            ]
        )
    )

    checked = check_points(body, objective(), NOW)

    assert checked.kept.times.tolist() == [datetime(2026, 3, 9, 10, tzinfo=UTC).timestamp()]
    [refused] = checked.refused
    assert (refused.index, refused.reason) == (1, NO_OFFSET)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00Z"]
)
def test_a_time_at_the_ends_of_the_calendar_is_refused_not_kept(text: str) -> None:
    body = parse_body(
        raw(
            [
                {"time": text, "good": 1, "total": 2},
                {"time": "2026-03-09T10:00:00Z", "good": 1, "total": 2},
            ]
        )
    )

    checked = check_points(body, objective(), NOW)

    # Kept, it would fail the day split of the whole write batch, other pushes' too.
    assert checked.kept.times.tolist() == [datetime(2026, 3, 9, 10, tzinfo=UTC).timestamp()]
    assert list(checked.kept.by_day()) == [date(2026, 3, 9)]
    [refused] = checked.refused
    assert (refused.index, refused.at) == (0, None)
    assert "out of range" in refused.reason


def test_units_are_normalised_to_seconds() -> None:
    body = parse_body(
        raw(
            [
                {"time": "2026-03-09T10:00:00Z", "value": 250},
                {"time": "2026-03-09T10:01:00Z", "value": 0.5, "unit": "s"},
                {"time": "2026-03-09T10:02:00Z", "value": 1500, "unit": "us"},
            ],
            unit="ms",
        )
    )

    checked = check_points(body, objective(indicator=Indicator.LATENCY, threshold=0.3), NOW)

    assert checked.kept.kind is PushKind.LATENCY
    assert checked.kept.seconds.tolist() == pytest.approx([0.25, 0.5, 0.0015])


def test_values_need_a_threshold_and_ticket_objectives_take_nothing() -> None:
    values = parse_body(raw([{"time": "2026-03-09T10:00:00Z", "value": 1}], unit="s"))
    counts = parse_body(raw([{"time": "2026-03-09T10:00:00Z", "good": 1, "total": 1}]))

    with pytest.raises(PushTargetError, match="no latency threshold"):
        check_points(values, objective(), NOW)
    with pytest.raises(PushTargetError, match="measured from tickets"):
        check_points(counts, objective(indicator=Indicator.RESPONSE_TIME, threshold=60), NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b'{"objective": "", "points": []}',
        b'{"objective": "o", "points": [{"time": "t", "good": 1}]}',
        b'{"objective": "o", "points": [{"time": "t", "good": true, "total": 1}]}',
        b'{"objective": "o", "points": [{"time": 5, "good": 1, "total": 1}]}',
        b'{"objective": "o", "points": [{"time": "t", "good": 1, "total": 1, "unit": "s"}]}',
    ],
)
def test_bodies_that_are_not_the_contracts_json_are_refused(body: bytes) -> None:
    with pytest.raises(PushBodyError):
        parse_body(body)


def test_a_newer_point_replaces_the_one_at_its_time() -> None:
    older = PointSet.of(PushKind.EVENTS, [10.0, 20.0], [1, 2], [5, 5])
    newer = PointSet.of(PushKind.EVENTS, [20.0, 30.0], [4, 3], [5, 5])

    merged = older.replaced_by(newer)

    assert merged.times.tolist() == [10.0, 20.0, 30.0]
    assert merged.good.tolist() == [1.0, 4.0, 3.0]
    latency = PointSet.of(PushKind.LATENCY, [10.0], seconds=[0.1])
    assert older.replaced_by(latency) is latency


def test_a_point_at_midnight_closes_the_day_before() -> None:
    midnight = DAY.timestamp()
    points = PointSet.of(PushKind.EVENTS, [midnight, midnight + 1], [1, 1], [1, 1])

    days = points.by_day()

    assert {d: p.times.tolist() for d, p in days.items()} == {
        date(2026, 3, 8): [midnight],
        date(2026, 3, 9): [midnight + 1],
    }


def test_timeslices_objectives_count_each_point_as_a_slice() -> None:
    sliced = objective(
        budgeting_method=BudgetingMethod.TIMESLICES,
        time_slice_target=0.9,
        time_slice_window="1m",
    )
    at = [(DAY + timedelta(minutes=m)).timestamp() for m in (1, 2, 3)]
    points = PointSet.of(PushKind.EVENTS, at, [95, 80, 0], [100, 100, 0])

    series = day_series(sliced, points, DAY.date(), NOW)

    assert (series.good[0], series.total[0]) == (2.0, 3.0)  # an empty slice is good


counts = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=86_400), counts, counts),
        min_size=1,
        max_size=60,
        unique_by=lambda p: p[0],
    )
)
def test_buckets_equal_pulled_telemetrys_for_the_same_samples(
    samples: list[tuple[int, int, int]],
) -> None:
    """Pushed counts make the buckets `events_from_rates` makes of the same samples
    taken as per-second rates over a one-second step; refused points are the same."""
    body = parse_body(
        raw(
            [
                {
                    "time": (DAY + timedelta(seconds=s)).isoformat(),
                    "good": good,
                    "total": total,
                }
                for s, good, total in samples
            ]
        )
    )

    checked = check_points(body, objective(), NOW)
    by_day = checked.kept.by_day()
    pulled = measurements.events_from_rates(
        [((DAY + timedelta(seconds=s)).timestamp(), g) for s, g, _ in samples],
        [((DAY + timedelta(seconds=s)).timestamp(), t) for s, _, t in samples],
        DAY,
        DAY + timedelta(days=1),
        NOW,
        1,
    )

    assert len(checked.kept) + len(checked.refused) == len(samples)
    assert len(checked.refused) == len({r.at for r in pulled.rejected})
    assert set(by_day) <= {DAY.date()}
    if by_day:
        pushed = day_series(objective(), by_day[DAY.date()], DAY.date(), NOW)
        np.testing.assert_array_equal(pushed.good, pulled.series.good)
        np.testing.assert_array_equal(pushed.total, pulled.series.total)
    else:
        assert np.isnan(pulled.series.total).all()
