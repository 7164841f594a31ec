"""A million CIs: CMDB sync, impact and list pages at 100k to 1M CIs, each against raw Cypher.

Run as ``.venv/bin/python -m benchmarks.scale [--cis N] [--heap H] [--page-size P]
[--batch-size B] [--roots R] [--repeat K] [--router-repeat K] [--page-repeat K]
[--before-repeat K] [--first F] [--seed S]``; ``--cis 20000`` makes a quick run.

The estate is `benchmarks.estate.Estate` (shared infrastructure per data centre,
hardware, VMs, middleware, applications, business apps, services on top; about three
dependencies per CI), generated record by record. Four processes take part, so that
each one's memory is its own:

- **the fake ServiceNow** (``tests/fakes``), filled from the estate and served on
  loopback by a process of its own (``python -m benchmarks.scale fake``);
- **the embedded graph server** (a JVM child of this process, heap ``--heap``);
- **the hub's sync** (``python -m benchmarks.scale sync``): ``run_sync(graph,
  ServiceNowCmdb(...))`` alone, a full sync into an empty source, timed as
  `benchmarks.sync` times it (statements, transactions, pages); it reports its own peak
  RSS (VmHWM: the process's whole life, imports included);
- **the hub's API** (``python -m benchmarks.scale api``): ``hub.app.create_app`` served by
  uvicorn as ``hub serve`` runs it, asked over HTTP with a viewer token.

This process drives them, warms the graph up (a sync and raw writes of a 2,000-CI
estate of their own), and measures:

1. the raw ``MERGE`` ceiling of `benchmarks.sync` (same statements, batches of 2,000,
   one transaction each) on the same CI and relation rows, CIs in sys_id order and
   relations consumer by consumer in that order; only the writes are timed, the rows are
   built between them;
2. the hub's full sync (child process); then the stored counts are checked;
3. ``impact(id:)`` over HTTP from typical roots (VMs with a few dozen dependants) and
   from a data centre's core router, interleaved with the raw level-by-level walk
   (`benchmarks.graph.Raw.bfs`, distinct ids per level, one read transaction); every
   answer's components and depths must equal the raw walk's;
4. ``configurationItems(first:, after:)`` pages at the first, the middle and the last
   page of the list, against the list's statement before it was read by key ranges
   (``$after IS NULL OR c.id > $after ... ORDER BY c.id LIMIT``, filters left out) and a
   single open key range (``c.id > $after ... ORDER BY c.id LIMIT``); every page must hold
   the ids the raw read gives.

Peaks: the sync's and the API's processes report VmHWM; the JVM's is reset per phase
(``/proc/<pid>/clear_refs``). The markdown report goes to stdout, progress to stderr.
Raw Cypher lives here only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import httpx
import neo4j

from benchmarks.estate import LAYERS, NOW, Estate
from benchmarks.graph import DEPTH, RAW_BATCH, RAW_BFS_DEPENDANTS, Raw, percentile
from benchmarks.http_traversals import IMPACT, serve
from benchmarks.sync import (
    COUNTS,
    NAME,
    PASSWORD,
    RAW_CONSTRAINT,
    RAW_UPSERT_CIS,
    RAW_UPSERT_RELATIONS,
    SOURCE,
    USER,
    WARMUP_NAME,
    WARMUP_SOURCE,
    StatementTimer,
    cpu_seconds,
    hub_tree,
    memory_total,
    mib,
    read_status,
    secs,
    timed_sync,
    version,
)
from hub.connectors.http import SourceClient
from hub.connectors.servicenow import PAGE_SIZE, ServiceNowCmdb, parse_ci
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import stable_id
from hub.graph.migrations import migrate
from hub.graph.repositories import TokenRepository
from hub.schema.base import encode_cursor
from hub.settings import EmbeddedGraphSettings
from hub.sync.pipeline import BATCH_SIZE

ROOT = Path(__file__).resolve().parent.parent
# The fakes live in tests/ and import as `fakes` (pytest puts tests/ on sys.path).
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from fakes.server import serve_app  # noqa: E402
from fakes.servicenow import FakeServiceNow  # noqa: E402

GRAPH_ENV = "SCALE_BENCH_GRAPH"  # the graph connection, as JSON, for the child processes
WARMUP_CIS = 2000
VM_LAYER = 1
TYPICAL = (20, 80)  # dependants of a typical impact root
CANDIDATES = 60  # VMs whose walks are sized to pick the typical roots from
SPACE = 16**32

# ---- raw Cypher: the list read before key ranges, and one open key range ---------------

RAW_LIST_BEFORE: LiteralString = (
    "MATCH (c:ConfigurationItem) WHERE ($after IS NULL OR c.id > $after) "
    "RETURN c.id AS id, properties(c) AS props ORDER BY c.id LIMIT $limit"
)
# The id index's range from the cursor to the end (matched on Component: ArcadeDB has
# no id index for the ConfigurationItem label alone), then the label.
RAW_LIST_OPEN_RANGE: LiteralString = (
    "MATCH (c:Component) WHERE c.id > $after WITH c WHERE c:ConfigurationItem "
    "RETURN c.id AS id, properties(c) AS props ORDER BY c.id LIMIT $limit"
)
RAW_IDS_ABOVE: LiteralString = (
    "MATCH (c:Component) WHERE c.id > $after WITH c WHERE c:ConfigurationItem RETURN c.id AS id"
)

PAGE = """
query Page($first: Int!, $after: String) {
  configurationItems(first: $first, after: $after) {
    edges { cursor node { id name ciClass environment location status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def progress(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def component_id(estate: Estate, key: str) -> str:
    """The hub's id of the component a sync makes of the estate's CI `key`."""
    return stable_id("Component", SOURCE, estate.sys_id(key))


def connection_env(connection: GraphConnection) -> dict[str, str]:
    return {**os.environ, GRAPH_ENV: json.dumps(asdict(connection))}


def connection_from_env() -> GraphConnection:
    return GraphConnection(**json.loads(os.environ[GRAPH_ENV]))


def wait_for(path: Path, process: subprocess.Popen[bytes], what: str, timeout: float) -> Any:
    """The JSON a child writes to `path` once ready; fails if it exits first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")
        time.sleep(0.2)
    time.sleep(0.05)  # the writer renames a whole file into place; this is belt and braces
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value))
    partial.replace(path)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` blocks


# ---- child: the fake ServiceNow ---------------------------------------------------------


def fill(fake: FakeServiceNow, estate: Estate) -> tuple[int, int]:
    """Every CI, then every dependency of the estate into `fake`: (CIs, relations)."""
    cis = relations = 0
    for ci in estate.cis():
        if ci.service:
            fake.add_service(ci.name, sys_class_name=ci.class_name, sys_id=ci.sys_id, **ci.fields)
        else:
            fake.add_ci(ci.class_name, ci.name, sys_id=ci.sys_id, **ci.fields)
        cis += 1
    for dependency in estate.dependencies():
        fake.add_relation(
            dependency.consumer_sys_id,
            dependency.provider_sys_id,
            dependency.type_name,
            sys_id=dependency.sys_id,
            sys_created_on=dependency.updated,
            sys_updated_on=dependency.updated,
        )
        relations += 1
    return cis, relations


def run_fake(args: argparse.Namespace) -> int:
    """Fill a fake from the estate, serve it, say where in `args.ready`, serve until
    SIGTERM."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.perf_counter()
    base = read_status("self", "VmRSS")
    estate = Estate(args.cis, args.seed)
    fake = FakeServiceNow(username=USER, password=PASSWORD, now=NOW)
    gc.disable()  # millions of dicts: the collector would walk them again and again
    try:
        cis, relations = fill(fake, estate)
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()  # what is filled stays: later collections skip it
    filled = {
        "cis": cis,
        "relations": relations,
        "seconds": time.perf_counter() - started,
        "base_kib": base,
        "rss_kib": read_status("self", "VmRSS"),
    }
    with serve_app(fake.app) as url:
        write_json(Path(args.ready), {"url": url, **filled})
        while True:
            time.sleep(3600)


# ---- child: the hub's sync --------------------------------------------------------------


def run_sync_child(args: argparse.Namespace) -> int:
    """One full sync of the fake at `args.url`; the result goes to `args.result`."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = asyncio.run(_sync(args))
    result["vmhwm_kib"] = read_status("self", "VmHWM")
    result["cpu_seconds"] = cpu_seconds("self")
    write_json(Path(args.result), result)
    return 0


async def _sync(args: argparse.Namespace) -> dict[str, Any]:
    graph = Graph.connect(connection_from_env(), max_transaction_retry_time=60.0)
    client = SourceClient("servicenow", args.url, auth=(USER, PASSWORD))
    try:
        connector = ServiceNowCmdb(client, args.page_size, name=NAME, source=SOURCE)
        rss_start = read_status("self", "VmRSS")
        cpu_start = cpu_seconds("self")
        done = await timed_sync(graph, connector, StatementTimer(), "full sync", args.batch_size)
    finally:
        await client.aclose()
        await graph.close()
    run = done.run
    return {
        "seconds": done.seconds,
        "page_seconds": done.page_seconds,
        "pages": done.pages,
        "keys_seconds": done.keys_seconds,
        "statements": {
            name: [stat.calls, stat.rows, stat.seconds] for name, stat in done.statements.items()
        },
        "transactions": asdict(done.transactions),
        "created": run.created,
        "fetched": run.fetched,
        "quarantined": run.quarantined,
        "rss_start_kib": rss_start,
        "sync_cpu_seconds": cpu_seconds("self") - cpu_start,
    }


# ---- child: the hub's API ---------------------------------------------------------------


def run_api(args: argparse.Namespace) -> int:
    """`create_app` served as `hub serve` serves it; its URL goes to `args.ready`."""
    from hub.app import create_app
    from hub.settings import Settings

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = create_app(
        Settings(data_dir=Path(args.data_dir)), connection_from_env(), schedule_syncs=False
    )
    with serve(app, "auto", "auto") as url:
        write_json(Path(args.ready), {"url": url})
        while True:
            time.sleep(3600)


# ---- this process: measuring ------------------------------------------------------------


@dataclass(slots=True)
class JvmPhase:
    seconds: float = 0.0
    rss_start_kib: int = 0
    peak_kib: int = 0
    cpu: float = 0.0


class Jvm:
    """The JVM's RSS peak and CPU time per phase (its VmHWM reset as a phase starts)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.phases: dict[str, JvmPhase] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[JvmPhase]:
        found = JvmPhase()
        self.phases[name] = found
        if self.pid is not None:
            with contextlib.suppress(OSError):
                Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            found.rss_start_kib = read_status(self.pid, "VmRSS")
        cpu = cpu_seconds(self.pid) if self.pid is not None else 0.0
        started = time.perf_counter()
        try:
            yield found
        finally:
            found.seconds = time.perf_counter() - started
            if self.pid is not None:
                found.peak_kib = read_status(self.pid, "VmHWM")
                found.cpu = cpu_seconds(self.pid) - cpu


def wire(ci: Any) -> dict[str, str]:
    """A CI as the connector asks the fake for it (`CI_FIELDS`)."""
    fields = ci.fields
    return {
        "sys_id": ci.sys_id,
        "name": ci.name,
        "sys_class_name": ci.class_name,
        "sys_updated_on": fields["sys_updated_on"],
        "operational_status": "1",
        "install_status": "1",
        "environment": fields.get("environment", ""),
        "location.name": fields.get("location", ""),
        "serial_number": fields.get("serial_number", ""),
        "fqdn": fields.get("fqdn", ""),
    }


async def raw_ceiling(raw: Raw, estate: Estate) -> tuple[int, float, int, float]:
    """The raw `MERGE` of every CI (sys_id order), then every relation (consumer by
    consumer in that order), `RAW_BATCH` rows a transaction; only the writes are timed:
    (CI rows, seconds, relation rows, seconds)."""
    order = estate.by_sys_id()
    ci_rows = relation_rows = 0
    ci_seconds = relation_seconds = 0.0

    async def write(statement: LiteralString, rows: list[Any]) -> float:
        start = time.perf_counter()
        await raw.write(statement, rows=rows)
        return time.perf_counter() - start

    batch: list[Any] = []
    for layer, index in order:
        ci = estate.ci(layer, index)
        batch.append({"id": ci.sys_id, "props": parse_ci(wire(ci)).properties()})
        if len(batch) == RAW_BATCH:
            ci_seconds += await write(RAW_UPSERT_CIS, batch)
            ci_rows += len(batch)
            batch = []
    if batch:
        ci_seconds += await write(RAW_UPSERT_CIS, batch)
        ci_rows += len(batch)
    progress(f"  CIs: {ci_rows:,} rows, {ci_seconds:.1f} s of writes")
    batch = []
    for dependency in estate.dependencies(order):
        batch.append({"p": dependency.consumer_sys_id, "c": dependency.provider_sys_id})
        if len(batch) == RAW_BATCH:
            relation_seconds += await write(RAW_UPSERT_RELATIONS, batch)
            relation_rows += len(batch)
            batch = []
    if batch:
        relation_seconds += await write(RAW_UPSERT_RELATIONS, batch)
        relation_rows += len(batch)
    progress(f"  relations: {relation_rows:,} rows, {relation_seconds:.1f} s of writes")
    return ci_rows, ci_seconds, relation_rows, relation_seconds


@dataclass(slots=True)
class Timed:
    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


@dataclass(slots=True)
class Walks:
    label: str
    roots: list[str]
    reached: list[int] = field(default_factory=list)
    hub: Timed = field(default_factory=lambda: Timed("`impact` over HTTP"))
    raw: Timed = field(default_factory=lambda: Timed("raw level-by-level walk"))
    response_kib: float = 0.0
    load: float = 0.0


@dataclass(slots=True)
class Pages:
    label: str
    after: str | None
    items: int = 0
    has_next: bool = False
    hub: Timed = field(default_factory=lambda: Timed("`configurationItems` over HTTP"))
    before: Timed = field(default_factory=lambda: Timed("raw: the list's read before"))
    open_range: Timed = field(default_factory=lambda: Timed("raw: one open key range"))


async def interleaved(
    rounds: int, warmup: int, variants: Sequence[tuple[Timed, Callable[[int], Awaitable[None]]]]
) -> None:
    """`rounds` rounds, each variant once a round in a rotating order; the first `warmup`
    rounds are not kept."""
    for n in range(rounds + warmup):
        shift = n % len(variants)
        for timed, run in [*variants[shift:], *variants[:shift]]:
            start = time.perf_counter()
            await run(n)
            if n >= warmup:
                timed.seconds.append(time.perf_counter() - start)


async def pick_roots(raw: Raw, estate: Estate, count: int, seed: int) -> list[str]:
    """`count` VMs whose impact reaches `TYPICAL` components (else those nearest to it)."""
    size = estate.size(VM_LAYER)
    step = max(1, size // CANDIDATES)
    keys = [estate.key(VM_LAYER, (seed * 7919 + n * step) % size) for n in range(CANDIDATES)]
    sized = []
    for key in keys:
        reached, _, _ = await raw.bfs(RAW_BFS_DEPENDANTS, component_id(estate, key), DEPTH, False)
        sized.append((len(reached), component_id(estate, key)))
    inside = [root for n, root in sized if TYPICAL[0] <= n <= TYPICAL[1]]
    if len(inside) < count:
        middle = sum(TYPICAL) / 2
        inside = [root for _, root in sorted(sized, key=lambda s: abs(s[0] - middle))]
    return inside[:count]


async def measure_impact(
    client: httpx.AsyncClient, headers: dict[str, str], raw: Raw, walks: Walks, repeat: int
) -> None:
    expected: dict[str, dict[str, int]] = {}
    for root in walks.roots:
        reached, _, _ = await raw.bfs(RAW_BFS_DEPENDANTS, root, DEPTH, False)
        expected[root] = reached
    walks.reached = sorted(len(found) for found in expected.values())
    sizes: list[int] = []

    async def hub(n: int) -> None:
        root = walks.roots[n % len(walks.roots)]
        response = await client.post(
            "/graphql", json={"query": IMPACT, "variables": {"id": root}}, headers=headers
        )
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"impact over HTTP: {response.status_code} {answer}")
        found = {c["component"]["id"]: c["depth"] for c in answer["data"]["impact"]["components"]}
        if found != expected[root]:
            raise RuntimeError(f"impact of {root}: the answer is not the raw walk's")
        sizes.append(len(response.content))

    async def bfs(n: int) -> None:
        root = walks.roots[n % len(walks.roots)]
        reached, _, _ = await raw.bfs(RAW_BFS_DEPENDANTS, root, DEPTH, False)
        if reached != expected[root]:
            raise RuntimeError(f"impact of {root}: the raw walk changed")

    walks.load = os.getloadavg()[0]
    await interleaved(repeat, len(walks.roots), [(walks.hub, hub), (walks.raw, bfs)])
    walks.response_kib = percentile(sizes, 0.5) / 1024


async def last_cursor(raw: Raw, total: int, first: int) -> str:
    """The id after which the list's last page holds `first // 2` items."""
    above = max(0, SPACE - SPACE * 4 * first // max(total, 1))
    ids = sorted(row["id"] for row in await raw.read(RAW_IDS_ABOVE, after=f"cmp_{above:032x}"))
    if len(ids) <= first:
        raise RuntimeError(f"only {len(ids)} ids in the last {4 * first / total:.2%} of the space")
    cursor: str = ids[-(first // 2) - 1]
    return cursor


async def measure_page(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    raw: Raw,
    pages: Pages,
    first: int,
    repeat: int,
    before_repeat: int,
) -> None:
    expected = [
        row["id"]
        for row in await raw.read(RAW_LIST_OPEN_RANGE, after=pages.after or "", limit=first + 1)
    ]

    async def hub(_: int) -> None:
        variables = {
            "first": first,
            "after": None if pages.after is None else encode_cursor(pages.after),
        }
        response = await client.post(
            "/graphql", json={"query": PAGE, "variables": variables}, headers=headers
        )
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"configurationItems: {response.status_code} {answer}")
        page = answer["data"]["configurationItems"]
        ids = [edge["node"]["id"] for edge in page["edges"]]
        if ids != expected[:first] or page["pageInfo"]["hasNextPage"] != (len(expected) > first):
            raise RuntimeError(f"{pages.label}: the page is not the raw read's")
        pages.items, pages.has_next = len(ids), page["pageInfo"]["hasNextPage"]

    async def before(_: int) -> None:
        rows = await raw.read(RAW_LIST_BEFORE, after=pages.after, limit=first + 1)
        if [row["id"] for row in rows] != expected:
            raise RuntimeError(f"{pages.label}: the read before disagrees")

    async def open_range(_: int) -> None:
        rows = await raw.read(RAW_LIST_OPEN_RANGE, after=pages.after or "", limit=first + 1)
        if [row["id"] for row in rows] != expected:
            raise RuntimeError(f"{pages.label}: the open range disagrees")

    if before_repeat:
        # The raw reads sort what follows the cursor (the read before: every CI): last,
        # so that a failure leaves the rest measured, and fewer of them.
        await interleaved(
            before_repeat, 1, [(pages.before, before), (pages.open_range, open_range)]
        )
    else:
        await interleaved(repeat, 2, [(pages.hub, hub)])


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    tree: str
    estate: Estate
    fake: dict[str, Any] = field(default_factory=dict)
    raw_cis: tuple[int, float] = (0, 0.0)
    raw_relations: tuple[int, float] = (0, 0.0)
    sync: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    expected_counts: dict[str, int] = field(default_factory=dict)
    walks: list[Walks] = field(default_factory=list)
    pages: list[Pages] = field(default_factory=list)
    api_peak_kib: int = 0
    raw_pages_error: str = ""
    api_rss_kib: int = 0
    typename_p50: float = 0.0
    jvm: Jvm = field(default_factory=lambda: Jvm(None))
    load: list[tuple[str, float]] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    def mark(self, label: str) -> None:
        self.load.append((label, os.getloadavg()[0]))


def spawn(command: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", command, *argv], cwd=ROOT, env=env
    )


async def warm_up(graph: Graph, raw: Raw, args: argparse.Namespace) -> None:
    """A sync and the raw writes of a small estate of their own, under names of their own."""
    estate = Estate(WARMUP_CIS, args.seed + 1, prefix="warm-")
    fake = FakeServiceNow(username=USER, password=PASSWORD, now=NOW)
    fill(fake, estate)
    with serve_app(fake.app) as url:
        client = SourceClient("servicenow-warmup", url, auth=(USER, PASSWORD))
        try:
            connector = ServiceNowCmdb(
                client, args.page_size, name=WARMUP_NAME, source=WARMUP_SOURCE
            )
            await timed_sync(graph, connector, StatementTimer(), "warm-up", args.batch_size)
        finally:
            await client.aclose()
    await raw_ceiling(raw, estate)


async def measure(connection: GraphConnection, data_dir: Path, work: Path, report: Report) -> None:
    args, estate = report.args, report.estate
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    env = connection_env(connection)
    try:
        await migrate(graph)
        await raw.write(RAW_CONSTRAINT)
        report.mark("set-up")
        progress(f"warm-up: a sync and raw writes of {WARMUP_CIS:,} CIs of their own")
        await warm_up(graph, raw, args)

        progress(f"raw ceiling: {estate.total:,} CIs, then their relations")
        with report.jvm.phase("raw ceiling"):
            ci_rows, ci_s, relation_rows, relation_s = await raw_ceiling(raw, estate)
        report.raw_cis, report.raw_relations = (ci_rows, ci_s), (relation_rows, relation_s)
        report.mark("after the raw ceiling")

        progress(f"hub: full sync in a process of its own, page size {args.page_size}")
        result_path = work / "sync.json"
        with report.jvm.phase("hub full sync"):
            child = spawn(
                "sync",
                [
                    "--url",
                    report.fake["url"],
                    "--page-size",
                    str(args.page_size),
                    "--batch-size",
                    str(args.batch_size),
                    "--result",
                    str(result_path),
                ],
                env,
            )
            code = await asyncio.to_thread(child.wait)
        if code != 0:
            raise RuntimeError(f"the sync process exited with {code}")
        report.sync = json.loads(result_path.read_text())
        ceiling = (ci_rows + relation_rows) / (ci_s + relation_s)
        hub_rate = (estate.total + report.fake["relations"]) / report.sync["seconds"]
        progress(
            f"  {report.sync['seconds']:.1f} s, {hub_rate:,.0f} rows/s, "
            f"{hub_rate / ceiling:.2f}x the ceiling's {ceiling:,.0f}; its process peaked at "
            f"{mib(report.sync['vmhwm_kib'])}, the JVM at "
            f"{mib(report.jvm.phases['hub full sync'].peak_kib)}"
        )
        report.mark("after the sync")

        for what, statement in COUNTS.items():
            report.counts[what] = await raw.count(statement, source=SOURCE)
        warm = Estate(WARMUP_CIS, args.seed + 1, prefix="warm-")
        warm_relations = sum(1 for _ in warm.dependencies())
        report.expected_counts = {
            "hub components": estate.total,
            "hub DEPENDS_ON": report.fake["relations"],
            "hub RELATES_TO": 0,
            "raw nodes": estate.total + warm.total,
            "raw edges": report.fake["relations"] + warm_relations,
        }
        progress(f"stored: {report.counts}")
        if report.counts != report.expected_counts:
            raise RuntimeError(f"stored {report.counts}, expected {report.expected_counts}")
        if report.sync["created"] != estate.total or report.sync["quarantined"]:
            raise RuntimeError(f"the sync created {report.sync['created']} components")

        token = await TokenRepository(graph).create("scale-bench", Role.VIEWER)
        ready = work / "api.json"
        api = spawn("api", ["--data-dir", str(data_dir), "--ready", str(ready)], env)
        try:
            url = (await asyncio.to_thread(wait_for, ready, api, "the API", 120))["url"]
            async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                await ask(client, token, raw, report)
            report.api_peak_kib = read_status(api.pid, "VmHWM")
            report.api_rss_kib = read_status(api.pid, "VmRSS")
        finally:
            stop(api)
    finally:
        await raw.close()
        await graph.close()


async def ask(client: httpx.AsyncClient, token: str, raw: Raw, report: Report) -> None:
    args, estate = report.args, report.estate
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    seconds = []
    for _ in range(30):
        start = time.perf_counter()
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        response.raise_for_status()
        seconds.append(time.perf_counter() - start)
    report.typename_p50 = percentile(seconds[5:], 0.5)

    report.mark("impact")
    with report.jvm.phase("impact"):
        roots = await pick_roots(raw, estate, args.roots, args.seed)
        for walks, repeat in (
            (Walks("typical roots (VMs)", roots), args.repeat),
            (
                Walks("a data centre's core router", [component_id(estate, estate.router(0))]),
                args.router_repeat,
            ),
        ):
            progress(f"impact, {walks.label}: {repeat} timed requests")
            await measure_impact(client, headers, raw, walks, repeat)
            progress(f"  p50 {walks.hub.p50 * 1000:,.1f} ms, raw {walks.raw.p50 * 1000:,.1f} ms")
            report.walks.append(walks)

    report.mark("pages")
    cis = estate.total - estate.services
    middle = f"cmp_8{'0' * 31}"
    report.pages = [
        Pages("first page", None),
        Pages("middle page", middle),
        Pages("last page", await last_cursor(raw, cis, args.first)),
    ]
    with report.jvm.phase("pages"):
        for pages in report.pages:
            progress(f"configurationItems, {pages.label}")
            await measure_page(client, headers, raw, pages, args.first, args.page_repeat, 0)
            progress(f"  p50 {pages.hub.p50 * 1000:,.1f} ms")
    try:
        with report.jvm.phase("pages: raw reads"):
            await raw_pages(client, headers, raw, report)
    except (neo4j.exceptions.Neo4jError, OSError) as exc:
        # Reported, not raised: what was measured before stays in the report.
        report.raw_pages_error = f"{type(exc).__name__}: {exc}"
        progress(f"  the raw reads failed: {report.raw_pages_error}")
    report.mark("end")


async def raw_pages(
    client: httpx.AsyncClient, headers: dict[str, str], raw: Raw, report: Report
) -> None:
    args = report.args
    for pages in report.pages:
        progress(f"raw reads, {pages.label}")
        await measure_page(
            client, headers, raw, pages, args.first, args.page_repeat, args.before_repeat
        )
        progress(
            f"  p50 the read before {pages.before.p50 * 1000:,.1f} ms, "
            f"open range {pages.open_range.p50 * 1000:,.1f} ms"
        )


# ---- the report -------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:,.1f} ms"


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.scale --cis {args.cis} --heap {args.heap} "
        f"--page-size {args.page_size} --batch-size {args.batch_size} --roots {args.roots} "
        f"--repeat {args.repeat} --router-repeat {args.router_repeat} "
        f"--page-repeat {args.page_repeat} --before-repeat {args.before_repeat} "
        f"--first {args.first} --seed {args.seed}"
    )


def markdown(report: Report) -> str:
    args, estate, sync = report.args, report.estate, report.sync
    relations = report.fake["relations"]
    rows = estate.total + relations
    raw_rows = report.raw_cis[0] + report.raw_relations[0]
    raw_seconds = report.raw_cis[1] + report.raw_relations[1]
    ceiling = raw_rows / raw_seconds
    hub_rate = rows / sync["seconds"]
    sizes = ", ".join(f"{estate.size(layer):,}" for layer in range(len(LAYERS)))
    lines = [
        "```",
        command(args),
        "```",
        "",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, {platform.system()} "
        f"{platform.release()}; 1-minute load average "
        + ", ".join(f"{label} {value:.2f}" for label, value in report.load),
        f"- Python {platform.python_version()}, neo4j driver {version('neo4j')}, "
        f"strawberry-graphql {version('strawberry-graphql')}, "
        f"arcadedb-embedded {version('arcadedb-embedded')}, JVM heap {args.heap}",
        f"- hub code: {report.tree}",
        f"- estate (`benchmarks.estate`, seed {args.seed}): {estate.total:,} CIs: "
        f"{estate.dcs} data centres x 3 shared CIs, layers bottom up {sizes}, "
        f"{estate.services:,} services; {relations:,} dependencies "
        f"({relations / estate.total:.2f} per CI)",
        f"- the fake: filled in {report.fake['seconds']:,.0f} s, "
        f"{mib(report.fake['rss_kib'] - report.fake['base_kib'])} of data, in a process "
        "of its own",
        f"- wall time: {report.total_seconds:,.0f} s ("
        + ", ".join(f"{k} {v:,.0f} s" for k, v in report.phase_seconds.items())
        + ")",
        "",
        "**CMDB sync**",
        "",
        "| what | rows | time | rows/s | vs ceiling |",
        "|---|---:|---:|---:|---:|",
        f"| raw ceiling: CIs | {report.raw_cis[0]:,} | {secs(report.raw_cis[1])} "
        f"| {report.raw_cis[0] / report.raw_cis[1]:,.0f} | |",
        f"| raw ceiling: relations | {report.raw_relations[0]:,} "
        f"| {secs(report.raw_relations[1])} "
        f"| {report.raw_relations[0] / report.raw_relations[1]:,.0f} | |",
        f"| **raw ceiling** | {raw_rows:,} | {secs(raw_seconds)} | {ceiling:,.0f} | 1.00x |",
        f"| **hub: full `run_sync`** ({sync['pages']:,} pages of {args.page_size:,}, "
        f"batches of {args.batch_size:,}) | {rows:,} | {secs(sync['seconds'])} "
        f"| {hub_rate:,.0f} | **{hub_rate / ceiling:.2f}x** |",
        "",
    ]
    tx = sync["transactions"]
    statements = sorted(sync["statements"].items(), key=lambda kv: -kv[1][2])
    in_statements = sum(s[2] for _, s in statements)
    lines += [
        "| part of the sync | calls | rows | time | share |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (calls, count, seconds) in statements:
        if seconds >= 0.05 * sync["seconds"] / 10:
            lines.append(
                f"| `{name}` | {calls:,} | {count:,} | {secs(seconds)} "
                f"| {seconds / sync['seconds']:.0%} |"
            )
    between = tx["work"] - in_statements
    commits = tx["total"] - tx["work"]
    outside = sync["seconds"] - sync["keys_seconds"] - tx["total"]
    lines += [
        f"| Python between statements (rows) | | | {secs(between)} "
        f"| {between / sync['seconds']:.0%} |",
        f"| sessions, begin, commit ({tx['count']:,} transactions) | | | {secs(commits)} "
        f"| {commits / sync['seconds']:.0%} |",
        f"| `live_keys` listing | | | {secs(sync['keys_seconds'])} "
        f"| {sync['keys_seconds'] / sync['seconds']:.0%} |",
        f"| outside transactions (pages, pipeline) | | | {secs(outside)} "
        f"| {outside / sync['seconds']:.0%} |",
        "",
        f"- the sync's process: peak RSS (VmHWM, its whole life) **{mib(sync['vmhwm_kib'])}**, "
        f"{mib(sync['rss_start_kib'])} when the sync began; CPU {sync['sync_cpu_seconds']:,.0f} s "
        "during the sync",
    ]
    for name, phase in report.jvm.phases.items():
        lines.append(
            f"- JVM, {name}: RSS {mib(phase.rss_start_kib)} at the start, peak "
            f"**{mib(phase.peak_kib)}**, CPU {phase.cpu:,.0f} s in {secs(phase.seconds)}"
        )
    lines += [
        "",
        "**Impact over HTTP** (viewer token; the raw walk: distinct ids level by level in one "
        "read transaction)",
        "",
        f"Authenticated `{{ __typename }}` p50: {ms(report.typename_p50)}.",
        "",
        "| roots | dependants | variant | requests | p50 | p95 | hub / raw, p50 and p95 |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for walks in report.walks:
        reached = (
            f"{walks.reached[0]:,}-{walks.reached[-1]:,}"
            if len(walks.reached) > 1
            else f"{walks.reached[0]:,}"
        )
        for timed in (walks.hub, walks.raw):
            ratio = (
                f"{walks.hub.p50 / timed.p50:.2f}x, {walks.hub.p95 / timed.p95:.2f}x"
                if timed is walks.raw
                else ""
            )
            lines.append(
                f"| {walks.label} (load {walks.load:.2f}) | {reached} | {timed.label} "
                f"| {len(timed.seconds)} | {ms(timed.p50)} | {ms(timed.p95)} | {ratio} |"
            )
    lines += [
        "",
        "Response bodies, p50: "
        + "; ".join(f"{w.label} {w.response_kib:,.0f} KiB" for w in report.walks),
        "",
        f"**List pages**: `configurationItems(first: {args.first}, after:)` over HTTP, "
        f"{estate.total - estate.services:,} CIs",
        "",
        "| page | items | next page | variant | requests | p50 | p95 |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for pages in report.pages:
        for timed in (pages.hub, pages.open_range, pages.before):
            if not timed.seconds:
                continue
            lines.append(
                f"| {pages.label} | {pages.items} | {'yes' if pages.has_next else 'no'} "
                f"| {timed.label} | {len(timed.seconds)} | {ms(timed.p50)} | {ms(timed.p95)} |"
            )
    if report.raw_pages_error:
        lines += ["", f"The raw reads of the pages failed: `{report.raw_pages_error}`."]
    lines += [
        "",
        f"- the API's process: peak RSS (VmHWM) **{mib(report.api_peak_kib)}**, "
        f"{mib(report.api_rss_kib)} at the end",
    ]
    return "\n".join(lines)


# ---- entry ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description="CMDB sync, impact and list pages at scale, against raw Cypher, on a "
        "fresh embedded server, a fake ServiceNow and hub processes of their own.",
    )
    sub = parser.add_subparsers(dest="role")
    fake = sub.add_parser("fake", help="(internal) fill and serve the fake ServiceNow")
    fake.add_argument("--cis", type=int, required=True)
    fake.add_argument("--seed", type=int, required=True)
    fake.add_argument("--ready", required=True)
    sync = sub.add_parser("sync", help="(internal) one full sync of the hub")
    sync.add_argument("--url", required=True)
    sync.add_argument("--page-size", type=int, required=True)
    sync.add_argument("--batch-size", type=int, required=True)
    sync.add_argument("--result", required=True)
    api = sub.add_parser("api", help="(internal) the hub's API")
    api.add_argument("--data-dir", required=True)
    api.add_argument("--ready", required=True)

    parser.add_argument("--cis", type=int, default=100_000, help="CIs, services included")
    parser.add_argument(
        "--heap",
        default=EmbeddedGraphSettings().heap,
        help="JVM heap of the embedded server (default: the hub's own default)",
    )
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="Table API page size")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="records a write")
    parser.add_argument("--roots", type=int, default=3, help="typical impact roots")
    parser.add_argument("--repeat", type=int, default=30, help="timed typical impact requests")
    parser.add_argument("--router-repeat", type=int, default=5, help="timed router requests")
    parser.add_argument("--page-repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--before-repeat", type=int, default=3, help="timed reads per page of the read before"
    )
    parser.add_argument("--first", type=int, default=50, help="page size of the list")
    parser.add_argument("--seed", type=int, default=7, help="seed of the estate")
    args = parser.parse_args(argv)
    if args.role is None and (
        args.cis < 5000 or min(args.roots, args.repeat, args.router_repeat, args.first) < 1
    ):
        parser.error("need --cis >= 5000 and --roots, --repeat, --router-repeat, --first >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "fake":
        return run_fake(args)
    if args.role == "sync":
        return run_sync_child(args)
    if args.role == "api":
        return run_api(args)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    estate = Estate(args.cis, args.seed)
    report = Report(args, hub_tree(), estate)
    with tempfile.TemporaryDirectory(prefix="hub-bench-scale-") as temp:
        work = Path(temp)
        data_dir = work / "data"
        data_dir.mkdir()
        progress(f"filling the fake (another process): {args.cis:,} CIs")
        fake = spawn(
            "fake",
            ["--cis", str(args.cis), "--seed", str(args.seed), "--ready", str(work / "fake.json")],
            dict(os.environ),
        )
        server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=args.heap))
        try:
            report.fake = wait_for(work / "fake.json", fake, "the fake", 3 * 3600)
            report.phase_seconds["filling the fake"] = time.perf_counter() - started
            progress(
                f"  {report.fake['cis']:,} CIs, {report.fake['relations']:,} relations in "
                f"{report.fake['seconds']:.0f} s"
            )
            progress(f"starting the embedded server (heap {args.heap})")
            connection = server.attach_or_start()
            state = server.read_state()
            report.jvm = Jvm(None if state is None else state.pid)
            measured = time.perf_counter()
            asyncio.run(measure(connection, data_dir, work, report))
            report.phase_seconds["measuring"] = time.perf_counter() - measured
        except Exception:
            # The log goes with the temporary directory: its end is kept here.
            state = "alive" if server.child_alive() else "dead"
            progress(f"the embedded server ({state}); the end of its log:\n{server.log_tail()}")
            raise
        finally:
            stop(fake)
            server.stop()
    report.total_seconds = time.perf_counter() - started
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
