"""Records as sources describe them, after validation and normalisation. No I/O.

Connectors turn each vendor's payload into these values (or a `RecordRejected` with
the reason); the sync pipeline writes them. Times are UTC, durations seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.handoffs import Assignment, first_handoff
from hub.domain.models import ComponentKind, LifecycleStatus


class RecordRejected(Exception):
    """A source record that cannot be accepted; the reason says which field and why."""


class _SourceRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    updated_at: datetime

    @field_validator("updated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone")
        return value.astimezone(UTC)


class SourceComponent(_SourceRecord):
    """A service or configuration item as a source describes it."""

    kind: ComponentKind
    name: str = Field(min_length=1, max_length=300)
    status: LifecycleStatus = LifecycleStatus.ACTIVE
    ci_class: str | None = None
    environment: str | None = None
    location: str | None = None
    serial_number: str | None = None
    fqdn: str | None = None

    def properties(self) -> dict[str, Any]:
        """The node properties this record sets (absent values are not written)."""
        props = {
            "name": self.name,
            "status": str(self.status),
            "ciClass": self.ci_class,
            "environment": self.environment,
            "location": self.location,
            "serialNumber": self.serial_number,
            "fqdn": self.fqdn,
        }
        return {key: value for key, value in props.items() if value is not None}


class SourceRelation(_SourceRecord):
    """A relationship between two records of the same source.

    `depends` says whether it is a dependency: parent needs child.
    """

    parent_id: str = Field(min_length=1)
    child_id: str = Field(min_length=1)
    type_name: str
    depends: bool


class TicketClock(BaseModel):
    """One SLA clock a ticketing system keeps on a ticket (e.g. Jira's request SLAs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    breached: bool
    goal_seconds: float | None = Field(default=None, ge=0)
    elapsed_seconds: float | None = Field(default=None, ge=0)
    remaining_seconds: float | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    paused: bool = False


class StateChange(BaseModel):
    """A ticket entering a state, for clocks that pause in some states."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    state: str = Field(min_length=1)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone")
        return value.astimezone(UTC)


class SourceIncident(_SourceRecord):
    """A ticket or incident: when it opened and ended, and which components it hit.

    `component_refs` are external-ref keys (``source:externalId``) of the affected
    services and CIs; they may belong to another source than the incident's own
    (a Jira issue naming a ServiceNow CI).

    `assignments` are the spans each team held the ticket (`hub.domain.handoffs`),
    empty where the source does not say; without a `handed_off_at` of its own the
    ticket's first handoff is when the team it was opened in handed it on.
    """

    number: str | None = None
    title: str | None = None
    priority: str | None = Field(default=None, pattern=r"^P[1-5]$")
    state: str = Field(min_length=1)
    opened_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # When the first response came and when the ticket was handed to the next team,
    # where the source says (response and handoff clocks stop there).
    responded_at: datetime | None = None
    handed_off_at: datetime | None = None
    state_history: tuple[StateChange, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    component_refs: tuple[str, ...] = ()
    clocks: tuple[TicketClock, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _first_handoff(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("handed_off_at") is None:
            spans = data.get("assignments") or ()
            if all(isinstance(span, Assignment) for span in spans):
                handed = first_handoff(tuple(spans))
                if handed is not None:
                    return {**data, "handed_off_at": handed}
        return data

    @field_validator("assignments")
    @classmethod
    def _utc_assignments(cls, value: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
        for span in value:
            moments = (span.assigned_at, span.handed_off_at)
            if any(m is not None and m.tzinfo is None for m in moments):
                raise ValueError("assignment times must carry a time zone")
        return value

    @field_validator("opened_at", "resolved_at", "closed_at", "responded_at", "handed_off_at")
    @classmethod
    def _utc_times(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone")
        return value.astimezone(UTC)

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "source": self.source,
            "externalId": self.external_id,
            "number": self.number,
            "title": self.title,
            "priority": self.priority,
            "state": self.state,
            "openedAt": _iso(self.opened_at),
            "resolvedAt": _iso(self.resolved_at),
            "closedAt": _iso(self.closed_at),
            "respondedAt": _iso(self.responded_at),
            "handedOffAt": _iso(self.handed_off_at),
            "stateHistory": json.dumps(
                [{"at": _iso(c.at), "state": c.state} for c in self.state_history]
            )
            if self.state_history
            else None,
            "assignments": json.dumps([span.to_json() for span in self.assignments])
            if self.assignments
            else None,
            "sourceUpdatedAt": _iso(self.updated_at),
            "clocks": json.dumps([c.model_dump(mode="json") for c in self.clocks]),
        }
        return {key: value for key, value in props.items() if value is not None}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record that was rejected, kept with its payload so that nothing is lost."""

    source: str
    record_type: str
    external_id: str | None
    payload: str
    reason: str

    @classmethod
    def of(
        cls, source: str, record_type: str, raw: Any, reason: str, id_field: str = "sys_id"
    ) -> Quarantined:
        external_id = raw.get(id_field) if isinstance(raw, dict) else None
        return cls(
            source=source,
            record_type=record_type,
            external_id=str(external_id) if external_id else None,
            payload=json.dumps(raw, sort_keys=True, default=str),
            reason=reason,
        )


@dataclass(frozen=True, slots=True)
class SourcePage:
    """What a connector fetched and parsed in one step, and the watermarks it reached.

    `watermarks` is None while a page does not move them (the batch commits without).
    """

    fetched: int
    components: list[SourceComponent] = field(default_factory=list)
    relations: list[SourceRelation] = field(default_factory=list)
    incidents: list[SourceIncident] = field(default_factory=list)
    rejected: list[Quarantined] = field(default_factory=list)
    watermarks: dict[str, str] | None = None
