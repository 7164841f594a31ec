"""Breach prediction at scale: the backtest of N objectives over D days of history.

Run as ``.venv/bin/python -m benchmarks.backtest [--objectives N] [--days D] [--seed S]
[--heap H] [--no-graph]``; ``--objectives 200 --days 30`` makes a quick run.

The fleet is `benchmarks.slo`'s traffic for a seed (diurnal, weekends lighter,
incidents, scrape gaps; targets 99 to 99.99), with D days replayed and four weeks of
lead-in before them. On top of it, burn patterns that make budgets run out (synthetic,
seeded):

- half the objectives keep the generator's burn only (0.02x to 0.7x, plus incidents);
- a fifth burn with a weekly season: weekdays at 1.05x to 1.4x, weekends at 0.05x to 0.4x;
- 15% have steps: two to four spells of 1.5x to 4x, 1 to 12 days long;
- 15% drift: the burn rises steadily from 0.3x to 1.2x-1.8x over the history.

Objectives take turns between a rolling 28-day window and a calendar month.

It measures:

1. the pure backtest (`hub.domain.prediction.backtest`) over `BucketSeries` in memory;
2. set-up, the hub's way (timed, not a target): services, OpenSLO SLOs, buckets stored
   by `TelemetryRepository.store_many`, on a fresh embedded server of its own;
3. the backtest through the graph as `hub slo backtest` runs it:
   `PredictionEngine.backtest` (reads the buckets, replays every day) and
   `PredictionEngine.record` (keeps each objective's chosen model).

The graph's result must equal the pure one (the same scores and choices), or the
benchmark fails. The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.graph import _exit_on_sigterm, progress
from benchmarks.slo import AT, SOURCE, Planned, embedded_server, generate, services_bundle
from benchmarks.sync import Memory
from hub.domain.buckets import BucketSeries
from hub.domain.models import Objective, WindowKind
from hub.domain.openslo import parse_documents
from hub.domain.prediction import (
    HISTORY,
    Backtest,
    ObjectiveBacktest,
    ObjectiveHistory,
    backtest,
    choose,
    daily_moments,
    report_lines,
    summarise,
)
from hub.domain.windows import BUCKET
from hub.domain.workflow import Actor, Role
from hub.engine.prediction import PredictionEngine
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ObjectiveRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import EmbeddedGraphSettings, SloSettings

ACTOR = Actor(user="backtest-bench", role=Role.EDITOR)
ROLLING_DAYS = 28
STORE_BATCH = 4  # objectives per write: ~2 MB of buckets (a 50-objective write broke Bolt)


def replayed(days: int) -> tuple[datetime, datetime]:
    """The `days` whole UTC days replayed: up to the midnight before `AT`."""
    end = datetime(AT.year, AT.month, AT.day, tzinfo=UTC)
    return end - timedelta(days=days), end


def window_of(index: int) -> tuple[WindowKind, int | None]:
    return (
        (WindowKind.ROLLING, ROLLING_DAYS) if index % 2 == 0 else (WindowKind.CALENDAR_MONTH, None)
    )


def _burn(rng: np.random.Generator, series: BucketSeries, pattern: str) -> np.ndarray:
    """Extra bad events' share per bucket, in budgets (1.0: the whole allowed share)."""
    size = len(series)
    day = np.arange(size) // 288
    if pattern == "weekly":
        weekday = (series.start.weekday() + day) % 7
        busy, quiet = rng.uniform(1.05, 1.4), rng.uniform(0.05, 0.4)
        return np.where(weekday >= 5, quiet, busy)
    if pattern == "steps":
        burn = np.zeros(size)
        for _ in range(int(rng.integers(2, 5))):
            begin = int(rng.integers(size))
            burn[begin : begin + 288 * int(rng.integers(1, 13))] = rng.uniform(1.5, 4.0)
        return burn
    if pattern == "drift":
        return np.linspace(0.3, rng.uniform(1.2, 1.8), size)
    return np.zeros(size)


def fleet(objectives: int, days: int, seed: int) -> list[Planned]:
    """`benchmarks.slo.generate`'s fleet with a burn pattern on top of each series."""
    base = generate(objectives, days + HISTORY.days, seed)  # and 3 days more
    rng = np.random.default_rng(seed + 1)
    patterns = rng.choice(
        ["none", "weekly", "steps", "drift"], objectives, p=[0.5, 0.2, 0.15, 0.15]
    )
    planned = []
    for p, pattern in zip(base, patterns, strict=True):
        total = p.series.total
        present = ~np.isnan(total)
        share = np.clip(_burn(rng, p.series, str(pattern)) * (1 - p.target / 100), 0, 1)
        counts = np.where(present, total, 0).astype(np.int64)
        extra = rng.binomial(counts, share).astype(np.float64)
        good = np.where(present, np.maximum(p.series.good - extra, 0.0), np.nan)
        planned.append(Planned(p.key, p.target, BucketSeries(p.series.start, good, total)))
    return planned


def histories(fleet: Sequence[Planned], ids: Sequence[str]) -> list[ObjectiveHistory]:
    return [
        ObjectiveHistory(i, p.series, p.target, *window_of(n))
        for n, (p, i) in enumerate(zip(fleet, ids, strict=True))
    ]


def slo_documents(fleet: Sequence[Planned]) -> str:
    documents = []
    for n, p in enumerate(fleet):
        kind, days = window_of(n)
        window = (
            {"duration": f"{days}d", "isRolling": True}
            if kind is WindowKind.ROLLING
            else {"duration": "1M", "isRolling": False}
        )

        def query(extra: str, key: str = p.key) -> dict[str, Any]:
            selector = f'http_requests_total{{service="{key}"{extra}}}'
            return {"metricSource": {"type": "Prometheus", "spec": {"query": selector}}}

        documents.append(
            {
                "apiVersion": "openslo/v1",
                "kind": "SLO",
                "metadata": {"name": f"{p.key}-availability"},
                "spec": {
                    "service": f"{SOURCE}:{p.key}",
                    "budgetingMethod": "Occurrences",
                    "timeWindow": [window],
                    "indicator": {
                        "spec": {
                            "ratioMetric": {
                                "counter": True,
                                "good": query(',code!~"5.."'),
                                "total": query(""),
                            }
                        }
                    },
                    "objectives": [{"target": round(p.target / 100, 6)}],
                },
            }
        )
    return yaml.safe_dump_all(documents, sort_keys=False)


def out_of_sample(result: Backtest, split: datetime) -> Backtest:
    """Each objective's model chosen on its days before `split`, all models scored on
    the days from `split` on: the choice as it would work on days it has not seen."""
    later = []
    for r in result.objectives:
        model = choose([d for d in r.days if d.at < split])
        later.append(
            ObjectiveBacktest(r.objective_id, tuple(d for d in r.days if d.at >= split), model)
        )
    return summarise(later)


def check(expected: Backtest, got: Backtest) -> None:
    if expected.scores != got.scores or expected.chosen != got.chosen:
        raise AssertionError("the graph's backtest scores differ from the pure ones")
    if [(r.objective_id, r.model, r.days) for r in expected.objectives] != [
        (r.objective_id, r.model, r.days) for r in got.objectives
    ]:
        raise AssertionError("the graph's backtest differs from the pure one for an objective")


async def set_up(graph: Graph, planned: Sequence[Planned]) -> tuple[list[Objective], list[str]]:
    lines = []
    start = time.perf_counter()
    await BundleImporter(graph).load(services_bundle(planned))
    repository = ObjectiveRepository(graph)
    await repository.import_slos(parse_documents(slo_documents(planned)), ACTOR)
    by_name = {o.name: o for o in await repository.measured_objectives()}
    objectives = [by_name[f"{p.key}-availability"] for p in planned]
    lines.append(f"services and SLOs {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    telemetry = TelemetryRepository(graph)
    for first in range(0, len(planned), STORE_BATCH):
        batch = [
            (o.id, "prometheus", p.series)
            for p, o in zip(
                planned[first : first + STORE_BATCH],
                objectives[first : first + STORE_BATCH],
                strict=True,
            )
        ]
        await telemetry.store_many(batch)
        if (first // STORE_BATCH) % 100 == 99:
            progress(f"  stored {first + len(batch):,} of {len(planned):,} objectives' buckets")
    lines.append(f"buckets {time.perf_counter() - start:.1f} s")
    return objectives, lines


def run_command(data_dir: Path, start: datetime, end: datetime, count: int) -> float:
    """`hub slo backtest` as users run it (a process of its own attaching to the
    running embedded server of `data_dir`, recording and printing): its wall time."""
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir)}
    command = [
        sys.executable, "-m", "hub", "slo", "backtest",
        "--from", f"{start:%Y-%m-%d}", "--to", f"{end:%Y-%m-%d}",
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0 or done.stdout.splitlines()[-1:] != [f"recorded: {count}"]:
        raise AssertionError(f"hub slo backtest failed ({done.returncode}):\n{done.stderr}")
    return seconds


async def measure(
    connection: GraphConnection,
    planned: Sequence[Planned],
    days: int,
    pure: Backtest,
    data_dir: Path,
) -> list[str]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    start_day, end_day = replayed(days)
    try:
        await migrate(graph)
        progress(f"set-up: {len(planned):,} services, SLOs, buckets")
        objectives, setup = await set_up(graph, planned)
        expected = backtest(
            histories(planned, [o.id for o in objectives]), daily_moments(start_day, end_day)
        )
        if expected.scores != pure.scores:
            raise AssertionError("the pure backtest is not deterministic")
        engine = PredictionEngine(graph, SloSettings())
        progress("backtest through the graph")
        began = time.perf_counter()
        got = await engine.backtest(objectives, start_day, end_day)
        seconds = time.perf_counter() - began
        check(expected, got)
        began = time.perf_counter()
        written = await engine.record(got, start_day, end_day)
        recorded = time.perf_counter() - began
        if written != len(objectives):
            raise AssertionError(f"recorded {written} of {len(objectives)} objectives")
        progress("hub slo backtest (the command)")
        command = await asyncio.to_thread(
            run_command, data_dir, start_day, end_day, len(objectives)
        )
    finally:
        await graph.close()
    return [
        "Set-up (not a target): " + ", ".join(setup),
        "",
        "| what | time | per objective |",
        "|---|---:|---:|",
        f"| **`hub slo backtest --from {start_day:%Y-%m-%d} --to {end_day:%Y-%m-%d}`** (the "
        "command: start-up, read + replay, record with its audit record, print) "
        f"| **{command:.1f} s** | {1000 * command / len(objectives):.1f} ms |",
        f"| `PredictionEngine.backtest` in-process (read + replay), {len(objectives):,} "
        f"objectives x {days} days | {seconds:.1f} s | {1000 * seconds / len(objectives):.1f} ms |",
        f"| `PredictionEngine.record` (chosen models kept) | {recorded:.1f} s | |",
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.backtest",
        description="The breach-prediction backtest over many objectives and days.",
    )
    parser.add_argument("--objectives", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--heap", default=EmbeddedGraphSettings().heap)
    parser.add_argument(
        "--no-graph", dest="graph", action="store_false", help="the pure backtest only"
    )
    args = parser.parse_args(argv)
    if args.objectives < 1 or not 1 <= args.days <= 365:
        parser.error("need --objectives >= 1 and 1 <= --days <= 365")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    progress(f"generating {args.objectives:,} objectives' buckets ({args.days} days + lead-in)")
    planned = fleet(args.objectives, args.days, args.seed)
    start_day, end_day = replayed(args.days)
    if planned[0].series.start > start_day - HISTORY or planned[0].series.end < end_day - BUCKET:
        raise AssertionError("the generated history does not cover the days replayed")
    ids = [f"o{n}" for n in range(len(planned))]
    began = time.perf_counter()
    pure = backtest(histories(planned, ids), daily_moments(start_day, end_day))
    pure_seconds = time.perf_counter() - began
    progress(f"pure backtest: {pure_seconds:.1f} s")
    lines: list[str] = []
    if args.graph:
        with (
            tempfile.TemporaryDirectory(prefix="hub-bench-backtest-") as data_dir,
            embedded_server(Path(data_dir), args.heap, Memory()) as connection,
        ):
            lines = asyncio.run(measure(connection, planned, args.days, pure, Path(data_dir)))
    print(f"## Breach-prediction backtest: {args.objectives:,} objectives x {args.days} days\n")
    print(
        f"Command: `.venv/bin/python -m benchmarks.backtest --objectives {args.objectives} "
        f"--days {args.days} --seed {args.seed} --heap {args.heap}"
        f"{'' if args.graph else ' --no-graph'}`; Python {platform.python_version()}, "
        f"{platform.machine()}\n"
    )
    print(
        f"Replayed {start_day:%Y-%m-%d} to {end_day:%Y-%m-%d} (every midnight). "
        f"Pure backtest (no graph): **{pure_seconds:.1f} s**, "
        f"{1000 * pure_seconds / len(planned):.1f} ms per objective.\n"
    )
    print("\n".join(lines))
    print("\nScores on this synthetic fleet (`hub slo backtest`'s table):\n\n```")
    print("\n".join(report_lines(pure)))
    print("```")
    split = start_day + timedelta(days=args.days // 2)
    print(
        f"\nOut of sample: each objective's model chosen on the days before {split:%Y-%m-%d}, "
        "every model scored on the days from it on:\n\n```"
    )
    print("\n".join(report_lines(out_of_sample(pure, split))))
    print("```")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    total = time.perf_counter() - started
    print(f"\nPeak RSS of the Python process: {peak_rss} MiB; total run {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
