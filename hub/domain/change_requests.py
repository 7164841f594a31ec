"""Change requests: the portal's self-service asks for a change of an agreement. Pure
rules, no I/O.

SUBMITTED -> ACCEPTED (an editor opens a DRAFT revision of the agreement for it) or
-> DECLINED (an editor, with a reason). Both ends are final: a request declined by
mistake is submitted again.

Who may do what (reporting.graphql, "Change requests"):

- submit: an editor (or stronger) or a `customer` token, naming an agreement its
  token may read; the summary says what to change and why;
- accept, decline: an editor (or stronger) who may read the agreement; never a
  `customer` token, which changes nothing but its own requests.

Every function takes `now`, the server's time, so that tests can choose it.

    >>> from datetime import UTC, datetime
    >>> from hub.domain.workflow import Actor, Role
    >>> at = datetime(2026, 5, 1, tzinfo=UTC)
    >>> request = submit("chr_1", "agr_1", Actor("cara", Role.CUSTOMER, customer_id="cus_1"),
    ...                  "Raise the availability target to 99.95 %", at)
    >>> declined = decline(request, Actor("erin", Role.EDITOR), "Not this quarter", at)
    >>> (declined.status, declined.decided_by, declined.reason)
    (<ChangeRequestStatus.DECLINED: 'DECLINED'>, 'erin', 'Not this quarter')
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.windows import require_utc
from hub.domain.workflow import Actor, Role, WorkflowError

# Long enough for what and why, short enough for a notification subject line's body.
MAX_SUMMARY_LENGTH = 4000
MAX_REASON_LENGTH = 2000


class ChangeRequestStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"

    @property
    def decided(self) -> bool:
        return self is not ChangeRequestStatus.SUBMITTED


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """One request, as stored.

    `agreement_id` is the version the requester read when submitting; `customer_id`
    the customer a `customer` token was bound to (None for staff): customer tokens read
    the requests of their own customer (`hub.graph.cypher.change_requests`).
    `revision_id` is the DRAFT revision an accepted request opened.
    """

    id: str
    agreement_id: str
    requested_by: str
    at: datetime
    summary: str
    status: ChangeRequestStatus = ChangeRequestStatus.SUBMITTED
    customer_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    revision_id: str | None = None

    def audit_values(self) -> dict[str, Any]:
        """What the audit trail records of the request (JSON values)."""
        values = {
            "agreementId": self.agreement_id,
            "status": str(self.status),
            "summary": self.summary,
            "requestedBy": self.requested_by,
            "customerId": self.customer_id,
            "decidedBy": self.decided_by,
            "reason": self.reason,
            "revisionId": self.revision_id,
        }
        return {key: value for key, value in values.items() if value is not None}


def may_submit(actor: Actor) -> bool:
    """Editors (and stronger) and customer tokens submit change requests."""
    return actor.can(Role.EDITOR) or actor.role is Role.CUSTOMER


def may_decide(actor: Actor) -> bool:
    """Only staff editors (and stronger) accept or decline."""
    return actor.can(Role.EDITOR)


def _text(value: str | None, field: str, limit: int, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInputError([FieldProblem(field, f"give {what}")])
    if len(text) > limit:
        raise InvalidInputError(
            [FieldProblem(field, f"at most {limit:,} characters; this is {len(text):,}")]
        )
    return text


def submit(
    request_id: str, agreement_id: str, actor: Actor, summary: str | None, now: datetime
) -> ChangeRequest:
    """A new SUBMITTED request of `actor` about agreement version `agreement_id`."""
    if not may_submit(actor):
        raise WorkflowError("submitting a change request needs the editor role or a customer token")
    text = _text(summary, "summary", MAX_SUMMARY_LENGTH, "a summary: what to change, and why")
    return ChangeRequest(
        id=request_id,
        agreement_id=agreement_id,
        requested_by=actor.user,
        at=require_utc(now, "now"),
        summary=text,
        customer_id=actor.customer_id if actor.role is Role.CUSTOMER else None,
    )


def _check_open(request: ChangeRequest, actor: Actor, verb: str) -> None:
    if not may_decide(actor):
        raise WorkflowError(f"{verb} a change request needs the editor role")
    if request.status.decided:
        by = f" by {request.decided_by}" if request.decided_by else ""
        raise WorkflowError(
            f"change request {request.id} was {request.status}{by} already; a decided request "
            "stays as it is: submit a new one to ask again"
        )


def check_accept(request: ChangeRequest, actor: Actor) -> None:
    """Whether `actor` may accept `request` now (before its revision is opened)."""
    _check_open(request, actor, "accepting")


def accept(
    request: ChangeRequest,
    actor: Actor,
    revision_id: str,
    now: datetime,
    note: str | None = None,
) -> ChangeRequest:
    """SUBMITTED -> ACCEPTED: `revision_id` is the DRAFT revision opened for it."""
    check_accept(request, actor)
    reason = None
    if note is not None and note.strip():
        reason = _text(note, "note", MAX_REASON_LENGTH, "a note")
    return replace(
        request,
        status=ChangeRequestStatus.ACCEPTED,
        decided_by=actor.user,
        decided_at=require_utc(now, "now"),
        reason=reason,
        revision_id=revision_id,
    )


def decline(
    request: ChangeRequest, actor: Actor, reason: str | None, now: datetime
) -> ChangeRequest:
    """SUBMITTED -> DECLINED, with the reason the requester is shown."""
    _check_open(request, actor, "declining")
    text = _text(reason, "reason", MAX_REASON_LENGTH, "a reason: the requester is shown it")
    return replace(
        request,
        status=ChangeRequestStatus.DECLINED,
        decided_by=actor.user,
        decided_at=require_utc(now, "now"),
        reason=text,
    )


def revision_reason(request: ChangeRequest, note: str | None = None) -> str:
    """The reason recorded on the DRAFT revision an accepted request opens."""
    first_line = request.summary.splitlines()[0][:200]
    text = f"change request {request.id} by {request.requested_by}: {first_line}"
    return f"{text} ({note.strip()})" if note and note.strip() else text
