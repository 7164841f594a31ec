"""What a token's scope costs: the same GraphQL questions over HTTP, unlimited and scoped.

Run as ``.venv/bin/python -m benchmarks.access [--cis N] [--services S] [--drafts D]
[--repeat R] [--router-repeat K] [--warmup W] [--questions Q,...] [--seed S] [--heap H]``;
``--cis 1200 --drafts 2 --repeat 4 --router-repeat 2 --warmup 1`` makes a quick run
(under a minute), and ``--questions impact-mid,agreements --repeat 60`` asks only those
two, more often.

The estate is the one of `benchmarks.graph` (`generate_estate`: six layers of CIs, the
shared core router, services on top), loaded through the hub's import path
(`BundleImporter`). The services get business units and regions, deterministically:
service i is in unit ``UNITS[i % 5]`` and region ``REGIONS[(i // 5) % 2]``. Each
(unit, region) has a customer; one more customer has neither (a partner). Agreements
are authored through `AgreementRepository` by the demo's actors (`hub.demo`): per
service an ACTIVE SLA for its unit's customer, an ACTIVE OLA underpinning it on the
top-layer CIs the service runs on, and D DRAFT SLAs; every tenth service also has an
ACTIVE SLA for the partner; one ACTIVE UC on the core router underpins nothing.

`hub.app.create_app` is served by uvicorn on 127.0.0.1 (a thread of this process, no
scheduler), and two viewer tokens are issued through `TokenRepository`: one unlimited,
one limited to the unit and region of the services asked about. Then, over HTTP with
httpx, with the default arguments a user sends, after a warm-up, the two tokens taking
turns (in alternating order):

- ``dependencyChain(id:)`` from top services in the scoped token's unit and region;
- ``impact(id:)`` from mid-layer CIs whose dependants hold services of that unit and
  region and of others, and from the core router;
- ``services(first: 100)`` and ``agreements(first: 100)``.

R timed requests per token and question (K for the core router's impact, which takes
seconds). Every answer is checked: the unlimited token's against what the benchmark
planted (the estate's own breadth-first walk, its agreements, customers and id order),
the scoped token's against the same minus the records of other units and regions (CIs:
identical), and for walks directly against the unlimited token's answer. The statements
each request sends (a `Graph` listener on the app's graph, authentication included) are
counted per token, and timed inside `Transaction.run` (`benchmarks.sync.StatementTimer`).
The markdown report goes to stdout, progress to stderr. Raw Cypher lives in
`benchmarks/` only.
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
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, LiteralString

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from benchmarks.graph import (
    DEPTH,
    Estate,
    Node,
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

# benchmarks.sync puts tests/ on sys.path for the fakes; its `serve_app` serves the hub.
from benchmarks.sync import StatementStat, StatementTimer, hub_tree, serve_app
from hub.app import create_app
from hub.demo import APPROVER, AUTHOR
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    AgreementStatus,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher, all_statements
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import AgreementRepository, BundleImporter, TokenRepository
from hub.settings import EmbeddedGraphSettings, Settings

SOURCE = "access"
UNITS = ("retail", "wholesale", "corporate", "logistics", "digital")
REGIONS = ("emea", "amer")
SCOPED_UNIT, SCOPED_REGION = UNITS[0], REGIONS[0]
PAGE = 100
MID_LAYER = 3  # of the six layers, counted from the bottom: middleware
PARTNER = "cust-partner"
QUESTIONS = ("chain", "impact-mid", "impact-router", "services", "agreements")
VENDOR = "vendor-cloud"

# ---- raw Cypher: reading back what the importer stored ---------------------------------

RAW_REFS: LiteralString = (
    "MATCH (r:ExternalRef) WHERE r.source = $source RETURN r.externalId AS key, r.targetId AS id"
)

# ---- the questions, as a user sends them (default arguments) ---------------------------

CHAIN = """
query Chain($id: ID!) {
  dependencyChain(id: $id) {
    root { id name }
    components { depth component { id name } }
    edges { from { id } to { id } }
  }
}
"""
IMPACT = """
query Impact($id: ID!) {
  impact(id: $id) {
    components { depth component { id name } }
    agreements { id name }
    customers { id name }
  }
}
"""
SERVICES = (
    f"query Services {{ services(first: {PAGE}) {{ edges {{ node {{ id name }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
AGREEMENTS = (
    f"query Agreements {{ agreements(first: {PAGE}) {{ edges {{ node {{ id name }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)


# ---- what is planted: units, regions, customers, agreements ---------------------------


@dataclass(frozen=True, slots=True)
class Planted:
    """One agreement as authored, with what its visibility depends on."""

    id: str
    name: str
    kind: AgreementKind
    status: AgreementStatus
    covers: tuple[str, ...]
    customer_id: str | None = None
    underpins: tuple[str, ...] = ()


@dataclass(slots=True)
class World:
    """The estate with units and regions, and the ids the graph gave its records."""

    estate: Estate
    placement: dict[str, tuple[str, str]] = field(default_factory=dict)  # service key
    ids: dict[str, str] = field(default_factory=dict)  # key -> node id
    keys: dict[str, str] = field(default_factory=dict)  # node id -> key
    names: dict[str, str] = field(default_factory=dict)  # node id -> name
    customers: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id
    agreements: dict[str, Planted] = field(default_factory=dict)

    # The scoped token's view, decided here from what was planted (not by the hub).
    def service_visible(self, node_id: str) -> bool:
        key = self.keys[node_id]
        if key not in self.placement:
            return True  # a CI: shared infrastructure
        return self.placement[key] == (SCOPED_UNIT, SCOPED_REGION)

    def customer_visible(self, customer_id: str) -> bool:
        return self.customers[customer_id] == (SCOPED_UNIT, SCOPED_REGION)

    def agreement_visible(self, agreement_id: str) -> bool:
        planted = self.agreements[agreement_id]
        if planted.kind is AgreementKind.SLA:
            return planted.customer_id is not None and self.customer_visible(planted.customer_id)
        return any(self.agreement_visible(sla) for sla in planted.underpins)


def place_services(estate: Estate) -> dict[str, tuple[str, str]]:
    """Give each service a unit, a region and its unit's team (in `estate.nodes`)."""
    placement: dict[str, tuple[str, str]] = {}
    for index, key in enumerate(estate.services):
        placement[key] = (UNITS[index % len(UNITS)], REGIONS[(index // len(UNITS)) % 2])
    estate.nodes = [
        Node(
            n.key,
            n.name,
            n.kind,
            {
                **n.props,
                "businessUnit": placement[n.key][0],
                "region": placement[n.key][1],
                "ownerTeam": f"team-{placement[n.key][0]}",
            },
        )
        if n.key in placement
        else n
        for n in estate.nodes
    ]
    return placement


def parties() -> dict[str, Any]:
    return {
        "teams": [{"externalId": f"team-{unit}", "name": f"{unit} platform"} for unit in UNITS],
        "vendors": [{"externalId": VENDOR, "name": "Example Cloud Inc."}],
        "customers": [
            {
                "externalId": f"cust-{unit}-{region}",
                "name": f"Customer {unit} {region}",
                "businessUnit": unit,
                "region": region,
            }
            for unit in UNITS
            for region in REGIONS
        ]
        + [{"externalId": PARTNER, "name": "Partner without a unit", "external": True}],
    }


def objective(name: str) -> tuple[ObjectiveSpec, ...]:
    return (
        ObjectiveSpec(
            indicator=Indicator.AVAILABILITY,
            target=99.9,
            window_kind=WindowKind.CALENDAR_MONTH,
            name=name,
        ),
    )


async def plant(graph: Graph, raw: Raw, world: World, drafts: int, bundle_rows: int) -> None:
    """Import the estate with its parties, then author the agreements."""
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
    expected = len(estate.nodes) + len(UNITS) + 1 + len(UNITS) * len(REGIONS) + 1
    if len(world.ids) != expected:
        raise RuntimeError(f"{len(world.ids)} records stored, expected {expected}")
    world.names = {world.ids[n.key]: n.name for n in estate.nodes}
    for unit in UNITS:
        for region in REGIONS:
            world.customers[world.ids[f"cust-{unit}-{region}"]] = (unit, region)
    world.customers[world.ids[PARTNER]] = (None, None)

    repository = AgreementRepository(graph)
    uses: dict[str, list[str]] = {}
    for consumer, provider in estate.edges:
        uses.setdefault(consumer, []).append(provider)

    async def author(spec: AgreementSpec, status: AgreementStatus) -> str:
        agreement_id = await repository.create(spec, AUTHOR, note="access benchmark")
        if status is not AgreementStatus.DRAFT:
            await repository.submit(agreement_id, AUTHOR, note="access benchmark")
        if status is AgreementStatus.ACTIVE:
            await repository.approve(agreement_id, APPROVER, note="access benchmark")
        world.agreements[agreement_id] = Planted(
            agreement_id,
            spec.name,
            spec.kind,
            status,
            spec.covers,
            spec.customer_id,
            spec.underpins,
        )
        return agreement_id

    total = len(estate.services) * (2 + drafts) + len(estate.services[3::10]) + 1
    progress(f"authoring {total:,} agreements ({drafts} drafts per service)")
    started = time.perf_counter()
    for index, key in enumerate(estate.services):
        unit, region = world.placement[key]
        service = world.ids[key]
        customer = world.ids[f"cust-{unit}-{region}"]
        sla = await author(
            AgreementSpec(
                kind=AgreementKind.SLA,
                name=f"SLA {key}",
                covers=(service,),
                objectives=objective("availability"),
                customer_id=customer,
            ),
            AgreementStatus.ACTIVE,
        )
        await author(
            AgreementSpec(
                kind=AgreementKind.OLA,
                name=f"Hosting OLA {key}",
                covers=tuple(world.ids[ci] for ci in sorted(uses[key])[:2]),
                objectives=objective("hosting"),
                provider_team_id=world.ids[f"team-{unit}"],
                underpins=(sla,),
            ),
            AgreementStatus.ACTIVE,
        )
        if index % 10 == 3:
            await author(
                AgreementSpec(
                    kind=AgreementKind.SLA,
                    name=f"Partner SLA {key}",
                    covers=(service,),
                    objectives=objective("availability"),
                    customer_id=world.ids[PARTNER],
                ),
                AgreementStatus.ACTIVE,
            )
        for draft in range(drafts):
            await author(
                AgreementSpec(
                    kind=AgreementKind.SLA,
                    name=f"SLA {key} renewal {draft + 1}",
                    covers=(service,),
                    objectives=objective("availability"),
                    customer_id=customer,
                ),
                AgreementStatus.DRAFT,
            )
    await author(
        AgreementSpec(
            kind=AgreementKind.UC,
            name="Network UC",
            covers=(world.ids[estate.router],),
            objectives=objective("network"),
            vendor_id=world.ids[VENDOR],
        ),
        AgreementStatus.ACTIVE,
    )
    progress(f"  {len(world.agreements):,} agreements in {time.perf_counter() - started:.0f} s")


# ---- what each answer must be ---------------------------------------------------------


def reach(estate: Estate, root: str, reverse: bool) -> dict[str, int]:
    """{key: fewest hops} within `DEPTH` hops of `root`, from the estate itself."""
    step: dict[str, list[str]] = {}
    for consumer, provider in estate.edges:
        a, b = (provider, consumer) if reverse else (consumer, provider)
        step.setdefault(a, []).append(b)
    depth_of = {root: 0}
    frontier = [root]
    for depth in range(1, DEPTH + 1):
        nxt = []
        for node in frontier:
            for other in step.get(node, ()):
                if other not in depth_of:
                    depth_of[other] = depth
                    nxt.append(other)
        frontier = nxt
    del depth_of[root]
    return depth_of


Answer = dict[str, Any]


def chain_facts(data: Answer) -> dict[str, Any]:
    chain = data["dependencyChain"]
    return {
        "root": (chain["root"]["id"], chain["root"]["name"]),
        "components": sorted(
            (c["component"]["id"], c["component"]["name"], c["depth"]) for c in chain["components"]
        ),
        "edges": sorted((e["from"]["id"], e["to"]["id"]) for e in chain["edges"]),
    }


def impact_facts(data: Answer) -> dict[str, Any]:
    impact = data["impact"]
    return {
        "components": sorted(
            (c["component"]["id"], c["component"]["name"], c["depth"]) for c in impact["components"]
        ),
        "agreements": sorted((a["id"], a["name"]) for a in impact["agreements"]),
        "customers": sorted((c["id"], c["name"]) for c in impact["customers"]),
    }


def page_facts(data: Answer) -> dict[str, Any]:
    (connection,) = data.values()
    return {
        "rows": [(e["node"]["id"], e["node"]["name"]) for e in connection["edges"]],
        "hasNextPage": connection["pageInfo"]["hasNextPage"],
    }


def records(facts: dict[str, Any]) -> int:
    """What an answer holds, for the report: components (walks) or rows (pages)."""
    return len(facts["components"] if "components" in facts else facts["rows"])


@dataclass(slots=True)
class Case:
    """One question: its document, the roots it is asked about, and its answers'
    expected facts per root (unlimited, scoped)."""

    label: str
    document: str
    facts: Callable[[Answer], dict[str, Any]]
    roots: list[str | None]
    scoped_view: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    expected: dict[str | None, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)


def walk_expectation(world: World, root: str, reverse: bool) -> tuple[Answer, Answer]:
    estate = world.estate
    root_key = world.keys[root]
    reached = reach(estate, root_key, reverse)
    components = sorted((world.ids[k], world.names[world.ids[k]], d) for k, d in reached.items())
    if not reverse:
        unlimited = {"root": (root, world.names[root]), "components": components}
    else:
        touched = {root, *(world.ids[k] for k in reached)}
        exposed = [
            a
            for a in world.agreements.values()
            if a.status is AgreementStatus.ACTIVE and touched.intersection(a.covers)
        ]
        customers = {a.customer_id for a in exposed if a.customer_id is not None}
        unlimited = {
            "components": components,
            "agreements": sorted((a.id, a.name) for a in exposed),
            "customers": sorted((c, customer_name(world, c)) for c in customers),
        }
    return unlimited, scoped_view(world, unlimited)


def customer_name(world: World, customer_id: str) -> str:
    key = world.keys[customer_id]
    if key == PARTNER:
        return "Partner without a unit"
    unit, region = world.customers[customer_id]
    return f"Customer {unit} {region}"


def scoped_view(world: World, facts: dict[str, Any]) -> dict[str, Any]:
    """`facts` minus what the scoped token may not read (its edges included)."""
    view = dict(facts)
    if "components" in facts:
        view["components"] = [c for c in facts["components"] if world.service_visible(c[0])]
    if "edges" in facts:
        view["edges"] = [
            e for e in facts["edges"] if world.service_visible(e[0]) and world.service_visible(e[1])
        ]
    if "agreements" in facts:
        view["agreements"] = [a for a in facts["agreements"] if world.agreement_visible(a[0])]
    if "customers" in facts:
        view["customers"] = [c for c in facts["customers"] if world.customer_visible(c[0])]
    return view


def page_expectation(
    rows: list[tuple[str, str]], visible: Callable[[str], bool]
) -> tuple[Answer, Answer]:
    ordered = sorted(rows)
    mine = [r for r in ordered if visible(r[0])]
    return (
        {"rows": ordered[:PAGE], "hasNextPage": len(ordered) > PAGE},
        {"rows": mine[:PAGE], "hasNextPage": len(mine) > PAGE},
    )


def pick_roots(world: World, count: int, seed: int) -> tuple[list[str], list[str]]:
    """Top services of the scoped unit and region, and mid-layer CIs whose dependants
    hold services of that unit and region and of others."""
    rng = random.Random(seed)
    estate = world.estate
    mine = [k for k in estate.services if world.placement[k] == (SCOPED_UNIT, SCOPED_REGION)]
    services = rng.sample(mine, min(count, len(mine)))
    layer = estate.layers[min(MID_LAYER, len(estate.layers) - 1)]
    candidates = []
    for key in rng.sample(layer, len(layer)):
        reached = [k for k in reach(estate, key, reverse=True) if k in world.placement]
        ours = sum(1 for k in reached if world.placement[k] == (SCOPED_UNIT, SCOPED_REGION))
        if ours and len(reached) > ours:
            candidates.append(key)
            if len(candidates) == count:
                break
    if not services or not candidates:
        raise RuntimeError("no roots in the scoped unit and region: use more --services")
    return [world.ids[k] for k in services], [world.ids[k] for k in candidates]


# ---- measuring -------------------------------------------------------------------------


class StatementCounter:
    """The names of the statements the app's graph sends (a `Graph` listener)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._name_of = {statement: name for name, statement in all_statements().items()}

    def __call__(self, statement: Cypher) -> None:
        self.names.append(self._name_of.get(statement, statement.text))


def app_graph(app: Starlette) -> Graph:
    """The graph the app's GraphQL view talks to."""
    for route in app.routes:
        if isinstance(route, Route) and route.path == "/graphql":
            graph = getattr(route.endpoint, "graph", None)
            if isinstance(graph, Graph):
                return graph
    raise RuntimeError("the app has no /graphql view with a graph")


@dataclass(slots=True)
class Sample:
    seconds: list[float] = field(default_factory=list)
    statements: Counter[int] = field(default_factory=Counter)  # statements -> requests
    names: Counter[str] = field(default_factory=Counter)  # over the timed requests
    records: Counter[int] = field(default_factory=Counter)  # records -> requests
    # Time inside `Transaction.run` per timed request: in all, and by statement.
    in_statements: list[float] = field(default_factory=list)
    by_statement: dict[str, list[float]] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


@dataclass(slots=True)
class CaseResult:
    case: Case
    unlimited: Sample = field(default_factory=Sample)
    scoped: Sample = field(default_factory=Sample)
    load: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    seconds: float
    statements: list[str]
    statement_seconds: dict[str, float]
    data: Answer


class Asker:
    """Sends one question at a time and tells what the app's graph did meanwhile."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        counter: StatementCounter,
        timed: dict[str, StatementStat],
    ) -> None:
        self.client = client
        self.counter = counter
        self.timed = timed

    def _seconds(self) -> dict[str, float]:
        return {name: stat.seconds for name, stat in self.timed.items()}

    async def ask(self, token: str, document: str, root: str | None) -> Reply:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        body: dict[str, Any] = {"query": document}
        if root is not None:
            body["variables"] = {"id": root}
        self.counter.names.clear()
        before = self._seconds()
        start = time.perf_counter()
        response = await self.client.post("/graphql", json=body, headers=headers)
        seconds = time.perf_counter() - start
        after = self._seconds()
        names = list(self.counter.names)
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL over HTTP: {response.status_code} {answer}")
        spent = {n: t - before.get(n, 0.0) for n, t in after.items() if t > before.get(n, 0.0)}
        return Reply(seconds, names, spent, answer["data"])


async def measure_case(
    asker: Asker, case: Case, tokens: dict[str, str], repeat: int, warmup: int
) -> CaseResult:
    """Warm up, then `repeat` requests per token, the tokens taking turns in alternating
    order and the roots in rotation; every answer is checked as it comes."""
    result = CaseResult(case, load=os.getloadavg()[0])
    samples = {"unlimited": result.unlimited, "scoped": result.scoped}
    order = list(tokens.items())
    firsts: dict[tuple[str, str | None], dict[str, Any]] = {}
    for n in range(warmup * len(case.roots) + repeat):
        root = case.roots[n % len(case.roots)]
        for which, token in order if n % 2 == 0 else order[::-1]:
            reply = await asker.ask(token, case.document, root)
            facts = case.facts(reply.data)
            expected = case.expected[root][0 if which == "unlimited" else 1]
            got = {key: facts[key] for key in expected}
            if got != expected:
                sizes = {
                    k: (len(got[k]), len(expected[k])) for k in expected if got[k] != expected[k]
                }
                raise RuntimeError(
                    f"{case.label}, {which} token, root {root}: the answer differs from the "
                    f"expected one (sizes got/expected: {sizes})"
                )
            firsts.setdefault((which, root), facts)
            sample = samples[which]
            sample.records[records(facts)] += 1
            if n < warmup * len(case.roots):
                continue
            sample.seconds.append(reply.seconds)
            sample.statements[len(reply.statements)] += 1
            sample.names.update(reply.statements)
            sample.in_statements.append(sum(reply.statement_seconds.values()))
            for name in sample.by_statement.keys() | reply.statement_seconds.keys():
                spent = reply.statement_seconds.get(name, 0.0)
                sample.by_statement.setdefault(name, [0.0] * (len(sample.seconds) - 1))
                sample.by_statement[name].append(spent)
    # And directly, for walks: the scoped answer is the unlimited one minus the records
    # of other units and regions. (A page is the first rows of what the token reads.)
    view = case.scoped_view
    if view is not None:
        for root in case.roots:
            if ("unlimited", root) in firsts and view(firsts["unlimited", root]) != firsts[
                "scoped", root
            ]:
                raise RuntimeError(
                    f"{case.label}, root {root}: scoped is not unlimited minus others"
                )
    return result


# ---- the run ---------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    tree: str
    world: World | None = None
    results: list[CaseResult] = field(default_factory=list)
    setup_seconds: float = 0.0
    load: list[tuple[str, float]] = field(default_factory=list)
    python_peak_kib: int = 0
    server_peak_kib: int = 0
    total_seconds: float = 0.0


async def run(connection: GraphConnection, data_dir: Path, report: Report) -> None:
    args = report.args
    estate = generate_estate(args.cis, args.services, args.router_fan_in, args.seed)
    world = World(estate, place_services(estate))
    report.world = world
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        report.load.append(("set-up", os.getloadavg()[0]))
        started = time.perf_counter()
        await plant(graph, raw, world, args.drafts, args.bundle_rows)
        report.setup_seconds = time.perf_counter() - started
        tokens = {
            "unlimited": await TokenRepository(graph).create("access-bench", Role.VIEWER),
            "scoped": await TokenRepository(graph).create(
                "access-bench-scoped",
                Role.VIEWER,
                frozenset({SCOPED_UNIT}),
                regions=frozenset({SCOPED_REGION}),
            ),
        }
    finally:
        await raw.close()
        await graph.close()

    services, mids = pick_roots(world, args.roots, args.seed + 1)
    router = world.ids[estate.router]
    view = partial(scoped_view, world)
    cases = [
        Case("`dependencyChain`, top services", CHAIN, chain_facts, list(services), view),
        Case("`impact`, mid-layer CIs", IMPACT, impact_facts, list(mids), view),
        Case("`impact`, the core router", IMPACT, impact_facts, [router], view),
        Case(f"`services(first: {PAGE})`", SERVICES, page_facts, [None]),
        Case(f"`agreements(first: {PAGE})`", AGREEMENTS, page_facts, [None]),
    ]
    asked = [case for case, name in zip(cases, QUESTIONS, strict=True) if name in args.questions]
    for root in services:
        cases[0].expected[root] = walk_expectation(world, root, reverse=False)
    for root in [*mids, router]:
        expectation = walk_expectation(world, root, reverse=True)
        for case in cases[1:3]:
            if root in case.roots:
                case.expected[root] = expectation
    service_rows = [(world.ids[k], world.names[world.ids[k]]) for k in estate.services]
    cases[3].expected[None] = page_expectation(service_rows, world.service_visible)
    agreement_rows = [(a.id, a.name) for a in world.agreements.values()]
    cases[4].expected[None] = page_expectation(agreement_rows, world.agreement_visible)

    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    counter = StatementCounter()
    served = app_graph(app)
    served.add_listener(counter)
    async with contextlib.AsyncExitStack() as stack:
        timed = stack.enter_context(StatementTimer().timing())
        url = stack.enter_context(serve_app(app, lifespan=True))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
        asker = Asker(client, counter, timed)
        report.load.append(("requests", os.getloadavg()[0]))
        for case in asked:
            router_case = case.roots == [router]
            repeat = args.router_repeat if router_case else args.repeat
            warmup = min(args.warmup, 1) if router_case else args.warmup
            progress(
                f"{case.label}: {len(case.roots)} root(s), {warmup} warm-up round(s) "
                f"each, {repeat} timed requests per token"
            )
            result = await measure_case(asker, case, tokens, repeat, warmup)
            progress(
                f"  p50 unlimited {ms(result.unlimited.p50)}, scoped {ms(result.scoped.p50)} "
                f"({result.scoped.p50 / result.unlimited.p50:.2f}x)"
            )
            report.results.append(result)
        report.load.append(("end", os.getloadavg()[0]))
    served.remove_listener(counter)


# ---- the report ------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.access --cis {args.cis} --services {args.services} "
        f"--router-fan-in {args.router_fan_in} --drafts {args.drafts} --roots {args.roots} "
        f"--repeat {args.repeat} --router-repeat {args.router_repeat} --warmup {args.warmup} "
        f"--seed {args.seed} --bundle-rows {args.bundle_rows} --heap {args.heap}"
        + (
            ""
            if len(args.questions) == len(QUESTIONS)
            else f" --questions {','.join(args.questions)}"
        )
    )


def spread(counts: Counter[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.50)


def ratio(scoped: float, unlimited: float) -> str:
    return f"{scoped / unlimited:.2f}x" if unlimited > 0 else "-"


def markdown(report: Report) -> str:
    a, world = report.args, report.world
    assert world is not None
    e = world.estate
    loads = ", ".join(f"{what} {load:.2f}" for what, load in report.load)
    visible = sum(1 for a_id in world.agreements if world.agreement_visible(a_id))
    mine = sum(1 for k in e.services if world.placement[k] == (SCOPED_UNIT, SCOPED_REGION))
    lines = [
        "## Access scope benchmark",
        "",
        f"- command: `{command(a)}`",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, {platform.system()} "
        f"{platform.release()}; 1-minute load average: {loads}",
        f"- python {platform.python_version()}, neo4j driver {version('neo4j')}, "
        f"strawberry-graphql {version('strawberry-graphql')}, uvicorn {version('uvicorn')}, "
        f"httpx {version('httpx')}, arcadedb-embedded {version('arcadedb-embedded')}, "
        f"JVM heap {a.heap}",
        f"- hub code measured: {report.tree}",
        f"- estate: {e.ci_count:,} CIs, {len(e.services)} services in {len(UNITS)} units x "
        f"{len(REGIONS)} regions ({mine} in the scoped token's), {len(e.edges):,} DEPENDS_ON "
        f"edges; {len(world.agreements):,} agreements ({visible:,} readable by the scoped "
        f"token); set-up (import and agreements) {report.setup_seconds:.0f} s",
        f"- scoped token: viewer limited to unit `{SCOPED_UNIT}` and region `{SCOPED_REGION}`; "
        "unlimited token: viewer without limits",
        "",
        "| question | token | p50 | p95 | in statements, p50 | statements / request "
        "| records returned | scoped / unlimited p50 | p95 | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.results:
        roots = f"{len(r.case.roots)} root{'s' if len(r.case.roots) > 1 else ''}"
        for which, sample in (("unlimited", r.unlimited), ("scoped", r.scoped)):
            ratios = (
                f"**{ratio(r.scoped.p50, r.unlimited.p50)}** | "
                f"{ratio(r.scoped.p95, r.unlimited.p95)} | {r.load:.1f}"
                if which == "scoped"
                else " | | "
            )
            lines.append(
                f"| {r.case.label} ({roots}, {len(sample.seconds)} requests) | {which} "
                f"| {ms(sample.p50)} | {ms(sample.p95)} | {ms(median(sample.in_statements))} "
                f"| {spread(sample.statements)} | {spread(sample.records)} | {ratios} |"
            )
    lines += [
        "",
        f"After {a.warmup} warm-up round(s) per root (one for the core router), the tokens "
        "taking turns in alternating order. Records returned: components for walks, rows "
        "for pages. In statements: the time inside `Transaction.run` (sending a statement "
        "and reading its rows), summed per request. Statements: every `Cypher` the app's "
        "graph sent for the request, the token check included. Load: the 1-minute load "
        "average when the question's requests began.",
        "",
        "Time by statement (p50 per request; statements under 1 ms for both tokens left out):",
        "",
        "| question | statement | calls / request | unlimited | scoped | scoped / unlimited |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in report.results:
        names = r.unlimited.by_statement.keys() | r.scoped.by_statement.keys()
        for name in sorted(names, key=lambda n: -median(r.unlimited.by_statement.get(n, [0]))):
            unlimited = median(r.unlimited.by_statement.get(name, [0.0]))
            scoped = median(r.scoped.by_statement.get(name, [0.0]))
            if max(unlimited, scoped) < 0.001:
                continue
            calls = r.unlimited.names[name] / len(r.unlimited.seconds)
            lines.append(
                f"| {r.case.label} | `{name}` | {calls:g} | {ms(unlimited)} | {ms(scoped)} "
                f"| {ratio(scoped, unlimited)} |"
            )
    lines += ["", "Statements per request, by name:", ""]
    for r in report.results:
        per = {
            which: {
                name: count / len(sample.seconds) for name, count in sorted(sample.names.items())
            }
            for which, sample in (("unlimited", r.unlimited), ("scoped", r.scoped))
        }
        text = ", ".join(f"`{n}` {c:g}" for n, c in per["unlimited"].items())
        same = "both tokens" if per["scoped"] == per["unlimited"] else "unlimited"
        if per["scoped"] != per["unlimited"]:
            text += "; scoped: " + ", ".join(f"`{n}` {c:g}" for n, c in per["scoped"].items())
        lines.append(f"- {r.case.label} ({same}): {text}")
    lines += [
        "",
        "- every answer checked (the warm-up ones included): the unlimited token's against "
        "the planted estate, the scoped token's against it minus the records of other units "
        "and regions; for walks also directly against the unlimited answer",
        f"- peak RSS of the Python process (client and server): "
        f"{report.python_peak_kib / 1024:,.0f} MiB; of the JVM: "
        f"{report.server_peak_kib / 1024:,.0f} MiB",
        f"- wall time: {report.total_seconds:.0f} s",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.access",
        description="GraphQL over HTTP with an unlimited and a scoped viewer token, on the "
        "estate of benchmarks.graph, on a fresh embedded server of its own.",
    )
    parser.add_argument("--cis", type=int, default=12_000, help="configuration items")
    parser.add_argument("--services", type=int, default=50, help="services on top")
    parser.add_argument(
        "--router-fan-in",
        type=int,
        default=None,
        help="CIs depending directly on the core router (default: a sixth of --cis)",
    )
    parser.add_argument("--drafts", type=int, default=20, help="DRAFT SLAs per service")
    parser.add_argument("--roots", type=int, default=3, help="services and mid-layer CIs asked")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per token")
    parser.add_argument(
        "--router-repeat",
        type=int,
        default=6,
        help="timed requests per token for the core router's impact (seconds each)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up rounds per root")
    parser.add_argument(
        "--questions",
        default=",".join(QUESTIONS),
        help=f"which questions to ask, comma-separated (default: all of {','.join(QUESTIONS)})",
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
    args.questions = [q.strip() for q in args.questions.split(",") if q.strip()]
    unknown = sorted(set(args.questions) - set(QUESTIONS))
    if unknown or not args.questions:
        parser.error(f"--questions: choose from {', '.join(QUESTIONS)} (not {unknown})")
    if args.cis < 100 or args.services < 10 or min(args.repeat, args.router_repeat, args.roots) < 1:
        parser.error("need --cis >= 100, --services >= 10, --repeat, --router-repeat, --roots >= 1")
    if args.drafts < 0 or args.warmup < 0:
        parser.error("need --drafts >= 0, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    report = Report(args, hub_tree())
    with tempfile.TemporaryDirectory(prefix="hub-bench-access-") as data_dir:
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
