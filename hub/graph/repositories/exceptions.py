"""Service exceptions in the graph: requested, approved, rejected and cancelled, each
change audited in its own transaction; the approved windows the engine leaves out;
and the settings' maintenance windows adopted as approved exceptions at start-up.

The repository is the access checkpoint for exceptions (`hub.graph.cypher.exceptions`
says the rule): built with the reader's `Scope`, it passes it to every statement that
returns or changes one. Times come from `clock` (the server's time), which tests set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from hub.domain import exceptions as rules
from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.exceptions import (
    SETTINGS_ACTOR,
    ExceptionKind,
    ExceptionStatus,
    ServiceException,
    SettingsWindow,
    approvals_from_json,
    approvals_json,
)
from hub.domain.models import Approval
from hub.domain.windows import Window
from hub.domain.workflow import Actor, WorkflowError
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import exceptions as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso
from hub.graph.repositories.audit import write_audit, write_audits

log = logging.getLogger(__name__)

# Components linked per statement when a settings window names every component.
_LINK_BATCH = 2000


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else to_iso(moment)


def exception_props(exception: ServiceException) -> dict[str, Any]:
    """The stored properties of an exception but its id (and key)."""
    props = {
        "kind": str(exception.kind),
        "status": str(exception.status),
        "start": to_iso(exception.start),
        "end": to_iso(exception.end),
        "reason": exception.reason,
        "requestedBy": exception.requested_by,
        "requestedAt": to_iso(exception.requested_at),
        "approvals": approvals_json(exception.approvals),
        "statusReason": exception.status_reason,
        "changedBy": exception.changed_by,
        "changedAt": _iso(exception.changed_at),
    }
    return {key: value for key, value in props.items() if value is not None}


def exception_from_props(props: dict[str, Any], component_ids: Iterable[str]) -> ServiceException:
    start, end, requested_at = (
        from_iso(props.get(name)) for name in ("start", "end", "requestedAt")
    )
    if start is None or end is None or requested_at is None:
        raise ValueError(f"exception {props.get('id')!r} lacks its window or request time")
    return ServiceException(
        id=str(props["id"]),
        kind=ExceptionKind(props["kind"]),
        status=ExceptionStatus(props["status"]),
        component_ids=tuple(sorted(component_ids)),
        start=start,
        end=end,
        reason=str(props.get("reason") or ""),
        requested_by=str(props.get("requestedBy") or ""),
        requested_at=requested_at,
        approvals=approvals_from_json(props.get("approvals")),
        status_reason=props.get("statusReason"),
        changed_by=props.get("changedBy"),
        changed_at=from_iso(props.get("changedAt")),
    )


def _read(row: Row) -> tuple[ServiceException, bool]:
    """The exception as the reader may see it (only the components it may read), and
    whether the reader may change it (it may read every one)."""
    readable = set(row["readableIds"])
    exception = exception_from_props(row["props"], readable)
    return exception, readable == set(row["componentIds"])


class ExceptionRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    # ---- reads ----------------------------------------------------------------

    async def by_ids(self, ids: Sequence[str]) -> dict[str, ServiceException]:
        found = await self._by_ids(ids)
        return {key: exception for key, (exception, _) in found.items()}

    async def get(self, exception_id: str) -> ServiceException:
        exception, _ = await self._get(exception_id)
        return exception

    async def find(
        self,
        *,
        component_id: str | None = None,
        statuses: Iterable[ExceptionStatus] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int,
    ) -> list[ServiceException]:
        """Exceptions overlapping [start, end) (open ends when None), soonest first, at
        most `limit`; of one component when `component_id` is given."""
        params: dict[str, Any] = {
            "statuses": None if statuses is None else [str(s) for s in statuses],
            "from": _iso(start),
            "to": _iso(end),
            "limit": limit,
            **self._scope.params(),
        }
        if component_id is None:
            rows = await self._graph.read(q.LIST_EXCEPTIONS, **params)
        else:
            rows = await self._graph.read(
                q.COMPONENT_EXCEPTIONS, componentId=component_id, **params
            )
        found = [_read(row)[0] for row in rows]
        return sorted(found, key=lambda e: (e.start, e.id))

    async def _by_ids(self, ids: Sequence[str]) -> dict[str, tuple[ServiceException, bool]]:
        rows = await self._graph.read(q.EXCEPTIONS_BY_IDS, ids=list(ids), **self._scope.params())
        found = (_read(row) for row in rows)
        return {exception.id: (exception, changeable) for exception, changeable in found}

    async def _get(self, exception_id: str) -> tuple[ServiceException, bool]:
        found = await self._by_ids([exception_id])
        if exception_id not in found:
            raise NotFoundError("exception", exception_id)
        return found[exception_id]

    # ---- the workflow ---------------------------------------------------------

    async def request(
        self,
        actor: Actor,
        *,
        kind: ExceptionKind,
        components: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str | None,
    ) -> ServiceException:
        """A new exception PENDING_APPROVAL. Each component must exist and be readable
        by the requester; one that is not is named as one that does not exist."""
        now = self._clock()
        spec = rules.check_request(actor, kind, components, start, end, reason, now)
        exception = ServiceException(
            id=new_id("ServiceException"),
            kind=spec.kind,
            status=ExceptionStatus.PENDING_APPROVAL,
            component_ids=spec.component_ids,
            start=spec.start,
            end=spec.end,
            reason=spec.reason,
            requested_by=actor.user,
            requested_at=now,
        )
        audit = AuditEntry.of(
            actor,
            "exception.request",
            exception.id,
            reason=spec.reason,
            after=exception.audit_values(),
        )

        async def work(tx: Transaction) -> list[str]:
            rows = await tx.run(
                q.READABLE_COMPONENTS, ids=list(spec.component_ids), **self._scope.params()
            )
            readable = {row["id"] for row in rows}
            missing = [i for i in spec.component_ids if i not in readable]
            if missing:
                return missing
            await tx.run(q.CREATE_EXCEPTION, id=exception.id, props=exception_props(exception))
            await tx.run(q.LINK_EXCUSED, id=exception.id, components=list(spec.component_ids))
            await write_audit(tx, audit)
            return []

        missing = await self._graph.write_transaction(work)
        if missing:
            raise InvalidInputError(
                [
                    FieldProblem(
                        f"components.{list(components).index(component_id)}",
                        f"no service or CI with id {quoted(component_id)}",
                    )
                    for component_id in missing
                ]
            )
        return await self.get(exception.id)

    async def approve(
        self, exception_id: str, actor: Actor, note: str | None = None
    ) -> ServiceException:
        """PENDING_APPROVAL -> APPROVED, by an approver who did not request it."""
        return await self._change(
            exception_id,
            actor,
            "exception.approve",
            note,
            lambda e, now: rules.approve(e, actor, now, note),
        )

    async def reject(self, exception_id: str, actor: Actor, reason: str | None) -> ServiceException:
        """PENDING_APPROVAL -> REJECTED, by an approver, with a reason."""
        text = rules.require_reason(reason, "reason", "for rejecting the exception")
        return await self._change(
            exception_id,
            actor,
            "exception.reject",
            text,
            lambda e, now: rules.reject(e, actor, text, now),
        )

    async def cancel(self, exception_id: str, actor: Actor, reason: str | None) -> ServiceException:
        """PENDING_APPROVAL (any time) or APPROVED (before its start) -> CANCELLED."""
        text = rules.require_reason(reason, "reason", "for cancelling the exception")
        return await self._change(
            exception_id,
            actor,
            "exception.cancel",
            text,
            lambda e, now: rules.cancel(e, actor, text, now),
        )

    async def _change(
        self,
        exception_id: str,
        actor: Actor,
        action: str,
        reason: str | None,
        decide: Callable[[ServiceException, datetime], ServiceException],
    ) -> ServiceException:
        """Apply `decide` to the exception as read, as a compare-and-set on its status,
        audited in the same transaction. A change that another one overtook is told
        CONFLICT; reading it again shows what happened."""
        exception, changeable = await self._get(exception_id)
        if not changeable:
            raise WorkflowError(
                f"exception {exception_id} names components outside your access; someone "
                "whose token reads every one of them must change it"
            )
        now = self._clock()
        changed = decide(exception, now)
        audit = AuditEntry.of(
            actor,
            action,
            exception.id,
            reason=reason,
            before={"status": str(exception.status)},
            after={
                "status": str(changed.status),
                "approvals": [a.by for a in changed.approvals],
            },
        )

        async def work(tx: Transaction) -> bool:
            moved = await tx.run(
                q.TRANSITION_EXCEPTION,
                id=exception.id,
                expectedStatus=str(exception.status),
                status=str(changed.status),
                approvals=approvals_json(changed.approvals),
                statusReason=changed.status_reason,
                changedBy=changed.changed_by,
                changedAt=_iso(changed.changed_at),
                **self._scope.params(),
            )
            if not moved:
                return False
            await write_audit(tx, audit)
            return True

        if not await self._graph.write_transaction(work):
            raise ConflictError(
                f"exception {exception_id!r} changed while this request ran; read it again"
            )
        return await self.get(exception_id)

    # ---- what the engine leaves out --------------------------------------------

    async def excused_windows(
        self, objective_ids: Sequence[str], start: datetime | None, end: datetime
    ) -> dict[str, list[Window]]:
        """The APPROVED windows overlapping [start, end) (from the beginning of time when
        `start` is None) of the components each objective answers for: what its
        agreement covers, or the service that holds it. Merged, in order; one statement
        for any number of objectives. Reads every exception whatever the scope: it is
        how figures are computed, not what a reader is shown."""
        found = await self.approved_windows(objective_ids, start, end)
        return {objective_id: rules.merged_windows(w) for objective_id, w in found.items()}

    async def approved_windows(
        self, objective_ids: Sequence[str], start: datetime | None, end: datetime
    ) -> dict[str, list[Window]]:
        """Like `excused_windows`, but each exception's window apart, unmerged and in
        no particular order: a caller that reads a wide span once can then pick, for
        each narrower span, exactly the windows a read of that span would give."""
        if not objective_ids:
            return {}
        rows = await self._graph.read(
            q.EXCUSED_WINDOWS,
            ids=list(dict.fromkeys(objective_ids)),
            **{"from": _iso(start), "to": to_iso(end)},
        )
        found: dict[str, list[Window]] = {}
        for row in rows:
            windows = []
            for begins, ends in zip(row["starts"], row["ends"], strict=True):
                windows.append(Window(datetime.fromisoformat(begins), datetime.fromisoformat(ends)))
            found[row["id"]] = windows
        return found


# ---- the migration path of `slo.maintenance_windows` -------------------------------------


async def adopt_settings_windows(
    graph: Graph, windows: Sequence[SettingsWindow], clock: Clock = system_clock
) -> list[str]:
    """Make each settings window an APPROVED exception, requested and approved by
    "settings" and audited as `exception.adopt`, unless one with its key exists: a
    restart (or a second replica) adopts nothing twice. A window that names no
    components excuses every component that is not deleted; one whose components
    are all unknown is skipped with a warning (and tried again at the next start).
    Returns the ids of the exceptions created now."""
    if not windows:
        return []
    keyed = {window.key: window for window in windows}
    existing = {row["key"] for row in await graph.read(q.ADOPTED_KEYS, keys=list(keyed))}
    wanted = [(key, window) for key, window in keyed.items() if key not in existing]
    if not wanted:
        return []
    refs = sorted({ref for _, w in wanted for ref in w.components or ()})
    resolved: dict[str, str | None] = {}
    if refs:
        rows = await graph.read(q.RESOLVE_COMPONENT_REFS, refs=refs)
        resolved = {row["ref"]: row["id"] for row in rows}
    everything: list[str] | None = None
    now = clock()
    plans: list[tuple[str, ServiceException]] = []
    for key, window in wanted:
        if window.components is None:
            if everything is None:
                everything = [row["id"] for row in await graph.read(q.LIVE_COMPONENT_IDS)]
            components = tuple(everything)
            log.warning(
                "maintenance window %s - %s names no components: adopted as an exception "
                "for every component (%d); name them in slo.maintenance_windows",
                window.start.isoformat(),
                window.end.isoformat(),
                len(components),
            )
        else:
            unknown = [ref for ref in window.components if resolved.get(ref) is None]
            if unknown:
                log.warning(
                    "maintenance window %s - %s: no component %s; those are left out",
                    window.start.isoformat(),
                    window.end.isoformat(),
                    ", ".join(quoted(ref) for ref in unknown),
                )
            components = tuple(
                dict.fromkeys(i for ref in window.components if (i := resolved.get(ref)))
            )
        if not components:
            log.warning(
                "maintenance window %s - %s names no component the graph holds; not adopted",
                window.start.isoformat(),
                window.end.isoformat(),
            )
            continue
        exception = ServiceException(
            id=new_id("ServiceException"),
            kind=ExceptionKind.PLANNED_MAINTENANCE,
            status=ExceptionStatus.APPROVED,
            component_ids=components,
            start=window.start,
            end=window.end,
            reason=window.reason,
            requested_by=SETTINGS_ACTOR,
            requested_at=now,
            approvals=(
                Approval(by=SETTINGS_ACTOR, at=now, note="adopted from slo.maintenance_windows"),
            ),
            changed_by=SETTINGS_ACTOR,
            changed_at=now,
        )
        plans.append((key, exception))

    async def work(tx: Transaction) -> list[str]:
        # Read again under the transaction: another replica may have adopted meanwhile.
        rows = await tx.run(q.ADOPTED_KEYS, keys=[key for key, _ in plans])
        taken = {row["key"] for row in rows}
        created = []
        entries = []
        for key, exception in plans:
            if key in taken:
                continue
            await tx.run(
                q.ADOPT_EXCEPTION, key=key, id=exception.id, props=exception_props(exception)
            )
            ids = list(exception.component_ids)
            for first in range(0, len(ids), _LINK_BATCH):
                await tx.run(
                    q.LINK_EXCUSED, id=exception.id, components=ids[first : first + _LINK_BATCH]
                )
            values = exception.audit_values()
            if len(ids) > 100:
                values["components"] = f"{len(ids)} components"
            entries.append(
                AuditEntry.of(
                    SETTINGS_ACTOR,
                    "exception.adopt",
                    exception.id,
                    reason=exception.reason,
                    after={**values, "key": key},
                )
            )
            created.append(exception.id)
        await write_audits(tx, entries)
        return created

    if not plans:
        return []
    created = await graph.write_transaction(work)
    if created:
        log.info("adopted %d maintenance windows from the settings as exceptions", len(created))
    return created
