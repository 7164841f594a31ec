"""Service-level status at scale: the engine alone, through the graph, and over GraphQL.

Run as ``.venv/bin/python -m benchmarks.slo [--objectives N] [--days D] [--requests R]
[--repeat K] [--seed S] [--heap H] [--no-http] [--no-sync] [--sync-only]
[--sync-concurrency C] [--prometheus-ms L]``; ``--objectives 200 --requests 50`` makes a
quick run.

The fleet is deterministic for a seed: N services with one OpenSLO SLO each (a ratio
of two Prometheus counters, a rolling window of D days, targets from 99 % to 99.99 %),
and for each of them D + 3 days of 5-minute buckets up to the moment measured (the
3-day lead-in is what the slowest burn-rate window may reach back). Traffic is
diurnal, its scale log-normal across objectives (a few events to some 100k per
bucket); bad events are a baseline share of the budget plus incidents of up to four
hours; buckets go missing at random, in scrape gaps of up to half a day, and a few
objectives have no data at all. The benchmark measures:

1. the pure engine: ``objective_status`` for every objective from `BucketSeries` held
   in memory (no graph), and its own allocations under tracemalloc;
2. set-up, the hub's way, on an embedded server of its own (timed, not a target):
   services by `BundleImporter`, the SLOs by `ObjectiveRepository.import_slos`, the
   buckets by `TelemetryRepository.store` (one ``TelemetryDay`` node per objective
   and UTC day);
3. the whole set through the graph: `StatusEngine.statuses` for all objectives at one
   moment, beside the raw floor: the same ``TelemetryDay`` byte arrays read with one
   ``UNWIND`` statement through the same async ``neo4j`` driver and decoded with numpy
   into one matrix, nothing else. The two take turns, round by round;
4. GraphQL: one service's objective ``status(at)`` through ``node(id)``, in-process
   with a fresh `Context` per request as the HTTP view makes it, and over HTTP:
   `hub.app.create_app` served by uvicorn on 127.0.0.1 (a thread of this process) with
   a bearer token, through httpx. The two paths take turns.

5. the telemetry sync (`run_telemetry_sync`) of every objective against a loopback
   fake Prometheus (``/api/v1/query_range`` on uvicorn in a thread of this process,
   answering counters for any query after ``--prometheus-ms`` of evaluation time each)
   through the hub's `PrometheusSource`: a routine run, each objective's watermark one
   interval (300 s) back. The former path (one objective a batch, one fetch at a time)
   and the batched one (``--sync-concurrency`` fetches in flight) take turns from the
   same watermarks; both must leave the same watermarks and bucket counts.

Every status computed through the graph or GraphQL must equal the pure engine's (state
exactly, figures within float noise); the benchmark fails otherwise. Memory is the
peak RSS per phase (high-water marks reset at each phase's start), of this process and
of the JVM child. The markdown report goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import math
import os
import platform
import resource
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, LiteralString, TypeVar

import httpx
import neo4j
import numpy as np
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks.graph import (
    Raw,
    _exit_on_sigterm,
    memory_total,
    ms,
    percentile,
    progress,
    time_it,
    version,
)

# benchmarks.sync puts tests/ on sys.path for the fakes; its `serve_app` serves the hub.
from benchmarks.sync import Memory, hub_tree, mib, secs, serve_app
from hub.app import create_app
from hub.connectors.prometheus import PrometheusSource
from hub.domain.buckets import BucketSeries
from hub.domain.budget import ObjectiveStatus, objective_status
from hub.domain.models import Objective, WindowKind
from hub.domain.openslo import parse_documents
from hub.domain.windows import BUCKET, objective_window
from hub.domain.workflow import Actor, Role
from hub.engine.sources import telemetry_sources
from hub.engine.status import LOOKBACK, StatusEngine, measured_span
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import to_iso
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ObjectiveRepository, TokenRepository
from hub.graph.repositories.sync import SyncRepository
from hub.graph.repositories.telemetry import DAY_BUCKETS, TelemetryRepository, day_key
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import (
    ApiSettings,
    EmbeddedGraphSettings,
    PrometheusSettings,
    Settings,
    SloSettings,
)
from hub.sync.metrics import PrometheusMetrics
from hub.sync.telemetry import BATCH_OBJECTIVES, run_telemetry_sync

AT = datetime(2026, 3, 2, 14, 37, 12, tzinfo=UTC)  # the moment every status is taken at
SOURCE = "slobench"
ACTOR = Actor(user="slo-bench", role=Role.EDITOR)
VIEWER = Actor(user="slo-bench-viewer", role=Role.VIEWER)
# Targets in percent and their shares of the objectives.
TARGETS = ((99.0, 0.2), (99.5, 0.2), (99.9, 0.35), (99.95, 0.15), (99.99, 0.1))
NO_DATA_SHARE = 0.005  # objectives whose metric never returned anything
MISSING_SHARE = 0.003  # buckets missing at random
INCIDENTS = 0.7  # incidents per objective in the generated span, on average
GAP_CHANCE = 0.3  # the chance an objective has one scrape gap, of up to half a day
WARMUP_REQUESTS = 20
WARMUP_OBJECTIVES = 50
# Figures of two statuses agree to this relative tolerance (the hub's series start on
# another day than the in-memory ones, so prefix sums round differently).
REL_TOLERANCE = 1e-9

T = TypeVar("T")
R = TypeVar("R")

# ---- raw Cypher: the floor -------------------------------------------------------------

RAW_TELEMETRY_DAYS: LiteralString = (
    "UNWIND $keys AS key MATCH (d:TelemetryDay {key: key}) "
    "RETURN d.key AS key, d.good AS good, d.total AS total"
)

# One service's objectives (here: one) with every field of their status.
STATUS_QUERY = """
query Status($id: ID!, $at: DateTime!) {
  node(id: $id) {
    ... on Service {
      objectives {
        id
        status(at: $at) {
          windowStart windowEnd good total compliance dataCoverage budgetRemaining state
          burnRates { windowSeconds rate }
          exhaustionForecast exhaustionForecastEarliest exhaustionForecastLatest
        }
      }
    }
  }
}
"""


# ---- the fleet -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """One generated objective: its service's externalId, target and buckets."""

    key: str
    target: float
    series: BucketSeries


def _series(rng: np.random.Generator, target: float, start: datetime, size: int) -> BucketSeries:
    step = np.arange(size)
    day = 2 * np.pi * step / DAY_BUCKETS
    scale = rng.lognormal(np.log(800), 1.6)  # events per bucket at the daily mean
    weekday = (start.weekday() + step // DAY_BUCKETS) % 7
    rate = scale * (1 + 0.6 * np.sin(day + rng.uniform(0, 2 * np.pi)))
    rate *= np.where(weekday >= 5, 0.6, 1.0)
    total = rng.poisson(rate).astype(np.float64)
    allowed = 1 - target / 100
    bad_share = np.full(size, allowed * rng.uniform(0.02, 0.7))
    for _ in range(rng.poisson(INCIDENTS)):  # 15 minutes to 4 hours, 0.1 % to 20 % bad
        begin = int(rng.integers(size))
        bad_share[begin : begin + int(rng.integers(3, 49))] = 10 ** rng.uniform(-3, -0.7)
    bad = rng.binomial(total.astype(np.int64), bad_share).astype(np.float64)
    good = total - bad
    missing = rng.random(size) < MISSING_SHARE
    if rng.random() < GAP_CHANCE:
        begin = int(rng.integers(size))
        missing[begin : begin + int(rng.integers(6, 145))] = True
    if rng.random() < NO_DATA_SHARE:
        missing[:] = True
    good[missing] = np.nan
    total[missing] = np.nan
    return BucketSeries(start, good, total)


def generate(objectives: int, days: int, seed: int) -> list[Planned]:
    """`objectives` series of `days` + the lead-in, ending at the bucket holding `AT`."""
    rng = np.random.default_rng(seed)
    end = objective_window(WindowKind.ROLLING, days, AT).end + BUCKET
    start = end - timedelta(days=days) - LOOKBACK
    size = (end - start) // BUCKET
    targets = rng.choice([t for t, _ in TARGETS], objectives, p=[p for _, p in TARGETS])
    return [
        Planned(f"svc-{index:05d}", float(target), _series(rng, float(target), start, size))
        for index, target in enumerate(targets)
    ]


def services_bundle(fleet: Sequence[Planned]) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "services": [
            {"externalId": p.key, "name": f"Service {p.key}", "tier": f"TIER_{1 + i % 4}"}
            for i, p in enumerate(fleet)
        ],
    }


def _prometheus(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def openslo_file(fleet: Sequence[Planned], days: int) -> str:
    """One SLO per service: a ratio of two Prometheus counters, named after the service."""
    documents = [
        {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": f"{p.key}-availability"},
            "spec": {
                "service": f"{SOURCE}:{p.key}",
                "budgetingMethod": "Occurrences",
                "timeWindow": [{"duration": f"{days}d", "isRolling": True}],
                "indicator": {
                    "spec": {
                        "ratioMetric": {
                            "counter": True,
                            "good": _prometheus(
                                f'http_requests_total{{service="{p.key}",code!~"5.."}}'
                            ),
                            "total": _prometheus(f'http_requests_total{{service="{p.key}"}}'),
                        }
                    }
                },
                "objectives": [{"target": round(p.target / 100, 6)}],
            },
        }
        for p in fleet
    ]
    return yaml.safe_dump_all(documents, sort_keys=False)


def touched_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days that [start, end) touches: one `TelemetryDay` node each."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# ---- checks ----------------------------------------------------------------------------


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-9)


def same_status(a: ObjectiveStatus, b: ObjectiveStatus) -> bool:
    figures = (
        (a.good, b.good),
        (a.total, b.total),
        (a.compliance, b.compliance),
        (a.data_coverage, b.data_coverage),
        (a.budget_remaining, b.budget_remaining),
        *((ra, rb) for (_, ra), (_, rb) in zip(a.burn_rates, b.burn_rates, strict=True)),
    )
    return (
        (a.window, a.state) == (b.window, b.state)
        and [seconds for seconds, _ in a.burn_rates] == [seconds for seconds, _ in b.burn_rates]
        and all(_close(x, y) for x, y in figures)
    )


def check_statuses(expected: Sequence[ObjectiveStatus], got: Sequence[ObjectiveStatus]) -> None:
    wrong = sum(1 for e, g in zip(expected, got, strict=True) if not same_status(e, g))
    if wrong:
        raise RuntimeError(f"{wrong} of {len(expected)} statuses differ from the engine's")


def check_graphql(expected: ObjectiveStatus, data: dict[str, Any] | None) -> None:
    """A GraphQL answer against the engine's status of the objective."""
    objectives = ((data or {}).get("node") or {}).get("objectives") or []
    if len(objectives) != 1:
        raise RuntimeError(f"GraphQL: expected one objective, got {data}")
    got = objectives[0]["status"]
    if got["state"] != expected.state.value or not _close(
        got["budgetRemaining"], expected.budget_remaining
    ):
        raise RuntimeError(f"GraphQL: status {got} differs from the engine's {expected}")


# ---- measuring -------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    """Rounds of one whole-set measurement."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def spread(self) -> str:
        if len(self.seconds) == 1:
            return "1 round"
        return f"{len(self.seconds)} rounds, {min(self.seconds):.2f}-{max(self.seconds):.2f} s"


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    memory: Memory
    tree: str
    generation_seconds: float = 0.0
    series_kib: int = 0
    engine: Timing = field(default_factory=Timing)
    engine_traced_kib: int = 0  # tracemalloc's peak over one pass of the pure engine
    states: dict[str, int] = field(default_factory=dict)
    setup: dict[str, float] = field(default_factory=dict)
    telemetry_days: int = 0
    days_read: int = 0
    load_objectives_seconds: float = 0.0
    statuses: Timing = field(default_factory=Timing)
    raw: Timing = field(default_factory=Timing)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # path: seconds
    load: list[tuple[str, float]] = field(default_factory=list)
    total_seconds: float = 0.0
    jvm_rusage_kib: int = 0
    # The telemetry sync: seconds per round by path, and what one run did.
    sync: dict[str, Timing] = field(default_factory=dict)
    sync_fetched: int = 0
    sync_updated: int = 0
    sync_requests: int = 0


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await work()
    return time.perf_counter() - start, result


def rotated(items: Sequence[T], shift: int) -> list[T]:
    """`items` starting at `shift` (modulo their number): taking turns this way, no item
    always runs right after the same one."""
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


@contextlib.contextmanager
def phase(memory: Memory, name: str) -> Iterator[None]:
    """`Memory.phase`, after handing freed heap back to the kernel (glibc's
    ``malloc_trim``), so that the phase's RSS at start is what is live."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with memory.phase(name):
        yield


def measure_engine(report: Report, fleet: Sequence[Planned]) -> list[ObjectiveStatus]:
    """Rounds of `objective_status` over the fleet in memory; the statuses."""
    window = objective_window(WindowKind.ROLLING, report.args.days, AT)
    statuses: list[ObjectiveStatus] = []
    with phase(report.memory, "pure engine: `objective_status`"):
        for _ in range(report.args.repeat):
            start = time.perf_counter()
            statuses = [objective_status(p.series, p.target, window, AT) for p in fleet]
            report.engine.seconds.append(time.perf_counter() - start)
    tracemalloc.start()  # one more pass, untimed: the engine's own allocations
    for p in fleet:
        objective_status(p.series, p.target, window, AT)
    report.engine_traced_kib = tracemalloc.get_traced_memory()[1] // 1024
    tracemalloc.stop()
    for status in statuses:
        report.states[status.state.value] = report.states.get(status.state.value, 0) + 1
    return statuses


class RawFloor(Raw):
    """The floor: the day nodes in one read transaction, values only, into a matrix."""

    async def days(self, keys: Sequence[str], objectives: int) -> tuple[np.ndarray, np.ndarray]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[list[Any]]:
            result = await tx.run(RAW_TELEMETRY_DAYS, {"keys": list(keys)})
            return await result.values()

        async with self._driver.session(database=self._database) as session:
            rows = await session.execute_read(work)
        days = len(keys) // objectives
        where = {key: divmod(n, days) for n, key in enumerate(keys)}
        good = np.full((objectives, days * DAY_BUCKETS), np.nan)
        total = np.full((objectives, days * DAY_BUCKETS), np.nan)
        for key, good_day, total_day in rows:
            objective, day = where[key]
            span = slice(day * DAY_BUCKETS, (day + 1) * DAY_BUCKETS)
            good[objective, span] = np.frombuffer(good_day, dtype="<f8")
            total[objective, span] = np.frombuffer(total_day, dtype="<f8")
        return good, total


async def set_up(graph: Graph, report: Report, fleet: Sequence[Planned]) -> list[Objective]:
    """Services, their SLOs and every objective's buckets, the hub's way; the objectives
    in fleet order."""
    progress(f"set-up: {len(fleet):,} services, one SLO each, then their buckets")
    objectives_repo = ObjectiveRepository(graph)
    with phase(report.memory, "set-up: services, SLOs, buckets"):
        report.setup["services (`BundleImporter.load`, one bundle)"] = await time_it(
            lambda: BundleImporter(graph).load(services_bundle(fleet))
        )
        text = openslo_file(fleet, report.args.days)
        report.setup["SLOs (`parse_documents` + `import_slos`, one file)"] = await time_it(
            lambda: objectives_repo.import_slos(parse_documents(text), ACTOR)
        )
        by_name = {o.name: o for o in await objectives_repo.measured_objectives()}
        objectives = [by_name[f"{p.key}-availability"] for p in fleet]
        if {telemetry_sources(o, []).primary for o in objectives} != {"prometheus"}:
            raise RuntimeError("the imported objectives are not measured by prometheus")
        telemetry = TelemetryRepository(graph)
        start = time.perf_counter()
        for done, (p, objective) in enumerate(zip(fleet, objectives, strict=True), start=1):
            await telemetry.store(objective.id, "prometheus", p.series)
            if done % 500 == 0:
                progress(f"  stored {done:,} of {len(fleet):,} objectives' buckets")
        report.setup["buckets (`TelemetryRepository.store`, one call per objective)"] = (
            time.perf_counter() - start
        )
    series = fleet[0].series
    report.telemetry_days = len(fleet) * len(touched_days(series.start, series.end))
    for name, seconds in report.setup.items():
        progress(f"  {name}: {seconds:.1f} s")
    return objectives


async def measure_whole_set(
    graph: Graph,
    raw: RawFloor,
    report: Report,
    objectives: Sequence[Objective],
    expected: Sequence[ObjectiveStatus],
) -> None:
    """Rounds of `StatusEngine.statuses` for all objectives and of the raw floor, taking
    turns in rotating order."""
    engine = StatusEngine(graph, SloSettings())
    span = measured_span(objectives[0], AT)[1]
    days = touched_days(span.start, span.end)
    report.days_read = len(days)
    keys = [day_key(o.id, "prometheus", day) for o in objectives for day in days]
    report.load_objectives_seconds = await time_it(ObjectiveRepository(graph).measured_objectives)

    # Warm-up: plans, pages and the driver.
    await raw.days(keys[-WARMUP_OBJECTIVES * len(days) :], WARMUP_OBJECTIVES)
    await engine.statuses(objectives[-WARMUP_OBJECTIVES:], AT)

    n = len(objectives)
    report.load.append(("whole set", os.getloadavg()[0]))
    progress(f"{report.args.repeat} rounds of statuses and raw floor ({len(keys):,} day nodes)")
    variants: tuple[tuple[str, Timing, Callable[[], Awaitable[Any]]], ...] = (
        ("`statuses`", report.statuses, lambda: engine.statuses(objectives, AT)),
        ("raw floor", report.raw, lambda: raw.days(keys, n)),
    )
    for round_ in range(report.args.repeat):
        for name, timing, work in rotated(variants, round_):
            with phase(report.memory, f"{name} of {n:,}, round {round_ + 1}"):
                seconds, found = await timed(work)
            timing.seconds.append(seconds)
            if timing is report.statuses:
                check_statuses(expected, found)
            del found  # before the next phase starts
        progress(
            f"  round {round_ + 1}: statuses {report.statuses.seconds[-1]:.1f} s, "
            f"raw floor {report.raw.seconds[-1]:.1f} s"
        )


Ask = Callable[[str], Awaitable[dict[str, Any] | None]]


class GraphQLClient:
    """One `status(at)` query: in-process through the schema, or over HTTP."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.schema = build_schema()

    def variables(self, service_id: str) -> dict[str, Any]:
        return {"id": service_id, "at": AT.isoformat()}

    async def in_process(self, service_id: str) -> dict[str, Any] | None:
        result = await self.schema.execute(
            STATUS_QUERY,
            variable_values=self.variables(service_id),
            context_value=Context.create(self.graph, VIEWER, ApiSettings(), slo=SloSettings()),
        )
        if result.errors:
            raise RuntimeError(f"GraphQL errors: {result.errors}")
        return result.data

    def over_http(self, client: httpx.AsyncClient, token: str) -> Ask:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

        async def ask(service_id: str) -> dict[str, Any] | None:
            body = {"query": STATUS_QUERY, "variables": self.variables(service_id)}
            response = await client.post("/graphql", json=body, headers=headers)
            answer: dict[str, Any] = response.json()
            if response.status_code != 200 or answer.get("errors"):
                raise RuntimeError(f"GraphQL over HTTP: {response.status_code} {answer}")
            data: dict[str, Any] | None = answer["data"]
            return data

        return ask


async def sample_latencies(
    paths: dict[str, Ask],
    picks: Sequence[int],
    service_ids: Sequence[str],
    expected: Sequence[ObjectiveStatus],
) -> dict[str, list[float]]:
    """Warm up, then time one request per pick on every path, the paths taking turns
    (in rotating order) so that they share the machine's moods; every answer is checked
    after the timing."""
    latencies: dict[str, list[float]] = {label: [] for label in paths}
    answers: list[tuple[int, dict[str, Any] | None]] = []
    order = list(paths.items())
    for n, index in enumerate(picks):
        for label, ask in rotated(order, n):
            seconds, data = await timed(partial(ask, service_ids[index]))
            if n < WARMUP_REQUESTS:
                check_graphql(expected[index], data)
            else:
                latencies[label].append(seconds)
                answers.append((index, data))
    for index, data in answers:
        check_graphql(expected[index], data)
    return latencies


async def measure_graphql(
    graph: Graph,
    connection: GraphConnection,
    data_dir: Path,
    report: Report,
    objectives: Sequence[Objective],
    expected: Sequence[ObjectiveStatus],
) -> None:
    """Random services' status, in-process and over HTTP taking turns."""
    args = report.args
    rng = np.random.default_rng(args.seed + 1)
    picks = [int(i) for i in rng.integers(len(objectives), size=WARMUP_REQUESTS + args.requests)]
    service_ids = [o.service_id or "" for o in objectives]
    client = GraphQLClient(graph)
    paths: dict[str, Ask] = {"in-process": client.in_process}
    async with contextlib.AsyncExitStack() as stack:
        if args.http:
            token = await TokenRepository(graph).create(VIEWER.user, Role.VIEWER, None)
            app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
            url = stack.enter_context(serve_app(app))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
            paths["HTTP"] = client.over_http(http, token)
        report.load.append(("GraphQL", os.getloadavg()[0]))
        progress(f"GraphQL: {args.requests} requests on each of {', '.join(paths)}")
        with phase(report.memory, "GraphQL"):
            report.latencies = await sample_latencies(paths, picks, service_ids, expected)
    for label, seconds in report.latencies.items():
        p50, p95 = percentile(seconds, 0.5), percentile(seconds, 0.95)
        progress(f"  {label}: p50 {ms(p50)}, p95 {ms(p95)}")


async def measure(
    connection: GraphConnection,
    data_dir: Path,
    report: Report,
    fleet: list[Planned],
    expected: list[ObjectiveStatus],
) -> None:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = RawFloor(connection)
    try:
        await migrate(graph)
        report.load.append(("set-up", os.getloadavg()[0]))
        objectives = await set_up(graph, report, fleet)
        del fleet[:]  # from here on only the graph holds the buckets
        if not report.args.sync_only:
            await measure_whole_set(graph, raw, report, objectives, expected)
            await measure_graphql(graph, connection, data_dir, report, objectives, expected)
        if report.args.sync:
            # Last: the sync rewrites the buckets the statuses above were checked against.
            report.load.append(("sync", os.getloadavg()[0]))
            await measure_sync(graph, report, objectives)
        report.load.append(("end", os.getloadavg()[0]))
    finally:
        await raw.close()
        await graph.close()


# ---- the telemetry sync --------------------------------------------------------------

SYNC_INTERVAL = timedelta(seconds=300)  # a routine run: the watermarks one interval back
SYNC_STEP = 60  # the hub's default Prometheus step
SYNC_AT = AT.replace(second=0, microsecond=0)


class FakePrometheus:
    """`/api/v1/query_range` answering any query with a counter on the step grid: a
    rate fixed by the query's text (good events are 99.9 % of it), after `latency`
    seconds, as if the query took that long to evaluate."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.requests = 0
        self.app = Starlette(routes=[Route("/api/v1/query_range", self.query_range)])

    async def query_range(self, request: Request) -> JSONResponse:
        self.requests += 1
        query = request.query_params["query"]
        start, end = float(request.query_params["start"]), float(request.query_params["end"])
        step = int(request.query_params["step"])
        rate = 1.0 + sum(query.encode()) % 97
        if "code!~" in query:
            rate *= 0.999
        first = math.ceil(start / step) * step
        values = [[t, f"{rate * (t - 1.7e9):.3f}"] for t in range(first, int(end) + 1, step)]
        await asyncio.sleep(self.latency)
        result = [{"metric": {}, "values": values}]
        return JSONResponse(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )


async def measure_sync(graph: Graph, report: Report, objectives: Sequence[Objective]) -> None:
    """Rounds of a routine telemetry sync of every objective, the former path and the
    batched one taking turns, each from the same watermarks."""
    a = report.args
    fake = FakePrometheus(a.prometheus_ms / 1000)
    sync = SyncRepository(graph)
    start = to_iso(SYNC_AT - SYNC_INTERVAL)
    watermarks = {f"{o.id}|primary": start for o in objectives}
    paths = (
        ("former: one objective a batch, one fetch at a time", 1, 1),
        (f"batched, {a.sync_concurrency} fetches in flight", BATCH_OBJECTIVES, a.sync_concurrency),
    )
    seen: dict[str, tuple[int, int, dict[str, str]]] = {}
    with serve_app(fake.app) as url:
        for round_ in range(a.repeat):
            for name, batch, concurrency in rotated(paths, round_):
                await sync.write_batch("prometheus", watermarks=watermarks)
                settings = PrometheusSettings(url=url, max_concurrency=concurrency)
                fake.requests = 0
                with phase(report.memory, f"sync: {name}, round {round_ + 1}"):
                    async with PrometheusSource(settings) as source:
                        seconds, run = await timed(
                            partial(
                                run_telemetry_sync,
                                graph,
                                PrometheusMetrics(source),
                                SloSettings(),
                                step_seconds=SYNC_STEP,
                                now=SYNC_AT,
                                max_concurrency=concurrency,
                                batch_objectives=batch,
                            )
                        )
                if run.status != "SUCCEEDED":
                    raise RuntimeError(f"sync ({name}) failed: {run.error}")
                after = await sync.watermarks("prometheus")
                seen[name] = (run.fetched, run.updated, after)
                report.sync.setdefault(name, Timing()).seconds.append(seconds)
                report.sync_requests = fake.requests
                progress(f"  sync round {round_ + 1}, {name}: {seconds:.1f} s")
    if len({(f, u, json.dumps(w, sort_keys=True)) for f, u, w in seen.values()}) != 1:
        raise RuntimeError(f"the sync paths disagree: {[(f, u) for f, u, _ in seen.values()]}")
    report.sync_fetched, report.sync_updated, _ = next(iter(seen.values()))


# ---- the report ------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.slo --objectives {args.objectives} --days {args.days} "
        f"--requests {args.requests} --repeat {args.repeat} --seed {args.seed} "
        f"--heap {args.heap}"
        + ("" if args.http else " --no-http")
        + (
            f" --sync-concurrency {args.sync_concurrency} --prometheus-ms {args.prometheus_ms:g}"
            if args.sync
            else " --no-sync"
        )
        + (" --sync-only" if args.sync_only else "")
    )


def jvm(kib: int) -> str:
    """A JVM figure; blank in the phases before the server started."""
    return mib(kib) if kib else ""


def markdown(report: Report) -> str:
    a = report.args
    n = a.objectives
    buckets = (a.days * 86400 + int(LOOKBACK.total_seconds())) // 300
    loads = ", ".join(f"{what} {load:.2f}" for what, load in report.load)
    lines = [
        "### Run",
        "",
        f"- command: `{command(a)}`",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, "
        f"{platform.system()} {platform.release()}; 1-minute load average: {loads}",
        f"- python {platform.python_version()}, numpy {version('numpy')}, neo4j driver "
        f"{version('neo4j')}, strawberry-graphql {version('strawberry-graphql')}, "
        f"uvicorn {version('uvicorn')}, arcadedb-embedded {version('arcadedb-embedded')}, "
        f"JVM heap {a.heap}",
        f"- hub code measured: {report.tree}",
        f"- fleet: {n:,} objectives (one per service), rolling {a.days} days, at "
        f"`{AT.isoformat()}`; {buckets:,} buckets each ({a.days} days + {LOOKBACK.days} "
        f"days lead-in), {n * buckets:,} in all, generated in "
        f"{report.generation_seconds:.1f} s ({mib(report.series_kib)} of arrays)",
        f"- states: {', '.join(f'{k} {v:,}' for k, v in sorted(report.states.items()))}",
        f"- wall time of the whole run: {report.total_seconds:,.0f} s",
    ]
    if report.statuses.seconds:
        lines += whole_set_markdown(report)
    lines += [
        "",
        "### Set-up (timed once; not part of the targets)",
        "",
        "| step | time |",
        "|---|---:|",
        *(f"| {name} | {secs(seconds)} |" for name, seconds in report.setup.items()),
        "",
        f"{report.telemetry_days:,} `TelemetryDay` nodes stored.",
    ]
    if report.latencies:
        lines += graphql_markdown(report)
    if report.sync:
        lines += sync_markdown(report)
    lines += memory_markdown(report)
    return "\n".join(lines)


def whole_set_markdown(report: Report) -> list[str]:
    n = report.args.objectives
    ratio = report.statuses.median / report.raw.median
    lines = [
        "",
        f"### Status of the whole set ({n:,} objectives)",
        "",
        "Target: under 30 s for 2,000 objectives. Time is the median of the rounds.",
        "",
        "| what | time | rounds | per objective | vs raw floor |",
        "|---|---:|---|---:|---:|",
    ]
    for what, timing in (
        ("pure engine: `objective_status` over in-memory `BucketSeries`", report.engine),
        ("**hub: `StatusEngine.statuses` through the graph**", report.statuses),
        ("raw floor: one `UNWIND` read + `np.frombuffer` into a matrix", report.raw),
    ):
        vs_raw = "" if timing is report.engine else f"{timing.median / report.raw.median:.2f}x"
        lines.append(
            f"| {what} | {secs(timing.median)} | {timing.spread()} | {ms(timing.median / n)} "
            f"| {vs_raw} |"
        )
    lines += [
        "",
        f"**Ratio: the hub's statuses take {ratio:.2f}x the raw floor.** Every objective "
        f"reads {report.days_read} day nodes (the UTC days its window and lead-in touch), "
        f"{n * report.days_read:,} in all. Loading the objectives themselves "
        f"(`measured_objectives`, once): {secs(report.load_objectives_seconds)}.",
    ]
    return lines


def graphql_markdown(report: Report) -> list[str]:
    lines = [
        "",
        f"### One objective's `status(at)` over GraphQL (after {WARMUP_REQUESTS} warm-up "
        "requests, random services)",
        "",
        "Target: p95 under 50 ms.",
        "",
        "| path | requests | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, seconds in report.latencies.items():
        p50, p95, p99 = (percentile(seconds, f) for f in (0.5, 0.95, 0.99))
        lines.append(
            f"| {label} | {len(seconds)} | {ms(p50)} | {ms(p95)} | {ms(p99)} | {ms(max(seconds))} |"
        )
    return lines


def sync_markdown(report: Report) -> list[str]:
    a, n = report.args, report.args.objectives
    former, batched = (report.sync[name] for name in report.sync)
    return [
        "",
        f"### Telemetry sync of {n:,} objectives (a routine run, watermarks 300 s back)",
        "",
        f"Against a loopback fake Prometheus taking {a.prometheus_ms:g} ms a request; "
        f"each run sent {report.sync_requests:,} `query_range` requests, fetched "
        f"{report.sync_fetched:,} points and wrote {report.sync_updated:,} buckets.",
        "",
        "| path | time | rounds | per objective |",
        "|---|---:|---|---:|",
        *(
            f"| {name} | {secs(t.median)} | {t.spread()} | {ms(t.median / n)} |"
            for name, t in report.sync.items()
        ),
        "",
        f"**The batched sync takes {batched.median / former.median:.2f}x the former path's time.**",
    ]


def memory_markdown(report: Report) -> list[str]:
    memory = report.memory
    lines = [
        "",
        "### Memory",
        "",
        "| phase | Python RSS at start | Python peak | JVM RSS at start | JVM peak |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {mib(m.python_start)} | {mib(m.python_peak)} | {jvm(m.jvm_start)} "
            f"| {jvm(m.jvm_peak)} |"
            for name, m in memory.phases.items()
        ),
        "",
        f"- the pure engine's own allocations peaked at {report.engine_traced_kib:,} KiB "
        "(tracemalloc, one more pass); its input arrays are in the fleet line above",
        f"- peak over the whole run: Python {mib(memory.python_overall)}, JVM "
        f"{mib(memory.jvm_overall)} (VmHWM); JVM `ru_maxrss` after it exited: "
        f"{mib(report.jvm_rusage_kib)}",
    ]
    if not memory.resettable:
        lines.append("- `clear_refs` could not be written: per-phase peaks are since the start")
    return lines


# ---- entry -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.slo",
        description="Objective status at scale: the engine, the graph read, GraphQL; on a "
        "fresh embedded server of its own.",
    )
    parser.add_argument("--objectives", type=int, default=2000, help="objectives (= services)")
    parser.add_argument("--days", type=int, default=28, help="rolling window in days")
    parser.add_argument("--requests", type=int, default=200, help="timed GraphQL requests")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the whole-set runs")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated fleet")
    parser.add_argument(
        "--heap",
        default=EmbeddedGraphSettings().heap,
        help="JVM heap of the embedded server (default: the hub's own default)",
    )
    parser.add_argument(
        "--http",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time GraphQL over HTTP (default: yes)",
    )
    parser.add_argument(
        "--sync",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the telemetry sync against a loopback fake Prometheus (default: yes)",
    )
    parser.add_argument(
        "--sync-only",
        action="store_true",
        help="after the set-up, time only the telemetry sync",
    )
    parser.add_argument(
        "--sync-concurrency",
        type=int,
        default=PrometheusSettings().max_concurrency,
        help="fetches in flight in the batched sync (default: the hub's max_concurrency)",
    )
    parser.add_argument(
        "--prometheus-ms",
        type=float,
        default=10.0,
        help="the fake Prometheus' evaluation time per query_range request, in ms",
    )
    args = parser.parse_args(argv)
    if args.sync_only and not args.sync:
        parser.error("--sync-only needs the sync (drop --no-sync)")
    if args.sync_concurrency < 1 or args.prometheus_ms < 0:
        parser.error("--sync-concurrency: at least 1; --prometheus-ms: not negative")
    if args.objectives < WARMUP_OBJECTIVES or not 1 <= args.days <= 365:
        parser.error(f"need --objectives >= {WARMUP_OBJECTIVES} and 1 <= --days <= 365")
    if min(args.requests, args.repeat) < 1:
        parser.error("--requests and --repeat: at least 1")
    return args


def on_fleet(
    objectives: int,
    days: int,
    heap: str,
    prefix: str,
    measure: Callable[[GraphConnection, Report, Sequence[Planned]], Awaitable[R]],
) -> R:
    """`measure` run on this benchmark's fleet of `objectives` (generated with the
    default seed) on a fresh embedded server in a temporary directory: the set-up the
    job benchmarks (at-risk escalation, error-budget policies) share."""
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    slo_args = parse_args(["--objectives", str(objectives), "--days", str(days)])
    memory = Memory()
    report = Report(slo_args, memory, hub_tree())
    progress(f"generating {objectives:,} objectives' buckets ({days} + 3 days)")
    fleet = generate(objectives, days, slo_args.seed)
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as data_dir,
        embedded_server(Path(data_dir), heap, memory) as connection,
    ):
        return asyncio.run(measure(connection, report, fleet))


@contextlib.contextmanager
def embedded_server(data_dir: Path, heap: str, memory: Memory) -> Iterator[GraphConnection]:
    """A fresh embedded server in `data_dir`, its JVM watched by `memory`; stopped at the
    end, even on error (the end of its log shown if it died)."""
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=heap))
    try:
        progress(f"starting the embedded server (heap {heap})")
        connection = server.attach_or_start()
        state = server.read_state()
        memory.jvm_pid = None if state is None else state.pid
        yield connection
    except Exception:
        if not server.child_alive():
            progress(f"the embedded server died; the end of its log:\n{server.log_tail()}")
        raise
    finally:
        memory.jvm_pid = None
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    memory = Memory()
    report = Report(args, memory, hub_tree())
    progress(f"generating {args.objectives:,} objectives' buckets ({args.days} + 3 days)")
    with phase(memory, "generating the buckets"):
        start = time.perf_counter()
        fleet = generate(args.objectives, args.days, args.seed)
        report.generation_seconds = time.perf_counter() - start
    report.series_kib = sum(p.series.good.nbytes + p.series.total.nbytes for p in fleet) // 1024
    progress(f"pure engine: {args.repeat} rounds of objective_status for all")
    expected = measure_engine(report, fleet)
    progress(f"  {report.engine.median:.2f} s; states {report.states}")
    with (
        tempfile.TemporaryDirectory(prefix="hub-bench-slo-") as data_dir,
        embedded_server(Path(data_dir), args.heap, memory) as connection,
    ):
        asyncio.run(measure(connection, Path(data_dir), report, fleet, expected))
    report.jvm_rusage_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.total_seconds = time.perf_counter() - started
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
