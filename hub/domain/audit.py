"""The audit trail's hash chain: canonical JSON, record hashes and chain verification.

Pure code, no I/O. A record's `hash` is the lowercase hex SHA-256 of the canonical
JSON of {sequence, at, actor, action, targetId, reason, before, after, previousHash},
each value exactly as the `auditTrail` query returns it (`governance.graphql`): so
anyone holding the API's answers can recompute the chain without the hub.

    >>> record_hash(1, "2026-01-01T00:00:00Z", "cli", "token.create", "tok_1",
    ...             None, None, None, GENESIS_HASH)[:16]
    '02c66ff9ed04e061'
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hub.domain.workflow import Actor

GENESIS_HASH = "0" * 64
"""The `previousHash` of the first record."""


def canonical_json(value: Any) -> str:
    """JSON with keys sorted, no whitespace and UTF-8 text as is (no \\u escapes).

    NaN and infinities are refused: they have no JSON form another verifier would
    agree on.
    """
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def wire_time(moment: datetime) -> str:
    """An instant as the API's `DateTime` scalar writes it (UTC, `Z`, microseconds only
    when there are some), which is the form the hash covers."""
    if moment.tzinfo is None:
        raise ValueError("audit times must carry a time zone")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hashed_fields(
    sequence: int,
    at: str,
    actor: str,
    action: str,
    target_id: str | None,
    reason: str | None,
    before: str | None,
    after: str | None,
    previous_hash: str,
) -> dict[str, Any]:
    """The object a record's hash covers, keyed as the API names the fields."""
    return {
        "sequence": sequence,
        "at": at,
        "actor": actor,
        "action": action,
        "targetId": target_id,
        "reason": reason,
        "before": before,
        "after": after,
        "previousHash": previous_hash,
    }


def record_hash(
    sequence: int,
    at: str,
    actor: str,
    action: str,
    target_id: str | None,
    reason: str | None,
    before: str | None,
    after: str | None,
    previous_hash: str,
) -> str:
    """The lowercase hex SHA-256 of the canonical JSON of the hashed fields; `at` is
    the wire form (`wire_time`)."""
    fields = hashed_fields(
        sequence, at, actor, action, target_id, reason, before, after, previous_hash
    )
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A change to record: who made it, what it was, why, and the values it changed.

    `before` and `after` are canonical JSON (`canonical_json`) of the changed values,
    or None (nothing before a creation, say). The graph layer adds the id, the server
    time and the chain fields when it appends the entry.
    """

    actor: str
    action: str
    target_id: str | None
    reason: str | None = None
    before: str | None = None
    after: str | None = None

    @classmethod
    def of(
        cls,
        actor: Actor | str,
        action: str,
        target_id: str | None,
        *,
        reason: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """An entry for `actor` (an `Actor`, or a name such as "cli" or "sync:jira")."""
        return cls(
            actor=actor if isinstance(actor, str) else actor.user,
            action=action,
            target_id=target_id,
            reason=reason,
            before=None if before is None else canonical_json(dict(before)),
            after=None if after is None else canonical_json(dict(after)),
        )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One link of the chain, as stored and as the API shows it.

    `at` is the stored time (an ISO-8601 string); `wire_at` is the form the hash covers.
    """

    id: str
    sequence: int
    at: str
    actor: str
    action: str
    target_id: str | None
    reason: str | None
    before: str | None
    after: str | None
    previous_hash: str
    hash: str

    @classmethod
    def seal(
        cls, record_id: str, sequence: int, at: str, entry: AuditEntry, previous_hash: str
    ) -> AuditRecord:
        """The record that appends `entry` after a record whose hash is `previous_hash`;
        `at` is the stored time (ISO-8601 with an offset)."""
        record = cls(
            id=record_id,
            sequence=sequence,
            at=at,
            actor=entry.actor,
            action=entry.action,
            target_id=entry.target_id,
            reason=entry.reason,
            before=entry.before,
            after=entry.after,
            previous_hash=previous_hash,
            hash="",
        )
        return replace(record, hash=record.digest())

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def wire_at(self) -> str:
        return wire_time(self.moment)

    def digest(self) -> str:
        """The hash of these values (ValueError if `at` is not ISO-8601 with an offset)."""
        return record_hash(
            self.sequence,
            self.wire_at,
            self.actor,
            self.action,
            self.target_id,
            self.reason,
            self.before,
            self.after,
            self.previous_hash,
        )

    def expected_hash(self) -> str:
        """The hash these values should carry; a mismatch means the record was edited.
        A stored time the API could not write never matches."""
        try:
            return self.digest()
        except (TypeError, ValueError):
            return ""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where the chain ends: the last record's sequence and hash (0 and 64 zeros when empty)."""

    sequence: int = 0
    hash: str = GENESIS_HASH


class Tampering(enum.Enum):
    EDITED = "edited"
    REMOVED = "removed"
    INSERTED = "inserted"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place where the chain does not match: which record, and how."""

    kind: Tampering
    sequence: int | None
    record_id: str | None
    detail: str

    def __str__(self) -> str:
        where = f"record {self.record_id}" if self.record_id else "the record"
        if self.sequence is not None:
            where += f" (sequence {self.sequence})"
        return f"{where} was {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a verification: how much was checked, and the first break if any."""

    records: int
    head: ChainHead
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None

    def summary(self) -> str:
        if self.first_break is not None:
            return f"audit chain broken: {self.first_break}"
        return (
            f"audit chain intact: {self.records} records, "
            f"head sequence {self.head.sequence}, hash {self.head.hash}"
        )


class ChainVerifier:
    """Checks records fed in chain order (by sequence, then id), a page at a time.

    The first record that does not follow from the one before is the break: a
    sequence seen twice, or a `previousHash` that skips the record before (naming the
    hash of the one before that), means that record was inserted; a sequence skipped,
    or a `previousHash` that is no hash seen, that one was removed (or replaced, or
    edited and re-hashed); a hash that does not match the record's own values, that
    it was edited. The chain head (advanced with every append) then
    catches records removed from, or appended to, the end of the chain.
    """

    # Records past the head are named from this window of the last ids seen: a hand-
    # appended tail is short, and the window keeps memory flat on long chains.
    _RECENT = 1024

    def __init__(self) -> None:
        self._expected = 1
        self._previous_hash = GENESIS_HASH
        self._hash_before_previous: str | None = None
        self._recent: deque[tuple[int, str]] = deque(maxlen=self._RECENT)
        self.records = 0
        self.first_break: ChainBreak | None = None

    @property
    def last(self) -> ChainHead:
        """The end of the chain verified so far."""
        return ChainHead(self._expected - 1, self._previous_hash)

    def feed(self, records: Iterable[AuditRecord]) -> ChainBreak | None:
        """Check the next records; return (and keep) the first break found."""
        for record in records:
            if self.first_break is not None:
                break
            self.first_break = self._check(record)
            if self.first_break is None:
                self.records += 1
                self._expected += 1
                self._hash_before_previous = self._previous_hash
                self._previous_hash = record.hash
                self._recent.append((record.sequence, record.id))
        return self.first_break

    def _check(self, record: AuditRecord) -> ChainBreak | None:
        sequence = record.sequence
        if sequence < self._expected:
            taken_by = self._recent[-1][1] if self._recent else "another record"
            return ChainBreak(
                Tampering.INSERTED,
                sequence,
                record.id,
                f"sequence {sequence} is already taken by record {taken_by}",
            )
        if sequence > self._expected:
            return ChainBreak(
                Tampering.REMOVED,
                sequence,
                record.id,
                f"the record(s) with sequence {_span(self._expected, sequence - 1)} "
                "before it are missing",
            )
        if record.previous_hash != self._previous_hash:
            if self._recent and record.previous_hash == self._hash_before_previous:
                # It links to the record two back: the one between was slipped in (and
                # the records after it renumbered).
                inserted_sequence, inserted_id = self._recent[-1]
                return ChainBreak(
                    Tampering.INSERTED,
                    inserted_sequence,
                    inserted_id,
                    f"record {record.id} (sequence {sequence}) links past it to the record "
                    "before it",
                )
            return ChainBreak(
                Tampering.REMOVED,
                sequence,
                record.id,
                "its previousHash is not the hash of the record before it "
                "(that record was removed, replaced or re-hashed)",
            )
        if record.hash != record.expected_hash():
            return ChainBreak(
                Tampering.EDITED, sequence, record.id, "its values do not match its hash"
            )
        return None

    def finish(self, head: ChainHead | None, unsequenced: str | None = None) -> ChainReport:
        """Compare the end of the chain with its `head` (read after the records, so that
        appends made meanwhile are covered); `unsequenced` is the id of a record with no
        usable sequence, which the hub never writes."""
        if self.first_break is None:
            self.first_break = self._check_end(head, unsequenced)
        return ChainReport(self.records, head or self.last, self.first_break)

    def _check_end(self, head: ChainHead | None, unsequenced: str | None) -> ChainBreak | None:
        last = self.last
        if unsequenced is not None:
            return ChainBreak(
                Tampering.INSERTED,
                None,
                unsequenced,
                "it has no sequence, so the hub did not write it",
            )
        if head is None:
            if last.sequence == 0:
                return None  # an empty trail: nothing was ever audited
            return ChainBreak(
                Tampering.REMOVED, None, None, "the chain head (AuditHead) is missing"
            )
        if head.sequence > last.sequence:
            return ChainBreak(
                Tampering.REMOVED,
                last.sequence + 1,
                None,
                f"the last record(s), sequence {_span(last.sequence + 1, head.sequence)}, "
                "are missing",
            )
        if head.sequence < last.sequence:
            first_extra = head.sequence + 1
            named = next((i for s, i in self._recent if s == first_extra), None)
            return ChainBreak(
                Tampering.INSERTED,
                first_extra,
                named,
                f"the chain head ends at sequence {head.sequence}, but records follow it",
            )
        if head.hash != last.hash:
            return ChainBreak(
                Tampering.EDITED,
                last.sequence,
                self._recent[-1][1] if self._recent else None,
                "its hash is not the one the chain head recorded",
            )
        return None


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first} to {last}"


def verify_chain(
    records: Iterable[AuditRecord], head: ChainHead | None, unsequenced: str | None = None
) -> ChainReport:
    """Verify a whole chain held in memory (records in sequence order, then by id)."""
    verifier = ChainVerifier()
    verifier.feed(records)
    return verifier.finish(head, unsequenced)
