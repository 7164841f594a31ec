"""Report anomalies as pure maths: a compliance drop against the mean of the previous
periods, and a violation count above the mean + 3 standard deviations."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.anomalies import PeriodFigure, compliance_drop, detect, violation_threshold


def months(*values: tuple[float | None, int]) -> list[PeriodFigure]:
    """Figures of consecutive months from 2026-07 with compliance `c` (of 10,000 events;
    None: no data) and `v` violations."""
    found = []
    for index, (c, v) in enumerate(values):
        start = datetime(2026, 7 + index, 1, tzinfo=UTC)
        if c is None:
            found.append(PeriodFigure(start, None, None, v))
        else:
            found.append(PeriodFigure(start, c * 100, 10_000, v))
    return found


def test_a_drop_of_five_points_is_an_anomaly() -> None:
    finding = detect(months((99.5, 0), (99.4, 0), (99.6, 0), (94.5, 0)))

    assert finding is not None
    assert finding.drop
    assert not finding.burst
    assert finding.baseline == 99.5
    assert round(finding.compliance, 6) == 94.5
    assert finding.period_start == datetime(2026, 10, 1, tzinfo=UTC)
    assert "5.00 points below" in finding.detail("Service Payments", 2.0)


def test_a_drop_of_two_points_or_less_is_not() -> None:
    assert detect(months((99.0, 0), (99.0, 0), (99.0, 0), (97.0, 0))) is None
    assert detect(months((99.0, 0), (99.0, 0), (99.0, 0), (96.9, 0))) is not None


def test_the_drop_threshold_is_a_setting() -> None:
    figures = months((99.0, 0), (99.0, 0), (99.0, 0), (96.0, 0))

    assert detect(figures, drop_points=5.0) is None
    assert detect(figures, drop_points=2.5) is not None


def test_only_the_given_number_of_previous_periods_count() -> None:
    # A bad month long ago does not lower the baseline of the last three.
    figures = months((50.0, 0), (99.0, 0), (99.0, 0), (99.0, 0), (96.0, 0))

    finding = detect(figures, periods=3)

    assert finding is not None
    assert finding.baseline == 99.0


def test_a_month_without_data_before_raises_nothing() -> None:
    assert detect(months((None, 0), (99.0, 0), (99.0, 0), (90.0, 0))) is None
    assert detect(months((99.0, 0), (99.0, 0), (99.0, 0), (None, 9))) is None
    assert detect(months((99.0, 0), (99.0, 0), (90.0, 0))) is None  # too few periods


def test_violations_above_the_mean_plus_three_standard_deviations_are_a_burst() -> None:
    # Previous 2, 3, 4: mean 3, population sd 0.816..., threshold 5.449...
    assert detect(months((99.0, 2), (99.0, 3), (99.0, 4), (99.0, 5))) is None
    finding = detect(months((99.0, 2), (99.0, 3), (99.0, 4), (99.0, 6)))

    assert finding is not None
    assert finding.burst
    assert not finding.drop
    assert "6 violations" in finding.detail("Service Payments", 2.0)


@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=12))
def test_the_current_value_equal_to_the_mean_is_never_a_drop(previous: list[float]) -> None:
    assert not compliance_drop(statistics.fmean(previous), previous, 0.0001)


@given(
    st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=12),
    st.floats(min_value=0.01, max_value=50),
)
def test_a_drop_is_exactly_more_than_the_threshold_below_the_mean(
    previous: list[float], points: float
) -> None:
    mean = statistics.fmean(previous)
    assert compliance_drop(mean - points - 0.001, previous, points)
    assert not compliance_drop(mean - points + 0.001, previous, points)


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12))
def test_no_previous_count_is_ever_above_the_threshold(previous: list[int]) -> None:
    # max - mean <= sd * sqrt(n - 1) <= 3 sd for n <= 10; the threshold bounds them all
    # for the usual 3 periods.
    window = previous[:3]
    assert max(window) <= violation_threshold(window) + 1e-9


@given(
    st.lists(st.floats(min_value=90, max_value=100), min_size=3, max_size=3),
    st.floats(min_value=0, max_value=100),
    st.lists(st.integers(min_value=0, max_value=20), min_size=4, max_size=4),
)
def test_a_finding_says_which_rule_fired(
    previous: list[float], current: float, counts: list[int]
) -> None:
    figures = months(*zip([*previous, current], counts, strict=True))
    finding = detect(figures)
    baseline = statistics.fmean(previous)
    drop = baseline - current > 2.0
    burst = counts[-1] > violation_threshold(counts[:3])

    if finding is None:
        assert not drop
        assert not burst
    else:
        assert (finding.drop, finding.burst) == (drop, burst)
