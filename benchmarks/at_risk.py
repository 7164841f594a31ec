"""How long the at-risk escalation job (`hub.sync.at_risk`) takes for a fleet of
objectives.

Run as ``.venv/bin/python -m benchmarks.at_risk [--objectives N] [--days D] [--heap H]``
(defaults: 2,000 objectives, 28-day rolling windows).

The fleet and its set-up are `benchmarks.slo`'s (`generate`, `set_up`): N services of
tiers 1 to 4 in turn, one OpenSLO availability objective each, D + 3 days of generated
buckets with incidents, on a fresh embedded server with the hub's migrations. The
settings are the defaults (TIER_1 to TIER_3 ACTIVE, TIER_4 REPORTED) with level 1 and 2
of the matrix notifying one address each, and a path of team (1 hour), management
(4 hours), executive.

Timed, at `benchmarks.slo.AT`:

1. the first run: every ACTIVE objective AT_RISK opens an episode and tells level 1
   (records, audits, deliveries);
2. the same instant again: nothing new (what a run every 15 minutes mostly costs);
3. two hours on: every episode still at risk tells level 2;
4. for comparison, the statuses alone of every objective (all tiers), as the job
   computes them (`StatusEngine.statuses` in chunks of 500).

The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import timedelta

from benchmarks import slo
from hub.engine.status import StatusEngine
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories.at_risk import AtRiskRepository
from hub.settings import (
    AtRiskEscalationSettings,
    AtRiskLevelSettings,
    EscalationLevelSettings,
    RemediationSettings,
    Settings,
)
from hub.sync.at_risk import STATUS_CHUNK, AtRiskReport, escalate_at_risk


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings() -> Settings:
    return Settings(
        smtp={"host": "127.0.0.1", "port": 9, "from": "Service Hub <hub@example.com>"},
        remediation=RemediationSettings(
            escalation_levels=[
                EscalationLevelSettings(name="team", recipients=["team@example.com"]),
                EscalationLevelSettings(name="management", recipients=["mgmt@example.com"]),
                EscalationLevelSettings(name="executive", recipients=["cxo@example.com"]),
            ]
        ),
        at_risk_escalation=AtRiskEscalationSettings(
            path=[
                AtRiskLevelSettings(level="team", hours_to_acknowledge=1),
                AtRiskLevelSettings(level="management", hours_to_acknowledge=4),
                AtRiskLevelSettings(level="executive", hours_to_acknowledge=24),
            ]
        ),
    )


async def measure(
    connection: GraphConnection, report: slo.Report, fleet: Sequence[slo.Planned]
) -> list[tuple[str, float, AtRiskReport]]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    try:
        await migrate(graph)
        await slo.set_up(graph, report, fleet)
        runs = []
        for name, at in (
            ("first run (opens, tells level 1)", slo.AT),
            ("same instant again (nothing new)", slo.AT),
            ("two hours on (tells level 2)", slo.AT + timedelta(hours=2)),
        ):
            start = time.perf_counter()
            done = await escalate_at_risk(graph, settings(), at)
            seconds = time.perf_counter() - start
            progress(f"{name}: {seconds:.1f} s: {done}")
            runs.append((name, seconds, done))
        # The status engine's share of a run: the same statuses, computed alone.
        start = time.perf_counter()
        candidates = await AtRiskRepository(graph).candidates(slo.AT)
        objectives = [c.objective for c in candidates if c.explicit_mode is None]
        engine = StatusEngine(graph, settings().slo)
        for first in range(0, len(objectives), STATUS_CHUNK):
            await engine.statuses(objectives[first : first + STATUS_CHUNK], slo.AT)
        seconds = time.perf_counter() - start
        progress(f"statuses alone ({len(objectives):,} objectives): {seconds:.1f} s")
        runs.append(
            (f"statuses alone, all {len(objectives):,} objectives", seconds, AtRiskReport())
        )
        return runs
    finally:
        await graph.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objectives", type=int, default=2000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args(argv)
    runs = slo.on_fleet(args.objectives, args.days, args.heap, "hub-bench-at-risk-", measure)
    lines = [
        f"At-risk escalation over {args.objectives:,} objectives ({args.days}-day rolling "
        "windows, tiers 1-4 in turn), `.venv/bin/python -m benchmarks.at_risk "
        f"--objectives {args.objectives} --days {args.days}`:",
        "",
        "| run | seconds | ACTIVE judged | opened | escalated | closed | deliveries |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, seconds, done in runs:
        lines.append(
            f"| {name} | {seconds:.1f} | {done.judged:,} | {done.opened:,} | "
            f"{done.escalated:,} | {done.closed:,} | {done.notified:,} |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
