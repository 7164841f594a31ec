"""Service exceptions: windows in which named components are excused. Pure rules, no I/O.

PENDING_APPROVAL -> APPROVED, or -> REJECTED, or -> CANCELLED; APPROVED -> CANCELLED
before the window starts. An editor requests; an approver who did not request it
approves (four eyes) or rejects it; an editor (or stronger) cancels it. Only an
APPROVED exception changes how anything is measured (`docs/service-levels.md`,
"Exceptions"), which is why its window is fixed once approved:

- no backdating: approval fails when the window starts further back than the kind
  allows at the moment of approval: `EMERGENCY` up to 72 hours, `PLANNED_MAINTENANCE`
  not at all;
- no edits: an exception's kind, components and window never change; a wrong one is
  cancelled (an APPROVED one only before its start, since from then on it has shaped
  figures already reported) and requested again. A PENDING_APPROVAL one has shaped
  nothing and may be cancelled at any time;
- rejecting and cancelling take a reason.

Every function here takes `now`, the server's time, so that tests can choose it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import Approval
from hub.domain.windows import Window, require_utc
from hub.domain.workflow import Actor, Role, WorkflowError


class ExceptionKind(enum.StrEnum):
    PLANNED_MAINTENANCE = "PLANNED_MAINTENANCE"
    EMERGENCY = "EMERGENCY"

    @property
    def backdating_allowed(self) -> timedelta:
        """How far before its approval an exception of this kind may start."""
        return BACKDATING_ALLOWED[self]


class ExceptionStatus(enum.StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


BACKDATING_ALLOWED = {
    ExceptionKind.EMERGENCY: timedelta(hours=72),
    ExceptionKind.PLANNED_MAINTENANCE: timedelta(0),
}

# Long enough to say why, short enough for a log line and an audit record.
MAX_REASON_LENGTH = 2000
# A window is an excuse for an event, not a standing exemption.
MAX_WINDOW = timedelta(days=31)
MAX_COMPONENTS = 500


def approvals_json(approvals: Iterable[Approval]) -> str:
    """The stored form of approvals: JSON text, oldest first. (An exception's approvals
    sign for no board group: one approval by another approver puts it in effect.)"""
    return json.dumps(
        [{"by": a.by, "at": a.at.isoformat(), "note": a.note, "group": a.group} for a in approvals],
        sort_keys=True,
    )


def approvals_from_json(text: str | None) -> tuple[Approval, ...]:
    if not text:
        return ()
    return tuple(
        Approval(
            by=str(item["by"]),
            at=datetime.fromisoformat(item["at"]),
            group=item.get("group"),
            note=item.get("note"),
        )
        for item in json.loads(text)
    )


@dataclass(frozen=True, slots=True)
class ExceptionSpec:
    """A validated request: what `check_request` returns."""

    kind: ExceptionKind
    component_ids: tuple[str, ...]
    start: datetime
    end: datetime
    reason: str

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)


@dataclass(frozen=True, slots=True)
class ServiceException:
    """An exception as stored: its request, where it stands, and who moved it there.

    `status_reason` is the reason given for the rejection or cancellation; `changed_by`
    and `changed_at` say who made the last change of status and when.
    """

    id: str
    kind: ExceptionKind
    status: ExceptionStatus
    component_ids: tuple[str, ...]
    start: datetime
    end: datetime
    reason: str
    requested_by: str
    requested_at: datetime
    approvals: tuple[Approval, ...] = ()
    status_reason: str | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    @property
    def in_effect(self) -> bool:
        """Whether it changes how anything is measured: only once APPROVED."""
        return self.status is ExceptionStatus.APPROVED

    def audit_values(self) -> dict[str, object]:
        """The values an audit record shows for this exception."""
        return {
            "kind": str(self.kind),
            "status": str(self.status),
            "components": list(self.component_ids),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reason": self.reason,
            "approvals": [a.by for a in self.approvals],
        }


def _problem_if_blank(field: str, value: str | None, what: str) -> FieldProblem | None:
    if value is None or not value.strip():
        return FieldProblem(field, f"give the reason {what}")
    if len(value) > MAX_REASON_LENGTH:
        return FieldProblem(field, f"at most {MAX_REASON_LENGTH:,} characters, not {len(value):,}")
    return None


def require_reason(value: str | None, field: str, what: str) -> str:
    """`value` stripped; InvalidInputError naming `field` when it is blank or too long."""
    problem = _problem_if_blank(field, value, what)
    if problem is not None:
        raise InvalidInputError([problem])
    assert value is not None
    return value.strip()


def _backdating_problem(kind: ExceptionKind, start: datetime, now: datetime) -> str | None:
    earliest = now - kind.backdating_allowed
    if start >= earliest:
        return None
    if kind is ExceptionKind.PLANNED_MAINTENANCE:
        return (
            f"planned maintenance cannot start in the past ({start.isoformat()} is before "
            f"{now.isoformat()}); request an EMERGENCY exception for an outage under way"
        )
    return (
        f"an emergency exception may start at most 72 hours back, at "
        f"{earliest.isoformat()} now, not {start.isoformat()}"
    )


def check_request(
    actor: Actor,
    kind: ExceptionKind,
    component_ids: Sequence[str],
    start: datetime,
    end: datetime,
    reason: str | None,
    now: datetime,
) -> ExceptionSpec:
    """Validate a request by `actor`; every problem is reported at once, fields named
    as in `ExceptionInput`. A window that could never be approved (backdated beyond
    what its kind allows) is refused here already."""
    if not actor.can(Role.EDITOR):
        raise WorkflowError("requesting an exception needs the editor role")
    problems: list[FieldProblem] = []
    components = tuple(dict.fromkeys(component_ids))
    if not components:
        problems.append(FieldProblem("components", "name at least one service or CI"))
    elif len(components) > MAX_COMPONENTS:
        problems.append(
            FieldProblem("components", f"at most {MAX_COMPONENTS} components per exception")
        )
    times_ok = True
    for field, value in (("start", start), ("end", end)):
        try:
            require_utc(value, field)
        except ValueError as exc:
            times_ok = False
            problems.append(FieldProblem(field, str(exc).removeprefix(f"{field}: ")))
    if times_ok:
        if end <= start:
            problems.append(FieldProblem("end", "must be after start"))
        elif end - start > MAX_WINDOW:
            problems.append(
                FieldProblem("end", "an exception lasts at most 31 days; request another one")
            )
        backdated = _backdating_problem(kind, start, now)
        if backdated is not None:
            problems.append(FieldProblem("start", backdated))
    reason_problem = _problem_if_blank("reason", reason, "for the exception")
    if reason_problem is not None:
        problems.append(reason_problem)
    if problems:
        raise InvalidInputError(problems)
    assert reason is not None
    return ExceptionSpec(kind, components, require_utc(start), require_utc(end), reason.strip())


def approve(
    exception: ServiceException, actor: Actor, now: datetime, note: str | None = None
) -> ServiceException:
    """`actor`'s approval, which puts the exception in effect (one approval suffices)."""
    if not actor.can(Role.APPROVER):
        raise WorkflowError("approving an exception needs the approver role")
    if exception.status is not ExceptionStatus.PENDING_APPROVAL:
        raise WorkflowError(
            f"only an exception PENDING_APPROVAL can be approved; {exception.id} is "
            f"{exception.status}"
        )
    if actor.user == exception.requested_by:
        raise WorkflowError(
            f"{actor.user} requested exception {exception.id} and cannot also approve it; "
            "another approver must"
        )
    backdated = _backdating_problem(exception.kind, exception.start, now)
    if backdated is not None:
        raise WorkflowError(
            f"exception {exception.id} can no longer be approved: {backdated}. Reject it "
            "(or cancel it) and request one whose window starts later"
        )
    approval = Approval(by=actor.user, at=now, note=note)
    return replace(
        exception,
        status=ExceptionStatus.APPROVED,
        approvals=(*exception.approvals, approval),
        changed_by=actor.user,
        changed_at=now,
    )


def reject(
    exception: ServiceException, actor: Actor, reason: str | None, now: datetime
) -> ServiceException:
    """An approver declines a pending exception; it never takes effect."""
    if not actor.can(Role.APPROVER):
        raise WorkflowError("rejecting an exception needs the approver role")
    text = require_reason(reason, "reason", "for rejecting the exception")
    if exception.status is not ExceptionStatus.PENDING_APPROVAL:
        raise WorkflowError(
            f"only an exception PENDING_APPROVAL can be rejected; {exception.id} is "
            f"{exception.status}"
        )
    return replace(
        exception,
        status=ExceptionStatus.REJECTED,
        status_reason=text,
        changed_by=actor.user,
        changed_at=now,
    )


def cancel(
    exception: ServiceException, actor: Actor, reason: str | None, now: datetime
) -> ServiceException:
    """An editor withdraws an exception: a pending one at any time, an approved one
    only before its window starts (FORBIDDEN_TRANSITION after)."""
    if not actor.can(Role.EDITOR):
        raise WorkflowError("cancelling an exception needs the editor role")
    text = require_reason(reason, "reason", "for cancelling the exception")
    if exception.status not in (ExceptionStatus.PENDING_APPROVAL, ExceptionStatus.APPROVED):
        raise WorkflowError(
            f"exception {exception.id} is {exception.status} already; only a pending or "
            "approved one can be cancelled"
        )
    if exception.status is ExceptionStatus.APPROVED and now >= exception.start:
        raise WorkflowError(
            f"exception {exception.id} started at {exception.start.isoformat()} and can no "
            "longer be cancelled: an approved exception is cancelled before its start only"
        )
    return replace(
        exception,
        status=ExceptionStatus.CANCELLED,
        status_reason=text,
        changed_by=actor.user,
        changed_at=now,
    )


# ---- windows from settings (the migration path of `slo.maintenance_windows`) -----------

SETTINGS_ACTOR = "settings"
"""Who requested and approved the exceptions adopted from the settings."""


@dataclass(frozen=True, slots=True)
class SettingsWindow:
    """A maintenance window of the settings: what `hub serve` adopts as an APPROVED
    exception at start-up. `components` None means every component."""

    start: datetime
    end: datetime
    note: str | None = None
    components: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """Stable across restarts: the window and what it names, not its note (editing
        the note does not make it a new exception)."""
        named = None if self.components is None else sorted(set(self.components))
        text = json.dumps(
            {
                "start": require_utc(self.start).isoformat(),
                "end": require_utc(self.end).isoformat(),
                "components": named,
            },
            sort_keys=True,
        )
        return "settings:" + hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def reason(self) -> str:
        return self.note or "maintenance window from the settings (slo.maintenance_windows)"


def merged_windows(windows: Iterable[Window]) -> list[Window]:
    """The union of `windows`, in order and disjoint (touching windows join)."""
    merged: list[Window] = []
    for window in sorted(windows, key=lambda w: (w.start, w.end)):
        if merged and window.start <= merged[-1].end:
            if window.end > merged[-1].end:
                merged[-1] = Window(merged[-1].start, window.end)
        else:
            merged.append(window)
    return merged
