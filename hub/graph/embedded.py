"""The embedded graph: an ArcadeDB server in a child process, spoken to over Bolt.

The ``arcadedb-embedded`` wheel ships a JRE, the server jars and the Bolt plugin. We
run the server's own ``main`` in a separate process (never inside the API process),
bound to 127.0.0.1 on free ports, with a bounded heap, and keep its state in
``$HUB_DATA_DIR/graph``:

- ``databases/``, ``config/``: ArcadeDB's own files (they persist across restarts);
- ``root-password``: generated once, mode 0600;
- ``server.json``: the running server's pid, ports and owner pid, so that other
  ``hub`` commands attach to it instead of starting a second server;
- ``server.log``: the child's output, whose tail is shown when it fails to start;
- ``.lock``: held while a process decides whether to start or attach.

The data directory and ``graph/`` are private to the user that runs the hub (0700,
tightened at start-up if they were open to others, with everything under ``graph/``),
and the server creates its files under a 0077 umask: the graph holds token hashes,
raw source payloads and the whole estate, none of it for other local users.

A server whose owner died is stopped and replaced; a stale ``server.json`` whose pid
is gone is ignored. The child gets SIGTERM when its owner dies (``PR_SET_PDEATHSIG``),
and `EmbeddedGraphServer.stop` stops it cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import logging
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError

from hub.graph.client import GraphConnection
from hub.graph.errors import EmbeddedServerError
from hub.settings import EmbeddedGraphSettings

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_USER = "root"
_MAIN_CLASS = "com.arcadedb.server.ArcadeDBServer"
_BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"
_STOP_TIMEOUT_SECONDS = 30.0
_ATTACH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ServerState:
    """What ``server.json`` records about a running embedded server."""

    pid: int
    owner_pid: int
    bolt_port: int
    http_port: int
    database: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "owner_pid": self.owner_pid,
                "bolt_port": self.bolt_port,
                "http_port": self.http_port,
                "database": self.database,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ServerState:
        raw = json.loads(text)
        return cls(
            pid=int(raw["pid"]),
            owner_pid=int(raw["owner_pid"]),
            bolt_port=int(raw["bolt_port"]),
            http_port=int(raw["http_port"]),
            database=str(raw["database"]),
        )


def _package_dir() -> Path:
    import arcadedb_embedded

    return Path(arcadedb_embedded.__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a listener could bind `port` now. Like the JVM's, the probe ignores
    connections of an earlier server that linger in TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1]
        if status.startswith("Z"):
            return False
    return True


def private_directory(path: Path) -> bool:
    """Create `path` with mode 0700, or make an existing one 0700; True if it was open
    to other users before. A shared directory (sticky bit, like ``/tmp``) is refused:
    it is not ours to close."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_ISVTX:
        raise EmbeddedServerError(
            f"{path} is a shared directory (mode {mode:o}); set HUB_DATA_DIR to a "
            "directory of the hub's own"
        )
    if mode != 0o700:
        path.chmod(0o700)
    return bool(mode & 0o077)


def _close_to_others(root: Path) -> None:
    """Take every permission of group and others off everything under `root`."""
    for directory, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            entry = os.path.join(directory, name)
            mode = stat.S_IMODE(os.lstat(entry).st_mode)
            if mode & 0o077 and not os.path.islink(entry):
                os.chmod(entry, mode & ~0o077)


def _private_file(path: Path, flags: int) -> int:
    """`os.open` of `path`, created 0600."""
    return os.open(path, flags | os.O_CREAT, 0o600)


def _is_our_server(pid: int, root: Path) -> bool:
    """True if `pid` is an ArcadeDB server whose root is `root` (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _MAIN_CLASS.encode() in cmdline and f"@{root / 'jvm.args'}".encode() in cmdline


def die_with_parent(parent: int) -> None:
    """Get SIGTERM when `parent` dies (Linux's ``PR_SET_PDEATHSIG``; elsewhere nothing):
    the embedded server's JVM (run before exec) and `hub serve --workers`' workers.

    The signal comes when the parent's thread that started this process exits, so
    children are started from the main thread. If the parent died before the prctl,
    this process is stopped at once, the same way.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


class EmbeddedGraphServer:
    """Starts, finds and stops the ArcadeDB child for one data directory."""

    def __init__(self, data_dir: Path, settings: EmbeddedGraphSettings) -> None:
        self.root = (data_dir / "graph").resolve()
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._state: ServerState | None = None

    # ---- files --------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.root / "server.json"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def password_file(self) -> Path:
        return self.root / "root-password"

    def _prepare_root(self) -> None:
        try:
            data_was_open = private_directory(self.root.parent)
            graph_was_open = private_directory(self.root)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise EmbeddedServerError(
                f"the data directory {self.root} is not writable ({exc.strerror}); "
                "set HUB_DATA_DIR to a directory this user can write"
            ) from exc
        if data_was_open or graph_was_open:
            # Files an earlier hub left readable by others (before it kept them private).
            log.warning("the data directory %s was open to other users; closed it", self.root)
            _close_to_others(self.root)

    def _password(self) -> str:
        if self.password_file.exists():
            self.password_file.chmod(0o600)
            return self.password_file.read_text().strip()
        password = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        return password

    def read_state(self) -> ServerState | None:
        try:
            return ServerState.from_json(self.state_file.read_text())
        except (OSError, ValueError, KeyError):
            return None

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        with os.fdopen(_private_file(self.root / ".lock", os.O_WRONLY), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def connection(self, state: ServerState) -> GraphConnection:
        return GraphConnection(
            uri=f"bolt://{_HOST}:{state.bolt_port}",
            user=_USER,
            password=self._password(),
            database=state.database,
        )

    # ---- lifecycle ----------------------------------------------------------

    @property
    def owned(self) -> bool:
        """True if this process started the server and must stop it."""
        return self._process is not None

    def attach_or_start(self) -> GraphConnection:
        """Use the server a running ``hub`` process owns, or start one and own it."""
        self._prepare_root()
        with self._start_lock():
            state = self.read_state()
            if state is not None:
                if pid_alive(state.pid) and _is_our_server(state.pid, self.root):
                    if pid_alive(state.owner_pid) and state.owner_pid != os.getpid():
                        connection = self.connection(state)
                        self._wait_ready(connection, timeout=_ATTACH_TIMEOUT_SECONDS)
                        log.info("using the embedded graph server (pid %d)", state.pid)
                        self._state = state
                        return connection
                    log.warning(
                        "stopping an embedded graph server (pid %d) left behind by "
                        "process %d, which is gone",
                        state.pid,
                        state.owner_pid,
                    )
                    _terminate(state.pid)
                else:
                    log.info("ignoring a stale server.json (pid %d is gone)", state.pid)
                self.state_file.unlink(missing_ok=True)
            return self._start()

    def _start(self) -> GraphConnection:
        password = self._password()
        bolt_port = self.settings.bolt_port or free_port()
        if not port_is_free(bolt_port):
            raise EmbeddedServerError(
                f"port {bolt_port} on {_HOST} is already in use; set HUB_EMBEDDED__BOLT_PORT "
                "to a free port, or to 0 to pick one"
            )
        http_port = free_port()
        while http_port == bolt_port:
            http_port = free_port()
        database = self.settings.database
        self._write_args(password, bolt_port, http_port, database)
        java = _package_dir() / "jre" / "bin" / "java"
        if not java.exists():
            raise EmbeddedServerError(f"the arcadedb-embedded wheel has no JRE at {java}")
        # The child keeps the log open.
        log_handle = os.fdopen(_private_file(self.log_file, os.O_WRONLY | os.O_APPEND), "ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [str(java), f"@{self.root / 'jvm.args'}", _MAIN_CLASS],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Only prctl runs there: no locks, no imports.
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
                umask=0o077,  # the databases, config and logs it writes are the user's alone
            )
        finally:
            log_handle.close()
        state = ServerState(
            pid=self._process.pid,
            owner_pid=os.getpid(),
            bolt_port=bolt_port,
            http_port=http_port,
            database=database,
        )
        connection = self.connection(state)
        try:
            self._wait_ready(connection, timeout=self.settings.startup_timeout_seconds)
        except EmbeddedServerError:
            self._kill_child()
            raise
        with os.fdopen(_private_file(self.state_file, os.O_WRONLY | os.O_TRUNC), "w") as out:
            out.write(state.to_json())
        self._state = state
        log.info(
            "embedded graph server started (pid %d, bolt %s:%d, data %s)",
            state.pid,
            _HOST,
            bolt_port,
            self.root,
        )
        return connection

    def _write_args(self, password: str, bolt_port: int, http_port: int, database: str) -> None:
        """The JVM's options go in a 0600 argument file: the password stays out of ``ps``."""
        jars = _package_dir() / "jars"
        options = [
            f"-Xmx{self.settings.heap}",
            "-XX:+UseSerialGC",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-cp",
            f"{jars}/*",
            f"-Darcadedb.server.rootPath={self.root}",
            f"-Darcadedb.server.rootPassword={password}",
            "-Darcadedb.server.mode=production",
            f"-Darcadedb.server.plugins={_BOLT_PLUGIN}",
            f"-Darcadedb.server.defaultDatabases={database}[{_USER}]",
            f"-Darcadedb.server.httpIncomingHost={_HOST}",
            f"-Darcadedb.server.httpIncomingPort={http_port}",
            "-Darcadedb.server.httpsIncomingPort=0",
            f"-Darcadedb.bolt.host={_HOST}",
            f"-Darcadedb.bolt.port={bolt_port}",
            # The server's own backup scheduler and metrics are not ours to run.
            "-Darcadedb.serverMetrics=false",
        ]
        path = self.root / "jvm.args"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an older file keeps its mode through O_TRUNC
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(f'"{option}"' for option in options) + "\n")

    def _wait_ready(self, connection: GraphConnection, timeout: float) -> None:
        """Poll until the database answers over Bolt, the child dies, or time runs out."""
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"the embedded graph server exited with status {self._process.returncode} "
                    f"while starting; the end of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                with (
                    neo4j.GraphDatabase.driver(
                        connection.uri,
                        auth=(connection.user, connection.password),
                        connection_timeout=2,
                        notifications_min_severity="OFF",
                    ) as driver,
                    driver.session(database=connection.database) as session,
                ):
                    # A plain session, not execute_query: that would retry by itself.
                    session.run("RETURN 1 AS ok").consume()
                return
            except AuthError as exc:
                raise EmbeddedServerError(
                    f"the embedded graph server refused the password in {self.password_file}: "
                    f"{exc.message}. If that file was replaced, restore it or move "
                    f"{self.root} away to start with an empty graph"
                ) from exc
            except (DriverError, Neo4jError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.25)
        raise EmbeddedServerError(
            f"the embedded graph server did not answer on {connection.uri} within "
            f"{timeout:g} s ({last_error}); the end of "
            f"{self.log_file}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "\n".join(tail) if tail else "(the log is empty)"

    def child_alive(self) -> bool:
        """True while the server this object started or attached to is running."""
        if self._process is not None:
            return self._process.poll() is None
        return self._state is not None and pid_alive(self._state.pid)

    def stop(self) -> None:
        """Stop the server if this process owns it; attached servers are left running."""
        if self._process is None:
            return
        process, self._process = self._process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("the embedded graph server ignored SIGTERM; killing it")
                process.kill()
                process.wait()
        state = self.read_state()
        if state is not None and state.pid == process.pid:
            self.state_file.unlink(missing_ok=True)
        log.info("embedded graph server stopped")

    def _kill_child(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
