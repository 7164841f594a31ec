"""Targets from history and off-peak baselines: buckets -> `Baseline` -> `TierTarget`.

The history of a service for one indicator is that of each of its objectives of that
indicator: its own (internal SLOs) and its SLAs'. Each objective's buckets are read as
its status reads them (primary source over secondary, approved exceptions excused,
ticket objectives from the incidents of what they cover), in bulk: one read of
telemetry per chunk of objectives, whatever their number.

Thresholds: a ticket objective's come from its tickets' clocks (`ticket_clocks`), run
as its status runs them. A LATENCY objective measured from a latency series keeps each
time slice's latency beside its buckets (`hub.domain.latency`); its slices are read
from its primary source (for LATENCY objectives only, and only here), left out where
its buckets are excused or, with `exclude_peak`, peak, and give its latency
percentiles and per tier the least threshold (a whole number of `latency_step_seconds`)
within which the tier's suggested target share of them fell. A LATENCY objective
measured by good/total (a histogram's bucket ratio) keeps no durations: its buckets
say how often its threshold was met and nothing about another one, so its suggested
threshold is the measured one and its latency evidence is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.buckets import BucketSeries
from hub.domain.business_time import Interval, ticket_clock_seconds
from hub.domain.latency import (
    LatencyBaseline,
    LatencySeries,
    counted_slices,
    latency_threshold,
    summary,
)
from hub.domain.models import Indicator, Objective, Tier
from hub.domain.peak import Baseline, PeakCalendar, PeakHours, PeakSeason, baseline
from hub.domain.suggestions import (
    TierRule,
    TierTarget,
    incident_days,
    suggest_targets,
    suggest_threshold,
)
from hub.domain.windows import Window, snap, snap_up
from hub.engine.sources import telemetry_sources
from hub.engine.status import StatusEngine, TicketRules, ticket_times
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as sl
from hub.graph.cypher import suggestions as q
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.agreements import objective_from_props
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import PeakSettings, SloSettings, SuggestionSettings

# Objectives whose buckets are read at once: 90 days of one objective are ~400 kB of
# buckets, so a chunk stays near 40 MB however many objectives are asked about.
CHUNK = 100
# Slice latencies weigh up to 150 times a day's buckets (1 s slices): fewer at once.
LATENCY_CHUNK = 10


def peak_calendar(settings: PeakSettings) -> PeakCalendar:
    return PeakCalendar(
        time_zone=settings.time_zone,
        hours=tuple(PeakHours(frozenset(h.weekdays), h.start, h.end) for h in settings.hours),
        seasons=tuple(PeakSeason(s.start, s.end) for s in settings.seasons),
    )


def tier_rules(settings: SuggestionSettings) -> list[TierRule]:
    return [
        TierRule(tier, rule.percentile, rule.minimum_target)
        for tier, rule in sorted(settings.tiers.items())
    ]


@dataclass(frozen=True, slots=True)
class ObjectiveSuggestion:
    """What one objective's history suggests, with the baseline it was read from.

    `thresholds` holds, per tier, the suggested threshold: for ticket times, the least
    whole minutes on the ticket clock within which the tier's target share of the
    `tickets` settled in the span were settled; for a LATENCY objective with `latency`
    evidence, the least whole `latency_step_seconds` within which the tier's target
    share of its counted slices fell (None without any); otherwise the measured
    threshold."""

    objective: Objective
    agreement_id: str | None
    baseline: Baseline
    targets: list[TierTarget]
    thresholds: dict[Tier, float | None] = field(default_factory=dict)
    tickets: int | None = None
    latency: LatencyBaseline | None = None

    @property
    def threshold(self) -> float | None:
        return self.objective.threshold


@dataclass(frozen=True, slots=True)
class Evidence:
    """One objective's history over a span: its baseline and per-tier targets and, for
    a LATENCY objective with slice latencies kept, their baseline and the threshold
    they suggest per tier."""

    baseline: Baseline
    targets: list[TierTarget]
    latency: LatencyBaseline | None = None
    latency_thresholds: dict[Tier, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceSuggestions:
    service_id: str
    tier: Tier | None
    indicator: Indicator
    window: Window
    exclude_peak: bool
    incidents: int
    incident_days: int
    objectives: list[ObjectiveSuggestion]


class SuggestionEngine:
    def __init__(
        self, graph: Graph, settings: SloSettings, status: StatusEngine, scope: Scope = UNLIMITED
    ) -> None:
        self._graph = graph
        self._status = status
        self._telemetry = TelemetryRepository(graph)
        self._bindings = settings.bindings
        self._latency_step = settings.suggestions.latency_step_seconds
        self._scope = scope
        self._calendar = peak_calendar(settings.peak)
        self._rules = tier_rules(settings.suggestions)
        self._decimals = settings.suggestions.decimals
        self._ticket_rules = TicketRules.of(settings)

    async def for_service(
        self, service_id: str, indicator: Indicator, window: Window, exclude_peak: bool
    ) -> ServiceSuggestions | None:
        """Suggestions from the service's objectives of `indicator`; None when the
        service is unknown or outside the caller's scope."""
        span = Window(snap(window.start), snap_up(window.end))
        rows = await self._graph.read(
            q.SERVICE_HISTORY,
            serviceId=service_id,
            indicator=str(indicator),
            **{"from": to_iso(span.start), "to": to_iso(span.end)},
            **self._scope.params(),
        )
        if not rows:
            return None
        row = rows[0]
        owned = [(objective_from_props(p), None) for p in row["own"]]
        agreed = [
            (objective_from_props(a["props"], a["agreementId"]), str(a["agreementId"]))
            for a in row["agreed"]
        ]
        pairs = list({o.id: (o, agreement) for o, agreement in owned + agreed}.values())
        found = await self.evidence([o for o, _ in pairs], span, exclude_peak)
        opened = [
            (at, from_iso(i["endedAt"]))
            for i in row["incidents"]
            if (at := from_iso(i["openedAt"])) is not None
        ]
        clocks = await self.ticket_clocks([o for o, _ in pairs], span)
        return ServiceSuggestions(
            service_id=service_id,
            tier=None if row["tier"] is None else Tier(row["tier"]),
            indicator=indicator,
            window=span,
            exclude_peak=exclude_peak,
            incidents=len(opened),
            incident_days=incident_days(opened, span),
            objectives=[
                _with_thresholds(_suggestion(o, agreement, found[o.id]), clocks)
                for o, agreement in pairs
            ],
        )

    async def ticket_clocks(
        self, objectives: Sequence[Objective], span: Window
    ) -> dict[str, list[float]]:
        """For each ticket objective, the clock (business seconds, as its status runs it:
        its calendar, pauses and approved exceptions) of every ticket of its priority
        that stopped in `span`; tickets still running are left out."""
        tickets = [o for o in objectives if o.indicator.ticket_time]
        if not tickets:
            return {}
        rows = await self._graph.read(
            sl.OBJECTIVE_TICKETS,
            ids=[o.id for o in tickets],
            **{"from": to_iso(span.start), "to": to_iso(span.end)},
        )
        by_id = {row["id"]: row for row in rows}
        excused = await self._status.excused(tickets, span, span.end)
        teams = await self._status.provider_teams(tickets)
        found: dict[str, list[float]] = {}
        for objective in tickets:
            row = by_id.get(objective.id)
            rules = self._ticket_rules.for_support_hours(
                row["supportHours"] if row else None
            ).for_provider_team(teams.get(objective.id))
            found[objective.id] = ticket_clocks(
                objective,
                row["tickets"] if row else [],
                rules,
                span,
                excused.get(objective.id, ()),
            )
        return found

    async def suggest(
        self, objectives: Sequence[Objective], window: Window, exclude_peak: bool
    ) -> dict[str, tuple[Baseline, list[TierTarget]]]:
        """The baseline and per-tier targets of each objective over `window`."""
        found = await self.evidence(objectives, window, exclude_peak, latency=False)
        return {key: (e.baseline, e.targets) for key, e in found.items()}

    async def baselines(
        self, objectives: Sequence[Objective], window: Window, exclude_peak: bool
    ) -> dict[str, Baseline]:
        """Each objective's baseline over `window`, off-peak only when `exclude_peak`."""
        found = await self.evidence(objectives, window, exclude_peak, latency=False)
        return {key: e.baseline for key, e in found.items()}

    async def evidence(
        self,
        objectives: Sequence[Objective],
        window: Window,
        exclude_peak: bool,
        *,
        latency: bool = True,
    ) -> dict[str, Evidence]:
        """Each objective's baseline and targets over `window` (off-peak only when
        `exclude_peak`) and, with `latency`, the slice latencies of its LATENCY ones."""
        span = Window(snap(window.start), snap_up(window.end))
        found: dict[str, Evidence] = {}
        for start in range(0, len(objectives), CHUNK):
            chunk = objectives[start : start + CHUNK]
            series = await self._status.series_between(chunk, span, span.end)
            kept = await self._latencies(chunk, span) if latency else {}
            for objective in chunk:
                buckets = series[objective.id]
                found_baseline = baseline(buckets, span, self._calendar, exclude_peak)
                targets = suggest_targets(found_baseline.daily, self._rules, self._decimals)
                slices = kept.get(objective.id)
                if slices is None:
                    found[objective.id] = Evidence(found_baseline, targets)
                else:
                    found[objective.id] = Evidence(
                        found_baseline,
                        targets,
                        *self._latency_evidence(slices, buckets, span, exclude_peak, targets),
                    )
        return found

    async def _latencies(
        self, objectives: Sequence[Objective], span: Window
    ) -> dict[str, LatencySeries]:
        """The slice latencies kept from the primary source of each LATENCY objective
        that has any over `span`."""
        wanted = {
            o.id: primary
            for o in objectives
            if o.indicator is Indicator.LATENCY
            and (primary := telemetry_sources(o, self._bindings).primary) is not None
        }
        found: dict[str, LatencySeries] = {}
        pairs = list(wanted.items())
        for start in range(0, len(pairs), LATENCY_CHUNK):
            part = pairs[start : start + LATENCY_CHUNK]
            stored = await self._telemetry.latency_series(part, span)
            found.update(
                (objective_id, series)
                for objective_id, source in part
                if (series := stored[(objective_id, source)]) is not None
            )
        return found

    def _latency_evidence(
        self,
        slices: LatencySeries,
        buckets: BucketSeries,
        span: Window,
        exclude_peak: bool,
        targets: Sequence[TierTarget],
    ) -> tuple[LatencyBaseline, dict[Tier, float | None]]:
        used, peak = counted_slices(slices, span, self._calendar, exclude_peak, buckets)
        found = summary(used, peak, slices.slice_seconds, span, exclude_peak)
        thresholds = {
            t.tier: latency_threshold(used, t.target, self._latency_step) for t in targets
        }
        return found, thresholds

    async def objective_baseline(
        self, objective_id: str, window: Window, exclude_peak: bool
    ) -> tuple[Objective, Baseline, LatencyBaseline | None] | None:
        """One objective's baseline, and its latency baseline when it is a LATENCY
        objective with slice latencies kept; None when it is unknown or outside the
        scope."""
        rows = await self._graph.read(
            sl.OBJECTIVES_BY_IDS, ids=[objective_id], **self._scope.params()
        )
        if not rows:
            return None
        objective = objective_from_props(rows[0]["objective"])
        found = (await self.evidence([objective], window, exclude_peak))[objective.id]
        return objective, found.baseline, found.latency


def ticket_clocks(
    objective: Objective,
    tickets: Sequence[dict[str, Any]],
    rules: TicketRules,
    span: Window,
    excused: Sequence[Interval] = (),
) -> list[float]:
    """The clock of each ticket of the objective's priority that stopped in `span`,
    run as `hub.engine.status.ticket_outcomes` runs it."""
    clocks = []
    for ticket in tickets:
        times = ticket_times(objective, ticket, rules, span.end)
        if times is None or times.stop is None or not span.contains(times.stop):
            continue
        clocks.append(
            ticket_clock_seconds(
                times.opened, times.stop, times.stop, rules.calendar, times.pauses, excused
            )
        )
    return clocks


def _suggestion(
    objective: Objective, agreement: str | None, found: Evidence
) -> ObjectiveSuggestion:
    return ObjectiveSuggestion(
        objective,
        agreement,
        found.baseline,
        found.targets,
        thresholds=dict(found.latency_thresholds),
        latency=found.latency,
    )


def _with_thresholds(
    found: ObjectiveSuggestion, clocks: dict[str, list[float]]
) -> ObjectiveSuggestion:
    objective = found.objective
    if found.latency is not None:
        return found
    if objective.id not in clocks:
        measured = {t.tier: objective.threshold for t in found.targets}
        return replace(found, thresholds=measured)
    durations = clocks[objective.id]
    return replace(
        found,
        thresholds={t.tier: suggest_threshold(durations, t.target) for t in found.targets},
        tickets=len(durations),
    )
