"""The embedded ArcadeDB child: start, attach, restart, crash and failure handling.

Every test starts real servers (2-4 s each) in data directories of its own under
``tmp_path``; the `servers` fixture stops what was started and kills any JVM still
running on those directories, so a failing test leaves no process behind.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import neo4j
import pytest

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher.schema import PING
from hub.graph.embedded import EmbeddedGraphServer, pid_alive
from hub.graph.errors import EmbeddedServerError
from hub.graph.repositories import TokenRepository
from hub.settings import EmbeddedGraphSettings

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if p.name == "tests").parent
TEST_HEAP = "512m"
STARTUP_TIMEOUT_S = 60.0
DEATH_TIMEOUT_S = 15.0
MAIN_CLASS = b"com.arcadedb.server.ArcadeDBServer"
MARKER_USER = "marker-user"
MARKER_ACTOR = Actor(user=MARKER_USER, role=Role.VIEWER, domains=frozenset({"payments"}))
LOOPBACK = "127.0.0.1"

# Run in a separate Python process (a different pid from the test's): attach to the
# server of the data directory in argv[1], query it, stop, and report what it saw.
ATTACH_SCRIPT = """
import json, sys
from pathlib import Path

import neo4j

from hub.graph.cypher.schema import PING
from hub.graph.embedded import EmbeddedGraphServer
from hub.settings import EmbeddedGraphSettings

server = EmbeddedGraphServer(Path(sys.argv[1]), EmbeddedGraphSettings(heap=sys.argv[2]))
connection = server.attach_or_start()
auth = (connection.user, connection.password)
with neo4j.GraphDatabase.driver(
    connection.uri, auth=auth, notifications_min_severity="OFF"
) as driver:
    records, _, _ = driver.execute_query(PING.text, database_=connection.database)
owned = server.owned
state = server.read_state()
server.stop()
print(json.dumps({
    "uri": connection.uri,
    "user": connection.user,
    "database": connection.database,
    "owned": owned,
    "pid": None if state is None else state.pid,
    "ok": records[0]["ok"],
    "alive_after_stop": server.child_alive(),
}))
"""

# Start (and own) the server of argv[1], report its pid, then wait to be killed.
OWNER_SCRIPT = """
import json, sys, time
from pathlib import Path

from hub.graph.embedded import EmbeddedGraphServer
from hub.settings import EmbeddedGraphSettings

server = EmbeddedGraphServer(Path(sys.argv[1]), EmbeddedGraphSettings(heap=sys.argv[2]))
connection = server.attach_or_start()
state = server.read_state()
print(json.dumps({"uri": connection.uri, "pid": state.pid, "owned": server.owned}), flush=True)
time.sleep(300)
"""


# ---- helpers -------------------------------------------------------------------------


def java_servers_under(directory: Path) -> list[int]:
    """Pids of ArcadeDB servers whose root (their ``@.../jvm.args``) is under `directory`."""
    prefix = b"@" + str(directory.resolve()).encode() + b"/"
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if MAIN_CLASS in argv and any(arg.startswith(prefix) for arg in argv):
            found.append(int(entry.name))
    return found


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])


def wait_until(condition: Callable[[], bool], timeout: float = DEATH_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on `port` (from ``/proc/net``)."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            host_hex, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(host_hex)
            if sys.byteorder == "little":  # each 32-bit word is in host byte order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(raw)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            found.add(str(address))
    return found


def bolt_port(connection: GraphConnection) -> int:
    return int(connection.uri.rsplit(":", 1)[1])


def ping(connection: GraphConnection) -> Any:
    with neo4j.GraphDatabase.driver(
        connection.uri,
        auth=(connection.user, connection.password),
        connection_timeout=5,
        notifications_min_severity="OFF",
    ) as driver:
        records, _, _ = driver.execute_query(PING.text, database_=connection.database)
    return records[0]["ok"]


async def write_marker(connection: GraphConnection) -> str:
    """Store an API token (a node plus its audit record); return the token."""
    graph = Graph.connect(connection)
    try:
        return await TokenRepository(graph).create(
            MARKER_USER, Role.VIEWER, frozenset({"payments"})
        )
    finally:
        await graph.close()


async def read_marker(connection: GraphConnection, token: str) -> Actor | None:
    """Who the marker token names, without its id (a new one per token)."""
    graph = Graph.connect(connection)
    try:
        actor = await TokenRepository(graph).authenticate(token)
    finally:
        await graph.close()
    return None if actor is None else dataclasses.replace(actor, token_id=None)


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=STARTUP_TIMEOUT_S + 30,
        check=False,
    )


def exited_pid() -> int:
    """The pid of a process that has run and exited (and been reaped)."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        gone.wait()
    return gone.pid


class Servers:
    """Makes `EmbeddedGraphServer` objects and cleans up after them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.made: list[EmbeddedGraphServer] = []

    def make(
        self,
        data_dir: Path,
        *,
        heap: str = TEST_HEAP,
        bolt_port: int = 0,
        startup_timeout_seconds: float = STARTUP_TIMEOUT_S,
    ) -> EmbeddedGraphServer:
        server = EmbeddedGraphServer(
            data_dir,
            EmbeddedGraphSettings(
                heap=heap, bolt_port=bolt_port, startup_timeout_seconds=startup_timeout_seconds
            ),
        )
        self.made.append(server)
        return server

    def cleanup(self) -> list[int]:
        """Stop every server made here; kill (and return) any JVM still left over."""
        for server in self.made:
            server.stop()
        leftovers = java_servers_under(self.tmp_path)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        return leftovers


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    made = Servers(tmp_path)
    yield made
    leftovers = made.cleanup()
    assert leftovers == [], f"ArcadeDB servers outlived the test: {leftovers}"


# ---- start ---------------------------------------------------------------------------


def test_start_answers_on_loopback_and_records_its_state(servers: Servers, tmp_path: Path) -> None:
    server = servers.make(tmp_path / "data")

    connection = server.attach_or_start()

    assert server.owned is True
    assert server.child_alive() is True
    assert connection.uri.startswith(f"bolt://{LOOPBACK}:")
    assert connection.user == "root"
    assert connection.database == "hub"
    assert ping(connection) == 1

    root = tmp_path.resolve() / "data" / "graph"
    assert server.root == root
    password_file = root / "root-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text().strip() == connection.password
    assert len(connection.password) >= 24
    # The JVM options hold the password: the argument file is private too.
    assert stat.S_IMODE((root / "jvm.args").stat().st_mode) == 0o600

    (pid,) = java_servers_under(tmp_path)
    recorded = json.loads((root / "server.json").read_text())
    assert recorded == {
        "pid": pid,
        "owner_pid": os.getpid(),
        "bolt_port": bolt_port(connection),
        "http_port": recorded["http_port"],
        "database": "hub",
    }
    assert recorded["http_port"] not in (0, bolt_port(connection))
    assert parent_pid(pid) == os.getpid()
    state = server.read_state()
    assert state is not None
    assert (state.pid, state.owner_pid, state.bolt_port) == (
        pid,
        os.getpid(),
        bolt_port(connection),
    )
    # The password goes through the 0600 argument file, never the command line.
    assert connection.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()

    # Bolt (and HTTP) listen on 127.0.0.1 only, never on every interface.
    assert listening_addresses(bolt_port(connection)) == {LOOPBACK}
    assert listening_addresses(recorded["http_port"]) == {LOOPBACK}

    server.stop()

    assert server.owned is False
    assert wait_until(lambda: not pid_alive(pid))
    assert not (root / "server.json").exists()
    assert listening_addresses(bolt_port(connection)) == set()
    assert "ArcadeDB Server is down" in server.log_tail()


def open_to_others(directory: Path) -> list[str]:
    """What under `directory` (itself included) group or others may read, write or enter."""
    entries = [directory, *directory.rglob("*")]
    return sorted(
        f"{entry} {stat.S_IMODE(entry.lstat().st_mode):o}"
        for entry in entries
        if not entry.is_symlink() and entry.lstat().st_mode & 0o077
    )


async def test_the_data_dir_and_the_graph_files_are_private(
    servers: Servers, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = servers.make(data_dir)
    connection = first.attach_or_start()
    token = await write_marker(connection)  # the database has files now

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "graph").stat().st_mode) == 0o700
    assert len(list((data_dir / "graph").rglob("*"))) > 10
    assert open_to_others(data_dir) == []
    first.stop()

    # An existing data dir (an older hub's, say) open to everyone is closed at start-up.
    for entry in [data_dir, *data_dir.rglob("*")]:
        entry.chmod(0o755 if entry.is_dir() else 0o644)
    second = servers.make(data_dir)
    again = second.attach_or_start()

    assert open_to_others(data_dir) == []
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    actor = await read_marker(again, token)  # the graph still reads its files
    assert actor is not None
    assert actor.user == MARKER_USER


def test_a_shared_data_dir_is_not_taken_over(servers: Servers, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp

    with pytest.raises(EmbeddedServerError, match="is a shared directory"):
        servers.make(shared).attach_or_start()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


async def test_restart_keeps_the_data(servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = servers.make(data_dir)
    connection = first.attach_or_start()
    token = await write_marker(connection)
    first.stop()
    assert first.read_state() is None

    second = servers.make(data_dir)
    again = second.attach_or_start()

    assert second.owned is True
    assert again.password == connection.password
    assert await read_marker(again, token) == MARKER_ACTOR
    assert await read_marker(again, token + "x") is None


# ---- crashes -------------------------------------------------------------------------


async def test_killed_child_is_detected_and_replaced(servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = servers.make(data_dir)
    connection = server.attach_or_start()
    token = await write_marker(connection)
    state = server.read_state()
    assert state is not None

    os.kill(state.pid, signal.SIGKILL)

    assert wait_until(lambda: not server.child_alive())
    assert server.child_alive() is False
    assert server.read_state() == state  # the stale file is still there

    fresh = servers.make(data_dir)
    reconnected = fresh.attach_or_start()

    new_state = fresh.read_state()
    assert fresh.owned is True
    assert new_state is not None
    assert new_state.pid != state.pid
    assert new_state.owner_pid == os.getpid()
    assert java_servers_under(tmp_path) == [new_state.pid]
    assert ping(reconnected) == 1
    assert await read_marker(reconnected, token) == MARKER_ACTOR

    # The dead server's owner stopping must not remove the new server's state.
    server.stop()
    assert fresh.read_state() == new_state
    assert fresh.child_alive() is True


async def test_server_left_behind_by_a_dead_owner_is_replaced(
    servers: Servers, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = servers.make(data_dir)
    connection = first.attach_or_start()
    token = await write_marker(connection)
    state = first.read_state()
    assert state is not None
    # Pretend the server was started by a process that has since exited.
    gone = exited_pid()
    assert not pid_alive(gone)
    first.state_file.write_text(
        json.dumps(
            {
                "pid": state.pid,
                "owner_pid": gone,
                "bolt_port": state.bolt_port,
                "http_port": state.http_port,
                "database": state.database,
            }
        )
    )

    second = servers.make(data_dir)
    replacement = second.attach_or_start()

    assert second.owned is True
    assert first.child_alive() is False
    new_state = second.read_state()
    assert new_state is not None
    assert new_state.pid != state.pid
    assert java_servers_under(tmp_path) == [new_state.pid]
    assert await read_marker(replacement, token) == MARKER_ACTOR


# ---- several processes ---------------------------------------------------------------


def test_another_process_attaches_instead_of_starting_a_second_server(
    servers: Servers, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = servers.make(data_dir)
    connection = server.attach_or_start()
    state = server.read_state()
    assert state is not None

    completed = run_python(ATTACH_SCRIPT, str(data_dir), TEST_HEAP)

    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    assert seen == {
        "uri": connection.uri,
        "user": connection.user,
        "database": connection.database,
        "owned": False,
        "pid": state.pid,
        "ok": 1,
        "alive_after_stop": True,
    }
    # Its stop() left our server alone: same process, same state, still answering.
    assert java_servers_under(tmp_path) == [state.pid]
    assert server.child_alive() is True
    assert server.read_state() == state
    assert ping(connection) == 1


def test_server_dies_with_its_owner(servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(data_dir), TEST_HEAP],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    ) as owner:
        try:
            assert owner.stdout is not None
            line = owner.stdout.readline()
            assert line, owner.stderr.read() if owner.stderr is not None else "no output"
            started = json.loads(line)
            assert started["owned"] is True
            java_pid = int(started["pid"])
            assert parent_pid(java_pid) == owner.pid
            assert java_servers_under(tmp_path) == [java_pid]
        finally:
            owner.kill()
            owner.wait()

    # PR_SET_PDEATHSIG: the JVM gets SIGTERM when its owner dies, and exits.
    assert wait_until(lambda: not pid_alive(java_pid)), "the JVM outlived its owner"
    assert java_servers_under(tmp_path) == []

    # What it left behind is a stale server.json, which names the dead JVM.
    stale = servers.make(data_dir).read_state()
    assert stale is not None
    assert (stale.pid, stale.owner_pid) == (java_pid, owner.pid)


# ---- failures ------------------------------------------------------------------------


def test_taken_bolt_port_is_refused_with_a_clear_message(servers: Servers, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        server = servers.make(tmp_path / "data", bolt_port=port)

        with pytest.raises(EmbeddedServerError) as raised:
            server.attach_or_start()

    assert str(raised.value).startswith(f"port {port} on {LOOPBACK} is already in use")
    assert "HUB_EMBEDDED__BOLT_PORT" in str(raised.value)
    assert server.owned is False
    assert server.read_state() is None
    assert java_servers_under(tmp_path) == []


def test_unwritable_data_dir_is_refused_naming_it(servers: Servers, tmp_path: Path) -> None:
    # A path under a regular file cannot be created, not even by root.
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    data_dir = blocker / "data"
    server = servers.make(data_dir)

    with pytest.raises(EmbeddedServerError) as raised:
        server.attach_or_start()

    message = str(raised.value)
    assert message.startswith(f"the data directory {data_dir.resolve() / 'graph'} is not writable")
    assert "Not a directory" in message
    assert "HUB_DATA_DIR" in message
    assert server.owned is False
    assert blocker.read_text() == "not a directory"


def test_child_exiting_at_startup_shows_the_log_tail(servers: Servers, tmp_path: Path) -> None:
    # The settings accept "1m", but the JVM refuses to start with so small a heap.
    server = servers.make(tmp_path / "data", heap="1m")

    with pytest.raises(EmbeddedServerError) as raised:
        server.attach_or_start()

    message = str(raised.value)
    tail = server.log_tail()
    assert "Too small maximum heap" in tail
    assert message == (
        "the embedded graph server exited with status 1 while starting; "
        f"the end of {server.log_file}:\n{tail}"
    )
    assert server.owned is False
    assert server.child_alive() is False
    assert server.read_state() is None


def test_startup_timeout_shows_the_log_tail_and_kills_the_child(
    servers: Servers, tmp_path: Path
) -> None:
    server = servers.make(tmp_path / "data", startup_timeout_seconds=0.01)
    # server.log is appended to: what an earlier run wrote is part of the tail.
    server.root.mkdir(parents=True)
    server.log_file.write_text("an earlier run said: disk quota exceeded\n")

    with pytest.raises(EmbeddedServerError) as raised:
        server.attach_or_start()

    message = str(raised.value)
    assert message.startswith(f"the embedded graph server did not answer on bolt://{LOOPBACK}:")
    assert "within 0.01 s" in message
    assert f"the end of {server.log_file}:\n" in message
    assert "an earlier run said: disk quota exceeded" in message
    assert server.owned is False
    assert server.read_state() is None
    assert java_servers_under(tmp_path) == []
