"""Breach prediction: the linear forecast, the seasonal model, the truth and the backtest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.buckets import BucketSeries
from hub.domain.budget import budget_remaining_percent, exhaustion_forecast
from hub.domain.models import WindowKind
from hub.domain.prediction import (
    LINEAR,
    MODELS,
    SEASONAL,
    Day,
    ObjectiveHistory,
    backtest,
    backtest_objective,
    choose,
    daily_moments,
    exhaustion,
    horizon,
    merge,
    predict,
    report_json,
    report_lines,
    score,
    seasonal_profile,
    spent_at_boundaries,
)
from hub.domain.windows import BUCKET, Window

DAY = 288  # buckets
MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return MARCH + timedelta(days=n)


def history(
    rates: np.ndarray,
    kind: WindowKind = WindowKind.CALENDAR_MONTH,
    days: int | None = None,
    start: datetime = MARCH,
    target: float = 99.0,
) -> ObjectiveHistory:
    """1,000 events a bucket; bad ones at `rates[i]` times the budget (1% for 99%)."""
    total = np.full(rates.shape[0], 1000.0)
    bad = total * (1 - target / 100) * rates
    return ObjectiveHistory("o", BucketSeries(start, total - bad, total), target, kind, days)


def per_day(rates: list[float]) -> np.ndarray:
    return np.repeat(np.asarray(rates, dtype=float), DAY)


def weekly(start: datetime, days: int, weekday_rate: float, weekend_rate: float) -> np.ndarray:
    return per_day(
        [
            weekend_rate if (start + timedelta(days=n)).weekday() >= 5 else weekday_rate
            for n in range(days)
        ]
    )


# ---- precision, recall and lead time by hand -------------------------------------------


E1, E2 = day(10), day(20)
TINY = (
    Day(day(5), E1, (False, True)),
    Day(day(6), E1, (True, True)),
    Day(day(7), None, (True, False)),
    Day(day(15), E2, (False, False)),
    Day(day(16), None, (False, False)),
)


def test_scores_by_hand() -> None:
    linear, seasonal = (score(m, TINY, i) for i, m in enumerate(MODELS))
    # linear: right on day 6 only, a false alarm on day 7, misses days 5 and 15.
    assert (linear.true_positives, linear.false_positives, linear.false_negatives) == (1, 1, 2)
    assert linear.precision == 0.5
    assert linear.recall == pytest.approx(1 / 3)
    assert linear.f1 == pytest.approx(2 / (2 + 3))
    assert (linear.episodes, linear.caught, linear.lead_days) == (2, 1, (4.0,))
    # seasonal: right on days 5 and 6, no false alarm, misses day 15.
    assert (seasonal.true_positives, seasonal.false_positives, seasonal.false_negatives) == (
        2,
        0,
        1,
    )
    assert seasonal.precision == 1.0
    assert seasonal.recall == pytest.approx(2 / 3)
    assert seasonal.f1 == pytest.approx(0.8)
    assert (seasonal.caught, seasonal.lead_mean, seasonal.lead_median) == (1, 5.0, 5.0)
    assert choose(TINY) == SEASONAL
    assert choose(TINY, min_episodes=3) == LINEAR  # too few episodes to tell


def test_merge_adds_up() -> None:
    one = score(LINEAR, TINY[:2], 0)
    two = score(LINEAR, TINY[2:], 0)
    both = merge([one, two], LINEAR)
    assert both == score(LINEAR, TINY, 0)


def test_no_prediction_and_no_episode_scores_nothing() -> None:
    quiet = (Day(day(1), None, (False, False)),)
    s = score(LINEAR, quiet, 0)
    assert (s.precision, s.recall, s.f1, s.lead_mean) == (None, None, None, None)
    assert choose(quiet) == LINEAR


# ---- the truth --------------------------------------------------------------------------


def test_truth_of_a_calendar_month_by_hand() -> None:
    # Healthy for 10 days, then 2x: the share spent, 2(t - 10)/t, reaches 1 at t = 20.
    h = history(per_day([0.0] * 10 + [2.0] * 21))
    result = backtest_objective(h, daily_moments(day(0), day(31)))
    # Mar 1 has nothing measured yet; from Mar 21 on the budget is spent.
    assert [d.at for d in result.days] == [day(n) for n in range(1, 20)]
    assert {d.exhausted_at for d in result.days} == {day(20)}
    linear = [d.predicted[0] for d in result.days]
    # The burn starts at Mar 11 00:00; the linear forecast sees it from Mar 12 on.
    assert linear == [False] * 10 + [True] * 9
    assert score(LINEAR, result.days, 0).lead_days == (9.0,)
    assert result.episodes == 1


def test_moments_whose_horizon_is_not_over_are_not_scored() -> None:
    h = history(per_day([0.5] * 20), WindowKind.ROLLING, 7)
    result = backtest_objective(h, daily_moments(day(0), day(20)))
    # A rolling 7-day window looks 7 days ahead: the last moment scored is day 13.
    assert result.days[-1].at == day(13)
    assert all(d.exhausted_at is None for d in result.days)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 3), min_size=20, max_size=20),
    st.integers(0, 20 * DAY),
    st.sampled_from([(WindowKind.ROLLING, 3), (WindowKind.CALENDAR_MONTH, None)]),
)
def test_spent_agrees_with_the_budget(rates: list[float], boundary: int, kind: tuple) -> None:
    h = history(per_day(rates), *kind)
    spent = spent_at_boundaries(h)
    end = MARCH + BUCKET * boundary
    if kind[0] is WindowKind.ROLLING:
        window = Window(max(MARCH, end - timedelta(days=3)), end)
    else:
        window = Window(MARCH, end)
    remaining = budget_remaining_percent(h.series.tally(window), h.target)
    if remaining is None:
        assert np.isnan(spent[boundary])
    else:
        assert spent[boundary] == (1.0 if remaining <= 0 else 0.0)


# ---- the models --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 4), min_size=6, max_size=6),
    st.integers(DAY, 40 * DAY - 1),
    st.sampled_from([(WindowKind.ROLLING, 7), (WindowKind.CALENDAR_MONTH, None)]),
)
def test_linear_is_the_status_forecast(rates: list[float], offset: int, kind: tuple) -> None:
    # Rates changing every week, so that some moments burn and some do not.
    h = history(per_day(np.repeat(rates, 7).tolist()), *kind)
    at = MARCH + BUCKET * offset
    sums = h.series.cumulative()
    window, _ = horizon(*kind, at)
    expected = exhaustion_forecast(sums, h.target, window, at).at
    measured = Window(window.start, min(at, window.end))
    remaining = budget_remaining_percent(h.series.tally(measured), h.target)
    if remaining is not None and remaining <= 0:
        expected = None  # a spent budget is no prediction
    assert exhaustion(LINEAR, sums, h.target, *kind, at) == expected


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 0.99), st.integers(0, 55), st.booleans())
def test_a_steady_burn_below_the_budget_is_never_predicted(
    rate: float, offset: int, rolling: bool
) -> None:
    kind = (WindowKind.ROLLING, 14) if rolling else (WindowKind.CALENDAR_MONTH, None)
    h = history(np.full(60 * DAY, rate), *kind, start=MARCH - timedelta(days=28))
    at = MARCH + timedelta(days=offset, hours=5)
    for model in MODELS:
        assert predict(h, model, at) is None


def test_a_steady_burn_is_predicted_by_both() -> None:
    # Four weeks at 0.3x, then 2x from Mar 1 on: a rolling 28-day budget runs out after
    # 0.3 (28 - k) + 2 k >= 28, k = 11.53 days: in the bucket ending at 12:45 of day 11.
    rates = per_day([0.3] * 28 + [2.0] * 60)
    h = history(rates, WindowKind.ROLLING, 28, start=MARCH - timedelta(days=28))
    result = backtest_objective(h, daily_moments(day(0), day(30)))
    runs_out = day(11) + timedelta(hours=12, minutes=45)
    assert {d.exhausted_at for d in result.days} == {runs_out}
    linear, seasonal = (score(m, result.days, i) for i, m in enumerate(MODELS))
    assert linear.caught == seasonal.caught == 1
    assert linear.false_positives == seasonal.false_positives == 0
    # The 6-hour trend sees the step at once; the weekly level takes days to follow it.
    assert linear.lead_days == ((runs_out - day(1)) / timedelta(days=1),)
    assert 0 < seasonal.lead_days[0] < linear.lead_days[0]
    assert result.model == LINEAR


def test_a_weekly_season_is_won_by_the_seasonal_model() -> None:
    # Weekdays burn at 1.2x, weekends at 0.2x: 0.91x over a week. The linear forecast
    # cries wolf on weekdays, and misses the months that do run out.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    h = history(weekly(start, 120, 1.2, 0.2), start=start)
    result = backtest_objective(h, daily_moments(start + timedelta(days=30), day(30)))
    linear, seasonal = (score(m, result.days, i) for i, m in enumerate(MODELS))
    assert result.episodes >= 2
    assert seasonal.f1 is not None
    assert linear.f1 is not None
    assert seasonal.f1 > linear.f1
    assert seasonal.false_positives < linear.false_positives
    assert result.model == SEASONAL


def test_seasonal_projects_the_weekend() -> None:
    # Mid-month Friday, the budget 85% spent, weekdays at 1.2x and weekends at 0.2x:
    # the 6-hour trend (1.2x) says it runs out; the weekend ahead says it does not yet.
    start = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
    h = history(weekly(start, 60, 1.2, 0.2), start=start)
    friday = datetime(2026, 3, 13, 18, tzinfo=UTC)
    sums = h.series.cumulative()
    assert exhaustion(LINEAR, sums, 99.0, WindowKind.CALENDAR_MONTH, None, friday) is not None
    found = exhaustion(SEASONAL, sums, 99.0, WindowKind.CALENDAR_MONTH, None, friday)
    assert found is None or found > friday + timedelta(days=2)


def test_predict_names_the_model_and_the_window() -> None:
    h = history(per_day([0.0] * 10 + [2.0] * 21))
    prediction = predict(h, LINEAR, day(12))
    assert prediction is not None
    assert (prediction.objective_id, prediction.model, prediction.made_at) == ("o", LINEAR, day(12))
    assert prediction.window_ends_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert day(12) < prediction.exhausted_at <= prediction.window_ends_at
    assert predict(h, LINEAR, day(25)) is None  # spent: EXHAUSTED, no prediction
    with pytest.raises(ValueError, match="model"):
        predict(h, "oracle", day(12))


def test_report() -> None:
    h = history(per_day([0.0] * 10 + [2.0] * 21))
    result = backtest([h], daily_moments(day(0), day(31)))
    lines = report_lines(result)
    assert lines[0].split()[:3] == ["model", "days", "TP"]
    assert lines[1].split()[:5] == ["linear", "19", "9", "0", "10"]
    assert lines[-1].startswith("chosen: ")
    data = report_json(result)
    assert data["objectives"] == [
        {
            "objective": "o",
            "model": result.objectives[0].model,
            "days": 19,
            "episodes": 1,
            "f1": {m: score(m, result.objectives[0].days, i).f1 for i, m in enumerate(MODELS)},
        }
    ]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 3), min_size=7, max_size=7),
    st.lists(st.floats(0.2, 5), min_size=7, max_size=7),
)
def test_identical_weeks_project_the_last_week(rates: list[float], traffic: list[float]) -> None:
    # Four identical weeks: level x shape gives back each weekday's own bad and total.
    weeks = 5
    total = np.repeat(np.tile(np.asarray(traffic) * 1000, weeks), DAY)
    bad = total * 0.01 * np.repeat(np.tile(rates, weeks), DAY)
    series = BucketSeries(MARCH, total - bad, total)
    at = MARCH + timedelta(days=7 * weeks)
    profile = seasonal_profile(series.cumulative(), at)
    assert profile is not None
    expected_bad = np.asarray(rates) * np.asarray(traffic) * 1000 * 0.01 * DAY
    expected_total = np.asarray(traffic) * 1000 * DAY
    np.testing.assert_allclose(profile[0], expected_bad, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(profile[1], expected_total, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), min_size=0, max_size=30)
)
def test_scores_count_every_day_once(rows: list[tuple[int, bool, bool]]) -> None:
    events = [None, day(40), day(50), day(60)]
    days = tuple(Day(day(n), events[e], (a, b)) for n, (e, a, b) in enumerate(rows))
    positives = sum(d.exhausted_at is not None for d in days)
    for index, model in enumerate(MODELS):
        s = score(model, days, index)
        assert s.true_positives + s.false_negatives == positives
        assert s.true_positives + s.false_positives == sum(d.predicted[index] for d in days)
        assert s.caught <= s.episodes == len({d.exhausted_at for d in days} - {None})
        for value in (s.precision, s.recall, s.f1):
            assert value is None or 0 <= value <= 1
        assert all(lead > 0 for lead in s.lead_days)
