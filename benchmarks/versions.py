"""Agreements through time: `agreementAsOf` and `agreements(asOf:)` at scale, over HTTP.

Run as ``.venv/bin/python -m benchmarks.versions [--lineages N] [--versions V]
[--repeat R] [--warmup W] [--pages P] [--years Y] [--batch B] [--seed S] [--heap H]``;
``--lineages 500 --versions 3 --repeat 20`` makes a quick run.

The benchmark starts a private embedded server in a temporary directory (as
`benchmarks.graph` does) and applies the hub's migrations. A small estate (services) and
a customer go in through the hub's import path (`BundleImporter`). One real lineage is
then written through `AgreementRepository`: version 1 created, submitted and approved,
then revised, submitted and approved again (which ends version 1). Its stored nodes and
relationships are the template of the bulk load: N lineages x V approved versions,
written with raw ``UNWIND $rows ... CREATE`` in batches (raw Cypher lives in
`benchmarks/` only), with exactly the template's labels, property keys and
relationships (FOR_CUSTOMER, COVERS, HAS_OBJECTIVE to an Objective of its own,
PREVIOUS_VERSION to the previous version). Consecutive versions have contiguous valid
time [effectiveFrom, effectiveTo) over the past Y years; the latest is open-ended.

`hub.app.create_app` is then served by uvicorn on 127.0.0.1 (a thread of this process,
no scheduler) and a viewer token is issued. Interleaved, after a warm-up:

- ``agreementAsOf(lineage:, at:)`` at a random past instant of a random lineage (the
  answer must be the version the benchmark planted for that instant);
- ``agreements(asOf:, first: 100)``: the first page at a random past instant, and the
  next P pages through ``endCursor`` (each page must be the planted versions in force
  then, in id order).

Beside them, the same statements straight through the driver (the raw baseline: for a
page, the statement of each slice of the id space the hub read, `hub.graph.key_ranges`),
and the EXPLAIN and PROFILE plans of both. The markdown report goes to stdout, progress to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import logging
import os
import platform
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, LiteralString

import httpx
import neo4j

from benchmarks.access import StatementCounter, app_graph
from benchmarks.graph import (
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
from benchmarks.sync import StatementTimer, hub_tree, serve_app
from hub.app import create_app
from hub.demo import APPROVER, AUTHOR
from hub.domain.access import UNLIMITED
from hub.domain.models import (
    AgreementKind,
    AgreementRevisionSpec,
    AgreementSpec,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import agreements as aq
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.ids import new_id, to_iso
from hub.graph.key_ranges import id_slices
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, BundleImporter, TokenRepository
from hub.settings import EmbeddedGraphSettings, Settings

SOURCE = "versions"
CUSTOMER = "cust-versions"
PAGE = 100

# ---- raw Cypher: reading the template, the bulk load -----------------------------------

RAW_REFS: LiteralString = (
    "MATCH (r:ExternalRef) WHERE r.source = $source RETURN r.externalId AS key, r.targetId AS id"
)
RAW_TEMPLATE: LiteralString = """
MATCH (a:Agreement {lineage: $lineage})
RETURN a.id AS id, labels(a) AS labels, properties(a) AS props,
       [(a)-[r]->(t) | [type(r), labels(t), t.id, properties(r)]] AS out,
       [(a)<-[r]-(t) | [type(r), labels(t), t.id]] AS incoming,
       [(a)-[:HAS_OBJECTIVE]->(o) | [labels(o), properties(o)]] AS objectives
ORDER BY a.version
"""
RAW_CREATE: LiteralString = """
UNWIND $rows AS row
MATCH (c:Customer {id: row.customer})
MATCH (s:Component {id: row.service})
CREATE (a:Agreement)
SET a += row.props
CREATE (o:Objective)
SET o += row.objective
CREATE (a)-[:HAS_OBJECTIVE]->(o)
CREATE (a)-[:COVERS]->(s)
CREATE (a)-[:FOR_CUSTOMER]->(c)
"""
RAW_CREATE_NEXT: LiteralString = """
UNWIND $rows AS row
MATCH (c:Customer {id: row.customer})
MATCH (s:Component {id: row.service})
MATCH (p:Agreement {id: row.previous})
CREATE (a:Agreement)
SET a += row.props
CREATE (o:Objective)
SET o += row.objective
CREATE (a)-[:HAS_OBJECTIVE]->(o)
CREATE (a)-[:COVERS]->(s)
CREATE (a)-[:FOR_CUSTOMER]->(c)
CREATE (a)-[:PREVIOUS_VERSION]->(p)
"""
RAW_COUNT: LiteralString = "MATCH (a:Agreement) RETURN count(a) AS n"

# ---- the questions ---------------------------------------------------------------------

AS_OF = """
query AsOf($lineage: ID!, $at: DateTime!) {
  agreementAsOf(lineage: $lineage, at: $at) { id lineage version effectiveFrom effectiveTo }
}
"""
PAGE_AS_OF = f"""
query Page($asOf: DateTime!, $after: String) {{
  agreements(asOf: $asOf, first: {PAGE}, after: $after) {{
    edges {{ node {{ id lineage version }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

# Keys that differ per version; all others are copied from the template.
PER_VERSION = {
    "id",
    "lineage",
    "version",
    "versionKey",
    "name",
    "effectiveFrom",
    "effectiveTo",
    "supersededAt",
    "supersededBy",
    "createdAt",
    "recordedAt",
    "submittedAt",
    "approvedAt",
    "updatedAt",
}


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    lineage: str
    number: int
    start: str
    end: str | None


@dataclass(slots=True)
class Planted:
    """What was loaded: every version, per lineage in version order."""

    lineages: dict[str, list[Version]] = field(default_factory=dict)
    by_start: list[Version] = field(default_factory=list)

    def at(self, lineage: str, instant: str) -> Version | None:
        for v in self.lineages[lineage]:
            if v.start <= instant and (v.end is None or instant < v.end):
                return v
        return None

    def started(self, instant: str) -> int:
        """How many versions start at or before `instant` (the effectiveFrom range)."""
        return bisect.bisect_right([v.start for v in self.by_start], instant)

    def in_force(self, instant: str) -> list[str]:
        """Ids of the versions in force at `instant`, in id order."""
        upto = bisect.bisect_right([v.start for v in self.by_start], instant)
        return sorted(v.id for v in self.by_start[:upto] if v.end is None or instant < v.end)


@dataclass(slots=True)
class Sample:
    seconds: list[float] = field(default_factory=list)
    statements: Counter[int] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)
    in_statements: list[float] = field(default_factory=list)
    # Per timed page: the versions started by its instant (what the range scan reads).
    candidates: list[int] = field(default_factory=list)

    def p(self, fraction: float) -> float:
        return percentile(self.seconds, fraction)


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    tree: str
    template_keys: list[str] = field(default_factory=list)
    template_rels: list[str] = field(default_factory=list)
    versions: int = 0
    objectives: int = 0
    load_seconds: float = 0.0
    setup_seconds: float = 0.0
    samples: dict[str, Sample] = field(default_factory=dict)
    raw: dict[str, Sample] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    in_force_counts: list[int] = field(default_factory=list)
    load: list[tuple[str, float]] = field(default_factory=list)
    python_peak_kib: int = 0
    server_peak_kib: int = 0
    total_seconds: float = 0.0


# ---- set-up ----------------------------------------------------------------------------


def objectives() -> tuple[ObjectiveSpec, ...]:
    return (
        ObjectiveSpec(
            indicator=Indicator.AVAILABILITY,
            target=99.9,
            window_kind=WindowKind.CALENDAR_MONTH,
            name="availability",
        ),
    )


async def import_parties(graph: Graph, raw: Raw, services: int, seed: int) -> tuple[str, list[str]]:
    """A small estate and one customer through `BundleImporter`; the stored ids."""
    estate = generate_estate(max(100, services * 10), services, 10, seed)
    node_bundles, edge_bundles = hub_bundles(estate, SOURCE, 20_000)
    node_bundles[0]["customers"] = [{"externalId": CUSTOMER, "name": "Customer of versions"}]
    importer = BundleImporter(graph)
    for bundle in [*node_bundles, *edge_bundles]:
        await importer.load(bundle)
    ids = {row["key"]: row["id"] for row in await raw.read(RAW_REFS, source=SOURCE)}
    return ids[CUSTOMER], [ids[key] for key in estate.services]


async def template(graph: Graph, raw: Raw, customer: str, service: str) -> list[dict[str, Any]]:
    """One lineage of two versions written by the hub itself: create, submit, approve,
    revise, submit, approve. Its stored shape, version 1 (ended) then version 2."""
    repository = AgreementRepository(graph)
    spec = AgreementSpec(
        kind=AgreementKind.SLA,
        name="Template SLA",
        covers=(service,),
        objectives=objectives(),
        customer_id=customer,
    )
    first = await repository.create(spec, AUTHOR, note="versions benchmark")
    await repository.submit(first, AUTHOR, note="versions benchmark")
    await repository.approve(first, APPROVER, note="versions benchmark")
    second = await repository.revise(
        first, AgreementRevisionSpec(name="Template SLA v2"), AUTHOR, "versions benchmark"
    )
    await repository.submit(second, AUTHOR, note="versions benchmark")
    await repository.approve(second, APPROVER, note="versions benchmark")
    rows = await raw.read(RAW_TEMPLATE, lineage=first)
    if [row["id"] for row in rows] != [first, second]:
        raise RuntimeError(f"the template lineage reads back as {rows}")
    for row in rows:
        if sorted(row["labels"]) != ["Agreement"]:
            raise RuntimeError(f"unexpected agreement labels {row['labels']}")
        if len(row["objectives"]) != 1 or sorted(row["objectives"][0][0]) != ["Objective"]:
            raise RuntimeError(f"unexpected objectives {row['objectives']}")
        out = sorted(r[0] for r in row["out"])
        expected = ["COVERS", "FOR_CUSTOMER", "HAS_OBJECTIVE"]
        if row["id"] == second:
            expected = sorted([*expected, "PREVIOUS_VERSION"])
        if out != expected or any(r[3] for r in row["out"]):
            raise RuntimeError(f"unexpected relationships of {row['id']}: {row['out']}")
    return rows


def timeline(rng: random.Random, now: datetime, versions: int, years: float) -> list[datetime]:
    """The starts of `versions` consecutive versions over the past `years`."""
    first = now - timedelta(days=365 * years) + timedelta(days=rng.uniform(0, 60))
    last = now - timedelta(days=rng.uniform(10, 90))
    span = (last - first) / max(versions - 1, 1)
    starts = [first + span * k for k in range(versions)]
    # Jitter the inner boundaries by up to a fifth of a span, keeping their order.
    for k in range(1, versions - 1):
        starts[k] += span * rng.uniform(-0.2, 0.2)
    return [s.replace(microsecond=rng.randrange(1_000_000)) for s in starts]


def version_props(
    base: dict[str, Any],
    lineage: str,
    vid: str,
    k: int,
    start: datetime,
    end: datetime | None,
    next_id: str | None,
) -> dict[str, Any]:
    props = {key: value for key, value in base.items() if key not in PER_VERSION}
    created = start - timedelta(days=3)
    props.update(
        id=vid,
        lineage=lineage,
        version=k,
        versionKey=f"{lineage}#{k}",
        name=f"SLA {lineage[-8:]} v{k}",
        effectiveFrom=to_iso(start),
        createdAt=to_iso(created),
        recordedAt=to_iso(created),
        submittedAt=to_iso(created + timedelta(days=1)),
        approvedAt=to_iso(start),
        updatedAt=to_iso(end or start),
    )
    if end is not None:
        props.update(effectiveTo=to_iso(end), supersededAt=to_iso(end), supersededBy=next_id)
    else:
        for key in ("effectiveTo", "supersededAt", "supersededBy"):
            props.pop(key, None)
    # Only the template's keys, and those it had in the same role.
    unknown = set(props) - set(base) - {"effectiveTo", "supersededAt", "supersededBy"}
    if unknown:
        raise RuntimeError(f"keys the template does not carry: {sorted(unknown)}")
    return props


async def bulk_load(
    raw: Raw,
    rows_template: list[dict[str, Any]],
    customer: str,
    services: list[str],
    args: argparse.Namespace,
    now: datetime,
    report: Report,
) -> Planted:
    ended, latest = rows_template[0]["props"], rows_template[1]["props"]
    objective = rows_template[1]["objectives"][0][1]
    rng = random.Random(args.seed)
    planted = Planted()
    levels: list[list[dict[str, Any]]] = [[] for _ in range(args.versions)]
    for n in range(args.lineages):
        ids = [new_id("Agreement") for _ in range(args.versions)]
        lineage = ids[0]
        starts = timeline(rng, now, args.versions, args.years)
        service = services[n % len(services)]
        chain: list[Version] = []
        for k in range(args.versions):
            end = starts[k + 1] if k + 1 < args.versions else None
            base = ended if end is not None else latest
            props = version_props(
                base,
                lineage,
                ids[k],
                k + 1,
                starts[k],
                end,
                ids[k + 1] if end is not None else None,
            )
            obj = dict(objective, id=new_id("Objective"))
            row = {
                "customer": customer,
                "service": service,
                "props": props,
                "objective": obj,
                "previous": ids[k - 1] if k else None,
            }
            levels[k].append(row)
            chain.append(
                Version(ids[k], lineage, k + 1, props["effectiveFrom"], props.get("effectiveTo"))
            )
        planted.lineages[lineage] = chain
    planted.by_start = sorted(
        (v for chain in planted.lineages.values() for v in chain), key=lambda v: v.start
    )
    report.template_keys = sorted(latest)
    started = time.perf_counter()
    for k, rows in enumerate(levels):
        statement = RAW_CREATE if k == 0 else RAW_CREATE_NEXT
        for offset in range(0, len(rows), args.batch):
            await raw.write(statement, rows=rows[offset : offset + args.batch])
        progress(f"  version {k + 1}: {len(rows):,} written, {time.perf_counter() - started:.0f} s")
    report.load_seconds = time.perf_counter() - started
    report.versions = args.lineages * args.versions
    report.objectives = report.versions
    stored = await raw.count(RAW_COUNT)
    if stored != report.versions + 2:
        raise RuntimeError(f"{stored} agreements stored, expected {report.versions + 2}")
    return planted


# ---- measuring -------------------------------------------------------------------------


def random_instant(rng: random.Random, low: str, high: datetime) -> str:
    start = datetime.strptime(low, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return to_iso(start + (high - start) * rng.random())


def list_params(as_of: str, after: str | None, now: datetime) -> dict[str, Any]:
    return {
        "asOf": as_of,
        "limit": PAGE + 1,
        "after": after,
        "kinds": None,
        "statuses": None,
        "customerId": None,
        "serviceId": None,
        "regulation": None,
        "businessUnit": None,
        "region": None,
        "now": to_iso(now),
        **UNLIMITED.params(),
    }


async def raw_timed(raw: Raw, text: LiteralString, params: dict[str, Any]) -> tuple[float, list]:
    start = time.perf_counter()
    rows = await raw.read(text, **params)
    return time.perf_counter() - start, rows


async def raw_page(
    raw: Raw, as_of: str, after: str | None, now: datetime
) -> tuple[float, list[Any]]:
    """The page as the hub reads it, slice by slice of the id space (`id_slices`), with
    the same statement and parameters, straight through the driver."""
    rows: list[Any] = []
    seconds = 0.0
    for lo, hi in id_slices(after, "agr"):
        params = list_params(as_of, after, now) | {
            "lo": lo,
            "hi": hi,
            "limit": PAGE + 1 - len(rows),
        }
        spent, found = await raw_timed(raw, aq.LIST_AGREEMENTS_AS_OF.text, params)
        seconds += spent
        rows += found
        if len(rows) > PAGE:
            break
    return seconds, rows


async def plans(connection: GraphConnection, lineage: str, at: str, now: datetime) -> dict:
    driver = neo4j.AsyncGraphDatabase.driver(
        connection.uri,
        auth=(connection.user, connection.password),
        notifications_min_severity="OFF",
    )
    out: dict[str, str] = {}
    statements: list[tuple[str, LiteralString, dict[str, Any]]] = [
        (
            "AGREEMENT_AS_OF",
            aq.AGREEMENT_AS_OF.text,
            {"lineage": lineage, "at": at, **UNLIMITED.params()},
        ),
        (
            "LIST_AGREEMENTS_AS_OF",
            aq.LIST_AGREEMENTS_AS_OF.text,
            list_params(at, None, now)
            | dict(zip(("lo", "hi"), next(id_slices(None, "agr")), strict=True)),
        ),
    ]
    async with driver, driver.session(database=connection.database) as session:
        for name, text, params in statements:
            for mode in ("EXPLAIN", "PROFILE"):
                try:
                    result = await session.run(mode + " " + text, params)  # type: ignore[arg-type]
                    summary = await result.consume()
                    plan = summary.profile if mode == "PROFILE" else summary.plan
                    if plan is None:
                        plan = summary.plan
                    described = plan.get("args", {}).get("string-representation") if plan else None
                    out[f"{mode} {name}"] = described or repr(plan)
                except Exception as error:
                    out[f"{mode} {name}"] = f"(failed: {error})"
    return out


async def measure(
    client: httpx.AsyncClient,
    token: str,
    raw: Raw,
    planted: Planted,
    counter: StatementCounter,
    timed: dict[str, Any],
    args: argparse.Namespace,
    now: datetime,
    report: Report,
) -> None:
    rng = random.Random(args.seed + 1)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    lineages = list(planted.lineages)
    earliest = planted.by_start[0].start
    labels = ("agreementAsOf", "first page", "later page")
    report.samples = {label: Sample() for label in labels}
    report.raw = {label: Sample() for label in labels}

    def statement_seconds() -> float:
        return sum(stat.seconds for stat in timed.values())

    async def ask(label: str, document: str, variables: dict[str, Any], timed_run: bool) -> Any:
        counter.names.clear()
        before = statement_seconds()
        start = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=headers
        )
        seconds = time.perf_counter() - start
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL over HTTP: {response.status_code} {answer}")
        if timed_run:
            sample = report.samples[label]
            sample.seconds.append(seconds)
            sample.statements[len(counter.names)] += 1
            sample.names.update(counter.names)
            sample.in_statements.append(statement_seconds() - before)
        return answer["data"]

    rounds = args.warmup + args.repeat
    for n in range(rounds):
        timed_run = n >= args.warmup
        # agreementAsOf: a random lineage at a random instant from its start to now.
        lineage = rng.choice(lineages)
        at = random_instant(rng, planted.lineages[lineage][0].start, now)
        expected = planted.at(lineage, at)
        data = await ask("agreementAsOf", AS_OF, {"lineage": lineage, "at": at}, timed_run)
        got = data["agreementAsOf"]
        if expected is None or got is None or got["id"] != expected.id:
            raise RuntimeError(f"agreementAsOf({lineage}, {at}): {got}, expected {expected}")
        if timed_run:
            seconds, rows = await raw_timed(
                raw, aq.AGREEMENT_AS_OF.text, {"lineage": lineage, "at": at, **UNLIMITED.params()}
            )
            if [r["props"]["id"] for r in rows] != [expected.id]:
                raise RuntimeError(f"raw AGREEMENT_AS_OF answered {rows}")
            report.raw["agreementAsOf"].seconds.append(seconds)
        # A list as of a random instant after the earliest start: first page, then later.
        if n % (args.pages + 1) == 0:
            as_of = random_instant(rng, earliest, now)
            in_force = planted.in_force(as_of)
            started = planted.started(as_of)
            report.in_force_counts.append(len(in_force))
            cursor: str | None = None
            page_number = 0
        label = "first page" if cursor is None else "later page"
        data = await ask(label, PAGE_AS_OF, {"asOf": as_of, "after": cursor}, timed_run)
        page = data["agreements"]
        ids = [edge["node"]["id"] for edge in page["edges"]]
        want = in_force[page_number * PAGE : (page_number + 1) * PAGE]
        if ids != want:
            raise RuntimeError(
                f"agreements(asOf: {as_of}) page {page_number}: {len(ids)} ids, "
                f"{len(set(ids) & set(want))} of the {len(want)} expected"
            )
        if timed_run:
            last_id = None if page_number == 0 else in_force[page_number * PAGE - 1]
            seconds, rows = await raw_page(raw, as_of, last_id, now)
            if [r["props"]["id"] for r in rows][:PAGE] != want:
                raise RuntimeError("raw LIST_AGREEMENTS_AS_OF answered another page")
            report.raw[label].seconds.append(seconds)
            report.samples[label].candidates.append(started)
        cursor = page["pageInfo"]["endCursor"]
        page_number += 1
        if n % 20 == 0:
            progress(f"  round {n + 1}/{rounds}")


# ---- the run ---------------------------------------------------------------------------


async def run(connection: GraphConnection, data_dir: Path, report: Report) -> None:
    args = report.args
    now = datetime.now(UTC)
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        started = time.perf_counter()
        report.load.append(("set-up", os.getloadavg()[0]))
        customer, services = await import_parties(graph, raw, args.services, args.seed)
        rows = await template(graph, raw, customer, services[0])
        report.template_rels = sorted({r[0] for row in rows for r in row["out"]})
        progress(
            f"bulk load: {args.lineages:,} lineages x {args.versions} versions, "
            f"batches of {args.batch:,}"
        )
        planted = await bulk_load(raw, rows, customer, services, args, now, report)
        report.setup_seconds = time.perf_counter() - started
        token = await TokenRepository(graph).create("versions-bench", Role.VIEWER)
        sample_lineage = next(iter(planted.lineages))
        report.plans = await plans(
            connection,
            sample_lineage,
            random_instant(random.Random(args.seed), planted.by_start[0].start, now),
            now,
        )

        app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
        counter = StatementCounter()
        served = app_graph(app)
        served.add_listener(counter)
        async with contextlib.AsyncExitStack() as stack:
            timed = stack.enter_context(StatementTimer().timing())
            url = stack.enter_context(serve_app(app, lifespan=True))
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
            report.load.append(("requests", os.getloadavg()[0]))
            progress(f"requests: {args.warmup} warm-up rounds, {args.repeat} timed rounds")
            await measure(client, token, raw, planted, counter, timed, args, now, report)
            report.load.append(("end", os.getloadavg()[0]))
        served.remove_listener(counter)
    finally:
        await raw.close()
        await graph.close()


# ---- the report ------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.versions --lineages {args.lineages} "
        f"--versions {args.versions} --repeat {args.repeat} --warmup {args.warmup} "
        f"--pages {args.pages} --years {args.years} --services {args.services} "
        f"--batch {args.batch} --seed {args.seed} --heap {args.heap}"
    )


def markdown(report: Report) -> str:
    a = report.args
    lines = [
        "## Agreement versions (benchmark report)",
        "",
        f"- command: `{command(a)}`",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, {platform.system()} "
        f"{platform.release()}; 1-minute load average "
        + ", ".join(f"{when} {value:.1f}" for when, value in report.load),
        f"- python {platform.python_version()}, neo4j driver {version('neo4j')}, "
        f"strawberry-graphql {version('strawberry-graphql')}, "
        f"arcadedb-embedded {version('arcadedb-embedded')}, JVM heap {a.heap}",
        f"- hub tree: {report.tree}",
        f"- loaded: {report.versions:,} agreement versions ({a.lineages:,} lineages x "
        f"{a.versions}) with {report.objectives:,} objectives, raw batches of {a.batch:,}, "
        f"in {report.load_seconds:.1f} s ({report.versions / report.load_seconds:,.0f} "
        f"versions/s); set-up in all {report.setup_seconds:.0f} s",
        f"- template properties: {', '.join(report.template_keys)}",
        f"- template relationships: {', '.join(report.template_rels)}",
        f"- versions in force at the list instants: "
        f"{min(report.in_force_counts):,}-{max(report.in_force_counts):,}",
        "",
        "| request | n | p50 | p95 | p99 | max | statements per request | in statements p50 "
        "| raw statement p50 | raw p95 |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for label, sample in report.samples.items():
        raw = report.raw[label]
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(sample.statements.items()))
        lines.append(
            f"| {label} | {len(sample.seconds)} | {ms(sample.p(0.5))} | {ms(sample.p(0.95))} "
            f"| {ms(sample.p(0.99))} | {ms(max(sample.seconds))} | {counts} "
            f"| {ms(percentile(sample.in_statements, 0.5))} | {ms(raw.p(0.5))} "
            f"| {ms(raw.p(0.95))} |"
        )
    pages = [
        (n, t)
        for label in ("first page", "later page")
        for n, t in zip(
            report.samples[label].candidates, report.samples[label].seconds, strict=True
        )
    ]
    lines += [
        "",
        "Pages (first and later) by how many versions start at or before the instant "
        "(before the id slices, the rows an effectiveFrom range read):",
        "",
        "| versions started by asOf | pages | p50 | p95 | max |",
        "|---|---:|---:|---:|---:|",
    ]
    total = report.versions
    for low, high in ((0, 0.4), (0.4, 0.7), (0.7, 1.01)):
        times = [t for n, t in pages if low * total <= n < high * total]
        if times:
            lines.append(
                f"| {low * total:,.0f}-{min(high, 1.0) * total:,.0f} | {len(times)} "
                f"| {ms(percentile(times, 0.5))} | {ms(percentile(times, 0.95))} "
                f"| {ms(max(times))} |"
            )
    lines += ["", "Statements per request, by name (timed requests):", ""]
    for label, sample in report.samples.items():
        names = ", ".join(f"{name} x{count}" for name, count in sample.names.most_common())
        lines.append(f"- {label}: {names}")
    lines += ["", "### Plans", ""]
    for name, text in report.plans.items():
        lines += [f"{name}:", "", "```", text.strip(), "```", ""]
    lines += [
        f"- peak RSS of the Python process: {report.python_peak_kib / 1024:,.0f} MiB; of the "
        f"JVM: {report.server_peak_kib / 1024:,.0f} MiB",
        f"- wall time: {report.total_seconds:.0f} s",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.versions",
        description="agreementAsOf and agreements(asOf:) over GraphQL at scale, on a fresh "
        "embedded server of its own.",
    )
    parser.add_argument("--lineages", type=int, default=10_000, help="agreements (lineages)")
    parser.add_argument("--versions", type=int, default=5, help="approved versions per lineage")
    parser.add_argument("--repeat", type=int, default=100, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up rounds")
    parser.add_argument(
        "--pages", type=int, default=3, help="later pages after each first page of a list"
    )
    parser.add_argument("--years", type=float, default=5.0, help="past years the versions span")
    parser.add_argument("--services", type=int, default=20, help="services the SLAs cover")
    parser.add_argument("--batch", type=int, default=1_000, help="rows per raw transaction")
    parser.add_argument("--seed", type=int, default=11, help="seed of the generated load")
    parser.add_argument(
        "--heap",
        default=EmbeddedGraphSettings().heap,
        help="JVM heap of the embedded server (default: the hub's own default)",
    )
    args = parser.parse_args(argv)
    if min(args.lineages, args.versions, args.repeat, args.services, args.batch) < 1:
        parser.error("need --lineages, --versions, --repeat, --services, --batch >= 1")
    if args.warmup < 0 or args.pages < 0 or args.years <= 0:
        parser.error("need --warmup >= 0, --pages >= 0, --years > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    report = Report(args, hub_tree())
    with tempfile.TemporaryDirectory(prefix="hub-bench-versions-") as data_dir:
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
