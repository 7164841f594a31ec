"""What sync jobs write: source records, quarantine, watermarks, runs and leases.

A batch is written in one transaction together with the watermark it advances to, so
a sync killed at any point leaves either the whole batch and its watermark, or
neither: running it again gives the graph an uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hub.domain.identification import Identification
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.domain.sources import Quarantined, SourceComponent, SourceIncident, SourceRelation
from hub.domain.sunset import sync_actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import components as cq
from hub.graph.cypher import sync as q
from hub.graph.ids import ref_key, stable_id, to_iso, utc_now
from hub.graph.repositories.sunset import retired_by_refs, sunset_covering


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    created: int
    updated: int
    quarantined: int


@dataclass(slots=True)
class SyncRun:
    """One run of one connector, as recorded in the graph."""

    id: str
    connector: str
    status: str = "RUNNING"
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    fetched: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def properties(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "status": self.status,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
            "error": self.error,
            "notes": list(self.notes),
        }

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> SyncRun:
        return cls(
            id=props["id"],
            connector=props["connector"],
            status=props["status"],
            started_at=props["startedAt"],
            finished_at=props.get("finishedAt"),
            fetched=int(props.get("fetched", 0)),
            created=int(props.get("created", 0)),
            updated=int(props.get("updated", 0)),
            deleted=int(props.get("deleted", 0)),
            quarantined=int(props.get("quarantined", 0)),
            error=props.get("error"),
            notes=list(props.get("notes") or ()),
        )


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    key: str
    connector: str
    source: str
    record_type: str
    external_id: str | None
    payload: str
    reason: str
    first_seen_at: str
    last_seen_at: str


def new_run_id() -> str:
    """Run ids sort by start time, so the newest run comes first in descending order."""
    return f"run_{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}_{secrets.token_hex(3)}"


def quarantine_key(connector: str, record: Quarantined) -> str:
    identity = record.external_id or hashlib.sha256(record.payload.encode()).hexdigest()[:24]
    return f"{connector}|{record.record_type}|{identity}"


T = TypeVar("T")


def _by_source(records: Iterable[T], source: Callable[[T], str]) -> dict[str, list[T]]:
    """`records` grouped by their source, in order (a connector's batch has one)."""
    groups: dict[str, list[T]] = {}
    for r in records:
        groups.setdefault(source(r), []).append(r)
    return groups


def _last_of_each(records: Sequence[T], key: Callable[[T], Hashable]) -> list[T]:
    """`records` with only the last occurrence of each key, in their order."""
    last = {key(r): r for r in records}
    return list(records) if len(last) == len(records) else list(last.values())


# Rows are lists, not maps, and what all rows share travels once as a parameter: the
# driver packs every key and value of every row in pure Python (a relation as a map of
# five took about 30 µs, as a list of four 8 µs), while the graph waits.


def _component_rows(source: str, records: Iterable[SourceComponent]) -> list[list[Any]]:
    """UPSERT_SOURCE_COMPONENTS rows: refKey, externalId, newId, service, props."""
    return [
        [
            ref_key(source, r.external_id),
            r.external_id,
            stable_id("Component", source, r.external_id),
            r.kind is ComponentKind.SERVICE,
            # A component a source lists again is no longer deleted.
            {**r.properties(), "sourceUpdatedAt": to_iso(r.updated_at)},
        ]
        for r in records
    ]


# Where IDENTIFY_COMPONENTS rows hold each attribute, and what its matches are called.
_IDENTIFY = {"serial_number": (1, "bySerialNumber"), "fqdn": (2, "byFqdn")}


async def _identify(
    tx: Transaction,
    source: str,
    records: Sequence[SourceComponent],
    rows: list[list[Any]],
    rules: Identification,
) -> None:
    """Point the rows of records new to the graph at the component of another source
    that has the same identifying attribute (the first of the rules' attributes that
    matches), instead of at a node of their own."""
    if not rules.attributes:
        return
    candidates = []
    for row, r in zip(rows, records, strict=True):
        candidate: list[str | None] = [row[0], None, None]
        for attribute in rules.attributes:
            candidate[_IDENTIFY[attribute][0]] = getattr(r, attribute) or None
        if candidate[1] is not None or candidate[2] is not None:
            candidates.append(candidate)
    if not candidates:
        return
    by_key = {row[0]: row for row in rows}
    for match in await tx.run(q.IDENTIFY_COMPONENTS, rows=candidates, source=source):
        found = (match[_IDENTIFY[attribute][1]] for attribute in rules.attributes)
        by_key[match["refKey"]][2] = next(node for node in found if node is not None)


async def _write_components(
    tx: Transaction, components: Sequence[SourceComponent], rules: Identification, now: str
) -> int:
    """Create or update `components` (distinct keys); return how many nodes were created."""
    created = 0
    for source, records in _by_source(components, lambda c: c.source).items():
        rows = _component_rows(source, records)
        await _identify(tx, source, records, rows, rules)
        result = await tx.run(
            q.UPSERT_SOURCE_COMPONENTS, rows=rows, source=source, rank=rules.rank(source), now=now
        )
        created += int(result[0]["created"] or 0) if result else 0
    return created


async def _write_relations(tx: Transaction, relations: Sequence[SourceRelation]) -> set[str]:
    """Write `relations`; return the external ids of those written (both ends known)."""
    written: set[str] = set()
    for source, records in _by_source(relations, lambda r: r.source).items():
        for statement, depends in (
            (q.UPSERT_SOURCE_DEPENDENCIES, True),
            (q.UPSERT_SOURCE_RELATIONS, False),
        ):
            rows = [
                [
                    ref_key(source, r.parent_id),
                    ref_key(source, r.child_id),
                    r.external_id,
                    r.type_name,
                ]
                for r in records
                if r.depends is depends
            ]
            if rows:
                result = await tx.run(statement, rows=rows, source=source)
                written.update(result[0]["written"] if result else ())
    return written


async def _sunset_retired(
    tx: Transaction, connector: str, components: Sequence[SourceComponent], now: str
) -> None:
    """Sunset, in the batch's transaction, the agreements that the batch's retired
    components leave covering only retired ones (hub.domain.sunset)."""
    keys = [
        ref_key(c.source, c.external_id)
        for c in components
        if c.status in (LifecycleStatus.SUNSET, LifecycleStatus.DELETED)
    ]
    retired = await retired_by_refs(tx, keys)
    if retired:
        reason = f"retired at the source ({connector}): {', '.join(sorted(retired))}"
        await sunset_covering(
            tx, retired, datetime.fromisoformat(now), sync_actor(connector), reason
        )


class SyncRepository:
    def __init__(self, graph: Graph, rules: Identification | None = None) -> None:
        self._graph = graph
        self._rules = rules or Identification()

    @property
    def graph(self) -> Graph:
        """The graph written to (its app's metrics count the runs, `hub.sync.runs`)."""
        return self._graph

    # ---- watermarks ----------------------------------------------------------

    async def watermarks(self, connector: str) -> dict[str, str]:
        rows = await self._graph.read(q.SYNC_STATE, connector=connector)
        if not rows or not rows[0]["watermarks"]:
            return {}
        loaded: dict[str, str] = json.loads(rows[0]["watermarks"])
        return loaded

    # ---- batches -------------------------------------------------------------

    async def write_batch(
        self,
        connector: str,
        *,
        components: Sequence[SourceComponent] = (),
        relations: Sequence[SourceRelation] = (),
        incidents: Sequence[SourceIncident] = (),
        rejected: Sequence[Quarantined] = (),
        watermarks: dict[str, str] | None = None,
        quarantine: set[str] | None = None,
    ) -> BatchOutcome:
        """Write one batch, its quarantine and its watermark in one transaction.

        Relations whose ends the graph does not know are quarantined, not dropped. A
        record the batch holds twice is written as its last occurrence says (the
        component upsert needs distinct keys; the relation upserts MERGE row by row).

        `quarantine`, when given, holds the keys of the connector's quarantined records
        (`quarantined_keys`; the caller holds the connector's lease, so no other run adds
        any): only accepted records among them are released, without a look-up per
        record, and the set is kept up to date once the batch has committed. Without it,
        every accepted record is looked up in the quarantine.
        """
        given = len(components) + len(incidents)  # what the counts count, repeats included
        components = _last_of_each(components, lambda c: (c.source, c.external_id))
        incidents = _last_of_each(incidents, lambda i: (i.source, i.external_id))
        rejected = _last_of_each(rejected, lambda r: quarantine_key(connector, r))

        async def work(tx: Transaction) -> tuple[BatchOutcome, list[str], set[str]]:
            now = utc_now()
            created = await _write_components(tx, components, self._rules, now)
            await _sunset_retired(tx, connector, components, now)
            written = await _write_relations(tx, relations)
            # A relation that wrote nothing has an end the graph does not know.
            unwritten = [r for r in relations if r.external_id not in written]
            dangling = await self._dangling(tx, unwritten) if unwritten else []
            kept = [r for r in relations if r.external_id in written]
            quarantined = [*rejected, *dangling]
            if incidents:
                await tx.run(
                    q.UPSERT_INCIDENTS,
                    rows=[
                        {
                            "key": ref_key(i.source, i.external_id),
                            "props": i.properties(),
                            "componentRefs": list(i.component_refs),
                        }
                        for i in incidents
                    ],
                    now=now,
                )
            if quarantined:
                await tx.run(
                    q.QUARANTINE_RECORDS,
                    rows=[_quarantine_row(connector, r) for r in quarantined],
                    now=now,
                )
            held = {quarantine_key(connector, r) for r in quarantined}
            # A record rejected in this batch stays quarantined even if the batch also
            # accepted it: the pipeline drops a rejection that a later page's accepted
            # version superseded, so one that is still here came last.
            accepted = (
                []
                if quarantine is not None and not quarantine
                else [
                    key
                    for key in dict.fromkeys(
                        quarantine_key(
                            connector, Quarantined(r.source, kind, r.external_id, "", "")
                        )
                        for kind, batch in (
                            ("component", components),
                            ("relation", kept),
                            ("incident", incidents),
                        )
                        for r in batch
                    )
                    if key not in held and (quarantine is None or key in quarantine)
                ]
            )
            if accepted:
                await tx.run(q.RELEASE_QUARANTINED, keys=accepted)
            if watermarks is not None:
                await tx.run(
                    q.SAVE_WATERMARKS,
                    connector=connector,
                    watermarks=json.dumps(watermarks, sort_keys=True),
                    now=now,
                )
            outcome = BatchOutcome(
                created=created,
                updated=given - created,
                quarantined=len(quarantined),
            )
            return outcome, accepted, held

        outcome, released, held = await self._graph.write_transaction(work)
        if quarantine is not None:
            quarantine.difference_update(released)
            quarantine.update(held)
        return outcome

    async def quarantined_keys(self, connector: str) -> set[str]:
        """The keys of `connector`'s quarantined records (see `write_batch`)."""
        rows = await self._graph.read(q.QUARANTINED_KEYS, connector=connector)
        return {str(row["key"]) for row in rows}

    @staticmethod
    async def _dangling(tx: Transaction, relations: Sequence[SourceRelation]) -> list[Quarantined]:
        """Quarantine records for relations the graph could not link, naming the ends."""
        keys = sorted(
            {ref_key(r.source, r.parent_id) for r in relations}
            | {ref_key(r.source, r.child_id) for r in relations}
        )
        rows = await tx.run(cq.REF_KINDS, keys=keys)
        known = {row["key"] for row in rows if "Component" in row["labels"]}
        dangling: list[Quarantined] = []
        for relation in relations:
            missing = [
                end
                for end, key in (("parent", relation.parent_id), ("child", relation.child_id))
                if ref_key(relation.source, key) not in known
            ]
            names = " and ".join(f"{end} {getattr(relation, end + '_id')!r}" for end in missing)
            dangling.append(
                Quarantined(
                    source=relation.source,
                    record_type="relation",
                    external_id=relation.external_id,
                    payload=relation.model_dump_json(),
                    reason=f"{names}: no such configuration item or service at the source",
                )
            )
        return dangling

    # ---- deletions -----------------------------------------------------------

    async def live_component_refs(self, source: str) -> dict[str, str]:
        """External id -> node id of the components `source` named and are not deleted."""
        rows = await self._graph.read(q.LIVE_COMPONENT_REFS, source=source)
        if not rows:
            return {}
        return dict(zip(rows[0]["externalIds"], rows[0]["ids"], strict=True))

    async def mark_deleted(
        self, source: str, node_ids: Sequence[str], connector: str | None = None
    ) -> int:
        """Soft-delete components `source` no longer lists, unless another source does,
        and sunset the agreements that then cover only retired components (audited as
        `sync:<connector>`)."""
        if not node_ids:
            return 0
        now = utc_now()

        async def work(tx: Transaction) -> int:
            rows = await tx.run(
                q.MARK_COMPONENTS_DELETED, ids=list(node_ids), source=source, now=now
            )
            # The agreements left covering only retired components end with them.
            reason = f"deleted at the source ({connector or source})"
            actor = sync_actor(connector or source)
            await sunset_covering(tx, node_ids, datetime.fromisoformat(now), actor, reason)
            return int(rows[0]["deleted"]) if rows else 0

        return await self._graph.write_transaction(work)

    # ---- runs, quarantine, leases --------------------------------------------

    async def save_run(self, run: SyncRun) -> None:
        await self._graph.write(q.SAVE_SYNC_RUN, id=run.id, props=run.properties())

    async def close_abandoned_runs(self, connector: str, error: str) -> list[str]:
        """Close the runs of `connector` left RUNNING as FAILED with `error`; the ids of
        those closed. Only the holder of the connector's lease may call it: no run of the
        connector is going on then."""
        rows = await self._graph.write(
            q.CLOSE_ABANDONED_RUNS,
            connector=connector,
            running="RUNNING",
            failed="FAILED",
            now=utc_now(),
            error=error,
        )
        return [str(row["id"]) for row in rows]

    async def runs(
        self, connector: str | None, *, limit: int, before: str | None = None
    ) -> list[SyncRun]:
        rows = await self._graph.read(q.SYNC_RUNS, connector=connector, before=before, limit=limit)
        return [SyncRun.from_props(row["props"]) for row in rows]

    async def quarantined(
        self, connector: str | None, *, limit: int, after: str | None = None
    ) -> list[QuarantineEntry]:
        rows = await self._graph.read(
            q.QUARANTINED_RECORDS, connector=connector, after=after, limit=limit
        )
        return [
            QuarantineEntry(
                key=p["key"],
                connector=p["connector"],
                source=p["source"],
                record_type=p["recordType"],
                external_id=p.get("externalId"),
                payload=p["payload"],
                reason=p["reason"],
                first_seen_at=p["firstSeenAt"],
                last_seen_at=p["lastSeenAt"],
            )
            for p in (row["props"] for row in rows)
        ]

    async def acquire_lease(self, connector: str, holder: str, ttl: timedelta) -> str:
        """Take the connector's lease if free or expired; return who holds it now."""
        now = datetime.now(UTC)
        rows = await self._graph.write(
            q.ACQUIRE_LEASE,
            connector=connector,
            holder=holder,
            now=to_iso(now),
            expiresAt=to_iso(now + ttl),
        )
        return str(rows[0]["holder"])

    async def take_over_lease(self, connector: str, dead: str, holder: str, ttl: timedelta) -> bool:
        """Take the lease from `dead`, if it still holds it; True when taken."""
        rows = await self._graph.write(
            q.TAKE_OVER_LEASE,
            connector=connector,
            dead=dead,
            holder=holder,
            expiresAt=to_iso(datetime.now(UTC) + ttl),
        )
        return bool(rows) and rows[0]["holder"] == holder

    async def release_lease(self, connector: str, holder: str) -> None:
        await self._graph.write(q.RELEASE_LEASE, connector=connector, holder=holder, now=utc_now())

    # ---- incidents -----------------------------------------------------------

    async def incidents_by_keys(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The incidents found under `keys` (``source:externalId``), as plain dicts:
        ``key``, ``props`` (the node's properties) and ``componentIds`` (sorted ids of
        the components it AFFECTS). Keys with no incident are left out."""
        if not keys:
            return []
        rows = await self._graph.read(q.INCIDENTS_BY_KEYS, keys=list(keys))
        return [
            {
                "key": row["key"],
                "props": dict(row["props"]),
                "componentIds": sorted(row["componentIds"]),
            }
            for row in rows
        ]


def _quarantine_row(connector: str, record: Quarantined) -> dict[str, Any]:
    props = {
        "connector": connector,
        "source": record.source,
        "recordType": record.record_type,
        "externalId": record.external_id,
        "payload": record.payload,
        "reason": record.reason,
    }
    return {
        "key": quarantine_key(connector, record),
        "props": {k: v for k, v in props.items() if v is not None},
    }
