"""Targets from history at scale: suggestions for N objectives over D days of buckets.

Run as ``.venv/bin/python -m benchmarks.suggestions [--objectives N] [--days D]
[--repeat K] [--requests R] [--seed S] [--heap H]``; ``--objectives 200 --days 30``
makes a quick run.

The fleet is `benchmarks.slo`'s, for a seed: N services (tiers 1-4 in turn) with one
OpenSLO SLO each and D + 3 days of 5-minute buckets of diurnal traffic with incidents
and scrape gaps. On a fresh embedded server of its own it measures:

1. the pure maths: `hub.domain.peak.baseline` + `hub.domain.suggestions.suggest_targets`
   for every objective from `BucketSeries` in memory, with and without peak hours;
2. set-up, the hub's way (timed, not a target): services, SLOs, buckets stored by
   `TelemetryRepository.store`;
3. the whole set through the graph: `SuggestionEngine.suggest` for all N objectives
   over the D whole UTC days before the moment measured, with and without peak hours
   (Europe/Berlin, weekdays 09:00-17:00, and a season of seven days). Its rounds take
   turns;
4. `suggestObjectives` for one service as users ask it: over HTTP with a viewer token,
   the app served by uvicorn on loopback (`benchmarks.sync.serve_app`), R requests.

Every baseline and target through the graph must equal the pure one (days and
targets exactly, compliance within float noise), or the benchmark fails. The markdown
report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import httpx
import numpy as np

from benchmarks.graph import _exit_on_sigterm, progress, time_it
from benchmarks.slo import AT, Planned, embedded_server, generate, openslo_file, services_bundle
from benchmarks.sync import Memory, serve_app
from hub.app import create_app
from hub.domain.models import Objective
from hub.domain.openslo import parse_documents
from hub.domain.peak import Baseline, baseline
from hub.domain.suggestions import TierTarget, suggest_targets
from hub.domain.windows import Window
from hub.domain.workflow import Actor, Role
from hub.engine.status import StatusEngine
from hub.engine.suggestions import SuggestionEngine, peak_calendar, tier_rules
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ObjectiveRepository, TokenRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import (
    EmbeddedGraphSettings,
    PeakHoursSettings,
    PeakSeasonSettings,
    PeakSettings,
    Settings,
    SloSettings,
)

ACTOR = Actor(user="suggest-bench", role=Role.EDITOR)
SETTINGS = SloSettings(
    peak=PeakSettings(
        time_zone="Europe/Berlin",
        hours=[PeakHoursSettings(weekdays=[0, 1, 2, 3, 4], start=clock(9), end=clock(17))],
        seasons=[PeakSeasonSettings(start=date(2026, 2, 9), end=date(2026, 2, 15))],
    )
)
SUGGEST = """
query S($id: ID!, $from: DateTime!, $to: DateTime!) {
  suggestObjectives(serviceId: $id, indicator: AVAILABILITY, from: $from, to: $to,
                    excludePeak: true) {
    tier
    objectives {
      targets { tier achieved target }
      evidence { compliance daysUsed percentiles { percentile compliance } }
    }
  }
}
"""

Result = dict[str, tuple[Baseline, list[TierTarget]]]


def window_of(days: int) -> Window:
    """The `days` whole UTC days before the day of `AT`."""
    midnight = datetime(AT.year, AT.month, AT.day, tzinfo=UTC)
    return Window(midnight - timedelta(days=days), midnight)


def pure(fleet: Sequence[Planned], ids: Sequence[str], window: Window, peak: bool) -> Result:
    calendar = peak_calendar(SETTINGS.peak)
    rules = tier_rules(SETTINGS.suggestions)
    found: Result = {}
    for planned, objective_id in zip(fleet, ids, strict=True):
        base = baseline(planned.series, window, calendar, peak)
        found[objective_id] = (base, suggest_targets(base.daily, rules))
    return found


def check(expected: Result, got: Result) -> None:
    if expected.keys() != got.keys():
        raise AssertionError("the graph answered for other objectives than asked")
    for key, (want, targets) in expected.items():
        have, have_targets = got[key]
        same = (
            [(d.day, d.buckets) for d in want.days] == [(d.day, d.buckets) for d in have.days]
            and np.allclose(want.daily, have.daily, rtol=1e-12, atol=0)
            and targets == have_targets
            and want.peak_buckets_excluded == have.peak_buckets_excluded
        )
        if not same:
            raise AssertionError(
                f"objective {key}: the graph's suggestion differs from the pure one"
            )


async def set_up(
    graph: Graph, fleet: Sequence[Planned], days: int
) -> tuple[list[Objective], dict[str, float]]:
    timings: dict[str, float] = {}
    objectives_repo = ObjectiveRepository(graph)
    timings["services"] = await time_it(lambda: BundleImporter(graph).load(services_bundle(fleet)))
    text = openslo_file(fleet, days)
    timings["SLOs"] = await time_it(
        lambda: objectives_repo.import_slos(parse_documents(text), ACTOR)
    )
    by_name = {o.name: o for o in await objectives_repo.measured_objectives()}
    objectives = [by_name[f"{p.key}-availability"] for p in fleet]
    telemetry = TelemetryRepository(graph)
    start = time.perf_counter()
    for done, (p, objective) in enumerate(zip(fleet, objectives, strict=True), start=1):
        await telemetry.store(objective.id, "prometheus", p.series)
        if done % 250 == 0:
            progress(f"  stored {done:,} of {len(fleet):,} objectives' buckets")
    timings["buckets"] = time.perf_counter() - start
    return objectives, timings


async def measure(
    connection: GraphConnection, args: argparse.Namespace, fleet: list[Planned], data_dir: Path
) -> list[str]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    lines: list[str] = []
    window = window_of(args.days)
    try:
        await migrate(graph)
        progress(f"set-up: {len(fleet):,} services, SLOs, buckets")
        objectives, setup = await set_up(graph, fleet, args.days)
        ids = [o.id for o in objectives]
        lines.append(
            "Set-up: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in setup.items())
        )
        expected = {peak: pure(fleet, ids, window, peak) for peak in (False, True)}
        engine = SuggestionEngine(graph, SETTINGS, StatusEngine(graph, SETTINGS))
        rounds: dict[bool, list[float]] = {False: [], True: []}
        for n in range(args.repeat):
            for peak in (False, True) if n % 2 == 0 else (True, False):
                start = time.perf_counter()
                got = await engine.suggest(objectives, window, peak)
                rounds[peak].append(time.perf_counter() - start)
                check(expected[peak], got)
                progress(f"  whole set, excludePeak={peak}: {rounds[peak][-1]:.1f} s")
        lines.append("")
        lines.append("| what | median | range | per objective |")
        lines.append("|---|---:|---:|---:|")
        for peak, seconds in rounds.items():
            median = statistics.median(seconds)
            lines.append(
                f"| `SuggestionEngine.suggest`, {len(ids):,} objectives, excludePeak={peak} "
                f"| **{median:.1f} s** | {min(seconds):.1f}-{max(seconds):.1f} s "
                f"| {1000 * median / len(ids):.1f} ms |"
            )
        # One service's suggestions as users ask: over HTTP, with a token, from the
        # served app (uvicorn on loopback), the settings' peak hours in force.
        service_ids = [o.service_id or "" for o in objectives]
        latencies: list[float] = []
        variables = {"from": window.start.isoformat(), "to": window.end.isoformat()}
        token = await TokenRepository(graph).create("suggest-bench", Role.VIEWER)
        app = create_app(
            Settings(data_dir=data_dir, slo=SETTINGS), connection, schedule_syncs=False
        )
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with serve_app(app, lifespan=True) as url:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                for n in range(args.requests + 5):
                    start = time.perf_counter()
                    response = await client.post(
                        "/graphql",
                        json={
                            "query": SUGGEST,
                            "variables": {"id": service_ids[(n * 37) % len(ids)], **variables},
                        },
                        headers=headers,
                    )
                    seconds = time.perf_counter() - start
                    answer = response.json()
                    if response.status_code != 200 or answer.get("errors"):
                        raise AssertionError(f"{response.status_code} {answer}")
                    if n >= 5:  # five warm-up requests
                        latencies.append(seconds)
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p95 = latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)]
        lines.append(
            f"| `suggestObjectives` for one service over HTTP with a token, "
            f"{args.requests} requests | p50 {1000 * p50:.0f} ms | p95 {1000 * p95:.0f} ms | |"
        )
    finally:
        await graph.close()
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suggestions",
        description="Suggested targets for many objectives over many days of buckets.",
    )
    parser.add_argument("--objectives", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each whole-set run")
    parser.add_argument("--requests", type=int, default=20, help="timed GraphQL requests")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--heap", default=EmbeddedGraphSettings().heap)
    args = parser.parse_args(argv)
    if args.objectives < 1 or not 1 <= args.days <= 365 or min(args.repeat, args.requests) < 1:
        parser.error("need --objectives >= 1, 1 <= --days <= 365, --repeat and --requests >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    progress(f"generating {args.objectives:,} objectives' buckets ({args.days} + 3 days)")
    fleet = generate(args.objectives, args.days, args.seed)
    window = window_of(args.days)
    ids = [f"o{n}" for n in range(len(fleet))]
    pure_seconds = {}
    for peak in (False, True):
        start = time.perf_counter()
        pure(fleet, ids, window, peak)
        pure_seconds[peak] = time.perf_counter() - start
        progress(f"pure maths, excludePeak={peak}: {pure_seconds[peak]:.1f} s")
    with (
        tempfile.TemporaryDirectory(prefix="hub-bench-suggest-") as data_dir,
        embedded_server(Path(data_dir), args.heap, Memory()) as connection,
    ):
        lines = asyncio.run(measure(connection, args, fleet, Path(data_dir)))
    print(f"## Suggestions: {args.objectives:,} objectives x {args.days} days\n")
    print(
        f"Command: `.venv/bin/python -m benchmarks.suggestions --objectives {args.objectives} "
        f"--days {args.days} --repeat {args.repeat} --requests {args.requests} "
        f"--seed {args.seed} --heap {args.heap}`; Python {platform.python_version()}, "
        f"{platform.machine()}\n"
    )
    print(
        "Pure maths (no graph): "
        + ", ".join(f"excludePeak={p} {s:.1f} s" for p, s in pure_seconds.items())
    )
    print("\n".join(lines))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    total = time.perf_counter() - started
    print(f"\nPeak RSS of the Python process: {peak_rss} MiB; total run {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
