"""Breach prediction over the graph: the backtest of objectives' stored history and
the prediction of one objective now, each with the model its backtest chose.

The backtest (`hub slo backtest`) reads each objective's buckets as the status does
(`StatusEngine.series_between`: sources overlaid, approved exceptions excused), with a
lead-in before `start` so that the first days replayed see their whole window and the
seasonal model its four weeks, in batches of `BATCH` objectives; it then replays every
midnight of [start, end) (`hub.domain.prediction.backtest_objective`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

from hub.domain.buckets import BucketSeries
from hub.domain.models import Objective
from hub.domain.prediction import (
    HISTORY,
    MIN_EPISODES,
    Backtest,
    BreachPrediction,
    ObjectiveBacktest,
    ObjectiveHistory,
    backtest_objective,
    daily_moments,
    horizon,
    predict,
    summarise,
)
from hub.domain.windows import BUCKET, Window, objective_window, require_utc, snap
from hub.engine.status import LOOKBACK, StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories.prediction import ModelChoice, PredictionRepository, evidence
from hub.settings import SloSettings

# Objectives whose buckets are read and replayed at once: bounds the memory held.
BATCH = 100


def lead_in(objective: Objective, start: datetime) -> datetime:
    """Where an objective's backtest from `start` reads from: the start of its window
    at `start`, or four weeks earlier for the seasonal model, whichever is earlier."""
    window = objective_window(objective.window_kind, objective.window_days, start)
    first = min(window.start, snap(start) - HISTORY)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


class PredictionEngine:
    def __init__(self, graph: Graph, settings: SloSettings, status: StatusEngine | None = None):
        self._status = status or StatusEngine(graph, settings)
        self._repository = PredictionRepository(graph)

    async def backtest(
        self,
        objectives: Sequence[Objective],
        start: datetime,
        end: datetime,
        min_episodes: int = MIN_EPISODES,
    ) -> Backtest:
        """Replay each midnight of [start, end) for every objective: only data before
        `end` is read, so a day is scored only once its horizon has passed by `end`."""
        start, end = require_utc(start, "from"), require_utc(end, "to")
        if end <= start:
            raise ValueError(f"to: {end} is not after from {start}")
        moments = daily_moments(start, end)
        groups: dict[datetime, list[Objective]] = {}
        for objective in objectives:
            groups.setdefault(lead_in(objective, start), []).append(objective)
        batches = [
            (Window(first, end), group[offset : offset + BATCH])
            for first, group in sorted(groups.items())
            for offset in range(0, len(group), BATCH)
        ]

        def replay(
            batch: Sequence[Objective], found: dict[str, BucketSeries]
        ) -> list[ObjectiveBacktest]:
            return [
                backtest_objective(
                    ObjectiveHistory(o.id, found[o.id], o.target, o.window_kind, o.window_days),
                    moments,
                    min_episodes,
                )
                for o in batch
            ]

        def read(n: int) -> asyncio.Task[dict[str, BucketSeries]]:
            span, batch = batches[n]
            return asyncio.create_task(self._status.series_between(batch, span, end))

        # The next batch is read while this one is replayed in a worker thread: the graph
        # server works on the read meanwhile (the replay is pure and shares nothing).
        results: list[ObjectiveBacktest] = []
        pending = read(0) if batches else None
        try:
            for n, (_, batch) in enumerate(batches):
                assert pending is not None
                found = await pending
                pending = read(n + 1) if n + 1 < len(batches) else None
                results.extend(await asyncio.to_thread(replay, batch, found))
        finally:
            if pending is not None:
                pending.cancel()
        order = {o.id: n for n, o in enumerate(objectives)}
        return summarise(sorted(results, key=lambda r: order[r.objective_id]))

    async def record(self, backtest: Backtest, start: datetime, end: datetime) -> int:
        """Keep each objective's chosen model on it; returns how many were written."""
        return await self._repository.record(
            [
                ModelChoice(r.objective_id, r.model, evidence(r, start, end))
                for r in backtest.objectives
            ]
        )

    async def predictions(
        self,
        objectives: Sequence[Objective],
        at: datetime,
        models: Mapping[str, str] | None = None,
    ) -> dict[str, BreachPrediction]:
        """The breach predictions as of `at` of the objectives that have one, each by
        the model its backtest chose (the linear forecast where none was run); `models`
        when the caller has read the choices already."""
        if not objectives:
            return {}
        at = require_utc(at, "at")
        if models is None:
            models = await self._repository.models([o.id for o in objectives])
        found: dict[str, BreachPrediction] = {}
        spans: dict[Window, list[Objective]] = {}
        for objective in objectives:
            spans.setdefault(_needed(objective, at), []).append(objective)
        for span, group in spans.items():
            series = await self._status.series_between(group, span, at)
            for o in group:
                history = ObjectiveHistory(
                    o.id, series[o.id], o.target, o.window_kind, o.window_days
                )
                prediction = predict(history, models[o.id], at)
                if prediction is not None:
                    found[o.id] = prediction
        return found


def _needed(objective: Objective, at: datetime) -> Window:
    """The buckets a prediction at `at` reads: its window, the status's lookback and the
    seasonal model's four weeks."""
    window, _ = horizon(objective.window_kind, objective.window_days, at)
    now = snap(at)
    return Window(min(window.start, now - HISTORY, now - LOOKBACK), now + BUCKET)
