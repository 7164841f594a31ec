"""Sync runs and the records they quarantined."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from hub.graph.repositories.sync import QuarantineEntry, SyncRun
from hub.schema.base import DateTime


@strawberry.enum
class SyncStatus(enum.Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(name="SyncRun")
class SyncRunType:
    id: strawberry.ID
    connector: str
    status: SyncStatus
    started_at: DateTime
    finished_at: DateTime | None
    fetched: int
    created: int
    updated: int
    deleted: int
    quarantined: int
    error: str | None
    notes: list[str]

    @classmethod
    def from_run(cls, run: SyncRun) -> SyncRunType:
        return cls(
            id=strawberry.ID(run.id),
            connector=run.connector,
            status=SyncStatus(run.status),
            started_at=datetime.fromisoformat(run.started_at),
            finished_at=None
            if run.finished_at is None
            else datetime.fromisoformat(run.finished_at),
            fetched=run.fetched,
            created=run.created,
            updated=run.updated,
            deleted=run.deleted,
            quarantined=run.quarantined,
            error=run.error,
            notes=run.notes,
        )


@strawberry.type
class QuarantinedRecord:
    """A source record the hub rejected, with its payload and the reason."""

    key: strawberry.ID
    connector: str
    source: str
    record_type: str
    external_id: str | None
    payload: str = strawberry.field(description="The record as the source sent it (JSON).")
    reason: str
    first_seen_at: DateTime
    last_seen_at: DateTime

    @classmethod
    def from_entry(cls, entry: QuarantineEntry) -> QuarantinedRecord:
        return cls(
            key=strawberry.ID(entry.key),
            connector=entry.connector,
            source=entry.source,
            record_type=entry.record_type,
            external_id=entry.external_id,
            payload=entry.payload,
            reason=entry.reason,
            first_seen_at=datetime.fromisoformat(entry.first_seen_at),
            last_seen_at=datetime.fromisoformat(entry.last_seen_at),
        )
