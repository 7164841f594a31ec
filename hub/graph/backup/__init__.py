"""`hub backup` and `hub restore`: a consistent, portable copy of everything the hub
keeps in the graph, and its restoration into an empty graph.

- The file (`fileformat`): gzip'd JSON lines, a header with the counts and the SHA-256
  of the content; every node with its labels and properties, then every relationship
  with its type, properties and the keys of its ends. Portable: a copy of the embedded
  graph restores into Neo4j and the other way round.
- What is copied (`kinds`): the label sets and relationship types the hub writes; a
  graph holding anything else is refused by name.
- Consistency: on the embedded graph, the copy is read from a point-in-time snapshot
  that the server takes without stopping writers (`snapshot`). On Neo4j, which reads
  at "read committed" only, it is read from the live graph: each record is read as
  last committed, but writes that commit during the copy may be seen in part. Pause
  writers, or use Neo4j's own backup, for a point-in-time copy there.
- Restore (`load`): only into an empty graph (nothing but the migration ledger); the
  file is checked whole first, the migrations run before the load (indexes) and after
  it (what the backup's hub version did not have yet).

Example::

    header = backup(settings, Path("hub.backup.gz"), progress=print)
    summary = restore(settings, Path("hub.backup.gz"), progress=print)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from hub.graph.backup.dump import BackupError, Census, dump, take_census
from hub.graph.backup.fileformat import (
    FORMAT_VERSION,
    BackupFileError,
    BackupWriter,
    Header,
    read_header,
    verify,
)
from hub.graph.backup.load import (
    RestoreRefusedError,
    RestoreSummary,
    check_known,
    ensure_empty,
    load,
)
from hub.graph.backup.snapshot import embedded_snapshot
from hub.graph.client import Graph, GraphConnection
from hub.graph.session import connect_graph, graph_connection, open_graph
from hub.settings import Settings

__all__ = [
    "FORMAT_VERSION",
    "BackupError",
    "BackupFileError",
    "Census",
    "Header",
    "RestoreRefusedError",
    "RestoreSummary",
    "backup",
    "backup_graph",
    "read_header",
    "restore",
    "restore_graph",
    "take_census",
]

Progress = Callable[[str], None]

SNAPSHOT = "snapshot"
READ_COMMITTED = "read-committed"


def hub_version() -> str:
    try:
        return metadata.version("service-agreements-hub")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree not installed
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quiet(_: str) -> None:
    pass


async def backup_graph(
    graph: Graph,
    path: Path,
    *,
    kind: str,
    consistency: str,
    created_at: str | None = None,
    progress: Progress = _quiet,
) -> Header:
    """Write everything `graph` holds to `path` (replaced only once complete)."""
    header = Header(
        hub_version=hub_version(),
        created_at=created_at or _now(),
        graph=kind,
        consistency=consistency,
    )
    with BackupWriter(path) as writer:
        await dump(graph, writer, header, progress, exact=consistency == SNAPSHOT)
        writer.finish(header)
    return header


async def restore_graph(graph: Graph, path: Path, *, progress: Progress = _quiet) -> RestoreSummary:
    """Check the file at `path` whole, then load it into `graph`, which must be empty."""
    header = read_header(path)
    check_known(header, path)
    progress(f"checking {path} ({header.nodes} nodes, {header.relationships} relationships)")
    verify(path, header)
    await ensure_empty(graph, "the target graph")
    return await load(graph, path, header, progress)


@contextmanager
def _source(
    settings: Settings, workdir: Path, progress: Progress
) -> Iterator[tuple[GraphConnection, str]]:
    if settings.uses_embedded_graph:
        with embedded_snapshot(settings, workdir, progress) as connection:
            yield connection, SNAPSHOT
    else:
        with graph_connection(settings) as connection:
            yield connection, READ_COMMITTED


def backup(settings: Settings, path: Path, *, progress: Progress = _quiet) -> Header:
    """`hub backup FILE`: a copy of the graph the settings name, while the hub runs."""
    path = path.resolve()
    if path.is_dir():
        raise BackupFileError(f"{path} is a directory; name the backup file to write")
    if not path.parent.is_dir():
        raise BackupFileError(f"{path.parent} does not exist; create it or name another file")
    created_at = _now()
    with _source(settings, path.parent, progress) as (connection, consistency):

        async def run() -> Header:
            # No migrations here: a snapshot is copied as it is.
            graph = connect_graph(settings, connection)
            try:
                return await backup_graph(
                    graph,
                    path,
                    kind="embedded" if settings.uses_embedded_graph else "neo4j",
                    consistency=consistency,
                    created_at=created_at,
                    progress=progress,
                )
            finally:
                await graph.close()

        return asyncio.run(run())


def restore(settings: Settings, path: Path, *, progress: Progress = _quiet) -> RestoreSummary:
    """`hub restore FILE`: load a backup into the empty graph the settings name."""
    header = read_header(path)
    check_known(header, path)
    progress(f"checking {path} ({header.nodes} nodes, {header.relationships} relationships)")
    verify(path, header)
    where = (
        f"the embedded graph in {settings.data_dir}"
        if settings.uses_embedded_graph
        else f"the Neo4j graph at {settings.neo4j.uri}"
    )

    async def run(connection: GraphConnection) -> RestoreSummary:
        async with open_graph(settings, connection) as graph:
            await ensure_empty(graph, where)
            progress(f"restoring into {where}")
            return await load(graph, path, header, progress)

    with graph_connection(settings) as connection:
        return asyncio.run(run(connection))
