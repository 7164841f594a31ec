"""The ASGI application: GraphQL on /graphql, pushed measurements on
/api/v1/measurements (`hub.push`), the portal on /portal (`hub.portal`), health on
/healthz and /readyz, the hub's own metrics on /metrics (`hub.observability`).

Long-lived resources (the graph driver) are created here and live as long as the
app; each GraphQL request gets a fresh `Context` (see `hub.graphql_http`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from hub.engine.exceptions import adopt_maintenance_windows
from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import GraphError, GraphUnavailableError
from hub.graph.migrations import is_current, migrate
from hub.graph.session import connect_graph
from hub.graphql_http import HubGraphQL, graph_unavailable
from hub.observability import HubMetrics, RequestIds, TimedGraphQL, instrument, metrics_endpoint
from hub.portal import portal_routes
from hub.push import PATH as PUSH_PATH
from hub.push import MeasurementPush
from hub.reports.http import PATH as REPORTS_PATH
from hub.reports.http import ReportDownloads
from hub.settings import Settings
from hub.sync.scheduler import build_scheduler
from hub.sync.telemetry import check_settings_bindings

log = logging.getLogger(__name__)


async def prepare_graph(graph: Graph, settings: Settings) -> bool:
    """Apply pending migrations, then adopt the settings' maintenance windows as
    exceptions (docs/settings.md) and refuse the settings bindings that would change
    an approved objective's (docs/governance.md); False while the graph cannot be
    reached. `hub serve --workers N` runs it once in the parent (`hub.workers`)."""
    try:
        applied = await migrate(graph)
        await adopt_maintenance_windows(graph, settings.slo)
        await check_settings_bindings(graph, settings.slo)
    except GraphUnavailableError as exc:
        log.warning("the graph is unreachable, migrations wait for it: %s", exc)
        return False
    if applied:
        log.info("graph migrations applied: %s", applied)
    return True


def create_app(
    settings: Settings,
    connection: GraphConnection,
    *,
    schedule_syncs: bool = True,
    prepare: bool = True,
) -> Starlette:
    """The hub's ASGI app, talking to the graph at `connection`.

    With `schedule_syncs`, every enabled connector syncs on its interval. With
    `prepare`, start-up runs `prepare_graph`; a worker of `hub serve --workers N` is
    created without it, its parent having prepared the graph before spawning it.
    """
    graph = connect_graph(settings, connection)
    # GET /metrics (docs/observability.md): this app's own registry.
    metrics = HubMetrics()
    metrics.attach(graph)

    async def migrate_if_reachable() -> bool:
        return await prepare_graph(graph, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # An unreachable graph does not stop the process: /readyz says 503 until the
        # graph answers, and migrates it then, as an orchestrator expects.
        if prepare:
            await migrate_if_reachable()
        scheduler = build_scheduler(settings, graph) if schedule_syncs else None
        if scheduler is not None:
            metrics.watch_scheduler(scheduler)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await graph.close()

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            if not await is_current(graph) and not await migrate_if_reachable():
                return PlainTextResponse("the graph is unreachable", status_code=503)
            if not await is_current(graph):
                return PlainTextResponse("graph migrations are not applied", status_code=503)
        except GraphError as exc:
            log.warning("not ready: %s", exc)
            return PlainTextResponse("the graph is unreachable", status_code=503)
        return PlainTextResponse("ready")

    graphql = HubGraphQL(settings, graph)
    instrument(graphql.schema)
    push = MeasurementPush(settings.api, graph)
    downloads = ReportDownloads(graph)
    return Starlette(
        routes=[
            Route("/graphql", TimedGraphQL(graphql, metrics), methods=["GET", "POST"]),
            # Subscriptions (graphql-transport-ws), authenticated in connection_init.
            WebSocketRoute("/graphql", graphql),
            Route(PUSH_PATH, push.handle, methods=["POST"]),
            Route(REPORTS_PATH, downloads.handle, methods=["GET"]),
            *portal_routes(),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(metrics, settings.api), methods=["GET"]),
        ],
        # Every request runs with an id, returned in X-Request-Id and in its log lines.
        middleware=[Middleware(RequestIds)],
        lifespan=lifespan,
        # The graph down while a request is authenticated: 503, not a bare 500.
        exception_handlers={GraphUnavailableError: graph_unavailable},
    )
