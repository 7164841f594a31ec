"""Error budgets, burn rates, multi-window alerts and the status of one objective.

The meanings are the GraphQL contract's (`service-levels.graphql`):

- budget remaining = 100 * (1 - (bad/total) / (1 - target/100)), in percent;
- burn rate = (bad/total) / (1 - target/100): 1.0 spends exactly the whole budget over
  the objective's window;
- a multi-window alert pair fires when the burn rates of both its windows are
  strictly above its rate (the SRE workbook's pairs by default);
- state: NO_DATA without data; else EXHAUSTED when no budget remains; else AT_RISK
  when a pair fires or the forecast runs out within the window; else HEALTHY.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from hub.domain.buckets import BucketSeries, CumulativeSeries, FloatArray, Tally
from hub.domain.windows import BUCKET_SECONDS, Window, require_utc, snap


@dataclass(frozen=True, slots=True)
class AlertPair:
    """A multi-window burn-rate alert: fires when both windows burn above `rate`."""

    long_seconds: int
    short_seconds: int
    rate: float


# The SRE workbook's pairs: 2% of a 30-day budget in 1h, 5% in 6h, 10% in 1d and 3d.
DEFAULT_ALERT_PAIRS = (
    AlertPair(3600, 300, 14.4),
    AlertPair(21600, 1800, 6.0),
    AlertPair(86400, 7200, 3.0),
    AlertPair(259200, 21600, 1.0),
)
BURN_RATE_WINDOWS = (300, 1800, 3600, 7200, 21600, 86400, 259200)

# A 100% target leaves no budget and the formulas divide by zero; GraphQL's Float
# cannot carry the infinities, so such a target is budgeted as if it were 99.9999%.
PERFECT_TARGET_ALLOWANCE = 1e-6

# The forecast's trend and the interval around it.
FORECAST_TREND_SECONDS = 21600
FORECAST_INTERVAL_SECONDS = (3600, 86400)


REMAINING_NOISE = 1e-9  # percent of a budget: far below anything a report shows


def allowed_bad_fraction(target_percent: float) -> float:
    """The share of events that may be bad: 1 - target/100."""
    if not (math.isfinite(target_percent) and 0 < target_percent <= 100):
        raise ValueError(f"target: give a percentage above 0 and up to 100, not {target_percent}")
    return 1 - target_percent / 100


def budget_fraction(target_percent: float) -> float:
    """The share of events that may be bad, a 100% target budgeted as 99.9999%."""
    allowed = allowed_bad_fraction(target_percent)
    return allowed if allowed > 0 else PERFECT_TARGET_ALLOWANCE


def budget_remaining_percent(tally: Tally, target_percent: float) -> float | None:
    """Percent of the error budget left (negative when overspent); None without data.

    A 100% target has no budget: 100 with no bad event, and with any the figure for
    a 99.9999% target (hugely negative yet finite).
    """
    if tally.total <= 0:
        return None
    remaining = 100.0 * (1 - (tally.bad / tally.total) / budget_fraction(target_percent))
    # 1 - 99/100 is 0.010000000000000009 in floats: spending exactly the budget would
    # leave a sliver of it. Within float noise of zero, nothing is left.
    return 0.0 if math.isclose(remaining, 0.0, abs_tol=REMAINING_NOISE) else remaining


def burn_rate(tally: Tally, target_percent: float) -> float | None:
    """How fast the budget burns: 1.0 spends it exactly over the window; None without data."""
    if tally.total <= 0:
        return None
    return (tally.bad / tally.total) / budget_fraction(target_percent)


def budget_consumed_fraction(rate: float, over_seconds: int, window_seconds: int) -> float:
    """The share of a window's budget spent burning at `rate` for `over_seconds`.

    14.4x for one hour of a 30-day window spends 0.02 of its budget.
    """
    if window_seconds <= 0:
        raise ValueError(f"window_seconds: must be positive, not {window_seconds}")
    return rate * over_seconds / window_seconds


class BudgetState(enum.StrEnum):
    HEALTHY = "HEALTHY"
    AT_RISK = "AT_RISK"
    EXHAUSTED = "EXHAUSTED"
    NO_DATA = "NO_DATA"


@dataclass(frozen=True, slots=True)
class Forecast:
    """When the error budget runs out at the recent trend, with an interval.

    `at` comes from the burn rate of the last 6 hours, `earliest` and `latest` from the
    fastest and slowest of the 1-hour, 6-hour and 1-day rates. None where the budget
    does not run out within the horizon at that rate; see `exhaustion_forecast`.
    """

    at: datetime | None = None
    earliest: datetime | None = None
    latest: datetime | None = None


NO_FORECAST = Forecast()


def _calendar_exhaustion(
    at: datetime, remaining: float, measured_seconds: int, window: Window, rate: float
) -> datetime | None:
    """When the budget of a calendar period runs out, its window growing until it ends.

    Having measured `measured_seconds` with `remaining` of the budget left, burning at
    `rate` for another t seconds brings the share spent to
    ((1 - remaining) * measured + rate * t) / (measured + t) (steady traffic), which
    reaches 1 at t = measured * remaining / (rate - 1): never at 1x or slower.
    """
    if rate <= 1:
        return None
    seconds = measured_seconds * remaining / (rate - 1)
    if seconds > (window.end - at).total_seconds():
        return None
    return at + timedelta(seconds=seconds)


def _rolling_exhaustion(
    at: datetime, spent: FloatArray, remaining: float, rate: float
) -> datetime | None:
    """When the budget of a rolling window runs out, its oldest buckets falling out.

    `spent[k]` is the budget share spent in the window's first k buckets. After k
    buckets of time those have left the window, and k buckets at `rate` have come in
    (steady traffic: as many events come in as leave).
    """
    buckets = spent.shape[0] - 1
    # What leaves the window never adds to the spending, so below `remaining` a rate
    # cannot exhaust the budget within one window length: skip the arrays.
    if buckets <= 0 or rate < remaining:
        return None
    steps = np.arange(buckets + 1, dtype=np.float64)
    short = (1 - remaining) - spent + rate * steps / buckets - 1
    crossed = np.flatnonzero(short >= 0)
    if crossed.shape[0] == 0:
        return None
    k = int(crossed[0])
    if k == 0:
        return at
    before, after = float(short[k - 1]), float(short[k])
    # Linear between the two bucket boundaries where the shortfall turns non-negative.
    fraction = -before / (after - before)
    return at + timedelta(seconds=BUCKET_SECONDS * (k - 1 + fraction))


def exhaustion_forecast(
    sums: CumulativeSeries, target_percent: float, window: Window, at: datetime
) -> Forecast:
    """When budgetRemaining reaches 0 if the recent burn rate goes on, from `at` on.

    The trend is the burn rate of the last 6 hours (1 hour and 1 day for the
    interval), each cut at the window's start so that a period's forecast rests on its
    own data; traffic is assumed steady. A window still running at `at` is a calendar
    period: new buckets join the ones measured until it ends, so the budget runs out
    only at a rate above 1x, and a forecast beyond the window's end is None. A window
    that ended by `at` is a rolling one, sliding along with `at`: its oldest buckets
    leave as new ones arrive, so the forecast looks one window length ahead. Either
    way a steady burn at or below 1x never exhausts a budget it has not exhausted yet.
    An exhausted budget runs out at `at`.

    (Simply remaining share x window length / rate would flag a steady 0.9x burn,
    which never exhausts the budget, as running out within the window.)
    """
    at = require_utc(at, "at")
    elapsed = Window(window.start, max(window.start, min(snap(at), window.end)))
    tally = sums.tally(elapsed)
    remaining_percent = budget_remaining_percent(tally, target_percent)
    trend = _trend(sums, at, FORECAST_TREND_SECONDS, window, target_percent)
    if remaining_percent is None or trend is None:
        return NO_FORECAST
    if remaining_percent <= 0:
        return Forecast(at, at, at)
    remaining = remaining_percent / 100
    rates = [trend]
    for seconds in FORECAST_INTERVAL_SECONDS:
        rate = _trend(sums, at, seconds, window, target_percent)
        if rate is not None:
            rates.append(rate)
    fastest, slowest = max(rates), min(rates)
    if window.end > at:
        measured = tally.covered_seconds
        return Forecast(
            *(
                _calendar_exhaustion(at, remaining, measured, window, rate)
                for rate in (trend, fastest, slowest)
            )
        )
    good, total = sums.running(elapsed)
    spent = np.maximum(total - good, 0.0) / (tally.total * budget_fraction(target_percent))
    return Forecast(
        *(_rolling_exhaustion(at, spent, remaining, rate) for rate in (trend, fastest, slowest))
    )


@dataclass(frozen=True, slots=True)
class ObjectiveStatus:
    """An objective's standing at one moment (GraphQL `ObjectiveStatus`).

    `data_coverage` is the percent of the elapsed part of the window (from its start
    to `at`, or to its end when `at` is later) whose buckets had data, excused time
    (inside approved exceptions) left out of both: an exception neither counts as
    missing data nor as measured. A window excused throughout has a coverage of 0.
    """

    window: Window
    good: float | None
    total: float | None
    compliance: float | None
    data_coverage: float
    budget_remaining: float | None
    state: BudgetState
    burn_rates: tuple[tuple[int, float | None], ...]
    firing: tuple[AlertPair, ...]
    forecast: Forecast


def _above(rate: float | None, threshold: float) -> bool:
    # Strictly above; float noise in the sums must not make a rate at the threshold fire.
    return rate is not None and rate > threshold and not math.isclose(rate, threshold)


def _fires(pair: AlertPair, rates: dict[int, float | None]) -> bool:
    return _above(rates[pair.long_seconds], pair.rate) and _above(
        rates[pair.short_seconds], pair.rate
    )


def _state(
    tally: Tally, remaining: float | None, firing: Sequence[AlertPair], ahead: Forecast
) -> BudgetState:
    if tally.total <= 0 or remaining is None:
        return BudgetState.NO_DATA
    if remaining <= 0:
        return BudgetState.EXHAUSTED
    # A forecast exists only within its horizon: the period's end, or one window length.
    if firing or ahead.at is not None:
        return BudgetState.AT_RISK
    return BudgetState.HEALTHY


def objective_status(
    series: BucketSeries,
    target_percent: float,
    window: Window,
    at: datetime,
    pairs: Sequence[AlertPair] = DEFAULT_ALERT_PAIRS,
    burn_windows: Sequence[int] = BURN_RATE_WINDOWS,
) -> ObjectiveStatus:
    """The status of one objective over `window` as of `at`.

    Counts the buckets of [window.start, min(at, window.end)) (a bucket still filling
    at `at` is left out); burn rates are over windows ending at snap(at) and may reach
    back before the window's start.
    """
    at = require_utc(at, "at")
    allowed_bad_fraction(target_percent)  # validates the target before any work
    sums = series.cumulative()
    elapsed = Window(window.start, max(window.start, min(snap(at), window.end)))
    tally = sums.tally(elapsed)

    rates: dict[int, float | None] = {}
    for seconds in (*burn_windows, *(s for p in pairs for s in (p.long_seconds, p.short_seconds))):
        if seconds not in rates:
            rates[seconds] = burn_rate(sums.window_ending(at, seconds), target_percent)
    firing = tuple(pair for pair in pairs if _fires(pair, rates))

    remaining = budget_remaining_percent(tally, target_percent)
    ahead = exhaustion_forecast(sums, target_percent, window, at)
    measurable_seconds = elapsed.seconds - tally.excused_seconds
    coverage = 100.0 * tally.covered_seconds / measurable_seconds if measurable_seconds > 0 else 0.0
    has_data = tally.covered_seconds > 0
    return ObjectiveStatus(
        window=window,
        good=tally.good if has_data else None,
        total=tally.total if has_data else None,
        compliance=tally.compliance,
        data_coverage=min(coverage, 100.0),
        budget_remaining=remaining,
        state=_state(tally, remaining, firing, ahead),
        burn_rates=tuple((seconds, rates[seconds]) for seconds in burn_windows),
        firing=firing,
        forecast=ahead,
    )


def _trend(
    sums: CumulativeSeries, at: datetime, seconds: int, window: Window, target_percent: float
) -> float | None:
    # The trend of this window's budget: nothing from before the window started.
    return burn_rate(sums.window_ending(at, seconds, not_before=window.start), target_percent)
