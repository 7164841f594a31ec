"""`suggestObjectives` and `baseline`: targets from history, off-peak baselines."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.latency import LATENCY_PERCENTILE_METHOD
from hub.domain.latency import LatencyBaseline as LatencyBaselineRecord
from hub.domain.models import Indicator, Tier
from hub.domain.models import Objective as ObjectiveRecord
from hub.domain.peak import PERCENTILE_METHOD
from hub.domain.peak import Baseline as BaselineRecord
from hub.domain.suggestions import TierTarget as TierTargetRecord
from hub.domain.windows import Window
from hub.engine.suggestions import ObjectiveSuggestion
from hub.graph.errors import NotFoundError
from hub.schema.agreements.types import Objective
from hub.schema.base import DateTime, utc_argument
from hub.schema.context import Info

_METHOD = (
    f'numpy "{PERCENTILE_METHOD}": the value at rank floor(p/100 * (n - 1)) of the '
    "ascending daily compliance, always a day that was achieved"
)


_LATENCY_METHOD = (
    f'numpy "{LATENCY_PERCENTILE_METHOD}": the least slice latency with at least p % of '
    "the counted slices at or below it, always a measured slice"
)


@strawberry.type
class LatencyPercentile:
    percentile: float
    seconds: float | None = strawberry.field(
        description="A counted slice's latency; null when it is +inf (slower than the "
        "highest histogram bucket)."
    )


@strawberry.type(
    description="The latency of a LATENCY objective's time slices over [from, to), as its "
    "sync kept them from its primary source's latency series (in seconds, per query step "
    "up to 300 s): slices with a sample, off-peak only when excludePeak, never inside "
    "approved exceptions."
)
class LatencyBaseline:
    slice_seconds: int
    slices: int = strawberry.field(description="Slices counted.")
    peak_slices_excluded: int = strawberry.field(
        description="Slices with a sample left out as peak."
    )
    percentiles: list[LatencyPercentile] = strawberry.field(
        description="50, 90, 95, 99 and 99.9; empty without slices counted."
    )
    method: str

    @classmethod
    def of(cls, found: LatencyBaselineRecord) -> LatencyBaseline:
        return cls(
            slice_seconds=found.slice_seconds,
            slices=found.slices,
            peak_slices_excluded=found.peak_slices_excluded,
            percentiles=[
                LatencyPercentile(
                    percentile=p.percentile,
                    seconds=p.seconds if math.isfinite(p.seconds) else None,
                )
                for p in found.percentiles
            ],
            method=_LATENCY_METHOD,
        )


@strawberry.type(description="One day (UTC) of a baseline: the buckets counted in it.")
class DayCompliance:
    start: DateTime
    compliance: float
    good: float
    total: float
    buckets: int


@strawberry.type
class CompliancePercentile:
    percentile: float
    compliance: float = strawberry.field(description="Percent; a day's compliance.")


@strawberry.type(
    description="Compliance of an objective's buckets over [from, to), off-peak only when "
    "excludePeak (peak hours and seasons: settings [slo.peak]), and its distribution over "
    "UTC days. LATENCY and ticket-time buckets count events within the objective's "
    "threshold, so their compliance is the share within it."
)
class Baseline:
    objective: Objective
    from_: DateTime = strawberry.field(name="from")
    to: DateTime
    exclude_peak: bool
    compliance: float | None
    good: float
    total: float
    buckets_used: int
    peak_buckets_excluded: int
    days_used: int
    days_without_data: int = strawberry.field(
        description="Days of the span with nothing counted: no data, all peak, or no events."
    )
    percentiles: list[CompliancePercentile]
    percentile_method: str
    days: list[DayCompliance]
    latency: LatencyBaseline | None = strawberry.field(
        description="Percentiles of the slice latencies; null unless the objective is "
        "LATENCY, measured from a latency series, with slice latencies kept on the days of "
        "[from, to) (one measured by good/total keeps no durations)."
    )

    @classmethod
    def of(
        cls,
        objective: ObjectiveRecord,
        found: BaselineRecord,
        latency: LatencyBaselineRecord | None = None,
    ) -> Baseline:
        return cls(
            objective=Objective.from_domain(objective),
            from_=found.window.start,
            to=found.window.end,
            exclude_peak=found.exclude_peak,
            compliance=found.compliance,
            good=found.good,
            total=found.total,
            buckets_used=found.buckets_used,
            peak_buckets_excluded=found.peak_buckets_excluded,
            days_used=len(found.days),
            days_without_data=found.days_without_data,
            percentiles=[
                CompliancePercentile(percentile=p.percentile, compliance=p.compliance)
                for p in found.percentiles
            ],
            percentile_method=_METHOD,
            days=[
                DayCompliance(
                    start=datetime(d.day.year, d.day.month, d.day.day, tzinfo=UTC),
                    compliance=d.compliance,
                    good=d.good,
                    total=d.total,
                    buckets=d.buckets,
                )
                for d in found.days
            ],
            latency=None if latency is None else LatencyBaseline.of(latency),
        )


@strawberry.type(
    description="The target a tier's rule suggests: the percentile of achieved daily "
    "compliance (settings [slo.suggestions.tiers]), rounded down, never below the tier's "
    "minimum."
)
class TierTarget:
    tier: Tier
    percentile: float
    minimum_target: float
    achieved: float | None = strawberry.field(
        description="The percentile of the daily compliance; null without days to read."
    )
    target: float
    raised_to_minimum: bool
    threshold: float | None = strawberry.field(
        description="Seconds. Ticket times: the least whole minutes on the ticket clock "
        "within which `target` percent of the tickets settled in [from, to) were settled "
        "(null without any). LATENCY with `evidence.latency`: the least whole "
        "[slo.suggestions] latency_step_seconds within which `target` percent of its "
        "counted slices fell (null without any, or when that share needs a +inf slice); "
        "LATENCY without: the measured threshold. Otherwise null."
    )

    @classmethod
    def of(cls, found: TierTargetRecord, threshold: float | None = None) -> TierTarget:
        return cls(
            tier=found.tier,
            percentile=found.percentile,
            minimum_target=found.minimum_target,
            achieved=found.achieved,
            target=found.target,
            raised_to_minimum=found.raised_to_minimum,
            threshold=threshold,
        )


@strawberry.type(description="What one objective's history suggests, with its evidence.")
class SuggestedObjective:
    agreement_id: strawberry.ID | None = strawberry.field(
        description="The SLA holding the objective; null for the service's own."
    )
    threshold: float | None = strawberry.field(
        description="Seconds, for LATENCY and ticket times: the threshold the history was "
        "measured against (buckets count events within it, not their durations)."
    )
    targets: list[TierTarget] = strawberry.field(description="One per tier.")
    tickets: int | None = strawberry.field(
        description="Ticket times: the tickets settled in [from, to) the thresholds read."
    )
    evidence: Baseline

    @classmethod
    def of(cls, found: ObjectiveSuggestion) -> SuggestedObjective:
        agreement = found.agreement_id
        return cls(
            agreement_id=None if agreement is None else strawberry.ID(agreement),
            threshold=found.threshold,
            targets=[TierTarget.of(t, found.thresholds.get(t.tier)) for t in found.targets],
            tickets=found.tickets,
            evidence=Baseline.of(found.objective, found.baseline, found.latency),
        )


@strawberry.type
class ObjectiveSuggestions:
    service_id: strawberry.ID
    tier: Tier | None = strawberry.field(description="The service's tier.")
    indicator: Indicator
    from_: DateTime = strawberry.field(name="from")
    to: DateTime
    exclude_peak: bool
    incidents: int = strawberry.field(
        description="Incidents on the service open at some moment of [from, to)."
    )
    incident_days: int = strawberry.field(description="UTC days with an incident open.")
    objectives: list[SuggestedObjective] = strawberry.field(
        description="The service's own objectives of the indicator and its SLAs' ones."
    )

    @strawberry.field(description="Each objective's target for the service's own tier.")
    def for_tier(self) -> list[TierTarget]:
        return [t for o in self.objectives for t in o.targets if t.tier == self.tier]


def _window(from_: datetime, to: datetime) -> Window:
    start, end = utc_argument(from_, "from"), utc_argument(to, "to")
    if end <= start:
        raise InvalidInputError([FieldProblem("to", "must be after from")])
    return Window(start, end)


@strawberry.type
class SuggestionQueries:
    @strawberry.field(
        description="Targets suggested per tier from the service's measured history over "
        "[from, to) (its own objectives of the indicator and its SLAs'), with the evidence; "
        "off-peak buckets only when excludePeak."
    )
    async def suggest_objectives(
        self,
        info: Info,
        service_id: strawberry.ID,
        indicator: Indicator,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        exclude_peak: bool = False,
    ) -> ObjectiveSuggestions:
        window = _window(from_, to)
        found = await info.context.service_levels.suggestions.for_service(
            str(service_id), indicator, window, exclude_peak
        )
        if found is None:
            raise NotFoundError("Service", str(service_id))
        return ObjectiveSuggestions(
            service_id=strawberry.ID(found.service_id),
            tier=found.tier,
            indicator=found.indicator,
            from_=found.window.start,
            to=found.window.end,
            exclude_peak=found.exclude_peak,
            incidents=found.incidents,
            incident_days=found.incident_days,
            objectives=[SuggestedObjective.of(o) for o in found.objectives],
        )

    @strawberry.field(
        description="The objective's compliance over [from, to) and its daily percentiles "
        "(and, for LATENCY, its slice latency percentiles), leaving peak hours and seasons "
        "out unless excludePeak is false."
    )
    async def baseline(
        self,
        info: Info,
        objective_id: strawberry.ID,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        exclude_peak: bool = True,
    ) -> Baseline:
        window = _window(from_, to)
        found = await info.context.service_levels.suggestions.objective_baseline(
            str(objective_id), window, exclude_peak
        )
        if found is None:
            raise NotFoundError("Objective", str(objective_id))
        return Baseline.of(*found)
