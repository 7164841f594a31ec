"""Import and traversal speed of the hub's graph layer, against raw Cypher baselines.

Run as ``.venv/bin/python -m benchmarks.graph [--cis N] [--seed S] [--repeat R]``.

The benchmark starts its own embedded ArcadeDB server in a temporary directory (and
stops it at the end, even on error), applies the hub's migrations, and generates a
deterministic layered estate: configuration items in six layers, services on top, and
one "core router" that a sixth of the CIs depend on directly (shared infrastructure).

It then measures, through the same async ``neo4j`` driver:

- import: the hub's `BundleImporter` (validation, external refs, one transaction per
  bundle) against plain ``UNWIND ... MERGE`` batches of 2,000 rows, one transaction per
  batch, into label namespaces of their own: ``BenchRaw:ConfigurationItem`` (two labels,
  as the hub writes them) and ``BenchFlat`` (one label); then a delta: the first 2,000
  CIs once more, as a periodic sync sends them;
- traversals: `TraversalRepository.dependency_chain` from a top service and
  `TraversalRepository.dependants` (impact) from the core router, both at depth 10,
  against (a) one variable-length query, (b) a raw per-level breadth-first walk
  returning distinct nodes, and (c) the hub's per-level statement shape (edge rows)
  in one read transaction. All run on the same nodes (the hub's ``Component``s),
  interleaved, after one warm-up run each; their reached nodes and depths must agree.

The markdown report goes to stdout; progress goes to stderr. Raw Cypher strings live
here only: the hub itself sends nothing but its own ``Cypher`` constants.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import random
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, LiteralString

import neo4j

from hub.domain.bundle import parse_bundle
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import BundleImporter, ComponentRepository, TraversalRepository
from hub.settings import EmbeddedGraphSettings

SOURCE = "bench"
WARMUP_SOURCE = "benchwarmup"
WARMUP_CIS = 600
DELTA_ROWS = 2000
DEPTH = 10  # Also written into the variable-length queries below (bounds are no parameters).
RAW_BATCH = 2000
LAYER_FRACTIONS = (0.25, 0.20, 0.18, 0.15, 0.12, 0.10)  # bottom (infrastructure) to top
CI_CLASSES = ("router", "server", "database", "middleware", "application", "api")

# ---- raw Cypher: the baselines ---------------------------------------------------------

RAW_CONSTRAINTS: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT bench_raw_id IF NOT EXISTS FOR (n:BenchRaw) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT bench_flat_id IF NOT EXISTS FOR (n:BenchFlat) REQUIRE n.id IS UNIQUE",
)
# Two labels, as the hub's UPSERT_CONFIGURATION_ITEMS / UPSERT_SERVICES write them.
RAW_UPSERT_CIS: LiteralString = (
    "UNWIND $rows AS row MERGE (c:BenchRaw:ConfigurationItem {id: row.id}) SET c += row.props"
)
RAW_UPSERT_SERVICES: LiteralString = (
    "UNWIND $rows AS row MERGE (c:BenchRaw:Service {id: row.id}) SET c += row.props"
)
# One label: MERGE on exactly the label that carries the unique constraint.
RAW_UPSERT_FLAT: LiteralString = (
    "UNWIND $rows AS row MERGE (c:BenchFlat {id: row.id}) SET c += row.props"
)
RAW_UPSERT_EDGES: LiteralString = (
    "UNWIND $rows AS row "
    "MATCH (a:BenchRaw {id: row.from}) MATCH (b:BenchRaw {id: row.to}) "
    "MERGE (a)-[:DEPENDS_ON]->(b)"
)
RAW_VARLEN_DEPENDENCIES: LiteralString = (
    "MATCH p = (a:Component {id: $id})-[:DEPENDS_ON*1..10]->(b) "
    "RETURN b.id AS id, min(length(p)) AS depth"
)
RAW_VARLEN_DEPENDANTS: LiteralString = (
    "MATCH p = (a:Component {id: $id})<-[:DEPENDS_ON*1..10]-(b) "
    "RETURN b.id AS id, min(length(p)) AS depth"
)
RAW_BFS_DEPENDENCIES: LiteralString = (
    "UNWIND $frontier AS id "
    "MATCH (:Component {id: id})-[:DEPENDS_ON]->(b:Component) RETURN DISTINCT b.id AS id"
)
RAW_BFS_DEPENDANTS: LiteralString = (
    "UNWIND $frontier AS id "
    "MATCH (:Component {id: id})<-[:DEPENDS_ON]-(b:Component) RETURN DISTINCT b.id AS id"
)
# The same shape as the hub's DEPENDENCIES_OF / DEPENDANTS_OF: one row per edge.
RAW_EDGES_DEPENDENCIES: LiteralString = (
    "UNWIND $frontier AS id "
    "MATCH (a:Component {id: id})-[:DEPENDS_ON]->(b:Component) WHERE b.status = 'ACTIVE' "
    "RETURN a.id AS source, b.id AS target"
)
RAW_EDGES_DEPENDANTS: LiteralString = (
    "UNWIND $frontier AS id "
    "MATCH (a:Component {id: id})<-[:DEPENDS_ON]-(b:Component) WHERE b.status = 'ACTIVE' "
    "RETURN b.id AS source, a.id AS target"
)
COUNTS: dict[str, LiteralString] = {
    "hub nodes": "MATCH (c:Component) RETURN count(c) AS n",
    "hub edges": "MATCH (:Component)-[r:DEPENDS_ON]->(:Component) RETURN count(r) AS n",
    "raw nodes": "MATCH (c:BenchRaw) RETURN count(c) AS n",
    "raw edges": "MATCH (:BenchRaw)-[r:DEPENDS_ON]->(:BenchRaw) RETURN count(r) AS n",
    "flat nodes": "MATCH (c:BenchFlat) RETURN count(c) AS n",
}


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the estate ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    name: str
    kind: str  # "ci" or "service"
    props: dict[str, str]


@dataclass(slots=True)
class Estate:
    """A layered estate; edges are (consumer, provider): consumer DEPENDS_ON provider."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    layers: list[list[str]] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    router: str = ""

    @property
    def ci_count(self) -> int:
        return sum(1 for node in self.nodes if node.kind == "ci")

    def paths(self, root: str, reverse: bool, max_depth: int) -> int:
        """How many paths of 1..max_depth hops start at `root` (what a variable-length
        match enumerates), counted level by level."""
        step: dict[str, list[str]] = {}
        for consumer, provider in self.edges:
            a, b = (provider, consumer) if reverse else (consumer, provider)
            step.setdefault(a, []).append(b)
        ways = {root: 1}
        total = 0
        for _ in range(max_depth):
            nxt: dict[str, int] = {}
            for node, count in ways.items():
                for other in step.get(node, ()):
                    nxt[other] = nxt.get(other, 0) + count
            total += sum(nxt.values())
            ways = nxt
            if not ways:
                break
        return total


def _near(rng: random.Random, layer: Sequence[str], position: float, spread: float) -> str:
    """A member of `layer` near `position` (a fraction of its length), Gaussian spread."""
    index = round(position * len(layer) + rng.gauss(0.0, spread * len(layer)))
    return layer[min(max(index, 0), len(layer) - 1)]


def generate_estate(
    cis: int, services: int, router_fan_in: int, seed: int, prefix: str = ""
) -> Estate:
    """A deterministic layered estate of `cis` CIs (the core router included).

    CIs of layer L >= 1 depend on 2-6 CIs near their own relative position in layer
    L-1 (or, one dependency in seven, layer L-2): neighbours share providers, which
    makes diamonds everywhere. Each service depends on 6-14 CIs of the top layer.
    `router_fan_in` CIs of the two bottom layers depend on the core router. Every key
    starts with `prefix`.
    """
    rng = random.Random(seed)
    sizes = [max(1, int(cis * fraction)) for fraction in LAYER_FRACTIONS]
    sizes[0] += cis - 1 - sum(sizes)  # the router is the one CI outside the layers
    if sizes[0] < 1:
        raise ValueError(f"--cis {cis} is too small for {len(LAYER_FRACTIONS)} layers")
    estate = Estate()
    estate.router = f"{prefix}ci-core-router"
    estate.nodes.append(
        Node(
            estate.router,
            "core router",
            "ci",
            {"ciClass": "router", "environment": "prod", "location": "dc1"},
        )
    )
    for level, size in enumerate(sizes):
        layer = [f"{prefix}ci-{level}-{index:06d}" for index in range(size)]
        estate.layers.append(layer)
        for index, key in enumerate(layer):
            estate.nodes.append(
                Node(
                    key,
                    f"CI {level}/{index}",
                    "ci",
                    {
                        "ciClass": CI_CLASSES[level],
                        "environment": "prod" if index % 5 else "test",
                        "location": f"dc{1 + index % 3}",
                    },
                )
            )
    spread = 0.01
    edges: dict[tuple[str, str], None] = {}
    for level in range(1, len(sizes)):
        layer = estate.layers[level]
        for index, key in enumerate(layer):
            position = (index + 0.5) / len(layer)
            for _ in range(rng.randint(2, 6)):
                below = level - 2 if level >= 2 and rng.random() < 1 / 7 else level - 1
                edges[(key, _near(rng, estate.layers[below], position, spread))] = None
    top = estate.layers[-1]
    for index in range(services):
        key = f"{prefix}svc-{index:04d}"
        estate.services.append(key)
        estate.nodes.append(
            Node(key, f"Service {index}", "service", {"tier": f"TIER_{1 + index % 4}"})
        )
        position = (index + 0.5) / services
        for _ in range(rng.randint(6, 14)):
            edges[(key, _near(rng, top, position, spread * 2))] = None
    bottom = estate.layers[0] + estate.layers[1]
    for key in rng.sample(bottom, min(router_fan_in, len(bottom))):
        edges[(key, estate.router)] = None
    estate.edges = list(edges)
    return estate


Bundles = list[dict[str, Any]]


def hub_bundles(estate: Estate, source: str, bundle_rows: int) -> tuple[Bundles, Bundles]:
    """Node bundles (CIs bottom-up, then services), then edge bundles, all one source:
    later bundles name components of earlier ones, which the importer looks up."""
    node_bundles: list[dict[str, Any]] = []
    for start in range(0, len(estate.nodes), bundle_rows):
        chunk = estate.nodes[start : start + bundle_rows]
        node_bundles.append(
            {
                "source": source,
                "configurationItems": [
                    {"externalId": n.key, "name": n.name, **n.props}
                    for n in chunk
                    if n.kind == "ci"
                ],
                "services": [
                    {"externalId": n.key, "name": n.name, **n.props}
                    for n in chunk
                    if n.kind == "service"
                ],
            }
        )
    edge_bundles = [
        {
            "source": source,
            "dependencies": [
                {"from": a, "to": b} for a, b in estate.edges[start : start + bundle_rows]
            ],
        }
        for start in range(0, len(estate.edges), bundle_rows)
    ]
    return node_bundles, edge_bundles


# ---- measuring -------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class ImportResult:
    phase: str  # "nodes", "edges" or "delta"
    variant: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


@dataclass(slots=True)
class WalkResult:
    """One traversal variant: timings, and what the last run reached ({node: depth})."""

    label: str
    seconds: list[float] = field(default_factory=list)
    reached: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0
    rows: int = 0

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


class Raw:
    """The baselines: the same async driver, raw statements, no hub code."""

    def __init__(self, connection: GraphConnection) -> None:
        self._driver = neo4j.AsyncGraphDatabase.driver(
            connection.uri,
            auth=(connection.user, connection.password),
            notifications_min_severity="OFF",
        )
        self._database = connection.database

    async def close(self) -> None:
        await self._driver.close()

    async def write(self, statement: LiteralString, **params: Any) -> None:
        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            result = await tx.run(statement, params)
            await result.consume()

        async with self._driver.session(database=self._database) as session:
            await session.execute_write(work)

    async def write_batches(self, statement: LiteralString, rows: Sequence[Any]) -> float:
        """One transaction per batch of `RAW_BATCH` rows; the seconds it took."""
        start = time.perf_counter()
        for offset in range(0, len(rows), RAW_BATCH):
            await self.write(statement, rows=list(rows[offset : offset + RAW_BATCH]))
        return time.perf_counter() - start

    async def read(self, statement: LiteralString, **params: Any) -> list[dict[str, Any]]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[dict[str, Any]]:
            result = await tx.run(statement, params)
            return [record.data() async for record in result]

        async with self._driver.session(database=self._database) as session:
            return await session.execute_read(work)

    async def count(self, statement: LiteralString, **params: Any) -> int:
        rows = await self.read(statement, **params)
        return int(rows[0]["n"]) if rows else 0

    async def varlen(self, statement: LiteralString, root: str) -> dict[str, int]:
        rows = await self.read(statement, id=root)
        return {row["id"]: int(row["depth"]) for row in rows if row["id"] != root}

    async def bfs(
        self, statement: LiteralString, root: str, max_depth: int, edges: bool
    ) -> tuple[dict[str, int], int, int]:
        """Level by level in one read transaction: ({node: depth}, round trips, rows).

        With `edges`, rows are (source, target) pairs as the hub's statements return
        them; otherwise distinct node ids."""

        async def work(tx: neo4j.AsyncManagedTransaction) -> tuple[dict[str, int], int, int]:
            depth_of = {root: 0}
            frontier = [root]
            trips = rows = 0
            for depth in range(1, max_depth + 1):
                if not frontier:
                    break
                result = await tx.run(statement, {"frontier": frontier})
                trips += 1
                frontier = []
                async for record in result:
                    rows += 1
                    for node in (record["source"], record["target"]) if edges else (record["id"],):
                        if node not in depth_of:
                            depth_of[node] = depth
                            frontier.append(node)
            del depth_of[root]
            return depth_of, trips, rows

        async with self._driver.session(database=self._database) as session:
            return await session.execute_read(work)


async def time_it(work: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


def raw_rows(nodes: Sequence[Node], kind: str) -> Bundles:
    return [
        {"id": n.key, "props": {"name": n.name, "status": "ACTIVE", **n.props}}
        for n in nodes
        if n.kind == kind
    ]


async def _load_all(importer: BundleImporter, bundles: Bundles) -> None:
    for bundle in bundles:
        await importer.load(bundle)


async def import_all_ways(
    graph: Graph, raw: Raw, estate: Estate, source: str, bundle_rows: int
) -> list[ImportResult]:
    """`estate` through the hub, then raw with two labels, then raw with one label."""
    node_bundles, edge_bundles = hub_bundles(estate, source, bundle_rows)
    importer = BundleImporter(graph)
    nodes, edges = len(estate.nodes), len(estate.edges)
    cis, services = raw_rows(estate.nodes, "ci"), raw_rows(estate.nodes, "service")
    edge_rows = [{"from": a, "to": b} for a, b in estate.edges]

    async def two_labels() -> None:
        await raw.write_batches(RAW_UPSERT_CIS, cis)
        await raw.write_batches(RAW_UPSERT_SERVICES, services)

    progress(f"  hub: {len(node_bundles)} node bundle(s), {nodes} rows")
    hub_nodes = await time_it(lambda: _load_all(importer, node_bundles))
    progress(f"  hub: {len(edge_bundles)} edge bundle(s), {edges} rows")
    hub_edges = await time_it(lambda: _load_all(importer, edge_bundles))
    progress(f"  raw: {nodes} node rows, two labels")
    raw_nodes = await time_it(two_labels)
    progress(f"  raw: {edges} edge rows")
    raw_edges = await time_it(lambda: raw.write_batches(RAW_UPSERT_EDGES, edge_rows))
    progress(f"  raw: {nodes} node rows, one label")
    flat_nodes = await time_it(lambda: raw.write_batches(RAW_UPSERT_FLAT, cis + services))
    return [
        ImportResult("nodes", "hub", nodes, hub_nodes),
        ImportResult("nodes", "raw two labels", nodes, raw_nodes),
        ImportResult("nodes", "raw one label", nodes, flat_nodes),
        ImportResult("edges", "hub", edges, hub_edges),
        ImportResult("edges", "raw", edges, raw_edges),
    ]


async def import_delta(graph: Graph, raw: Raw, estate: Estate) -> list[ImportResult]:
    """The first `DELTA_ROWS` CIs again, with a changed location: all of them MERGE-match."""
    changed = [
        Node(n.key, n.name, n.kind, {**n.props, "location": "dc9"})
        for n in estate.nodes
        if n.kind == "ci"
    ][:DELTA_ROWS]
    bundle = {
        "source": SOURCE,
        "configurationItems": [{"externalId": n.key, "name": n.name, **n.props} for n in changed],
    }
    rows = raw_rows(changed, "ci")
    progress(f"  delta: {len(changed)} existing CIs, hub, raw two labels, raw one label")
    hub = await time_it(lambda: BundleImporter(graph).load(bundle))
    two = await time_it(lambda: raw.write_batches(RAW_UPSERT_CIS, rows))
    one = await time_it(lambda: raw.write_batches(RAW_UPSERT_FLAT, rows))
    return [
        ImportResult("delta", "hub", len(changed), hub),
        ImportResult("delta", "raw two labels", len(changed), two),
        ImportResult("delta", "raw one label", len(changed), one),
    ]


async def measure_import(
    graph: Graph, raw: Raw, estate: Estate, warmup: Estate, bundle_rows: int
) -> tuple[list[ImportResult], float]:
    """Warm every path up on a small estate of its own, import `estate` every way, check
    what was stored, then re-import a delta. Also returns the hub's validation time."""
    for statement in RAW_CONSTRAINTS:
        await raw.write(statement)
    progress(f"warm-up import: {len(warmup.nodes)} nodes, {len(warmup.edges)} edges")
    await import_all_ways(graph, raw, warmup, WARMUP_SOURCE, bundle_rows)

    node_bundles, edge_bundles = hub_bundles(estate, SOURCE, bundle_rows)
    start = time.perf_counter()
    for bundle in [*node_bundles, *edge_bundles]:
        parse_bundle(bundle)
    validation = time.perf_counter() - start

    progress(f"import: {len(estate.nodes)} nodes, {len(estate.edges)} edges")
    results = await import_all_ways(graph, raw, estate, SOURCE, bundle_rows)
    counts = {what: await raw.count(statement) for what, statement in COUNTS.items()}
    progress(f"stored (warm-up included): {counts}")
    for what, count in counts.items():
        expected = (
            len(estate.nodes) + len(warmup.nodes)
            if what.endswith("nodes")
            else len(estate.edges) + len(warmup.edges)
        )
        if count != expected:
            raise RuntimeError(f"{count} {what} stored, expected {expected}")
    results += await import_delta(graph, raw, estate)
    return results, validation


async def measure_walks(
    graph: Graph, raw: Raw, root: str, reverse: bool, repeat: int
) -> list[WalkResult]:
    """The hub's walk and the raw variants, interleaved; they must reach the same."""
    walks = TraversalRepository(graph)
    hub = WalkResult("hub `TraversalRepository`")
    varlen = WalkResult("(a) raw variable-length query")
    bfs = WalkResult("(b) raw per-level BFS, distinct nodes, 1 tx")
    edges = WalkResult("(c) raw per-level BFS, hub's edge rows, 1 tx")

    async def run_hub() -> None:
        before = graph.round_trips
        if reverse:  # as the GraphQL `impact` resolver walks: no edges
            walk = await walks.dependants(root, DEPTH, with_edges=False)
        else:
            walk = await walks.dependency_chain(root, DEPTH)
        hub.round_trips = graph.round_trips - before
        hub.reached = {c.component_id: c.depth for c in walk.reached}
        hub.rows = len(walk.edges) if walk.edges else len(walk.reached)

    async def run_varlen() -> None:
        statement = RAW_VARLEN_DEPENDANTS if reverse else RAW_VARLEN_DEPENDENCIES
        varlen.reached = await raw.varlen(statement, root)
        varlen.round_trips = 1
        varlen.rows = len(varlen.reached)

    async def run_bfs() -> None:
        statement = RAW_BFS_DEPENDANTS if reverse else RAW_BFS_DEPENDENCIES
        bfs.reached, bfs.round_trips, bfs.rows = await raw.bfs(statement, root, DEPTH, False)

    async def run_edges() -> None:
        statement = RAW_EDGES_DEPENDANTS if reverse else RAW_EDGES_DEPENDENCIES
        edges.reached, edges.round_trips, edges.rows = await raw.bfs(statement, root, DEPTH, True)

    variants = ((hub, run_hub), (varlen, run_varlen), (bfs, run_bfs), (edges, run_edges))
    for _, run in variants:  # warm-up: plans, caches, JIT
        await run()
    for iteration in range(repeat):
        # Rotate the order so that no variant always runs right after the same one.
        shift = iteration % len(variants)
        for result, run in variants[shift:] + variants[:shift]:
            result.seconds.append(await time_it(run))
    for other in (varlen, bfs, edges):
        if other.reached != hub.reached:
            missing = len(hub.reached.keys() - other.reached.keys())
            extra = len(other.reached.keys() - hub.reached.keys())
            moved = sum(
                1 for k, d in other.reached.items() if k in hub.reached and hub.reached[k] != d
            )
            raise RuntimeError(
                f"{other.label} disagrees with the hub walk: {missing} missing, "
                f"{extra} extra, {moved} at another depth"
            )
    return [hub, varlen, bfs, edges]


# ---- the report ------------------------------------------------------------------------


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:,.1f} ms"


IMPORT_VARIANTS = {
    "hub": "hub `BundleImporter`",
    "raw two labels": "raw `MERGE (c:BenchRaw:ConfigurationItem {id})`",
    "raw one label": "raw `MERGE (c:BenchFlat {id})`",
    "raw": "raw `MATCH (a:BenchRaw {id}) MATCH (b:BenchRaw {id}) MERGE (a)-[:DEPENDS_ON]->(b)`",
}


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    estate: Estate
    imports: list[ImportResult]
    validation_seconds: float
    chain: list[WalkResult]
    impact: list[WalkResult]
    chain_paths: int
    impact_paths: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    python_peak_kib: int = 0
    server_peak_kib: int = 0
    total_seconds: float = 0.0

    def command(self) -> str:
        a = self.args
        return (
            f".venv/bin/python -m benchmarks.graph --cis {a.cis} --seed {a.seed} "
            f"--repeat {a.repeat} --services {a.services} --router-fan-in {a.router_fan_in} "
            f"--bundle-rows {a.bundle_rows} --heap {a.heap}"
        )

    def markdown(self) -> str:
        a, e = self.args, self.estate
        lines = [
            "## Graph benchmark",
            "",
            f"- command: `{self.command()}`",
            f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, "
            f"{platform.system()} {platform.release()}; load average "
            f"{self.load_before[0]:.2f} before, {self.load_after[0]:.2f} after",
            f"- python {platform.python_version()}, neo4j driver {version('neo4j')}, "
            f"arcadedb-embedded {version('arcadedb-embedded')}, JVM heap {a.heap}",
            f"- estate: {e.ci_count:,} CIs ({len(e.layers)} layers and the core router), "
            f"{len(e.services)} services, {len(e.edges):,} DEPENDS_ON edges; "
            f"{a.router_fan_in:,} CIs depend on the core router directly",
            "",
            "### Import",
            "",
            "| phase | variant | rows | time | rows/s | hub/variant time |",
            "|---|---|---:|---:|---:|---:|",
        ]
        phases = {
            "nodes": "nodes, first load",
            "edges": "edges, first load",
            "delta": "delta: the first CIs again, changed",
        }
        for phase, title in phases.items():
            loads = [i for i in self.imports if i.phase == phase]
            hub = next(i for i in loads if i.variant == "hub")
            for i in loads:
                lines.append(
                    f"| {title} | {IMPORT_VARIANTS[i.variant]} | {i.rows:,} | {i.seconds:.1f} s "
                    f"| {i.rate:,.0f} | {hub.seconds / i.seconds:.2f}x |"
                )
        lines += [
            "",
            f"Hub bundles hold up to {a.bundle_rows:,} rows, one transaction each; raw "
            f"statements take {RAW_BATCH:,} rows, one transaction each. Of the hub's "
            f"first load, {self.validation_seconds:.1f} s is client-side validation "
            "(`parse_bundle`, timed on its own).",
            "",
            f"### Traversals (depth {DEPTH}, {a.repeat} timed runs each after one warm-up, "
            "interleaved)",
            "",
            "| walk | variant | p50 | p95 | nodes reached | round trips | rows returned "
            "| hub/variant p50 |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for title, walks, paths in (
            (f"dependency chain of `{e.services[0]}`", self.chain, self.chain_paths),
            ("dependants (impact) of the core router", self.impact, self.impact_paths),
        ):
            for w in walks:
                lines.append(
                    f"| {title} | {w.label} | {ms(w.p50)} | {ms(w.p95)} "
                    f"| {len(w.reached):,} | {w.round_trips} | {w.rows:,} "
                    f"| {walks[0].p50 / w.p50:.2f}x |"
                )
            lines.append(
                f"| {title} | paths of 1..{DEPTH} hops (what (a) enumerates) "
                f"| | | {paths:,} paths | | | |"
            )
        lines += [
            "",
            "Round trips include the hub's status check of the root. The hub's chain returns "
            "the edges of its `Walk`; its impact walk (as the GraphQL `impact` resolver "
            "calls it) reads distinct components, counted here as nodes reached. All "
            "variants reached "
            "the same nodes at the same depths (checked on every run's last result).",
            "",
            f"- peak RSS of the Python process: {self.python_peak_kib / 1024:,.0f} MiB",
            f"- peak RSS of the embedded server (JVM child): {self.server_peak_kib / 1024:,.0f} "
            "MiB",
            f"- wall time: {self.total_seconds:.0f} s",
        ]
        return "\n".join(lines)


async def run(
    connection: GraphConnection, args: argparse.Namespace, estate: Estate, warmup: Estate
) -> Report:
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        load_before = os.getloadavg()
        imports, validation = await measure_import(graph, raw, estate, warmup, args.bundle_rows)
        components = ComponentRepository(graph)
        service_id = await components.lookup(SOURCE, estate.services[0])
        router_id = await components.lookup(SOURCE, estate.router)
        if service_id is None or router_id is None:
            raise RuntimeError("the imported service or router cannot be found")
        progress(f"dependency chain of {estate.services[0]}: {args.repeat} runs x 4 variants")
        chain = await measure_walks(graph, raw, service_id, reverse=False, repeat=args.repeat)
        progress(f"dependants of the core router: {args.repeat} runs x 4 variants")
        impact = await measure_walks(graph, raw, router_id, reverse=True, repeat=args.repeat)
        return Report(
            args=args,
            estate=estate,
            imports=imports,
            validation_seconds=validation,
            chain=chain,
            impact=impact,
            chain_paths=estate.paths(estate.services[0], reverse=False, max_depth=DEPTH),
            impact_paths=estate.paths(estate.router, reverse=True, max_depth=DEPTH),
            load_before=load_before,
        )
    finally:
        await raw.close()
        await graph.close()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.graph",
        description="Import and traversal speed of the hub's graph layer vs raw Cypher, "
        "on a fresh embedded server of its own.",
    )
    parser.add_argument("--cis", type=int, default=12_000, help="configuration items")
    parser.add_argument("--services", type=int, default=50, help="services on top")
    parser.add_argument(
        "--router-fan-in",
        type=int,
        default=None,
        help="CIs depending directly on the core router (default: a sixth of --cis)",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated estate")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per traversal")
    parser.add_argument(
        "--bundle-rows", type=int, default=20_000, help="rows per bundle of the hub import"
    )
    parser.add_argument(
        "--heap",
        default=EmbeddedGraphSettings().heap,
        help="JVM heap of the embedded server (default: the hub's own default)",
    )
    args = parser.parse_args(argv)
    if args.router_fan_in is None:
        args.router_fan_in = args.cis // 6
    if args.cis < 100 or args.services < 1 or args.repeat < 1 or args.bundle_rows < 1:
        parser.error("need --cis >= 100, --services >= 1, --repeat >= 1, --bundle-rows >= 1")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    estate = generate_estate(args.cis, args.services, args.router_fan_in, args.seed)
    warmup = generate_estate(WARMUP_CIS, 5, WARMUP_CIS // 6, args.seed + 1, prefix="warmup-")
    progress(
        f"estate: {estate.ci_count} CIs, {len(estate.services)} services, "
        f"{len(estate.edges)} edges (seed {args.seed})"
    )
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        try:
            progress("starting the embedded server")
            connection = server.attach_or_start()
            report = asyncio.run(run(connection, args, estate, warmup))
        finally:
            server.stop()
    report.load_after = os.getloadavg()
    report.python_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report.server_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.total_seconds = time.perf_counter() - started
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
