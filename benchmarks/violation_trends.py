"""`violationTrends` over 100,000 violations, by month and service, over HTTP with a token.

Run as ``.venv/bin/python -m benchmarks.violation_trends [--services S] [--objectives K]
[--months M] [--repeat R] [--warmup W] [--batch B] [--seed N] [--heap H]``; the defaults
(100 services, 2 SLAs each with 10 objectives, 50 months) make 100,000 violations;
``--services 10 --months 10 --repeat 5`` makes a quick run.

The estate, on an embedded server of its own, deterministic for a seed: S services in
five business units and two regions (service i: unit ``i % 5``, region ``(i // 5) %
2``), a customer per (unit, region), and per service two SLAs for that customer
covering it, authored and approved through `AgreementRepository`, each with K monthly
objectives and a credit policy with a monthly fee (one SLA in ten in USD, the others in
EUR). Every objective is violated in each of M months (from January 2022) with a
severity and a credit percent drawn at random. The violations are recorded the hub's
way, `ViolationRepository.record` in batches of B (each batch one transaction, which
also opens the remediation records, freezes evidence and proposes the credits, as an
assessment does).

Then `hub.app.create_app` is served by uvicorn on 127.0.0.1 (a thread of this process,
no scheduler) and asked, through httpx with a viewer token, R times after W warm-up
requests: ``violationTrends(groupBy: SERVICE, interval: MONTH, from, to)`` over the M
months, with an unlimited token and with one limited to one unit and region, taking
turns. Each answer is checked against what was planted: one point per service and
month (a service with EUR and USD credits: one per currency), the counts (2 x K per
service and month) and the credit sums (Decimal, planted) within half a cent. The
markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import random
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx

from benchmarks.graph import ms, percentile
from benchmarks.sync import hub_tree, serve_app
from hub.app import create_app
from hub.demo import APPROVER, AUTHOR
from hub.domain.breaches import Breach, Severity
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    CreditPolicySpec,
    CreditTierSpec,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.windows import Window
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import new_id
from hub.graph.migrations import migrate
from hub.graph.repositories import (
    AgreementRepository,
    BundleImporter,
    ComponentRepository,
    TokenRepository,
    performance,
)
from hub.graph.repositories.violations import PeriodVerdict, ViolationRepository
from hub.settings import EmbeddedGraphSettings, Settings

SOURCE = "trends-bench"
UNITS = ("retail", "corporate", "wholesale", "logistics", "finance")
REGIONS = ("eu", "us")
FIRST_MONTH = (2022, 1)
SEVERITIES = (Severity.MINOR, Severity.MAJOR, Severity.CRITICAL)
PERCENTS = (5.0, 10.0, 25.0)
CENT = Decimal("0.01")

QUERY = (
    "query T($from: DateTime!, $to: DateTime!) { violationTrends(groupBy: SERVICE,"
    " interval: MONTH, from: $from, to: $to) { periodStart group violations creditAmount"
    " currency } }"
)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def month_window(index: int) -> Window:
    year, month = FIRST_MONTH
    start = year * 12 + month - 1 + index
    end = start + 1
    return Window(
        datetime(start // 12, start % 12 + 1, 1, tzinfo=UTC),
        datetime(end // 12, end % 12 + 1, 1, tzinfo=UTC),
    )


@dataclass(slots=True)
class Planted:
    """What the answers must say: per (service name, month start date): count and the
    credit sum per currency; and the unit and region of each service name."""

    cells: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    place: dict[str, tuple[str, str]] = field(default_factory=dict)
    violations: int = 0

    def expected(self, unit: str | None, region: str | None) -> set[tuple[Any, ...]]:
        points: set[tuple[Any, ...]] = set()
        for (service, start), cell in self.cells.items():
            if unit is not None and self.place[service] != (unit, region):
                continue
            sums: dict[str, Decimal] = cell["sums"]
            if len(sums) == 1:
                ((currency, amount),) = sums.items()
                points.add((start, service, cell["count"], amount, currency))
            else:
                for currency, amount in sums.items():
                    points.add((start, service, cell["per"][currency], amount, currency))
        return points


async def plant(graph: Graph, args: argparse.Namespace) -> Planted:
    rng = random.Random(args.seed)
    customers = [
        {
            "externalId": f"cust-{u}-{r}",
            "name": f"Customer {u} {r}",
            "businessUnit": u,
            "region": r,
        }
        for u in UNITS
        for r in REGIONS
    ]
    services = [
        {
            "externalId": f"svc-{i}",
            "name": f"Service {i:04d}",
            "tier": "TIER_2",
            "businessUnit": UNITS[i % len(UNITS)],
            "region": REGIONS[(i // len(UNITS)) % len(REGIONS)],
        }
        for i in range(args.services)
    ]
    await BundleImporter(graph).load(
        {"source": SOURCE, "customers": customers, "services": services}
    )
    components = ComponentRepository(graph)
    ids: dict[str, str] = {}
    for record in [*customers, *services]:
        found = await components.lookup(SOURCE, record["externalId"])
        assert found is not None
        ids[record["externalId"]] = found
    planted = Planted()
    repository = AgreementRepository(graph)
    slas: list[tuple[str, list[str], str, Decimal, str]] = []  # id, objectives, service...
    for i, service in enumerate(services):
        planted.place[service["name"]] = (service["businessUnit"], service["region"])
        for n in range(2):
            currency = "USD" if (2 * i + n) % 10 == 9 else "EUR"
            fee = Decimal(rng.randrange(1000, 5000))
            spec = AgreementSpec(
                kind=AgreementKind.SLA,
                name=f"SLA {i:04d}-{n}",
                covers=(ids[service["externalId"]],),
                objectives=tuple(
                    ObjectiveSpec(
                        indicator=Indicator.AVAILABILITY,
                        target=99.9,
                        window_kind=WindowKind.CALENDAR_MONTH,
                        name=f"objective {k}",
                    )
                    for k in range(args.objectives)
                ),
                customer_id=ids[f"cust-{service['businessUnit']}-{service['region']}"],
                credit_policy=CreditPolicySpec(
                    tiers=(CreditTierSpec(below_percent=99.9, credit_percent=25.0),),
                    monthly_fee=fee,
                    currency=currency,
                ),
            )
            agreement_id = await repository.create(spec, AUTHOR)
            await repository.submit(agreement_id, AUTHOR)
            await repository.approve(agreement_id, APPROVER)
            objectives = (await repository.objectives_by_agreement_ids([agreement_id]))[
                agreement_id
            ]
            slas.append((agreement_id, [o.id for o in objectives], service["name"], fee, currency))
        if (i + 1) % 20 == 0:
            progress(f"  {2 * (i + 1)} SLAs approved")
    verdicts: list[PeriodVerdict] = []
    for agreement_id, objective_ids, service, fee, currency in slas:
        for m in range(args.months):
            period = month_window(m)
            cell = planted.cells.setdefault(
                (service, period.start.date().isoformat()),
                {"count": 0, "sums": defaultdict(Decimal), "per": defaultdict(int)},
            )
            for objective_id in objective_ids:
                percent = rng.choice(PERCENTS)
                breach = Breach(
                    objective_id,
                    period,
                    round(rng.uniform(97.0, 99.89), 3),
                    99.9,
                    rng.choice(SEVERITIES),
                    percent,
                )
                verdicts.append(PeriodVerdict(agreement_id, objective_id, period, 1, breach))
                cell["count"] += 1
                cell["per"][currency] += 1
                amount = (Decimal(str(percent)) * fee / 100).quantize(
                    CENT, rounding=ROUND_HALF_EVEN
                )
                cell["sums"][currency] += amount
    planted.violations = len(verdicts)
    # The first ones the hub's way (remediation, evidence and credit made by the
    # assessment's own transaction), the rest raw in the same shapes, much faster.
    real, raw = verdicts[: args.real], verdicts[args.real :]
    violations = ViolationRepository(graph)
    started = time.perf_counter()
    for offset in range(0, len(real), args.batch):
        await violations.record(real[offset : offset + args.batch], "benchmark assessment")
    if real:
        rate = len(real) / (time.perf_counter() - started)
        progress(f"  {len(real):,} violations recorded the hub's way ({rate:,.0f}/s)")
    fees = {agreement_id: (fee, currency) for agreement_id, _, _, fee, currency in slas}
    started = time.perf_counter()
    for offset in range(0, len(raw), args.batch):
        rows = [raw_row(v, *fees[v.agreement_id]) for v in raw[offset : offset + args.batch]]
        await graph.write(SEED_VIOLATIONS, rows=rows)
        done = offset + len(rows)
        if done % (args.batch * 20) == 0 or done == len(raw):
            rate = done / (time.perf_counter() - started)
            progress(f"  {done:,} violations written raw ({rate:,.0f}/s)")
    return planted


# A violation as `ViolationRepository.record` leaves it: the current revision, its
# remediation record (OPEN, with the credit sum the ledger keeps on it) and its credit
# (PROPOSED), in the stored shapes.
SEED_VIOLATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    MATCH (o:Objective {id: row.objectiveId})
    CREATE (v:Violation)
    SET v += row.violation
    CREATE (a)-[:HAS_VIOLATION]->(v)
    CREATE (v)-[:OF_OBJECTIVE]->(o)
    CREATE (r:Remediation)
    SET r += row.remediation
    CREATE (a)-[:HAS_REMEDIATION]->(r)
    CREATE (c:Credit)
    SET c += row.credit
    CREATE (r)-[:HAS_CREDIT]->(c)
    """
)

RECORDED_AT = "2026-03-02T00:00:00.000000Z"


def raw_row(verdict: PeriodVerdict, fee: Decimal, currency: str) -> dict[str, Any]:
    breach = verdict.breach
    assert breach is not None
    figures = verdict.figures()
    assert figures is not None
    start = figures["periodStart"]
    key = f"{verdict.agreement_id}|{verdict.objective_id}|{start}"
    violation_id = new_id("Violation")
    percent = Decimal(str(breach.credit_percent))
    amount = (percent * fee / 100).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return {
        "agreementId": verdict.agreement_id,
        "objectiveId": verdict.objective_id,
        "violation": {
            **figures,
            "id": violation_id,
            "key": f"{verdict.objective_id}|{start}|{RECORDED_AT}",
            "recordKey": verdict.open_key,
            "recordedAt": RECORDED_AT,
        },
        "remediation": {
            "id": new_id("Remediation"),
            "key": key,
            "agreementId": verdict.agreement_id,
            "objectiveId": verdict.objective_id,
            "agreementKind": "SLA",
            "periodStart": start,
            "periodEnd": figures["periodEnd"],
            "severity": figures["severity"],
            "status": "OPEN",
            "detectedAt": RECORDED_AT,
            "escalationLevel": 1,
            "violationId": violation_id,
            "creditCurrency": currency,
            "creditMinor": int(str(amount).replace(".", "")),
            "creditDigits": 2,
        },
        "credit": {
            "id": new_id("Credit"),
            "remediationKey": key,
            "violationId": violation_id,
            "status": "PROPOSED",
            "percent": float(percent),
            "amount": str(amount),
            "currency": currency,
            "createdAt": RECORDED_AT,
        },
    }


def answer_points(body: dict[str, Any]) -> set[tuple[Any, ...]]:
    if body.get("errors"):
        raise AssertionError(f"the answer has errors: {body['errors']}")
    return {
        (
            p["periodStart"][:10],
            p["group"],
            p["violations"],
            Decimal(str(p["creditAmount"])).quantize(CENT),
            p["currency"],
        )
        for p in body["data"]["violationTrends"]
    }


@dataclass(slots=True)
class Timing:
    samples: list[float] = field(default_factory=list)
    points: int = 0
    body_bytes: int = 0

    def line(self, label: str) -> str:
        body = f"{self.body_bytes / 1024:,.0f} KiB" if self.body_bytes else "-"
        return (
            f"| {label} | {self.points:,} | {body} | "
            f"{ms(percentile(self.samples, 0.5))} | {ms(percentile(self.samples, 0.95))} | "
            f"{ms(min(self.samples))} | {ms(max(self.samples))} |"
        )


# The series measured, each round in turn: (label, token, whether the answer is
# computed afresh in the graph, i.e. the process's trend cache is emptied first).
SERIES = (
    ("unlimited, computed", "unlimited", True),
    ("unlimited, cached", "unlimited", False),
    (f"scoped to one unit and region ({UNITS[0]}, {REGIONS[0]}), computed", "scoped", True),
)


def span_of(args: argparse.Namespace) -> tuple[datetime, datetime]:
    return month_window(0).start, month_window(args.months).start


async def measure(
    url: str, tokens: dict[str, str], planted: Planted, args: argparse.Namespace
) -> dict[str, Timing]:
    start, end = span_of(args)
    span = {"from": start.isoformat(), "to": end.isoformat()}
    expected = {
        "unlimited": planted.expected(None, None),
        "scoped": planted.expected(UNITS[0], REGIONS[0]),
    }
    timings = {label: Timing() for label, _, _ in SERIES}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for round_ in range(args.warmup + args.repeat):
            order = list(SERIES) if round_ % 2 == 0 else list(reversed(SERIES))
            for label, token, afresh in order:
                if afresh:
                    performance._trend_cache.clear()
                started = time.perf_counter()
                response = await client.post(
                    "/graphql",
                    json={"query": QUERY, "variables": span},
                    headers={"Authorization": f"Bearer {tokens[token]}"},
                )
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                points = answer_points(response.json())
                if points != expected[token]:
                    missing = sorted(expected[token] - points)[:3]
                    extra = sorted(points - expected[token])[:3]
                    raise AssertionError(f"{label}: missing {missing}, unexpected {extra}")
                if round_ >= args.warmup:
                    timings[label].samples.append(elapsed)
                    timings[label].points = len(points)
                    timings[label].body_bytes = len(response.content)
    return timings


async def measure_statement(graph: Graph, args: argparse.Namespace) -> Timing:
    """The aggregation alone: the repository's statement through the driver, no cache,
    no GraphQL, no HTTP (the floor of a computed answer)."""
    start, end = span_of(args)
    repository = performance.PerformanceRepository(graph)
    timing = Timing()
    for round_ in range(args.warmup + args.repeat):
        started = time.perf_counter()
        points = await repository._aggregate(
            performance.TrendGroup.SERVICE, performance.TrendInterval.MONTH, start, end
        )
        if round_ >= args.warmup:
            timing.samples.append(time.perf_counter() - started)
            timing.points = len(points)
    return timing


async def run(connection: GraphConnection, data_dir: Path, args: argparse.Namespace) -> str:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    try:
        await migrate(graph)
        started = time.perf_counter()
        planted = await plant(graph, args)
        setup = time.perf_counter() - started
        tokens = {
            "unlimited": await TokenRepository(graph).create("trends-bench", Role.VIEWER),
            "scoped": await TokenRepository(graph).create(
                "trends-bench-scoped",
                Role.VIEWER,
                frozenset({UNITS[0]}),
                regions=frozenset({REGIONS[0]}),
            ),
        }
        load = [os.getloadavg()[0]]
        progress(f"the statement alone: {args.warmup} warm-up and {args.repeat} timed runs")
        statement = await measure_statement(graph, args)
    finally:
        await graph.close()
    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    with serve_app(app, lifespan=True) as url:
        progress(f"asking: {args.warmup} warm-up and {args.repeat} timed requests per series")
        timings = await measure(url, tokens, planted, args)
    load.append(os.getloadavg()[0])
    return report(args, planted, statement, timings, setup, load)


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.violation_trends --services {args.services} "
        f"--objectives {args.objectives} --months {args.months} --repeat {args.repeat} "
        f"--warmup {args.warmup} --batch {args.batch} --real {args.real} --seed {args.seed} "
        f"--heap {args.heap}"
    )


def report(
    args: argparse.Namespace,
    planted: Planted,
    statement: Timing,
    timings: dict[str, Timing],
    setup: float,
    load: Sequence[float],
) -> str:
    computed = timings[SERIES[0][0]]
    cached = timings[SERIES[1][0]]

    def verdict(timing: Timing) -> str:
        return "met" if percentile(timing.samples, 0.95) < 1.0 else "not met"

    return "\n".join(
        [
            f"## `violationTrends` over {planted.violations:,} violations",
            "",
            f"`{command(args)}` ({hub_tree()}; Python {platform.python_version()}, "
            f"{os.cpu_count()} cores; 1-minute load average {load[0]:.1f} before the "
            f"measurements, {load[1]:.1f} after). Set-up (the estate, {2 * args.services} "
            f"SLAs approved, {args.real:,} violations recorded the hub's way with their "
            "remediation records, evidence and credits, the others written raw in the same "
            f"shapes): {setup:,.0f} s. Peak RSS of this process "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB.",
            "",
            f"`violationTrends(groupBy: SERVICE, interval: MONTH)` over the {args.months} "
            f"months: the aggregation statement alone through the driver, then over HTTP "
            f"with a viewer token, {args.repeat} timed requests per series after "
            f"{args.warmup} warm-up, the series taking turns. *Computed*: the process's "
            "trend cache emptied first, so the graph aggregates afresh (as after any "
            "audited change); *cached*: the same question again, the audit head unmoved. "
            "Every answer checked against the planted counts and credit sums.",
            "",
            "| series | points | body | p50 | p95 | min | max |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            statement.line("the statement alone (driver, unlimited)"),
            *(timings[label].line(label) for label, _, _ in SERIES),
            "",
            "Target (p95 under 1 s over GraphQL, unlimited token): computed "
            f"**{verdict(computed)}** (mean {ms(statistics.fmean(computed.samples))}), cached "
            f"**{verdict(cached)}** (mean {ms(statistics.fmean(cached.samples))}).",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--objectives", type=int, default=10)
    parser.add_argument("--months", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--real", type=int, default=1000, help="violations recorded the hub's way (the rest raw)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--heap", default="2g")
    args = parser.parse_args(argv)
    if min(args.services, args.objectives, args.months, args.repeat, args.batch) < 1:
        parser.error("--services, --objectives, --months, --repeat and --batch must be >= 1")
    if args.real < 0:
        parser.error("--real must be >= 0")
    return args


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="hub-bench-trends-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        try:
            progress(f"starting the embedded server (heap {args.heap})")
            connection = server.attach_or_start()
            print(asyncio.run(run(connection, Path(data_dir), args)))
        except Exception:
            if not server.child_alive():
                progress(f"the embedded server died; the end of its log:\n{server.log_tail()}")
            raise
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
