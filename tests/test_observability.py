"""The hub observing itself (docs/observability.md): ``GET /metrics`` moves with the
work done, says who may read it, and a real Prometheus (Debian's) scrapes it; JSON log
lines carry the request id from the ``X-Request-Id`` header into the graph's and the
sync's lines.

The app runs in-process against the session's embedded graph (httpx's ASGI transport,
whose client address is 127.0.0.1), or under uvicorn on loopback for Prometheus.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fakes.server import serve_app
from graphql import parse
from prometheus_client.parser import text_string_to_metric_families
from prometheus_server import tool

from hub.app import create_app
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import TokenRepository
from hub.observability import HubMetrics
from hub.observability.graphql import Labeller
from hub.observability.logs import JsonFormatter, RequestIdFilter, configure_logging, request_id
from hub.schema import build_schema
from hub.settings import ApiSettings, ServiceNowSettings, Settings

METRICS_TOKEN = "metrics-secret-0123456789"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
async def viewer(graph: Graph) -> str:
    return (await TokenRepository(graph).issue(TokenSpec.of("obs-viewer", Role.VIEWER))).token


@pytest.fixture(scope="module")
async def admin(graph: Graph) -> str:
    return (await TokenRepository(graph).issue(TokenSpec.of("obs-admin", Role.ADMIN))).token


@pytest.fixture
async def hub(
    graph_connection: GraphConnection, fake_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The hub, with ServiceNow pointed at the fake under a wrong password: a sync
    asked for fails at once, recorded, without touching any record."""
    settings = Settings(
        data_dir=tmp_path,
        servicenow=ServiceNowSettings(url=fake_url, username="hub", password="wrong-password"),
    )
    app = create_app(settings, graph_connection, schedule_syncs=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield c


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_a_graphql_request_moves_its_operation_histogram_and_statements_are_named(
    hub: httpx.AsyncClient, viewer: str
) -> None:
    before = await scrape(hub)
    auth = {"Authorization": f"Bearer {viewer}"}
    for _ in range(2):
        answer = await hub.post(
            "/graphql", json={"query": "query Probe { __typename }"}, headers=auth
        )
        assert answer.json() == {"data": {"__typename": "Query"}}
    listed = await hub.post(
        "/graphql", json={"query": "{ syncRuns(first: 1) { edges { node { id } } } }"}, headers=auth
    )
    assert "errors" not in listed.json()
    refused = await hub.post("/graphql", json={"query": "{ __typename }"})
    assert refused.status_code == 401
    after = await scrape(hub)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = "hub_graphql_request_seconds_count"
    assert moved(count, operation="Probe", field_class="introspection") == 2
    assert moved(count, operation="anonymous", field_class="sync") == 1
    assert moved(count, operation="none", field_class="none") == 1  # refused before parsing
    assert (
        moved("hub_graphql_request_seconds_sum", operation="Probe", field_class="introspection") > 0
    )
    # Each request looked its token up: a named statement, timed.
    looked_up = "hub_graph_statement_seconds_count"
    assert moved(looked_up, statement="identity.TOKEN_BY_HASH") >= 3
    statements = {dict(labels).get("statement") for (name, labels) in after}
    assert "unregistered" not in statements


async def test_a_sync_run_is_counted_and_json_logs_carry_the_request_id_into_graph_lines(
    hub: httpx.AsyncClient, admin: str
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    hub_logger, graph_logger = logging.getLogger("hub"), logging.getLogger("hub.graph.client")
    hub_logger.addHandler(handler)
    level = graph_logger.level
    graph_logger.setLevel(logging.DEBUG)
    before = await scrape(hub)
    try:
        answer = await hub.post(
            "/graphql",
            json={"query": 'mutation { runSync(source: "servicenow-cmdb") { status error } }'},
            headers={"Authorization": f"Bearer {admin}", "X-Request-Id": "req-obs-42"},
        )
    finally:
        hub_logger.removeHandler(handler)
        graph_logger.setLevel(level)
    assert answer.headers["x-request-id"] == "req-obs-42"
    assert answer.json()["data"]["runSync"]["status"] == "FAILED"
    after = await scrape(hub)
    runs = "hub_sync_runs_total"
    labels = {"connector": "servicenow-cmdb", "outcome": "failed"}
    assert value(after, runs, **labels) - value(before, runs, **labels) == 1
    assert value(after, "hub_sync_run_seconds_count", **labels) >= 1
    assert (
        "hub_sync_rows_total",
        (("connector", "servicenow-cmdb"), ("kind", "fetched")),
    ) in after

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    graph_lines = [line for line in lines if line["logger"] == "hub.graph.client"]
    assert graph_lines, lines
    assert all(line["request_id"] == "req-obs-42" for line in graph_lines)
    assert graph_lines[0]["message"].startswith("graph statement ")
    assert " rows in " in graph_lines[0]["message"]
    sync_lines = [line for line in lines if line["logger"] == "hub.sync.runs"]
    assert [line["request_id"] for line in sync_lines] == ["req-obs-42"]
    assert sync_lines[0]["level"] == "ERROR"
    assert set(graph_lines[0]) == {"time", "level", "logger", "message", "request_id"}


async def test_a_request_without_a_valid_id_gets_a_new_one(hub: httpx.AsyncClient) -> None:
    plain = await hub.get("/healthz")
    forged = await hub.get("/healthz", headers={"X-Request-Id": 'a" b\n'})
    assert len(plain.headers["x-request-id"]) == 32
    assert forged.headers["x-request-id"] not in ('a" b\n', plain.headers["x-request-id"])


async def test_metrics_answer_loopback_only_unless_a_token_is_set(
    graph_connection: GraphConnection, tmp_path: Path
) -> None:
    async def get(settings: Settings, *headers: dict[str, str]) -> list[httpx.Response]:
        app = create_app(settings, graph_connection, schedule_syncs=False)
        # An address that is not loopback, as a scraper elsewhere has.
        remote = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=remote, base_url="http://hub") as client,
        ):
            return [await client.get("/metrics", headers=h) for h in headers]

    [refused] = await get(Settings(data_dir=tmp_path), {})
    assert refused.status_code == 403
    assert "HUB_API__METRICS_TOKEN" in refused.text

    locked = Settings(data_dir=tmp_path, api=ApiSettings(metrics_token=METRICS_TOKEN))
    missing, wrong, right = await get(
        locked, {}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "# TYPE hub_graphql_request_seconds histogram" in right.text


def test_labels_stay_bounded() -> None:
    labeller = Labeller(build_schema(), max_operations=2)

    def label(query: str, name: str | None = None) -> tuple[str, str]:
        found = labeller.label(parse(query), name)
        return found.operation, found.field_class

    assert label('{ impact(id: "x") { root { name } } }') == ("anonymous", "traversals")
    assert label('query A { __typename node(id: "x") { id } }') == ("A", "nodes")
    assert label('query B { node(id: "x") { id } impact(id: "x") { root { name } } }') == (
        "B",
        "mixed",
    )
    assert label("query C { __schema { queryType { name } } }") == ("other", "introspection")
    assert label("query A { ...F } fragment F on Query { syncRuns { totalCount } }") == (
        "A",
        "sync",
    )
    assert label("query A { __typename } query D { __typename }", "A") == ("A", "introspection")
    assert label("query A { __typename } query D { __typename }", "E") == ("none", "none")
    assert label('mutation M { runSync(source: "x") { id } }') == ("other", "sync")


async def test_the_scheduler_lag_of_each_job_is_observed() -> None:
    metrics = HubMetrics()
    scheduler = AsyncIOScheduler(timezone="UTC")
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    metrics.watch_scheduler(scheduler)
    scheduler.add_job(job, "date", run_date=datetime.now(UTC), id="probe")
    scheduler.start()
    try:
        await asyncio.wait_for(ran.wait(), 10)
    finally:
        scheduler.shutdown(wait=False)
    found = samples(metrics.exposition()[0].decode())
    assert value(found, "hub_scheduler_lag_seconds_count", job="probe") == 1
    assert 0 <= value(found, "hub_scheduler_lag_seconds_sum", job="probe") < 5


# ---- a real Prometheus scrapes the hub ---------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scraping_prometheus(target: str, workdir: Path) -> Iterator[str]:
    """Debian's prometheus scraping `target` (host:port) every second; its base URL."""
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: hub\n"
        f"    static_configs:\n      - targets: [{json.dumps(target)}]\n",
        encoding="utf-8",
    )
    port = _free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_a_real_prometheus_scrapes_the_hub(
    graph_connection: GraphConnection, viewer: str, tmp_path: Path
) -> None:
    app = create_app(Settings(data_dir=tmp_path), graph_connection, schedule_syncs=False)
    with serve_app(app, lifespan=True) as hub_url:
        answer = httpx.post(
            f"{hub_url}/graphql",
            json={"query": "query Scraped { __typename }"},
            headers={"Authorization": f"Bearer {viewer}"},
        )
        assert answer.status_code == 200
        with scraping_prometheus(hub_url.removeprefix("http://"), tmp_path) as prometheus:
            query = 'hub_graphql_request_seconds_count{job="hub",operation="Scraped"}'
            deadline = time.monotonic() + 60
            result: list[dict[str, object]] = []
            while time.monotonic() < deadline and not result:
                try:
                    reply = httpx.get(f"{prometheus}/api/v1/query", params={"query": query})
                    result = reply.json()["data"]["result"] if reply.status_code == 200 else []
                except httpx.TransportError:
                    pass
                if not result:
                    time.sleep(0.25)
            assert result, (tmp_path / "prometheus.log").read_text()
            up = httpx.get(f"{prometheus}/api/v1/query", params={"query": 'up{job="hub"}'})
    [series] = result
    assert series["metric"] == {
        "__name__": "hub_graphql_request_seconds_count",
        "field_class": "introspection",
        "instance": hub_url.removeprefix("http://"),
        "job": "hub",
        "operation": "Scraped",
    }
    assert series["value"][1] == "1"  # type: ignore[index]
    assert up.json()["data"]["result"][0]["value"][1] == "1"


def test_configure_logging_writes_json_lines_and_replaces_only_its_own_handler() -> None:
    root = logging.getLogger()
    level, others = root.level, list(root.handlers)
    first, second = io.StringIO(), io.StringIO()
    try:
        configure_logging("INFO", "json", stream=first)
        handler = configure_logging("INFO", "json", stream=second)
        token = request_id.set("req-cli-7")
        try:
            logging.getLogger("hub.test").warning("disk %s full", "/var")
        finally:
            request_id.reset(token)
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("hub.test").exception("failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert root.handlers == others
    assert first.getvalue() == ""
    warning, failure = (json.loads(line) for line in second.getvalue().splitlines())
    assert {k: v for k, v in warning.items() if k != "time"} == {
        "level": "WARNING",
        "logger": "hub.test",
        "message": "disk /var full",
        "request_id": "req-cli-7",
    }
    assert datetime.fromisoformat(warning["time"]).tzinfo is not None
    assert "request_id" not in failure
    assert failure["exception"].endswith("ValueError: boom")
