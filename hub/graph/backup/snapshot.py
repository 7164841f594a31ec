"""A point-in-time copy of the embedded graph, readable over Bolt while `hub serve` writes.

A read transaction over Bolt on ArcadeDB is not a snapshot (measured: a second
statement in one read transaction sees rows committed meanwhile, and so does a single
statement's own stream), so the backup does not read the live graph. It asks the
server for ArcadeDB's own backup (``BACKUP DATABASE``, over the server's HTTP API on
127.0.0.1), which archives every page as of one committed transaction without
stopping writers; opens that archive with a second, private server in a temporary
directory; and reads the copy out over Bolt, where nothing else writes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import httpx

from hub.graph.client import GraphConnection
from hub.graph.embedded import EmbeddedGraphServer, ServerState, pid_alive
from hub.graph.errors import EmbeddedServerError
from hub.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
_SNAPSHOT_TIMEOUT_SECONDS = 1800.0


@contextmanager
def embedded_snapshot(
    settings: Settings, workdir: Path, progress: Progress
) -> Iterator[GraphConnection]:
    """A connection to a private copy of the embedded graph as of now, for the block.

    Attaches to the server a running hub owns (or starts one for the moment), takes
    the archive, and serves it from a temporary directory under `workdir`, removed
    afterwards with the archive.
    """
    server = EmbeddedGraphServer(settings.data_dir, settings.embedded)
    state = server.read_state()
    if state is None or state.owner_pid != os.getpid() or not pid_alive(state.pid):
        # Attach to the server of another process (`hub serve`), or start one.
        server.attach_or_start()
        state = server.read_state()
    try:
        if state is None:
            raise EmbeddedServerError(f"the embedded graph server left no {server.state_file}")
        progress("taking a point-in-time copy of the embedded graph (BACKUP DATABASE)")
        archive = _take_archive(server, state)
    finally:
        server.stop()  # only if it was started just now
    try:
        with tempfile.TemporaryDirectory(prefix=".hub-backup-", dir=workdir) as tmp:
            root = Path(tmp)
            (root / "graph").mkdir(mode=0o700)  # as the hub's own data directory
            _extract(archive, root / "graph" / "databases" / state.database)
            archive.unlink()
            copy = EmbeddedGraphServer(root, settings.embedded.model_copy(update={"bolt_port": 0}))
            progress("opening the copy with a private graph server")
            connection = copy.attach_or_start()
            try:
                yield connection
            finally:
                copy.stop()
    finally:
        archive.unlink(missing_ok=True)


def _take_archive(server: EmbeddedGraphServer, state: ServerState) -> Path:
    """Run ``BACKUP DATABASE`` on the server; return the archive it wrote (a zip of the
    database's files under its ``backups/`` directory)."""
    name = f"hub-snapshot-{uuid.uuid4().hex}.zip"
    connection = server.connection(state)
    url = f"http://127.0.0.1:{state.http_port}/api/v1/command/{state.database}"
    try:
        response = httpx.post(
            url,
            json={"language": "sql", "command": f"BACKUP DATABASE file://{name}"},
            auth=(connection.user, connection.password),
            timeout=_SNAPSHOT_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise EmbeddedServerError(
            f"the embedded graph server did not take its backup ({exc}); the end of "
            f"{server.log_file}:\n{server.log_tail()}"
        ) from exc
    if response.status_code != httpx.codes.OK:
        raise EmbeddedServerError(
            f"the embedded graph server refused BACKUP DATABASE (HTTP {response.status_code}: "
            f"{response.text[:500]})"
        )
    archive = server.root / "backups" / state.database / name
    if not archive.is_file():
        raise EmbeddedServerError(
            f"the embedded graph server reported a backup but {archive} is missing"
        )
    return archive


def _extract(archive: Path, target: Path) -> None:
    """Unpack the database's files, refusing any name that would land outside `target`."""
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or member.is_dir():
                raise EmbeddedServerError(
                    f"the graph server's backup {archive} holds an unexpected entry "
                    f"{member.filename!r}"
                )
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
