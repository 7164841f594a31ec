"""How long the escalation job (`hub.sync.escalations.escalate`) takes for 10,000 open
violations.

Run as ``.venv/bin/python -m benchmarks.escalations [--violations N] [--agreements A]
[--actions F] [--heap H]`` [--targets 1|2] (defaults: 10,000 violations over 200 SLAs, an
overdue OPEN action on one violation in 4, one delivery per level-1 escalation).

A fresh embedded server gets the hub's migrations (and the escalation statements'
constraint and indexes, `hub.graph.cypher.escalations`), then, with raw ``UNWIND ...
CREATE`` in batches (raw Cypher lives in `benchmarks/` only): A customers in 4 business
units, one SLA each (FOR_CUSTOMER) with one objective, N OPEN remediations spread over
them (HAS_REMEDIATION, the properties `hub.graph.repositories.remediation` writes, detected
one hour before the first run, RCA due 5 days after detection) and the actions
(HAS_ACTION, due 2 days after detection). The matrix has three levels, each notifying one
address (``--targets 2``: level 1 notifies a list of an address and a webhook, two
deliveries per escalation).

Then, timed, each on the whole estate:

1. detection: every violation escalates to level 1 (N escalations and deliveries);
2. the same instant again: nothing is due (what a run every 15 minutes mostly costs);
3. six days on: every RCA is missed (level 2), and every overdue action (level 3).

Each run must escalate exactly what is listed (or the benchmark fails); run 1 must take
under 10 s (the report says so, and the exit status is 1, otherwise).
The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

from benchmarks.graph import Raw
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import actions as aq
from hub.graph.cypher import escalations as eq
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import to_iso
from hub.graph.migrations import migrate
from hub.settings import EmbeddedGraphSettings, Settings
from hub.sync.escalations import EscalationReport, escalate

BATCH = 2000
UNITS = ("retail", "corp", "public", "wholesale")
LIMIT_SECONDS = 10.0

PLANT_CUSTOMERS: LiteralString = """
    UNWIND $rows AS row
    CREATE (c:Customer {id: row.id, name: row.name, businessUnit: row.unit})
    CREATE (a:Agreement {id: row.agreementId, lineage: row.agreementId, version: 1,
                         kind: 'SLA', name: row.agreementName, state: 'APPROVED'})
    CREATE (o:Objective {id: row.objectiveId, name: 'availability', target: 99.9})
    CREATE (a)-[:FOR_CUSTOMER]->(c)
    CREATE (a)-[:HAS_OBJECTIVE]->(o)
"""
PLANT_REMEDIATIONS: LiteralString = """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    CREATE (r:Remediation)
    SET r = row.props
    CREATE (a)-[:HAS_REMEDIATION]->(r)
"""
PLANT_ACTIONS: LiteralString = """
    UNWIND $rows AS row
    MATCH (r:Remediation {id: row.subjectId})
    CREATE (x:Action)
    SET x = row.props
    CREATE (r)-[:HAS_ACTION]->(x)
"""


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def settings(targets: int) -> Settings:
    """Level 1 notifies one address (`targets` 1) or a list of an address and a webhook
    (2: two deliveries per escalation)."""
    team = ["team@example.com"] if targets == 1 else ["team"]
    return Settings(
        smtp={"host": "127.0.0.1", "port": 9, "from": "hub@example.com"},
        webhooks={"ops": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 32}},
        notifications={"lists": {"team": {"emails": ["team@example.com"], "webhooks": ["ops"]}}},
        remediation={
            "escalation_levels": [
                {"name": "team", "recipients": team},
                {"name": "management", "recipients": ["mgmt@example.com"]},
                {
                    "name": "executive",
                    "recipients": ["cxo@example.com"],
                    "business_units": {"retail": ["retail-head@example.com"]},
                },
            ]
        },
    )


async def plant(raw: Raw, args: argparse.Namespace, detected: datetime) -> int:
    """The estate; returns the number of actions planted."""
    customers = [
        {
            "id": f"cus_bench{i:05d}",
            "name": f"Customer {i}",
            "unit": UNITS[i % len(UNITS)],
            "agreementId": f"agr_bench{i:05d}",
            "agreementName": f"Gold SLA {i}",
            "objectiveId": f"obj_bench{i:05d}",
        }
        for i in range(args.agreements)
    ]
    for start in range(0, len(customers), BATCH):
        await raw.write(PLANT_CUSTOMERS, rows=customers[start : start + BATCH])
    remediations: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for i in range(args.violations):
        n = i % args.agreements
        rid = f"rem_bench{i:06d}"
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i // args.agreements)
        props = {
            "id": rid,
            "key": f"agr_bench{n:05d}|obj_bench{n:05d}|{to_iso(start)}",
            "agreementId": f"agr_bench{n:05d}",
            "objectiveId": f"obj_bench{n:05d}",
            "agreementKind": "SLA",
            "periodStart": to_iso(start),
            "periodEnd": to_iso(start + timedelta(days=1)),
            "severity": "MAJOR",
            "status": "OPEN",
            "detectedAt": to_iso(detected),
            "rcaDueAt": to_iso(detected + timedelta(days=5)),
            "escalationLevel": 1,
            "violationId": f"vio_bench{i:06d}",
        }
        remediations.append({"agreementId": props["agreementId"], "props": props})
        if args.actions and i % args.actions == 0:
            actions.append(
                {
                    "subjectId": rid,
                    "props": {
                        "id": f"act_bench{i:06d}",
                        "subjectId": rid,
                        "kind": "CORRECTIVE",
                        "description": "add a replica",
                        "owner": "ops",
                        "dueAt": to_iso(detected + timedelta(days=2)),
                        "status": "OPEN",
                        "createdAt": to_iso(detected),
                        "createdBy": "bench",
                    },
                }
            )
    for start in range(0, len(remediations), BATCH):
        await raw.write(PLANT_REMEDIATIONS, rows=remediations[start : start + BATCH])
    for start in range(0, len(actions), BATCH):
        await raw.write(PLANT_ACTIONS, rows=actions[start : start + BATCH])
    return len(actions)


async def timed(graph: Graph, now: datetime, targets: int) -> tuple[float, EscalationReport]:
    started = time.perf_counter()
    report = await escalate(graph, settings(targets), now)
    return time.perf_counter() - started, report


async def run(connection: GraphConnection, args: argparse.Namespace) -> list[str]:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        for statement in (
            eq.ESCALATION_STEP_UNIQUE,
            eq.ESCALATION_SUBJECT_INDEX,
            aq.ACTION_ID_UNIQUE,
            aq.ACTION_SUBJECT_INDEX,
            aq.ACTION_STATUS_INDEX,
        ):
            await graph.write(statement)
        detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        progress(f"planting {args.violations:,} open violations over {args.agreements} SLAs")
        started = time.perf_counter()
        actions = await plant(raw, args, detected)
        planted = time.perf_counter() - started
        progress(f"planted in {planted:.1f} s ({actions:,} actions)")
        runs = [
            ("1. detection: level 1 for each", detected + timedelta(hours=1), args.violations),
            ("2. the same instant again: nothing due", detected + timedelta(hours=1), 0),
            (
                "3. six days on: each RCA missed (2), each overdue action (3)",
                detected + timedelta(days=6),
                args.violations + actions,
            ),
        ]
        # The machine's pace in this run: raw CREATEs of the estate, no hub code (a
        # loaded machine slows both alike).
        rows = [
            f"| raw baseline: planting {args.agreements * 3 + args.violations + actions:,} nodes "
            f"and their relationships (`UNWIND ... CREATE`) | | | | {planted:.2f} s |"
        ]
        for name, now, expected in runs:
            seconds, report = await timed(graph, now, args.targets)
            progress(f"{name}: {seconds:.2f} s, {report}")
            if report.escalated != expected or report.problems:
                raise RuntimeError(f"{name}: expected {expected:,} escalations, got {report}")
            rows.append(
                f"| {name} | {report.subjects:,} | {report.escalated:,} | {report.notified:,} "
                f"| {seconds:.2f} s |"
            )
            if name.startswith("1.") and seconds >= LIMIT_SECONDS:
                rows.append(f"| **over the {LIMIT_SECONDS:.0f} s limit** | | | | |")
        return rows
    finally:
        await raw.close()
        await graph.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--violations", type=int, default=10_000)
    parser.add_argument("--agreements", type=int, default=200)
    parser.add_argument(
        "--actions", type=int, default=4, help="an overdue action on one violation in F (0: none)"
    )
    parser.add_argument(
        "--targets", type=int, choices=(1, 2), default=1, help="deliveries per level-1 escalation"
    )
    parser.add_argument("--heap", default=None, help="the embedded server's heap, e.g. 2g")
    args = parser.parse_args(argv)
    if args.violations < 1 or args.agreements < 1 or args.actions < 0:
        parser.error("--violations and --agreements: at least 1; --actions: 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-bench-escalations-") as tmp:
        options = {} if args.heap is None else {"heap": args.heap}
        server = EmbeddedGraphServer(Path(tmp), EmbeddedGraphSettings(**options))
        try:
            progress("starting the embedded server")
            connection = server.attach_or_start()
            rows = asyncio.run(run(connection, args))
        finally:
            server.stop()
    print(
        "\n".join(
            [
                f"`.venv/bin/python -m benchmarks.escalations --violations {args.violations} "
                f"--agreements {args.agreements} --actions {args.actions} "
                f"--targets {args.targets}` on "
                f"{platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}",
                "",
                "| Run | Subjects read | Escalations | Deliveries | Time |",
                "|---|---:|---:|---:|---:|",
                *rows,
            ]
        )
    )
    return 1 if any("over the" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
