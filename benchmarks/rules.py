"""How long `hub slo rules` takes for a fleet of objectives bound to Prometheus.

Run as ``.venv/bin/python -m benchmarks.rules [--objectives N] [--repeat R] [--seed S]``
(defaults: 2,000 objectives, 3 runs).

A fresh embedded graph server gets N services (`BundleImporter`) and one OpenSLO SLO
each over Prometheus counters (`import_slos`, as `hub slo import` stores them), targets
drawn from a seeded generator. Then, R times each:

- ``hub slo rules --output FILE`` as a user runs it (a new process attaching to the
  running server: start-up, settings, the graph reads, generation, the file written);
- the graph reads alone, in process (what the command reads before generating);
- `hub.domain.rules.rules_yaml` alone, in process, over the same objectives;

and once ``promtool check rules FILE`` on the file, which must succeed. The markdown
report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hub.cli import _rule_sources
from hub.domain.openslo import parse_documents
from hub.domain.rules import RuleSource, Sli, alerted_sources, rules_yaml
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ObjectiveRepository
from hub.settings import EmbeddedGraphSettings, Settings

SOURCE = "bench"
ACTOR = Actor(user="bench", role=Role.ADMIN)
REPO = Path(__file__).resolve().parent.parent
TARGETS = (99.0, 99.5, 99.9, 99.95, 99.99)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def openslo_file(count: int, seed: int) -> str:
    pick = random.Random(seed)
    documents: list[dict[str, Any]] = []
    for i in range(count):
        key = f"svc-{i:05d}"

        def query(extra: str, key: str = key) -> dict[str, Any]:
            selector = f'http_requests_total{{service="{key}"{extra}}}'
            return {"metricSource": {"type": "Prometheus", "spec": {"query": selector}}}

        documents.append(
            {
                "apiVersion": "openslo/v1",
                "kind": "SLO",
                "metadata": {"name": "availability"},
                "spec": {
                    "service": f"{SOURCE}:{key}",
                    "budgetingMethod": "Occurrences",
                    "timeWindow": [{"duration": "30d", "isRolling": True}],
                    "indicator": {
                        "spec": {
                            "ratioMetric": {
                                "counter": True,
                                "bad": query(',code=~"5.."'),
                                "total": query(""),
                            }
                        }
                    },
                    "objectives": [{"target": pick.choice(TARGETS) / 100}],
                },
            }
        )
    return yaml.safe_dump_all(documents, sort_keys=False)


async def set_up(
    connection: GraphConnection, data_dir: Path, args: argparse.Namespace, reads: list[float]
) -> list[RuleSource]:
    """The fleet in the graph; then `reads` gets the seconds of each of R in-process reads
    of what `hub slo rules` generates rules for."""
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    try:
        await migrate(graph)
        services = [
            {"externalId": f"svc-{i:05d}", "name": f"Service {i:05d}"}
            for i in range(args.objectives)
        ]
        await BundleImporter(graph).load({"source": SOURCE, "services": services})
        repository = ObjectiveRepository(graph)
        slos = openslo_file(args.objectives, args.seed)
        await repository.import_slos(parse_documents(slos), ACTOR)
        pairs = await repository.service_objectives()
        for _ in range(args.repeat):
            start = time.perf_counter()
            found, _skipped = await _rule_sources(graph, Settings(data_dir=data_dir))
            reads.append(time.perf_counter() - start)
        if len(found) != args.objectives:
            raise RuntimeError(f"hub slo rules would cover {len(found)} objectives")
    finally:
        await graph.close()
    return [
        RuleSource(
            objective,
            service.name,
            Sli(
                bad=objective.metric.bad.query if objective.metric.bad else None,
                good=objective.metric.good.query if objective.metric.good else None,
                total=objective.metric.total.query,
                counter=objective.metric.counter,
            ),
        )
        for service, objective in pairs
        if objective.metric is not None
    ]


def run_command(data_dir: Path, output: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "hub", "slo", "rules", "--output", str(output)],
        cwd=REPO,
        env={**os.environ, "HUB_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"hub slo rules failed:\n{done.stderr}")
    return seconds


def promtool_check(path: Path) -> tuple[float, str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool is not installed; run `make setup`")
    start = time.perf_counter()
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool rejected {path}:\n{done.stdout}{done.stderr}")
    found = next(line.strip() for line in done.stdout.splitlines() if "SUCCESS" in line)
    return time.perf_counter() - start, found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objectives", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.objectives < 1 or args.repeat < 1:
        parser.error("--objectives and --repeat: at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-bench-rules-") as tmp:
        data_dir = Path(tmp)
        server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings())
        try:
            progress("starting the embedded server")
            connection = server.attach_or_start()
            progress(f"set-up: {args.objectives:,} services with one SLO each")
            reads: list[float] = []
            sources = asyncio.run(set_up(connection, data_dir, args, reads))
            output = data_dir / "rules.yml"
            command = []
            for n in range(args.repeat):
                command.append(run_command(data_dir, output))
                progress(f"  hub slo rules, run {n + 1}: {command[-1]:.2f} s")
        finally:
            server.stop()
        generation = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            text = rules_yaml(alerted_sources(sources))
            generation.append(time.perf_counter() - start)
        check_seconds, found = promtool_check(output)
        size = output.stat().st_size
    print(
        "\n".join(
            [
                f"`.venv/bin/python -m benchmarks.rules --objectives {args.objectives} "
                f"--repeat {args.repeat} --seed {args.seed}` on {platform.machine()}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}, "
                f"load {os.getloadavg()[0]:.1f}",
                "",
                "| What | Median of runs | Runs |",
                "|---|---:|---|",
                f"| `hub slo rules --output FILE` ({args.objectives:,} objectives, new process) "
                f"| {statistics.median(command):.2f} s "
                f"| {', '.join(f'{s:.2f}' for s in command)} |",
                f"| the graph reads alone (in process) | {statistics.median(reads):.2f} s "
                f"| {', '.join(f'{s:.2f}' for s in reads)} |",
                f"| `rules_yaml` alone (in process) | {statistics.median(generation):.2f} s "
                f"| {', '.join(f'{s:.2f}' for s in generation)} |",
                f"| `promtool check rules FILE` | {check_seconds:.2f} s | 1 |",
                "",
                f"File: {size / 1e6:.1f} MB, {len(text.splitlines()):,} lines; promtool: {found}.",
            ]
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
