"""The portal's landing page for a business unit of N SLAs, rendered in Chromium.

Run as ``.venv/bin/python -m benchmarks.portal [--slas 200] [--rounds 5] [--heap H]``.

The estate, on an embedded server of its own: one business unit (`perf`, one internal
customer) with N services and one SLA per service, each with one AVAILABILITY objective
(CALENDAR_MONTH, a Prometheus ratio metric) measured over the last day, authored,
submitted and approved the hub's way (`AgreementRepository`). The hub serves it with
uvicorn on loopback; Debian's chromium (Playwright, 1280x800) signs in with a viewer
token and opens `#/unit/perf` R times, each a fresh load of the page.

Measured per load:
1. the GraphQL requests the page sends (Playwright counts the POSTs to /graphql): the
   landing page makes one batched query whatever N is;
2. `load`: the Performance API's `portal:unit:rendered` mark, from the start of the
   navigation (HTML, modules, the query, the table) to the table in the DOM;
3. `query + render`: the `portal:unit` measure, from the query sent to the table drawn.

Target (issue 11): under 2 s for N = 200, with a constant number of requests.
`tests/portal/test_portal_performance.py` checks both on every test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from playwright.async_api import Browser, async_playwright

from hub.app import create_app
from hub.domain.buckets import BucketSeries
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
    RatioMetric,
    WindowKind,
)
from hub.domain.windows import BUCKET_SECONDS, snap
from hub.domain.workflow import Actor, Role
from hub.engine.sources import telemetry_sources
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import EmbeddedGraphServer
from hub.graph.migrations import migrate
from hub.graph.repositories import (
    AgreementRepository,
    BundleImporter,
    ComponentRepository,
    TokenRepository,
)
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import EmbeddedGraphSettings, Settings

CHROMIUM = "/usr/bin/chromium"
UNIT = "perf"
SOURCE = "portal-bench"
AUTHOR = Actor(user="bench-author", role=Role.EDITOR)
APPROVER = Actor(user="bench-approver", role=Role.APPROVER)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _objective() -> ObjectiveSpec:
    query = MetricQuery(source_type="Prometheus", query="sum(rate(http_requests_total[5m]))")
    return ObjectiveSpec(
        indicator=Indicator.AVAILABILITY,
        target=99.9,
        window_kind=WindowKind.CALENDAR_MONTH,
        name="availability",
        metric=RatioMetric(counter=False, good=query, total=query),
    )


async def load_unit(graph: Graph, slas: int) -> None:
    """One unit `perf` with `slas` services, each with an SLA measured over the last day."""
    await BundleImporter(graph).load(
        {
            "source": SOURCE,
            "customers": [
                {
                    "externalId": "c-perf",
                    "name": "Perf Customer",
                    "businessUnit": UNIT,
                    "region": "eu",
                    "external": False,
                }
            ],
            "services": [
                {
                    "externalId": f"svc-{n}",
                    "name": f"Service {n:04d}",
                    "tier": "TIER_2",
                    "businessUnit": UNIT,
                    "region": "eu",
                }
                for n in range(slas)
            ],
        }
    )
    components = ComponentRepository(graph)
    customer = await components.lookup(SOURCE, "c-perf")
    assert customer is not None
    now = datetime.now(UTC)
    agreements = AgreementRepository(graph, clock=lambda: now - timedelta(days=40))
    start = snap(now - timedelta(days=1))
    size = int((snap(now) - start).total_seconds()) // BUCKET_SECONDS
    pending: list[tuple[str, str, BucketSeries]] = []
    for n in range(slas):
        service = await components.lookup(SOURCE, f"svc-{n}")
        assert service is not None
        spec = AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"SLA {n:04d}",
            covers=(service,),
            objectives=(_objective(),),
            customer_id=customer,
            effective_from=now - timedelta(days=40),
        )
        agreement_id = await agreements.create(spec, AUTHOR)
        await agreements.submit(agreement_id, AUTHOR)
        await agreements.approve(agreement_id, APPROVER)
        [stored] = (await agreements.objectives_by_agreement_ids([agreement_id]))[agreement_id]
        key = telemetry_sources(stored, ()).primary
        assert key is not None, "the objective has a metric"
        total = np.full(size, 1000.0)
        good = total - (n % 7)  # a few objectives burn their budget
        pending.append((stored.id, key, BucketSeries(start=start, good=good, total=total)))
    await TelemetryRepository(graph).store_many(pending)


@dataclass(frozen=True)
class Load:
    requests: int  # POSTs to /graphql
    load_ms: float  # navigation start -> table rendered
    render_ms: float  # query sent -> table rendered
    rows: int


async def measure(browser: Browser, url: str, token: str, rounds: int) -> list[Load]:
    """Open the unit's landing page `rounds` times (each a fresh page load) at 1280x800."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{url}/portal")
    await page.evaluate("t => sessionStorage.setItem('hub.portal.token', t)", token)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    loads = []
    for _ in range(rounds):
        requests.clear()
        await page.goto("about:blank")
        await page.goto(f"{url}/portal#/unit/{UNIT}")
        await page.wait_for_selector("body[data-ready='true']", state="attached")
        timing: dict[str, Any] = await page.evaluate(
            """() => ({
              load: performance.getEntriesByName('portal:unit:rendered')[0].startTime,
              render: performance.getEntriesByName('portal:unit')[0].duration,
              rows: document.querySelectorAll('tr[data-objective]').length })"""
        )
        loads.append(
            Load(
                sum(1 for r in requests if r.endswith("/graphql")),
                timing["load"],
                timing["render"],
                timing["rows"],
            )
        )
    await context.close()
    return loads


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` with uvicorn on a free loopback port, in this loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="on", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "the hub did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def run(args: argparse.Namespace, connection: GraphConnection, data_dir: Path) -> str:
    graph = Graph.connect(connection)
    try:
        await migrate(graph)
        begun = time.perf_counter()
        await load_unit(graph, args.slas)
        set_up = time.perf_counter() - begun
        progress(f"{args.slas} SLAs set up in {set_up:.0f} s")
        token = await TokenRepository(graph).create("bench-viewer", Role.VIEWER)
    finally:
        await graph.close()
    app = create_app(Settings(data_dir=data_dir), connection, schedule_syncs=False)
    async with served(app) as url, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            await measure(browser, url, token, 1)  # warm-up: JIT, caches, connections
            loads = await measure(browser, url, token, args.rounds)
        finally:
            await browser.close()
    load = [x.load_ms for x in loads]
    render = [x.render_ms for x in loads]
    return "\n".join(
        [
            f"## Portal landing page, {args.slas} SLAs ({platform.machine()}, "
            f"{platform.python_version()}, {args.rounds} loads after a warm-up)",
            "",
            f"- GraphQL requests per load: {sorted({x.requests for x in loads})}; "
            f"objective rows: {sorted({x.rows for x in loads})}",
            "- load (navigation start to table rendered): "
            f"median {statistics.median(load):.0f} ms, max {max(load):.0f} ms (target < 2000 ms)",
            "- query + render: "
            f"median {statistics.median(render):.0f} ms, max {max(render):.0f} ms",
            f"- set-up (not a target): {set_up:.0f} s",
        ]
    )


@contextlib.contextmanager
def embedded(data_dir: Path, heap: str) -> Iterator[GraphConnection]:
    server = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings(heap=heap))
    try:
        progress(f"starting the embedded server (heap {heap})")
        yield server.attach_or_start()
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slas", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--heap", default=EmbeddedGraphSettings().heap)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="hub-portal-bench-") as tmp,
        embedded(Path(tmp) / "graph", args.heap) as connection,
    ):
        print(asyncio.run(run(args, connection, Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
