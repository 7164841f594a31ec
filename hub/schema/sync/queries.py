"""Sync history and quarantine; running a sync now (admins)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.schema.base import Connection, connection, decode_cursor
from hub.schema.context import Info
from hub.schema.permissions import IsAdmin, IsStaff
from hub.schema.sync.types import QuarantinedRecord, SyncRunType


@strawberry.type
class SyncQueries:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="Sync runs, newest first; `source` is a connector name.",
    )
    async def sync_runs(
        self,
        info: Info,
        # `source` in the schema (see run_sync for why not in Python).
        connector: Annotated[str | None, strawberry.argument(name="source")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SyncRunType]:
        size = info.context.page_size(first)
        runs = await info.context.sync.runs(connector, limit=size + 1, before=decode_cursor(after))
        return connection([SyncRunType.from_run(r) for r in runs], [r.id for r in runs], size)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Records a sync rejected, with the reason and the raw payload (admins).",
    )
    async def quarantine(
        self,
        info: Info,
        connector: Annotated[str | None, strawberry.argument(name="source")] = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[QuarantinedRecord]:
        size = info.context.page_size(first)
        entries = await info.context.sync.quarantined(
            connector, limit=size + 1, after=decode_cursor(after)
        )
        return connection(
            [QuarantinedRecord.from_entry(e) for e in entries], [e.key for e in entries], size
        )


@strawberry.type
class SyncMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Runs one sync of a configured connector now and returns the run.",
    )
    async def run_sync(
        self,
        info: Info,
        # Named `source` in the schema; in Python, `source` would collide with the
        # argument strawberry's permission extension passes on.
        connector: Annotated[str, strawberry.argument(name="source")],
    ) -> SyncRunType:
        runner = info.context.run_sync
        if runner is None:
            raise InvalidInputError([FieldProblem("source", "this hub runs no connectors")])
        return SyncRunType.from_run(await runner(connector))
