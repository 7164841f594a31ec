"""`auditTrail`: the audit records, oldest first (admins all; approvers those of scoped
records in their scope)."""

from __future__ import annotations

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.schema.audit.types import AuditConnection
from hub.schema.base import decode_cursor
from hub.schema.context import Info
from hub.schema.permissions import IsApprover


def _sequence_after(cursor: str | None) -> int:
    decoded = decode_cursor(cursor)
    if decoded is None:
        return 0
    if not decoded.isdigit():
        problem = FieldProblem("after", f"{quoted(cursor)} is not a cursor of the audit trail")
        raise InvalidInputError([problem])
    return int(decoded)


@strawberry.type
class AuditQueries:
    @strawberry.field(
        permission_classes=[IsApprover],
        description=(
            "Audit records, oldest first; admins see all, approvers those of scoped "
            "records in their scope."
        ),
    )
    async def audit_trail(
        self,
        info: Info,
        target_id: strawberry.ID | None = None,
        action: str | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> AuditConnection:
        size = info.context.page_size(first)
        records = await info.context.audit.trail(
            target_id=None if target_id is None else str(target_id),
            action=action,
            limit=size + 1,
            after=_sequence_after(after),
        )
        return AuditConnection.of(records, size)
