"""`coverageGaps` for every SLA in force, over GraphQL and HTTP, against raw Cypher.

Run as ``.venv/bin/python -m benchmarks.gaps [--cis N] [--services S] [--repeat R]
[--single K] [--uncovered-every U] [--timeout T] ...``; ``--cis 1200 --services 50
--repeat 2`` makes a quick run.

The estate is the one of `benchmarks.graph` (`generate_estate`: six layers of CIs, the
shared core router, services on top), loaded through the hub's import with the parties
of `benchmarks.access`. Agreements are authored through `AgreementRepository`: per
service one ACTIVE SLA for its unit's customer covering the service (availability
99.9 %); one ACTIVE OLA per layer covering the layer's CIs except every U-th (those are
the UNCOVERED gaps), one ACTIVE OLA covering every service and one ACTIVE UC on the
core router, all at 99.99 %. So each SLA has an UNCOVERED gap per uncovered CI on its
chain and one INFEASIBLE_TARGET gap (a few hundred 99.99 % links in series).

`hub.app.create_app` is served by uvicorn in a thread of this process (as
`benchmarks.http_traversals` does) and asked with a viewer token, default arguments:
``coverageGaps`` (every SLA in force at once), and with ``--single K``
``coverageGaps(slaId:)`` for K SLAs one by one. Each request is interleaved with the raw
baseline sent through the async driver to the same server, in one read transaction:
the SLAs in force with their covered ACTIVE components, a level-by-level walk of
distinct ids seeded with all of them (one statement per level), the OLAs/UCs in force
covering what was reached, and each SLA's chain and uncovered components worked out in
Python. The raw baseline delivers what the rules need, not the rules nor a GraphQL
answer. Every answer is checked against the estate itself. The markdown report goes to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

import httpx
import neo4j

from benchmarks.access import UNITS, World, parties, place_services
from benchmarks.graph import (
    RAW_BATCH,
    Estate,
    Raw,
    _exit_on_sigterm,
    generate_estate,
    hub_bundles,
    memory_total,
    ms,
    percentile,
    progress,
    version,
)
from benchmarks.http_traversals import serve
from benchmarks.sync import StatementStat, StatementTimer, hub_tree
from hub.app import create_app
from hub.demo import APPROVER, AUTHOR
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import to_iso
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, BundleImporter, TokenRepository
from hub.settings import ApiSettings, EmbeddedGraphSettings, Settings

SOURCE = "gaps"

GAPS = """
query Gaps {
  coverageGaps { kind indicator required provided detail sla { id } component { id } }
}
"""
SLA_GAPS = """
query SlaGaps($id: ID!) {
  coverageGaps(slaId: $id) {
    kind indicator required provided detail sla { id } component { id }
  }
}
"""

# ---- raw Cypher: the baseline ----------------------------------------------------------

RAW_REFS: LiteralString = (
    "MATCH (r:ExternalRef) WHERE r.source = $source RETURN r.externalId AS key, r.targetId AS id"
)
RAW_SLA_ROOTS: LiteralString = (
    "MATCH (sla:Agreement)-[:COVERS]->(c:Component) "
    "WHERE sla.kind = 'SLA' AND sla.state = 'APPROVED' AND sla.effectiveFrom <= $now "
    "AND (sla.effectiveTo IS NULL OR $now < sla.effectiveTo) AND c.status = 'ACTIVE' "
    "RETURN sla.id AS sla, collect(c.id) AS roots"
)
RAW_LEVEL: LiteralString = (
    "UNWIND $frontier AS id "
    "MATCH (a:Component {id: id})-[:DEPENDS_ON]->(b:Component) WHERE b.status = 'ACTIVE' "
    "RETURN a.id AS id, collect(b.id) AS next"
)
RAW_COVERED: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (c:Component {id: id})<-[:COVERS]-(a:Agreement) "
    "WHERE a.kind IN ['OLA', 'UC'] AND a.state = 'APPROVED' AND a.effectiveFrom <= $now "
    "AND (a.effectiveTo IS NULL OR $now < a.effectiveTo) "
    "RETURN DISTINCT c.id AS id"
)

Answer = dict[str, Any]
GapKey = tuple[str, str, str | None]  # (SLA id, kind, component id)


# ---- what is planted -------------------------------------------------------------------


def availability(name: str, target: float) -> tuple[ObjectiveSpec, ...]:
    return (
        ObjectiveSpec(
            indicator=Indicator.AVAILABILITY,
            target=target,
            window_kind=WindowKind.CALENDAR_MONTH,
            name=name,
        ),
    )


@dataclass(slots=True)
class Planted:
    slas: dict[str, str] = field(default_factory=dict)  # service key -> SLA id
    uncovered: set[str] = field(default_factory=set)  # CI keys no OLA/UC covers


async def plant(graph: Graph, raw: Raw, world: World, every: int, bundle_rows: int) -> Planted:
    estate = world.estate
    node_bundles, edge_bundles = hub_bundles(estate, SOURCE, bundle_rows)
    node_bundles[0].update(parties())
    importer = BundleImporter(graph)
    progress(f"import: {len(estate.nodes):,} components, {len(estate.edges):,} edges")
    for bundle in [*node_bundles, *edge_bundles]:
        await importer.load(bundle)
    rows = await raw.read(RAW_REFS, source=SOURCE)
    world.ids = {row["key"]: row["id"] for row in rows}
    world.keys = {node_id: key for key, node_id in world.ids.items()}
    repository = AgreementRepository(graph)
    planted = Planted()

    async def author(spec: AgreementSpec) -> str:
        agreement_id = await repository.create(spec, AUTHOR, note="gaps benchmark")
        await repository.submit(agreement_id, AUTHOR, note="gaps benchmark")
        await repository.approve(agreement_id, APPROVER, note="gaps benchmark")
        return agreement_id

    started = time.perf_counter()
    progress(f"authoring {len(estate.services):,} SLAs and {len(estate.layers) + 2} OLAs/UCs")
    team = world.ids[f"team-{UNITS[0]}"]
    for level, layer in enumerate(estate.layers):
        covered = [key for index, key in enumerate(layer) if index % every]
        planted.uncovered.update(key for index, key in enumerate(layer) if not index % every)
        await author(
            AgreementSpec(
                kind=AgreementKind.OLA,
                name=f"Layer {level} OLA",
                covers=tuple(world.ids[key] for key in covered),
                objectives=availability("layer", 99.99),
                provider_team_id=team,
            )
        )
    await author(
        AgreementSpec(
            kind=AgreementKind.OLA,
            name="Services OLA",
            covers=tuple(world.ids[key] for key in estate.services),
            objectives=availability("services", 99.99),
            provider_team_id=team,
        )
    )
    await author(
        AgreementSpec(
            kind=AgreementKind.UC,
            name="Network UC",
            covers=(world.ids[estate.router],),
            objectives=availability("network", 99.99),
            vendor_id=world.ids["vendor-cloud"],
        )
    )
    for key in estate.services:
        unit, region = world.placement[key]
        planted.slas[key] = await author(
            AgreementSpec(
                kind=AgreementKind.SLA,
                name=f"SLA {key}",
                covers=(world.ids[key],),
                objectives=availability("availability", 99.9),
                customer_id=world.ids[f"cust-{unit}-{region}"],
            )
        )
    progress(f"  authored in {time.perf_counter() - started:.0f} s")
    return planted


# ---- what each answer must be ----------------------------------------------------------


def chains(estate: Estate) -> dict[str, set[str]]:
    """Each service and everything it depends on (the estate has no inactive
    components), by service key."""
    below: dict[str, list[str]] = {}
    for consumer, provider in estate.edges:
        below.setdefault(consumer, []).append(provider)
    found: dict[str, set[str]] = {}
    for root in estate.services:
        seen, stack = {root}, [root]
        while stack:
            for provider in below.get(stack.pop(), ()):
                if provider not in seen:
                    seen.add(provider)
                    stack.append(provider)
        found[root] = seen
    return found


def expectation(world: World, planted: Planted, chain: dict[str, set[str]]) -> Counter[GapKey]:
    expected: Counter[GapKey] = Counter()
    for key, sla in planted.slas.items():
        for member in sorted(chain[key] & planted.uncovered):
            expected[(sla, "UNCOVERED", world.ids[member])] += 1
        expected[(sla, "INFEASIBLE_TARGET", None)] += 1
    return expected


def facts(gaps: Sequence[Answer]) -> Counter[GapKey]:
    return Counter(
        (g["sla"]["id"], g["kind"], g["component"]["id"] if g["component"] else None) for g in gaps
    )


# ---- the raw baseline ------------------------------------------------------------------


async def raw_gaps(raw: Raw, now: str) -> tuple[Counter[GapKey], int]:
    """The uncovered chain members of every SLA in force (and one INFEASIBLE_TARGET gap
    each, as planted), from hand-written level-by-level Cypher in one read transaction;
    the number of statements sent."""

    async def work(tx: neo4j.AsyncManagedTransaction) -> tuple[Counter[GapKey], int]:
        result = await tx.run(RAW_SLA_ROOTS, {"now": now})
        roots = {record["sla"]: list(record["roots"]) async for record in result}
        statements = 1
        below: dict[str, list[str]] = {}
        seen = {root for found in roots.values() for root in found}
        frontier = sorted(seen)
        while frontier:
            result = await tx.run(RAW_LEVEL, {"frontier": frontier})
            statements += 1
            frontier = []
            async for record in result:
                below[record["id"]] = record["next"]
                for node in record["next"]:
                    if node not in seen:
                        seen.add(node)
                        frontier.append(node)
        covered: set[str] = set()
        ids = sorted(seen)
        for start in range(0, len(ids), RAW_BATCH * 5):
            result = await tx.run(
                RAW_COVERED, {"ids": ids[start : start + RAW_BATCH * 5], "now": now}
            )
            statements += 1
            covered.update([record["id"] async for record in result])
        found: Counter[GapKey] = Counter()
        for sla, starts in roots.items():
            members, stack = set(starts), list(starts)
            while stack:
                for provider in below.get(stack.pop(), ()):
                    if provider not in members:
                        members.add(provider)
                        stack.append(provider)
            for member in members - covered:
                found[(sla, "UNCOVERED", member)] += 1
            found[(sla, "INFEASIBLE_TARGET", None)] += 1
        return found, statements

    async with raw._driver.session(database=raw._database) as session:
        return await session.execute_read(work)


# ---- measuring -------------------------------------------------------------------------


@dataclass(slots=True)
class Variant:
    label: str
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.50) if self.seconds else float("nan")

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95) if self.seconds else float("nan")


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    tree: str
    all_hub: Variant = field(default_factory=lambda: Variant("GraphQL over HTTP"))
    all_raw: Variant = field(default_factory=lambda: Variant("raw level-by-level"))
    one_hub: Variant = field(default_factory=lambda: Variant("GraphQL over HTTP"))
    one_raw: Variant = field(default_factory=lambda: Variant("raw level-by-level"))
    slas: int = 0
    gaps: int = 0
    chain_sizes: list[int] = field(default_factory=list)
    paths: list[int] = field(default_factory=list)
    raw_statements: int = 0
    # The hub's statements during the timed all-SLA requests, by name (inside Transaction.run).
    statements: dict[str, StatementStat] = field(default_factory=dict)
    response_bytes: int = 0
    load: list[tuple[str, float]] = field(default_factory=list)
    versions: str = ""
    python_peak_kib: int = 0
    server_peak_kib: int = 0
    total_seconds: float = 0.0


async def ask(
    client: httpx.AsyncClient, token: str, document: str, variables: Answer, report: Report
) -> list[Answer]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    response = await client.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"GraphQL over HTTP: {response.status_code} {str(answer)[:500]}")
    report.response_bytes = max(report.response_bytes, len(response.content))
    gaps: list[Answer] = answer["data"]["coverageGaps"]
    return gaps


async def run(connection: GraphConnection, data_dir: Path, report: Report) -> None:
    args = report.args
    estate = generate_estate(args.cis, args.services, args.router_fan_in, args.seed)
    world = World(estate, place_services(estate))
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        report.load.append(("set-up", os.getloadavg()[0]))
        planted = await plant(graph, raw, world, args.uncovered_every, args.bundle_rows)
        token = await TokenRepository(graph).create("gaps-bench", Role.VIEWER)
    finally:
        await graph.close()
    chain = chains(estate)
    expected = expectation(world, planted, chain)
    report.slas = len(planted.slas)
    report.gaps = sum(expected.values())
    report.chain_sizes = sorted(len(members) for members in chain.values())
    report.paths = sorted(estate.paths(key, False, 25) for key in estate.services[:20])
    step = max(1, len(planted.slas) // max(args.single, 1))
    singles = list(planted.slas.values())[::step][: args.single]  # none with --single 0
    settings = Settings(data_dir=data_dir, api=ApiSettings(execution_timeout_seconds=args.timeout))
    app = create_app(settings, connection, schedule_syncs=False)
    try:
        with serve(app, "auto", "auto") as url:
            async with httpx.AsyncClient(base_url=url, timeout=args.timeout + 30) as client:
                report.load.append(("requests", os.getloadavg()[0]))
                await measure_all(client, token, raw, expected, report)
                if singles:
                    await measure_single(client, token, raw, expected, singles, report)
                report.load.append(("end", os.getloadavg()[0]))
    finally:
        await raw.close()


async def measure_all(
    client: httpx.AsyncClient, token: str, raw: Raw, expected: Counter[GapKey], report: Report
) -> None:
    args = report.args
    progress(f"coverageGaps, all {report.slas} SLAs: {args.warmup} warm-up, {args.repeat} timed")
    timer = StatementTimer()
    for n in range(args.warmup + args.repeat):
        order = ("hub", "raw") if n % 2 == 0 else ("raw", "hub")
        for which in order:
            start = time.perf_counter()
            if which == "hub":
                variant = report.all_hub
                try:
                    with timer.timing() as stats:
                        found = facts(await ask(client, token, GAPS, {}, report))
                    if n >= args.warmup:
                        for name, stat in stats.items():
                            total = report.statements.setdefault(name, StatementStat())
                            total.calls += stat.calls
                            total.seconds += stat.seconds
                except RuntimeError as exc:
                    variant.failures.append(f"{time.perf_counter() - start:.1f} s: {exc}")
                    progress(f"  GraphQL failed after {time.perf_counter() - start:.1f} s")
                    continue
            else:
                variant = report.all_raw
                found, report.raw_statements = await raw_gaps(raw, to_iso(datetime.now(UTC)))
            seconds = time.perf_counter() - start
            if found != expected:
                raise RuntimeError(f"coverageGaps ({variant.label}): not the expected gaps")
            if n >= args.warmup:
                variant.seconds.append(seconds)
        if len(report.all_hub.failures) >= 2:
            progress("  GraphQL failed twice: giving up on the all-SLA question")
            break
    progress(f"  p50 GraphQL {ms(report.all_hub.p50)}, raw {ms(report.all_raw.p50)}")


async def measure_single(
    client: httpx.AsyncClient,
    token: str,
    raw: Raw,
    expected: Counter[GapKey],
    singles: Sequence[str],
    report: Report,
) -> None:
    progress(f"coverageGaps(slaId:) for {len(singles)} SLAs, one by one")
    for sla in singles:
        start = time.perf_counter()
        try:
            found = facts(await ask(client, token, SLA_GAPS, {"id": sla}, report))
        except RuntimeError as exc:
            report.one_hub.failures.append(f"{time.perf_counter() - start:.1f} s: {exc}")
            progress(f"  GraphQL failed after {time.perf_counter() - start:.1f} s")
            continue
        report.one_hub.seconds.append(time.perf_counter() - start)
        if found != Counter({k: v for k, v in expected.items() if k[0] == sla}):
            raise RuntimeError(f"coverageGaps(slaId: {sla}): not the expected gaps")
    progress(f"  p50 GraphQL {ms(report.one_hub.p50)}")


# ---- the report ------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.gaps --cis {args.cis} --services {args.services} "
        f"--router-fan-in {args.router_fan_in} --uncovered-every {args.uncovered_every} "
        f"--repeat {args.repeat} --warmup {args.warmup} --single {args.single} "
        f"--timeout {args.timeout:g} --seed {args.seed} --bundle-rows {args.bundle_rows} "
        f"--heap {args.heap}"
    )


def markdown(report: Report) -> str:
    args = report.args
    sizes = report.chain_sizes
    lines = [
        "## Coverage gaps over HTTP (one run)",
        "",
        "```",
        command(args),
        "```",
        "",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, {platform.system()} "
        f"{platform.release()}; 1-minute load average "
        + ", ".join(f"{label} {value:.1f}" for label, value in report.load),
        f"- Python {platform.python_version()}, "
        + ", ".join(
            f"{p} {version(p)}" for p in ("neo4j", "strawberry-graphql", "arcadedb-embedded")
        )
        + f", JVM heap {args.heap}",
        f"- hub code: {report.tree}",
        f"- {report.slas} SLAs in force; chain sizes (components) min {sizes[0]}, median "
        f"{sizes[len(sizes) // 2]}, max {sizes[-1]}; {report.gaps:,} gaps expected; paths of "
        f"up to 25 hops from a service (first 20): {report.paths[0]:,}-{report.paths[-1]:,}",
        f"- raw baseline: {report.raw_statements} statements per run; largest response "
        f"{report.response_bytes / 1024:,.0f} KiB",
        "",
        "| question | variant | runs | p50 | p95 | GraphQL / raw p50 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, hub, raw in (
        (f"`coverageGaps`, all {report.slas} SLAs", report.all_hub, report.all_raw),
        ("`coverageGaps(slaId:)`, one SLA", report.one_hub, report.one_raw),
    ):
        for variant in (hub, raw):
            if not variant.seconds and not variant.failures:
                continue
            share = hub.p50 / raw.p50 if raw.seconds and hub.seconds else float("nan")
            lines.append(
                f"| {label} | {variant.label} | {len(variant.seconds)} | {ms(variant.p50)} | "
                f"{ms(variant.p95)} | {share:.2f}x |"
            )
    if report.statements and report.all_hub.seconds:
        runs = len(report.all_hub.seconds)
        lines += [
            "",
            f"The hub's statements per all-SLA request (mean of {runs}, timed in "
            "`Transaction.run`):",
            "",
            "| statement | calls | seconds |",
            "|---|---:|---:|",
        ]
        for name, stat in sorted(report.statements.items(), key=lambda kv: -kv[1].seconds):
            lines.append(f"| `{name}` | {stat.calls / runs:g} | {stat.seconds / runs:.2f} |")
    for variant in (report.all_hub, report.one_hub):
        for failure in variant.failures[:3]:
            lines.append(f"\nfailed: {failure}")
    lines += [
        "",
        f"- peak RSS of this process (client and API): {report.python_peak_kib / 1024:,.0f} MiB; "
        f"of the JVM: {report.server_peak_kib / 1024:,.0f} MiB",
        f"- wall time: {report.total_seconds:.0f} s",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gaps",
        description="coverageGaps over GraphQL and HTTP against a raw level-by-level walk, "
        "on the estate of benchmarks.graph, on a fresh embedded server of its own.",
    )
    parser.add_argument("--cis", type=int, default=12_000, help="configuration items")
    parser.add_argument("--services", type=int, default=500, help="services, one SLA each")
    parser.add_argument(
        "--router-fan-in",
        type=int,
        default=None,
        help="CIs depending directly on the core router (default: a sixth of --cis)",
    )
    parser.add_argument(
        "--uncovered-every", type=int, default=40, help="every U-th CI of a layer is uncovered"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of the all-SLA query")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs")
    parser.add_argument("--single", type=int, default=5, help="SLAs asked one by one")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="the API's execution timeout, seconds"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated estate")
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
    if args.cis < 100 or args.services < 1 or args.repeat < 1 or args.uncovered_every < 2:
        parser.error("need --cis >= 100, --services >= 1, --repeat >= 1, --uncovered-every >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    report = Report(args, hub_tree())
    with tempfile.TemporaryDirectory(prefix="hub-bench-gaps-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap=args.heap))
        try:
            progress(f"starting the embedded server (heap {args.heap})")
            connection = server.attach_or_start()
            asyncio.run(run(connection, Path(data_dir), report))
        except Exception:
            if not server.child_alive():
                progress(f"the embedded server died; the end of its log:\n{server.log_tail()}")
            raise
        finally:
            server.stop()
    report.python_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report.server_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report.total_seconds = time.perf_counter() - started
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
