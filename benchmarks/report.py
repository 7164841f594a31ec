"""Compliance reports at scale: a business-unit report over S services x M months, and
its PDF.

Run as ``.venv/bin/python -m benchmarks.report [--services 500] [--months 12]
[--units 5] [--repeat 3] [--heap H]``; ``--services 50 --months 3`` makes a quick run.

The estate, on an embedded server of its own: S services spread over U business units
(two regions each), one internal customer per unit and region, and one SLA per service
for its customer with one AVAILABILITY objective (CALENDAR_MONTH, a Prometheus ratio
metric), authored, submitted and approved the hub's way (`AgreementRepository`). Each
objective has M months of 5-minute buckets (one `TelemetryDay` node per UTC day:
S x ~30.4 x M of them), stored by `TelemetryRepository.store_many`; one service in ten
has an outage of a few hours each month. Set-up is timed, not a target.

Measured, K rounds each (medians and spread):
1. `build_report` of the business-unit template over the M months (all objectives,
   every month through `StatusEngine.series_between`, violations, comments, roll-up);
2. `render_pdf` of that report (WeasyPrint, in this process), and JSON + CSV.

Targets (issue 11): the report under 5 s and its PDF under 15 s at 500 x 12.
The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from hub.domain.access import UNLIMITED
from hub.domain.buckets import BucketSeries
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
    RatioMetric,
    WindowKind,
)
from hub.domain.reports import Report, ReportFilter, months_between
from hub.domain.windows import BUCKET_SECONDS
from hub.domain.workflow import Actor, Role
from hub.engine.sources import telemetry_sources
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import reports as rq
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.reports import build_report, render_csv, render_json, render_pdf
from hub.settings import EmbeddedGraphSettings

AUTHOR = Actor(user="bench-author", role=Role.EDITOR)
APPROVER = Actor(user="bench-approver", role=Role.APPROVER)
SOURCE = "bench"
# Bytes per UNWIND write: far below ArcadeDB's 16 MiB Bolt message limit.
STORE_BATCH_DAYS = 600
SCHEMA = (
    rq.REPORT_TELEMETRY_DAY_OBJECTIVE_INDEX,
    rq.REPORT_SNAPSHOT_ID_UNIQUE,
    rq.REPORT_FILE_KEY_UNIQUE,
    rq.REPORT_COMMENT_ID_UNIQUE,
    rq.REPORT_COMMENT_SERVICE_INDEX,
)


def progress(message: str) -> None:
    print(f"[report] {message}", file=sys.stderr, flush=True)


@dataclass
class Timings:
    build: list[float] = field(default_factory=list)
    pdf: list[float] = field(default_factory=list)
    text: list[float] = field(default_factory=list)

    @staticmethod
    def line(name: str, values: Sequence[float], target: float | None) -> str:
        median = statistics.median(values)
        spread = f"{min(values):.2f}-{max(values):.2f}"
        verdict = "" if target is None else (" met" if median < target else " **not met**")
        goal = "" if target is None else f"< {target:g} s"
        return f"| {name} | {median:.2f} s | {spread} s | {goal}{verdict} |"


def bundle(services: int, units: int) -> dict[str, object]:
    customers = [
        {
            "externalId": f"c-{u}-{r}",
            "name": f"Customer {u} {r}",
            "businessUnit": f"unit-{u}",
            "region": r,
            "external": False,
        }
        for u in range(units)
        for r in ("eu", "us")
    ]
    return {
        "source": SOURCE,
        "customers": customers,
        "services": [
            {
                "externalId": f"svc-{n}",
                "name": f"Service {n:04d}",
                "tier": "TIER_2",
                "businessUnit": f"unit-{n % units}",
                "region": ("eu", "us")[(n // units) % 2],
            }
            for n in range(services)
        ],
    }


def objective() -> ObjectiveSpec:
    query = MetricQuery(source_type="Prometheus", query="sum(rate(http_requests_total[5m]))")
    return ObjectiveSpec(
        indicator=Indicator.AVAILABILITY,
        target=99.9,
        window_kind=WindowKind.CALENDAR_MONTH,
        name="availability",
        metric=RatioMetric(counter=False, good=query, total=query),
    )


def series(n: int, start: datetime, end: datetime) -> BucketSeries:
    size = int((end - start).total_seconds()) // BUCKET_SECONDS
    rng = np.random.default_rng(n)
    total = np.full(size, float(rng.integers(100, 5000)))
    bad = np.zeros(size)
    if n % 10 == 0:  # a few hours of outage each month
        for month_start in range(0, size, 8640):
            at = month_start + int(rng.integers(0, 8000))
            bad[at : at + 36] = total[at : at + 36] * 0.3
    return BucketSeries(start=start, good=total - bad, total=total)


async def set_up(graph: Graph, args: argparse.Namespace, start: datetime, end: datetime) -> None:
    await migrate(graph)
    # The constraints and indexes reports need (migration 16 applies them too).
    for statement in SCHEMA:
        await graph.write(statement)
    await BundleImporter(graph).load(bundle(args.services, args.units))
    components = ComponentRepository(graph)
    agreements = AgreementRepository(graph, clock=lambda: start - timedelta(days=30))
    telemetry = TelemetryRepository(graph)
    begun = time.perf_counter()
    pending: list[tuple[str, str, BucketSeries]] = []
    days_per = (end - start).days
    for n in range(args.services):
        service = await components.lookup(SOURCE, f"svc-{n}")
        customer = await components.lookup(
            SOURCE, f"c-{n % args.units}-{('eu', 'us')[(n // args.units) % 2]}"
        )
        assert service is not None
        assert customer is not None
        spec = AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"SLA {n:04d}",
            covers=(service,),
            objectives=(objective(),),
            customer_id=customer,
            effective_from=start - timedelta(days=30),
        )
        agreement_id = await agreements.create(spec, AUTHOR)
        await agreements.submit(agreement_id, AUTHOR)
        await agreements.approve(agreement_id, APPROVER)
        [stored] = (await agreements.objectives_by_agreement_ids([agreement_id]))[agreement_id]
        key = telemetry_sources(stored, ()).primary
        assert key is not None, "the objective has a metric"
        pending.append((stored.id, key, series(n, start, end)))
        if len(pending) * days_per >= STORE_BATCH_DAYS:
            await telemetry.store_many(pending)
            pending = []
        if (n + 1) % 50 == 0:
            progress(f"{n + 1} services set up ({time.perf_counter() - begun:.0f} s)")
    if pending:
        await telemetry.store_many(pending)


@contextlib.contextmanager
def embedded(data_dir: Path, heap: str) -> Iterator[GraphConnection]:
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=heap))
    try:
        progress(f"starting the embedded server (heap {heap})")
        yield server.attach_or_start()
    finally:
        server.stop()


async def run(args: argparse.Namespace, connection: GraphConnection) -> str:
    start = datetime(2025, 11, 1, tzinfo=UTC)
    months = []
    cursor = start
    for _ in range(args.months):
        cursor = (cursor + timedelta(days=32)).replace(day=1)
        months.append(cursor)
    end = months[-1]
    graph = Graph.connect(connection)
    try:
        begun = time.perf_counter()
        await set_up(graph, args, start, end)
        setup = time.perf_counter() - begun
        progress(f"set up in {setup:.0f} s")
        timings = Timings()
        now = end + timedelta(days=3)
        report: Report | None = None
        for round_ in range(args.repeat):
            t0 = time.perf_counter()
            report = await build_report(
                graph, UNLIMITED, "business-unit", start, end, ReportFilter(), now
            )
            timings.build.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pdf = render_pdf(report)
            timings.pdf.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            json_bytes, csv_bytes = render_json(report), render_csv(report)
            timings.text.append(time.perf_counter() - t0)
            progress(
                f"round {round_ + 1}: report {timings.build[-1]:.2f} s, "
                f"PDF {timings.pdf[-1]:.2f} s ({len(pdf):,} bytes), JSON+CSV "
                f"{timings.text[-1]:.2f} s ({len(json_bytes):,} + {len(csv_bytes):,} bytes)"
            )
        assert report is not None
        leaves = list(report.total.leaves())
        assert len(leaves) == args.services * len(months_between(start, end))
        assert all(leaf.total is not None for leaf in leaves)
        return "\n".join(
            [
                f"`.venv/bin/python -m benchmarks.report --services {args.services} "
                f"--months {args.months} --units {args.units} --repeat {args.repeat}`",
                "",
                f"{platform.python_implementation()} {platform.python_version()}, "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
                f"{args.services} services x {args.months} months = {len(leaves):,} "
                f"objective-month rows, {args.services * (end - start).days:,} telemetry "
                f"days; set-up {setup:.0f} s (not a target); PDF "
                f"{len(pdf):,} bytes, business-unit template.",
                "",
                "| Step | Median | Spread | Target |",
                "|---|---|---|---|",
                Timings.line("build_report (graph to rows)", timings.build, 5.0),
                Timings.line("render_pdf (WeasyPrint)", timings.pdf, 15.0),
                Timings.line("render_json + render_csv", timings.text, None),
            ]
        )
    finally:
        await graph.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--units", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--heap", default=EmbeddedGraphSettings().heap)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with (
        tempfile.TemporaryDirectory(prefix="hub-report-bench-") as tmp,
        embedded(Path(tmp), args.heap) as connection,
    ):
        print(asyncio.run(run(args, connection)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
