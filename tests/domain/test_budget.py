"""Error budgets, burn rates, alert pairs, forecasts and objective status."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries, Tally, merge_tallies
from hub.domain.budget import (
    BURN_RATE_WINDOWS,
    DEFAULT_ALERT_PAIRS,
    PERFECT_TARGET_ALLOWANCE,
    AlertPair,
    BudgetState,
    Forecast,
    ObjectiveStatus,
    allowed_bad_fraction,
    budget_consumed_fraction,
    budget_remaining_percent,
    burn_rate,
    exhaustion_forecast,
    objective_status,
)
from hub.domain.models import WindowKind
from hub.domain.windows import Window, objective_window

DAY = 288  # buckets
HOUR = 12
THIRTY_DAYS = 30 * 86400
AT = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
ROLLING = objective_window(WindowKind.ROLLING, 28, AT)
# The series starts three days before the window: the slowest burn-rate window.
SPAN_START = ROLLING.start - timedelta(days=3)
BUCKETS = 31 * DAY


def traffic(bad: np.ndarray, total: float = 1000.0, start: datetime = SPAN_START) -> BucketSeries:
    """`total` events in every bucket, `bad[i]` of them bad (NaN: no data)."""
    totals = np.where(np.isnan(bad), np.nan, total)
    return BucketSeries(start, totals - bad, totals)


def steady(bad_per_bucket: float, buckets: int = BUCKETS) -> np.ndarray:
    return np.full(buckets, bad_per_bucket)


def rates_of(status: ObjectiveStatus) -> dict[int, float | None]:
    return dict(status.burn_rates)


# ---- the SRE workbook's numbers --------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "seconds", "consumed"),
    [(14.4, 3600, 0.02), (6.0, 21600, 0.05), (3.0, 86400, 0.10), (1.0, 259200, 0.10)],
)
def test_budget_consumed_at_each_alert_threshold(
    rate: float, seconds: int, consumed: float
) -> None:
    assert budget_consumed_fraction(rate, seconds, THIRTY_DAYS) == pytest.approx(consumed)


def test_default_pairs_are_the_workbooks() -> None:
    consumed = [
        budget_consumed_fraction(p.rate, p.long_seconds, THIRTY_DAYS) for p in DEFAULT_ALERT_PAIRS
    ]
    assert consumed == pytest.approx([0.02, 0.05, 0.10, 0.10])
    windows = {s for p in DEFAULT_ALERT_PAIRS for s in (p.long_seconds, p.short_seconds)}
    assert windows == set(BURN_RATE_WINDOWS)


def test_an_error_ratio_of_1_44_percent_burns_a_99_9_budget_at_14_4x() -> None:
    assert burn_rate(Tally(9856, 10000, 300), 99.9) == pytest.approx(14.4)


def test_budget_consumed_needs_a_window() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        budget_consumed_fraction(1.0, 3600, 0)


# ---- budget and burn rate --------------------------------------------------------------


def test_allowed_bad_fraction() -> None:
    assert allowed_bad_fraction(99.9) == pytest.approx(0.001)
    assert allowed_bad_fraction(100) == 0
    for target in (0, -1, 100.1, math.nan):
        with pytest.raises(ValueError, match="target"):
            allowed_bad_fraction(target)


def test_budget_remaining_follows_the_contract_formula() -> None:
    assert budget_remaining_percent(Tally(1000, 1000, 300), 99.9) == 100
    assert budget_remaining_percent(Tally(9995, 10000, 300), 99.9) == pytest.approx(50)
    assert budget_remaining_percent(Tally(9990, 10000, 300), 99.9) == pytest.approx(0, abs=1e-9)
    assert budget_remaining_percent(Tally(9970, 10000, 300), 99.9) == pytest.approx(-200)
    assert budget_remaining_percent(Tally(0, 0, 300), 99.9) is None
    assert budget_remaining_percent(Tally(), 99.9) is None


def test_burn_rate_is_none_without_data() -> None:
    assert burn_rate(Tally(0, 0, 300), 99.0) is None
    assert burn_rate(Tally(1000, 1000, 300), 99.0) == 0
    assert burn_rate(Tally(990, 1000, 300), 99.0) == pytest.approx(1.0)


def test_a_perfect_target_gives_finite_figures() -> None:
    assert budget_remaining_percent(Tally(10, 10, 300), 100) == 100
    assert burn_rate(Tally(10, 10, 300), 100) == 0
    remaining = budget_remaining_percent(Tally(999_999, 1_000_000, 300), 100)
    rate = burn_rate(Tally(999_999, 1_000_000, 300), 100)
    assert remaining is not None
    assert rate is not None
    assert math.isfinite(remaining)
    assert remaining == pytest.approx(0, abs=1e-6)
    assert rate == pytest.approx(1e-6 / PERFECT_TARGET_ALLOWANCE)
    worse = budget_remaining_percent(Tally(9, 10, 300), 100)
    assert worse is not None
    assert worse < 0
    assert math.isfinite(worse)


@given(
    st.integers(0, 10**7),
    st.integers(1, 10**7),
    st.floats(50, 99.999),
)
def test_remaining_is_what_the_burn_rate_leaves(bad: int, total: int, target: float) -> None:
    tally = Tally(float(max(total - bad, 0)), float(total), 300)
    rate = burn_rate(tally, target)
    remaining = budget_remaining_percent(tally, target)
    assert rate is not None
    assert remaining is not None
    assert rate >= 0
    assert remaining <= 100
    assert remaining == pytest.approx(100 * (1 - rate))


@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=20),
    st.floats(90, 99.99),
)
def test_the_budget_of_a_window_is_the_budget_of_its_parts_summed(
    parts: list[tuple[int, int]], target: float
) -> None:
    tallies = [Tally(float(min(a, b)), float(max(a, b)), 300) for a, b in parts]
    whole = Tally(sum(t.good for t in tallies), sum(t.total for t in tallies), 300 * len(tallies))
    assert merge_tallies(tallies) == whole
    assert budget_remaining_percent(merge_tallies(tallies), target) == budget_remaining_percent(
        whole, target
    )


# ---- objective status: rolling window ------------------------------------------------------


def test_healthy_steady_traffic() -> None:
    status = objective_status(traffic(steady(0.25)), 99.9, ROLLING, AT)
    assert status.window == ROLLING
    assert status.total == 28 * DAY * 1000
    assert status.good == 28 * DAY * 999.75
    assert status.compliance == pytest.approx(99.975)
    assert status.budget_remaining == pytest.approx(75)
    assert status.data_coverage == 100
    assert [s for s, _ in status.burn_rates] == list(BURN_RATE_WINDOWS)
    assert all(rate == pytest.approx(0.25) for _, rate in status.burn_rates)
    assert status.firing == ()
    assert status.forecast == Forecast()
    assert status.state is BudgetState.HEALTHY


def test_at_risk_when_a_pair_fires() -> None:
    bad = steady(0.25)
    bad[-HOUR:] = 20  # a 2% error ratio for the last hour: 20x
    status = objective_status(traffic(bad), 99.9, ROLLING, AT)
    rates = rates_of(status)
    assert rates[300] == pytest.approx(20)
    assert rates[1800] == pytest.approx(20)
    assert rates[3600] == pytest.approx(20)
    assert rates[7200] == pytest.approx((12 * 20 + 12 * 0.25) / 24)
    assert rates[21600] == pytest.approx((12 * 20 + 60 * 0.25) / 72)
    assert rates[86400] == pytest.approx((12 * 20 + 276 * 0.25) / 288)
    assert rates[259200] == pytest.approx((12 * 20 + 852 * 0.25) / 864)
    assert status.firing == (AlertPair(3600, 300, 14.4),)
    assert status.budget_remaining == pytest.approx(100 * (1 - (8052 * 0.25 + 240) / 8064))
    assert status.state is BudgetState.AT_RISK


def test_a_pair_fires_only_when_both_windows_are_strictly_above() -> None:
    bad = steady(0.25)
    bad[-1] = 20  # the last five minutes burn at 20x, the hour not at 14.4x
    status = objective_status(traffic(bad), 99.9, ROLLING, AT)
    assert rates_of(status)[300] == pytest.approx(20)
    assert status.firing == ()
    # Exactly at the rate is not above it.
    pair = AlertPair(3600, 300, 0.25)
    exactly = objective_status(traffic(steady(0.25)), 99.9, ROLLING, AT, pairs=[pair])
    assert exactly.firing == ()


def test_custom_pairs_and_burn_windows() -> None:
    bad = steady(0.25)
    bad[-HOUR:] = 2
    pair = AlertPair(3600, 600, 1.5)
    status = objective_status(traffic(bad), 99.9, ROLLING, AT, pairs=[pair], burn_windows=[900])
    assert status.burn_rates == ((900, pytest.approx(2.0)),)
    assert status.firing == (pair,)


def test_exhausted_when_the_budget_is_spent() -> None:
    status = objective_status(traffic(steady(2.0)), 99.9, ROLLING, AT)
    assert status.budget_remaining == pytest.approx(-100)
    assert status.state is BudgetState.EXHAUSTED
    assert status.forecast == Forecast(AT, AT, AT)


def test_no_data() -> None:
    status = objective_status(BucketSeries.empty(SPAN_START, AT), 99.9, ROLLING, AT)
    assert status.state is BudgetState.NO_DATA
    assert status.good is None
    assert status.total is None
    assert status.compliance is None
    assert status.budget_remaining is None
    assert status.data_coverage == 0
    assert all(rate is None for _, rate in status.burn_rates)
    assert status.firing == ()
    assert status.forecast == Forecast()


def test_missing_buckets_lower_coverage_not_compliance() -> None:
    bad = steady(0.5)
    start = 3 * DAY + 7 * DAY  # a week without data inside the window
    bad[start : start + 7 * DAY] = np.nan
    bad[-2 * HOUR :] = np.nan  # and the last two hours
    status = objective_status(traffic(bad), 99.9, ROLLING, AT)
    assert status.data_coverage == pytest.approx(100 * (21 * DAY - 2 * HOUR) / (28 * DAY))
    assert status.compliance == pytest.approx(99.95)
    assert status.total == (21 * DAY - 2 * HOUR) * 1000
    rates = rates_of(status)
    for seconds in (300, 1800, 3600, 7200):
        assert rates[seconds] is None, seconds
    for seconds in (21600, 86400, 259200):
        assert rates[seconds] == pytest.approx(0.5), seconds
    assert status.state is BudgetState.HEALTHY


def test_a_bucket_still_filling_at_at_is_left_out() -> None:
    # At 12:03 the bucket of 12:00 is not over: the window ends at 12:00.
    bad = np.concatenate((steady(0.25), [1000.0]))
    late = AT + timedelta(minutes=3)
    status = objective_status(
        traffic(bad), 99.9, objective_window(WindowKind.ROLLING, 28, late), late
    )
    assert status.compliance == pytest.approx(99.975)
    assert rates_of(status)[300] == pytest.approx(0.25)


def test_a_steady_burn_below_1x_is_healthy_with_little_budget_left() -> None:
    # An incident 20 days ago spent 5% of the budget; since then a steady 0.9x. Only
    # 5% is left, yet the incident leaves the window before 0.9x could spend it.
    bad = steady(0.9)
    bad[3 * DAY + 8 * DAY] += 0.05 * 0.001 * 28 * DAY * 1000
    status = objective_status(traffic(bad), 99.9, ROLLING, AT)
    assert status.budget_remaining == pytest.approx(5)
    assert status.firing == ()
    assert status.forecast == Forecast()
    assert status.state is BudgetState.HEALTHY


def test_at_risk_by_forecast_in_a_rolling_window() -> None:
    # The same, but the last 6 hours burn at 1.2x: 0.3x more than what leaves the
    # window, which spends the rest before the incident leaves it. No pair fires.
    bad = steady(0.9)
    bad[3 * DAY + 8 * DAY] += 0.05 * 0.001 * 28 * DAY * 1000
    bad[-6 * HOUR :] = 1.2
    status = objective_status(traffic(bad), 99.9, ROLLING, AT)
    assert status.firing == ()
    assert status.state is BudgetState.AT_RISK
    remaining = status.budget_remaining
    assert remaining is not None
    expected = AT + timedelta(seconds=remaining / 100 * ROLLING.seconds / (1.2 - 0.9))
    forecast = status.forecast
    assert forecast.at is not None
    assert abs((forecast.at - expected).total_seconds()) < 1
    assert forecast.earliest == forecast.at  # the 1-hour rate is 1.2x too
    # At the 1-day rate, 0.975x, the incident leaves the window first: never.
    assert forecast.latest is None


# ---- objective status: calendar month --------------------------------------------------------

MARCH = objective_window(WindowKind.CALENDAR_MONTH, None, datetime(2026, 3, 20, tzinfo=UTC))
MARCH_SPAN_START = MARCH.start - timedelta(days=3)


def march(bad_from_march_1: np.ndarray, before: float = 5.0) -> BucketSeries:
    """Three days of February at `before` bad, then March; 1000 events a bucket."""
    return traffic(
        np.concatenate((np.full(3 * DAY, before), bad_from_march_1)), start=MARCH_SPAN_START
    )


def test_calendar_month_counts_only_up_to_at() -> None:
    at = datetime(2026, 3, 16, 7, 30, tzinfo=UTC)
    bad = np.full(31 * DAY, 5.0)
    elapsed = 15 * DAY + 7 * HOUR + 6
    bad[elapsed:] = 1000.0  # buckets after `at`: they must not count
    status = objective_status(march(bad), 99.0, MARCH, at)
    assert status.window == Window(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert status.total == elapsed * 1000
    assert status.compliance == pytest.approx(99.5)
    assert status.budget_remaining == pytest.approx(50)
    assert status.data_coverage == 100
    assert status.state is BudgetState.HEALTHY


def test_calendar_month_coverage_is_over_the_elapsed_part() -> None:
    at = datetime(2026, 3, 11, tzinfo=UTC)
    bad = np.full(31 * DAY, 5.0)
    bad[: 5 * DAY] = np.nan  # no data for the first five of ten days
    status = objective_status(march(bad), 99.0, MARCH, at)
    assert status.data_coverage == pytest.approx(50)


def test_burn_rates_reach_back_before_the_period() -> None:
    at = datetime(2026, 3, 1, 6, tzinfo=UTC)
    status = objective_status(march(np.full(31 * DAY, 5.0), before=10.0), 99.0, MARCH, at)
    rates = rates_of(status)
    assert rates[21600] == pytest.approx(0.5)
    assert rates[86400] == pytest.approx((18 * 10 + 6 * 5) / 24 / 10)
    assert status.budget_remaining == pytest.approx(50)


def incident_month(recent_bad: float) -> np.ndarray:
    """Until 20 March: 0.5x, 24 buckets all bad on 2 March, the last 6 hours at `recent_bad`."""
    bad = np.full(31 * DAY, 5.0)
    bad[DAY : DAY + 24] = 1000.0
    elapsed = 19 * DAY
    bad[elapsed - 6 * HOUR : elapsed] = recent_bad
    return bad


def test_at_risk_by_forecast_in_a_calendar_month() -> None:
    at = datetime(2026, 3, 20, tzinfo=UTC)
    status = objective_status(march(incident_month(15.0)), 99.0, MARCH, at)
    bad = 5 * (19 * DAY - 72 - 24) + 15 * 72 + 1000 * 24
    remaining = 1 - bad / (19 * DAY * 1000) / 0.01
    assert status.budget_remaining == pytest.approx(100 * remaining)
    rates = rates_of(status)
    assert rates[21600] == pytest.approx(1.5)
    assert rates[86400] == pytest.approx(0.75)
    assert status.firing == ()
    # Measured 19 days with `remaining` left: at 1.5x the budget runs out after
    # 19 days x remaining / 0.5, before the month ends.
    expected = at + timedelta(seconds=19 * 86400 * remaining / 0.5)
    assert status.forecast.at is not None
    assert abs((status.forecast.at - expected).total_seconds()) < 1e-3
    assert status.forecast.at < MARCH.end
    assert status.forecast.earliest == status.forecast.at
    assert status.forecast.latest is None  # the 1-day rate, 0.75x, never exhausts it
    assert status.state is BudgetState.AT_RISK


def test_no_forecast_beyond_the_period() -> None:
    at = datetime(2026, 3, 20, tzinfo=UTC)
    status = objective_status(march(incident_month(5.0)), 99.0, MARCH, at)
    assert status.forecast == Forecast()
    assert status.state is BudgetState.HEALTHY
    # 1.05x over the last 6 hours would exhaust it in about 19 days: after 1 April.
    slow = objective_status(march(incident_month(10.5)), 99.0, MARCH, at)
    assert slow.forecast.at is None
    assert slow.state is BudgetState.HEALTHY


def test_the_forecast_trend_stays_inside_the_period() -> None:
    # Two hours into March at 2x after a clean February: the 6-hour trend is the two
    # hours of March (2x), not diluted by February.
    at = datetime(2026, 3, 1, 2, tzinfo=UTC)
    sums = march(np.full(31 * DAY, 20.0), before=0.0).cumulative()
    forecast = exhaustion_forecast(sums, 99.0, MARCH, at)
    assert forecast == Forecast(at, at, at)  # 2x from the start: already exhausted
    sums = march(np.full(31 * DAY, 8.0), before=0.0).cumulative()
    forecast = exhaustion_forecast(sums, 99.0, MARCH, at)
    assert forecast == Forecast()  # 0.8x: never


# ---- properties -----------------------------------------------------------------------------


# Runs of buckets with one bad count each (None: no data): bursts, gaps, steady spells.
runs = st.lists(
    st.tuples(st.integers(1, 4 * DAY), st.one_of(st.none(), st.floats(0, 1000))),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(runs, st.floats(90, 99.99), st.integers(0, 4 * DAY))
def test_status_is_consistent(
    spells: list[tuple[int, float | None]], target: float, offset: int
) -> None:
    bad = np.concatenate([np.full(n, math.nan if b is None else b) for n, b in spells])
    start = datetime(2026, 3, 1, tzinfo=UTC)
    series = traffic(bad[: 4 * DAY], start=start)
    at = start + timedelta(minutes=5 * offset)
    window = objective_window(WindowKind.ROLLING, 1, at)
    status = objective_status(series, target, window, at)
    assert 0 <= status.data_coverage <= 100
    if status.compliance is not None:
        assert 0 <= status.compliance <= 100
    if status.total in (None, 0):
        assert status.state is BudgetState.NO_DATA
    else:
        assert status.budget_remaining is not None
        assert (status.state is BudgetState.EXHAUSTED) == (status.budget_remaining <= 0)
    rates = rates_of(status)
    for pair in status.firing:
        long, short = rates[pair.long_seconds], rates[pair.short_seconds]
        assert long is not None
        assert short is not None
        assert long > pair.rate
        assert short > pair.rate
    if status.state is BudgetState.HEALTHY:
        assert status.firing == ()
        assert status.forecast.at is None
    if status.forecast.at is not None:
        assert status.forecast.at - at <= timedelta(seconds=window.seconds)
        earliest, latest = status.forecast.earliest, status.forecast.latest
        assert earliest is not None
        assert earliest <= status.forecast.at
        assert latest is None or latest >= status.forecast.at
