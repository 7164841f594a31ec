"""The portal's objective page in process: `PortalObjective` on the demo, one at a time.

Run as ``.venv/bin/python -m benchmarks.objective_page [--rounds 5] [--newest ISO]
[--profile FILE]``.

Starts the embedded graph in a fresh data directory, loads the demo
(`hub.demo.load_demo`) and asks the portal's objective query (`benchmarks.load`'s
``node``: one SLA by `node(id:)`, each effective objective's status with its burn rates
and 14 past statuses two days apart, as `hub/portal/static/views.js` asks) for every
ACTIVE demo SLA, `--rounds` times, through `hub.schema.build_schema` with a viewer's
context per request (no HTTP, no concurrency). The instants end at `--newest` (default
now, as the portal's do). Reports per request the wall time (mean, p50, max), the
statements sent (by name) and the graph round trips. With `--profile FILE`, one more
round runs under pyinstrument after the timed ones (so the profiler does not slow the
figures): the functions with the most own time go to stdout, the call tree to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import strawberry

from benchmarks.load import QUERIES
from hub.demo import demo_bundle, load_demo
from hub.domain.models import AgreementKind, AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.cypher import Cypher, all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.agreements import AgreementFilter
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, EmbeddedGraphSettings

VIEWER = Actor(user="bench-viewer", role=Role.VIEWER)
INSTANTS = 14


def instants(newest: datetime) -> dict[str, str]:
    """The query's $t0..$t13: two days apart, the last one `newest` (`benchmarks.load`)."""
    return {
        f"t{i}": (newest - timedelta(days=2 * (INSTANTS - 1 - i))).strftime("%Y-%m-%dT%H:%M:%SZ")
        for i in range(INSTANTS)
    }


async def demo_slas(graph: Graph) -> list[str]:
    names = {a["name"] for a in demo_bundle()["agreements"] if a["kind"] == "SLA"}
    found = await AgreementRepository(graph).find(
        AgreementFilter(kinds=[AgreementKind.SLA], statuses=[AgreementStatus.ACTIVE]),
        limit=10_000,
    )
    return sorted(a.id for a in found if a.name in names)


class Statements:
    """The names of the statements a graph sends while listened to."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self._name_of = {statement: name for name, statement in all_statements().items()}

    def __call__(self, statement: Cypher) -> None:
        self.names[self._name_of.get(statement, statement.text)] += 1


async def ask(
    schema: strawberry.Schema, graph: Graph, sla: str, newest: datetime | None
) -> tuple[float, int]:
    """One request; its wall time in seconds and the objectives it showed."""
    _, query = QUERIES["node"]
    variables: dict[str, Any] = {"sla": sla, **instants(newest or datetime.now(UTC))}
    started = time.perf_counter()
    context = Context.create(graph, VIEWER, ApiSettings())
    result = await schema.execute(query, variable_values=variables, context_value=context)
    elapsed = time.perf_counter() - started
    if result.errors or result.data is None:
        raise SystemExit(f"PortalObjective failed for {sla}: {result.errors}")
    return elapsed, len(result.data["node"]["effectiveObjectives"])


async def run(args: argparse.Namespace, graph: Graph) -> None:
    print("loading the demo...", file=sys.stderr)
    await load_demo(graph)
    schema = build_schema()
    slas = await demo_slas(graph)
    newest = datetime.fromisoformat(args.newest) if args.newest else None
    for sla in slas:  # warm up: imports, the driver's pool, the server's caches
        await ask(schema, graph, sla, newest)

    log = Statements()
    graph.add_listener(log)
    trips = graph.round_trips
    times: list[float] = []
    objectives = 0
    for _ in range(args.rounds):
        for sla in slas:
            elapsed, shown = await ask(schema, graph, sla, newest)
            times.append(elapsed)
            objectives += shown
    graph.remove_listener(log)
    requests = len(times)
    trips = graph.round_trips - trips

    load = os.getloadavg()
    print(f"# PortalObjective in process, {platform.node()}, {os.cpu_count()} cores\n")
    print(
        f"{len(slas)} demo SLAs x {args.rounds} rounds = {requests} requests, "
        f"{objectives / requests:.1f} objectives each, 15 statuses per objective; "
        f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
    )
    print("| per request | mean | p50 | max |\n|---|---|---|---|")
    print(
        f"| wall ms | {1000 * statistics.fmean(times):.0f} "
        f"| {1000 * statistics.median(times):.0f} | {1000 * max(times):.0f} |"
    )
    print(f"\n{trips / requests:.1f} round trips per request; statements per request:\n")
    for name, count in sorted(log.names.items(), key=lambda item: -item[1]):
        print(f"- {name}: {count / requests:.1f}")

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled")
        with profiler:
            for sla in slas:
                await ask(schema, graph, sla, newest)
        tree = profiler.output_text(unicode=False, show_all=False)
        await asyncio.to_thread(Path(args.profile).write_text, tree)
        print(f"\nCall tree of one more round in {args.profile}.")
        session = profiler.last_session
        assert session is not None
        own: defaultdict[str, float] = defaultdict(float)
        stack = [session.root_frame()]
        while stack:
            frame = stack.pop()
            if frame is None:
                continue
            own[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += (
                frame.total_self_time
            )
            stack.extend(frame.children)
        print("\n| own seconds | function |\n|---|---|")
        for name, seconds in sorted(own.items(), key=lambda item: -item[1])[: args.top]:
            print(f"| {seconds:.3f} | {name} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--newest", help="the last instant (ISO 8601, UTC); default now")
    parser.add_argument("--profile", help="profile one more round; the call tree to this file")
    parser.add_argument("--top", type=int, default=25, help="functions listed by own time")
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="objective-page-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        connection = server.attach_or_start()
        try:

            async def go() -> None:
                graph = Graph.connect(connection, max_transaction_retry_time=60.0)
                try:
                    await run(args, graph)
                finally:
                    await graph.close()

            asyncio.run(go())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
