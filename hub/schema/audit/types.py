"""GraphQL types of the audit trail, as `governance.graphql` spells them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from hub.domain.audit import AuditRecord as AuditRecordValue
from hub.schema.base import DateTime, Node, PageInfo, encode_cursor


@strawberry.type(
    description=(
        "One change, in a hash chain: `hash` is the SHA-256 of the canonical JSON of "
        "{sequence, at, actor, action, targetId, reason, before, after, previousHash} "
        "as returned here."
    )
)
class AuditRecord(Node):
    sequence: int = strawberry.field(description="Position in the chain, from 1.")
    at: DateTime
    actor: str = strawberry.field(description='A user name, "sync:<connector>" or "cli".')
    action: str = strawberry.field(description="e.g. agreement.submit, token.revoke.")
    target_id: strawberry.ID | None
    reason: str | None
    before: str | None = strawberry.field(
        description="Canonical JSON of the changed values before the change, or null."
    )
    after: str | None = strawberry.field(description="... and after it.")
    previous_hash: str
    hash: str

    @classmethod
    def from_record(cls, record: AuditRecordValue) -> AuditRecord:
        return cls(
            id=strawberry.ID(record.id),
            sequence=record.sequence,
            # Served through the DateTime scalar, this is the `at` the hash covers.
            at=datetime.fromisoformat(record.at),
            actor=record.actor,
            action=record.action,
            target_id=None if record.target_id is None else strawberry.ID(record.target_id),
            reason=record.reason,
            before=record.before,
            after=record.after,
            previous_hash=record.previous_hash,
            hash=record.hash,
        )


@strawberry.type
class AuditEdge:
    node: AuditRecord
    cursor: str


@strawberry.type
class AuditConnection:
    edges: list[AuditEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, records: list[AuditRecordValue], page_size: int) -> AuditConnection:
        """A page from `records` fetched with one extra row, which only says that a next
        page exists. Cursors are sequences: the trail is paged in chain order."""
        page = records[:page_size]
        edges = [
            AuditEdge(node=AuditRecord.from_record(r), cursor=encode_cursor(str(r.sequence)))
            for r in page
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(records) > page_size,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
