"""Breach prediction: will an objective's error budget run out before its window ends?

Two models answer it from an objective's own buckets, as of a moment `at`:

- `linear` (`LINEAR`): the status's forecast (`hub.domain.budget.exhaustion_forecast`),
  the burn rate of the last 6 hours carried on at steady traffic;
- `seasonal` (`SEASONAL`): a weekly decomposition of the objective's history. The 24-hour
  blocks before `at` give a level (the mean bad and total events per block over the
  last 7 blocks: one of each weekday, so free of the weekly pattern) and a weekly shape
  (each weekday's mean over the last 4 weeks, divided by the mean of those 28 blocks).
  Block k after `at` is projected as level x shape of its weekday, for bad events and
  for traffic apart, and the budget is followed block by block to the horizon.

The horizon is the window's end for a calendar period, and one window length ahead
for a rolling window (where the oldest buckets leave as new ones come), as the linear
forecast has it. A budget already spent has no prediction: its state is EXHAUSTED.

Which model serves an objective is decided by a backtest (`backtest`): every day of its
history, each model predicts from the data before that day, and the truth is read from
the buckets that follow. The learned model is chosen only where it *beats* the linear
one (`choose`): at least `MIN_EPISODES` exhaustion episodes in the backtest and a
strictly higher F1 over the days scored. Everything here is pure and deterministic.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from hub.domain.buckets import BucketSeries, CumulativeSeries, FloatArray, IntArray
from hub.domain.budget import (
    FORECAST_TREND_SECONDS,
    REMAINING_NOISE,
    budget_fraction,
    burn_rate,
    exhaustion_forecast,
)
from hub.domain.models import WindowKind
from hub.domain.windows import BUCKET, BUCKET_SECONDS, Window, objective_window, require_utc, snap

LINEAR = "linear"
SEASONAL = "seasonal"
MODELS = (LINEAR, SEASONAL)

DAY = timedelta(days=1)
DAY_BUCKETS = 86_400 // BUCKET_SECONDS
SEASON_BLOCKS = 7  # a week of 24-hour blocks
SHAPE_WEEKS = 4  # the weeks the weekly shape is averaged over
HISTORY = DAY * SEASON_BLOCKS * SHAPE_WEEKS  # what the seasonal model reads before `at`
MIN_EPISODES = 1  # episodes an objective needs in a backtest before the learned model may win

# Spent within float noise of the whole budget is spent (as `budget_remaining_percent`).
SPENT_NOISE = REMAINING_NOISE / 100


@dataclass(frozen=True, slots=True)
class BreachPrediction:
    """A predicted exhaustion of one objective's budget within its current window.

    `model` names the predictor that made it ("linear" or the learned model's name);
    `exhausted_at` is when the budget is predicted to run out; `probability` is the
    model's confidence when it gives one."""

    objective_id: str
    model: str
    made_at: datetime
    exhausted_at: datetime
    window_ends_at: datetime
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class ObjectiveHistory:
    """What the models read of one objective: its buckets, target and window."""

    objective_id: str
    series: BucketSeries
    target: float
    window_kind: WindowKind
    window_days: int | None = None


def horizon(kind: WindowKind, days: int | None, at: datetime) -> tuple[Window, datetime]:
    """The objective's window at `at` and the end of what a prediction looks at: the
    period's end for a calendar window, one window length after snap(at) for a rolling one."""
    window = objective_window(kind, days, at)
    if kind is WindowKind.ROLLING:
        return window, window.end + (window.end - window.start)
    return window, window.end


@dataclass(frozen=True, slots=True)
class _Moment:
    """What both models need of one objective at one moment `at`: snap(at) (`now`) and
    its bucket index, the window and horizon, and the tally measured so far."""

    at: datetime
    kind: WindowKind
    target: float
    now: datetime
    index: int
    window: Window
    ends: datetime
    bad: float
    total: float


def _moment(
    sums: CumulativeSeries, target: float, kind: WindowKind, days: int | None, at: datetime
) -> _Moment | None:
    """The moment, or None when there is nothing to predict: no events in the window
    yet, or a budget already spent."""
    window, ends = horizon(kind, days, at)
    now = snap(at)
    tally = sums.tally(Window(window.start, max(window.start, min(now, window.end))))
    if tally.total <= 0 or _spent(tally.bad, tally.total, target):
        return None
    index = (now - sums.start) // BUCKET
    return _Moment(at, kind, target, now, index, window, ends, tally.bad, tally.total)


def _spent(bad: float, total: float, target: float) -> bool:
    return total > 0 and bad / total / budget_fraction(target) >= 1 - SPENT_NOISE


# ---- the models ----------------------------------------------------------------------


def _linear(sums: CumulativeSeries, m: _Moment) -> datetime | None:
    # The rates that cannot exhaust the budget (at or below 1x in a calendar period,
    # below the share left in a rolling window, as `exhaustion_forecast` has it) are
    # answered without computing its interval.
    trend = burn_rate(
        sums.window_ending(m.now, FORECAST_TREND_SECONDS, not_before=m.window.start), m.target
    )
    if trend is None:
        return None
    remaining = 1 - m.bad / m.total / budget_fraction(m.target)
    calendar = m.window.end > m.at
    if (calendar and trend <= 1) or (not calendar and trend < remaining):
        return None
    return exhaustion_forecast(sums, m.target, m.window, m.at).at


# Past 24-hour blocks the seasonal model reads, as offsets (in days) of their edges.
_EDGES = np.arange(SEASON_BLOCKS * SHAPE_WEEKS, -1, -1)


def _profile(sums: CumulativeSeries, index: int) -> FloatArray | None:
    """Projected bad (row 0) and total (row 1) events of the 7 blocks after bucket
    boundary `index` (block k: days k to k + 1 after it, repeating weekly), or None
    without any data in the 4 weeks before it."""
    size = sums.covered.shape[0] - 1
    edges = np.clip(index - DAY_BUCKETS * _EDGES, 0, size)
    good, total, covered = sums.good[edges], sums.total[edges], sums.covered[edges]
    present = covered[1:] > covered[:-1]
    count = int(np.count_nonzero(present))
    if count == 0:
        return None
    block_total = total[1:] - total[:-1]
    block_bad = np.maximum(block_total - (good[1:] - good[:-1]), 0.0)
    values = np.stack((block_bad, block_total)) * present  # blocks without data: 0
    # The level: the last week's blocks (one of each weekday), else all with data.
    recent = int(np.count_nonzero(present[-SEASON_BLOCKS:]))
    if recent:
        level = values[:, -SEASON_BLOCKS:].sum(axis=1) / recent
    else:
        level = values.sum(axis=1) / count
    # Future block k shares its weekday with past blocks 28 - 7 + k, 28 - 14 + k, ...:
    # reshaped, a row per week and a column per weekday phase relative to `index`.
    counts = present.reshape(SHAPE_WEEKS, SEASON_BLOCKS).sum(axis=0)
    mean = values.sum(axis=1) / count
    if not counts.all():  # less than a week of data: flat
        return np.repeat(level[:, None], SEASON_BLOCKS, axis=1)
    weekly = values.reshape(2, SHAPE_WEEKS, SEASON_BLOCKS).sum(axis=1) / counts
    safe = np.where(mean > 0, mean, 1.0)[:, None]
    shape = np.where(mean[:, None] > 0, weekly / safe, 1.0)
    projected: FloatArray = level[:, None] * shape
    return projected


def seasonal_profile(sums: CumulativeSeries, at: datetime) -> FloatArray | None:
    """The seasonal model's projected bad (row 0) and total (row 1) events of the 7
    days after snap(at), or None without data in the 4 weeks before it."""
    return _profile(sums, (snap(at) - sums.start) // BUCKET)


def _seasonal(sums: CumulativeSeries, m: _Moment) -> datetime | None:
    profile = _profile(sums, m.index)
    if profile is None:
        return None
    days_ahead = (m.ends - m.now) / DAY
    steps = math.ceil(days_ahead)
    if steps <= 0:
        return None
    k = np.arange(steps)
    # The last block may reach past the horizon: only its share before it counts.
    projected = np.cumsum(profile[:, k % SEASON_BLOCKS] * np.minimum(days_ahead - k, 1.0), axis=1)
    if m.kind is WindowKind.ROLLING:
        # The window ending at each block's end: measured [end - length, now), then the
        # projection; its measured part shrinks as the window slides.
        size = sums.covered.shape[0] - 1
        last = min(max(m.index, 0), size)
        length = (m.window.end - m.window.start) // BUCKET
        starts = np.clip(last + DAY_BUCKETS * (k + 1) - length, 0, last)
        measured_total = sums.total[last] - sums.total[starts]
        measured_bad = np.maximum(measured_total - (sums.good[last] - sums.good[starts]), 0.0)
        bad, total = measured_bad + projected[0], measured_total + projected[1]
    else:
        bad, total = m.bad + projected[0], m.total + projected[1]
    allowed = total * budget_fraction(m.target)
    crossed = np.flatnonzero((total > 0) & (bad >= (1 - SPENT_NOISE) * allowed))
    if crossed.shape[0] == 0:
        return None
    return min(m.now + DAY * (int(crossed[0]) + 1), m.ends)


_MODELS = {LINEAR: _linear, SEASONAL: _seasonal}


def exhaustion(
    model: str,
    sums: CumulativeSeries,
    target: float,
    kind: WindowKind,
    days: int | None,
    at: datetime,
) -> datetime | None:
    """When `model` has the budget run out within the horizon from `at` on, or None."""
    run = _MODELS.get(model)
    if run is None:
        raise ValueError(f"model: give one of {', '.join(MODELS)}, not {model!r}")
    m = _moment(sums, target, kind, days, at)
    return None if m is None else run(sums, m)


def predict(history: ObjectiveHistory, model: str, at: datetime) -> BreachPrediction | None:
    """The breach prediction of `model` (the one chosen for the objective by its
    backtest; `LINEAR` where none was run) as of `at`, or None: no exhaustion within the
    window (a rolling window: within one window length), no data, or a budget already
    spent (EXHAUSTED is no prediction).

    >>> predict(history, SEASONAL, at)  # doctest: +SKIP
    BreachPrediction(objective_id='o1', model='seasonal', ...)
    """
    at = require_utc(at, "at")
    sums = history.series.cumulative()
    found = exhaustion(model, sums, history.target, history.window_kind, history.window_days, at)
    if found is None:
        return None
    _, ends = horizon(history.window_kind, history.window_days, at)
    return BreachPrediction(
        objective_id=history.objective_id,
        model=model,
        made_at=at,
        exhausted_at=found,
        window_ends_at=ends,
    )


# ---- the truth -----------------------------------------------------------------------


def _period_starts(kind: WindowKind, first: datetime, last: datetime) -> list[datetime]:
    starts = [objective_window(kind, None, first).start]
    while starts[-1] <= last:
        starts.append(objective_window(kind, None, starts[-1]).end)
    return starts


def spent_at_boundaries(history: ObjectiveHistory) -> FloatArray:
    """For every bucket boundary i of the series (0 to len), whether the budget of the
    window ending there was spent (1.0) or not (0.0); NaN where that window had no events.

    A calendar boundary ends the period it closes: the period's last boundary is its end.
    """
    series = history.series
    sums = series.cumulative()
    bad = np.maximum(sums.total - sums.good, 0.0)
    n = len(series)
    index = np.arange(n + 1)
    if history.window_kind is WindowKind.ROLLING:
        assert history.window_days is not None
        starts = np.maximum(index - history.window_days * DAY_BUCKETS, 0)
    else:
        # Boundary i > 0 belongs to the period holding its previous bucket.
        periods = _period_starts(history.window_kind, series.start, series.end)
        offsets = np.array([(p - series.start) // BUCKET for p in periods])
        owner = np.searchsorted(offsets, np.maximum(index - 1, 0), side="right") - 1
        starts = np.clip(offsets[np.maximum(owner, 0)], 0, n)
    total = sums.total[index] - sums.total[starts]
    spent_bad = bad[index] - bad[starts]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = spent_bad / (total * budget_fraction(history.target))
    return np.where(total > 0, (share >= 1 - SPENT_NOISE).astype(np.float64), np.nan)


def _next_spent(spent: FloatArray) -> IntArray:
    """For each boundary, the first boundary at or after it whose budget is spent
    (len(spent) where none is)."""
    n = spent.shape[0]
    marked = np.where(spent == 1.0, np.arange(n), n)
    return np.minimum.accumulate(marked[::-1])[::-1]


# ---- the backtest --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    """One scored day of one objective: the truth and each model's prediction."""

    at: datetime
    exhausted_at: datetime | None  # the actual exhaustion within the horizon, if any
    predicted: tuple[bool, ...]  # per model, in `MODELS` order


@dataclass(frozen=True, slots=True)
class ObjectiveBacktest:
    """One objective's backtest: its scored days and the model chosen for it."""

    objective_id: str
    days: tuple[Day, ...]
    model: str

    @property
    def episodes(self) -> int:
        return len({d.exhausted_at for d in self.days if d.exhausted_at is not None})


@dataclass(frozen=True, slots=True)
class Score:
    """How one model did over some objective-days: a day is positive when the budget
    actually ran out within the horizon; an episode is one actual exhaustion, caught
    when the model predicted it on at least one day before; its lead time runs from
    the first of those days to the exhaustion."""

    model: str
    days: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    episodes: int = 0
    caught: int = 0
    lead_days: tuple[float, ...] = field(default=())

    @property
    def precision(self) -> float | None:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else None

    @property
    def recall(self) -> float | None:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else None

    @property
    def f1(self) -> float | None:
        wrong = self.false_positives + self.false_negatives
        if self.true_positives + wrong == 0:
            return None
        return 2 * self.true_positives / (2 * self.true_positives + wrong)

    @property
    def lead_mean(self) -> float | None:
        return statistics.fmean(self.lead_days) if self.lead_days else None

    @property
    def lead_median(self) -> float | None:
        return statistics.median(self.lead_days) if self.lead_days else None


def score(model: str, days: Iterable[Day], index: int) -> Score:
    """The score of the model at `index` (in `MODELS` order) over `days` of one or more
    objectives (episodes are told apart by their exhaustion time, so score objectives
    one by one and add them up with `merge`)."""
    tp = fp = fn = count = 0
    first_hit: dict[datetime, datetime | None] = {}
    for day in days:
        count += 1
        said = day.predicted[index]
        if day.exhausted_at is None:
            fp += said
            continue
        first_hit.setdefault(day.exhausted_at, None)
        if said:
            tp += 1
            if first_hit[day.exhausted_at] is None:
                first_hit[day.exhausted_at] = day.at
        else:
            fn += 1
    leads = tuple((event - hit) / DAY for event, hit in first_hit.items() if hit is not None)
    return Score(model, count, tp, fp, fn, len(first_hit), len(leads), leads)


def merge(scores: Iterable[Score], model: str) -> Score:
    total = Score(model)
    for s in scores:
        total = Score(
            model,
            total.days + s.days,
            total.true_positives + s.true_positives,
            total.false_positives + s.false_positives,
            total.false_negatives + s.false_negatives,
            total.episodes + s.episodes,
            total.caught + s.caught,
            total.lead_days + s.lead_days,
        )
    return total


def choose(days: Sequence[Day], min_episodes: int = MIN_EPISODES) -> str:
    """The model for one objective: the learned one only where it beats the linear
    forecast on this objective's backtest, that is with at least `min_episodes`
    exhaustion episodes and a strictly higher F1; the linear forecast otherwise."""
    linear, learned = (score(m, days, i) for i, m in enumerate(MODELS))
    if linear.episodes < min_episodes or learned.f1 is None:
        return LINEAR
    if linear.f1 is None or learned.f1 > linear.f1:
        return SEASONAL
    return LINEAR


def backtest_objective(
    history: ObjectiveHistory, moments: Sequence[datetime], min_episodes: int = MIN_EPISODES
) -> ObjectiveBacktest:
    """Replay `moments` (e.g. each midnight of a span): at each, every model predicts
    from the buckets before it, and the buckets after it say what happened.

    A moment is scored when the window at it has events and budget left, and the series
    covers its whole horizon (otherwise the truth is not known yet).
    """
    series = history.series
    sums = series.cumulative()
    spent = spent_at_boundaries(history)
    following = _next_spent(spent)
    n = len(series)
    scored: list[Day] = []
    for moment in moments:
        at = snap(require_utc(moment, "moment"))
        i = (at - series.start) // BUCKET
        _, ends = horizon(history.window_kind, history.window_days, at)
        last = (ends - series.start) // BUCKET
        if i < 0 or last > n or spent[i] != 0.0:
            continue
        state = _moment(sums, history.target, history.window_kind, history.window_days, at)
        if state is None:  # the truth says budget is left, so never; but kept safe
            continue
        event = int(following[i + 1]) if i + 1 <= n else n + 1
        exhausted_at = series.start + BUCKET * event if event <= last else None
        predicted = tuple(_MODELS[m](sums, state) is not None for m in MODELS)
        scored.append(Day(at, exhausted_at, predicted))
    days = tuple(scored)
    return ObjectiveBacktest(history.objective_id, days, choose(days, min_episodes))


@dataclass(frozen=True, slots=True)
class Backtest:
    """The backtest of many objectives: per-objective results and the scores per model,
    and of the chosen models together (`chosen`: in-sample, so optimistic)."""

    objectives: tuple[ObjectiveBacktest, ...]
    scores: tuple[Score, ...]
    chosen: Score


def summarise(results: Sequence[ObjectiveBacktest]) -> Backtest:
    per_model = tuple(
        merge((score(m, r.days, i) for r in results), m) for i, m in enumerate(MODELS)
    )
    chosen = merge((score(r.model, r.days, MODELS.index(r.model)) for r in results), "chosen")
    return Backtest(tuple(results), per_model, chosen)


def backtest(
    histories: Iterable[ObjectiveHistory],
    moments: Sequence[datetime],
    min_episodes: int = MIN_EPISODES,
) -> Backtest:
    """`backtest_objective` for each history, summed up."""
    return summarise([backtest_objective(h, moments, min_episodes) for h in histories])


def daily_moments(start: datetime, end: datetime) -> list[datetime]:
    """Each midnight (UTC) in [start, end)."""
    start, end = require_utc(start, "from"), require_utc(end, "to")
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < start:
        first += DAY
    return [first + DAY * n for n in range(max(math.ceil((end - first) / DAY), 0))]


# ---- the report ----------------------------------------------------------------------


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_lines(result: Backtest, min_episodes: int = MIN_EPISODES) -> list[str]:
    """The backtest as a table, one row per model and one for the chosen models, then
    which model was chosen how often."""
    header = (
        "model",
        "days",
        "TP",
        "FP",
        "FN",
        "precision",
        "recall",
        "F1",
        "episodes",
        "caught",
        "lead mean d",
        "lead median d",
    )
    rows = [header]
    for s in (*result.scores, result.chosen):
        rows.append(
            (
                s.model,
                str(s.days),
                str(s.true_positives),
                str(s.false_positives),
                str(s.false_negatives),
                _figure(s.precision),
                _figure(s.recall),
                _figure(s.f1),
                str(s.episodes),
                str(s.caught),
                _figure(s.lead_mean, 2),
                _figure(s.lead_median, 2),
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    counts = {m: sum(r.model == m for r in result.objectives) for m in MODELS}
    lines.append(
        "chosen: "
        + ", ".join(f"{m} for {n}" for m, n in counts.items())
        + f" of {len(result.objectives)} objectives ({SEASONAL} only where it beats {LINEAR}:"
        f" at least {min_episodes} episode{'s' if min_episodes != 1 else ''}"
        " and a strictly higher F1)"
    )
    return lines


def _score_json(s: Score) -> dict[str, object]:
    return {
        "model": s.model,
        "days": s.days,
        "truePositives": s.true_positives,
        "falsePositives": s.false_positives,
        "falseNegatives": s.false_negatives,
        "precision": s.precision,
        "recall": s.recall,
        "f1": s.f1,
        "episodes": s.episodes,
        "caught": s.caught,
        "leadMeanDays": s.lead_mean,
        "leadMedianDays": s.lead_median,
    }


def report_json(result: Backtest) -> dict[str, object]:
    """The backtest as JSON-ready data: the scores, and per objective the days scored,
    episodes, each model's F1 and the model chosen."""
    objectives = []
    for r in result.objectives:
        scores = [score(m, r.days, i) for i, m in enumerate(MODELS)]
        objectives.append(
            {
                "objective": r.objective_id,
                "model": r.model,
                "days": len(r.days),
                "episodes": r.episodes,
                "f1": {s.model: s.f1 for s in scores},
            }
        )
    return {
        "models": [_score_json(s) for s in result.scores],
        "chosen": _score_json(result.chosen),
        "objectives": objectives,
    }
