"""The hub's entities as typed, validated values. No I/O here.

Input models (`ObjectiveSpec`, `AgreementSpec`) validate what a user authors; read
models (`Component`, `Agreement`, ...) are what repositories return.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Tier(enum.StrEnum):
    TIER_1 = "TIER_1"
    TIER_2 = "TIER_2"
    TIER_3 = "TIER_3"
    TIER_4 = "TIER_4"


class LifecycleStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUNSET = "SUNSET"
    DELETED = "DELETED"


class ComponentKind(enum.StrEnum):
    SERVICE = "Service"
    CONFIGURATION_ITEM = "ConfigurationItem"


class AgreementKind(enum.StrEnum):
    SLA = "SLA"
    OLA = "OLA"
    UC = "UC"


class AgreementStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"
    SUNSET = "SUNSET"


class Indicator(enum.StrEnum):
    AVAILABILITY = "AVAILABILITY"
    LATENCY = "LATENCY"
    ERROR_RATE = "ERROR_RATE"
    RESPONSE_TIME = "RESPONSE_TIME"
    RESOLUTION_TIME = "RESOLUTION_TIME"
    HANDOFF_TIME = "HANDOFF_TIME"

    @property
    def percentage_only(self) -> bool:
        """Measured as a share of good events or time: a target and no threshold."""
        return self in (Indicator.AVAILABILITY, Indicator.ERROR_RATE)

    @property
    def ticket_time(self) -> bool:
        return self in (
            Indicator.RESPONSE_TIME,
            Indicator.RESOLUTION_TIME,
            Indicator.HANDOFF_TIME,
        )


class WindowKind(enum.StrEnum):
    ROLLING = "ROLLING"
    CALENDAR_MONTH = "CALENDAR_MONTH"
    CALENDAR_QUARTER = "CALENDAR_QUARTER"


MAX_ROLLING_DAYS = 366


class ObjectiveSpec(BaseModel):
    """One objective as authored: what is promised, over which window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: Indicator
    target: float = Field(gt=0, le=100, allow_inf_nan=False)
    threshold: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    window_kind: WindowKind
    window_days: int | None = None
    priority: str | None = Field(default=None, min_length=1, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> ObjectiveSpec:
        if self.window_kind is WindowKind.ROLLING:
            if self.window_days is None or not 1 <= self.window_days <= MAX_ROLLING_DAYS:
                raise ValueError(
                    f"windowDays: a ROLLING window needs windowDays from 1 to {MAX_ROLLING_DAYS}"
                )
        elif self.window_days is not None:
            raise ValueError(f"windowDays: a {self.window_kind} window takes no windowDays")
        if self.indicator.percentage_only and self.threshold is not None:
            raise ValueError(f"threshold: {self.indicator} objectives have a target only")
        if not self.indicator.percentage_only and self.threshold is None:
            raise ValueError(f"threshold: {self.indicator} objectives need a threshold in seconds")
        return self


class AgreementSpec(BaseModel):
    """An agreement as authored, before it is stored as version 1 in DRAFT."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AgreementKind
    name: str = Field(min_length=1, max_length=300)
    covers: tuple[str, ...] = Field(min_length=1)
    objectives: tuple[ObjectiveSpec, ...] = Field(min_length=1)
    customer_id: str | None = None
    provider_team_id: str | None = None
    vendor_id: str | None = None
    underpins: tuple[str, ...] = ()
    effective_from: datetime | None = None
    effective_to: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AgreementSpec:
        counterpart = {
            AgreementKind.SLA: ("customerId", self.customer_id, "a customer"),
            AgreementKind.OLA: ("providerTeamId", self.provider_team_id, "a provider team"),
            AgreementKind.UC: ("vendorId", self.vendor_id, "a vendor"),
        }
        name, value, what = counterpart[self.kind]
        if value is None:
            raise ValueError(f"{name}: an {self.kind} needs {what}")
        for other, (other_name, other_value, _) in counterpart.items():
            if other is not self.kind and other_value is not None:
                raise ValueError(f"{other_name}: an {self.kind} takes no {other_name}")
        if self.kind is AgreementKind.SLA and self.underpins:
            raise ValueError("underpins: an SLA underpins nothing; OLAs and UCs underpin SLAs")
        # Time zones first: comparing a naive with an aware datetime raises TypeError.
        for moment, label in (
            (self.effective_from, "effectiveFrom"),
            (self.effective_to, "effectiveTo"),
        ):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{label}: give a time zone (UTC, e.g. 2026-01-01T00:00:00Z)")
        if (
            self.effective_from is not None
            and self.effective_to is not None
            and self.effective_to <= self.effective_from
        ):
            raise ValueError("effectiveTo: must be after effectiveFrom")
        return self


# ---- read models ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalRef:
    source: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Component:
    """A service or configuration item as stored."""

    id: str
    kind: ComponentKind
    name: str
    status: LifecycleStatus
    tier: Tier | None = None
    business_unit: str | None = None
    region: str | None = None
    owner_team_id: str | None = None
    ci_class: str | None = None
    environment: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Vendor:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    business_unit: str | None
    region: str | None
    external: bool


@dataclass(frozen=True, slots=True)
class Objective:
    id: str
    indicator: Indicator
    target: float
    threshold: float | None
    window_kind: WindowKind
    window_days: int | None
    priority: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    """One version of an agreement. Its counterpart is the customer, team or vendor."""

    id: str
    kind: AgreementKind
    name: str
    version: int
    status: AgreementStatus
    effective_from: datetime | None
    effective_to: datetime | None
    counterpart_id: str
    created_by: str
    submitted_by: str | None = None
    approvals: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ChainComponent:
    component_id: str
    depth: int


@dataclass(frozen=True, slots=True)
class Walk:
    """The result of a traversal: reached components, the edges among them, truncation."""

    root_id: str
    reached: tuple[ChainComponent, ...]
    edges: tuple[tuple[str, str], ...]
    truncated: bool
