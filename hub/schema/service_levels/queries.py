"""`violations`, `violationsAsRecorded` and `rootCause`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from hub.domain.breaches import Severity
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.windows import Window
from hub.engine.root_cause import NotAnSlaError
from hub.graph.errors import NotFoundError
from hub.schema.base import Connection, DateTime, connection, decode_cursor, utc_argument
from hub.schema.components.types import load_components
from hub.schema.context import Info
from hub.schema.service_levels.types import RootCauseCandidate, Violation, violation_types


def _utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else utc_argument(value, name)


@strawberry.type
class ServiceLevelQueries:
    @strawberry.field(
        description="Breached objectives of SLAs, one per objective and period, as of now: "
        "the current revision of each."
    )
    async def violations(
        self,
        info: Info,
        agreement_id: strawberry.ID | None = None,
        severity: list[Severity] | None = None,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[Violation]:
        size = info.context.page_size(first)
        found = await info.context.service_levels.violations(
            agreement_id=None if agreement_id is None else str(agreement_id),
            severities=severity,
            start=_utc(from_, "from"),
            end=_utc(to, "to"),
            after=decode_cursor(after),
            limit=size + 1,
        )
        return connection(violation_types(found), [v.id for v in found], size)

    @strawberry.field(
        description="`violations` as the hub had recorded them at `knownAt`: the revisions "
        "current then (recordedAt <= knownAt < supersededAt), including violations later "
        "revised or cleared."
    )
    async def violations_as_recorded(
        self,
        info: Info,
        known_at: DateTime,
        agreement_id: strawberry.ID | None = None,
        severity: list[Severity] | None = None,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> Connection[Violation]:
        size = info.context.page_size(first)
        found = await info.context.service_levels.violations_as_recorded(
            utc_argument(known_at, "knownAt"),
            agreement_id=None if agreement_id is None else str(agreement_id),
            severities=severity,
            start=_utc(from_, "from"),
            end=_utc(to, "to"),
            after=decode_cursor(after),
            limit=size + 1,
        )
        return connection(violation_types(found), [v.id for v in found], size)

    @strawberry.field(
        description="Components on the SLA's dependency chain that had incidents overlapping "
        "[from, to], ranked."
    )
    async def root_cause(
        self,
        info: Info,
        sla_id: strawberry.ID,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
    ) -> list[RootCauseCandidate]:
        start, end = utc_argument(from_, "from"), utc_argument(to, "to")
        if end <= start:
            raise InvalidInputError([FieldProblem("to", "must be after from")])
        if not info.context.actor.scope.internal:
            # Root cause is internal: a customer token gets it redacted, and, for an
            # SLA it may not read, the same NOT_FOUND as anyone.
            if await info.context.loaders.agreement.load(str(sla_id)) is None:
                raise NotFoundError("SLA", str(sla_id))
            return []
        try:
            candidates = await info.context.service_levels.root_cause(
                str(sla_id), Window(start, end), info.context.api.max_traversal_depth
            )
        except NotAnSlaError as exc:
            raise InvalidInputError([FieldProblem("slaId", str(exc).partition(": ")[2])]) from None
        ids = list(dict.fromkeys(i for c in candidates for i in c.path))
        by_id = {str(c.id): c for c in await load_components(info, ids)}
        return [
            RootCauseCandidate(
                component=by_id[c.component_id],
                path=[by_id[i] for i in c.path if i in by_id],
                incidents=c.incidents,
                score=c.score,
            )
            for c in candidates
            if c.component_id in by_id
        ]
