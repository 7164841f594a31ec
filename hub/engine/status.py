"""The status of objectives: telemetry buckets or ticket clocks -> `ObjectiveStatus`.

Telemetry objectives read their buckets (the primary source overlaid on the
secondary: the primary wins wherever it has data). Ticket objectives (response,
resolution, handoff time) read the tickets of what their agreement covers (or of the
service holding them) and turn each into a settled outcome on the configured
business-hours calendar (or the supported hours of their agreement, which replace
it), paused in the configured states.

Handoff time: the clock of an OLA's HANDOFF_TIME objective runs, for each ticket, from
when the agreement's provider team got it (its first span in the ticket's
`assignments`, `hub.domain.handoffs`) to when that team handed it on (else the
ticket's resolution); a ticket the team never held is not counted, and a ticket
without any assignment history keeps the fallback below (opening to first handoff or
resolution). Objectives of agreements without a provider team (SLAs) time the first
handoff (`handedOffAt`).

Approved exceptions (`hub.graph.repositories.exceptions`) of the components an
objective answers for are left out of it: telemetry buckets inside one are excused
(`BucketSeries.excusing`), and ticket clocks stop in it. They are read in one
statement for all the objectives asked about.

Statuses at many instants (`StatusEngine.statuses_at`: the portal's objective page asks
each objective's status now and at 14 past instants) share their reads: the telemetry
days, exceptions and tickets are read once over the union of the pairs' spans, and each
pair cuts its own days, windows and tickets out of them, so that its status is the one
it would get read alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hub.domain.buckets import BucketSeries
from hub.domain.budget import DEFAULT_ALERT_PAIRS, AlertPair, ObjectiveStatus, objective_status
from hub.domain.business_time import (
    BusinessCalendar,
    Interval,
    TicketOutcome,
    pauses_from_states,
    ticket_buckets,
    ticket_outcome,
)
from hub.domain.exceptions import merged_windows
from hub.domain.handoffs import Assignment
from hub.domain.models import Indicator, Objective
from hub.domain.windows import BUCKET, Window, objective_window, snap
from hub.engine.sources import telemetry_sources
from hub.graph.client import Graph
from hub.graph.cypher import service_levels as q
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.agreements import support_hours_from_json
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.telemetry import TelemetryRepository
from hub.settings import SloSettings

# The slowest burn-rate window looks this far back, even across a period start.
LOOKBACK = timedelta(days=3)

# Where each ticket clock stops, by indicator: the first of these that the ticket has.
# A ticket without a response or handoff time stops at its resolution (it was answered
# or handed on by then at the latest).
TICKET_STOPS: dict[Indicator, tuple[str, ...]] = {
    Indicator.RESPONSE_TIME: ("respondedAt", "acknowledgedAt", "resolvedAt", "closedAt"),
    Indicator.RESOLUTION_TIME: ("resolvedAt", "closedAt"),
    Indicator.HANDOFF_TIME: ("handedOffAt", "resolvedAt", "closedAt"),
}


def calendar_of(settings: SloSettings) -> BusinessCalendar:
    hours = settings.business_hours
    return BusinessCalendar(
        time_zone=hours.time_zone,
        working_days=frozenset(hours.working_days),
        day_start=hours.day_start,
        day_end=hours.day_end,
        holidays=frozenset(hours.holidays),
    )


def alert_pairs(settings: SloSettings) -> tuple[AlertPair, ...]:
    if settings.alert_pairs is None:
        return DEFAULT_ALERT_PAIRS
    return tuple(AlertPair(p.long_seconds, p.short_seconds, p.rate) for p in settings.alert_pairs)


def measured_span(objective: Objective, at: datetime) -> tuple[Window, Window]:
    """The objective's window at `at`, and the span of buckets its status needs."""
    window = objective_window(objective.window_kind, objective.window_days, at)
    end = snap(at) + timedelta(minutes=5)
    return window, Window(min(window.start, snap(at) - LOOKBACK), max(end, window.start))


@dataclass(frozen=True, slots=True)
class TicketRules:
    """How ticket clocks run for one objective. `handoff_team`: the keys naming the
    provider team of its agreement (external-ref keys and its id), None without one."""

    calendar: BusinessCalendar
    pause_states: frozenset[str]
    handoff_team: frozenset[str] | None = None

    @classmethod
    def of(cls, settings: SloSettings) -> TicketRules:
        return cls(calendar=calendar_of(settings), pause_states=frozenset(settings.pause_states))

    def for_support_hours(self, stored: str | None) -> TicketRules:
        """The rules for an agreement's objectives: its supported hours (stored JSON,
        `hub.domain.terms.SupportHoursSpec`) replace the configured business hours
        whole, holidays included; without them the configured ones apply."""
        hours = support_hours_from_json(stored)
        if hours is None:
            return self
        return replace(self, calendar=hours.calendar())

    def for_provider_team(self, keys: frozenset[str] | None) -> TicketRules:
        """The rules for the objectives of an agreement provided by the team these
        keys name (`StatusEngine.provider_teams`); None: no provider team."""
        return replace(self, handoff_team=keys)


def ticket_outcomes(
    objective: Objective,
    tickets: Sequence[dict[str, Any]],
    rules: TicketRules,
    now: datetime,
    excused: Sequence[Interval] = (),
) -> list[TicketOutcome]:
    """Each ticket of the objective's priority, decided against its threshold; the
    clock stops in the `excused` windows (approved exceptions)."""
    assert objective.threshold is not None
    outcomes = []
    for ticket in tickets:
        times = ticket_times(objective, ticket, rules, now)
        if times is None:
            continue
        outcome = ticket_outcome(
            times.opened,
            times.stop,
            now,
            objective.threshold,
            rules.calendar,
            times.pauses,
            excused,
        )
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


@dataclass(frozen=True, slots=True)
class TicketTimes:
    """When a ticket opened, when the objective's clock stopped (None: still running),
    and the spans its state paused the clock."""

    opened: datetime
    stop: datetime | None
    pauses: list[Interval]


def ticket_times(
    objective: Objective, ticket: dict[str, Any], rules: TicketRules, now: datetime
) -> TicketTimes | None:
    """The clock of `ticket` as `objective` runs it (the first stop of its indicator's
    fields, pauses up to the stop or `now`), or None when the ticket is not the
    objective's (another priority) or never opened."""
    if objective.priority is not None and ticket.get("priority") != objective.priority:
        return None
    opened = from_iso(ticket.get("openedAt"))
    if opened is None:
        return None
    stops = (from_iso(ticket.get(field)) for field in TICKET_STOPS[objective.indicator])
    stop = next((s for s in stops if s is not None), None)
    if objective.indicator is Indicator.HANDOFF_TIME and rules.handoff_team is not None:
        spans = ticket_assignments(ticket)
        if spans:
            held = provider_span(spans, rules.handoff_team)
            if held is None:
                return None  # the provider team never had it: not its handoff
            ends = (from_iso(ticket.get(field)) for field in ("resolvedAt", "closedAt"))
            opened = held.assigned_at
            stop = held.handed_off_at or next((e for e in ends if e is not None), None)
    history = json.loads(ticket.get("stateHistory") or "[]")
    pauses = pauses_from_states(
        [(datetime.fromisoformat(h["at"]), h["state"]) for h in history],
        rules.pause_states,
        until=stop or now,
    )
    return TicketTimes(opened, stop, pauses)


def ticket_assignments(ticket: dict[str, Any]) -> tuple[Assignment, ...]:
    """The ticket's stored assignment history (JSON text; empty when unknown)."""
    return tuple(Assignment.from_json(raw) for raw in json.loads(ticket.get("assignments") or "[]"))


def provider_span(spans: Sequence[Assignment], team: frozenset[str]) -> Assignment | None:
    """The first span held by the team `team` names: a span's team ref (a key
    ``source:externalId``) matches one of the team's external-ref keys, or names the
    team's own id as its external id."""
    return next(
        (s for s in spans if s.team_ref in team or s.team_ref.partition(":")[2] in team), None
    )


@dataclass(frozen=True, slots=True)
class Asked:
    """One (objective, at) pair of `StatusEngine.statuses_at`, with its window and the
    span of buckets its status needs (`measured_span`)."""

    objective: Objective
    at: datetime
    window: Window
    span: Window

    @classmethod
    def of(cls, objective: Objective, at: datetime) -> Asked:
        window, span = measured_span(objective, at)
        return cls(objective, at, window, span)

    @property
    def excused_until(self) -> datetime:
        return max(self.span.end, self.at)

    def excused(self, approved: Iterable[Window]) -> list[Window]:
        """Of `approved` (a wider read, unmerged), the merged windows that
        `StatusEngine.excused` would read for this pair alone: those overlapping its
        span, and for a ticket objective every one before its end."""
        start = None if self.objective.indicator.ticket_time else self.span.start
        end = self.excused_until
        return merged_windows(
            w for w in approved if w.start < end and (start is None or w.end > start)
        )


def touched_days(span: Window) -> Window:
    """The whole UTC days that `span` touches, as `TelemetryRepository.many_series`
    reads them."""
    first = datetime.combine(span.start.date(), time(), tzinfo=UTC)
    last = datetime.combine((span.end - timedelta(microseconds=1)).date(), time(), tzinfo=UTC)
    return Window(first, last + timedelta(days=1))


def days_of(series: BucketSeries, days: Window) -> BucketSeries:
    """The buckets of `series` over `days` (which it holds whole), as a series of
    their own: the same values, so the same sums to the last bit, as a read of just
    those days."""
    first = (days.start - series.start) // BUCKET
    last = (days.end - series.start) // BUCKET
    if first < 0 or last > len(series):
        raise ValueError(f"days: {days} lies outside the series {series.span}")
    return BucketSeries(days.start, series.good[first:last], series.total[first:last])


@dataclass(frozen=True, slots=True)
class StoredDays:
    """The stored telemetry of each measured objective over the whole days of the
    union of its pairs' spans, the primary source overlaid on the secondary (None: an
    objective without any source to read)."""

    overlaid: Mapping[str, BucketSeries | None]

    def series(self, asked: Asked) -> BucketSeries:
        """The buckets of the days `asked.span` touches: `StatusEngine._telemetry_series`
        for that span alone. Overlaying is bucket by bucket, so overlaying the union's
        days and then cutting out this pair's gives the same values."""
        union = self.overlaid[asked.objective.id]
        if union is None:
            return BucketSeries.empty(asked.span.start, asked.span.end)
        return days_of(union, touched_days(asked.span))


@dataclass(frozen=True, slots=True)
class SettledTickets:
    """The tickets of several ticket objectives read over the union of their pairs'
    spans, and the rules their clocks run by (`fallback` for one without tickets)."""

    tickets: Mapping[str, Sequence[dict[str, Any]]]
    rules: Mapping[str, TicketRules]
    fallback: TicketRules

    def series(self, asked: Asked, excused: Sequence[Interval]) -> BucketSeries:
        """`StatusEngine._ticket_series` for this pair alone: its tickets are those
        that `OBJECTIVE_TICKETS` gives for its span up to its `at` (the same
        comparisons of the stored texts), settled as of `at`."""
        start, end = to_iso(asked.span.start), to_iso(asked.at)
        objective = asked.objective
        mine = [t for t in self.tickets.get(objective.id, ()) if open_during(t, start, end)]
        rules = self.rules.get(objective.id, self.fallback)
        outcomes = ticket_outcomes(objective, mine, rules, asked.at, excused)
        return ticket_buckets(outcomes, asked.span.start, asked.span.end)


def open_during(ticket: Mapping[str, Any], start: str, end: str) -> bool:
    """`OBJECTIVE_TICKETS`'s test in Python: opened before `end`, not resolved before
    `start` (stored times compare as text, `hub.graph.ids.to_iso`)."""
    opened, resolved = ticket.get("openedAt"), ticket.get("resolvedAt")
    if not isinstance(opened, str) or not opened < end:
        return False
    return resolved is None or (isinstance(resolved, str) and resolved >= start)


class StatusEngine:
    def __init__(self, graph: Graph, settings: SloSettings) -> None:
        self._graph = graph
        self._settings = settings
        self._telemetry = TelemetryRepository(graph)
        self._exceptions = ExceptionRepository(graph)
        self._rules = TicketRules.of(settings)
        self._pairs = alert_pairs(settings)

    async def excused(
        self, objectives: Sequence[Objective], span: Window, at: datetime
    ) -> dict[str, list[Interval]]:
        """The approved exception windows of each objective that matter over `span`:
        those overlapping it, and for ticket objectives every one before `at` (a ticket
        opened before the span ran its clock then)."""
        tickets = any(o.indicator.ticket_time for o in objectives)
        return await self._exceptions.excused_windows(
            [o.id for o in objectives], None if tickets else span.start, max(span.end, at)
        )

    async def series_between(
        self,
        objectives: Sequence[Objective],
        span: Window,
        at: datetime,
        excused: dict[str, list[Interval]] | None = None,
    ) -> dict[str, BucketSeries]:
        """The buckets of each objective over `span` (tickets as settled by `at`), with
        approved exceptions left out (`excused`, read here unless given)."""
        if not objectives:
            return {}
        if excused is None:
            excused = await self.excused(objectives, span, at)
        tickets = [o for o in objectives if o.indicator.ticket_time]
        measured = [o for o in objectives if not o.indicator.ticket_time]
        found = await self._ticket_series(tickets, span, at, excused)
        for objective_id, series in (await self._telemetry_series(measured, span)).items():
            found[objective_id] = series.excusing(excused.get(objective_id, ()))
        return found

    async def statuses(
        self, objectives: Sequence[Objective], at: datetime
    ) -> list[ObjectiveStatus]:
        return await self.statuses_at([(o, at) for o in objectives])

    async def statuses_at(
        self, pairs: Sequence[tuple[Objective, datetime]]
    ) -> list[ObjectiveStatus]:
        """The status of each (objective, at) pair, each equal to what `series_between`
        over its `measured_span` gives one pair at a time, whatever else is asked with
        it. However many instants: one read of the exceptions, one of the telemetry
        days per distinct union of an objective's spans, one of the tickets and one of
        the provider teams; each pair then takes its own days and exceptions from them.
        """
        asked = [Asked.of(o, at) for o, at in pairs]
        found = await self._series_of(asked)
        return [
            objective_status(series, a.objective.target, a.window, a.at, self._pairs)
            for a, series in zip(asked, found, strict=True)
        ]

    async def _series_of(self, asked: Sequence[Asked]) -> list[BucketSeries]:
        if not asked:
            return []
        tickets = [a for a in asked if a.objective.indicator.ticket_time]
        measured = [a for a in asked if not a.objective.indicator.ticket_time]
        # The reads do not depend on each other: send them side by side.
        approved, stored, settled = await asyncio.gather(
            self._approved_windows(asked),
            self._telemetry_days(measured),
            self._tickets_of(tickets),
        )
        found: list[BucketSeries] = []
        for a in asked:
            excused = a.excused(approved.get(a.objective.id, ()))
            if a.objective.indicator.ticket_time:
                found.append(settled.series(a, excused))
            else:
                found.append(stored.series(a).excusing(excused))
        return found

    async def _approved_windows(self, asked: Sequence[Asked]) -> dict[str, list[Window]]:
        """The approved windows every pair's own read (`excused`) would give: those
        overlapping the union of the pairs' spans, unmerged."""
        tickets = any(a.objective.indicator.ticket_time for a in asked)
        start = None if tickets else min(a.span.start for a in asked)
        end = max(a.excused_until for a in asked)
        return await self._exceptions.approved_windows([a.objective.id for a in asked], start, end)

    async def _telemetry_days(self, asked: Sequence[Asked]) -> StoredDays:
        """The stored days of every measured objective over the union of its pairs'
        spans, one read per distinct union."""
        objectives = {a.objective.id: a.objective for a in asked}
        unions: dict[str, Window] = {}
        for a in asked:
            seen = unions.get(a.objective.id, a.span)
            unions[a.objective.id] = Window(
                min(seen.start, a.span.start), max(seen.end, a.span.end)
            )
        by_union: dict[Window, list[Objective]] = {}
        for objective_id, union in unions.items():
            by_union.setdefault(union, []).append(objectives[objective_id])
        sources = {
            o.id: telemetry_sources(o, self._settings.bindings).read_keys
            for o in objectives.values()
        }
        reads = [
            self._telemetry.many_series(
                [(o.id, key) for o in group for key in sources[o.id]], union
            )
            for union, group in by_union.items()
        ]
        stored: dict[tuple[str, str], BucketSeries] = {}
        for found in await asyncio.gather(*reads):
            stored.update(found)
        overlaid: dict[str, BucketSeries | None] = {}
        for objective_id, keys in sources.items():
            # Secondary first, so that the primary wins wherever it has data.
            series: BucketSeries | None = None
            for key in reversed(keys):
                layer = stored[(objective_id, key)]
                series = layer if series is None else series.overlay(layer)
            overlaid[objective_id] = series
        return StoredDays(overlaid)

    async def _tickets_of(self, asked: Sequence[Asked]) -> SettledTickets:
        """The tickets of every ticket objective open at some instant of the union of
        the pairs' spans (each up to its `at`), its rules, in one read (and one of the
        provider teams)."""
        if not asked:
            return SettledTickets({}, {}, self._rules)
        objectives = list({a.objective.id: a.objective for a in asked}.values())
        rows, teams = await asyncio.gather(
            self._graph.read(
                q.OBJECTIVE_TICKETS,
                ids=[o.id for o in objectives],
                **{
                    "from": to_iso(min(a.span.start for a in asked)),
                    "to": to_iso(max(a.at for a in asked)),
                },
            ),
            self.provider_teams(objectives),
        )
        rules = {
            row["id"]: self._rules.for_support_hours(row["supportHours"]).for_provider_team(
                teams.get(row["id"])
            )
            for row in rows
        }
        return SettledTickets({row["id"]: row["tickets"] for row in rows}, rules, self._rules)

    async def provider_teams(self, objectives: Sequence[Objective]) -> dict[str, frozenset[str]]:
        """For each HANDOFF_TIME objective whose agreement has a provider team (an OLA),
        the keys naming that team: its external-ref keys and its id."""
        wanted = [o.id for o in objectives if o.indicator is Indicator.HANDOFF_TIME]
        if not wanted:
            return {}
        rows = await self._graph.read(q.OBJECTIVE_PROVIDER_TEAMS, ids=wanted)
        return {row["id"]: frozenset([row["teamId"], *row["refs"]]) for row in rows}

    async def _telemetry_series(
        self, objectives: Sequence[Objective], span: Window
    ) -> dict[str, BucketSeries]:
        sources = {o.id: telemetry_sources(o, self._settings.bindings) for o in objectives}
        wanted = [(o.id, key) for o in objectives for key in sources[o.id].read_keys]
        stored = await self._telemetry.many_series(wanted, span) if wanted else {}
        found = {}
        for objective in objectives:
            # Secondary first, so that the primary wins wherever it has data. Stored
            # series span whole days around `span`; one source needs no overlay at all.
            keys = sources[objective.id].read_keys
            layers = [stored[(objective.id, key)] for key in reversed(keys)]
            series = layers[0] if layers else BucketSeries.empty(span.start, span.end)
            for layer in layers[1:]:
                series = series.overlay(layer)
            found[objective.id] = series
        return found

    async def _ticket_series(
        self,
        objectives: Sequence[Objective],
        span: Window,
        at: datetime,
        excused: dict[str, list[Interval]],
    ) -> dict[str, BucketSeries]:
        if not objectives:
            return {}
        rows = await self._graph.read(
            q.OBJECTIVE_TICKETS,
            ids=[o.id for o in objectives],
            **{"from": to_iso(span.start), "to": to_iso(at)},
        )
        tickets = {row["id"]: row["tickets"] for row in rows}
        teams = await self.provider_teams(objectives)
        rules = {
            row["id"]: self._rules.for_support_hours(row["supportHours"]).for_provider_team(
                teams.get(row["id"])
            )
            for row in rows
        }
        return {
            o.id: ticket_buckets(
                ticket_outcomes(
                    o,
                    tickets.get(o.id, []),
                    rules.get(o.id, self._rules),
                    at,
                    excused.get(o.id, ()),
                ),
                span.start,
                span.end,
            )
            for o in objectives
        }
