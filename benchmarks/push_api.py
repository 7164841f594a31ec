"""The push API under load: `POST /api/v1/measurements` at a fixed rate on loopback.

Run as ``.venv/bin/python -m benchmarks.push_api [--rate 500] [--seconds 20]
[--points 100] [--tokens 100] [--concurrency 256] [--workers 1]``; ``--rate 50
--seconds 5`` makes a quick run. The markdown report goes to stdout, progress to stderr.

An embedded graph server is started in a temporary directory, an ACTIVE SLA with one
availability objective per token is authored, and a pusher token issued for each.
`hub serve` then runs as a process of its own (as in production: uvloop and httptools
when installed), attached to that graph, with the per-token rate limit lifted
(``HUB_API__PUSH_REQUESTS_PER_SECOND``) so that the hub, not the limiter, is measured;
``--workers N`` runs it as ``hub serve --workers N``, and its CPU is then the sum of
its processes'.

The load is open-loop and bounded: request i is due at start + i / rate for
``--seconds``, whatever the answers before it (a closed loop would hide queueing), sent
by one asyncio client with at most ``--concurrency`` requests in flight; a request that
finds no free slot waits, and its wait counts in its latency (measured from when it was
due). Each token cycles through the minutes of yesterday, ``--points`` minutes a push,
so every objective's day holds at most 1,440 points, as a source pushing minute
samples would have it. Every answer must be 200 with every point accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from benchmarks.graph import _exit_on_sigterm, memory_total, percentile, progress, version
from hub.domain.models import AgreementKind, AgreementSpec, Indicator, ObjectiveSpec, WindowKind
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer, ServerState
from hub.graph.migrations import migrate
from hub.graph.repositories import (
    AgreementRepository,
    BundleImporter,
    ComponentRepository,
    TokenRepository,
)
from hub.settings import EmbeddedGraphSettings

EDITOR = Actor(user="bench-editor", role=Role.EDITOR)
APPROVER = Actor(user="bench-approver", role=Role.APPROVER)
MINUTES_A_DAY = 1440
READY_TIMEOUT = 120.0


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    accepted: int = 0
    quarantined: int = 0


async def prepare(connection: GraphConnection, tokens: int) -> list[tuple[str, str]]:
    """(objective id, pusher token) pairs, one objective each, on one ACTIVE SLA."""
    graph = Graph.connect(connection)
    try:
        await migrate(graph)
        bundle = {
            "source": "bench",
            "customers": [{"externalId": "c", "name": "Bench customer", "businessUnit": "b"}],
            "services": [{"externalId": "svc", "name": "pushed", "tier": "TIER_1"}],
        }
        await BundleImporter(graph).load(bundle)
        components = ComponentRepository(graph)
        ids = {key: await components.lookup("bench", key) for key in ("svc", "c")}
        assert all(ids.values()), ids
        agreements = AgreementRepository(graph)
        spec = AgreementSpec(
            kind=AgreementKind.SLA,
            name="Pushed SLA",
            covers=(str(ids["svc"]),),
            customer_id=ids["c"],
            objectives=tuple(
                ObjectiveSpec(
                    indicator=Indicator.AVAILABILITY,
                    target=99.9,
                    window_kind=WindowKind.CALENDAR_MONTH,
                    name=f"source-{n}",
                )
                for n in range(tokens)
            ),
        )
        agreement = await agreements.create(spec, EDITOR)
        await agreements.submit(agreement, EDITOR, "benchmark")
        await agreements.approve(agreement, APPROVER, "benchmark")
        objectives = (await agreements.objectives_by_agreement_ids([agreement]))[agreement]
        issued = []
        for objective in objectives:
            token = await TokenRepository(graph).issue(
                TokenSpec.of("bench", Role.PUSHER, objectives=[objective.id])
            )
            issued.append((objective.id, token.token))
        return issued
    finally:
        await graph.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_hub(data_dir: Path, port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_API__PUSH_REQUESTS_PER_SECOND": "1000000",
        "HUB_API__PUSH_BURST": "1000000",
        "HUB_LOG_LEVEL": "WARNING",
    }
    hub = Path(sys.executable).with_name("hub")
    # Its log goes to a file: a pipe nobody reads would block the server once full.
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(hub), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("hub serve did not become ready")


def body(objective_id: str, push: int, points: int, day: datetime) -> bytes:
    """Push `push` of a token: `points` minutes of `day`, cycling through it."""
    first = push * points
    return json.dumps(
        {
            "objective": objective_id,
            "points": [
                {
                    "time": (day + timedelta(minutes=(first + k) % MINUTES_A_DAY + 1)).isoformat(),
                    "good": 999,
                    "total": 1000,
                }
                for k in range(points)
            ],
        }
    ).encode()


class Connection:
    """One keep-alive HTTP/1.1 connection to the hub, speaking just what a push needs.

    httpx spent a full core at 100 pushes/s here (its pool's bookkeeping), so the
    client, not the hub, set the pace; this costs a few per cent of one at 500/s.
    """

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, token: str, content: bytes) -> tuple[int, bytes]:
        if self._reader is not None and self._reader.at_eof():
            # Closed by the hub while idle (uvicorn's keep-alive timeout, 5 s): reopen,
            # as any HTTP client does, rather than send into a closed connection.
            self.close()
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(content)}\r\n\r\n"
        ).encode()
        try:
            self._writer.write(head + content)
            header = await self._reader.readuntil(b"\r\n\r\n")
            status = int(header.split(b" ", 2)[1])
            length = 0
            for line in header.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        if b"connection: close" in header.lower():
            self.close()
        return status, answer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._reader = None


async def load(
    base: str,
    pairs: Sequence[tuple[str, str]],
    rate: float,
    seconds: float,
    points: int,
    concurrency: int,
) -> tuple[Results, float]:
    """Send rate x seconds pushes on schedule; returns the results and the wall time."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    total = int(rate * seconds)
    # Bodies are made before the clock starts: the client's own JSON is not measured.
    bodies = [
        (pairs[i % len(pairs)][1], body(pairs[i % len(pairs)][0], i // len(pairs), points, day))
        for i in range(total)
    ]
    results = Results()
    host, _, port = base.removeprefix("http://").partition(":")
    idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()
    for _ in range(concurrency):
        idle.put_nowait(Connection(host, int(port)))

    async def one(due: float, token: str, content: bytes) -> None:
        connection = await idle.get()
        try:
            status, answer = await connection.post("/api/v1/measurements", token, content)
        except ConnectionError as exc:
            results.errors.append(repr(exc))
            return
        finally:
            idle.put_nowait(connection)
        results.latencies.append(time.perf_counter() - due)
        results.statuses[status] = results.statuses.get(status, 0) + 1
        if status == 200:
            outcome = json.loads(answer)
            results.accepted += outcome["accepted"]
            results.quarantined += outcome["quarantined"]
        elif len(results.errors) < 5:
            results.errors.append(f"{status}: {answer[:300]!r}")

    start = time.perf_counter()
    tasks = []
    for i, (token, content) in enumerate(bodies):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, token, content)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return results, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) that process `pid` and its live
    descendants (`hub serve --workers N`'s workers) have used so far."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grown = {pid}, True
    while grown:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grown = bool(more)
    return sum(used.get(p, 0.0) for p in tree)


def report(args: argparse.Namespace, results: Results, wall: float, cpu: dict[str, float]) -> str:
    lat = [seconds * 1000 for seconds in results.latencies]
    done = sum(results.statuses.values())
    statuses = dict(sorted(results.statuses.items()))
    transport = len([e for e in results.errors if not e[:3].isdigit()])
    lines = [
        "## Push API under load (`benchmarks/push_api.py`)",
        "",
        f"`.venv/bin/python -m benchmarks.push_api --rate {args.rate:g} --seconds "
        f"{args.seconds:g} --points {args.points} --tokens {args.tokens} --concurrency "
        f"{args.concurrency} --workers {args.workers}`",
        "",
        f"- machine: {os.cpu_count()} cores, {memory_total()}, {platform.python_version()}, "
        f"uvicorn {version('uvicorn')}, uvloop {version('uvloop')}, "
        f"httptools {version('httptools')}",
        f"- offered: {args.rate:g} pushes/s x {args.points} points for {args.seconds:g} s "
        f"({int(args.rate * args.seconds):,} pushes) over {args.tokens} tokens",
        f"- answered: {done:,} in {wall:.1f} s = {done / wall:,.0f} pushes/s "
        f"({results.accepted / wall:,.0f} points/s); statuses {statuses}; "
        f"transport errors {transport}",
        f"- points accepted {results.accepted:,}, quarantined {results.quarantined:,}",
    ]
    if lat:
        lines.append(
            "- latency from when each push was due: "
            f"p50 {percentile(lat, 0.5):,.0f} ms, p90 {percentile(lat, 0.9):,.0f} ms, "
            f"p99 {percentile(lat, 0.99):,.0f} ms, max {max(lat):,.0f} ms"
        )
    if done:
        # CPU a push, whatever else the machine ran: comparable between busy runs.
        lines.append(
            "- CPU a push answered: "
            + ", ".join(f"{name} {seconds / done * 1000:.2f} ms" for name, seconds in cpu.items())
            + f" (load average {os.getloadavg()[0]:.1f} at the end)"
        )
    if results.errors:
        lines.append(f"- first errors: {results.errors[:3]}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="pushes a second offered")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to offer them")
    parser.add_argument("--points", type=int, default=100, help="points a push")
    parser.add_argument(
        "--tokens",
        type=int,
        default=100,
        help="pusher tokens, one objective each (500 pushes/s at the default limit of 10 "
        "a token needs 50 or more)",
    )
    parser.add_argument("--concurrency", type=int, default=256, help="pushes in flight at most")
    parser.add_argument("--heap", default="1g", help="the embedded graph's JVM heap")
    parser.add_argument(
        "--workers", type=int, default=1, help="hub serve's worker processes (--workers)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="hub-push-bench-") as tmp:
        data_dir = Path(tmp)
        server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=args.heap))
        progress("starting the embedded graph")
        connection = server.attach_or_start()
        hub: subprocess.Popen[bytes] | None = None
        try:
            pairs = asyncio.run(prepare(connection, args.tokens))
            port = free_port()
            progress(f"starting hub serve on port {port}")
            log = data_dir / "hub-serve.log"
            hub = start_hub(data_dir, port, log, args.workers)
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, hub, log)
            # A short warm-up at a tenth of the rate: connections, caches, JIT of the JVM.
            progress("warming up")
            asyncio.run(load(base, pairs, max(args.rate / 10, 1), 3, args.points, 32))
            progress(f"offering {args.rate:g} pushes/s for {args.seconds:g} s")
            graph_pid = ServerState.from_json(server.state_file.read_text()).pid
            pids = {"hub serve": hub.pid, "graph (JVM)": graph_pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            client_before = time.process_time()
            results, wall = asyncio.run(
                load(base, pairs, args.rate, args.seconds, args.points, args.concurrency)
            )
            cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            cpu["client"] = time.process_time() - client_before
            print(report(args, results, wall, cpu))
            warnings = log.read_text().splitlines()
            if warnings:
                progress(f"hub serve logged {len(warnings)} lines; the last: {warnings[-3:]}")
        finally:
            if hub is not None:
                hub.send_signal(signal.SIGTERM)
                try:
                    hub.wait(30)
                except subprocess.TimeoutExpired:
                    hub.kill()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
