"""Backup and restore time and size (the RPO and RTO figures of the README).

Run as ``.venv/bin/python -m benchmarks.backup [--cis N] [--relations M] [--telemetry-days D]
[--heap H]``; ``--cis 0`` measures the demo only.

The benchmark starts its own embedded ArcadeDB server in a temporary directory (and
stops it at the end, even on error), applies the hub's migrations and loads the demo
enterprise. It then measures `hub.graph.backup.backup` and `restore`, exactly what
``hub backup FILE`` and ``hub restore FILE`` run (point-in-time snapshot of the
embedded graph, private server on the copy, streamed dump; check of the file, a new
embedded server on an empty data directory, migrations, batched load, count check):

1. at the demo's size;
2. after a full sync of a large CMDB into the same graph: the fake ServiceNow of the
   tests filled by `benchmarks.sync.populate` (``--cis`` CIs, ``--relations``
   relationships between them) and synced by the hub's real connector and pipeline,
   plus ``--telemetry-days`` telemetry days (288 five-minute buckets as two byte arrays
   each, as the hub stores them) spread over the demo's objectives.

Each restore goes into an empty data directory of its own and includes starting that
graph's server. For each phase: wall time, file size, records per second and the peak
RSS of this Python process in that phase (``/proc/self/clear_refs`` resets it). The
markdown report goes to stdout, progress to stderr. Raw Cypher lives here only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import os
import platform
import random
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, LiteralString

import neo4j

from benchmarks.sync import NAME, PASSWORD, SOURCE, USER, populate, read_status
from hub.connectors.http import SourceClient
from hub.connectors.servicenow import ServiceNowCmdb
from hub.demo import load_demo
from hub.graph.backup import Header, RestoreSummary, backup, restore
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.settings import EmbeddedGraphSettings, Settings
from hub.sync.pipeline import run_sync

# The fakes live in tests/ and import as `fakes` (as in benchmarks/sync.py).
_TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))
from fakes.server import serve_app  # noqa: E402

BUCKETS = 288
RAW_TELEMETRY: LiteralString = (
    "UNWIND $rows AS row MERGE (d:TelemetryDay {key: row.key}) SET d += row.props"
)
RAW_OBJECTIVE_IDS: LiteralString = "MATCH (o:Objective) RETURN o.id AS id ORDER BY id"
TELEMETRY_BATCH = 500


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def reset_peak() -> None:
    """Make VmHWM (peak RSS) start again from the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_mib() -> float:
    return read_status("self", "VmHWM") / 1024


@dataclass(slots=True)
class Phase:
    name: str
    records: int = 0
    nodes: int = 0
    relationships: int = 0
    backup_seconds: float = 0.0
    backup_peak_mib: float = 0.0
    rss_before_mib: float = 0.0
    file_bytes: int = 0
    restore_seconds: float = 0.0
    restore_peak_mib: float = 0.0
    notes: list[str] = field(default_factory=list)


def measure(settings: Settings, name: str, workdir: Path) -> Phase:
    file = workdir / f"{name}.backup.gz"
    phase = Phase(name)
    progress(f"{name}: backup")
    gc.collect()
    phase.rss_before_mib = read_status("self", "VmRSS") / 1024
    reset_peak()
    start = time.perf_counter()
    header: Header = backup(settings, file, progress=lambda line: progress(f"  {line}"))
    phase.backup_seconds = time.perf_counter() - start
    phase.backup_peak_mib = peak_mib()
    phase.file_bytes = file.stat().st_size
    phase.nodes, phase.relationships = header.nodes, header.relationships
    phase.records = header.nodes + header.relationships
    progress(f"{name}: backup {phase.backup_seconds:.1f} s, {_size(phase.file_bytes)}")

    target = settings.model_copy(update={"data_dir": workdir / f"restored-{name}"})
    progress(f"{name}: restore into {target.data_dir}")
    reset_peak()
    start = time.perf_counter()
    summary: RestoreSummary = restore(target, file, progress=lambda line: progress(f"  {line}"))
    phase.restore_seconds = time.perf_counter() - start
    phase.restore_peak_mib = peak_mib()
    if (summary.nodes, summary.relationships) != (header.nodes, header.relationships):
        raise RuntimeError(f"{name}: restored {summary} of {header}")
    progress(f"{name}: restore {phase.restore_seconds:.1f} s")
    file.unlink()
    return phase


async def load_large(
    connection: GraphConnection, args: argparse.Namespace, url: str
) -> tuple[float, float]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    client = SourceClient("servicenow", url, auth=(USER, PASSWORD))
    try:
        start = time.perf_counter()
        run = await run_sync(graph, ServiceNowCmdb(client, 1000, name=NAME, source=SOURCE))
        if run.status != "SUCCEEDED":
            raise RuntimeError(f"the sync {run.status}: {run.error}")
        sync_seconds = time.perf_counter() - start
        start = time.perf_counter()
        await write_telemetry(connection, args.telemetry_days, args.seed)
        return sync_seconds, time.perf_counter() - start
    finally:
        await client.aclose()
        await graph.close()


async def write_telemetry(connection: GraphConnection, days: int, seed: int) -> None:
    """`days` telemetry days over the demo's objectives, about 90 days each."""
    rng = random.Random(seed)
    auth = (connection.user, connection.password)
    async with (
        neo4j.AsyncGraphDatabase.driver(connection.uri, auth=auth) as driver,
        driver.session(database=connection.database) as session,
    ):
        result = await session.run(RAW_OBJECTIVE_IDS)
        objectives = [record["id"] async for record in result]
        rows: list[dict[str, Any]] = []
        for number in range(days):
            objective = objectives[number % len(objectives)]
            day = f"2026-{1 + (number // len(objectives)) // 28 % 12:02d}-" + (
                f"{1 + (number // len(objectives)) % 28:02d}"
            )
            total = [float(rng.randint(900, 1100)) for _ in range(BUCKETS)]
            good = [t - rng.choice((0.0, 0.0, 0.0, 1.0, 2.0)) for t in total]
            if number % 17 == 0:
                good[rng.randrange(BUCKETS)] = math.nan
            rows.append(
                {
                    "key": f"{objective}|bench|{day}",
                    "props": {
                        "objectiveId": objective,
                        "source": "bench",
                        "day": day,
                        "good": struct.pack(f"<{BUCKETS}d", *good),
                        "total": struct.pack(f"<{BUCKETS}d", *total),
                        "updatedAt": "2026-12-07T00:00:00.000000Z",
                    },
                }
            )
            if len(rows) == TELEMETRY_BATCH:
                await (await session.run(RAW_TELEMETRY, rows=rows)).consume()
                rows = []
        if rows:
            await (await session.run(RAW_TELEMETRY, rows=rows)).consume()


async def prepare(connection: GraphConnection) -> None:
    graph = Graph.connect(connection)
    try:
        await migrate(graph)
        result = await load_demo(graph)
        if not result.loaded:
            raise RuntimeError("the demo was there already")
    finally:
        await graph.close()


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.backup --cis {args.cis} --relations {args.relations} "
        f"--telemetry-days {args.telemetry_days} --heap {args.heap} --seed {args.seed}"
    )


def markdown(args: argparse.Namespace, phases: list[Phase], setup: list[str]) -> str:
    lines = [
        "## Backup and restore",
        "",
        "```",
        command(args),
        "```",
        "",
        f"- {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"neo4j {version('neo4j')}, arcadedb-embedded {version('arcadedb-embedded')}, "
        f"heap {args.heap}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "at the end",
        *(f"- {line}" for line in setup),
        "",
        "| graph | nodes | relationships | backup | file | restore (RTO) | RSS before "
        "| backup peak RSS | restore peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in phases:
        lines.append(
            f"| {phase.name} | {phase.nodes:,} | {phase.relationships:,} | "
            f"{phase.backup_seconds:.1f} s ({phase.records / phase.backup_seconds:,.0f} rec/s) | "
            f"{_size(phase.file_bytes)} | "
            f"{phase.restore_seconds:.1f} s ({phase.records / phase.restore_seconds:,.0f} rec/s) "
            f"| {phase.rss_before_mib:.0f} MiB | {phase.backup_peak_mib:.0f} MiB "
            f"| {phase.restore_peak_mib:.0f} MiB |"
        )
    return "\n".join(lines)


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.backup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cis", type=int, default=100_000, help="CIs synced (0: demo only)")
    parser.add_argument("--relations", type=int, default=300_000, help="relationships synced")
    parser.add_argument("--services", type=int, default=500, help="services among the CIs")
    parser.add_argument("--telemetry-days", type=int, default=9_000, help="telemetry days")
    parser.add_argument("--heap", default="768m", help="JVM heap of the embedded servers")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    phases: list[Phase] = []
    setup: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-backup-") as tmp:
        workdir = Path(tmp)
        settings = Settings(
            data_dir=workdir / "source", embedded=EmbeddedGraphSettings(heap=args.heap)
        )
        server = EmbeddedGraphServer(settings.data_dir, settings.embedded)
        try:
            progress("starting the embedded server and loading the demo")
            connection = server.attach_or_start()
            asyncio.run(prepare(connection))
            phases.append(measure(settings, "demo", workdir))
            if args.cis:
                progress(f"filling the fake: {args.cis:,} CIs, {args.relations:,} relationships")
                cmdb = populate(args.cis, args.relations, args.services, args.seed)
                with serve_app(cmdb.fake.app) as url:
                    progress("syncing it into the graph, then writing telemetry")
                    sync_s, telemetry_s = asyncio.run(load_large(connection, args, url))
                del cmdb
                setup.append(
                    f"large graph: the demo + a full `servicenow-cmdb` sync of {args.cis:,} CIs "
                    f"and {args.relations:,} relationships ({sync_s:.0f} s) + "
                    f"{args.telemetry_days:,} telemetry days ({telemetry_s:.0f} s)"
                )
                phases.append(measure(settings, f"demo + {args.cis // 1000}k CIs", workdir))
        finally:
            server.stop()
    print(markdown(args, phases, setup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
