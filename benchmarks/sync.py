"""CMDB sync throughput: the hub's ``servicenow-cmdb`` sync against raw batched ``MERGE``.

Run as ``.venv/bin/python -m benchmarks.sync [--cis N] [--relations M] [--page-size P]
[--batch-size B] [--heap H]``; ``--cis 10000`` makes a quick run.

The benchmark fills the fake ServiceNow of the tests (``tests/fakes``, served in this
process on loopback by uvicorn in a thread) with a deterministic CMDB: CIs of a mix of
classes, about one in 200 of them a business service, and relationships between them,
nine in ten of a dependency type. It starts its own embedded ArcadeDB server in a
temporary directory (and stops it at the end, even on error), applies the hub's
migrations, warms every path up on a small CMDB of its own, and then measures:

- paging only: the Table API pages of both tables through the hub's `SourceClient`
  (HTTP and JSON decoding, no graph), then through `ServiceNowCmdb.pages` (which adds
  parsing and validation), then the deletion check's listing of every sys_id;
- the raw ceiling: the same rows through the same async ``neo4j`` driver to the same
  server, ``UNWIND $rows AS row MERGE (c:BenchCI {id: row.id}) SET c += row.props`` and
  ``UNWIND $rows AS row MATCH (a:BenchCI {id: row.p}) MATCH (b:BenchCI {id: row.c})
  MERGE (a)-[:DEPENDS_ON]->(b)`` in batches of 2,000 rows, one transaction each, with a
  unique constraint on ``BenchCI.id``;
- the hub: ``run_sync(graph, ServiceNowCmdb(client, page_size))``, a full sync into an
  empty source, then an incremental one after about 1 % of the CIs and relations
  changed (and the raw ``MERGE`` of those changed rows beside it).

Time inside the hub's sync is split, without changing the hub, by timing each statement
`Transaction.run` sends, the sync graph's transactions (the unit of work against
session, begin and commit) and the connector's key listing; what is left is waiting for
pages and the pipeline's own Python. The connector's page time is reported apart: the
pipeline fetches pages while it writes.

Memory and CPU: the peak RSS of this Python process (which also holds the fake's data)
and of the JVM child, per phase, and the CPU time each used in it. Each phase starts by
resetting the kernel's high-water mark (``/proc/<pid>/clear_refs``), so its VmHWM is the
phase's own peak; the fake's share is the RSS it added while being filled.

The markdown report goes to stdout, progress to stderr. Raw Cypher lives here only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, LiteralString

from hub.connectors.http import SourceClient
from hub.connectors.servicenow import (
    CI_FIELDS,
    DEPENDENCY_TYPES,
    PAGE_SIZE,
    RELATION_FIELDS,
    ServiceNowCmdb,
    parse_ci,
)
from hub.domain.sources import SourcePage
from hub.graph.client import Graph, GraphConnection, Transaction
from hub.graph.cypher import Cypher, all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.settings import EmbeddedGraphSettings
from hub.sync.pipeline import BATCH_SIZE, run_sync

# The fakes live in tests/ and import as `fakes` (pytest puts tests/ on sys.path).
_TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from fakes.server import serve_app  # noqa: E402
from fakes.servicenow import FakeServiceNow  # noqa: E402

from benchmarks.graph import Raw  # noqa: E402 - the same raw ceiling

NAME = "servicenow-cmdb"
SOURCE = "servicenow"
WARMUP_NAME = "servicenow-cmdb-warmup"
WARMUP_SOURCE = "snwarmup"
WARMUP_CIS = 2000
USER = "hub"
PASSWORD = "bench-only-pw"  # noqa: S105 - a fake on loopback
NOW = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)  # the fake's clock at the first sync
HISTORY = timedelta(days=365)  # records were last updated within the year before
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# CMDB classes and their share of the CIs that are not services, by layer from the
# top: a CI of one layer depends on CIs of the layers below it.
LAYERS: tuple[tuple[tuple[str, float], ...], ...] = (
    (("cmdb_ci_business_app", 0.05),),
    (("cmdb_ci_appl", 0.15),),
    (("cmdb_ci_app_server", 0.12), ("cmdb_ci_db_instance", 0.08), ("cmdb_ci_database", 0.05)),
    (("cmdb_ci_vm_instance", 0.20),),
    (("cmdb_ci_linux_server", 0.22), ("cmdb_ci_win_server", 0.10)),
    (("cmdb_ci_lb", 0.03),),
)
SERVICE_CLASSES = (
    ("cmdb_ci_service_business", 0.6),
    ("cmdb_ci_service_technical", 0.3),
    ("cmdb_ci_service_discovered", 0.1),
)
HARDWARE = frozenset({"cmdb_ci_linux_server", "cmdb_ci_win_server", "cmdb_ci_lb"})
# Relationship types and their shares: nine in ten are dependencies.
RELATION_TYPES = (
    ("Depends on::Used by", 0.40),
    ("Runs on::Runs", 0.20),
    ("Hosted on::Hosts", 0.15),
    ("Uses::Used by", 0.10),
    ("Contains::Contained by", 0.05),
    ("Managed by::Manages", 0.10),
)
ENVIRONMENTS = ("Production", "Production", "Production", "Test", "Development")
LOCATIONS = tuple(f"DC {n:02d}" for n in range(1, 21))

# ---- raw Cypher: the ceiling -------------------------------------------------------------

RAW_CONSTRAINT: LiteralString = (
    "CREATE CONSTRAINT bench_ci_id IF NOT EXISTS FOR (n:BenchCI) REQUIRE n.id IS UNIQUE"
)
RAW_UPSERT_CIS: LiteralString = (
    "UNWIND $rows AS row MERGE (c:BenchCI {id: row.id}) SET c += row.props"
)
RAW_UPSERT_RELATIONS: LiteralString = (
    "UNWIND $rows AS row "
    "MATCH (a:BenchCI {id: row.p}) MATCH (b:BenchCI {id: row.c}) "
    "MERGE (a)-[:DEPENDS_ON]->(b)"
)
COUNTS: dict[str, LiteralString] = {
    "hub components": (
        "MATCH (:ExternalRef {source: $source})-[:REFERS_TO]->(c:Component) RETURN count(c) AS n"
    ),
    "hub DEPENDS_ON": (
        "MATCH (:Component)-[r:DEPENDS_ON]->(:Component) WHERE r.source = $source "
        "RETURN count(r) AS n"
    ),
    "hub RELATES_TO": (
        "MATCH (:Component)-[r:RELATES_TO]->(:Component) WHERE r.source = $source "
        "RETURN count(r) AS n"
    ),
    "raw nodes": "MATCH (c:BenchCI) RETURN count(c) AS n",
    "raw edges": "MATCH (:BenchCI)-[r:DEPENDS_ON]->(:BenchCI) RETURN count(r) AS n",
}


Work = Callable[[Transaction], Awaitable[Any]]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the CMDB in the fake ----------------------------------------------------------------


@dataclass(slots=True)
class Cmdb:
    """What was put in one fake: counts, and the sys_ids a delta picks from."""

    fake: FakeServiceNow
    services: int = 0
    cis: int = 0  # services included
    relations: int = 0
    dependencies: int = 0
    ci_ids: list[str] = field(default_factory=list)
    relation_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.cis + self.relations


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in weighted], [share for _, share in weighted])[0]


def _stamp(rng: random.Random) -> str:
    """A last-update time within `HISTORY` before `NOW`, at least an hour before it."""
    seconds = rng.uniform(3600, HISTORY.total_seconds())
    return (NOW - timedelta(seconds=seconds)).strftime(TIME_FORMAT)


def populate(cis: int, relations: int, services: int, seed: int, prefix: str = "") -> Cmdb:
    """A fake ServiceNow holding `cis` CIs (`services` of them services) and `relations`
    relationships between distinct pairs, a parent always above its child."""
    started = time.perf_counter()
    rng = random.Random(seed)
    fake = FakeServiceNow(username=USER, password=PASSWORD, now=NOW)
    cmdb = Cmdb(fake)
    for name in LOCATIONS:
        fake.add_location(f"{prefix}{name}")

    def sys_id() -> str:
        return f"{rng.getrandbits(128):032x}"

    layers: list[list[str]] = [[]]
    for index in range(services):
        stamp = _stamp(rng)
        layers[0].append(
            fake.add_service(
                f"{prefix}Service {index:05d}",
                sys_class_name=_pick(rng, SERVICE_CLASSES),
                sys_id=sys_id(),
                sys_created_on=stamp,
                sys_updated_on=stamp,
            )
        )
    others = cis - services
    total_share = sum(share for layer in LAYERS for _, share in layer)
    made = 0
    for depth, layer in enumerate(LAYERS, start=1):
        members: list[str] = []
        for position, (class_name, share) in enumerate(layer):
            last = depth == len(LAYERS) and position == len(layer) - 1
            count = others - made if last else round(others * share / total_share)
            made += count
            for index in range(count):
                stamp = _stamp(rng)
                fields: dict[str, object] = {
                    "environment": rng.choice(ENVIRONMENTS),
                    "location": f"{prefix}{rng.choice(LOCATIONS)}",
                    "sys_created_on": stamp,
                    "sys_updated_on": stamp,
                }
                if class_name in HARDWARE:
                    fields["serial_number"] = f"SN{rng.getrandbits(40):010X}"
                    fields["fqdn"] = f"{class_name[8:]}-{index:06d}.{prefix}example.net"
                if rng.random() < 0.02:
                    fields["operational_status"] = "6"  # retired
                members.append(
                    fake.add_ci(
                        class_name,
                        f"{prefix}{class_name[8:]}-{index:06d}",
                        sys_id=sys_id(),
                        **fields,
                    )
                )
        layers.append(members)
    layers = [layer for layer in layers if layer]
    cmdb.services = services
    cmdb.cis = cis
    cmdb.ci_ids = [ci for layer in layers for ci in layer]

    # Parents are drawn in proportion to layer size (the bottom layer has no children);
    # the child sits in the next layer down, or one in five times further down.
    parents = layers[:-1]
    weights = [len(layer) for layer in parents]
    pairs: set[tuple[int, int]] = set()
    attempts = 0
    while len(pairs) < relations:
        attempts += 1
        if attempts > relations * 20:
            raise ValueError(f"cannot draw {relations} distinct relationships from {cis} CIs")
        level = rng.choices(range(len(parents)), weights)[0]
        below = level + 1
        if below + 1 < len(layers) and rng.random() < 0.2:
            below = rng.randint(below + 1, len(layers) - 1)
        parent = rng.randrange(len(layers[level]))
        child = rng.randrange(len(layers[below]))
        key = ((level << 24) | parent, (below << 24) | child)
        if key in pairs:
            continue
        pairs.add(key)
        type_name = _pick(rng, RELATION_TYPES)
        stamp = _stamp(rng)
        cmdb.relation_ids.append(
            fake.add_relation(
                layers[level][parent],
                layers[below][child],
                type_name,
                sys_id=sys_id(),
                sys_created_on=stamp,
                sys_updated_on=stamp,
            )
        )
        cmdb.dependencies += type_name in DEPENDENCY_TYPES
    cmdb.relations = relations
    cmdb.seconds = time.perf_counter() - started
    return cmdb


def change(cmdb: Cmdb, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Change `fraction` of the CIs (location, and one in ten retired or back) and of the
    relationships (a dependency gets another dependency type; others are touched only),
    an hour after the first sync. Returns the changed CI and relation sys_ids."""
    fake = cmdb.fake
    rng = random.Random(seed + 1)
    fake.advance(3600)
    cis = rng.sample(cmdb.ci_ids, max(1, round(len(cmdb.ci_ids) * fraction)))
    for ci in cis:
        changes: dict[str, object] = {"location": rng.choice(LOCATIONS)}
        if rng.random() < 0.1:
            retired = fake.record("cmdb_ci", ci).get("operational_status") == "6"
            changes["operational_status"] = "1" if retired else "6"
        fake.update("cmdb_ci", ci, **changes)
    relations = rng.sample(cmdb.relation_ids, max(1, round(len(cmdb.relation_ids) * fraction)))
    type_ids = {name: fake.add_relation_type(name) for name in DEPENDENCY_TYPES}
    type_names = {type_id: name for name, type_id in type_ids.items()}
    for relation in relations:
        current = type_names.get(fake.record("cmdb_rel_ci", relation)["type"])
        if current is None:  # not a dependency: touched only
            fake.update("cmdb_rel_ci", relation)
        else:
            other = rng.choice([name for name in DEPENDENCY_TYPES if name != current])
            fake.update("cmdb_rel_ci", relation, type=type_ids[other])
    return cis, relations


# ---- raw rows: the same records as the hub reads them ----------------------------------


def raw_ci_rows(fake: FakeServiceNow, sys_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """CI rows in sys_id order with the properties the hub writes for them."""
    table = fake.tables["cmdb_ci"]
    locations = fake.tables["cmn_location"]
    fields = CI_FIELDS.split(",")
    rows = []
    for key in sorted(table if sys_ids is None else sys_ids):
        record = table[key]
        wire = {name: record.get(name, "") for name in fields if "." not in name}
        location = locations.get(record.get("location", ""))
        wire["location.name"] = location["name"] if location else ""
        component = parse_ci(wire)
        rows.append({"id": key, "props": component.properties()})
    return rows


def raw_relation_rows(
    fake: FakeServiceNow, sys_ids: Sequence[str] | None = None
) -> list[dict[str, str]]:
    table = fake.tables["cmdb_rel_ci"]
    return [
        {"p": table[key]["parent"], "c": table[key]["child"]}
        for key in sorted(table if sys_ids is None else sys_ids)
    ]


# ---- measuring ---------------------------------------------------------------------------


def read_status(pid: int | str, field_name: str) -> int:
    """A ``/proc/<pid>/status`` memory field in KiB (0 if unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU time a process has used so far (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class PhaseMemory:
    """RSS in KiB at a phase's start and its peak during it, for Python and the JVM,
    and the CPU seconds each used during it."""

    python_start: int
    python_peak: int
    jvm_start: int
    jvm_peak: int
    python_cpu: float = 0.0
    jvm_cpu: float = 0.0
    seconds: float = 0.0


class Memory:
    """Per-phase peak RSS: each phase resets the high-water marks (``clear_refs``)."""

    def __init__(self) -> None:
        self.jvm_pid: int | None = None
        self.phases: dict[str, PhaseMemory] = {}
        self.python_overall = 0
        self.jvm_overall = 0
        self.resettable = True
        self._current: tuple[str, int, int] | None = None

    def _reset(self, pid: int | str) -> None:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            self.resettable = False

    def _overall(self) -> None:
        self.python_overall = max(self.python_overall, read_status("self", "VmHWM"))
        if self.jvm_pid is not None:
            self.jvm_overall = max(self.jvm_overall, read_status(self.jvm_pid, "VmHWM"))

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._overall()
        gc.collect()
        self._reset("self")
        jvm_start = 0
        if self.jvm_pid is not None:
            self._reset(self.jvm_pid)
            jvm_start = read_status(self.jvm_pid, "VmRSS")
        python_start = read_status("self", "VmRSS")
        jvm = self.jvm_pid
        cpu = (cpu_seconds("self"), cpu_seconds(jvm) if jvm is not None else 0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            self._overall()
            self.phases[name] = PhaseMemory(
                python_start,
                read_status("self", "VmHWM"),
                jvm_start,
                read_status(jvm, "VmHWM") if jvm is not None else 0,
                cpu_seconds("self") - cpu[0],
                cpu_seconds(jvm) - cpu[1] if jvm is not None else 0.0,
                time.perf_counter() - started,
            )


@dataclass(slots=True)
class StatementStat:
    calls: int = 0
    rows: int = 0
    seconds: float = 0.0


class StatementTimer:
    """Times every statement the hub sends through `Transaction.run`, by constant name.

    Benchmark instrumentation only: it wraps the method while a measurement runs and
    restores it afterwards. Commits and session set-up are not statements, so they
    stay outside.
    """

    def __init__(self) -> None:
        self.names = {statement.text: name for name, statement in all_statements().items()}
        self.stats: dict[str, StatementStat] = {}

    @contextlib.contextmanager
    def timing(self) -> Iterator[dict[str, StatementStat]]:
        original = Transaction.run
        stats: dict[str, StatementStat] = {}
        names = self.names

        async def timed(
            self: Transaction, statement: Cypher, **params: Any
        ) -> list[dict[str, Any]]:
            start = time.perf_counter()
            try:
                return await original(self, statement, **params)
            finally:
                stat = stats.setdefault(names.get(statement.text, "(unnamed)"), StatementStat())
                stat.calls += 1
                stat.rows += len(params.get("rows") or params.get("keys") or ())
                stat.seconds += time.perf_counter() - start

        Transaction.run = timed  # type: ignore[method-assign]
        try:
            yield stats
        finally:
            Transaction.run = original  # type: ignore[method-assign]


class TimedConnector:
    """The connector as the pipeline sees it, timing the waits for its pages and keys."""

    def __init__(self, inner: ServiceNowCmdb) -> None:
        self.inner = inner
        self.name = inner.name
        self.source = inner.source
        self.page_seconds = 0.0
        self.pages_served = 0
        self.keys_seconds = 0.0

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        pages = self.inner.pages(watermarks)
        while True:
            start = time.perf_counter()
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                self.page_seconds += time.perf_counter() - start
                return
            self.page_seconds += time.perf_counter() - start
            self.pages_served += 1
            yield page

    async def live_keys(self) -> set[str]:
        start = time.perf_counter()
        try:
            return await self.inner.live_keys()
        finally:
            self.keys_seconds += time.perf_counter() - start


@dataclass(slots=True)
class SyncResult:
    label: str
    run: SyncRun
    seconds: float
    page_seconds: float
    pages: int
    keys_seconds: float
    statements: dict[str, StatementStat]
    transactions: TransactionTimes

    @property
    def statement_seconds(self) -> float:
        return sum(s.seconds for s in self.statements.values())


@dataclass(slots=True)
class TransactionTimes:
    """Time in the sync graph's managed transactions: `total` from the session's start
    to the commit's end, `work` inside the unit of work (statements and the Python
    that builds their rows); the difference is sessions, begin and commit."""

    count: int = 0
    total: float = 0.0
    work: float = 0.0


@contextlib.contextmanager
def transaction_timing(graph: Graph) -> Iterator[TransactionTimes]:
    """Times `graph`'s transactions by wrapping its bound methods on this instance only."""
    times = TransactionTimes()
    originals = (graph.read_transaction, graph.write_transaction)

    def timed(method: Callable[[Work], Awaitable[Any]]) -> Callable[[Work], Awaitable[Any]]:
        async def run(work: Work) -> Any:
            async def unit(tx: Transaction) -> Any:
                start = time.perf_counter()
                try:
                    return await work(tx)
                finally:
                    times.work += time.perf_counter() - start

            start = time.perf_counter()
            try:
                return await method(unit)
            finally:
                times.count += 1
                times.total += time.perf_counter() - start

        return run

    graph.read_transaction = timed(originals[0])  # type: ignore[method-assign]
    graph.write_transaction = timed(originals[1])  # type: ignore[method-assign]
    try:
        yield times
    finally:
        del graph.read_transaction, graph.write_transaction  # back to the class's methods


async def page_raw(client: SourceClient, page_size: int) -> tuple[int, int, float]:
    """Every page of both tables as the connector asks for them, decoded, not parsed:
    (records, requests, seconds)."""
    start = time.perf_counter()
    records = requests = 0
    for table, fields in (("cmdb_ci", CI_FIELDS), ("cmdb_rel_ci", RELATION_FIELDS)):
        offset = 0
        while True:
            body, response = await client.get_json(
                f"/api/now/table/{table}",
                {
                    "sysparm_query": "ORDERBYsys_id",
                    "sysparm_fields": fields,
                    "sysparm_exclude_reference_link": "true",
                    "sysparm_limit": page_size,
                    "sysparm_offset": offset,
                },
            )
            requests += 1
            page = body["result"]
            records += len(page)
            offset += len(page)
            if "next" not in response.links or not page:
                break
    return records, requests, time.perf_counter() - start


async def page_connector(connector: ServiceNowCmdb) -> tuple[int, int, float]:
    """`ServiceNowCmdb.pages` of a full sync, parsed and validated, nothing written:
    (records, pages, seconds)."""
    start = time.perf_counter()
    records = pages = 0
    async for page in connector.pages({}):
        pages += 1
        records += len(page.components) + len(page.relations) + len(page.rejected)
    return records, pages, time.perf_counter() - start


async def timed_sync(
    graph: Graph,
    connector: ServiceNowCmdb,
    timer: StatementTimer,
    label: str,
    batch_size: int = BATCH_SIZE,
) -> SyncResult:
    wrapped = TimedConnector(connector)
    with timer.timing() as stats, transaction_timing(graph) as transactions:
        start = time.perf_counter()
        run = await run_sync(graph, wrapped, batch_size=batch_size)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    if run.status != "SUCCEEDED":
        raise RuntimeError(f"{label}: the sync {run.status}: {run.error}")
    return SyncResult(
        label,
        run,
        seconds,
        wrapped.page_seconds,
        wrapped.pages_served,
        wrapped.keys_seconds,
        stats,
        transactions,
    )


# ---- the run -----------------------------------------------------------------------------


@dataclass(slots=True)
class Measured:
    rows: int
    seconds: float
    requests: int = 0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    cmdb: Cmdb
    memory: Memory
    fake_kib: int = 0
    base_kib: int = 0
    page_http: Measured | None = None
    page_connector: Measured | None = None
    page_keys: Measured | None = None
    raw_cis: Measured | None = None
    raw_relations: Measured | None = None
    full: SyncResult | None = None
    incremental: SyncResult | None = None
    changed: tuple[int, int] = (0, 0)
    raw_delta: Measured | None = None
    live_refs_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    load: list[tuple[float, float, float]] = field(default_factory=list)
    total_seconds: float = 0.0
    jvm_rusage_kib: int = 0
    tree: str = ""

    @property
    def raw_total(self) -> Measured:
        assert self.raw_cis is not None
        assert self.raw_relations is not None
        return Measured(
            self.raw_cis.rows + self.raw_relations.rows,
            self.raw_cis.seconds + self.raw_relations.seconds,
        )


async def measure(
    connection: GraphConnection,
    args: argparse.Namespace,
    report: Report,
    warmup: Cmdb,
    url: str,
    warmup_url: str,
) -> None:
    cmdb, memory = report.cmdb, report.memory
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    timer = StatementTimer()
    client = SourceClient("servicenow", url, auth=(USER, PASSWORD))
    warmup_client = SourceClient("servicenow-warmup", warmup_url, auth=(USER, PASSWORD))
    try:
        await migrate(graph)
        await raw.write(RAW_CONSTRAINT)
        report.load.append(os.getloadavg())

        progress(f"warm-up: hub sync and raw MERGE of {warmup.rows:,} rows, paging")
        with memory.phase("warm-up"):
            connector = ServiceNowCmdb(
                warmup_client, args.page_size, name=WARMUP_NAME, source=WARMUP_SOURCE
            )
            await page_raw(warmup_client, args.page_size)
            await page_connector(connector)
            await timed_sync(graph, connector, timer, "warm-up", args.batch_size)
            await raw.write_batches(RAW_UPSERT_CIS, raw_ci_rows(warmup.fake))
            await raw.write_batches(RAW_UPSERT_RELATIONS, raw_relation_rows(warmup.fake))

        connector = ServiceNowCmdb(client, args.page_size, name=NAME, source=SOURCE)
        progress("paging only: HTTP and JSON, then the connector's pages, then the key listing")
        with memory.phase("paging only"):
            records, requests, seconds = await page_raw(client, args.page_size)
            report.page_http = Measured(records, seconds, requests)
            records, pages, seconds = await page_connector(connector)
            report.page_connector = Measured(records, seconds, pages)
            start = time.perf_counter()
            keys = await connector.live_keys()
            report.page_keys = Measured(len(keys), time.perf_counter() - start)
            del keys
        if report.page_connector.rows != cmdb.rows:
            raise RuntimeError(f"paged {report.page_connector.rows} records of {cmdb.rows}")

        progress(f"raw ceiling: {cmdb.cis:,} CI rows, then {cmdb.relations:,} relation rows")
        with memory.phase("raw ceiling"):
            ci_rows = raw_ci_rows(cmdb.fake)
            relation_rows = raw_relation_rows(cmdb.fake)
            report.raw_cis = Measured(
                len(ci_rows), await raw.write_batches(RAW_UPSERT_CIS, ci_rows)
            )
            progress(f"  CIs: {report.raw_cis.seconds:.1f} s")
            report.raw_relations = Measured(
                len(relation_rows), await raw.write_batches(RAW_UPSERT_RELATIONS, relation_rows)
            )
            progress(f"  relations: {report.raw_relations.seconds:.1f} s")
            del ci_rows, relation_rows
        report.load.append(os.getloadavg())

        progress(f"hub: full sync of {cmdb.rows:,} records, page size {args.page_size}")
        with memory.phase("hub full sync"):
            report.full = await timed_sync(graph, connector, timer, "full sync", args.batch_size)
        progress(f"  {report.full.seconds:.1f} s")
        report.load.append(os.getloadavg())

        for what, statement in COUNTS.items():
            report.counts[what] = await raw.count(statement, source=SOURCE)
        expected = {
            "hub components": cmdb.cis,
            "hub DEPENDS_ON": cmdb.dependencies,
            "hub RELATES_TO": cmdb.relations - cmdb.dependencies,
            "raw nodes": cmdb.cis + warmup.cis,
            "raw edges": cmdb.relations + warmup.relations,
        }
        progress(f"stored: {report.counts}")
        if report.counts != expected:
            raise RuntimeError(f"stored {report.counts}, expected {expected}")
        run = report.full.run
        if (run.created, run.quarantined, run.fetched) != (cmdb.cis, 0, cmdb.rows):
            raise RuntimeError(f"the full sync created {run.created} of {cmdb.cis} components")

        cis, relations = change(cmdb, args.changed, args.seed)
        report.changed = (len(cis), len(relations))
        progress(
            f"hub: incremental sync after {len(cis):,} CIs and {len(relations):,} relations changed"
        )
        with memory.phase("hub incremental sync"):
            report.incremental = await timed_sync(
                graph, connector, timer, "incremental sync", args.batch_size
            )
            start = time.perf_counter()
            refs = await SyncRepository(graph).live_component_refs(SOURCE)
            report.live_refs_seconds = time.perf_counter() - start
            del refs
        progress(f"  {report.incremental.seconds:.1f} s")
        ci_rows = raw_ci_rows(cmdb.fake, cis)
        relation_rows = raw_relation_rows(cmdb.fake, relations)
        report.raw_delta = Measured(
            len(ci_rows) + len(relation_rows),
            await raw.write_batches(RAW_UPSERT_CIS, ci_rows)
            + await raw.write_batches(RAW_UPSERT_RELATIONS, relation_rows),
        )
        report.load.append(os.getloadavg())
    finally:
        await client.aclose()
        await warmup_client.aclose()
        await raw.close()
        await graph.close()


# ---- the report --------------------------------------------------------------------------


def memory_total() -> str:
    kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
    except OSError:
        pass
    return f"{kib / 1024 / 1024:.1f} GiB" if kib else "unknown"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def hub_tree() -> str:
    """The commit measured, and whether hub/ had uncommitted changes then."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "hub"],  # noqa: S607 - git from PATH
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    if not changed:
        return f"commit {head}, hub/ clean"
    return f"commit {head} with uncommitted changes to {len(changed)} files in hub/"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def secs(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds * 1000:,.0f} ms"


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.sync --cis {args.cis} --relations {args.relations} "
        f"--services {args.services} --page-size {args.page_size} "
        f"--batch-size {args.batch_size} --heap {args.heap} "
        f"--changed {args.changed} --seed {args.seed}"
    )


def markdown(report: Report) -> str:
    a, c = report.args, report.cmdb
    full, inc = report.full, report.incremental
    assert full is not None
    assert inc is not None
    assert report.raw_delta is not None
    assert report.page_http is not None
    assert report.page_connector is not None
    assert report.page_keys is not None
    ceiling = report.raw_total
    hub_rate = c.rows / full.seconds
    loads = ", ".join(f"{load[0]:.2f}" for load in report.load)
    lines = [
        "### Run",
        "",
        f"- command: `{command(a)}`",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, "
        f"{platform.system()} {platform.release()}; 1-minute load average at the phases: "
        f"{loads}",
        f"- python {platform.python_version()}, neo4j driver {version('neo4j')}, "
        f"httpx {version('httpx')}, uvicorn {version('uvicorn')}, "
        f"arcadedb-embedded {version('arcadedb-embedded')}, JVM heap {a.heap}",
        f"- hub code measured: {report.tree}",
        f"- CMDB: {c.cis:,} CIs ({c.services:,} of them services), {c.relations:,} "
        f"relationships ({c.dependencies:,} of a dependency type); filled in "
        f"{c.seconds:.1f} s",
        f"- wall time of the whole run: {report.total_seconds:,.0f} s",
        "",
        "### Throughput",
        "",
        "| what | rows | requests / pages | time | rows/s | vs raw ceiling |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(what: str, m: Measured, requests: str = "") -> None:
        lines.append(
            f"| {what} | {m.rows:,} | {requests} | {secs(m.seconds)} | {m.rate:,.0f} "
            f"| {m.rate / ceiling.rate:.2f}x |"
        )

    row(
        "paging only: HTTP + JSON decode (`SourceClient.get_json`)",
        report.page_http,
        f"{report.page_http.requests:,}",
    )
    row(
        "paging only: `ServiceNowCmdb.pages` (+ parse, validate)",
        report.page_connector,
        f"{report.page_connector.requests:,}",
    )
    row("paging only: `live_keys` (every cmdb_ci sys_id)", report.page_keys)
    row("raw ceiling: CIs `MERGE (c:BenchCI {id})`", report.raw_cis)
    row("raw ceiling: relations `MATCH ... MERGE (a)-[:DEPENDS_ON]->(b)`", report.raw_relations)
    row("**raw ceiling: CIs + relations**", ceiling)
    row(
        f"**hub: full `run_sync`, page size {a.page_size:,}**",
        Measured(c.rows, full.seconds),
        f"{full.pages:,}",
    )
    row(
        f"hub: incremental `run_sync` ({report.changed[0]:,} CIs + {report.changed[1]:,} "
        f"relations changed; fetched {inc.run.fetched:,})",
        Measured(inc.run.fetched, inc.seconds),
        f"{inc.pages:,}",
    )
    row("raw: `MERGE` of the same changed rows", report.raw_delta)
    lines += [
        "",
        f"**Ratio: the hub's full sync reaches {hub_rate:,.0f} rows/s, "
        f"{hub_rate / ceiling.rate:.2f}x the raw ceiling of {ceiling.rate:,.0f} rows/s** "
        "(target: at least 0.5x).",
        "",
    ]
    for result in (full, inc):
        tx = result.transactions
        between = tx.work - result.statement_seconds
        commits = tx.total - tx.work
        outside = result.seconds - result.keys_seconds - tx.total
        lines += [
            f"### Where the {result.label} spends its {secs(result.seconds)}",
            "",
            "The parts add up to the wall time. A statement's time is from sending it to "
            "its last row, so it also holds any Python the event loop ran meanwhile (a "
            "page read ahead is parsed during the writes).",
            "",
            "| part | calls | rows | time | share |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, stat in sorted(result.statements.items(), key=lambda kv: -kv[1].seconds):
            lines.append(
                f"| statement `{name}` | {stat.calls:,} | {stat.rows:,} | {secs(stat.seconds)} "
                f"| {stat.seconds / result.seconds:.0%} |"
            )
        lines += [
            f"| in transactions, between statements: building rows in Python | | "
            f"| {secs(between)} | {between / result.seconds:.0%} |",
            f"| sessions, begin and commit of {tx.count:,} transactions | {tx.count:,} | "
            f"| {secs(commits)} | {commits / result.seconds:.0%} |",
            f"| deletion check: `live_keys` listing | | | {secs(result.keys_seconds)} "
            f"| {result.keys_seconds / result.seconds:.0%} |",
            f"| outside transactions: waiting for the next page, the pipeline's Python "
            f"| {result.pages:,} | {result.run.fetched:,} | {secs(outside)} "
            f"| {outside / result.seconds:.0%} |",
            "",
            f"Inside the connector (HTTP, JSON, parsing; the fake serves from this process), "
            f"its {result.pages:,} pages took {secs(result.page_seconds)} in all; what the "
            "pipeline did not overlap with writes is in the last row.",
            "",
        ]
    lines.append(
        f"`live_component_refs` alone (the graph side of the deletion check, "
        f"{c.cis:,} rows): {secs(report.live_refs_seconds)}."
    )
    lines += [
        "",
        "### Memory and CPU",
        "",
        "CPU time is user + system time of each process during the phase; on 2 CPUs, "
        "2 seconds a second is all there is (other load on the machine included).",
        "",
        "| phase | wall | Python RSS at start | Python peak | JVM RSS at start | JVM peak "
        "| Python CPU | JVM CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in report.memory.phases.items():
        lines.append(
            f"| {name} | {secs(m.seconds)} | {mib(m.python_start)} | {mib(m.python_peak)} "
            f"| {mib(m.jvm_start)} | {mib(m.jvm_peak)} | {secs(m.python_cpu)} "
            f"| {secs(m.jvm_cpu)} |"
        )
    full_memory = report.memory.phases["hub full sync"]
    lines += [
        "",
        f"- Python before filling the fake: {mib(report.base_kib)}; the fake's data added "
        f"{mib(report.fake_kib)}",
        f"- the hub's full sync: Python peak {mib(full_memory.python_peak)}, "
        f"{mib(full_memory.python_peak - full_memory.python_start)} above its start "
        f"(the fake's data, {mib(report.fake_kib)}, is in both)",
        f"- peak over the whole run: Python {mib(report.memory.python_overall)}, "
        f"JVM {mib(report.memory.jvm_overall)} (VmHWM); JVM `ru_maxrss` after it "
        f"exited: {mib(report.jvm_rusage_kib)}",
    ]
    if not report.memory.resettable:
        lines.append(
            "- `/proc/<pid>/clear_refs` could not be written: per-phase peaks are peaks "
            "since the start of the process"
        )
    return "\n".join(lines)


# ---- entry -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync",
        description="The hub's servicenow-cmdb sync against raw batched MERGE, on a fresh "
        "embedded server and a fake ServiceNow of its own.",
    )
    parser.add_argument("--cis", type=int, default=100_000, help="CIs, services included")
    parser.add_argument(
        "--relations", type=int, default=None, help="relationships (default: 3 x --cis)"
    )
    parser.add_argument(
        "--services", type=int, default=None, help="services among the CIs (default: --cis/200)"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=PAGE_SIZE,
        help=f"Table API page size (default: the hub's, {PAGE_SIZE}; at most 10000)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"records per write transaction, at most (default: the hub's, {BATCH_SIZE}; "
        "1 writes page by page)",
    )
    parser.add_argument(
        "--heap",
        default=EmbeddedGraphSettings().heap,
        help="JVM heap of the embedded server (default: the hub's own default)",
    )
    parser.add_argument(
        "--changed", type=float, default=0.01, help="fraction changed before the incremental"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated CMDB")
    args = parser.parse_args(argv)
    if args.relations is None:
        args.relations = 3 * args.cis
    if args.services is None:
        args.services = max(1, args.cis // 200)
    if args.cis < 100 or not 1 <= args.services < args.cis // 2:
        parser.error("need --cis >= 100 and 1 <= --services < --cis/2")
    if not 1 <= args.page_size <= 10_000:
        parser.error("--page-size must be between 1 and 10000 (the hub's limit)")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if not 0 < args.changed <= 1:
        parser.error("--changed must be a fraction in (0, 1]")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    memory = Memory()
    gc.collect()
    base = read_status("self", "VmRSS")
    progress(f"filling the fake: {args.cis:,} CIs, {args.relations:,} relationships")
    with memory.phase("filling the fake"):
        cmdb = populate(args.cis, args.relations, args.services, args.seed)
    gc.collect()
    report = Report(args, cmdb, memory, base_kib=base, tree=hub_tree())
    report.fake_kib = read_status("self", "VmRSS") - base
    progress(f"  {cmdb.seconds:.1f} s, {mib(report.fake_kib)}")
    warmup = populate(WARMUP_CIS, 3 * WARMUP_CIS, WARMUP_CIS // 200, args.seed + 1, prefix="warm-")
    with (
        tempfile.TemporaryDirectory(prefix="hub-bench-sync-") as data_dir,
        serve_app(cmdb.fake.app) as url,
        serve_app(warmup.fake.app) as warmup_url,
    ):
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        try:
            progress(f"starting the embedded server (heap {args.heap})")
            connection = server.attach_or_start()
            state = server.read_state()
            memory.jvm_pid = None if state is None else state.pid
            asyncio.run(measure(connection, args, report, warmup, url, warmup_url))
        except Exception:
            if not server.child_alive():
                progress(f"the embedded server died; the end of its log:\n{server.log_tail()}")
            raise
        finally:
            memory.jvm_pid = None
            server.stop()
    report.jvm_rusage_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.total_seconds = time.perf_counter() - started
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
