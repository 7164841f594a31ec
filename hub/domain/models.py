"""The hub's entities as typed, validated values. No I/O here.

Input models (`ObjectiveSpec`, `AgreementSpec`) validate what a user authors; read
models (`Component`, `Agreement`, ...) are what repositories return.
"""

from __future__ import annotations

import enum
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from hub.domain import money, terms
from hub.domain.change_control import Binding, canonical
from hub.domain.reviews import ReviewCycle
from hub.domain.terms import ClauseSpec, GovernanceTerms, SupportHoursSpec


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


class SlaLevel(enum.StrEnum):
    """Where an SLA sits among ITIL's levels (rules in `hub.domain.levels`)."""

    CORPORATE = "CORPORATE"
    CUSTOMER = "CUSTOMER"
    SERVICE = "SERVICE"


class AgreementStatus(enum.StrEnum):
    """What a reader sees of a version, derived at the moment asked from its stored
    `AgreementState` and valid time (`hub.domain.validity.ValidTime.status_at`)."""

    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"
    SUNSET = "SUNSET"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class AgreementState(enum.StrEnum):
    """Where a version is in its workflow: stored, unlike the status derived from it."""

    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"

    @property
    def open(self) -> bool:
        """Still being written or decided: a lineage holds at most one such version."""
        return self in (AgreementState.DRAFT, AgreementState.PENDING_APPROVAL)


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


class BudgetingMethod(enum.StrEnum):
    """What an objective counts: good events of all events, or good time slices of all."""

    OCCURRENCES = "OCCURRENCES"
    TIMESLICES = "TIMESLICES"


_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdwMQY])$")
_FIXED_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> tuple[int, str]:
    """An OpenSLO duration ("1m", "28d", "4w", "1M") as (count, unit); ValueError if malformed."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a whole number and one of m, h, d, w, M, Q, Y"
        )
    return int(match[1]), match[2]


def duration_seconds(text: str) -> int:
    """Seconds in a fixed-length OpenSLO duration ("1m", "6h", "28d", "4w").

    Calendar units (M, Q, Y) vary in length and raise ValueError, like malformed text.
    """
    count, unit = parse_duration(text)
    if unit not in _FIXED_UNIT_SECONDS:
        raise ValueError(f"{text!r} has no fixed length; use minutes, hours, days or weeks")
    return count * _FIXED_UNIT_SECONDS[unit]


class MetricQuery(BaseModel):
    """One query of a metric source, as an OpenSLO `metricSource` writes it.

    `extra` keeps the other keys of `metricSource.spec`, sorted by key, so that an
    exported document carries them again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_type: str = Field(min_length=1, max_length=100)  # "Prometheus", "Datadog", ...
    query: str = Field(min_length=1)
    source_ref: str | None = Field(default=None, min_length=1)  # OpenSLO metricSourceRef
    extra: tuple[tuple[str, JsonValue], ...] = ()

    @field_validator("extra")
    @classmethod
    def _sorted(cls, value: tuple[tuple[str, JsonValue], ...]) -> tuple[tuple[str, JsonValue], ...]:
        keys = [key for key, _ in value]
        if "query" in keys or len(set(keys)) != len(keys):
            raise ValueError("extra: each key once, and not `query`")
        return tuple(sorted(value, key=lambda pair: pair[0]))


class RatioMetric(BaseModel):
    """A ratio indicator: good (or bad) events over total events.

    `counter` says whether the queries return monotonic counters (True) or rates.
    Exactly one of `good` and `bad` is given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    counter: bool
    good: MetricQuery | None = None
    bad: MetricQuery | None = None
    total: MetricQuery

    @model_validator(mode="after")
    def _good_or_bad(self) -> RatioMetric:
        if (self.good is None) == (self.bad is None):
            raise ValueError("good: give exactly one of good and bad")
        return self


class OpenSloOrigin(BaseModel):
    """What an objective imported from OpenSLO keeps of its document, so that an export
    writes the document as it was: names, labels, the window as written ("4w" stays "4w").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    slo_name: str = Field(min_length=1)
    service: str = Field(min_length=1)  # spec.service as written
    window_duration: str = Field(min_length=2)
    calendar_start_time: str | None = None
    calendar_time_zone: str | None = None
    slo_display_name: str | None = None
    description: str | None = None
    display_name: str | None = None  # the objective's own displayName
    labels: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    indicator_name: str | None = None
    indicator_display_name: str | None = None
    indicator_description: str | None = None
    indicator_ref: bool = False  # the SLO named a separate SLI document


def _time_slice_seconds(window: str | None) -> int | None:
    return None if window is None else duration_seconds(window)


class ObjectiveSpec(BaseModel):
    """One objective as authored: what is promised, over which window.

    `time_slice_target` (0..1, as OpenSLO writes it) and `time_slice_window` (an
    OpenSLO duration such as "1m") belong to TIMESLICES objectives only. `metric`
    says how the objective is measured, `origin` where it was imported from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: Indicator
    target: float = Field(gt=0, le=100, allow_inf_nan=False)
    threshold: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    window_kind: WindowKind
    window_days: int | None = None
    priority: str | None = Field(default=None, min_length=1, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    budgeting_method: BudgetingMethod = BudgetingMethod.OCCURRENCES
    time_slice_target: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    time_slice_window: str | None = None
    metric: RatioMetric | None = None
    origin: OpenSloOrigin | None = None
    # How an agreement objective is measured, a term like its target
    # (hub.domain.change_control); at most one binding per role.
    bindings: tuple[Binding, ...] = ()

    @property
    def time_slice_seconds(self) -> int | None:
        return _time_slice_seconds(self.time_slice_window)

    @field_validator("bindings")
    @classmethod
    def _one_per_role(cls, bindings: tuple[Binding, ...]) -> tuple[Binding, ...]:
        return canonical(bindings)

    @model_validator(mode="after")
    def _consistent(self) -> ObjectiveSpec:
        if self.budgeting_method is BudgetingMethod.TIMESLICES:
            if self.time_slice_target is None:
                raise ValueError("timeSliceTarget: a TIMESLICES objective needs one, e.g. 0.95")
            if self.time_slice_window is None:
                raise ValueError("timeSliceWindow: a TIMESLICES objective needs one, e.g. 1m")
            try:
                duration_seconds(self.time_slice_window)
            except ValueError as exc:
                raise ValueError(f"timeSliceWindow: {exc}") from None
        else:
            for value, label in (
                (self.time_slice_target, "timeSliceTarget"),
                (self.time_slice_window, "timeSliceWindow"),
            ):
                if value is not None:
                    raise ValueError(f"{label}: only TIMESLICES objectives take a {label}")
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


class CreditTierSpec(BaseModel):
    """Compliance strictly below `below_percent` earns `credit_percent` of the fee."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    below_percent: float = Field(gt=0, le=100, allow_inf_nan=False)
    credit_percent: float = Field(gt=0, le=100, allow_inf_nan=False)


class CreditPolicySpec(BaseModel):
    """An SLA's service credits: tiers (given in any order, kept best first: the highest
    `below_percent` first), a cap, and the monthly fee."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tiers: tuple[CreditTierSpec, ...] = Field(min_length=1)
    cap_percent: float = Field(default=100.0, gt=0, le=100, allow_inf_nan=False)
    # Money is Decimal (hub.domain.money); floats (stored before, or GraphQL Float
    # input) are read by their shortest form. Credits need the fee and its currency.
    monthly_fee: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, code: str | None) -> str | None:
        return None if code is None else money.currency_code(code)

    @field_validator("tiers")
    @classmethod
    def _best_first(cls, tiers: tuple[CreditTierSpec, ...]) -> tuple[CreditTierSpec, ...]:
        return tuple(sorted(tiers, key=lambda t: -t.below_percent))

    @model_validator(mode="after")
    def _distinct(self) -> CreditPolicySpec:
        boundaries = [t.below_percent for t in self.tiers]
        if len(set(boundaries)) != len(boundaries):
            raise ValueError("tiers: each belowPercent may appear once")
        for better, worse in itertools.pairwise(self.tiers):
            if worse.credit_percent < better.credit_percent:
                raise ValueError(
                    f"tiers: below {worse.below_percent:g}% the credit must be at least "
                    f"the {better.credit_percent:g}% earned below {better.below_percent:g}%"
                )
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
    credit_policy: CreditPolicySpec | None = None
    # An OLA's or UC's share of the credits of the SLAs it underpins (INDEMNIFICATION).
    indemnity_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    # Regulatory terms (hub.domain.terms): null support hours are around the clock.
    support_hours: SupportHoursSpec | None = None
    clauses: tuple[ClauseSpec, ...] = ()
    regulations: tuple[str, ...] = ()
    jurisdiction: str | None = None
    data_residency: tuple[str, ...] = ()
    review_cycle: ReviewCycle | None = None
    # Multi-level SLAs (hub.domain.levels): an SLA's level (None: SERVICE) and the
    # lineage of its parent SLA.
    level: SlaLevel | None = None
    parent_id: str | None = Field(default=None, min_length=1)

    _regulations = field_validator("regulations")(classmethod(lambda cls, v: terms.regulations(v)))
    _residency = field_validator("data_residency")(
        classmethod(lambda cls, v: terms.data_residency(v))
    )
    _jurisdiction = field_validator("jurisdiction")(
        classmethod(lambda cls, v: None if v is None else terms.jurisdiction(v))
    )

    @property
    def governance(self) -> GovernanceTerms:
        return GovernanceTerms(
            support_hours=self.support_hours,
            clauses=self.clauses,
            regulations=self.regulations,
            jurisdiction=self.jurisdiction,
            data_residency=self.data_residency,
            review_cycle=self.review_cycle,
        )

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
        if self.credit_policy is not None and self.kind is not AgreementKind.SLA:
            raise ValueError("creditPolicy: only an SLA owes service credits")
        if self.indemnity_percent is not None and self.kind is AgreementKind.SLA:
            raise ValueError(
                "indemnityPercent: only an OLA or UC carries a share of SLA credits; "
                "leave it out for an SLA"
            )
        if self.kind is AgreementKind.SLA and self.underpins:
            raise ValueError("underpins: an SLA underpins nothing; OLAs and UCs underpin SLAs")
        if self.kind is not AgreementKind.SLA:
            if self.level is not None:
                raise ValueError(f"level: only an SLA has a level; leave it out for an {self.kind}")
            if self.parent_id is not None:
                raise ValueError(
                    f"parentId: only an SLA names a parent SLA; leave it out for an {self.kind}"
                )
        if self.level is SlaLevel.CORPORATE and self.parent_id is not None:
            raise ValueError("parentId: a CORPORATE SLA has no parent; leave parentId out")
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


class AgreementRevisionSpec(BaseModel):
    """What a revision changes. A field left out (None) keeps the previous version's
    value, except `effective_from`: left out, the revision is in force from its
    approval. Lists given replace the previous ones whole. Rules that need the previous
    version too (an SLA underpins nothing, the end after the start) are checked with it
    (`hub.domain.workflow.revision_problems`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    covers: tuple[str, ...] | None = Field(default=None, min_length=1)
    objectives: tuple[ObjectiveSpec, ...] | None = Field(default=None, min_length=1)
    underpins: tuple[str, ...] | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    support_hours: SupportHoursSpec | None = None
    clauses: tuple[ClauseSpec, ...] | None = None
    regulations: tuple[str, ...] | None = None
    jurisdiction: str | None = None
    data_residency: tuple[str, ...] | None = None
    review_cycle: ReviewCycle | None = None

    _regulations = field_validator("regulations")(
        classmethod(lambda cls, v: None if v is None else terms.regulations(v))
    )
    _residency = field_validator("data_residency")(
        classmethod(lambda cls, v: None if v is None else terms.data_residency(v))
    )
    _jurisdiction = field_validator("jurisdiction")(
        classmethod(lambda cls, v: None if v is None else terms.jurisdiction(v))
    )

    def governance(self, previous: GovernanceTerms) -> GovernanceTerms:
        """The revision's regulatory terms: those given, the rest `previous`."""
        return GovernanceTerms(
            support_hours=previous.support_hours
            if self.support_hours is None
            else self.support_hours,
            clauses=previous.clauses if self.clauses is None else self.clauses,
            regulations=previous.regulations if self.regulations is None else self.regulations,
            jurisdiction=previous.jurisdiction if self.jurisdiction is None else self.jurisdiction,
            data_residency=previous.data_residency
            if self.data_residency is None
            else self.data_residency,
            review_cycle=previous.review_cycle if self.review_cycle is None else self.review_cycle,
        )

    @model_validator(mode="after")
    def _zoned(self) -> AgreementRevisionSpec:
        for moment, label in (
            (self.effective_from, "effectiveFrom"),
            (self.effective_to, "effectiveTo"),
        ):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{label}: give a time zone (UTC, e.g. 2026-01-01T00:00:00Z)")
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
    """An objective as stored; it belongs to an agreement or, directly, to a service."""

    id: str
    indicator: Indicator
    target: float
    threshold: float | None
    window_kind: WindowKind
    window_days: int | None
    priority: str | None
    name: str | None = None
    budgeting_method: BudgetingMethod = BudgetingMethod.OCCURRENCES
    time_slice_target: float | None = None
    time_slice_window: str | None = None
    metric: RatioMetric | None = None
    origin: OpenSloOrigin | None = None
    # Whose objective it is, where the repository call says so (e.g. measured_objectives).
    service_id: str | None = None
    agreement_id: str | None = None
    # An agreement objective's own telemetry bindings (hub.domain.change_control).
    bindings: tuple[Binding, ...] = ()

    @property
    def time_slice_seconds(self) -> int | None:
        return _time_slice_seconds(self.time_slice_window)


@dataclass(frozen=True, slots=True)
class Approval:
    """One signature on a version: who, for which board group (None: no board), when."""

    by: str
    at: datetime
    group: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    """One version of an agreement. Its counterpart is the customer, team or vendor.

    `status` is derived when the version is read, at the reader's clock
    (`hub.domain.validity`); `state` is the stored workflow state it comes from.
    """

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
    credit_policy: CreditPolicySpec | None = None
    lineage: str = ""
    state: AgreementState = AgreementState.DRAFT
    recorded_at: datetime | None = None
    previous_id: str | None = None
    approval_log: tuple[Approval, ...] = ()
    superseded_at: datetime | None = None
    sunset_at: datetime | None = None
    required_groups: tuple[str, ...] = ()
    """Board groups that must sign this version, fixed at submission (none: the
    count rule; `hub.domain.boards`)."""
    governance: GovernanceTerms = field(default_factory=GovernanceTerms)
    # Derived when read (docs/security.md): an SLA's from its customer, an OLA's or
    # UC's from the SLAs it underpins when they agree.
    business_unit: str | None = None
    region: str | None = None
    next_review_at: datetime | None = None
    """Derived when read: the next review after the reader's clock, for a version in
    force with a review cycle (`hub.domain.reviews.next_review_at`)."""
    last_reviewed_at: datetime | None = None
    """When a review of this version was last recorded (`recordReview`); None if never."""
    level: SlaLevel | None = None
    """An SLA's level (SERVICE when none was given); None for an OLA or UC."""
    parent_lineage: str | None = None
    """The lineage of an SLA's parent SLA (`hub.domain.levels`)."""
    indemnity_percent: float | None = None
    """An OLA's or UC's share of the credits of the SLAs it underpins."""


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
