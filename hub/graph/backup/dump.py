"""Reading a graph out into a backup file: a census, then every node, then every
relationship, each streamed (never the whole graph in memory)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from hub.graph.backup.fileformat import BackupWriter, Header, encode_props
from hub.graph.backup.kinds import (
    KEY_LABEL_BY_NAME,
    KEY_LABELS,
    NODE_KIND_BY_LABELS,
    RELATIONSHIP_KIND_BY_NAME,
    LabelSet,
    describe,
    key_label_of,
    label_set,
)
from hub.graph.client import Graph, Row
from hub.graph.cypher import backup as q

Progress = Callable[[str], None]
_REPORT_EVERY = 50_000


class BackupError(Exception):
    """The graph holds something a backup cannot copy, or the copy came out short."""


RelationshipKey = tuple[str, str, str]
"""(type, key label of the start, key label of the end)."""


@dataclass(frozen=True, slots=True)
class Census:
    """How many nodes of each label set and relationships of each kind a graph holds."""

    labels: dict[LabelSet, int]
    relationships: dict[RelationshipKey, int]

    @property
    def types(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (kind, _, _), count in self.relationships.items():
            counts[kind] += count
        return dict(counts)


async def take_census(graph: Graph) -> Census:
    """Count what the graph holds; refuse, naming them, labels and relationships that the
    hub does not write (and so cannot know how to key)."""
    unknown: list[str] = []
    labels: Counter[LabelSet] = Counter()
    for row in await graph.read(q.NODE_CENSUS):
        labels[label_set(row["labels"])] += int(row["count"])
    unknown += [
        f"{int(count)} node(s) labelled {describe(labels_) or '(no label)'}"
        for labels_, count in labels.items()
        if labels_ not in NODE_KIND_BY_LABELS
    ]
    relationships: Counter[RelationshipKey] = Counter()
    for row in await graph.read(q.RELATIONSHIP_CENSUS):
        start, end = key_label_of(row["fromLabels"]), key_label_of(row["toLabels"])
        if start is None or end is None:
            continue  # its unknown end is named above
        key = (str(row["type"]), start, end)
        if key not in RELATIONSHIP_KIND_BY_NAME:
            unknown.append(f"{int(row['count'])} relationship(s) (:{start})-[:{key[0]}]->(:{end})")
        relationships[key] += int(row["count"])
    if unknown:
        raise BackupError(
            "the graph holds what this hub version does not write and cannot back up: "
            + "; ".join(sorted(unknown))
            + ". Back it up with the hub version that wrote it, or remove it"
        )
    return Census(dict(labels), dict(relationships))


async def dump(
    graph: Graph, writer: BackupWriter, header: Header, progress: Progress, *, exact: bool
) -> Census:
    """Write every node, then every relationship, of `graph`; fill the header's counts.

    With `exact` (a graph nothing writes to, such as a snapshot) what was read must be
    what the census counted; otherwise the counts are those of what was read.
    """
    census = await take_census(graph)
    progress(
        f"copying {sum(census.labels.values())} nodes and "
        f"{sum(census.relationships.values())} relationships"
    )
    labels: Counter[LabelSet] = Counter()
    present = {NODE_KIND_BY_LABELS[labels_].key_label for labels_ in census.labels}
    for key_label in KEY_LABELS:
        if key_label.label not in present:
            continue
        async for row in graph.stream(key_label.nodes):
            writer.add(_node_record(row, key_label.label, key_label.key))
            labels[label_set(row["labels"])] += 1
            if writer.lines % _REPORT_EVERY == 0:
                progress(f"  {writer.lines} records")
        progress(f"  nodes :{key_label.label}: done ({writer.lines} records so far)")
    relationships: Counter[RelationshipKey] = Counter()
    starts = {start for (_, start, _) in census.relationships}
    for key_label in KEY_LABELS:
        if key_label.outgoing is None or key_label.label not in starts:
            continue
        async for row in graph.stream(key_label.outgoing):
            key, record = _relationship_record(row, key_label.label)
            writer.add(record)
            relationships[key] += 1
            if writer.lines % _REPORT_EVERY == 0:
                progress(f"  {writer.lines} records")
        progress(f"  relationships from :{key_label.label}: done ({writer.lines} records so far)")
    copied = Census(dict(labels), dict(relationships))
    if exact and copied != census:
        raise BackupError(
            f"the copy holds {sum(labels.values())} nodes and {sum(relationships.values())} "
            f"relationships where the graph holds {sum(census.labels.values())} and "
            f"{sum(census.relationships.values())}: {_difference(census, copied)}"
        )
    header.labels = {describe(k): v for k, v in sorted(labels.items())}
    header.types = dict(sorted(copied.types.items()))
    return copied


def _node_record(row: Row, key_label: str, key: str) -> dict[str, object]:
    labels = label_set(row["labels"])
    if labels not in NODE_KIND_BY_LABELS:
        raise BackupError(
            f"a node labelled {describe(labels)} appeared while the backup ran; "
            "this hub version cannot back it up"
        )
    props = row["props"]
    if props.get(key) is None:
        raise BackupError(
            f"a node labelled {describe(labels)} has no {key!r}, the key its relationships "
            f"are restored by (its properties: {sorted(props)}); fix or remove it"
        )
    try:
        return {"labels": list(labels), "props": encode_props(props)}
    except TypeError as exc:
        raise BackupError(
            f"the node :{key_label} {{{key}: {props[key]!r}}} holds {exc}, which the backup "
            "format cannot hold"
        ) from exc


def _relationship_record(row: Row, start: str) -> tuple[RelationshipKey, dict[str, object]]:
    end = key_label_of(row["toLabels"])
    kind = None if end is None else RELATIONSHIP_KIND_BY_NAME.get((row["type"], start, end))
    if kind is None or end is None:
        raise BackupError(
            f"a relationship (:{start})-[:{row['type']}]->({':'.join(row['toLabels'])}) "
            "appeared while the backup ran; this hub version cannot back it up"
        )
    key = KEY_LABEL_BY_NAME[end].key
    to = row["toId"] if key == "id" else row["toKey"]
    if row["from"] is None or to is None:
        raise BackupError(f"a relationship {kind.name} has an end without its key")
    props = row["props"] or {}
    try:
        encoded = encode_props(props)
    except TypeError as exc:
        raise BackupError(f"a relationship {kind.name} holds {exc}") from exc
    record: dict[str, object] = {
        "type": kind.type,
        "from": [start, row["from"]],
        "to": [end, to],
        "props": encoded,
    }
    return (kind.type, start, end), record


def _difference(expected: Census, actual: Census) -> str:
    parts = [
        f"{describe(labels)}: {actual.labels.get(labels, 0)} of {count}"
        for labels, count in expected.labels.items()
        if actual.labels.get(labels, 0) != count
    ]
    parts += [
        f"{kind}: {actual.relationships.get(kind, 0)} of {count}"
        for kind, count in expected.relationships.items()
        if actual.relationships.get(kind, 0) != count
    ]
    return "; ".join(parts) or "counts by kind differ"
