"""`hub serve --workers 2`: two worker processes answer on one port, and SIGTERM stops
them all; on a fresh graph only the parent migrates it; a parent killed with SIGKILL
takes its workers and the embedded graph server with it.

Which worker holds a connection is read from Linux's /proc: the server side of each
established connection to the port is a socket inode, and a worker's open descriptors
name the inodes it holds. The server attaches to the session's embedded graph.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serve_support import wait_ready

from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import schema as q
from hub.graph.embedded import EmbeddedGraphServer, free_port, pid_alive
from hub.graph.migrations import MIGRATIONS
from hub.settings import EmbeddedGraphSettings

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def established_inodes(port: int) -> set[int]:
    """Socket inodes of the established connections whose local port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rpartition(":")[2], 16)
            if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # it has exited
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


CONNECTIONS = 20


def test_two_workers_share_the_connections_on_one_port_and_sigterm_stops_them(
    graph_data_dir: Path, graph_connection: GraphConnection, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            cwd=REPO,
            env={**os.environ, "HUB_DATA_DIR": str(graph_data_dir)},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    held: list[socket.socket] = []
    try:
        wait_ready(process, port, log)
        started = children(process.pid)
        # The workers: the supervisor's spawned children (not multiprocessing's
        # resource tracker, nor a short-lived helper).
        workers = {pid for pid in started if b"spawn_main" in command_line(pid)}
        # Keep-alive connections held open, each answered. Each worker listens on a
        # socket of its own (SO_REUSEPORT), so the kernel spreads them over both; a
        # connection it gives a worker still starting waits for it.
        for _ in range(CONNECTIONS):
            connection = socket.create_connection(("127.0.0.1", port), timeout=60)
            held.append(connection)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200"), log.read_text()
        open_here = established_inodes(port)
        shares = sorted(len(socket_inodes(pid) & open_here) for pid in workers)
        assert len(workers) == 2, f"workers {workers}:\n{log.read_text()}"
        # Binomial(20, 1/2): either worker with 2 or fewer, about 4 runs in 10,000.
        assert sum(shares) == CONNECTIONS
        assert shares[0] >= 3, f"connections per worker: {shares}"
    finally:
        for connection in held:
            connection.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(
                    f"hub serve --workers 2 still ran 60 s after SIGTERM:\n{log.read_text()}"
                )

    assert process.returncode == 0, log.read_text()
    # Every child is gone (the resource tracker leaves once its parent has).
    deadline = time.monotonic() + 10
    while (left := [p for p in started if is_running(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, log.read_text()


def command_line(pid: int) -> bytes:
    """`pid`'s command line; empty once it has exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent (the test runner) to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def migration_ledger(data_dir: Path) -> list[int]:
    """The versions recorded in the ledger of the graph a running hub owns there."""
    connection = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings()).attach_or_start()
    graph = Graph.connect(connection)
    try:
        return [int(row["version"]) for row in await graph.read(q.APPLIED_MIGRATIONS)]
    finally:
        await graph.close()


def test_fresh_graph_is_migrated_once_and_sigkill_leaves_no_orphans(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", "2"],
            cwd=REPO,
            env={**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_EMBEDDED__HEAP": "512m"},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(process, port, log)
        state = EmbeddedGraphServer(data_dir, EmbeddedGraphSettings()).read_state()
        assert state is not None
        assert state.owner_pid == process.pid
        workers = {pid for pid in children(process.pid) if b"spawn_main" in command_line(pid)}
        assert len(workers) == 2, log.read_text()
        # Both workers have started (each logs it) without a restart.
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        text = log.read_text()
        assert "Traceback" not in text, text
        assert "ConstraintError" not in text, text
        assert "Child process" not in text, text  # no worker died and was replaced
        versions = sorted(m.version for m in MIGRATIONS)
        for version in versions:
            assert text.count(f"applied graph migration {version} (") == 1, text
        assert asyncio.run(migration_ledger(data_dir)) == versions
        assert workers == {p for p in children(process.pid) if b"spawn_main" in command_line(p)}

        process.kill()
        process.wait()
        survivors = [*workers, state.pid]
        deadline = time.monotonic() + 30
        while (left := [p for p in survivors if pid_alive(p) and is_running(p)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert not left, f"still running after the parent's SIGKILL: {left}\n{log.read_text()}"
        # The port is free for the next `hub serve`.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
