"""Kill -9 campaign: `hub sync` and `hub serve` killed at random moments, then rerun.

Run as ``.venv/bin/python -m benchmarks.faults [--cis N] [--sync-kills K]
[--serve-kills S] [--seed SEED]``; the issue's full campaign is ``--cis 100000
--sync-kills 100 --serve-kills 20``.

Phase A, `hub sync`. The fake ServiceNow of the tests (``tests/fakes``, served in this
process on loopback) holds the deterministic CMDB of ``benchmarks.sync`` (N CIs, 3N
relationships, one service per 200 CIs). This process starts an embedded ArcadeDB server
in a temporary data directory and owns it; every ``hub sync servicenow-cmdb`` is a
subprocess that attaches to it (as it would to a running ``hub serve``), so the process
killed is the one writing and the graph server lives on, as in production. Before each
sync the graph is emptied: every node but the migrations' and the audit head is
deleted (the indexes stay, and the subprocess finds the migrations applied).

1. Control: one uninterrupted sync (it also warms the graph server up). The graph is
   dumped: every node's labels and properties, every edge's type, properties and end
   nodes, except the run records (SyncRun: a killed run adds one), the lease (its
   holder names a process), timestamps (properties named ``*At`` that the hub sets to
   the time of writing) and the audit head's ``lockedBy`` (a transaction id).
2. Reference: a second uninterrupted sync into an empty graph; its wall time T (process
   start to exit) is the window the kills are drawn from. Its dump must equal the
   control's (the comparison is exact, so this checks that only time-dependent values
   are left out); it is the graph every rerun must give.
3. For each kill: an empty graph, ``hub sync`` started, SIGKILL to its process group
   at a moment drawn uniformly from [0, T) (a run that finished first counts as not
   killed), then ``hub sync`` again to completion. Checked: the rerun exits 0; its dump
   equals the reference; the audit chain verifies (`AuditRepository.verify`); no sync
   run is RUNNING and the last one SUCCEEDED; the connector's lease has expired
   (released). How far the killed run got is the share of CIs in the graph at the kill.

Phase B, `hub serve`. A second data directory with the demo enterprise; ``hub serve``
starts its own embedded graph child. A writer client creates agreements
(``createAgreement``, audited) one after another with an editor token; once the first
is acknowledged, after a delay drawn uniformly from [0, 5) s, the serve process alone
gets SIGKILL. Checked: its graph
child exits by itself (``PR_SET_PDEATHSIG``) and how long that takes; a new ``hub
serve`` becomes ready (time); every agreement the writer got an answer for is there
(`node(id)`); the audit chain verifies (``hub audit verify``, attached to the server).

Every process started here is in a process group of its own and is killed in a
``finally`` (and the embedded servers stopped), on success or failure. The markdown
report goes to stdout, progress to stderr. Raw Cypher lives here only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.graph import Raw
from benchmarks.sync import PASSWORD, USER, hub_tree, memory_total, populate
from hub.graph.client import Graph
from hub.graph.embedded import EmbeddedGraphServer, free_port, pid_alive
from hub.graph.repositories import AuditRepository
from hub.settings import EmbeddedGraphSettings

# The fakes live in tests/ and import as `fakes` (pytest puts tests/ on sys.path).
_TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from fakes.server import serve_app  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONNECTOR = "servicenow-cmdb"
# Not compared: a killed run adds a run record, and the lease names its last holder.
UNCOMPARED_LABELS = frozenset({"SyncRun", "SyncLease"})
# Not compared either: the id of the last transaction that locked the audit head.
UNCOMPARED = frozenset({"lockedBy"})

# Everything but the migrations applied and the audit head they made (a sync into an
# empty source appends no audit record: a rerun that did would differ from the reference).
WIPE = "MATCH (n) WHERE NOT n:Migration AND NOT n:AuditHead WITH n LIMIT 5000 DETACH DELETE n"
COUNT_NODES = "MATCH (n) WHERE NOT n:Migration AND NOT n:AuditHead RETURN count(n) AS n"
ALL_NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
# An end with an id is named by it (the nodes are compared on their own).
ALL_EDGES = (
    "MATCH (a)-[r]->(b) RETURN type(r) AS type, properties(r) AS props, labels(a) AS al, "
    "CASE WHEN a.id IS NULL THEN properties(a) ELSE {id: a.id} END AS ap, labels(b) AS bl, "
    "CASE WHEN b.id IS NULL THEN properties(b) ELSE {id: b.id} END AS bp"
)
COMPONENTS = "MATCH (c:Component) RETURN count(c) AS n"
RUNS = "MATCH (r:SyncRun {connector: $connector}) RETURN properties(r) AS props"
LEASE = "MATCH (l:SyncLease {connector: $connector}) RETURN properties(l) AS props"


def progress(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- processes -------------------------------------------------------------------------


@contextlib.contextmanager
def process_groups() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to put started processes in; each one's group is SIGKILLed at the end."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)


def hub(
    started: list[subprocess.Popen[bytes]], env: dict[str, str], log: Path, *args: str
) -> subprocess.Popen[bytes]:
    """``hub ARGS`` in a new session (its own process group), output to `log`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started.append(process)
    return process


def hub_output(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``hub ARGS`` run to the end; its stdout (raises with stderr if it fails)."""
    done = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=REPO,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hub {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return str(done.stdout)


# ---- phase A: hub sync -----------------------------------------------------------------


def _comparable(props: dict[str, Any]) -> dict[str, Any]:
    """The properties that do not depend on when they were written."""
    return {k: v for k, v in props.items() if not k.endswith("At") and k not in UNCOMPARED}


def _freeze(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str)


def _node_key(labels: Sequence[str], props: dict[str, Any]) -> str:
    return _freeze([sorted(labels), _comparable(props)])


def _end_key(labels: Sequence[str], props: dict[str, Any]) -> str:
    """An edge's end: its labels and id (compared with the node itself), or the node."""
    if "id" in props:
        return _freeze([sorted(labels), props["id"]])
    return _node_key(labels, props)


async def dump(raw: Raw) -> Counter[str]:
    """The graph as a multiset of nodes and edges (see the module docstring)."""
    graph: Counter[str] = Counter()
    for row in await raw.read(ALL_NODES):
        if UNCOMPARED_LABELS.isdisjoint(row["labels"]):
            graph["N" + _node_key(row["labels"], row["props"])] += 1
    for row in await raw.read(ALL_EDGES):
        if UNCOMPARED_LABELS.isdisjoint(row["al"]) and UNCOMPARED_LABELS.isdisjoint(row["bl"]):
            edge = [row["type"], _comparable(row["props"])]
            ends = [_end_key(row["al"], row["ap"]), _end_key(row["bl"], row["bp"])]
            graph["E" + _freeze([edge, ends])] += 1
    return graph


def difference(expected: Counter[str], found: Counter[str], shown: int = 3) -> str:
    missing, extra = expected - found, found - expected
    lines = [f"{sum(missing.values())} missing, {sum(extra.values())} extra"]
    lines += [f"  missing: {item[:300]}" for item in list(missing)[:shown]]
    lines += [f"  extra: {item[:300]}" for item in list(extra)[:shown]]
    return "\n".join(lines)


async def wipe(raw: Raw) -> None:
    """Delete every node, a batch per transaction."""
    while await raw.count(COUNT_NODES):
        await raw.write(WIPE)


@dataclass(slots=True)
class SyncKill:
    at: float  # seconds after the start
    killed: bool  # False: the run had finished before
    written: float  # share of the CIs in the graph at the kill
    running_after_kill: int  # runs RUNNING after the kill, before the rerun
    rerun_seconds: float
    equal: bool
    audit: str
    audit_intact: bool
    running_after_rerun: int
    lease_free: bool
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.equal and self.running_after_rerun == 0 and self.lease_free and not self.problem


@dataclass(slots=True)
class PhaseA:
    cis: int = 0
    relations: int = 0
    nodes: int = 0
    edges: int = 0
    control_seconds: float = 0.0
    reference_seconds: float = 0.0
    control_equal: bool = False
    kills: list[SyncKill] = field(default_factory=list)
    seconds: float = 0.0


async def check_after(
    raw: Raw, graph: Graph, reference: Counter[str]
) -> tuple[bool, str, int, bool, str]:
    """Equal to the reference?, the audit summary, RUNNING runs, lease free?, problem (the
    audit chain broken among them)."""
    found = await dump(raw)
    problem = "" if found == reference else difference(reference, found)
    report = await AuditRepository(graph).verify()
    if not report.intact:
        problem += f"\naudit chain: {report.summary()}"
    runs = [row["props"] for row in await raw.read(RUNS, connector=CONNECTOR)]
    running = sum(run["status"] == "RUNNING" for run in runs)
    last = max(runs, key=lambda run: run["startedAt"], default=None)
    if last is None or last["status"] != "SUCCEEDED":
        problem += f"\nlast run: {last}"
    leases = [row["props"] for row in await raw.read(LEASE, connector=CONNECTOR)]
    now = datetime.now(UTC).isoformat()
    lease_free = all(lease["expiresAt"] <= now for lease in leases)
    return found == reference, report.summary(), running, lease_free, problem.strip()


async def phase_a(args: argparse.Namespace, root: Path, report: PhaseA) -> None:
    rng = random.Random(args.seed)
    progress(f"phase A: filling the fake ServiceNow with {args.cis:,} CIs")
    cmdb = populate(args.cis, args.cis * 3, max(1, args.cis // 200), args.seed)
    report.cis, report.relations = cmdb.cis, cmdb.relations
    data_dir = root / "sync-data"
    logs = root / "logs"
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=args.heap))
    started_at = time.perf_counter()
    with serve_app(cmdb.fake.app) as url, process_groups() as started:
        connection = server.attach_or_start()
        raw = Raw(connection)
        graph = Graph.connect(connection, max_transaction_retry_time=60.0)
        env = {
            "HUB_DATA_DIR": str(data_dir),
            "HUB_SERVICENOW__URL": url,
            "HUB_SERVICENOW__USERNAME": USER,
            "HUB_SERVICENOW__PASSWORD": PASSWORD,
            "HUB_SERVICENOW__PAGE_SIZE": str(args.page_size),
        }
        try:

            async def sync_to_end(name: str) -> float:
                start = time.perf_counter()
                process = hub(started, env, logs / f"{name}.log", "sync", CONNECTOR)
                code = await asyncio.to_thread(process.wait, args.sync_timeout)
                if code != 0:
                    raise RuntimeError(f"{name}: hub sync exited {code}; see {logs}/{name}.log")
                return time.perf_counter() - start

            await wipe(raw)
            progress("control: one uninterrupted sync")
            report.control_seconds = await sync_to_end("control")
            control = await dump(raw)
            await wipe(raw)
            progress(f"  {report.control_seconds:.1f} s; reference: another uninterrupted sync")
            report.reference_seconds = await sync_to_end("reference")
            equal, _, _, _, problem = await check_after(raw, graph, control)
            report.control_equal = equal
            if not equal:
                raise RuntimeError(f"two uninterrupted syncs differ: {problem}")
            reference = control
            report.nodes = sum(v for k, v in reference.items() if k.startswith("N"))
            report.edges = sum(v for k, v in reference.items() if k.startswith("E"))
            progress(
                f"  {report.reference_seconds:.1f} s; {report.nodes:,} nodes, "
                f"{report.edges:,} edges compared"
            )

            for index in range(args.sync_kills):
                if time.perf_counter() - started_at > args.budget_seconds:
                    progress(f"budget of {args.budget_seconds:.0f} s spent: {index} kills done")
                    break
                await wipe(raw)
                at = rng.uniform(0, report.reference_seconds)
                process = hub(started, env, logs / f"kill-{index:03d}.log", "sync", CONNECTOR)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(process.wait, at)
                killed = process.poll() is None
                if killed:
                    os.killpg(process.pid, signal.SIGKILL)
                await asyncio.to_thread(process.wait, 30)
                written = await raw.count(COMPONENTS) / cmdb.cis
                runs = [row["props"] for row in await raw.read(RUNS, connector=CONNECTOR)]
                running_after_kill = sum(run["status"] == "RUNNING" for run in runs)
                rerun = await sync_to_end(f"rerun-{index:03d}")
                equal, audit, running, lease_free, problem = await check_after(
                    raw, graph, reference
                )
                kill = SyncKill(
                    at=at,
                    killed=killed,
                    written=written,
                    running_after_kill=running_after_kill,
                    rerun_seconds=rerun,
                    equal=equal,
                    audit=audit,
                    audit_intact="audit chain" not in problem,
                    running_after_rerun=running,
                    lease_free=lease_free,
                    problem=problem,
                )
                report.kills.append(kill)
                progress(
                    f"kill {index + 1}/{args.sync_kills} at {at:.1f} s "
                    f"({'killed' if killed else 'finished first'}, {written:.0%} of CIs written, "
                    f"{running_after_kill} RUNNING): rerun {rerun:.1f} s, "
                    f"{'OK' if kill.ok else 'FAIL ' + problem}"
                )
        finally:
            await graph.close()
            await raw.close()
            server.stop()
    report.seconds = time.perf_counter() - started_at


# ---- phase B: hub serve ----------------------------------------------------------------

WORLD = (
    "{ customers(first: 1) { edges { node { id } } } services(first: 1) { edges { node { id } } } }"
)
CREATE = "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }"
FOUND = "query F($id: ID!) { node(id: $id) { id } }"


@dataclass(slots=True)
class ServeKill:
    at: float  # seconds from the first acknowledged write to the kill
    acknowledged: int  # writes answered before the kill
    child_exit_seconds: float | None  # None: the graph child outlived its owner (orphan)
    restart_seconds: float
    missing: int  # acknowledged writes not found after the restart
    audit: str
    audit_intact: bool

    @property
    def ok(self) -> bool:
        return self.child_exit_seconds is not None and self.missing == 0 and self.audit_intact


@dataclass(slots=True)
class PhaseB:
    first_start_seconds: float = 0.0
    kills: list[ServeKill] = field(default_factory=list)
    final_stop_clean: bool = False
    seconds: float = 0.0


async def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> float:
    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() - start < 180:
            if process.poll() is not None:
                raise RuntimeError(f"hub serve exited {process.returncode}; see {log}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return time.perf_counter() - start
            await asyncio.sleep(0.2)
    raise RuntimeError(f"hub serve did not become ready in 180 s; see {log}")


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]  # type: ignore[no-any-return]


async def write_until_gone(
    client: httpx.AsyncClient,
    world: tuple[str, str],
    label: str,
    acknowledged: list[str],
    first: asyncio.Event,
) -> None:
    """Create agreements one after another until the server stops answering; `first`
    is set once one was acknowledged."""
    customer, service = world
    for number in range(1_000_000):
        agreement = {
            "kind": "SLA",
            "name": f"faults {label}-{number}",
            "covers": [service],
            "customerId": customer,
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.9, "windowKind": "CALENDAR_MONTH"}
            ],
        }
        try:
            data = await gql(client, CREATE, {"input": agreement})
        except (httpx.TransportError, httpx.HTTPStatusError):
            return
        acknowledged.append(data["createAgreement"]["id"])
        first.set()


def graph_child(data_dir: Path) -> int | None:
    state = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings()).read_state()
    return None if state is None else state.pid


async def exit_seconds(pid: int, limit: float = 60.0) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if not pid_alive(pid):
            return time.perf_counter() - start
        await asyncio.sleep(0.05)
    return None


async def phase_b(args: argparse.Namespace, root: Path, report: PhaseB) -> None:
    rng = random.Random(args.seed + 1)
    data_dir = root / "serve-data"
    logs = root / "logs"
    env = {"HUB_DATA_DIR": str(data_dir), "HUB_EMBEDDED__HEAP": args.heap}
    started_at = time.perf_counter()
    progress("phase B: the demo enterprise and an editor token")
    hub_output(env, "demo", "load")
    token = hub_output(env, "token", "create", "--user", "faults-writer", "--role", "editor")
    token = token.strip().splitlines()[-1]
    orphans: list[int] = []
    with process_groups() as started:
        try:

            async def start_serve(name: str) -> tuple[subprocess.Popen[bytes], int, float]:
                port = free_port()
                log = logs / f"{name}.log"
                process = hub(
                    started, env, log, "serve", "--host", "127.0.0.1", "--port", str(port)
                )
                return process, port, await wait_ready(process, port, log)

            serve, port, report.first_start_seconds = await start_serve("serve-0")
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as client:
                data = await gql(client, WORLD)
            world = (
                data["customers"]["edges"][0]["node"]["id"],
                data["services"]["edges"][0]["node"]["id"],
            )
            for index in range(args.serve_kills):
                at = rng.uniform(0.0, 5.0)
                acknowledged: list[str] = []
                child = graph_child(data_dir)
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
                ) as client:
                    first = asyncio.Event()
                    writer = asyncio.create_task(
                        write_until_gone(client, world, str(index), acknowledged, first)
                    )
                    await asyncio.wait_for(first.wait(), 120)
                    await asyncio.sleep(at)
                    os.kill(serve.pid, signal.SIGKILL)  # the serve process alone
                    await asyncio.to_thread(serve.wait, 30)
                    await writer
                gone = None if child is None else await exit_seconds(child)
                if child is not None and gone is None:
                    orphans.append(child)
                serve, port, restart = await start_serve(f"serve-{index + 1}")
                missing = 0
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
                ) as client:
                    for agreement_id in acknowledged:
                        found = await gql(client, FOUND, {"id": agreement_id})
                        missing += found["node"] is None
                audit_ok = True
                try:
                    audit = hub_output(env, "audit", "verify").strip()
                except RuntimeError as exc:
                    audit, audit_ok = str(exc), False
                kill = ServeKill(
                    at=at,
                    acknowledged=len(acknowledged),
                    child_exit_seconds=gone,
                    restart_seconds=restart,
                    missing=missing,
                    audit=audit,
                    audit_intact=audit_ok,
                )
                report.kills.append(kill)
                progress(
                    f"serve kill {index + 1}/{args.serve_kills} after {at:.1f} s of writes: "
                    f"{len(acknowledged)} acknowledged, {missing} missing; graph child "
                    f"{'STILL RUNNING' if gone is None else f'exited after {gone:.1f} s'}; "
                    f"restart {restart:.1f} s; audit: {audit}"
                )
            child = graph_child(data_dir)
            serve.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(serve.wait, 60)
            report.final_stop_clean = code == 0 and (child is None or not pid_alive(child))
        finally:
            for pid in orphans:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    report.seconds = time.perf_counter() - started_at


# ---- the report --------------------------------------------------------------------------


def command(args: argparse.Namespace) -> str:
    return (
        f".venv/bin/python -m benchmarks.faults --cis {args.cis} --sync-kills {args.sync_kills} "
        f"--serve-kills {args.serve_kills} --page-size {args.page_size} --heap {args.heap} "
        f"--seed {args.seed}"
    )


def spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"min {ordered[0]:.1f} / median {statistics.median(ordered):.1f} / max {ordered[-1]:.1f}"


def markdown(args: argparse.Namespace, a: PhaseA, b: PhaseB) -> str:
    lines = [
        f"Command: `{command(args)}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {memory_total()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"hub at {hub_tree()}.",
    ]
    if a.cis:
        lines += [
            "",
            f"### Phase A: `hub sync` killed ({a.cis:,} CIs, {a.relations:,} relationships)",
            "",
            f"- Uninterrupted syncs (process start to exit): control {a.control_seconds:.1f} s, "
            f"reference {a.reference_seconds:.1f} s (the kill window); equal: {a.control_equal}; "
            f"compared: {a.nodes:,} nodes and {a.edges:,} edges.",
        ]
    if a.kills:
        killed = [k for k in a.kills if k.killed]
        ok = sum(k.ok for k in a.kills)
        lines += [
            f"- Kills: {len(a.kills)} drawn, {len(killed)} landed while the sync ran "
            f"({len(a.kills) - len(killed)} runs had finished first); after each rerun: "
            f"{ok}/{len(a.kills)} equal to the reference with no RUNNING run and the lease "
            f"free; audit chain intact in {sum(k.audit_intact for k in a.kills)}.",
            f"- Share of CIs in the graph at the kill: "
            f"{spread([100 * k.written for k in killed])} %; "
            f"runs left RUNNING by the kill (before the rerun): "
            f"{sum(k.running_after_kill for k in killed)} of {len(killed)}.",
            f"- Rerun to completion: {spread([k.rerun_seconds for k in a.kills])} s; "
            f"phase A total {a.seconds:.0f} s "
            f"({a.seconds / max(1, len(a.kills)):.1f} s per kill, reference and control included).",
        ]
        for index, kill in enumerate(a.kills):
            if not kill.ok:
                lines.append(f"- FAILED kill {index + 1} at {kill.at:.1f} s: {kill.problem}")
    if b.kills:
        lines += ["", f"### Phase B: `hub serve` killed during writes ({len(b.kills)} kills)", ""]
        exits = [k.child_exit_seconds for k in b.kills if k.child_exit_seconds is not None]
        lines += [
            f"- First start (demo loaded) to ready: {b.first_start_seconds:.1f} s; restart after "
            f"a kill to ready: {spread([k.restart_seconds for k in b.kills])} s.",
            f"- Writes (createAgreement) acknowledged before the kills: "
            f"{sum(k.acknowledged for k in b.kills)} in all "
            f"({spread([float(k.acknowledged) for k in b.kills])} per kill); missing after the "
            f"restart: {sum(k.missing for k in b.kills)}.",
            f"- Graph child exited after its owner was killed: {len(exits)}/{len(b.kills)} "
            f"(seconds: {spread(exits)}); orphans left: {len(b.kills) - len(exits)}.",
            f"- `hub audit verify` after each restart intact: "
            f"{sum(k.audit_intact for k in b.kills)}/{len(b.kills)} "
            f"(last: {b.kills[-1].audit}).",
            f"- Final SIGTERM stop clean (exit 0, graph child gone): {b.final_stop_clean}; "
            f"phase B total {b.seconds:.0f} s.",
        ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cis", type=int, default=10_000, help="CIs in the fake (3x relations)")
    parser.add_argument("--sync-kills", type=int, default=20)
    parser.add_argument("--serve-kills", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--heap", default="768m", help="the embedded graph's JVM heap")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sync-timeout", type=float, default=1800.0, help="per hub sync, s")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs directory")
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=float("inf"),
        help="no new sync kill after this long (the report says how many ran)",
    )
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks: processes are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    root = Path(tempfile.mkdtemp(prefix="hub-faults-"))
    (root / "logs").mkdir()
    progress(f"data and logs in {root}")
    a, b = PhaseA(), PhaseB()
    try:
        if args.sync_kills >= 0:
            asyncio.run(phase_a(args, root, a))
        if args.serve_kills > 0:
            asyncio.run(phase_b(args, root, b))
    finally:
        print(markdown(args, a, b))
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    failed = [k for k in a.kills if not k.ok] + [k for k in b.kills if not k.ok]
    return 1 if failed or (a.reference_seconds and not a.control_equal) else 0


if __name__ == "__main__":
    sys.exit(main())
