"""Writing a backup file back into an empty graph, in batches, then checking the count.

The file is read twice: once to check it whole against its header (nothing is
written from a truncated or edited file), once to load it. Indexes and constraints
come first (the migrations), since every row is written and every relationship's
ends are found by their key: without its index, a look-up by key scans the label, so
the load would slow down as it grows (docs/benchmarks.md saw that for imports). Loading
without indexes and building them afterwards was not measured: it would need `CREATE`
instead of `MERGE`, which a managed transaction run twice would duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.graph.backup.dump import BackupError, take_census
from hub.graph.backup.fileformat import (
    BackupFileError,
    Header,
    Record,
    decode_props,
    records,
)
from hub.graph.backup.kinds import (
    KEY_LABEL_BY_NAME,
    NODE_KIND_BY_LABELS,
    RELATIONSHIP_KIND_BY_NAME,
    RELATIONSHIP_KINDS,
    describe,
    label_set,
)
from hub.graph.client import Graph
from hub.graph.cypher import Cypher
from hub.graph.cypher import backup as q
from hub.graph.migrations import migrate

Progress = Callable[[str], None]

# Rows per write transaction, and a bound on their size: ArcadeDB drops a Bolt
# message over 16 MiB without answering (a telemetry day is about 7 KB of JSON).
BATCH_ROWS = 2_000
BATCH_BYTES = 4 << 20
_REPORT_EVERY = 50_000


class RestoreRefusedError(Exception):
    """The target graph is not empty, or the file is not one this hub can restore."""


@dataclass(slots=True)
class RestoreSummary:
    nodes: int = 0
    relationships: int = 0
    merged_duplicates: int = 0
    migrations_applied: list[int] = field(default_factory=list)


def check_known(header: Header, path: Path) -> None:
    """Refuse, before any write, a file naming labels or types this hub does not write."""
    unknown = [
        f"label set {name}"
        for name in header.labels
        if label_set(name.split(":")) not in NODE_KIND_BY_LABELS
    ]
    known_types = {kind.type for kind in RELATIONSHIP_KINDS}
    unknown += [f"relationship type {name}" for name in header.types if name not in known_types]
    if unknown:
        raise BackupFileError(
            f"{path} holds what this hub version does not know ({', '.join(unknown)}); "
            f"restore it with the hub version that wrote it ({header.hub_version})"
        )


async def ensure_empty(graph: Graph, where: str) -> None:
    rows = await graph.read(q.FIRST_DATA_NODE)
    if rows:
        raise RestoreRefusedError(
            f"{where} is not empty (it holds at least a node labelled "
            f"{':'.join(rows[0]['labels'])}); a restore goes only into an empty graph, so "
            "that nothing is mixed or overwritten: point it at a new data directory "
            "(HUB_DATA_DIR) or an empty Neo4j database, and restore there"
        )


class _Batches:
    """Rows waiting to be written, one batch per statement, each flushed when full."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._rows: dict[Cypher, list[dict[str, Any]]] = {}
        self._sizes: Counter[Cypher] = Counter()
        self._names: dict[Cypher, str] = {}
        self.written = 0

    async def add(self, statement: Cypher, name: str, row: dict[str, Any], size: int) -> None:
        self._rows.setdefault(statement, []).append(row)
        self._names[statement] = name
        self._sizes[statement] += size
        if len(self._rows[statement]) >= BATCH_ROWS or self._sizes[statement] >= BATCH_BYTES:
            await self._flush(statement)

    async def flush_all(self) -> None:
        for statement in list(self._rows):
            await self._flush(statement)

    async def _flush(self, statement: Cypher) -> None:
        rows = self._rows.pop(statement, [])
        self._sizes.pop(statement, None)
        if not rows:
            return
        result = await self._graph.write(statement, rows=rows)
        written = int(result[0]["written"]) if result else 0
        if written != len(rows):
            raise BackupError(
                f"{len(rows) - written} of {len(rows)} {self._names[statement]} could not be "
                "written: their ends are missing from the file"
            )
        self.written += written


async def load(graph: Graph, path: Path, header: Header, progress: Progress) -> RestoreSummary:
    """Write the checked file at `path` into the empty, migrated `graph`."""
    summary = RestoreSummary()
    batches = _Batches(graph)
    ledger: list[Any] = []
    in_relationships = False
    for record, size in records(path):
        if "labels" in record:
            if in_relationships:
                raise BackupFileError(f"{path}: a node follows the relationships")
            statement, name, row = _node_row(record, path)
            if name == "Migration":
                ledger.append(row["key"])
            await batches.add(statement, name, row, size)
            summary.nodes += 1
        else:
            if not in_relationships:
                # Every end must exist before the first relationship is written.
                await batches.flush_all()
                in_relationships = True
                progress(f"  {summary.nodes} nodes written")
            statement, name, row = _relationship_row(record, path)
            await batches.add(statement, name, row, size)
            summary.relationships += 1
        if (summary.nodes + summary.relationships) % _REPORT_EVERY == 0:
            progress(f"  {summary.nodes + summary.relationships} records read")
    await batches.flush_all()
    progress(f"  {summary.relationships} relationships written")
    # The ledger is the backup's: migrations newer than it run now, on the restored data.
    await graph.write(q.FORGET_MIGRATIONS, keep=ledger)
    summary.migrations_applied = await migrate(graph)
    await _check_counts(graph, header, summary, progress)
    return summary


def _node_row(record: Record, path: Path) -> tuple[Cypher, str, dict[str, Any]]:
    labels = label_set(record["labels"])
    kind = NODE_KIND_BY_LABELS.get(labels)
    if kind is None:
        raise BackupFileError(f"{path} holds a node labelled {describe(labels)}, unknown here")
    props = decode_props(record["props"])
    key = props.get(KEY_LABEL_BY_NAME[kind.key_label].key)
    if key is None:
        raise BackupFileError(f"{path} holds a node labelled {describe(labels)} without its key")
    return kind.write, kind.key_label, {"key": key, "props": props}


def _relationship_row(record: Record, path: Path) -> tuple[Cypher, str, dict[str, Any]]:
    (start, start_key), (end, end_key) = record["from"], record["to"]
    kind = RELATIONSHIP_KIND_BY_NAME.get((record["type"], start, end))
    if kind is None:
        raise BackupFileError(
            f"{path} holds a relationship (:{start})-[:{record['type']}]->(:{end}), unknown here"
        )
    row = {"from": start_key, "to": end_key, "props": decode_props(record["props"])}
    return kind.write, f"relationships {kind.name}", row


async def _check_counts(
    graph: Graph, header: Header, summary: RestoreSummary, progress: Progress
) -> None:
    census = await take_census(graph)
    restored = {describe(k): v for k, v in census.labels.items()}
    short = [
        f"{name}: {restored.get(name, 0)} of {count}"
        for name, count in header.labels.items()
        # The ledger may have grown: this hub may know migrations the backup's did not.
        if restored.get(name, 0) < count or (name != "Migration" and restored[name] != count)
    ]
    if short:
        raise BackupError(
            f"the restored graph does not hold what the file does: {'; '.join(short)}"
        )
    types = census.types
    for name, count in header.types.items():
        found = types.get(name, 0)
        if found > count:
            raise BackupError(f"the restored graph holds {found} {name} where the file has {count}")
        # Two relationships of one type between the same ends (and, for RELATES_TO, of
        # the same `type`) are one after a MERGE: the hub never writes such twins, but
        # two racing MERGEs on ArcadeDB may have.
        summary.merged_duplicates += count - found
    if summary.merged_duplicates:
        progress(
            f"note: {summary.merged_duplicates} relationship(s) of the file duplicated another "
            "of the same type between the same nodes and were restored once"
        )
