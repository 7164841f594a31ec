"""Many concurrent clients against `hub serve` on the demo, over HTTP on loopback.

Run as ``.venv/bin/python -m benchmarks.load [--clients 50] [--duration 60]
[--mix portal] [--workers 1] [--replicas 1] [--client-processes 1]``.

The hub: `hub serve --demo --workers W` (it starts the embedded graph in a fresh data
directory, loads the demo and prints a viewer token), plus, with `--replicas R`, R-1
more `hub serve --workers W` processes pointed at the first one's graph as a plain Bolt
server (`HUB_NEO4J__URI`, `HUB_NEO4J__USER`, `HUB_NEO4J__PASSWORD`, as for Neo4j). Logs at
WARNING (no access log lines). The clients: `--clients` coroutines with httpx, split over
`--client-processes` processes; each sends one request after another, choosing the
operation by the mix's weights and the hub round-robin (`--replicas`). Every operation is
a query the portal sends (`hub/portal/static/views.js`); the portal's dependency page
(`PortalGraph`) is split into its chain and its gaps halves:

| key | operation | what |
|---|---|---|
| lists | PortalServices | the services list (first 500) |
| status | PortalUnit | a business unit's active SLAs with each objective's status |
| node | PortalObjective | one SLA by `node(id:)`, objective status and 14 past statuses |
| chain | PortalChain | a service's `dependencyChain` |
| impact | PortalImpact | a component's `impact` with agreements and customers |
| gaps | PortalGaps | a service's SLAs with their `coverageGaps` |
| violations | PortalViolations | `violationsOf` (first 100) with actions and credits |

Mixes: `portal` (all seven, equal weights), `traversals` (chain, impact, gaps: the
20-client mix of issue 13), or `key=weight,...`. An error is any transport failure,
non-200 answer or answer with GraphQL `errors`. Requests running when the time is up
are finished and counted. Before and after the run the benchmark scrapes `GET /metrics`
of every hub and prints the server-side `hub_graphql_request_seconds` per operation
(count, mean, p50/p95/p99 interpolated in the histogram's buckets as Prometheus's
`histogram_quantile` does). Each worker has a registry of its own and a scrape reaches one
worker, so each hub is scraped several times on fresh connections and the distinct
snapshots (one per worker) are summed; the report says how many workers were seen.

It also reports the CPU seconds of the hub processes (workers and the JVM apart), of
the client processes (to show the client was not the limit) and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer, free_port
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.settings import EmbeddedGraphSettings

REPO = Path(__file__).resolve().parents[1]
# The fakes live in tests/ and import as `fakes` (pytest puts tests/ on sys.path).
_TESTS = REPO / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from fakes.server import serve_app  # noqa: E402
from fakes.servicenow import FakeServiceNow  # noqa: E402

SYNC_INTERVAL_SECONDS = 30  # the least a connector allows

QUERIES = {
    "lists": (
        "PortalServices",
        "query PortalServices { services(first: 500) { edges { node "
        "{ id name tier businessUnit region } } } }",
    ),
    "status": (
        "PortalUnit",
        """query PortalUnit($unit: String!) {
  agreements(kind: [SLA], status: [ACTIVE], businessUnit: $unit, first: 500) {
    pageInfo { hasNextPage }
    edges { node { id name region
      ... on ServiceLevelAgreement {
        customer { id name }
        covers { id name }
        effectiveObjectives { id name indicator target status { compliance budgetRemaining state } }
      } } }
  }
}""",
    ),
    "node": (
        "PortalObjective",
        "query PortalObjective($sla: ID!, "
        + ", ".join(f"$t{i}: DateTime!" for i in range(14))
        + ") { node(id: $sla) { ... on ServiceLevelAgreement { id name customer { name }\n"
        "    effectiveObjectives { id name indicator target windowKind windowDays\n"
        "      status { windowStart windowEnd good total compliance dataCoverage "
        "budgetRemaining state exhaustionForecast burnRates { windowSeconds rate } }\n"
        + "\n".join(f"h{i}: status(at: $t{i}) {{ budgetRemaining compliance }}" for i in range(14))
        + " } } } }",
    ),
    "chain": (
        "PortalChain",
        """query PortalChain($id: ID!) {
  dependencyChain(id: $id) { truncated root { __typename id name }
    components { depth component { __typename id name } } edges { from { id } to { id } } }
}""",
    ),
    "impact": (
        "PortalImpact",
        """query PortalImpact($id: ID!) {
  impact(id: $id) { root { __typename id name }
    components { depth component { __typename id name } }
    agreements { id kind name businessUnit status }
    customers { id name region businessUnit } }
}""",
    ),
    "gaps": (
        "PortalGaps",
        """query PortalGaps($id: ID!) {
  node(id: $id) { ... on Service { id name businessUnit
    slas(status: [ACTIVE]) { id name coverageGaps { kind indicator required provided detail
      component { id name } } } } }
}""",
    ),
    "violations": (
        "PortalViolations",
        """query PortalViolations($status: [ViolationStatus!]) {
  violationsOf(status: $status, first: 100) { edges { node {
    id periodStart periodEnd measured target severity status detectedAt rcaDueAt rootCauseSummary
    agreement { id kind name businessUnit }
    objective { name indicator }
    actions { id kind description owner dueAt status doneAt }
    credit { status amount currency percent }
  } } }
}""",
    ),
}
MIXES = {
    "portal": dict.fromkeys(QUERIES, 1.0),
    "traversals": {"chain": 1.0, "impact": 1.0, "gaps": 1.0},
}
METRIC = "hub_graphql_request_seconds"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_mix(text: str) -> dict[str, float]:
    if text in MIXES:
        return MIXES[text]
    mix = {}
    for part in text.split(","):
        key, _, weight = part.partition("=")
        if key not in QUERIES:
            raise SystemExit(f"unknown operation {key!r}: use {', '.join(QUERIES)}")
        mix[key] = float(weight or 1)
    return mix


# ---- the hubs -------------------------------------------------------------------


@dataclass
class Hub:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def start_hub(
    name: str, tmp: Path, env: dict[str, str], workers: int, demo: bool, log_level: str
) -> Hub:
    port = free_port()
    log = tmp / f"{name}.log"
    command = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)] + (["--demo"] if demo else [])
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "HUB_LOG_LEVEL": log_level, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{hub.url}/readyz", timeout=2).status_code == 200:
                return hub
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} was not ready in 600 s:\n{log.read_text()}")


def stop_hub(hub: Hub) -> float:
    """SIGTERM, wait; returns the seconds it took to exit."""
    begun = time.monotonic()
    if hub.process.poll() is None:
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait()
    return time.monotonic() - begun


def demo_token(log: Path) -> str:
    match = re.search(r"Bearer <token>':\n(\S+)", log.read_text())
    if match is None:
        raise SystemExit(f"no demo token in {log}")
    return match.group(1)


# ---- process CPU from /proc -----------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def process_tree(root: int) -> dict[int, str]:
    """`root` and its descendants, each with its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    found = {}
    for pid in tree:
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_cpu(hubs: Sequence[Hub]) -> dict[str, float]:
    """CPU seconds so far: the JVM, the workers and the supervisors, summed over hubs."""
    totals: dict[str, float] = defaultdict(float)
    for hub in hubs:
        for pid, cmdline in process_tree(hub.process.pid).items():
            if "java" in cmdline.split(" ")[0]:
                kind = "graph (JVM)"
            elif "resource_tracker" in cmdline:
                continue
            elif pid == hub.process.pid and "spawn_main" not in cmdline:
                kind = "hub serve" if "--workers 1 " in cmdline + " " else "supervisor"
            else:
                kind = "workers"
            totals[kind] += cpu_seconds(pid)
    return dict(totals)


# ---- /metrics -------------------------------------------------------------------


Buckets = dict[str, dict[float, float]]  # operation -> upper bound -> cumulative count


@dataclass
class Snapshot:
    buckets: Buckets = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, other: Snapshot, sign: int = 1) -> None:
        for op, bounds in other.buckets.items():
            mine = self.buckets.setdefault(op, {})
            for le, count in bounds.items():
                mine[le] = mine.get(le, 0.0) + sign * count
        for op, total in other.sums.items():
            self.sums[op] = self.sums.get(op, 0.0) + sign * total


def parse_metrics(text: str) -> Snapshot:
    """`hub_graphql_request_seconds` by operation, summed over field classes."""
    snapshot = Snapshot()
    for family in text_string_to_metric_families(text):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            op = sample.labels.get("operation", "")
            if sample.name == f"{METRIC}_bucket":
                le = float(sample.labels["le"])
                bounds = snapshot.buckets.setdefault(op, {})
                bounds[le] = bounds.get(le, 0.0) + sample.value
            elif sample.name == f"{METRIC}_sum":
                snapshot.sums[op] = snapshot.sums.get(op, 0.0) + sample.value
    return snapshot


def scrape(hubs: Sequence[Hub], workers: int, tries: int = 24) -> tuple[Snapshot, int]:
    """Every hub's GraphQL histograms, each worker counted once; and the workers seen.

    A scrape reaches one worker: scrape on fresh connections and keep the distinct
    GraphQL histograms (a worker's do not change between scrapes while no GraphQL
    request runs). Two workers with identical histograms (both untouched) count once,
    which adds nothing either way."""
    total, seen = Snapshot(), 0
    for hub in hubs:
        distinct: dict[str, Snapshot] = {}
        for _ in range(tries if workers > 1 else 1):
            with httpx.Client(timeout=30) as client:  # a fresh connection each time
                response = client.get(f"{hub.url}/metrics")
            response.raise_for_status()
            lines = "\n".join(
                line for line in response.text.splitlines() if line.startswith(METRIC)
            )
            distinct.setdefault(lines, parse_metrics(response.text))
            if len(distinct) == workers:
                break
        seen += len(distinct)
        for snapshot in distinct.values():
            total.add(snapshot)
    return total, seen


def quantile(q: float, bounds: dict[float, float]) -> float:
    """Prometheus's `histogram_quantile` on cumulative buckets (linear within one)."""
    ordered = sorted(bounds.items())
    count = ordered[-1][1] if ordered else 0.0
    if count <= 0:
        return math.nan
    rank = q * count
    lower_bound, lower_count = 0.0, 0.0
    for le, cumulative in ordered:
        if cumulative >= rank:
            if math.isinf(le):
                return lower_bound  # in the +Inf bucket: the highest finite bound
            inside = cumulative - lower_count
            share = (rank - lower_count) / inside if inside else 0.0
            return lower_bound + (le - lower_bound) * share
        lower_bound, lower_count = le, cumulative
    return lower_bound


# ---- the clients ----------------------------------------------------------------


@dataclass
class Targets:
    """Ids and names the operations ask about, read from the demo before the run."""

    services: list[str]
    components: list[str]
    units: list[str]
    slas: list[str]

    def variables(self, key: str, rng: random.Random) -> dict[str, Any]:
        if key in ("chain", "gaps"):
            return {"id": rng.choice(self.services)}
        if key == "impact":
            return {"id": rng.choice(self.components)}
        if key == "status":
            return {"unit": rng.choice(self.units)}
        if key == "node":
            now = time.time()
            times = {
                f"t{i}": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (13 - i) * 2 * 86400)
                )
                for i in range(14)
            }
            return {"sla": rng.choice(self.slas), **times}
        if key == "violations":
            return {"status": None}
        return {}


def ask(client: httpx.Client, url: str, token: str, key: str, variables: dict[str, Any]) -> Any:
    name, query = QUERIES[key]
    response = client.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables, "operationName": name},
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        body = response.json()
    except ValueError:
        raise SystemExit(
            f"{key} failed while preparing: {response.status_code} {response.text[:500]!r}"
        ) from None
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"{key} failed while preparing: {response.status_code} {body}")
    return body["data"]


def targets(url: str, token: str) -> Targets:
    with httpx.Client(timeout=120) as client:
        services = [
            e["node"]["id"] for e in ask(client, url, token, "lists", {})["services"]["edges"]
        ]
        components: set[str] = set()
        for service in services[:20]:
            chain = ask(client, url, token, "chain", {"id": service})["dependencyChain"]
            components.update(c["component"]["id"] for c in chain["components"])
        units_data = client.post(
            f"{url}/graphql",
            json={"query": "{ customers(first: 500) { edges { node { businessUnit } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        units = sorted(
            {e["node"]["businessUnit"] for e in units_data["customers"]["edges"]} - {None}
        )
        slas = [
            e["node"]["id"]
            for unit in units
            for e in ask(client, url, token, "status", {"unit": unit})["agreements"]["edges"]
        ]
    return Targets(services, sorted(components) or services, units, slas)


@dataclass
class ClientResult:
    latencies: dict[str, list[float]]
    errors: dict[str, int]
    error_samples: list[str]
    cpu_seconds: float
    wall_seconds: float


async def _clients(
    urls: Sequence[str],
    token: str,
    plan: Targets,
    mix: dict[str, float],
    clients: int,
    duration: float,
    seed: int,
) -> ClientResult:
    keys, weights = list(mix), list(mix.values())
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    turn = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as http:
        end = time.monotonic() + duration

        async def client(n: int) -> None:
            nonlocal turn
            rng = random.Random(seed * 1000 + n)
            while time.monotonic() < end:
                key = rng.choices(keys, weights)[0]
                name, query = QUERIES[key]
                url = urls[turn % len(urls)]  # round-robin over the hubs
                turn += 1
                body = {
                    "query": query,
                    "variables": plan.variables(key, rng),
                    "operationName": name,
                }
                begun = time.perf_counter()
                problem = None
                try:
                    response = await http.post(f"{url}/graphql", json=body)
                    answer = response.json()
                    if response.status_code != 200:
                        problem = f"{key}: HTTP {response.status_code}"
                    elif answer.get("errors"):
                        problem = f"{key}: {answer['errors'][0].get('message')}"
                except (httpx.HTTPError, ValueError) as exc:
                    problem = f"{key}: {type(exc).__name__} {exc}"
                latencies[key].append(time.perf_counter() - begun)
                if problem is not None:
                    errors[key] += 1
                    if len(samples) < 5:
                        samples.append(problem)

        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
    return ClientResult(
        dict(latencies),
        dict(errors),
        samples,
        time.process_time() - cpu,
        time.monotonic() - wall,
    )


def client_process(args: tuple[Any, ...]) -> ClientResult:
    """One client process (module level: multiprocessing pickles it)."""
    return asyncio.run(_clients(*args))


# ---- the scheduled syncs (leases) ------------------------------------------------


def fake_servicenow(cis: int) -> FakeServiceNow:
    fake = FakeServiceNow("hub", "load-bench")
    for n in range(cis):
        fake.add_ci("cmdb_ci_linux_server", f"load-{n:04d}")
    return fake


def servicenow_env(url: str) -> dict[str, str]:
    return {
        "HUB_SERVICENOW__URL": url,
        "HUB_SERVICENOW__USERNAME": "hub",
        "HUB_SERVICENOW__PASSWORD": "load-bench",
        "HUB_SERVICENOW__INTERVAL_SECONDS": str(SYNC_INTERVAL_SECONDS),
    }


async def sync_runs(connection: GraphConnection) -> list[SyncRun]:
    graph = Graph.connect(connection)
    try:
        return await SyncRepository(graph).runs(None, limit=10_000)
    finally:
        await graph.close()


def lease_report(runs: Sequence[SyncRun], schedulers: int, seconds: float) -> str:
    """Runs per connector, and whether any two of one connector's runs overlapped."""
    lines = []
    for connector in sorted({r.connector for r in runs}):
        mine = sorted((r for r in runs if r.connector == connector), key=lambda r: r.started_at)
        overlaps = sum(
            1
            for a, b in itertools.pairwise(mine)
            if a.finished_at is None or b.started_at < a.finished_at
        )
        statuses = sorted({r.status for r in mine})
        lines.append(
            f"- `{connector}`: {len(mine)} runs ({', '.join(statuses)}), **{overlaps} overlapping**"
        )
    return (
        f"Scheduled syncs against a fake ServiceNow, every {SYNC_INTERVAL_SECONDS} s in each "
        f"of {schedulers} schedulers, {seconds:.0f} s from the first hub's start "
        "(runs read from the graph's `SyncRun` nodes):\n" + "\n".join(lines)
    )


# ---- the report -----------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def report(
    args: argparse.Namespace,
    mix: dict[str, float],
    results: Sequence[ClientResult],
    server: Snapshot,
    seen: tuple[int, int],
    cpu: dict[str, float],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    wall: float,
) -> str:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for result in results:
        for key, values in result.latencies.items():
            latencies[key].extend(values)
        for key, failed in result.errors.items():
            errors[key] += failed
    total = sum(len(v) for v in latencies.values())
    lines = [
        f"### {args.clients} clients, {args.duration:.0f} s, mix `{args.mix}`, "
        f"{args.replicas} hub(s) x {args.workers} worker(s)",
        "",
        f"- requests: {total} in {wall:.1f} s = **{total / wall:.1f} requests/s**; "
        f"errors: **{sum(errors.values())}**",
        f"- load average before {load[0][0]:.2f} / {load[0][1]:.2f} / {load[0][2]:.2f}, "
        f"after {load[1][0]:.2f} / {load[1][1]:.2f} / {load[1][2]:.2f} "
        f"({os.cpu_count()} CPUs, shared with other work)",
        "- CPU seconds during the run: "
        + ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in sorted(cpu.items()))
        + f"; clients ({args.client_processes} process(es)) "
        + f"{sum(r.cpu_seconds for r in results):.1f} "
        + f"(busiest client process {max(r.cpu_seconds / r.wall_seconds for r in results):.0%} "
        + "of one core)",
        "",
        "| operation | requests | errors | client p50 ms | p95 | p99 | server count | "
        "server mean ms | server p50 | p95 | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in mix:
        values = latencies.get(key, [])
        name = QUERIES[key][0]
        bounds = server.buckets.get(name, {})
        count = max(bounds.values(), default=0.0)
        mean = server.sums.get(name, 0.0) / count * 1000 if count else math.nan
        client_cells = (
            [f"{pct(values, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99)] if values else ["-"] * 3
        )
        server_cells = [f"{quantile(q, bounds) * 1000:.0f}" for q in (0.5, 0.95, 0.99)]
        lines.append(
            f"| {key} ({name}) | {len(values)} | {errors.get(key, 0)} | "
            + " | ".join(client_cells)
            + f" | {count:.0f} | {mean:.0f} | "
            + " | ".join(server_cells)
            + " |"
        )
    everything = [v for values in latencies.values() for v in values]
    if everything:
        lines.append(
            f"| **all** | {total} | {sum(errors.values())} | "
            + " | ".join(f"{pct(everything, q) * 1000:.0f}" for q in (0.5, 0.95, 0.99))
            + " | | | | | |"
        )
    lines += [
        "",
        f"Server-side: `{METRIC}` from `GET /metrics`, after minus before, "
        f"{seen[1]} of {seen[0]} worker registries seen; quantiles interpolated in the "
        "histogram's buckets (coarse above 1 s).",
    ]
    samples = [s for r in results for s in r.error_samples]
    if samples:
        lines += ["", "Errors (first few): " + "; ".join(samples[:5])]
    return "\n".join(lines)


def run(args: argparse.Namespace, tmp: Path) -> str:
    if not args.servicenow:
        return measure(args, tmp, {})
    with serve_app(fake_servicenow(args.servicenow).app) as url:
        return measure(args, tmp, servicenow_env(url))


def measure(args: argparse.Namespace, tmp: Path, extra_env: dict[str, str]) -> str:
    mix = parse_mix(args.mix)
    data = tmp / "data"
    first_env = {"HUB_DATA_DIR": str(data), **extra_env}
    started = time.monotonic()
    hubs = [start_hub("hub-0", tmp, first_env, args.workers, True, args.log_level)]
    try:
        token = demo_token(hubs[0].log)
        # The first hub's embedded graph, as any Bolt server is reached.
        server = EmbeddedGraphServer(data, EmbeddedGraphSettings())
        state = server.read_state()
        assert state is not None, "the first hub runs the embedded graph"
        connection = server.connection(state)
        if args.replicas > 1:
            bolt = {
                "HUB_NEO4J__URI": connection.uri,
                "HUB_NEO4J__USER": connection.user,
                "HUB_NEO4J__PASSWORD": connection.password,
                **({"HUB_NEO4J__DATABASE": connection.database} if connection.database else {}),
            }
            for n in range(1, args.replicas):
                env = {"HUB_DATA_DIR": str(tmp / f"data-{n}"), **bolt, **extra_env}
                hubs.append(start_hub(f"hub-{n}", tmp, env, args.workers, False, args.log_level))
        urls = [hub.url for hub in hubs]
        progress(f"hubs ready: {urls}; reading targets")
        plan = targets(urls[0], token)
        progress(
            f"{len(plan.services)} services, {len(plan.components)} components, "
            f"{len(plan.units)} units, {len(plan.slas)} SLAs"
        )
        # Warm-up: every worker's caches, connections and the JVM's JIT.
        parts = max(1, min(args.client_processes, args.clients))
        share = [
            args.clients // parts + (1 if i < args.clients % parts else 0) for i in range(parts)
        ]

        def jobs(duration: float, seed: int) -> list[tuple[Any, ...]]:
            return [(urls, token, plan, mix, n, duration, seed + i) for i, n in enumerate(share)]

        context = multiprocessing.get_context("spawn")
        with context.Pool(parts) as pool:
            if args.warmup > 0:
                progress(f"warm-up {args.warmup:.0f} s")
                pool.map(client_process, jobs(args.warmup, 1))
            before, _ = scrape(hubs, args.workers)
            cpu_before = hub_cpu(hubs)
            load_before = os.getloadavg()
            progress(f"run {args.duration:.0f} s with {args.clients} clients")
            begun = time.monotonic()
            results = pool.map(client_process, jobs(args.duration, 100))
            wall = time.monotonic() - begun
        load_after = os.getloadavg()
        cpu_after = hub_cpu(hubs)
        after, seen = scrape(hubs, args.workers)
        after.add(before, -1)
        cpu = {k: cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0) for k in cpu_after}
        text = report(
            args,
            mix,
            results,
            after,
            (len(hubs) * args.workers, seen),
            cpu,
            (load_before, load_after),
            wall,
        )
        if args.servicenow:
            runs = asyncio.run(sync_runs(connection))
            schedulers = len(hubs) * args.workers
            text += "\n\n" + lease_report(runs, schedulers, time.monotonic() - started)
    finally:
        stopped = [stop_hub(hub) for hub in reversed(hubs)]
    left = [pid for hub in hubs for pid in process_tree(hub.process.pid)]
    return text + (
        f"\n\nStopped with SIGTERM in {', '.join(f'{s:.1f} s' for s in reversed(stopped))}"
        f"; processes left: {len(left)}.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds, not measured")
    parser.add_argument("--mix", default="portal", help="portal, traversals or key=weight,...")
    parser.add_argument("--workers", type=int, default=1, help="`hub serve --workers`")
    parser.add_argument("--replicas", type=int, default=1, help="`hub serve` processes")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--log-level", default="WARNING", help="HUB_LOG_LEVEL of the hubs")
    parser.add_argument(
        "--servicenow",
        type=int,
        default=0,
        metavar="CIS",
        help="a fake ServiceNow with CIS CIs that every hub syncs on a 30 s interval; "
        "report the runs the graph recorded (leases)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hub-load-") as tmp:
        text = run(args, Path(tmp))
    print(
        f"{text}\nCommand: `.venv/bin/python -m benchmarks.load {' '.join(argv or sys.argv[1:])}` "
        f"({platform.machine()}, Python {platform.python_version()})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
