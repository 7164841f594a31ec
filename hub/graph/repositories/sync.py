"""What sync jobs write: source records, quarantine, watermarks, runs and leases.

A batch is written in one transaction together with the watermark it advances to, so
a sync killed at any point leaves either the whole batch and its watermark, or
neither: running it again gives the graph an uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.domain.identification import Identification
from hub.domain.models import ComponentKind
from hub.domain.sources import Quarantined, SourceComponent, SourceIncident, SourceRelation
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import components as cq
from hub.graph.cypher import sync as q
from hub.graph.ids import ref_key, stable_id, to_iso, utc_now


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


def _component_rows(
    records: Iterable[SourceComponent], rules: Identification
) -> list[dict[str, Any]]:
    return [
        {
            "refKey": ref_key(r.source, r.external_id),
            "source": r.source,
            "externalId": r.external_id,
            "newId": stable_id("Component", r.source, r.external_id),
            "rank": rules.rank(r.source),
            # A component a source lists again is no longer deleted.
            "props": {**r.properties(), "sourceUpdatedAt": to_iso(r.updated_at)},
        }
        for r in records
    ]


_IDENTIFY = {
    "serial_number": cq.IDENTIFY_BY_SERIAL_NUMBER,
    "fqdn": cq.IDENTIFY_BY_FQDN,
}


async def _identify(
    tx: Transaction,
    records: Sequence[SourceComponent],
    rows: list[dict[str, Any]],
    rules: Identification,
) -> None:
    """Point the rows of records new to the graph at the component of another source
    that has the same identifying attribute, instead of at a node of their own."""
    by_key = {row["refKey"]: row for row in rows}
    unmatched = {ref_key(r.source, r.external_id): r for r in records}
    for attribute in rules.attributes:
        candidates = [
            {"refKey": key, "source": r.source, "value": getattr(r, attribute)}
            for key, r in unmatched.items()
            if getattr(r, attribute)
        ]
        if not candidates:
            continue
        for match in await tx.run(_IDENTIFY[attribute], rows=candidates):
            by_key[match["refKey"]]["newId"] = match["id"]
            unmatched.pop(match["refKey"], None)


class SyncRepository:
    def __init__(self, graph: Graph, rules: Identification | None = None) -> None:
        self._graph = graph
        self._rules = rules or Identification()

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
    ) -> BatchOutcome:
        """Write one batch, its quarantine and its watermark in one transaction.

        Relations whose ends the graph does not know are quarantined, not dropped.
        """

        async def work(tx: Transaction) -> BatchOutcome:
            now = utc_now()
            rows = _component_rows(components, self._rules)
            await _identify(tx, components, rows, self._rules)
            services = [
                row
                for row, c in zip(rows, components, strict=True)
                if c.kind is ComponentKind.SERVICE
            ]
            items = [
                row
                for row, c in zip(rows, components, strict=True)
                if c.kind is ComponentKind.CONFIGURATION_ITEM
            ]
            created = 0
            for statement, rows in (
                (cq.CREATE_MISSING_SERVICES, services),
                (cq.CREATE_MISSING_CONFIGURATION_ITEMS, items),
            ):
                if rows:
                    result = await tx.run(statement, rows=rows, now=now)
                    created += int(result[0]["created"]) if result else 0
            if services or items:
                await tx.run(cq.UPDATE_COMPONENTS, rows=services + items, now=now)
            written: set[str] = set()
            for statement, wanted in (
                (q.UPSERT_SOURCE_DEPENDENCIES, True),
                (q.UPSERT_SOURCE_RELATIONS, False),
            ):
                rows = [_relation_row(r) for r in relations if r.depends is wanted]
                if rows:
                    written |= {row["externalId"] for row in await tx.run(statement, rows=rows)}
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
            accepted = [
                quarantine_key(connector, Quarantined(r.source, kind, r.external_id, "", ""))
                for kind, batch in (
                    ("component", components),
                    ("relation", kept),
                    ("incident", incidents),
                )
                for r in batch
            ]
            if accepted:
                await tx.run(q.RELEASE_QUARANTINED, keys=accepted)
            if watermarks is not None:
                await tx.run(
                    q.SAVE_WATERMARKS,
                    connector=connector,
                    watermarks=json.dumps(watermarks, sort_keys=True),
                    now=now,
                )
            return BatchOutcome(
                created=created,
                updated=len(components) - created + len(incidents),
                quarantined=len(quarantined),
            )

        return await self._graph.write_transaction(work)

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
        return {row["externalId"]: row["id"] for row in rows}

    async def mark_deleted(self, source: str, node_ids: Sequence[str]) -> int:
        """Soft-delete components `source` no longer lists, unless another source does."""
        if not node_ids:
            return 0
        rows = await self._graph.write(
            q.MARK_COMPONENTS_DELETED, ids=list(node_ids), source=source, now=utc_now()
        )
        return int(rows[0]["deleted"]) if rows else 0

    # ---- runs, quarantine, leases --------------------------------------------

    async def save_run(self, run: SyncRun) -> None:
        await self._graph.write(q.SAVE_SYNC_RUN, id=run.id, props=run.properties())

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


def _relation_row(relation: SourceRelation) -> dict[str, Any]:
    return {
        "parentKey": ref_key(relation.source, relation.parent_id),
        "childKey": ref_key(relation.source, relation.child_id),
        "source": relation.source,
        "externalId": relation.external_id,
        "typeName": relation.type_name,
    }


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
