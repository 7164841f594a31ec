"""The hub's one settings object.

Read once at start-up from the environment (prefix ``HUB_``, ``__`` between nested
names) and from ``config/hub.toml``, validated, then passed to whatever needs it.
Nothing else in the hub reads the environment.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hub.domain.boards import Board
from hub.domain.budget_policy import BudgetAction
from hub.domain.change_control import Binding
from hub.domain.identification import DEFAULT_ATTRIBUTES, DEFAULT_PRECEDENCE, Identification
from hub.domain.models import AgreementKind, Tier
from hub.domain.monitoring import MonitoringMode
from hub.domain.notifications import is_email_address

DEFAULT_CONFIG_FILE = Path("config/hub.toml")


def known_time_zone(value: str) -> str:
    """A time-zone setting, checked against the IANA database."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class SettingsError(Exception):
    """The settings are invalid; the message lists every problem."""


class Neo4jSettings(BaseModel):
    """Where the graph lives. With no ``uri`` the hub runs the embedded server."""

    uri: str | None = None
    user: str = "neo4j"
    password: SecretStr | None = None
    database: str | None = None
    connection_timeout_seconds: float = Field(default=10.0, gt=0)
    max_transaction_retry_seconds: float = Field(default=15.0, gt=0)
    transaction_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="bound on one transaction, retries included; generous for imports and "
        "syncs (API requests are bounded by api.execution_timeout_seconds too)",
    )

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        schemes = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
        if not value.startswith(schemes):
            raise ValueError(f"must start with one of {', '.join(schemes)}; got {value!r}")
        return value


class EmbeddedGraphSettings(BaseModel):
    """The ArcadeDB child process started when no Neo4j URI is configured."""

    heap: str = Field(default="768m", pattern=r"^[0-9]+[mMgG]$")
    database: str = Field(default="hub", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    bolt_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    startup_timeout_seconds: float = Field(default=60.0, gt=0)


class ApiSettings(BaseModel):
    """Bounds on what one GraphQL request may cost (docs/settings.md)."""

    max_depth: int = Field(default=15, ge=1)
    max_aliases: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=50, ge=1)
    max_traversal_depth: int = Field(
        default=25,
        # Not below the contract's default maxDepth (10): a plain dependencyChain(id:)
        # would otherwise be refused for a depth nobody asked for.
        ge=10,
        le=100,
        description="the one depth bound of every walk: the largest maxDepth of "
        "dependencyChain and impact, and how deep coverage gaps and root cause walk",
    )
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="a larger POST /graphql body gets 413"
    )
    max_tokens: int = Field(
        default=3000, ge=100, description="lexical tokens of a GraphQL document; parsing stops"
    )
    max_cost: int = Field(
        default=100_000,
        ge=1,
        description="estimated objects one operation may return: list sizes multiplied down "
        "the selection (docs/settings.md)",
    )
    max_string_length: int = Field(
        default=10_000, ge=1, description="characters of one string argument or variable"
    )
    execution_timeout_seconds: float = Field(
        default=30.0, gt=0, description="one GraphQL request's execution ends with an error"
    )
    graceful_shutdown_seconds: int = Field(
        default=10, ge=1, description="`hub serve` cancels requests still running this long"
    )
    push_max_body_bytes: int = Field(
        default=10 << 20, ge=1024, description="a larger POST /api/v1/measurements body gets 413"
    )
    push_requests_per_second: float = Field(
        default=10.0, gt=0, description="pushes one token may send per second, sustained"
    )
    push_burst: int = Field(
        default=20, ge=1, description="pushes one token may send at once; then 429"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="GET /metrics needs this bearer token; unset: loopback clients only",
    )


class BoardSettings(BaseModel):
    """An approval board: the groups that sign versions of `kind` whose highest covered
    tier is `tier` (unset: every version of `kind` no board with a tier matches, CI-only
    agreements included). docs/governance.md, "Approval boards"."""

    model_config = ConfigDict(extra="forbid")

    kind: AgreementKind
    tier: Tier | None = None
    groups: list[str] = Field(min_length=1, description="one approval per group")

    @field_validator("groups")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        twice = sorted({g for g in value if value.count(g) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is named twice")
        return value


class PolicySettings(BaseModel):
    """Governance rules: how many approvals, or which approval boards, activate a version."""

    model_config = ConfigDict(extra="forbid")

    approvals_required: int = Field(
        default=1,
        ge=1,
        description="Distinct approvals (not the submitter's) to activate a version no "
        "approval board applies to.",
    )
    groups: list[str] = Field(
        default_factory=list,
        description="approval groups tokens may carry (--group) and boards may name",
    )
    boards: list[BoardSettings] = Field(default_factory=list)

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: list[str]) -> list[str]:
        for group in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", group):
                raise ValueError(f"{group!r}: use letters, digits, '_', '.' or '-'")
        if len(set(value)) != len(value):
            raise ValueError("a group is named twice")
        return value

    @model_validator(mode="after")
    def _boards_name_known_groups(self) -> PolicySettings:
        seen: set[tuple[AgreementKind, Tier | None]] = set()
        for index, board in enumerate(self.boards):
            unknown = [g for g in board.groups if g not in self.groups]
            if unknown:
                known = ", ".join(self.groups) or "none are"
                raise ValueError(
                    f"boards.{index}: unknown group {unknown[0]!r}; name it in "
                    f"policy.groups (known: {known})"
                )
            key = (board.kind, board.tier)
            if key in seen:
                tier = board.tier or "any tier"
                raise ValueError(f"boards.{index}: a second board for {board.kind} and {tier}")
            seen.add(key)
        return self

    def approval_boards(self) -> tuple[Board, ...]:
        """The boards as the workflow reads them."""
        return tuple(Board(b.kind, b.tier, tuple(b.groups)) for b in self.boards)


class IdentificationSettings(BaseModel):
    """How records of two sources become one configuration item."""

    attributes: list[Literal["serial_number", "fqdn"]] = Field(
        default_factory=lambda: list(DEFAULT_ATTRIBUTES),
        description="a new record matching another source's CI on one of these joins it",
    )
    precedence: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PRECEDENCE),
        description="sources whose attributes win, strongest first",
    )

    def rules(self) -> Identification:
        return Identification.of(self.attributes, self.precedence)


class ConnectorSettings(BaseModel):
    """Common to every connector: a URL (unset = disabled) and how often to sync."""

    url: AnyHttpUrl | None = None
    interval_seconds: int = Field(default=900, ge=30)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1, description="requests in flight at once")
    requests_per_second: float | None = Field(default=None, gt=0)
    page_size: int = Field(default=1000, ge=1, le=10000)
    max_deleted_fraction: float = Field(
        default=0.2, gt=0, le=1, description="a larger share gone at once deletes nothing"
    )

    @property
    def enabled(self) -> bool:
        """Whether the hub syncs this source: a connector whose URL is unset is not."""
        return self.url is not None


class ServiceNowSettings(ConnectorSettings):
    username: str | None = None
    password: SecretStr | None = None


class JiraSettings(ConnectorSettings):
    email: str | None = None
    api_token: SecretStr | None = None
    # The search returns at most 100 issues a page when more than ids and keys are asked for.
    page_size: int = Field(default=100, ge=1, le=5000)
    jql: str = Field(default="", description="extra JQL filter, e.g. 'project = OPS'; no ORDER BY")
    component_field: str = Field(
        default="components",
        min_length=1,
        description="issue field naming the affected components, e.g. customfield_10050",
    )
    component_source: str = Field(
        default="manual",
        pattern=r"^[^:]+$",
        description="whose external ids that field holds, e.g. servicenow",
    )
    response_sla: str | None = Field(
        default="Time to first response",
        description="the request SLA whose first stop is the ticket's first response",
    )
    team_field: str | None = Field(
        default=None,
        description="issue field naming the team holding a ticket, whose changes are its "
        "handoffs, e.g. customfield_10001 or assignee (unset: no handoff times from Jira)",
    )

    @field_validator("jql")
    @classmethod
    def _no_order_by(cls, value: str) -> str:
        if re.search(r"\border\s+by\b", value, re.IGNORECASE):
            raise ValueError("leave out ORDER BY; the connector orders by updated and key")
        return value


class PagerDutySettings(ConnectorSettings):
    """PagerDuty REST API v2: ``pagerduty`` (incidents) and ``pagerduty-services``."""

    url: AnyHttpUrl | None = AnyHttpUrl("https://api.pagerduty.com")
    token: SecretStr | None = None
    # PagerDuty's largest `limit`; the common default (1000) would be refused.
    page_size: int = Field(default=100, ge=1, le=100)
    backfill_days: int = Field(
        default=30, ge=1, le=3650, description="incident history the first sync reads"
    )
    overlap_seconds: int = Field(
        default=300, ge=0, le=86400, description="each incident sync reads this much again"
    )
    services_interval_seconds: int = Field(
        default=3600,
        ge=30,
        description="services and dependencies: one request per service, so less often",
    )

    @property
    def enabled(self) -> bool:
        # The URL has a default; without a token every request would be a 401.
        return self.url is not None and self.token is not None

    def for_services(self) -> PagerDutySettings:
        """These settings with the services connector's own interval."""
        return self.model_copy(update={"interval_seconds": self.services_interval_seconds})


class PrometheusSettings(ConnectorSettings):
    """A Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir...) read for SLI points.

    Prometheus itself has no authentication; a web config or a proxy in front of it often
    adds HTTP basic auth (`username`/`password`) or a bearer token (`bearer_token`).
    """

    interval_seconds: int = Field(default=300, ge=30)
    bearer_token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    step_seconds: int = Field(
        default=60, ge=1, le=300, description="resolution of the points read, in seconds"
    )
    max_points_per_query: int = Field(
        default=11_000,
        ge=1,
        le=11_000,
        description="points per series in one query_range request; Prometheus refuses more",
    )

    @model_validator(mode="after")
    def _one_kind_of_auth(self) -> PrometheusSettings:
        if self.bearer_token is not None and self.username is not None:
            raise ValueError("set either bearer_token or username/password, not both")
        if self.password is not None and self.username is None:
            raise ValueError("password is set without username")
        if 300 % self.step_seconds:
            raise ValueError("step_seconds: must divide 300 (the 5-minute bucket), e.g. 30 or 60")
        return self


class DatadogSettings(ConnectorSettings):
    """Datadog's metrics API, read for SLI points. `url` is ``https://api.<site>``, e.g.
    ``https://api.datadoghq.eu`` or ``https://api.us3.datadoghq.com``."""

    url: AnyHttpUrl | None = AnyHttpUrl("https://api.datadoghq.com")
    interval_seconds: int = Field(default=300, ge=30)
    api_key: SecretStr | None = None
    app_key: SecretStr | None = None

    @property
    def enabled(self) -> bool:
        # The URL has a default; without both keys every request would be a 403.
        return self.url is not None and self.api_key is not None and self.app_key is not None


class TelemetryBinding(Binding):
    """How one objective is measured by one telemetry source (beyond what an OpenSLO
    import carries): a `Binding` (`hub.domain.change_control`: `good` or `bad` with
    `total`, or a `ratio`, or a `latency` series, or `sloth_service` + `sloth_slo` for
    Sloth's recording rules) plus the objective it names."""

    model_config = ConfigDict(frozen=False, extra="forbid")

    objective: str = Field(min_length=1, description="objective id or name")


class BusinessHoursSettings(BaseModel):
    """The calendar ticket clocks run on."""

    time_zone: str = "UTC"
    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday ... 6 = Sunday"
    )
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    _known_zone = field_validator("time_zone")(known_time_zone)

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHoursSettings:
        if not set(self.working_days) <= set(range(7)):
            raise ValueError("working_days: use 0 (Monday) to 6 (Sunday)")
        if self.day_end != time(0) and self.day_end <= self.day_start:
            raise ValueError("day_end: must be after day_start (00:00 = the end of the day)")
        return self


class MaintenanceWindowSettings(BaseModel):
    """A maintenance window from before exceptions existed: `hub serve` adopts it at
    start-up as an APPROVED exception (once; docs/settings.md), which then excuses
    the components it names. `components` are hub ids or `source:externalId` keys;
    left out, the window excuses every component."""

    start: datetime
    end: datetime
    note: str | None = None
    components: list[str] | None = Field(
        default=None, description="ids or source:externalId keys; unset = every component"
    )

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindowSettings:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start/end: give a time zone, e.g. 2026-11-01T02:00:00Z")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        if self.components is not None and not self.components:
            raise ValueError("components: name at least one, or leave it out for every component")
        return self


class AlertPairSettings(BaseModel):
    long_seconds: int = Field(gt=0)
    short_seconds: int = Field(gt=0)
    rate: float = Field(gt=0)


class SeveritySettings(BaseModel):
    """How a breach's severity follows from its overshoot (budgets spent beyond the
    first) and the SLA's tier; docs/service-levels.md."""

    critical_overshoot: float = Field(default=2.0, gt=0)
    major_overshoot: float = Field(default=0.5, gt=0)
    escalated_tiers: list[Tier] = Field(
        default_factory=lambda: [Tier.TIER_1],
        description="tiers whose breaches are at least MAJOR",
    )
    escalated_critical_overshoot: float = Field(default=1.0, gt=0)


class PeakHoursSettings(BaseModel):
    """Peak hours on some weekdays, local to `[slo.peak].time_zone`: [start, end)."""

    model_config = ConfigDict(extra="forbid")

    weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday ... 6 = Sunday"
    )
    start: time
    end: time = Field(description="00:00 = the end of the day")

    @model_validator(mode="after")
    def _ordered(self) -> PeakHoursSettings:
        if not set(self.weekdays) <= set(range(7)):
            raise ValueError("weekdays: use 0 (Monday) to 6 (Sunday)")
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("end: must be after start (00:00 = the end of the day)")
        return self


class PeakSeasonSettings(BaseModel):
    """A peak season: every local day from `start` to `end`, both included, is peak."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> PeakSeasonSettings:
        if self.end < self.start:
            raise ValueError("end: must not be before start")
        return self


class PeakSettings(BaseModel):
    """When a service is at its peak; off-peak baselines leave those buckets out."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str = "UTC"
    hours: list[PeakHoursSettings] = Field(default_factory=list)
    seasons: list[PeakSeasonSettings] = Field(default_factory=list)

    _known_zone = field_validator("time_zone")(known_time_zone)


class TierTargetSettings(BaseModel):
    """How demanding a suggested target is for one tier: the `percentile` of achieved
    daily compliance, and never below `minimum_target`."""

    model_config = ConfigDict(extra="forbid")

    percentile: float = Field(ge=0, le=100)
    minimum_target: float = Field(gt=0, le=100)


def _default_tier_targets() -> dict[Tier, TierTargetSettings]:
    return {
        Tier.TIER_1: TierTargetSettings(percentile=10, minimum_target=99.9),
        Tier.TIER_2: TierTargetSettings(percentile=10, minimum_target=99.5),
        Tier.TIER_3: TierTargetSettings(percentile=25, minimum_target=99.0),
        Tier.TIER_4: TierTargetSettings(percentile=50, minimum_target=95.0),
    }


class SuggestionSettings(BaseModel):
    """Targets suggested from history (`suggestObjectives`, docs/service-levels.md);
    `latency_step_seconds` is what a suggested LATENCY threshold is rounded up to."""

    model_config = ConfigDict(extra="forbid")

    tiers: dict[Tier, TierTargetSettings] = Field(default_factory=_default_tier_targets)
    decimals: int = Field(default=2, ge=0, le=6, description="targets are rounded down to these")
    latency_step_seconds: float = Field(
        default=0.01,
        gt=0,
        allow_inf_nan=False,
        description="suggested LATENCY thresholds are rounded up to a whole number of these",
    )


class TierMonitoringSettings(BaseModel):
    """What a tier sets for its objectives' monitoring (docs/service-levels.md,
    "Ownership and monitoring mode")."""

    model_config = ConfigDict(extra="forbid")

    mode: MonitoringMode = Field(description="default mode: ACTIVE (alerted) or REPORTED")
    sync_interval_seconds: int = Field(
        ge=60, le=86400, description="how often the scheduled telemetry sync measures them"
    )


def _default_monitoring() -> dict[Tier, TierMonitoringSettings]:
    return {
        Tier.TIER_1: TierMonitoringSettings(mode=MonitoringMode.ACTIVE, sync_interval_seconds=60),
        Tier.TIER_2: TierMonitoringSettings(mode=MonitoringMode.ACTIVE, sync_interval_seconds=300),
        Tier.TIER_3: TierMonitoringSettings(mode=MonitoringMode.ACTIVE, sync_interval_seconds=600),
        Tier.TIER_4: TierMonitoringSettings(
            mode=MonitoringMode.REPORTED, sync_interval_seconds=900
        ),
    }


class BudgetActionSettings(BaseModel):
    """One action of an error-budget policy; `level` only (and always) for
    NOTIFY_ESCALATION_LEVEL: 1 is the first level of `[remediation] escalation_levels`."""

    model_config = ConfigDict(extra="forbid")

    action: BudgetAction
    level: int | None = Field(default=None, ge=1, le=20)

    @model_validator(mode="after")
    def _level_with_escalation(self) -> BudgetActionSettings:
        if (self.action is BudgetAction.NOTIFY_ESCALATION_LEVEL) != (self.level is not None):
            raise ValueError(
                "level: give one for NOTIFY_ESCALATION_LEVEL (1 = the matrix's first level) "
                "and none for other actions"
            )
        return self


class BudgetPolicySettings(BaseModel):
    """What an error-budget policy does at AT_RISK and at EXHAUSTED (docs/service-levels.md,
    "Error-budget policies"); a freeze is lifted above `freeze_lift_percent` remaining."""

    model_config = ConfigDict(extra="forbid")

    at_risk: list[BudgetActionSettings] = Field(default_factory=list)
    exhausted: list[BudgetActionSettings] = Field(default_factory=list)
    freeze_lift_percent: float = Field(
        default=25.0, ge=0, lt=100, description="budget remaining above which a freeze lifts"
    )


def _policy(at_risk: list[str], exhausted: list[str]) -> BudgetPolicySettings:
    def actions(names: list[str]) -> list[BudgetActionSettings]:
        return [
            BudgetActionSettings(action=BudgetAction(name.partition(":")[0]), level=int(level))
            if (level := name.partition(":")[2])
            else BudgetActionSettings(action=BudgetAction(name))
            for name in names
        ]

    return BudgetPolicySettings(at_risk=actions(at_risk), exhausted=actions(exhausted))


def _default_budget_policies() -> dict[Tier, BudgetPolicySettings]:
    owner, freeze = "NOTIFY_OWNER", "CHANGE_FREEZE"
    return {
        Tier.TIER_1: _policy([owner], [owner, freeze, "NOTIFY_ESCALATION_LEVEL:2"]),
        Tier.TIER_2: _policy([owner], [owner, freeze, "NOTIFY_ESCALATION_LEVEL:1"]),
        Tier.TIER_3: _policy([], [owner]),
        Tier.TIER_4: _policy([], [owner]),
    }


class BudgetPoliciesSettings(BaseModel):
    """Error-budget policies that act (`hub.sync.budget_policies`): per tier, and per
    agreement (its id or lineage; overrides the tier). `owners` says how to reach an
    owner team: team id or name -> recipients (list names, addresses, webhook names)."""

    model_config = ConfigDict(extra="forbid")

    interval_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="how often `hub serve` applies them"
    )
    tiers: dict[Tier, BudgetPolicySettings] = Field(default_factory=_default_budget_policies)
    agreements: dict[str, BudgetPolicySettings] = Field(default_factory=dict)
    owners: dict[str, list[str]] = Field(default_factory=dict)

    def levels(self) -> set[int]:
        """Every escalation level a configured policy names (the default tiers' are
        left out: a matrix shorter than they assume skips those notices, said per run)."""
        tiers = self.tiers.values() if "tiers" in self.model_fields_set else ()
        policies = [*tiers, *self.agreements.values()]
        return {
            a.level for p in policies for a in (*p.at_risk, *p.exhausted) if a.level is not None
        }


class SloSettings(BaseModel):
    """The service level engine: telemetry buckets, alerting, ticket clocks, breaches."""

    overlap_seconds: int = Field(
        default=900, ge=0, description="re-fetched before each watermark: late samples"
    )
    retention_days: int = Field(default=400, ge=93, description="telemetry buckets kept")
    assess_interval_seconds: int = Field(
        default=900, ge=30, description="how often `hub serve` assesses breaches"
    )
    assess_days: int = Field(
        default=93, ge=28, description="how far back ended periods are assessed for breaches"
    )
    reconciliation_tolerance: float = Field(
        default=0.5, ge=0, description="percentage points two sources may differ by"
    )
    alert_pairs: list[AlertPairSettings] | None = Field(
        default=None, description="unset = the SRE workbook's four pairs"
    )
    severity: SeveritySettings = SeveritySettings()
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    pause_states: list[str] = Field(
        default_factory=lambda: [
            "Pending customer",
            "Awaiting customer",
            "Waiting for customer",
            "On hold",
        ],
        description="ticket states in which the clock stops",
    )
    maintenance_windows: list[MaintenanceWindowSettings] = Field(default_factory=list)
    bindings: list[TelemetryBinding] = Field(default_factory=list)
    monitoring: dict[Tier, TierMonitoringSettings] = Field(
        default_factory=_default_monitoring,
        description="per tier: the default monitoring mode and the sync interval; a tier "
        "left out is ACTIVE and measured on every run",
    )
    peak: PeakSettings = PeakSettings()
    suggestions: SuggestionSettings = SuggestionSettings()
    budget_policies: BudgetPoliciesSettings = BudgetPoliciesSettings()

    @model_validator(mode="after")
    def _assess_within_retention(self) -> SloSettings:
        # A period assessed again after its buckets were pruned would look met and
        # clear its violation; evidence keeps what it was judged on instead.
        if self.assess_days >= self.retention_days:
            raise ValueError(
                f"assess_days: {self.assess_days} must be below retention_days "
                f"({self.retention_days}): periods are assessed from the buckets kept"
            )
        return self


class BackupSettings(BaseModel):
    """Scheduled backups inside `hub serve`: the copy `hub backup FILE` writes, on a timer
    (docs/settings.md, README "Backup and restore")."""

    interval_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 366,
        description="hours between two scheduled backups (the RPO); 0 = no scheduled backups",
    )
    directory: Path | None = Field(
        default=None, description="where they are written; unset = $HUB_DATA_DIR/backups"
    )
    keep: int = Field(
        default=7, ge=1, description="the newest scheduled files kept; older ones are deleted"
    )


class SmtpSettings(BaseModel):
    """The SMTP server notifications by email go through (docs/notifications.md). With no
    `host`, email is off: a notification to an address is refused when it is made."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    sender: str | None = Field(
        default=None, alias="from", description="the From address, e.g. 'Hub <hub@example.com>'"
    )
    security: Literal["auto", "starttls", "tls", "none"] = Field(
        default="auto",
        description="auto = STARTTLS when the server offers it (and required before a "
        "password is sent); starttls = always; tls = TLS from the start (port 465); none",
    )
    ca_file: Path | None = Field(default=None, description="CA bundle for a private relay")
    timeout_seconds: float = Field(default=30.0, gt=0)

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @field_validator("host")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _complete(self) -> SmtpSettings:
        if self.host is None:
            return self
        sender = self.sender
        if sender is None or "\n" in sender or not is_email_address(parseaddr(sender)[1]):
            raise ValueError("from (HUB_SMTP__FROM): give the sender, e.g. 'Hub <hub@example.com>'")
        if self.password is not None and self.username is None:
            raise ValueError("password is set without username")
        return self


class WebhookSettings(BaseModel):
    """One named webhook endpoint: JSON POSTs signed with HMAC-SHA256 of `secret`."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: SecretStr = Field(min_length=16, description="shared with the receiver")
    timeout_seconds: float = Field(default=10.0, gt=0)


class NotificationListSettings(BaseModel):
    """A named list of recipients: addresses and webhook names."""

    model_config = ConfigDict(extra="forbid")

    emails: list[str] = Field(default_factory=list)
    webhooks: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [address for address in value if not is_email_address(address)]
        if bad:
            raise ValueError(f"not email addresses: {', '.join(map(repr, bad))}")
        return value


class NotificationSettings(BaseModel):
    """The notification outbox and its dispatcher (docs/notifications.md)."""

    model_config = ConfigDict(extra="forbid")

    dispatch_interval_seconds: int = Field(
        default=30, ge=0, description="how often `hub serve` sends what is due; 0 = never"
    )
    max_attempts: int = Field(default=10, ge=1, le=100, description="then GAVE_UP")
    retry_base_seconds: float = Field(
        default=30.0, gt=0, description="the wait after the first failed attempt; doubles"
    )
    retry_max_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="the longest wait, also for a Retry-After"
    )
    claim_seconds: int = Field(
        default=300, ge=30, description="a claimed delivery not recorded by then is due again"
    )
    batch_size: int = Field(default=50, ge=1, le=1000, description="deliveries claimed at once")
    max_concurrency: int = Field(default=4, ge=1, le=64, description="sends in flight at once")
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, le=4 << 20, description="text or JSON of one notification"
    )
    max_attachment_bytes: int = Field(
        default=5 << 20, ge=0, le=8 << 20, description="all attachments of one notification"
    )
    lists: dict[str, NotificationListSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> NotificationSettings:
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("retry_max_seconds: must not be below retry_base_seconds")
        return self


class RenewalSettings(BaseModel):
    """Renewal reminders (docs/settings.md, docs/governance.md "Reviews and renewals")."""

    model_config = ConfigDict(extra="forbid")

    list: str | None = Field(
        default=None,
        description="the notification list reminders go to ([notifications.lists.<name>]); "
        "unset = no reminders",
    )
    interval_hours: int = Field(
        default=24, ge=1, le=24 * 7, description="how often `hub serve` looks for what is due"
    )


class BusinessDaysSettings(BaseModel):
    """The business-day calendar remediation deadlines count in (RCA due dates)."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str = "UTC"
    working_days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday ... 6 = Sunday"
    )
    holidays: list[date] = Field(default_factory=list)

    _known_zone = field_validator("time_zone")(known_time_zone)

    @model_validator(mode="after")
    def _some_working_day(self) -> BusinessDaysSettings:
        if not self.working_days or not set(self.working_days) <= set(range(7)):
            raise ValueError("working_days: give at least one of 0 (Monday) to 6 (Sunday)")
        return self


class EscalationLevelSettings(BaseModel):
    """One level of the escalation matrix: who hears of a violation or action at it.

    `recipients` are notification list names, addresses or webhook names (as
    `Recipients` takes them); `business_units` adds recipients for the records of a
    unit. A step missed `hours_after_due` hours ago escalates to this level."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="e.g. team, management, executive")
    recipients: list[str] = Field(default_factory=list)
    business_units: dict[str, list[str]] = Field(default_factory=dict)
    hours_after_due: float = Field(default=0.0, ge=0, le=24 * 365)


def _default_escalation_levels() -> list[EscalationLevelSettings]:
    return [
        EscalationLevelSettings(name="team"),
        EscalationLevelSettings(name="management"),
        EscalationLevelSettings(name="executive"),
    ]


class RemediationPerformanceSettings(BaseModel):
    """When a vendor or provider team must remediate: misses in a row, or k of the
    last n periods (docs/remediation.md)."""

    model_config = ConfigDict(extra="forbid")

    consecutive_periods: int = Field(default=3, ge=1, le=120)
    of_last_periods: int = Field(default=4, ge=1, le=120)
    last_periods: int = Field(default=6, ge=1, le=120)
    action_due_days: int = Field(
        default=30, ge=1, le=365, description="the REMEDIATION action's due date"
    )

    @model_validator(mode="after")
    def _k_of_n(self) -> RemediationPerformanceSettings:
        if self.of_last_periods > self.last_periods:
            raise ValueError("of_last_periods: must not exceed last_periods")
        return self


class RemediationSettings(BaseModel):
    """From breach to remedy (docs/remediation.md): RCA deadlines, escalation matrix,
    evidence retention, vendor and team performance, the periodic audit."""

    model_config = ConfigDict(extra="forbid")

    rca_business_days: dict[str, int] = Field(
        default_factory=lambda: {"CRITICAL": 2, "MAJOR": 5, "MINOR": 10},
        description="business days from detection to the RCA's due date, by severity",
    )
    calendar: BusinessDaysSettings = BusinessDaysSettings()
    escalation_levels: list[EscalationLevelSettings] = Field(
        default_factory=_default_escalation_levels,
        min_length=1,
        description="level 1 first: the agreement's owning team, then management, executive",
    )
    escalation_interval_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="how often `hub serve` escalates what is due"
    )
    evidence_retention_days: int = Field(
        default=7 * 365,
        ge=1,
        description="how long evidence and closed violations are to be kept (stated only: "
        "nothing is deleted yet)",
    )
    performance: RemediationPerformanceSettings = RemediationPerformanceSettings()
    performance_interval_hours: int = Field(
        default=24, ge=1, le=24 * 31, description="how often `hub serve` checks vendors and teams"
    )
    minimum_coverage_percent: float = Field(
        default=90.0, ge=0, le=100, description="the periodic audit's data coverage minimum"
    )
    audit_day_of_month: int = Field(
        default=5, ge=1, le=28, description="the monthly audit of the previous month runs on"
    )

    @field_validator("rca_business_days")
    @classmethod
    def _every_severity(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {"CRITICAL", "MAJOR", "MINOR"}
        if unknown:
            raise ValueError(f"unknown severity {sorted(unknown)[0]}: use CRITICAL, MAJOR, MINOR")
        missing = {"CRITICAL", "MAJOR", "MINOR"} - set(value)
        if missing:
            raise ValueError(f"give the business days for {', '.join(sorted(missing))}")
        if any(days < 0 for days in value.values()):
            raise ValueError("business days must be 0 or more")
        return value


class AtRiskLevelSettings(BaseModel):
    """One position of the at-risk path: a level of `[remediation] escalation_levels`
    (its name, or its number: 1 is the first) and how long it has to acknowledge before
    the next position is told."""

    model_config = ConfigDict(extra="forbid")

    level: str | int = Field(description="a matrix level's name, or its number (1 = first)")
    hours_to_acknowledge: float = Field(gt=0, le=24 * 365)


class AtRiskEscalationSettings(BaseModel):
    """Escalation when at risk (`hub.sync.at_risk`; docs/service-levels.md, "Escalation
    when at risk"): the path an AT_RISK episode of an ACTIVE-mode objective climbs while
    nobody acknowledges it. Without `path`, every matrix level in order, each with
    `default_hours_to_acknowledge`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="run the job in `hub serve`")
    interval_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="how often `hub serve` looks for episodes"
    )
    path: list[AtRiskLevelSettings] | None = Field(default=None, min_length=1)
    default_hours_to_acknowledge: float = Field(default=4.0, gt=0, le=24 * 365)


class CaseSettings(BaseModel):
    """Cases in a ticketing tool for pending approvals and due reviews (docs/settings.md,
    docs/governance.md "Reviews and renewals"). The connection (url, credentials,
    timeouts) is that of the [jira] or [servicenow] section."""

    model_config = ConfigDict(extra="forbid")

    system: Literal["jira", "servicenow"] | None = Field(
        default=None, description="where cases are opened; unset = no cases"
    )
    interval_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="how often `hub serve` opens and closes them"
    )
    jira_service_desk_id: str | None = Field(
        default=None, description="the JSM service desk requests are raised in"
    )
    jira_request_type_id: str | None = Field(
        default=None, description="the JSM request type of a case"
    )
    jira_close_transition_id: str | None = Field(
        default=None, description="the workflow transition that resolves a case"
    )
    servicenow_table: Literal["sc_task", "task"] = Field(
        default="sc_task", description="the table cases are records of"
    )
    servicenow_assignment_group: str | None = Field(
        default=None, description="sys_id (or name) of the group cases are assigned to"
    )

    @model_validator(mode="after")
    def _complete(self) -> CaseSettings:
        if self.system == "jira":
            missing = [
                name
                for name in (
                    "jira_service_desk_id",
                    "jira_request_type_id",
                    "jira_close_transition_id",
                )
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"system = jira needs {', '.join(missing)}")
        return self


class ReportingSettings(BaseModel):
    """Reports' distribution on schedule and the anomalies noticed after each assessment
    (docs/reporting.md, "Distribution" and "Anomalies")."""

    model_config = ConfigDict(extra="forbid")

    anomaly_drop_points: float = Field(
        default=2.0,
        gt=0,
        le=100,
        description="a fall in compliance of more than this many percentage points against "
        "the mean of the previous periods is an anomaly",
    )
    anomaly_periods: int = Field(
        default=3, ge=1, le=24, description="previous calendar months a period is compared with"
    )
    distribution_interval_seconds: int = Field(
        default=60, ge=0, description="how often `hub serve` looks for due lists; 0: never"
    )
    distribution_claim_seconds: int = Field(
        default=900,
        ge=30,
        description="a run claimed by a process that died is taken over after this long",
    )


class Settings(BaseSettings):
    """Everything the hub can be told. See ``docs/settings.md`` for each key."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=DEFAULT_CONFIG_FILE,
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "json": one JSON object per line, with the request id (docs/observability.md).
    log_format: Literal["text", "json"] = "text"
    neo4j: Neo4jSettings = Neo4jSettings()
    embedded: EmbeddedGraphSettings = EmbeddedGraphSettings()
    api: ApiSettings = ApiSettings()
    policy: PolicySettings = PolicySettings()
    identification: IdentificationSettings = IdentificationSettings()
    servicenow: ServiceNowSettings = ServiceNowSettings()
    jira: JiraSettings = JiraSettings()
    pagerduty: PagerDutySettings = PagerDutySettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    datadog: DatadogSettings = DatadogSettings()
    slo: SloSettings = SloSettings()
    backup: BackupSettings = BackupSettings()
    smtp: SmtpSettings = SmtpSettings()
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    notifications: NotificationSettings = NotificationSettings()
    renewals: RenewalSettings = RenewalSettings()
    cases: CaseSettings = CaseSettings()
    remediation: RemediationSettings = RemediationSettings()
    at_risk_escalation: AtRiskEscalationSettings = AtRiskEscalationSettings()
    reporting: ReportingSettings = ReportingSettings()

    @field_validator("notifications")
    @classmethod
    def _lists_name_channels(
        cls, value: NotificationSettings, info: ValidationInfo
    ) -> NotificationSettings:
        webhooks, smtp = info.data.get("webhooks", {}), info.data.get("smtp")
        for name, entry in value.lists.items():
            unknown = sorted(set(entry.webhooks) - set(webhooks))
            if unknown:
                raise ValueError(f"lists.{name}: no [webhooks.{unknown[0]}] is configured")
            if entry.emails and (smtp is None or not smtp.enabled):
                raise ValueError(f"lists.{name}: has emails but smtp.host is not set")
        return value

    @field_validator("renewals")
    @classmethod
    def _renewals_name_a_list(cls, value: RenewalSettings, info: ValidationInfo) -> RenewalSettings:
        notifications = info.data.get("notifications")
        if value.list is not None and (
            notifications is None or value.list not in notifications.lists
        ):
            raise ValueError(f"list: no [notifications.lists.{value.list}] is configured")
        return value

    @field_validator("remediation")
    @classmethod
    def _budget_policy_levels_exist(
        cls, value: RemediationSettings, info: ValidationInfo
    ) -> RemediationSettings:
        slo = info.data.get("slo")
        named = set() if slo is None else slo.budget_policies.levels()
        beyond = sorted(level for level in named if level > len(value.escalation_levels))
        if beyond:
            raise ValueError(
                f"escalation_levels: [slo.budget_policies] notifies level {beyond[0]} but "
                f"the matrix has {len(value.escalation_levels)}; add levels or lower the policy's"
            )
        return value

    @field_validator("at_risk_escalation")
    @classmethod
    def _at_risk_path_names_levels(
        cls, value: AtRiskEscalationSettings, info: ValidationInfo
    ) -> AtRiskEscalationSettings:
        remediation = info.data.get("remediation")
        if remediation is None or value.path is None:
            return value
        names = [level.name for level in remediation.escalation_levels]
        for n, item in enumerate(value.path):
            known = (
                1 <= item.level <= len(names)
                if isinstance(item.level, int)
                else item.level in names
            )
            if not known:
                raise ValueError(
                    f"path.{n}.level: {item.level!r} is no level of [remediation] "
                    f"escalation_levels; give one of {', '.join(names)} or 1 to {len(names)}"
                )
        return value

    @field_validator("cases")
    @classmethod
    def _cases_have_a_connection(cls, value: CaseSettings, info: ValidationInfo) -> CaseSettings:
        if value.system is not None:
            section = info.data.get(value.system)
            if section is None or section.url is None:
                raise ValueError(f"system: no [{value.system}] url is configured")
        return value

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def backup_directory(self) -> Path:
        """Where `hub serve` writes its scheduled backups."""
        return self.backup.directory or self.data_dir / "backups"

    @property
    def uses_embedded_graph(self) -> bool:
        return self.neo4j.uri is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, or raise `SettingsError` naming every bad key."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = "__".join(str(part) for part in error["loc"]).upper()
            problems.append(f"  HUB_{key}: {error['msg']}")
        raise SettingsError("invalid settings:\n" + "\n".join(problems)) from exc
