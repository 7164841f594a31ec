"""The audit trail in the graph: appended in the transaction of each change, read,
and verified.

`write_audit(tx, entry)` is how every change is audited: called inside the change's
own managed transaction, so the record and the change commit together or not at all.
It takes the chain head under the transaction (`hub.graph.cypher.audit`) and computes
the record's hash from what it read there, so a transaction that the driver runs
again computes it again from the head as it is then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hub.domain.access import Scope
from hub.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    ChainBreak,
    ChainHead,
    ChainReport,
    ChainVerifier,
    Tampering,
    canonical_json,
)
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import audit as q
from hub.graph.errors import GraphError
from hub.graph.ids import new_id, utc_now

log = logging.getLogger(__name__)

HEAD_KEY = "chain"
"""The key of the one `AuditHead` node."""

_PAGE = 1000
# Lower than any sequence, so a first page also shows records renumbered below 1.
_BEFORE_ANY = -(2**62)


class AuditChainError(GraphError):
    """The chain head moved under a transaction that held it: the graph did not lock."""


def _record_props(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "sequence": record.sequence,
        "at": record.at,
        "actor": record.actor,
        "action": record.action,
        "targetId": record.target_id,
        "reason": record.reason,
        "before": record.before,
        "after": record.after,
        "previousHash": record.previous_hash,
        "hash": record.hash,
    }


def record_from_props(props: dict[str, Any]) -> AuditRecord:
    """A stored record; raises `ValueError` (or `KeyError`) for one the hub did not write
    in this shape, which verification reports as edited."""
    sequence = props["sequence"]
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise ValueError(f"sequence {sequence!r} is not an integer")
    texts = {name: props.get(name) for name in ("at", "actor", "action", "previousHash", "hash")}
    optional = {name: props.get(name) for name in ("targetId", "reason", "before", "after")}
    if not all(isinstance(value, str) for value in texts.values()) or not all(
        value is None or isinstance(value, str) for value in optional.values()
    ):
        raise ValueError("a field holds a value of the wrong type")
    return AuditRecord(
        id=str(props["id"]),
        sequence=sequence,
        at=props["at"],
        actor=props["actor"],
        action=props["action"],
        target_id=props.get("targetId"),
        reason=props.get("reason"),
        before=props.get("before"),
        after=props.get("after"),
        previous_hash=props["previousHash"],
        hash=props["hash"],
    )


async def _lock_head(tx: Transaction) -> ChainHead:
    # Every audited write updates the head, so overlapping ones lose races (on
    # ArcadeDB, at commit): ask for the longer retry budget.
    tx.contends()
    # Setting a property first takes the head's write lock (Neo4j); only then is it
    # read, so no other transaction can append after the same record meanwhile.
    await tx.run(
        q.LOCK_AUDIT_HEAD, key=HEAD_KEY, genesis=GENESIS_HASH, lockId=new_id("AuditRecord")
    )
    row = (await tx.run(q.READ_AUDIT_HEAD, key=HEAD_KEY))[0]
    return ChainHead(int(row["sequence"]), str(row["hash"]))


async def write_audits(tx: Transaction, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
    """Append `entries` to the chain inside the caller's transaction, in order: both
    commit, or neither. Three round trips, whatever the number of entries."""
    if not entries:
        return []
    head = await _lock_head(tx)
    # Server time, taken once the head is held, so times follow sequence order.
    at = utc_now()
    records: list[AuditRecord] = []
    previous = head
    for entry in entries:
        record = AuditRecord.seal(
            new_id("AuditRecord"), previous.sequence + 1, at, entry, previous.hash
        )
        records.append(record)
        previous = ChainHead(record.sequence, record.hash)
    rows = await tx.run(
        q.APPEND_AUDIT_RECORDS,
        key=HEAD_KEY,
        previousSequence=head.sequence,
        previousHash=head.hash,
        sequence=previous.sequence,
        hash=previous.hash,
        records=[_record_props(record) for record in records],
    )
    if not rows or rows[0]["appended"] != len(records):
        raise AuditChainError(
            "the audit chain head changed while this transaction held it; nothing was "
            "written, try again"
        )
    return records


async def write_audit(tx: Transaction, entry: AuditEntry) -> AuditRecord:
    """Append one audit record inside the caller's transaction: both commit, or neither."""
    (record,) = await write_audits(tx, [entry])
    return record


class AuditRepository:
    """Reads and verifies the audit trail; records are written by `write_audit`.

    `scope` None reads every record (the command line; admins not limited by scope);
    with a `Scope`, only the records of scoped records (agreements, services,
    customers, objectives, violations) that it admits: the access checkpoint for the
    trail, bound once per request (`for_actor`).
    """

    def __init__(self, graph: Graph, scope: Scope | None = None) -> None:
        self._graph = graph
        self._scope = scope

    @classmethod
    def for_actor(cls, graph: Graph, actor: Actor) -> AuditRepository:
        """Admins not limited by scope read every record; everyone else, the records of
        scoped records in their scope (whether they may read the trail at all is the
        schema's permission check)."""
        scope = actor.scope
        everything = actor.can(Role.ADMIN) and scope.unlimited
        return cls(graph, None if everything else scope)

    async def for_target(self, target_id: str) -> list[AuditRecord]:
        """Every record about `target_id` (that the scope admits), oldest first."""
        found: list[AuditRecord] = []
        while True:
            after = found[-1].sequence if found else 0
            page = await self.trail(target_id=target_id, limit=_PAGE, after=after)
            found.extend(page)
            if len(page) < _PAGE:
                return found

    async def trail(
        self,
        *,
        target_id: str | None = None,
        action: str | None = None,
        limit: int,
        after: int = 0,
    ) -> list[AuditRecord]:
        """Records after sequence `after`, oldest first, at most `limit`."""
        params: dict[str, Any] = {
            "after": after,
            "targetId": target_id,
            "action": action,
            "limit": limit,
        }
        if self._scope is None:
            rows = await self._graph.read(q.AUDIT_TRAIL, **params)
        else:
            rows = await self._graph.read(q.AUDIT_TRAIL_IN_SCOPE, **params, **self._scope.params())
        return [record_from_props(r["props"]) for r in rows]

    async def by_ids(self, ids: Sequence[str]) -> dict[str, AuditRecord]:
        """The records with these ids that the scope admits."""
        if self._scope is None:
            rows = await self._graph.read(q.AUDIT_RECORDS_BY_IDS, ids=list(ids))
        else:
            rows = await self._graph.read(
                q.AUDIT_RECORDS_BY_IDS_IN_SCOPE, ids=list(ids), **self._scope.params()
            )
        found = (record_from_props(r["props"]) for r in rows)
        return {record.id: record for record in found}

    async def head(self) -> ChainHead | None:
        rows = await self._graph.read(q.READ_AUDIT_HEAD, key=HEAD_KEY)
        return ChainHead(int(rows[0]["sequence"]), str(rows[0]["hash"])) if rows else None

    async def verify(self, page_size: int = _PAGE) -> ChainReport:
        """Recompute the chain from its first record; the report names the first record
        that does not match (edited, removed or inserted).

        Records are read in pages, then the head; appends made meanwhile move the head
        past the pages read, so reading goes on until the head is reached.
        """
        verifier = ChainVerifier()
        cursor: tuple[int, str] | None = None
        while True:
            rows = await self._read_page(cursor, page_size)
            for row in rows:
                props = row["props"]
                try:
                    record = record_from_props(props)
                except (KeyError, TypeError, ValueError) as exc:
                    return self._malformed(verifier, props, str(exc))
                if cursor is not None and (record.sequence, record.id) <= cursor:
                    continue  # the end of the page before, read again
                if verifier.feed([record]) is not None:
                    return verifier.finish(await self.head())
                cursor = (record.sequence, record.id)
            if len(rows) == page_size:
                continue
            head = await self.head()
            # Records appended while the pages were read moved the head on: read them too.
            appended = head is not None and head.sequence > verifier.last.sequence
            seen = 0 if cursor is None else 1  # a page starts with the cursor's record
            if appended and len(await self._read_page(cursor, seen + 1)) > seen:
                continue
            unsequenced = await self._graph.read(q.UNSEQUENCED_AUDIT_RECORD)
            return verifier.finish(head, unsequenced[0]["id"] if unsequenced else None)

    async def _read_page(self, cursor: tuple[int, str] | None, limit: int) -> list[Row]:
        # From the cursor's sequence on, the cursor's record included: a range on the
        # unique sequence index, where the exact cursor (sequence, id) would need an OR.
        return await self._graph.read(
            q.AUDIT_CHAIN_PAGE,
            fromSequence=_BEFORE_ANY if cursor is None else cursor[0],
            limit=limit,
        )

    @staticmethod
    def _malformed(verifier: ChainVerifier, props: dict[str, Any], why: str) -> ChainReport:
        sequence = props.get("sequence")
        verifier.first_break = ChainBreak(
            Tampering.EDITED,
            sequence if isinstance(sequence, int) else None,
            str(props.get("id")),
            f"it is not a record the hub writes ({why})",
        )
        return verifier.finish(None)


async def chain_unsequenced_records(graph: Graph) -> None:
    """Migration: chain the records written before the hash chain existed, oldest first
    (by `at`, then id), after whatever the chain holds. Their note becomes the reason
    and their details the `after` value. Idempotent: chained records are left alone.
    """

    async def work(tx: Transaction) -> int:
        head = await _lock_head(tx)
        rows = await tx.run(q.UNCHAINED_AUDIT_RECORDS)
        previous = head
        updates = []
        for row in rows:
            props = row["props"]
            details = props.get("details")
            record = AuditRecord.seal(
                str(props["id"]),
                previous.sequence + 1,
                str(props["at"]),
                AuditEntry(
                    actor=str(props.get("actor", "")),
                    action=str(props.get("action", "")),
                    target_id=props.get("targetId"),
                    reason=props.get("note"),
                    after=None if details is None else canonical_json({"details": details}),
                ),
                previous.hash,
            )
            updates.append(
                {
                    "id": record.id,
                    "sequence": record.sequence,
                    "reason": record.reason,
                    "before": record.before,
                    "after": record.after,
                    "previousHash": record.previous_hash,
                    "hash": record.hash,
                }
            )
            previous = ChainHead(record.sequence, record.hash)
        if not updates:
            return 0
        for start in range(0, len(updates), _PAGE):
            await tx.run(q.CHAIN_AUDIT_RECORDS, rows=updates[start : start + _PAGE])
        moved = await tx.run(
            q.ADVANCE_AUDIT_HEAD,
            key=HEAD_KEY,
            previousSequence=head.sequence,
            sequence=previous.sequence,
            hash=previous.hash,
        )
        if not moved:
            raise AuditChainError("the audit chain head moved while older records were chained")
        return len(updates)

    chained = await graph.write_transaction(work)
    if chained:
        log.info("chained %d audit records written before the hash chain", chained)
