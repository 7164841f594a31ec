"""Change requests in the graph: submitted, accepted (opening a DRAFT revision of the
agreement) or declined, each change audited, and the requester's outcome notified, in
the transaction of the change.

The repository is the access checkpoint for change requests
(`hub.graph.cypher.change_requests` says the rule): built with the reader's `Scope`, it
passes it to every statement that returns or changes one. A request out of scope does
not exist for the reader (`NotFoundError`, as for an unknown id).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain import change_requests as rules
from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.change_requests import ChangeRequest, ChangeRequestStatus
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import AgreementRevisionSpec
from hub.domain.notifications import NotificationError, Recipients, is_email_address
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import change_requests as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso
from hub.graph.repositories.agreements import AgreementRepository
from hub.graph.repositories.audit import write_audit
from hub.settings import Settings

log = logging.getLogger(__name__)

# The notification list told of every request and decision, if the settings name one
# (`[notifications.lists.change-requests]`); nothing is added to the settings for it.
NOTIFICATION_LIST = "change-requests"

Notify = Callable[[Transaction, ChangeRequest], Awaitable[None]]
"""Records the notification of a change to a request, inside its transaction."""


@dataclass(frozen=True, slots=True)
class ReadChangeRequest:
    """A request as a reader sees it: `shown_agreement_id` is the agreement version
    the reader may read (the one named, or, for a customer whose version a revision
    replaced, the one now in force)."""

    request: ChangeRequest
    shown_agreement_id: str | None


def change_request_props(request: ChangeRequest) -> dict[str, Any]:
    """The stored properties of a request but its id."""
    props = {
        "agreementId": request.agreement_id,
        "requestedBy": request.requested_by,
        "at": to_iso(request.at),
        "summary": request.summary,
        "status": str(request.status),
        "customerId": request.customer_id,
        "decidedBy": request.decided_by,
        "decidedAt": None if request.decided_at is None else to_iso(request.decided_at),
        "reason": request.reason,
        "revisionId": request.revision_id,
    }
    return {key: value for key, value in props.items() if value is not None}


def change_request_from_props(props: dict[str, Any], agreement_id: str) -> ChangeRequest:
    at = from_iso(props.get("at"))
    if at is None:
        raise ValueError(f"change request {props.get('id')!r} lacks its time")
    return ChangeRequest(
        id=str(props["id"]),
        agreement_id=agreement_id,
        requested_by=str(props.get("requestedBy") or ""),
        at=at,
        summary=str(props.get("summary") or ""),
        status=ChangeRequestStatus(props["status"]),
        customer_id=props.get("customerId"),
        decided_by=props.get("decidedBy"),
        decided_at=from_iso(props.get("decidedAt")),
        reason=props.get("reason"),
        revision_id=props.get("revisionId"),
    )


def _read(row: Row) -> ReadChangeRequest:
    return ReadChangeRequest(
        change_request_from_props(row["props"], row["agreementId"]), row["shownAgreementId"]
    )


def outbox_notify(graph: Graph, settings: Settings) -> Notify | None:
    """A `Notify` through the durable outbox: to the `change-requests` list when the
    settings configure it, and to the requester when their user name is an email
    address and SMTP is configured. None when neither can be reached: the outcome is
    then only shown by `changeRequests`, where the requester reads it."""
    from hub.notify.outbox import Outbox  # the notify layer builds on the graph layer

    has_list = NOTIFICATION_LIST in settings.notifications.lists
    if not has_list and not settings.smtp.enabled:
        return None
    outbox = Outbox(graph, settings)

    async def notify(tx: Transaction, request: ChangeRequest) -> None:
        emails = (
            (request.requested_by,)
            if settings.smtp.enabled
            and request.status.decided
            and is_email_address(request.requested_by)
            else ()
        )
        to = Recipients(lists=(NOTIFICATION_LIST,) if has_list else (), emails=emails)
        if not to:
            return
        subject, body = notice(request)
        try:
            await outbox.enqueue(
                tx,
                f"change-request.{request.status.lower()}",
                subject,
                body,
                to,
                payload={
                    "changeRequestId": request.id,
                    "agreementId": request.agreement_id,
                    "status": str(request.status),
                    "requestedBy": request.requested_by,
                    "decidedBy": request.decided_by,
                    "reason": request.reason,
                    "revisionId": request.revision_id,
                },
                dedupe_key=f"change-request:{request.id}:{request.status}",
                about=request.id,
            )
        except NotificationError as exc:
            # The decision stands without its notice: the requester reads the outcome
            # in `changeRequests`. The settings need fixing; say so loudly.
            log.error("change request %s: notification not recorded: %s", request.id, exc)

    return notify


def notice(request: ChangeRequest) -> tuple[str, str]:
    """The subject and text of the notification of `request`'s latest change. It names
    only the request, its agreement's id and the people involved."""
    first_line = request.summary.splitlines()[0][:120]
    match request.status:
        case ChangeRequestStatus.SUBMITTED:
            subject = f"Change request submitted by {request.requested_by}: {first_line}"
            text = (
                f"{request.requested_by} asks for a change of agreement "
                f"{request.agreement_id}:\n\n{request.summary}\n\n"
                f"Accept or decline it: change request {request.id}."
            )
        case ChangeRequestStatus.ACCEPTED:
            subject = f"Change request accepted: {first_line}"
            text = (
                f"{request.decided_by} accepted change request {request.id} of "
                f"{request.requested_by} and opened DRAFT revision {request.revision_id} "
                f"of agreement {request.agreement_id}."
                + (f"\n\nNote: {request.reason}" if request.reason else "")
            )
        case ChangeRequestStatus.DECLINED:
            subject = f"Change request declined: {first_line}"
            text = (
                f"{request.decided_by} declined change request {request.id} of "
                f"{request.requested_by}.\n\nReason: {request.reason}"
            )
    return subject, text


class ChangeRequestRepository:
    """Change requests, read and changed within `scope` at `clock`'s time; `notify`
    (see `outbox_notify`) records the notification of each change in its transaction."""

    def __init__(
        self,
        graph: Graph,
        scope: Scope = UNLIMITED,
        clock: Clock = system_clock,
        notify: Notify | None = None,
    ) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock
        self._notify = notify

    # ---- reads ----------------------------------------------------------------

    async def by_ids(self, ids: Sequence[str]) -> dict[str, ReadChangeRequest]:
        rows = await self._graph.read(
            q.CHANGE_REQUESTS_BY_IDS, ids=list(ids), **self._scope.params()
        )
        found = (_read(row) for row in rows)
        return {read.request.id: read for read in found}

    async def get(self, request_id: str) -> ReadChangeRequest:
        found = await self.by_ids([request_id])
        if request_id not in found:
            raise NotFoundError("change request", request_id)
        return found[request_id]

    async def find(
        self,
        *,
        statuses: Iterable[ChangeRequestStatus] | None = None,
        agreement_id: str | None = None,
        limit: int,
    ) -> list[ReadChangeRequest]:
        """The requests the reader may read, newest first, at most `limit`."""
        rows = await self._graph.read(
            q.LIST_CHANGE_REQUESTS,
            statuses=None if statuses is None else sorted(str(s) for s in statuses),
            agreementId=agreement_id,
            limit=limit,
            **self._scope.params(),
        )
        return [_read(row) for row in rows]

    # ---- the workflow ---------------------------------------------------------

    async def submit(self, actor: Actor, agreement_id: str, summary: str | None) -> ChangeRequest:
        """A new SUBMITTED request about an agreement version the requester may read;
        one it may not read is named as one that does not exist."""
        request = rules.submit(new_id("ChangeRequest"), agreement_id, actor, summary, self._clock())
        audit = AuditEntry.of(
            actor, "change-request.submit", request.id, after=request.audit_values()
        )

        async def work(tx: Transaction) -> bool:
            readable = await tx.run(q.READABLE_AGREEMENT, id=agreement_id, **self._scope.params())
            if not readable:
                return False
            await tx.run(
                q.CREATE_CHANGE_REQUEST,
                id=request.id,
                agreementId=agreement_id,
                props=change_request_props(request),
            )
            await write_audit(tx, audit)
            if self._notify is not None:
                await self._notify(tx, request)
            return True

        if not await self._graph.write_transaction(work):
            raise InvalidInputError(
                [FieldProblem("agreementId", f"no agreement with id {quoted(agreement_id)}")]
            )
        return request

    async def accept(
        self,
        request_id: str,
        actor: Actor,
        agreements: AgreementRepository,
        note: str | None = None,
        changes: AgreementRevisionSpec | None = None,
    ) -> ChangeRequest:
        """SUBMITTED -> ACCEPTED: opens DRAFT revision n+1 of the latest version n of the
        request's agreement, with `changes` (None: its terms copied unchanged) and its
        reason naming the request, and links it to the request (`revision`). The draft
        goes through approval as any other.

        `agreements` is the caller's repository (same scope and clock). The revision is
        its own transaction (`AgreementRepository.revise`); should another decision
        overtake this one meanwhile, the draft is withdrawn again and CONFLICT raised.
        """
        read = await self.get(request_id)
        request = read.request
        rules.check_accept(request, actor)
        # Validates the note before anything is written; the revision id comes below.
        rules.accept(request, actor, "", self._clock(), note)
        named = await agreements.get(request.agreement_id)
        versions = (await agreements.versions_by_lineages([named.lineage]))[named.lineage]
        latest = versions[-1] if versions else named
        revision_id = await agreements.revise(
            latest.id,
            changes or AgreementRevisionSpec(),
            actor,
            rules.revision_reason(request, note),
        )
        decided = rules.accept(request, actor, revision_id, self._clock(), note)
        try:
            await self._decide(request, decided, actor, "change-request.accept")
        except ConflictError:
            await agreements.withdraw(
                revision_id, actor, f"change request {request.id} was decided meanwhile"
            )
            raise
        return decided

    async def decline(self, request_id: str, actor: Actor, reason: str | None) -> ChangeRequest:
        """SUBMITTED -> DECLINED, with the reason the requester is shown."""
        read = await self.get(request_id)
        decided = rules.decline(read.request, actor, reason, self._clock())
        await self._decide(read.request, decided, actor, "change-request.decline")
        return decided

    async def _decide(
        self, before: ChangeRequest, after: ChangeRequest, actor: Actor, action: str
    ) -> None:
        audit = AuditEntry.of(
            actor,
            action,
            after.id,
            reason=after.reason,
            before={"status": str(before.status)},
            after={
                key: value
                for key, value in after.audit_values().items()
                if key in ("status", "decidedBy", "revisionId")
            },
        )
        decided_at = after.decided_at
        assert decided_at is not None

        async def work(tx: Transaction) -> bool:
            moved = await tx.run(
                q.DECIDE_CHANGE_REQUEST,
                id=after.id,
                status=str(after.status),
                decidedBy=after.decided_by,
                decidedAt=to_iso(decided_at),
                reason=after.reason,
                revisionId=after.revision_id,
                **self._scope.params(),
            )
            if not moved:
                return False
            if after.revision_id is not None:
                await tx.run(q.LINK_REVISION, id=after.id, revisionId=after.revision_id)
            await write_audit(tx, audit)
            if self._notify is not None:
                await self._notify(tx, after)
            return True

        if not await self._graph.write_transaction(work):
            raise ConflictError(
                f"change request {after.id!r} was decided while this request ran; read it again"
            )
