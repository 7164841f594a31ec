"""The hub's own CPU a push, stage by stage, without HTTP or a graph server.

Run as ``.venv/bin/python -m benchmarks.push_cpu [--pushes 2000] [--points 100]
[--profile]``. It times, per push of ``--points`` minute points (as
`benchmarks/push_api.py` sends them), what `hub.sync.push.push_measurements` and the
group write do in Python: reading the body (`parse_body`), checking its points
(`check_points`), and the Python half of `PushRepository.store_many` (merging into the
day's stored points, measuring the touched buckets, encoding), against a stand-in
transaction that answers the day as stored (a full day of 1,440 points) and takes the
write without sending it. Graph round trips, the Bolt driver and the HTTP stack are
not in these figures: `benchmarks/push_api.py` measures the whole. With ``--profile``
it prints cProfile's top functions by cumulative time instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from benchmarks.push_api import body
from hub.domain.models import Indicator, Objective, WindowKind
from hub.domain.push import PUSH_SOURCE, DayMeasure, check_points, parse_body
from hub.graph.client import Graph
from hub.graph.cypher import Cypher
from hub.graph.repositories.push import PushedDays, PushRepository
from hub.graph.repositories.telemetry import day_key

MINUTES_A_DAY = 1440


class _StoredDays:
    """A stand-in transaction: answers reads with the rows of the last write, and
    writes every day a conditional write names (nothing else writes them here)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def run(self, statement: Cypher, **params: Any) -> list[dict[str, Any]]:
        if "rows" in params:  # a write, conditional or not: every day is written
            for row in params["rows"]:
                self.rows[row["key"]] = {"key": row["key"], **row["props"]}
            return [{"key": row["key"]} for row in params["rows"]]
        keys = params.get("keys", [])
        return [_as_read(self.rows[k]) for k in keys if k in self.rows]


def _as_read(props: dict[str, Any]) -> dict[str, Any]:
    """A stored day as `PUSHED_DAYS` returns it (its aliases)."""
    names = {
        "pushedKind": "kind",
        "pushedTimes": "times",
        "pushedGood": "good",
        "pushedTotal": "total",
        "pushedSeconds": "seconds",
        "pushedTerms": "terms",
        "pushedVersion": "version",
    }
    row = {names.get(k, k): v for k, v in props.items() if k not in ("good", "total")}
    row["bucketGood"], row["bucketTotal"] = props.get("good"), props.get("total")
    return row


class _Graph:
    def __init__(self) -> None:
        self.tx = _StoredDays()

    async def write_transaction(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(self.tx)

    async def read_transaction(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(self.tx)


def _objective() -> Objective:
    return Objective("obj_bench", Indicator.AVAILABILITY, 99.9, None, WindowKind.ROLLING, 28, None)


async def _run(pushes: int, points: int) -> dict[str, float]:
    objective = _objective()
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    bodies = [body(objective.id, n, points, day) for n in range(pushes)]
    fake = _Graph()
    repository = PushRepository(cast(Graph, fake), PushedDays())
    spent = {"parse_body": 0.0, "check_points": 0.0, "store (Python)": 0.0}
    # A first pass fills the day, so that every timed push merges into a full one.
    for raw in bodies[: MINUTES_A_DAY // points + 1]:
        checked = check_points(parse_body(raw), objective, now)
        await repository.store_many([(objective.id, checked.kept, DayMeasure(objective, now))])
    assert day_key(objective.id, PUSH_SOURCE, day.date()) in fake.tx.rows
    for raw in bodies:
        started = time.perf_counter()
        parsed = parse_body(raw)
        parsed_at = time.perf_counter()
        checked = check_points(parsed, objective, now)
        checked_at = time.perf_counter()
        await repository.store_many([(objective.id, checked.kept, DayMeasure(objective, now))])
        stored_at = time.perf_counter()
        spent["parse_body"] += parsed_at - started
        spent["check_points"] += checked_at - parsed_at
        spent["store (Python)"] += stored_at - checked_at
    return {name: seconds / pushes * 1e6 for name, seconds in spent.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=2000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 40")
    args = parser.parse_args(argv)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(_run(args.pushes, args.points))
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
        return 0
    figures = asyncio.run(_run(args.pushes, args.points))
    print(f"hub CPU a push of {args.points} points, {args.pushes} pushes (µs):")
    for name, micros in figures.items():
        print(f"- {name}: {micros:,.0f}")
    print(f"- total: {sum(figures.values()):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
