"""Sunset: when a service is retired, the agreements that cover nothing else end.

A component is *retired* when its lifecycle status is SUNSET or DELETED (a CMDB sync,
or `sunsetService`). Every agreement version in force at that moment whose covered
components are all retired is sunset then: its status becomes SUNSET and its valid
time ends (`effectiveTo` = `sunsetAt` = the moment). A version that also covers a
component still ACTIVE is left as it is. Like an approval, a sunset never backdates:
a moment more than `BACKDATING_TOLERANCE` before now is refused, one within it is read
as now. Pure rules, no I/O; the graph side is `hub.graph.repositories.sunset`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hub.domain.budget import BudgetState, ObjectiveStatus
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import LifecycleStatus
from hub.domain.validity import BACKDATING_TOLERANCE

__all__ = ["RETIRED", "silenced", "sunset_moment", "sync_actor"]

RETIRED = frozenset({LifecycleStatus.SUNSET, LifecycleStatus.DELETED})
"""The lifecycle statuses of a retired component."""


def sunset_moment(at: datetime | None, now: datetime, field: str = "at") -> datetime:
    """When a sunset asked for at `at` (None: now) takes effect; `InvalidInputError`
    naming `field` when `at` lies further back than the tolerance allows."""
    if at is None or at < now:
        if at is not None and at < now - BACKDATING_TOLERANCE:
            seconds = int(BACKDATING_TOLERANCE.total_seconds())
            raise InvalidInputError(
                [
                    FieldProblem(
                        field,
                        f"a sunset cannot be backdated: give a time no more than {seconds} s "
                        "before now, or leave it out to sunset now",
                    )
                ]
            )
        return now
    return at


def sync_actor(connector: str) -> str:
    """Who the audit trail names for a sunset that a sync of `connector` caused."""
    return f"sync:{connector}"


def silenced(status: ObjectiveStatus, sunset_at: datetime | None, at: datetime) -> ObjectiveStatus:
    """The status of an objective of a version sunset at `sunset_at`, read at `at`: no
    alert fires once the version is sunset (its figures stay as measured)."""
    if sunset_at is None or at < sunset_at or not status.firing:
        return status
    at_risk = status.state is BudgetState.AT_RISK and status.forecast.at is None
    return replace(status, firing=(), state=BudgetState.HEALTHY if at_risk else status.state)
