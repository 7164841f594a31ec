"""How long the error-budget policy job (`hub.sync.budget_policies`) takes for a fleet of
objectives.

Run as ``.venv/bin/python -m benchmarks.budget_policies [--objectives N] [--days D]
[--heap H]`` (defaults: 2,000 objectives, 28-day rolling windows).

The fleet and its set-up are `benchmarks.slo`'s (`generate`, `set_up`): N services of
tiers 1 to 4 in turn, one OpenSLO availability objective each, D + 3 days of generated
buckets with incidents, on a fresh embedded server with the hub's migrations. The
settings are the defaults (TIER_1 to TIER_3 ACTIVE, TIER_4 REPORTED; the default
policies), with an owner-less fleet (each NOTIFY_OWNER is recorded with no recipients)
and level 1 and 2 of the matrix notifying one address each (one delivery per level
action).

Timed, at `benchmarks.slo.AT`:

1. the first run: every ACTIVE objective AT_RISK or EXHAUSTED starts an episode and
   takes its actions (records, audits, deliveries, freezes);
2. the same instant again: nothing new (what a run every 15 minutes mostly costs);
3. for comparison, the statuses alone of the objectives judged (`StatusEngine`).

The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from benchmarks import slo
from hub.domain.monitoring import is_alerted
from hub.engine.status import StatusEngine
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories.budget_policies import BudgetPolicyRepository
from hub.settings import EscalationLevelSettings, RemediationSettings, Settings
from hub.sync.budget_policies import (
    MEASURE_BATCH,
    BudgetPolicyReport,
    apply_budget_policies,
    policy_of,
)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings() -> Settings:
    return Settings(
        smtp={"host": "127.0.0.1", "port": 9, "from": "Service Hub <hub@example.com>"},
        remediation=RemediationSettings(
            escalation_levels=[
                EscalationLevelSettings(name="team", recipients=["team@example.com"]),
                EscalationLevelSettings(name="management", recipients=["mgmt@example.com"]),
                EscalationLevelSettings(name="executive"),
            ]
        ),
    )


async def measure(
    connection: GraphConnection, report: slo.Report, fleet: Sequence[slo.Planned]
) -> list[tuple[str, float, BudgetPolicyReport]]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    try:
        await migrate(graph)
        await slo.set_up(graph, report, fleet)
        runs = []
        for name in ("first run (acts)", "same instant again (nothing new)"):
            start = time.perf_counter()
            done = await apply_budget_policies(graph, settings(), slo.AT)
            seconds = time.perf_counter() - start
            progress(f"{name}: {seconds:.1f} s: {done}")
            runs.append((name, seconds, done))
        # The parts of a run: the objectives' read, the episodes' and freezes', the statuses.
        repository = BudgetPolicyRepository(graph)
        start = time.perf_counter()
        items = await repository.objectives(slo.AT)
        seconds = time.perf_counter() - start
        progress(f"objectives read: {seconds:.1f} s for {len(items):,}")
        runs.append(("objectives read alone", seconds, BudgetPolicyReport(objectives=len(items))))
        ids = [item.objective.id for item in items]
        start = time.perf_counter()
        for offset in range(0, len(ids), MEASURE_BATCH):
            await repository.latest_episodes(ids[offset : offset + MEASURE_BATCH])
            await repository.active_freezes(ids[offset : offset + MEASURE_BATCH])
        seconds = time.perf_counter() - start
        progress(f"episodes and freezes read: {seconds:.1f} s")
        runs.append(("episodes and freezes read alone", seconds, BudgetPolicyReport()))
        judged = [
            item.objective
            for item in items
            if policy_of(item, settings().slo.budget_policies) is not None
            and is_alerted(item.explicit_mode, item.tier, settings().slo.monitoring)
        ]
        engine = StatusEngine(graph, settings().slo)
        start = time.perf_counter()
        for offset in range(0, len(judged), MEASURE_BATCH):
            await engine.statuses(judged[offset : offset + MEASURE_BATCH], slo.AT)
        seconds = time.perf_counter() - start
        progress(f"statuses alone: {seconds:.1f} s for {len(judged):,} objectives")
        runs.append(
            ("statuses alone (`StatusEngine`)", seconds, BudgetPolicyReport(judged=len(judged)))
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
    runs = slo.on_fleet(args.objectives, args.days, args.heap, "hub-bench-policies-", measure)
    lines = [
        f"Error-budget policies over {args.objectives:,} objectives ({args.days}-day rolling "
        "windows, tiers 1-4 in turn), `.venv/bin/python -m benchmarks.budget_policies "
        f"--objectives {args.objectives} --days {args.days}`:",
        "",
        "| run | seconds | judged | actions | deliveries | freezes |",
        "|---|---|---|---|---|---|",
    ]
    for name, seconds, done in runs:
        lines.append(
            f"| {name} | {seconds:.1f} | {done.judged:,} | {done.taken:,} | {done.notified:,} "
            f"| {done.frozen:,} |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
