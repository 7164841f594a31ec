"""What compliance reports read and archive (hub/graph/cypher/reports.py).

Reads of scoped records pass the token's scope: the objectives a report counts go
through `scope.agreement_visible`, comments are written only on services the token
may read (`scope.service_visible`), and snapshots are listed only where the token's
scope covers every business unit and region the snapshot holds (`snapshot_readable`):
snapshots are few, so that check runs here, on their stored units and regions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import Objective
from hub.domain.reports import (
    GENESIS,
    Comment,
    CommentVisibility,
    FileDigest,
    ReportFormat,
    SnapshotHeader,
    snapshot_hash,
)
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import reports as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.objectives import objective_from_props

HEAD_KEY = "reports"
# One `ReportFile` node holds at most this much of a file: a Bolt message stays far
# below ArcadeDB's 16 MiB limit.
PART_BYTES = 4 * 1024 * 1024
# A marker for "no business unit / region" in a snapshot's stored scope: only tokens
# not limited by unit (region) read such a snapshot.
NONE_MARK = ""


@dataclass(frozen=True, slots=True)
class CountedObjective:
    """An objective a report counts, and what places it in the roll-up."""

    objective: Objective
    agreement_id: str
    kind: str
    agreement_name: str
    customer_id: str | None
    business_unit: str | None
    region: str | None
    services: tuple[tuple[str, str], ...]  # (id, name), sorted by name
    effective_from: datetime | None = None
    effective_to: datetime | None = None

    def in_force_during(self, start: datetime, end: datetime) -> bool:
        return (self.effective_from is None or self.effective_from < end) and (
            self.effective_to is None or start < self.effective_to
        )


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Violations (current revisions) and credits (latest of each chain) of one
    objective in one month."""

    violations: int = 0
    credit: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class MonthSums:
    """A month of one objective's stored telemetry days, summed from the sums each day
    carries. `complete`: every stored day carries them."""

    good: float
    total: float
    buckets: int
    complete: bool


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A published snapshot as stored (`content`: the report's canonical JSON)."""

    id: str
    sequence: int
    template: str
    published_at: datetime
    published_by: str
    content: str
    content_sha256: str
    files: tuple[FileDigest, ...]
    previous_hash: str
    hash: str
    corrects_id: str | None
    units: tuple[str, ...]
    regions: tuple[str, ...]
    customer_id: str | None
    # Published for a customer's eyes: only its SLAs, no internal commentary.
    redacted: bool = False

    @property
    def header(self) -> SnapshotHeader:
        return SnapshotHeader(
            self.id, self.sequence, to_iso(self.published_at), self.published_by, self.corrects_id
        )

    def file(self, format: ReportFormat) -> FileDigest | None:
        return next((f for f in self.files if f.format is format), None)


def snapshot_readable(
    scope: Scope,
    units: Iterable[str],
    regions: Iterable[str],
    customer_id: str | None,
    redacted: bool,
) -> bool:
    """A snapshot is readable by a token whose scope covers each of its business units
    and regions; a customer token reads only the redacted snapshots published for its
    customer (an internal template's report for an internal customer holds OLA rows and
    internal commentary, even when it names the customer)."""
    if scope.customer_id is not None and (customer_id != scope.customer_id or not redacted):
        return False
    return all(scope.units is None or u in scope.units for u in units) and all(
        scope.regions is None or r in scope.regions for r in regions
    )


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _comment(props: dict[str, Any]) -> Comment:
    at = from_iso(props["at"])
    assert at is not None
    return Comment(
        id=props["id"],
        service_id=props["serviceId"],
        month=props["month"],
        author=props["author"],
        at=at,
        visibility=CommentVisibility(props["visibility"]),
        text=props["text"],
    )


def _snapshot(props: dict[str, Any]) -> StoredSnapshot:
    published = from_iso(props["publishedAt"])
    assert published is not None
    files = tuple(
        FileDigest(ReportFormat(f["format"]), f["sha256"], int(f["bytes"]))
        for f in json.loads(props["files"])
    )
    return StoredSnapshot(
        id=props["id"],
        sequence=int(props["sequence"]),
        template=props["template"],
        published_at=published,
        published_by=props["publishedBy"],
        content=props["content"],
        content_sha256=props["contentSha256"],
        files=files,
        previous_hash=props["previousHash"],
        hash=props["hash"],
        corrects_id=props.get("correctsId"),
        units=tuple(props.get("units") or ()),
        regions=tuple(props.get("regions") or ()),
        customer_id=props.get("customerId"),
        redacted=bool(props.get("redacted")),
    )


class ReportRepository:
    """Reads what reports count and archives their snapshots; `scope` is the reader's."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        self._graph = graph
        self._scope = scope

    # ---- what a report counts --------------------------------------------------------

    async def objectives(
        self, kinds: Sequence[str], start: datetime, end: datetime, customer_id: str | None
    ) -> list[CountedObjective]:
        rows = await self._graph.read(
            q.REPORT_OBJECTIVES,
            kinds=list(kinds),
            customerId=customer_id,
            **{"from": to_iso(start), "to": to_iso(end)},
            **self._scope.params(),
        )
        return [_counted(row) for row in rows]

    async def figures(
        self, objective_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str], PeriodFigures]:
        """(objective id, "YYYY-MM" of the period start) -> its violations and credits."""
        if not objective_ids:
            return {}
        rows = await self._graph.read(
            q.REPORT_VIOLATIONS,
            ids=list(objective_ids),
            **{"from": to_iso(start), "to": to_iso(end)},
        )
        found: dict[tuple[str, str], PeriodFigures] = {}
        for row in rows:
            key = (row["objectiveId"], str(row["periodStart"])[:7])
            before = found.get(key, PeriodFigures())
            credit = sum((_decimal(a) for a in row["amounts"] or ()), Decimal(0))
            found[key] = PeriodFigures(before.violations + 1, before.credit + credit)
        return found

    async def month_sums(
        self, objective_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[tuple[str, str, str], MonthSums]:
        """(objective id, source, "YYYY-MM") -> the stored day sums of that month's
        days in [start, end) (whole UTC days)."""
        if not objective_ids:
            return {}
        rows = await self._graph.read(
            q.REPORT_DAY_SUMS,
            ids=list(objective_ids),
            fromDay=start.date().isoformat(),
            toDay=end.date().isoformat(),
        )
        return {
            (row["objectiveId"], row["source"], row["month"]): MonthSums(
                good=float(row["good"] or 0.0),
                total=float(row["total"] or 0.0),
                buckets=int(row["buckets"] or 0),
                complete=int(row["days"]) == int(row["summed"]),
            )
            for row in rows
        }

    # ---- commentary ------------------------------------------------------------------

    async def add_comment(self, comment: Comment) -> Comment:
        """Record `comment`; NotFoundError when its service is not one the token reads."""
        props = {
            "id": comment.id,
            "serviceId": comment.service_id,
            "month": comment.month,
            "author": comment.author,
            "at": to_iso(comment.at),
            "visibility": comment.visibility.value,
            "text": comment.text,
        }
        rows = await self._graph.write(
            q.ADD_REPORT_COMMENT,
            serviceId=comment.service_id,
            props=props,
            **self._scope.params(),
        )
        if not rows:
            raise NotFoundError("Service", comment.service_id)
        return _comment(rows[0]["comment"])

    async def comments(
        self, service_ids: Sequence[str], months: Sequence[str], internal: bool
    ) -> list[Comment]:
        if not service_ids or not months:
            return []
        rows = await self._graph.read(
            q.REPORT_COMMENTS,
            serviceIds=list(service_ids),
            months=list(months),
            internal=internal,
        )
        return [_comment(row["comment"]) for row in rows]

    # ---- the archive -----------------------------------------------------------------

    async def archive(
        self,
        snapshot_id: str,
        props: dict[str, Any],
        files: Sequence[tuple[ReportFormat, bytes]],
        content_sha256: str,
        published_at: datetime,
        published_by: str,
        corrects_id: str | None,
    ) -> StoredSnapshot:
        """Append a snapshot after the chain's head, with its files, in one transaction."""
        digests = [FileDigest(f, _sha(data), len(data)) for f, data in files]
        parts = [
            {
                "key": f"{snapshot_id}.{f.extension}.{n}",
                "props": {
                    "snapshotId": snapshot_id,
                    "format": f.value,
                    "part": n,
                    "data": data[offset : offset + PART_BYTES],
                },
            }
            for f, data in files
            for n, offset in enumerate(range(0, max(len(data), 1), PART_BYTES))
        ]

        async def work(tx: Transaction) -> StoredSnapshot:
            tx.contends()  # every publish updates the head
            await tx.run(
                q.LOCK_REPORT_SNAPSHOT_HEAD, key=HEAD_KEY, lockId=snapshot_id, genesis=GENESIS
            )
            head = (await tx.run(q.READ_REPORT_SNAPSHOT_HEAD, key=HEAD_KEY))[0]
            sequence, previous = int(head["sequence"]), str(head["hash"] or GENESIS)
            header = SnapshotHeader(
                snapshot_id, sequence + 1, to_iso(published_at), published_by, corrects_id
            )
            chained = snapshot_hash(header, content_sha256, digests, previous)
            stored = {
                **props,
                "id": snapshot_id,
                "sequence": sequence + 1,
                "publishedAt": header.published_at,
                "publishedBy": published_by,
                "contentSha256": content_sha256,
                "files": json.dumps(
                    [
                        {"format": d.format.value, "sha256": d.sha256, "bytes": d.size}
                        for d in digests
                    ]
                ),
                "previousHash": previous,
                "hash": chained,
                "correctsId": corrects_id,
            }
            for batch in _batches(parts):
                await tx.run(q.ADD_REPORT_FILE_PARTS, rows=batch)
            rows = await tx.run(
                q.ARCHIVE_REPORT_SNAPSHOT,
                key=HEAD_KEY,
                previousSequence=sequence,
                sequence=sequence + 1,
                hash=chained,
                props={k: v for k, v in stored.items() if v is not None},
            )
            if not rows or rows[0]["appended"] != 1:
                raise ConflictError(
                    "the report archive moved while this publish held it; nothing was "
                    "published, publish again"
                )
            return _snapshot({k: v for k, v in stored.items() if v is not None})

        return await self._graph.write_transaction(work)

    async def snapshot(self, snapshot_id: str) -> StoredSnapshot | None:
        """The snapshot, if the token may read it."""
        return (await self.by_ids([snapshot_id])).get(snapshot_id)

    async def by_ids(self, ids: Sequence[str]) -> dict[str, StoredSnapshot]:
        """The snapshots of `ids` the token may read, by id: one read for them all."""
        rows = await self._graph.read(q.REPORT_SNAPSHOTS_BY_IDS, ids=list(ids))
        found = (_snapshot(r["snapshot"]) for r in rows)
        return {
            s.id: s
            for s in found
            if snapshot_readable(self._scope, s.units, s.regions, s.customer_id, s.redacted)
        }

    async def snapshots(self, first: int, after: str | None) -> list[StoredSnapshot]:
        """The snapshots the token may read, newest first, `first` after the id `after`."""
        rows = await self._graph.read(q.REPORT_SNAPSHOT_LIST)
        ids = [
            row["id"]
            for row in rows
            if snapshot_readable(
                self._scope,
                row["units"] or (),
                row["regions"] or (),
                row["customerId"],
                bool(row["redacted"]),
            )
        ]
        if after is not None:
            ids = ids[ids.index(after) + 1 :] if after in ids else []
        page = ids[:first]
        if not page:
            return []
        found = {
            s.id: s
            for s in (
                _snapshot(r["snapshot"])
                for r in await self._graph.read(q.REPORT_SNAPSHOTS_BY_IDS, ids=page)
            )
        }
        return [found[i] for i in page if i in found]

    async def file(self, snapshot_id: str, format: ReportFormat) -> bytes:
        """A stored file's bytes, as stored (the caller checks readability first)."""
        rows = await self._graph.read(
            q.REPORT_FILE_PARTS, snapshotId=snapshot_id, format=format.value
        )
        return b"".join(bytes(row["data"]) for row in rows)

    async def chain(self, page_size: int = 100) -> list[StoredSnapshot]:
        """Every snapshot in chain order (`hub report verify`)."""
        found: list[StoredSnapshot] = []
        after = 0
        while True:
            rows = await self._graph.read(
                q.REPORT_SNAPSHOT_CHAIN_PAGE, after=after, limit=page_size
            )
            found.extend(_snapshot(row["snapshot"]) for row in rows)
            if len(rows) < page_size:
                return found
            after = found[-1].sequence

    async def head(self) -> tuple[int, str] | None:
        rows = await self._graph.read(q.READ_REPORT_SNAPSHOT_HEAD, key=HEAD_KEY)
        return (int(rows[0]["sequence"]), str(rows[0]["hash"])) if rows else None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _batches(parts: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    # One part per statement: each stays a fraction of a Bolt message's limit.
    for part in parts:
        yield [part]


def _counted(row: Row) -> CountedObjective:
    services = sorted((s["name"] or "", s["id"]) for s in row["services"] if s and s.get("id"))
    unit, region = row["customerUnit"], row["customerRegion"]
    if row["kind"] != "SLA":
        # An OLA or UC sits with the first SLA customer it serves (by unit, region).
        via = sorted(
            (tuple(v) for v in row["via"] if v and any(x is not None for x in v)),
            key=lambda v: (str(v[0]), str(v[1])),
        )
        unit, region = via[0] if via else (None, None)
    return CountedObjective(
        objective=objective_from_props(row["objective"], agreement_id=row["agreementId"]),
        agreement_id=row["agreementId"],
        kind=row["kind"],
        agreement_name=row["agreementName"],
        customer_id=row["customerId"],
        business_unit=unit,
        region=region,
        services=tuple((service_id, name) for name, service_id in services),
        effective_from=from_iso(row["effectiveFrom"]),
        effective_to=from_iso(row["effectiveTo"]),
    )
