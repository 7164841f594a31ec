"""`hub slo backtest` run as users run it, against the real graph: it replays stored
history, prints the scores the pure backtest gives on the same buckets, and keeps each
objective's chosen model, which `PredictionEngine.predictions` then uses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from slo_support import import_slo, openslo, openslo_text
from support import EDITOR, GraphBuilder
from test_cli import run_hub

from hub.domain.buckets import BucketSeries
from hub.domain.models import Objective
from hub.domain.openslo import parse_documents
from hub.domain.prediction import (
    LINEAR,
    SEASONAL,
    ObjectiveHistory,
    backtest,
    daily_moments,
    predict,
    report_lines,
)
from hub.engine.prediction import PredictionEngine
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import ObjectiveRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.prediction import PredictionRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings

DAY = 288
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: history starts here
FROM, TO = datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC)


@pytest.fixture
def data_dir(graph_data_dir: Path, graph_connection: GraphConnection) -> Path:
    """The session server's data dir: commands attach to the running server."""
    return graph_data_dir


def series(daily_rates: list[float]) -> BucketSeries:
    """1,000 events a bucket, bad ones at each day's rate times a 99% budget."""
    rates = np.repeat(np.asarray(daily_rates), DAY)
    total = np.full(rates.shape[0], 1000.0)
    bad = total * 0.01 * rates
    return BucketSeries(START, total - bad, total)


def weekly(days: int, weekday: float, weekend: float) -> list[float]:
    return [weekend if (START + timedelta(days=n)).weekday() >= 5 else weekday for n in range(days)]


STEP = series([0.3] * 35 + [2.0] * 56)  # a steady 2x from Feb 9 on
SEASONS = series(weekly(91, 1.2, 0.2))  # weekdays 1.2x, weekends 0.2x
MONTHLY = {"timeWindow": [{"duration": "1M", "isRolling": False}]}


async def stored(
    builder: GraphBuilder, name: str, buckets: BucketSeries, **fields: object
) -> Objective:
    objective = await import_slo(builder, name, 0.99, **{"window": "28d", **fields})
    await TelemetryRepository(builder.graph).store(objective.id, "prometheus", buckets)
    return objective


def pure(objective: Objective, buckets: BucketSeries) -> ObjectiveHistory:
    return ObjectiveHistory(
        objective.id, buckets, objective.target, objective.window_kind, objective.window_days
    )


async def test_backtest_prints_the_scores_and_keeps_the_choice(
    data_dir: Path, graph: Graph, builder: GraphBuilder
) -> None:
    step = await stored(builder, f"{builder.source}-step", STEP)
    seasons = await stored(builder, f"{builder.source}-seasons", SEASONS, **MONTHLY)
    expected = backtest([pure(step, STEP), pure(seasons, SEASONS)], daily_moments(FROM, TO))
    head = await AuditRepository(graph).head()

    result = run_hub(
        "slo",
        "backtest",
        "--from",
        "2026-02-02",
        "--to",
        "2026-04-06",
        "--objective",
        step.id,
        "--objective",
        seasons.id,
        data_dir=data_dir,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "backtest 2026-02-02 to 2026-04-06, every midnight (UTC)"
    assert lines[1:-1] == report_lines(expected)
    assert lines[-1] == "recorded: 2"
    # The numbers themselves (worked out in tests/domain/test_prediction.py's cases):
    # the step is one episode both models catch, the linear forecast 2 days earlier, so
    # it keeps the step; the weekly season, two months that run out, goes to the seasonal
    # model, which raises no false alarm where the linear forecast raises 20.
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    # days, TP, FP, FN, precision, recall, F1, episodes, caught, lead mean, lead median
    assert rows["linear"][:4] == ["72", "17", "20", "10"]
    assert rows["seasonal"][:4] == ["72", "17", "0", "10"]
    assert rows["linear"][7:9] == rows["seasonal"][7:9] == ["3", "3"]
    assert [r.model for r in expected.objectives] == [LINEAR, SEASONAL]
    choices = await PredictionRepository(graph).choices([step.id, seasons.id])
    assert {i: c.model for i, c in choices.items()} == {step.id: LINEAR, seasons.id: SEASONAL}
    assert choices[step.id].evidence["episodes"] == 1
    assert choices[step.id].evidence["from"].startswith("2026-02-02T00:00:00")
    # The run is audited once: its span and how many objectives each model got.
    [audit] = await AuditRepository(graph).trail(
        action="backtest.record", after=head.sequence if head else 0, limit=10
    )
    assert audit.actor == "system:backtest"
    after = json.loads(audit.after or "{}")
    assert after["from"].startswith("2026-02-02T00:00:00")
    assert after["to"].startswith("2026-04-06T00:00:00")
    assert (after["objectives"], after["models"]) == (2, {LINEAR: 1, SEASONAL: 1})
    # The choice is operational metadata: importing the same SLO again changes nothing.
    document = openslo(f"{builder.source}-step", f"{builder.source}:checkout", 0.99)
    counts = await ObjectiveRepository(graph).import_slos(
        parse_documents(openslo_text(document)), EDITOR
    )
    assert (counts.updated, counts.unchanged) == (0, 1)
    assert (await PredictionRepository(graph).models([step.id])) == {step.id: LINEAR}

    again = run_hub(
        "slo", "backtest", "--from", "2026-02-02", "--to", "2026-04-06", "--json",
        "--no-record", "--objective", seasons.id, data_dir=data_dir,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["recorded"] is None
    assert [o["model"] for o in data["objectives"]] == [SEASONAL]
    assert data["objectives"][0]["episodes"] == expected.objectives[1].episodes

    # At runtime each objective is predicted by its chosen model.
    engine = PredictionEngine(graph, SloSettings())
    at = datetime(2026, 2, 11, 6, tzinfo=UTC)  # two days into the step
    found = await engine.predictions([step, seasons], at)
    assert found[step.id].model == LINEAR
    assert found[step.id].made_at == at
    assert found[step.id].exhausted_at <= found[step.id].window_ends_at
    # Given the choices (as the policy job passes those it read), those are used, not
    # the stored one (LINEAR for the step).
    given = await engine.predictions([step], at, {step.id: SEASONAL})
    assert given.get(step.id) == predict(pure(step, STEP), SEASONAL, at)


def test_backtest_refuses_an_empty_span(data_dir: Path) -> None:
    result = run_hub(
        "slo", "backtest", "--from", "2026-02-02", "--to", "2026-02-01", data_dir=data_dir
    )
    assert result.returncode == 2
    assert "--to" in result.stderr


async def test_backtest_names_an_unknown_objective(data_dir: Path, builder: GraphBuilder) -> None:
    missing = f"{builder.source}-nothing"
    result = run_hub(
        "slo", "backtest", "--from", "2026-02-02", "--to", "2026-03-01", "--objective", missing,
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 2
    assert missing in result.stderr
