"""Traversals over GraphQL and HTTP against the raw Cypher of the same walks, same run.

Run as ``.venv/bin/python -m benchmarks.http_traversals [--cis N] [--repeat R]
[--router-repeat K] [--warmup W] [--loop L] [--http H] [--profile FILE] ...``;
``--cis 1200 --repeat 5 --router-repeat 2`` makes a quick run.

The estate is the one of `benchmarks.graph` (`generate_estate`), loaded through the
hub's import with the agreements of `benchmarks.access` (no drafts). `hub.app.create_app`
is served by uvicorn in a thread of this process, configured as ``hub serve`` runs it
(``--loop``/``--http`` ``auto``: uvloop and httptools when installed), and asked with a
viewer token, as a portal asks (default arguments):

- ``dependencyChain(id:)`` from top-layer CIs whose chain holds about 250 components;
- ``impact(id:)`` from CIs of the third layer with a few dozen dependants;
- ``impact(id:)`` from the core router (about 9,800 dependants at 12,000 CIs).

Each request is interleaved (rotating order) with the raw baselines sent through the
async driver to the same server: (a) one variable-length query and (b) a level-by-level
walk of distinct ids in one read transaction (`benchmarks.graph.Raw`). Every GraphQL
answer is checked against the estate's own breadth-first walk and the planted
agreements, and the raw ones against it too. ``--questions chain,impact,router``
chooses which to ask. With ``--profile FILE`` the API's thread is profiled with
pyinstrument, in rounds of their own after the timed ones (so the profiler does not
slow the figures): the report shows the functions with the most own time, FILE gets
the call trees. The markdown report goes to stdout, progress to stderr.
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
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks.access import (
    World,
    customer_name,
    place_services,
    plant,
    reach,
)
from benchmarks.graph import (
    DEPTH,
    RAW_BFS_DEPENDANTS,
    RAW_BFS_DEPENDENCIES,
    RAW_VARLEN_DEPENDANTS,
    RAW_VARLEN_DEPENDENCIES,
    Raw,
    _exit_on_sigterm,
    generate_estate,
    memory_total,
    ms,
    percentile,
    progress,
    version,
)
from benchmarks.sync import hub_tree
from hub.app import create_app
from hub.domain.models import AgreementStatus
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import TokenRepository
from hub.settings import EmbeddedGraphSettings, Settings

CHAIN_LAYER = -1  # the top layer of CIs (APIs)
IMPACT_LAYER = 2  # the third layer from the bottom
CHAIN_SIZE = (200, 320)  # components a "typical" chain reaches
IMPACT_SIZE = (20, 80)  # dependants of a "typical" impact root
PROFILE_LINES = 25
QUESTIONS = ("chain", "impact", "router")

# As a portal asks: default arguments; id, name and kind (the type) of each component.
CHAIN = """
query Chain($id: ID!) {
  dependencyChain(id: $id) {
    root { id name __typename }
    components { depth component { id name __typename } }
    edges { from { id } to { id } }
    truncated
  }
}
"""
IMPACT = """
query Impact($id: ID!) {
  impact(id: $id) {
    root { id name __typename }
    components { depth component { id name __typename } }
    agreements { id name kind }
    customers { id name }
  }
}
"""

Answer = dict[str, Any]


# ---- serving, as `hub serve` does ------------------------------------------------------


@contextlib.contextmanager
def serve(app: ASGIApp, loop: str, http: str) -> Iterator[str]:
    """`app` on 127.0.0.1 at a free port, in a thread, with its lifespan; uvicorn's
    `loop` and `http` as given (``auto`` is what ``hub serve`` gets)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="on",
        loop=loop,
        http=http,
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


class Profiled:
    """An ASGI wrapper that, while `on`, profiles each request with pyinstrument in the
    server's thread (wall-clock, so time spent waiting for the graph shows as the event
    loop's wait); the sessions are combined per question."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.on = False
        self.sessions: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.on or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            await self.app(scope, receive, send)
        finally:
            self.sessions.append(profiler.stop())

    def take(self) -> tuple[str, str]:
        """The requests profiled since the last call, combined: the top functions by
        their own time (percent of the total), and the whole call tree."""
        from pyinstrument.renderers import ConsoleRenderer
        from pyinstrument.session import Session

        session = self.sessions[0]
        for other in self.sessions[1:]:
            session = Session.combine(session, other)
        self.sessions = []
        flat = ConsoleRenderer(flat=True, time="percent_of_total", short_mode=True)
        tree = ConsoleRenderer(short_mode=True)
        # The renderer's own header (its name, the profile's origin) is left out.
        rows = [r for r in str(flat.render(session)).splitlines() if "%" in r]
        top = "\n".join(rows[:PROFILE_LINES])
        return top, str(tree.render(session))


# ---- what each answer must be ----------------------------------------------------------


def chain_facts(data: Answer) -> Answer:
    chain = data["dependencyChain"]
    return {
        "components": {c["component"]["id"]: c["depth"] for c in chain["components"]},
        "edges": len(chain["edges"]),
    }


def impact_facts(data: Answer) -> Answer:
    impact = data["impact"]
    return {
        "components": {c["component"]["id"]: c["depth"] for c in impact["components"]},
        "agreements": sorted(a["id"] for a in impact["agreements"]),
        "customers": sorted(c["name"] for c in impact["customers"]),
    }


def expectation(world: World, root: str, reverse: bool) -> Answer:
    reached = reach(world.estate, world.keys[root], reverse)
    components = {world.ids[k]: d for k, d in reached.items()}
    if not reverse:
        inside = {world.keys[root], *reached}
        edges = sum(1 for a, b in world.estate.edges if a in inside and b in inside)
        return {"components": components, "edges": edges}
    touched = {root, *components}
    exposed = [
        a
        for a in world.agreements.values()
        if a.status is AgreementStatus.ACTIVE and touched.intersection(a.covers)
    ]
    customers = {a.customer_id for a in exposed if a.customer_id is not None}
    return {
        "components": components,
        "agreements": sorted(a.id for a in exposed),
        "customers": sorted(customer_name(world, c) for c in customers),
    }


def pick(
    world: World, layer: int, reverse: bool, size: tuple[int, int], count: int, seed: int
) -> list[str]:
    """`count` CIs of `layer` whose walk reaches `size` components, or (a small estate)
    those nearest to that range."""
    rng = random.Random(seed)
    candidates = list(world.estate.layers[layer])
    rng.shuffle(candidates)
    middle = sum(size) / 2
    sized = [(len(reach(world.estate, key, reverse)), key) for key in candidates[:200]]
    inside = [key for n, key in sized if size[0] <= n <= size[1]]
    if len(inside) < count:
        inside = [key for _, key in sorted(sized, key=lambda item: abs(item[0] - middle))]
    return [world.ids[key] for key in inside[:count]]


# ---- measuring -------------------------------------------------------------------------


@dataclass(slots=True)
class Variant:
    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


@dataclass(slots=True)
class Question:
    label: str
    roots: list[str]
    reverse: bool
    repeat: int
    warmup: int
    hub: Variant = field(default_factory=lambda: Variant("GraphQL over HTTP"))
    varlen: Variant = field(default_factory=lambda: Variant("(a) raw variable-length"))
    bfs: Variant = field(default_factory=lambda: Variant("(b) raw level-by-level"))
    reached: list[int] = field(default_factory=list)
    response_bytes: list[int] = field(default_factory=list)
    load: float = 0.0
    profile: str = ""
    profile_tree: str = ""


async def measure(
    question: Question,
    client: httpx.AsyncClient,
    token: str,
    raw: Raw,
    world: World,
) -> None:
    document, facts = (IMPACT, impact_facts) if question.reverse else (CHAIN, chain_facts)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    varlen_q = RAW_VARLEN_DEPENDANTS if question.reverse else RAW_VARLEN_DEPENDENCIES
    bfs_q = RAW_BFS_DEPENDANTS if question.reverse else RAW_BFS_DEPENDENCIES
    expected = {r: expectation(world, r, question.reverse) for r in question.roots}

    async def ask(root: str) -> None:
        response = await client.post(
            "/graphql", json={"query": document, "variables": {"id": root}}, headers=headers
        )
        answer = response.json()
        if response.status_code != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL over HTTP: {response.status_code} {answer}")
        if facts(answer["data"]) != expected[root]:
            raise RuntimeError(f"{question.label}, root {root}: the answer is not the expected one")
        question.response_bytes.append(len(response.content))

    async def varlen(root: str) -> None:
        if await raw.varlen(varlen_q, root) != expected[root]["components"]:
            raise RuntimeError(f"{question.label}, root {root}: raw (a) disagrees")

    async def bfs(root: str) -> None:
        reached, _, _ = await raw.bfs(bfs_q, root, DEPTH, False)
        if reached != expected[root]["components"]:
            raise RuntimeError(f"{question.label}, root {root}: raw (b) disagrees")

    variants: list[tuple[Variant, Callable[[str], Awaitable[None]]]] = [
        (question.hub, ask),
        (question.varlen, varlen),
        (question.bfs, bfs),
    ]
    question.load = os.getloadavg()[0]
    question.reached = sorted(len(expected[r]["components"]) for r in question.roots)
    rounds = question.warmup * len(question.roots) + question.repeat
    for n in range(rounds):
        root = question.roots[n % len(question.roots)]
        shift = n % len(variants)
        for variant, run in variants[shift:] + variants[:shift]:
            start = time.perf_counter()
            await run(root)
            if n >= question.warmup * len(question.roots):
                variant.seconds.append(time.perf_counter() - start)


async def profile(
    question: Question, client: httpx.AsyncClient, token: str, profiled: Profiled
) -> None:
    document = IMPACT if question.reverse else CHAIN
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    profiled.on = True
    try:
        for n in range(question.repeat):
            root = question.roots[n % len(question.roots)]
            response = await client.post(
                "/graphql", json={"query": document, "variables": {"id": root}}, headers=headers
            )
            response.raise_for_status()
    finally:
        profiled.on = False
    question.profile, question.profile_tree = profiled.take()


# ---- the run ---------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    args: argparse.Namespace
    tree: str
    questions: list[Question] = field(default_factory=list)
    load: list[tuple[str, float]] = field(default_factory=list)
    served_with: str = ""
    versions: str = ""
    typename_p50: float = 0.0
    python_peak_kib: int = 0
    server_peak_kib: int = 0
    total_seconds: float = 0.0


async def run(connection: GraphConnection, data_dir: Path, report: Report) -> None:
    args = report.args
    estate = generate_estate(args.cis, args.services, args.router_fan_in, args.seed)
    world = World(estate, place_services(estate))
    graph = Graph.connect(connection, max_transaction_retry_time=60.0)
    raw = Raw(connection)
    try:
        await migrate(graph)
        report.load.append(("set-up", os.getloadavg()[0]))
        await plant(graph, raw, world, 0, args.bundle_rows)
        token = await TokenRepository(graph).create("http-traversals-bench", Role.VIEWER)
    finally:
        await graph.close()
    questions = [
        Question(
            "`dependencyChain`, typical roots",
            pick(world, CHAIN_LAYER, False, CHAIN_SIZE, args.roots, args.seed + 1),
            False,
            args.repeat,
            args.warmup,
        ),
        Question(
            "`impact`, typical roots",
            pick(world, IMPACT_LAYER, True, IMPACT_SIZE, args.roots, args.seed + 2),
            True,
            args.repeat,
            args.warmup,
        ),
        Question(
            "`impact`, the core router", [world.ids[estate.router]], True, args.router_repeat, 1
        ),
    ]
    report.served_with = served_with(args.loop, args.http)
    report.versions = ", ".join(
        f"{package} {version(package)}"
        for package in (
            "neo4j",
            "neo4j-rust-ext",
            "strawberry-graphql",
            "uvicorn",
            "uvloop",
            "httptools",
            "orjson",
            "httpx",
            "arcadedb-embedded",
        )
    )
    questions = [q for q, name in zip(questions, QUESTIONS, strict=True) if name in args.questions]
    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    profiled = Profiled(app)
    try:
        with serve(profiled, args.loop, args.http) as url:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                report.typename_p50 = await typename(client, token)
                report.load.append(("requests", os.getloadavg()[0]))
                for question in questions:
                    progress(
                        f"{question.label}: {len(question.roots)} root(s), {question.repeat} "
                        "timed requests"
                    )
                    await measure(question, client, token, raw, world)
                    progress(
                        f"  p50 GraphQL {ms(question.hub.p50)}, raw (a) {ms(question.varlen.p50)}, "
                        f"(b) {ms(question.bfs.p50)}"
                    )
                    if args.profile:
                        await profile(question, client, token, profiled)
                    report.questions.append(question)
                report.load.append(("end", os.getloadavg()[0]))
    finally:
        await raw.close()


def served_with(loop: str, http: str) -> str:
    """The event loop and HTTP parser uvicorn uses (``auto`` picks uvloop and httptools
    when installed), whether orjson is there, and the driver's packstream codec."""
    import importlib.util

    def have(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    if loop == "auto":
        loop = "uvloop" if have("uvloop") else "asyncio"
    if http == "auto":
        http = "httptools" if have("httptools") else "h11"
    codec = "Rust (neo4j-rust-ext)" if have("neo4j._rust") else "pure Python"
    encoder = "orjson" if have("orjson") else "json"
    return f"uvicorn loop {loop}, http {http}; {encoder} installed; driver codec {codec}"


async def typename(client: httpx.AsyncClient, token: str) -> float:
    """p50 of an authenticated `{ __typename }`: the fixed cost of one request."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    seconds = []
    for _ in range(30):
        start = time.perf_counter()
        response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        response.raise_for_status()
        seconds.append(time.perf_counter() - start)
    return percentile(seconds[5:], 0.5)


# ---- the report ------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.http_traversals --cis {args.cis} "
        f"--services {args.services} --router-fan-in {args.router_fan_in} --roots {args.roots} "
        f"--repeat {args.repeat} --router-repeat {args.router_repeat} --warmup {args.warmup} "
        f"--loop {args.loop} --http {args.http} --seed {args.seed} "
        f"--bundle-rows {args.bundle_rows} --heap {args.heap}"
        + (f" --profile {args.profile}" if args.profile else "")
        + (
            ""
            if len(args.questions) == len(QUESTIONS)
            else f" --questions {','.join(args.questions)}"
        )
    )


def markdown(report: Report) -> str:
    args = report.args
    lines = [
        "## Traversals over HTTP (one run)",
        "",
        "```",
        command(args),
        "```",
        "",
        f"- machine: {os.cpu_count()} CPUs, {memory_total()} RAM, {platform.system()} "
        f"{platform.release()}; 1-minute load average "
        + ", ".join(f"{label} {value:.1f}" for label, value in report.load),
        f"- Python {platform.python_version()}, {report.versions}, JVM heap {args.heap}",
        f"- served with: {report.served_with}",
        f"- hub code: {report.tree}",
        f"- authenticated `{{ __typename }}` p50: {ms(report.typename_p50)}",
        "",
        "| question | components reached | variant | p50 | p95 | GraphQL / variant p50 |",
        "|---|---|---|---:|---:|---:|",
    ]
    for q in report.questions:
        reached = (
            f"{q.reached[0]:,}-{q.reached[-1]:,}" if len(q.reached) > 1 else f"{q.reached[0]:,}"
        )
        for variant in (q.hub, q.varlen, q.bfs):
            share = q.hub.p50 / variant.p50
            lines.append(
                f"| {q.label} ({len(q.hub.seconds)} requests, load {q.load:.1f}) | {reached} | "
                f"{variant.label} | {ms(variant.p50)} | {ms(variant.p95)} | {share:.2f}x |"
            )
    lines.append("")
    size = {q.label: percentile(q.response_bytes, 0.5) for q in report.questions}
    lines.append(
        "Response bodies, p50: "
        + "; ".join(f"{label} {value / 1024:,.0f} KiB" for label, value in size.items())
    )
    lines += [
        "",
        f"- peak RSS of this process (client and API): {report.python_peak_kib / 1024:,.0f} MiB; "
        f"of the JVM: {report.server_peak_kib / 1024:,.0f} MiB",
        f"- wall time: {report.total_seconds:.0f} s",
    ]
    for q in report.questions:
        if q.profile:
            lines += [
                "",
                f"Profile of the API thread, {q.label} ({q.repeat} requests, own time):",
                "",
                "```",
                q.profile,
                "```",
            ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_traversals",
        description="dependencyChain and impact over GraphQL and HTTP against raw Cypher, "
        "on the estate of benchmarks.graph, on a fresh embedded server of its own.",
    )
    parser.add_argument("--cis", type=int, default=12_000, help="configuration items")
    parser.add_argument("--services", type=int, default=50, help="services on top")
    parser.add_argument(
        "--router-fan-in",
        type=int,
        default=None,
        help="CIs depending directly on the core router (default: a sixth of --cis)",
    )
    parser.add_argument("--roots", type=int, default=3, help="typical roots per question")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per question")
    parser.add_argument(
        "--router-repeat", type=int, default=10, help="timed requests for the core router"
    )
    parser.add_argument(
        "--questions",
        default=",".join(QUESTIONS),
        help=f"which questions to ask, comma-separated (default: all of {','.join(QUESTIONS)})",
    )
    parser.add_argument("--warmup", type=int, default=2, help="warm-up rounds per root")
    parser.add_argument(
        "--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="uvicorn loop"
    )
    parser.add_argument(
        "--http", default="auto", choices=("auto", "h11", "httptools"), help="uvicorn http"
    )
    parser.add_argument(
        "--profile", default="", help="also profile the API thread (pyinstrument) into FILE"
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
    if not args.questions or set(args.questions) - set(QUESTIONS):
        parser.error(f"--questions: choose from {', '.join(QUESTIONS)}")
    if args.cis < 100 or min(args.repeat, args.router_repeat, args.roots) < 1 or args.warmup < 0:
        parser.error("need --cis >= 100, --repeat, --router-repeat, --roots >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    report = Report(args, hub_tree())
    with tempfile.TemporaryDirectory(prefix="hub-bench-http-") as data_dir:
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
    if args.profile:
        trees = [f"## {q.label}\n\n{q.profile_tree}" for q in report.questions]
        Path(args.profile).write_text("\n\n".join(trees), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
