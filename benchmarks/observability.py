"""What the hub's own observability costs a request: an authenticated
``{ __typename }`` over HTTP, against `hub.app.create_app` (request ids, the GraphQL
histogram and its labelling extension, statement timing) and against the same GraphQL
view mounted bare (none of them), same process, same graph, interleaved rounds.

Run as ``.venv/bin/python -m benchmarks.observability [--requests N] [--rounds R]``.
Both apps are served by uvicorn in threads of this process on loopback (h11, asyncio
loop, access log off); one keep-alive client asks each in turn. The markdown report
goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.app import create_app
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher.identity import TOKEN_BY_HASH
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import TokenRepository
from hub.graphql_http import HubGraphQL
from hub.observability import HubMetrics, RequestIds, TimedGraphQL, instrument
from hub.schema import build_schema
from hub.settings import EmbeddedGraphSettings, Settings

QUERY = {"query": "{ __typename }"}


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http="h11",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def bare_app(settings: Settings, connection: GraphConnection) -> Starlette:
    """The GraphQL view alone: no middleware, no metrics, no labelling extension."""
    graph = Graph.connect(connection)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await graph.close()

    view = HubGraphQL(settings, graph)
    return Starlette(routes=[Route("/graphql", view, methods=["POST"])], lifespan=lifespan)


def timed(client: httpx.Client, url: str, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(url, json=QUERY)
        seconds.append(time.perf_counter() - started)
        assert response.json() == {"data": {"__typename": "Query"}}, response.text
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="per app and round")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-obs-") as data_dir:
        server = EmbeddedGraphServer(Path(data_dir), EmbeddedGraphSettings(heap="512m"))
        connection = server.attach_or_start()
        try:
            run(connection, Path(data_dir), args.requests, args.rounds)
        finally:
            server.stop()


def run(connection: GraphConnection, data_dir: Path, requests: int, rounds: int) -> None:
    async def prepare() -> str:
        graph = Graph.connect(connection)
        try:
            await migrate(graph)
            spec = TokenSpec.of("bench", Role.VIEWER)
            return (await TokenRepository(graph).issue(spec)).token
        finally:
            await graph.close()

    token = asyncio.run(prepare())
    settings = Settings(data_dir=data_dir)
    results: dict[str, list[float]] = {"instrumented": [], "bare": []}
    # CPU of this process (client and server threads) per request: steadier than wall
    # time on a machine that other work shares.
    cpu_seconds = {"instrumented": 0.0, "bare": 0.0}
    apps = {
        "instrumented": create_app(settings, connection, schedule_syncs=False),
        "bare": bare_app(settings, connection),
    }
    headers = {"Authorization": f"Bearer {token}"}
    with (
        served(apps["instrumented"]) as instrumented,
        served(apps["bare"]) as bare,
        httpx.Client(headers=headers) as client,
    ):
        urls = {"instrumented": instrumented, "bare": bare}
        for url in urls.values():  # warm-up: caches, connections, JIT of the graph
            timed(client, f"{url}/graphql", 200)
        for round_ in range(rounds):
            order = list(urls) if round_ % 2 == 0 else list(reversed(urls))
            for name in order:
                cpu = time.process_time()
                results[name] += timed(client, f"{urls[name]}/graphql", requests)
                cpu_seconds[name] += time.process_time() - cpu
        scraped = client.get(f"{instrumented}/metrics").text
    print(f"# Observability overhead ({platform.machine()}, {platform.python_version()})\n")
    print(f"`{' '.join(sys.argv)}`: {rounds} rounds x {requests} requests per app, interleaved\n")
    print("| app | p50 ms | mean ms | p95 ms | CPU ms per request |\n|---|---|---|---|---|")
    for name, seconds in results.items():
        ms = sorted(s * 1000 for s in seconds)
        p95 = ms[int(len(ms) * 0.95)]
        cpu_ms = cpu_seconds[name] * 1000 / len(seconds)
        print(
            f"| {name} | {statistics.median(ms):.3f} | {statistics.fmean(ms):.3f} "
            f"| {p95:.3f} | {cpu_ms:.3f} |"
        )
    delta = statistics.median(results["instrumented"]) - statistics.median(results["bare"])
    cpu_delta = (cpu_seconds["instrumented"] - cpu_seconds["bare"]) / len(results["bare"])
    print(f"\np50 difference: {delta * 1e6:+.0f} µs per request; CPU {cpu_delta * 1e6:+.0f} µs")
    count = [
        line
        for line in scraped.splitlines()
        if line.startswith("hub_graphql_request_seconds_count")
    ]
    print("\nServer side (`/metrics`):\n\n```\n" + "\n".join(count) + "\n```")
    print("\nEach part alone, CPU µs per call (best of 3):\n\n| part | µs |\n|---|---|")
    for part, micros in asyncio.run(components()).items():
        print(f"| {part} | {micros:.1f} |")


async def components(repeat: int = 3) -> dict[str, float]:
    """CPU microseconds of each part alone, in this process (best of `repeat`): the
    labelling extension (one `schema.execute` of ``{ __typename }`` with it, minus one
    without), the request-id middleware and the histogram wrapper around a bare ASGI app,
    one statement observed."""
    bare, labelled = build_schema(), build_schema()
    instrument(labelled)
    metrics = HubMetrics()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "headers": [(b"host", b"hub"), (b"authorization", b"Bearer x")]}

    async def per_call(work: Callable[[], Awaitable[object]], count: int) -> float:
        best = float("inf")
        for _ in range(repeat):
            started = time.process_time()
            for _ in range(count):
                await work()
            best = min(best, (time.process_time() - started) / count * 1e6)
        return best

    for schema in (bare, labelled):
        for _ in range(300):
            await schema.execute("{ __typename }")
    timed_app, ids_app = TimedGraphQL(app, metrics), RequestIds(app)
    plain = await per_call(lambda: app(dict(scope), receive, send), 20000)

    async def observe() -> None:
        metrics.observe_statement(TOKEN_BY_HASH, 0.001)

    return {
        "labelling extension": await per_call(lambda: labelled.execute("{ __typename }"), 3000)
        - await per_call(lambda: bare.execute("{ __typename }"), 3000),
        "request-id middleware": await per_call(lambda: ids_app(dict(scope), receive, send), 20000)
        - plain,
        "histogram wrapper": await per_call(lambda: timed_app(dict(scope), receive, send), 20000)
        - plain,
        "one statement observed": await per_call(observe, 100000),
    }


if __name__ == "__main__":
    main()
