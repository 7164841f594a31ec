"""`hub serve --workers N`: several uvicorn worker processes on one listening socket.

The parent validates the settings and reaches the graph (starting the embedded server
when no Neo4j URI is set), then prepares it once, alone: it applies pending migrations,
adopts the settings' maintenance windows and checks the settings bindings
(`hub.app.prepare_graph`), and closes its driver. Only then does it bind the socket and
let uvicorn's own supervisor (`uvicorn.supervisors.Multiprocess`) spawn the workers,
which skip that start-up work (`create_app(prepare=False)`), so N workers never migrate
one graph at once. The supervisor restarts a worker that dies, and on SIGINT/SIGTERM
stops them all and waits for them before `serve` returns and the graph server is
stopped. Each worker gets the parent's `Settings` and `GraphConnection` through the
spawn pipe (pickled with the app factory), so nothing in a worker reads the
environment again.

A worker gets SIGTERM when the parent dies (``PR_SET_PDEATHSIG``, Linux), so a parent
killed with SIGKILL leaves no worker holding the port; the embedded graph server is
stopped the same way.

Every worker is a whole `create_app`: its own driver, metrics registry and scheduler.
What that means for the jobs (graph leases) and for subscriptions (per-process events)
is in docs/scaling.md, "Workers and replicas".
"""

from __future__ import annotations

import functools
import os
import sys

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from hub.graph.client import GraphConnection
from hub.graph.embedded import die_with_parent
from hub.graph.session import connect_graph
from hub.observability.logs import configure_logging
from hub.settings import Settings

# How long the supervisor waits for a worker to answer its health-check ping before it
# kills it as hung and spawns another. Uvicorn's 5 s is shorter than a spawned worker
# takes to import the hub on a busy machine (seen with load 12 on 2 cores: each worker
# killed before it started, again and again); a hung worker is replaced this much later.
WORKER_HEALTHCHECK_SECONDS = 30


def worker_app(settings: Settings, connection: GraphConnection, parent: int) -> Starlette:
    """The app of one worker process (called there by uvicorn, `factory=True`), whose
    graph `parent` has prepared (`prepare_parent_graph`)."""
    from hub.app import create_app

    die_with_parent(parent)
    # A spawned worker starts with Python's default logging: set it up as `hub` does.
    configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
    return create_app(settings, connection, prepare=False)


async def prepare_parent_graph(settings: Settings, connection: GraphConnection) -> None:
    """Migrate and prepare the graph once, before any worker starts. An unreachable
    graph is logged; each worker's /readyz then migrates it when it answers."""
    from hub.app import prepare_graph

    graph = connect_graph(settings, connection)
    try:
        await prepare_graph(graph, settings)
    finally:
        await graph.close()


def serve_workers(
    settings: Settings, connection: GraphConnection, *, host: str, port: int, workers: int
) -> None:
    """Serve with `workers` processes until SIGINT/SIGTERM; returns once all have exited.

    The graph at `connection` must be prepared (`prepare_parent_graph`): the workers
    do not prepare it."""
    config = uvicorn.Config(
        app=functools.partial(worker_app, settings, connection, os.getpid()),
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
        lifespan="on",
        timeout_graceful_shutdown=settings.api.graceful_shutdown_seconds,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
