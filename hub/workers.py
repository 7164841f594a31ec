"""`hub serve --workers N`: several uvicorn worker processes on one port.

The parent validates the settings and reaches the graph (starting the embedded server
when no Neo4j URI is set), then prepares it once, alone: it applies pending migrations,
adopts the settings' maintenance windows and checks the settings bindings
(`hub.app.prepare_graph`), and closes its driver. Only then does it open the sockets and
let a supervisor built on uvicorn's (`SlotSupervisor`) spawn the workers, which skip
that start-up work (`create_app(prepare=False)`), so N workers never migrate one graph
at once. The supervisor restarts a worker that dies, and on SIGINT/SIGTERM stops them
all and waits for them before `serve` returns and the graph server is stopped. Each
worker gets the parent's `Settings` and `GraphConnection` through the spawn pipe
(pickled with the app factory), so nothing in a worker reads the environment again.

Each worker slot listens on a socket of its own, all bound to the one address with
``SO_REUSEPORT`` (Linux), so the kernel spreads new connections over the workers. With
one shared socket (uvicorn's way) the worker that wakes first accepts whatever is
queued: keep-alive clients that connect at once all landed on one worker, which then
served everything while the other idled (measured with `benchmarks/load.py`: two
workers gave the throughput of one). The price: the kernel keeps giving a slot its
share of new connections while its worker starts, hangs (until the 30 s health check
replaces it) or is being replaced, and those connections wait for it, where a shared
socket let the other workers take them. The worker count is fixed: uvicorn's
SIGTTIN/SIGTTOU (add or remove a worker) are refused, since a slot without a worker
would hold its share of connections forever. Before the group binds, a probe without
``SO_REUSEPORT`` checks that nothing else holds the port, so a second `hub serve` on
it fails instead of joining the group.

A worker gets SIGTERM when the parent dies (``PR_SET_PDEATHSIG``, Linux), so a parent
killed with SIGKILL leaves no worker holding the port; the embedded graph server is
stopped the same way.

Every worker is a whole `create_app`: its own driver, metrics registry and scheduler.
What that means for the jobs (graph leases) and for subscriptions (per-process events)
is in docs/scaling.md, "Workers and replicas".
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

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

log = logging.getLogger(__name__)


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
    slots = reuse_port_sockets(host, port, workers, config.backlog)
    try:
        SlotSupervisor(config, slots).run()
    finally:
        for sock in slots:
            sock.close()


class PortInUseError(OSError):
    """The address cannot be listened on (in use, or not this host's)."""


def reuse_port_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """`count` sockets listening on (host, port) with SO_REUSEPORT, inheritable by
    workers; port 0 binds the first to a free port and the others to the same one.

    They listen from here on, before any worker runs: the kernel spreads connections
    over the listening sockets of the group only, so a socket whose worker has not
    started yet would otherwise be skipped and its share go to the others."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Sockets with SO_REUSEPORT may share a port with a group already there: only a
    # socket without it fails when anything holds the port.
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        port = probe.getsockname()[1]
    bound: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in bound:
            sock.close()
        raise PortInUseError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    log.info("listening on %s:%d with %d worker sockets (SO_REUSEPORT)", host, port, count)
    return bound


class SlotSupervisor(Multiprocess):
    """uvicorn's supervisor with one socket per worker slot: worker i, and every
    replacement of it, serves `slots[i]` only. The rest (signals, health checks, the
    start-up failure rule) is uvicorn's; the three methods that start workers are
    uvicorn 0.55's with the slot's socket passed in place of the shared list."""

    def __init__(self, config: uvicorn.Config, slots: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.slots = slots
        self.processes_num = len(slots)

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.slots[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(slot) for slot in range(len(self.slots))]

    def restart_all(self) -> None:
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error("worker %s was not ready in time; keeping %s", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def handle_ttin(self) -> None:
        log.warning("SIGTTIN ignored: the worker count is fixed (one socket per worker)")

    def handle_ttou(self) -> None:
        log.warning("SIGTTOU ignored: the worker count is fixed (one socket per worker)")

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung: kill it
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving: every replacement would fail the same way.
                log.error("worker %s failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            # uvicorn's wording, which operators' log searches know.
            log.info("Child process [%s] died; starting another on its socket", process.pid)
            self.processes[slot] = self._start(slot)
