"""Telemetry ingestion: metric points -> validated 5-minute buckets in the graph.

`hub sync prometheus` (and `datadog`) measures every objective the source is bound
to: objectives imported from OpenSLO carry their own queries; `[[slo.bindings]]` in
the settings bind any objective by id or name. An objective of an approved agreement
version is measured by its own bindings, authored with it or pinned from the settings
by the first run while it is in force; settings that differ from them are refused, reported
and audited, never applied (`check_bindings`, `hub.domain.change_control`).
Objectives are fetched a batch at a time, several at once within the source's
`max_concurrency`; each batch's buckets are written in one transaction, then its
watermarks with the quarantined points in another. A failure loses nothing and
corrupts nothing: a batch whose watermarks were not written is fetched again by the
next run from the old watermarks, and its buckets merge into the stored ones
unchanged. The next run starts at each watermark less an overlap (late samples), so
a run missed while a source was down is backfilled. The first run of an objective
backfills its whole window (and at least the three days the slowest burn-rate alert
looks at). An objective measured from a latency series also keeps each time slice's
latency in seconds on the same days (`TelemetryRepository.store_many`), for the
thresholds `suggestObjectives` reads from history.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from hub.connectors.http import ConnectorError, SourceUnavailableError
from hub.domain import measurements
from hub.domain.buckets import BucketSeries
from hub.domain.change_control import Binding, Refusal, attempted, refusal
from hub.domain.measurements import Measured, Point, RejectedPoint
from hub.domain.models import BudgetingMethod, Objective
from hub.domain.sources import Quarantined
from hub.domain.windows import BUCKET_SECONDS, Window, objective_window, snap
from hub.engine.sources import PRIMARY, source_key, telemetry_sources
from hub.events import status_events
from hub.graph.client import Graph
from hub.graph.ids import from_iso, to_iso
from hub.graph.repositories.bindings import BindingRepository, Pin
from hub.graph.repositories.objectives import ObjectiveRepository
from hub.graph.repositories.sunset import SunsetRepository
from hub.graph.repositories.sync import SyncRepository, SyncRun
from hub.graph.repositories.telemetry import Discrepancy, TelemetryRepository
from hub.settings import SloSettings, TelemetryBinding
from hub.sync.lease import held_lease
from hub.sync.runs import recorded_run

log = logging.getLogger(__name__)

BURN_RATE_HORIZON = timedelta(days=3)

# Objectives written per transaction, and the telemetry days one may carry (each
# about 4.6 kB of byte arrays, 16 kB with one-minute slice latencies): a routine run's
# thousands of objectives take a few transactions, and a first run's month-long
# backfill stays a few MB a statement.
BATCH_OBJECTIVES = 200
MAX_BATCH_DAYS = 600
_DAY_BYTES = 2 * 8 * 288  # a day's good and total arrays


class MetricsSource(Protocol):
    """A telemetry connector as the ingestion sees it."""

    name: str  # the connector, e.g. "prometheus"

    async def points(
        self, query: str, start: datetime, end: datetime, step_seconds: int
    ) -> tuple[list[Point], str | None]:
        """The (epoch seconds, value) points of `query` over [start, end], and their
        unit when the source reports one."""
        ...


@dataclass(frozen=True, slots=True)
class Plan:
    """How one objective is measured by one source."""

    objective: Objective
    role: str
    good: str | None = None
    bad: str | None = None
    total: str | None = None
    counter: bool = False
    ratio: str | None = None
    error_ratio: bool = True
    latency: str | None = None
    unit: str | None = None

    @property
    def queries(self) -> list[str]:
        found = (self.good, self.bad, self.total, self.ratio, self.latency)
        return [q for q in found if q is not None]


class PlanError(ValueError):
    """A binding that names no objective, or names several."""


def as_binding(configured: TelemetryBinding) -> Binding:
    """A settings binding as a term of an objective (without the objective it names)."""
    return Binding.model_validate(configured.model_dump(exclude={"objective"}))


@dataclass(frozen=True, slots=True)
class BindingCheck:
    """The settings bindings sorted out under change control (`check_bindings`).

    `live` are the objectives of the approved versions in force now, with their
    own bindings (pinned ones included); `free` the settings bindings of every other
    objective they name, which they measure as before; `problems` (connector, text)
    the settings bindings that name no objective or several; `refusals` the settings
    bindings that differ from an approved objective's own.
    """

    live: dict[str, Objective]
    free: list[tuple[Binding, Objective]]
    problems: list[tuple[str, str]]
    refusals: list[Refusal]


async def check_bindings(
    graph: Graph, settings: SloSettings, now: datetime, actor: str | None, *, pin: bool
) -> BindingCheck:
    """Match the settings bindings to objectives, pin (if `pin`) the bindings of approved
    objectives that have none yet, and audit (once each) the refused ones as `actor`;
    a reader that only looks (`hub slo rules`) passes None and writes nothing."""
    control = BindingRepository(graph)
    refs = sorted({b.objective for b in settings.bindings})
    bound = await ObjectiveRepository(graph).by_ids_or_names(refs)
    live = {o.id: o for o in await control.live_objectives(now)}
    ended = await control.ended_among(sorted({o.id for os in bound.values() for o in os}), now)
    free: list[tuple[Binding, Objective]] = []
    problems: list[tuple[str, str]] = []
    attempts: dict[str, list[Binding]] = {}
    for configured in settings.bindings:
        named = bound.get(configured.objective, [])
        # A name shared with the objectives of ended versions means the one in force.
        matches = [o for o in named if o.id not in ended]
        if named and not matches:
            continue  # only ended versions: nothing measures them any more
        if len(matches) != 1:
            what = "no objective" if not matches else f"{len(matches)} objectives"
            problems.append(
                (
                    configured.source,
                    f"binding {configured.objective!r}: names {what}; use the objective id",
                )
            )
            continue
        if matches[0].id in live:
            attempts.setdefault(matches[0].id, []).append(as_binding(configured))
        else:
            free.append((as_binding(configured), matches[0]))
    if pin:
        pins = []
        for objective_id, tried in attempts.items():
            objective = live[objective_id]
            if objective.bindings or objective.agreement_id is None:
                continue
            pins.append(Pin(objective_id, objective.agreement_id, attempted(tried)))
        assert actor is not None, "pinning is audited: name the actor"
        pinned = await control.pin(pins, actor)
        for p in pins:
            if p.objective_id in pinned:
                live[p.objective_id] = replace(live[p.objective_id], bindings=p.bindings)
                log.info("objective %s: its settings bindings are pinned", p.objective_id)
        # One pinned meanwhile by another run keeps what that run pinned.
        if len(pinned) < len(pins):
            live = {o.id: o for o in await control.live_objectives(now)}
    refusals = [
        found
        for objective_id, tried in attempts.items()
        if (
            found := refusal(
                objective_id,
                live[objective_id].agreement_id,
                live[objective_id].bindings,
                tried,
            )
        )
        is not None
    ]
    if actor is not None:
        await control.refuse(refusals, actor)
    return BindingCheck(live, free, problems, refusals)


async def check_settings_bindings(
    graph: Graph, settings: SloSettings, now: datetime | None = None
) -> list[Refusal]:
    """At start-up (`hub serve`, whose scheduler runs the syncs): the configured bindings
    that differ from approved objectives' own are logged, audited once, and ignored;
    the hub starts all the same. Pinning is left to the syncs. Without configured
    bindings there is nothing to check, and nothing is read."""
    if not settings.bindings:
        return []
    check = await check_bindings(graph, settings, now or datetime.now(UTC), "settings", pin=False)
    for refused in check.refusals:
        log.warning("%s", refused.problem("[[slo.bindings]]"))
    return check.refusals


def plans_for(
    source: str,
    measured: Sequence[Objective],
    bindings: Sequence[tuple[Binding, Objective]],
    sloth_query: Callable[[str, str], str] | None = None,
) -> tuple[list[Plan], list[str]]:
    """The plans of `source`: objectives whose own metric names it, then each binding
    with the objective it measures (an approved objective's own, or a settings one).
    Returns the plans and a problem per binding that cannot be used."""
    plans: dict[tuple[str, str], Plan] = {}
    problems: list[str] = []
    for objective in measured:
        metric = objective.metric
        if metric is None or metric.total.source_type.lower() != source:
            continue
        plans[(objective.id, PRIMARY)] = Plan(
            objective=objective,
            role=PRIMARY,
            good=metric.good.query if metric.good else None,
            bad=metric.bad.query if metric.bad else None,
            total=metric.total.query,
            counter=metric.counter,
        )
    for binding, objective in bindings:
        if binding.source != source:
            continue
        ratio = binding.ratio
        if binding.sloth_service is not None and binding.sloth_slo is not None:
            if sloth_query is None:
                problems.append(f"binding of {objective.id}: Sloth rules need Prometheus")
                continue
            ratio = sloth_query(binding.sloth_service, binding.sloth_slo)
        plans[(objective.id, binding.role)] = Plan(
            objective=objective,
            role=binding.role,
            good=binding.good,
            bad=binding.bad,
            total=binding.total,
            counter=binding.counter,
            ratio=ratio,
            error_ratio=binding.error_ratio,
            latency=binding.latency,
            unit=binding.unit,
        )
    return list(plans.values()), problems


def fetch_span(
    objective: Objective, watermark: datetime | None, now: datetime, overlap: timedelta
) -> Window:
    """What to fetch: from the watermark less the overlap, but never less than the
    objective's window (plus the burn-rate horizon) on a first run or after a long gap.
    A watermark after `now` (the clock went back) counts as `now`: the span must not
    end before it starts."""
    end = snap(now)
    window = objective_window(objective.window_kind, objective.window_days, now)
    backfill = min(window.start, end - BURN_RATE_HORIZON)
    start = backfill if watermark is None else max(backfill, snap(min(watermark, now) - overlap))
    return Window(start=start, end=end)


def slice_seconds(objective: Objective, step_seconds: int) -> int:
    if objective.budgeting_method is BudgetingMethod.TIMESLICES:
        seconds = objective.time_slice_seconds
        if seconds is not None:
            return seconds
    return step_seconds


async def measure(
    plan: Plan, metrics: MetricsSource, span: Window, now: datetime, step_seconds: int
) -> tuple[Measured, int]:
    """Fetch the plan's queries over `span` and turn them into buckets; returns the
    buckets with the rejected points, and how many points were fetched."""
    objective = plan.objective
    step = slice_seconds(objective, step_seconds)
    fetched: dict[str, tuple[list[Point], str | None]] = {}
    for query in plan.queries:
        fetched[query] = await metrics.points(query, span.start, span.end, step)
    count = sum(len(points) for points, _ in fetched.values())
    args = {"start": span.start, "end": span.end, "now": now}
    if plan.latency is not None:
        points, unit = fetched[plan.latency]
        if objective.threshold is None:
            raise PlanError(f"objective {objective.id}: a latency series needs a threshold")
        result = measurements.latency_good(
            points,
            plan.unit or unit,
            objective.threshold,
            step_seconds=step,
            **args,
        )
        return result, count
    if plan.ratio is not None:
        result = measurements.events_from_ratio(
            fetched[plan.ratio][0], error_ratio=plan.error_ratio, step_seconds=step, **args
        )
        return result, count
    assert plan.total is not None
    total = fetched[plan.total][0]
    good_query = plan.good if plan.good is not None else plan.bad
    assert good_query is not None
    good = fetched[good_query][0]
    if objective.budgeting_method is BudgetingMethod.TIMESLICES:
        assert objective.time_slice_target is not None
        result = measurements.timeslices(
            good,
            total,
            slice_seconds=step,
            slice_target=objective.time_slice_target,
            bad_total=plan.bad is not None,
            **args,
        )
    elif plan.counter:
        result = measurements.events_from_counters(
            good, total, bad_total=plan.bad is not None, step_seconds=step, **args
        )
    else:
        result = measurements.events_from_rates(
            good, total, bad_total=plan.bad is not None, step_seconds=step, **args
        )
    return result, count


def disagreements(
    objective_id: str,
    primary: BucketSeries,
    secondary: BucketSeries,
    tolerance: float,
    names: tuple[str, str],
) -> list[Discrepancy]:
    """Buckets where both sources counted events and their compliance differs by more
    than `tolerance` percentage points. Both series must start together."""
    size = min(len(primary), len(secondary))
    p_good, p_total = primary.good[:size], primary.total[:size]
    s_good, s_total = secondary.good[:size], secondary.total[:size]
    both = (p_total > 0) & (s_total > 0)  # NaN compares False: no data is no verdict
    p = np.divide(100.0 * p_good, p_total, out=np.zeros(size), where=both)
    s = np.divide(100.0 * s_good, s_total, out=np.zeros(size), where=both)
    differ = both & (np.abs(p - s) > tolerance)
    return [
        Discrepancy(
            objective_id,
            primary.start + timedelta(seconds=BUCKET_SECONDS * int(n)),
            names[0],
            names[1],
            float(p[n]),
            float(s[n]),
        )
        for n in np.flatnonzero(differ)
    ]


def _not_measured(plans: Sequence[Plan], shown: int = 5) -> str:
    ids = [plan.objective.id for plan in plans]
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return f"not measured in this run: {', '.join(ids[:shown])}{more}"


def _rejected(source: str, plan_key: str, measured: Measured) -> list[Quarantined]:
    # One record per time: the quarantine keys records by `<objective|role>@<time>`, so points
    # of several series refused at one time (good and total both from the future) share
    # one record naming every reason, rather than the last overwriting the others.
    by_time: dict[float, list[RejectedPoint]] = {}
    for r in measured.rejected:
        by_time.setdefault(r.at, []).append(r)
    return [
        Quarantined(
            source=source,
            record_type="telemetry",
            external_id=f"{plan_key}@{to_iso(datetime.fromtimestamp(at, UTC))}",
            payload=json.dumps(
                {
                    "objective": plan_key.partition("|")[0],
                    "at": at,
                    "value": "; ".join(str(r.value) for r in rs),
                }
            ),
            reason="; ".join(r.reason for r in rs),
        )
        for at, rs in by_time.items()
    ]


async def reconcile(
    telemetry: TelemetryRepository, objective: Objective, span: Window, settings: SloSettings
) -> None:
    """Flag the buckets where the objective's two sources disagree, over the whole days
    `span` touches (the flags of those days follow the current tolerance)."""
    sources = telemetry_sources(objective, settings.bindings)
    if sources.primary is None or sources.secondary is None:
        return
    found = await telemetry.many_series(
        [(objective.id, sources.primary), (objective.id, sources.secondary)], span
    )
    primary = found[(objective.id, sources.primary)]
    flagged = disagreements(
        objective.id,
        primary,
        found[(objective.id, sources.secondary)],
        settings.reconciliation_tolerance,
        (sources.primary, sources.secondary),
    )
    await telemetry.record_discrepancies(objective.id, primary.span, flagged)


@dataclass(slots=True)
class _Fetch:
    """One plan due in this run: what to fetch, and what fetching it gave."""

    plan: Plan
    key: str  # `<objective id>|<role>`, its watermark's key
    span: Window
    result: tuple[Measured, int] | None = None
    error: Exception | None = None


def _day_weight(plan: Plan, step_seconds: int) -> float:
    """What one telemetry day of `plan` weighs in a batch, in days of good/total alone:
    a plan that keeps slice latencies adds 8 bytes a slice (at 60 s slices 2.5 days'
    worth, at 1 s 150)."""
    if plan.latency is None or plan.role != PRIMARY:
        return 1.0
    slice_ = min(slice_seconds(plan.objective, step_seconds), BUCKET_SECONDS)
    return 1.0 + (86_400 // slice_) * 8 / _DAY_BYTES


def _batches(
    due: Sequence[_Fetch], size: int, max_days: int, step_seconds: int = BUCKET_SECONDS
) -> Iterator[list[_Fetch]]:
    """`due` in order, at most `size` plans a batch and, past its first plan, no more
    than `max_days` telemetry days (weighed by `_day_weight`): a first run's backfill of
    a month is some 30 days of byte arrays per objective, a routine run one or two."""
    batch: list[_Fetch] = []
    days = 0.0
    for item in due:
        touched = (item.span.end - timedelta(microseconds=1)).date() - item.span.start.date()
        count = (touched.days + 1) * _day_weight(item.plan, step_seconds)
        if batch and (len(batch) >= size or days + count > max_days):
            yield batch
            batch, days = [], 0.0
        batch.append(item)
        days += count
    if batch:
        yield batch


async def _fetch_all(
    batch: Sequence[_Fetch],
    metrics: MetricsSource,
    now: datetime,
    step_seconds: int,
    slots: asyncio.Semaphore,
    down: asyncio.Event,
) -> None:
    """Measure the batch's plans, at most `slots` at once (the source's own client
    bounds its requests as well, and waits out its 429s). Once the source is down
    (`down`), plans not yet started are left unmeasured."""

    async def one(item: _Fetch) -> None:
        async with slots:
            if down.is_set():
                return
            try:
                item.result = await measure(item.plan, metrics, item.span, now, step_seconds)
            except SourceUnavailableError as exc:
                item.error = exc
                down.set()
            except (ConnectorError, PlanError, ValueError) as exc:
                item.error = exc

    try:
        async with asyncio.TaskGroup() as group:
            for item in batch:
                group.create_task(one(item))
    except ExceptionGroup as errors:
        # A bug (no connector error) fails the run naming it, as one fetch at a time
        # did; the other fetches were cancelled.
        first: BaseException = errors
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


def _unavailable(batch: Sequence[_Fetch]) -> Exception:
    return next(i.error for i in batch if isinstance(i.error, SourceUnavailableError))


async def run_telemetry_sync(
    graph: Graph,
    metrics: MetricsSource,
    settings: SloSettings,
    *,
    step_seconds: int,
    sloth_query: Callable[[str, str], str] | None = None,
    now: datetime | None = None,
    progress: Callable[[SyncRun], None] | None = None,
    holder: str | None = None,
    max_concurrency: int = 1,
    batch_objectives: int = BATCH_OBJECTIVES,
    due_filter: Callable[[str, datetime | None], bool] | None = None,
) -> SyncRun:
    """Ingest every objective `metrics` is bound to; see the module docstring.

    Objectives are measured `batch_objectives` at a time, with up to `max_concurrency`
    of them fetching at once (the connector's own `max_concurrency`, for `hub sync`).
    With `due_filter` (objective id, watermark -> measure now?), the others wait for a
    later run: the scheduler's tier intervals (hub.sync.scheduler)."""
    if max_concurrency < 1 or batch_objectives < 1:
        raise ValueError("max_concurrency and batch_objectives must be at least 1")
    now = now or datetime.now(UTC)
    connector = metrics.name
    sync = SyncRepository(graph)
    telemetry = TelemetryRepository(graph)
    objectives = ObjectiveRepository(graph)
    async with held_lease(sync, connector, holder), recorded_run(sync, connector) as run:
        failures: list[str] = []
        check = await check_bindings(graph, settings, now, f"sync:{connector}", pin=True)
        failures.extend(problem for source, problem in check.problems if source == connector)
        for refused in check.refusals:
            if connector in refused.sources:
                failures.append(refused.problem())
                run.notes.append(refused.problem())
        own = [(b, o) for o in check.live.values() for b in o.bindings]
        plans, problems = plans_for(
            connector,
            await objectives.measured_objectives(),
            [*own, *check.free],
            sloth_query,
        )
        failures.extend(problems)
        # The objectives of sunset agreements are no longer measured (hub.domain.sunset).
        sunset = await SunsetRepository(graph).sunset_objective_ids(now)
        plans = [plan for plan in plans if plan.objective.id not in sunset]
        watermarks = await sync.watermarks(connector)
        if due_filter is not None:
            plans = [
                p
                for p in plans
                if due_filter(
                    p.objective.id, from_iso(watermarks.get(f"{p.objective.id}|{p.role}"))
                )
            ]
        overlap = timedelta(seconds=settings.overlap_seconds)
        due: list[_Fetch] = []
        for plan in plans:
            key = f"{plan.objective.id}|{plan.role}"
            span = fetch_span(plan.objective, from_iso(watermarks.get(key)), now, overlap)
            if span.end > span.start:  # else measured up to this very bucket already
                due.append(_Fetch(plan, key, span))
        spans: dict[str, Window] = {}
        slots = asyncio.Semaphore(max_concurrency)
        down = asyncio.Event()
        done = 0
        for batch in _batches(due, batch_objectives, MAX_BATCH_DAYS, step_seconds):
            await _fetch_all(batch, metrics, now, step_seconds, slots, down)
            results: list[tuple[_Fetch, Measured, int]] = []
            for n, item in enumerate(batch):
                if item.result is not None:
                    results.append((item, *item.result))
                elif item.error is None or isinstance(item.error, SourceUnavailableError):
                    # Down for one is down for all: their watermarks stay, the next
                    # run backfills, and this one ends now instead of retrying each.
                    # What came back after the first refusal is dropped with it.
                    exc = item.error or _unavailable(batch)
                    failures.append(f"{exc}; {_not_measured([f.plan for f in due[done + n :]])}")
                    log.error("%s is unavailable: %s", connector, exc)
                    break
                else:
                    objective_id = item.plan.objective.id
                    failures.append(f"objective {objective_id}: {item.error}")
                    log.error(
                        "%s: measuring objective %s failed: %s", connector, objective_id, item.error
                    )
            # The batch's buckets in one transaction, then their watermarks with the
            # quarantined points in another: a crash between them leaves buckets that
            # the next run, starting from the old watermarks, merges again unchanged.
            if results:
                run.updated += await telemetry.store_many(
                    [
                        (i.plan.objective.id, source_key(connector, i.plan.role), m.series)
                        for i, m, _ in results
                    ],
                    # Only the primary source's are ever read (suggestions).
                    latencies=[
                        m.latency if i.plan.role == PRIMARY else None for i, m, _ in results
                    ],
                )
                for item, _, _ in results:
                    spans[item.plan.objective.id] = item.span
                    watermarks[item.key] = to_iso(item.span.end)
                rejected = [r for i, m, _ in results for r in _rejected(connector, i.key, m)]
                outcome = await sync.write_batch(
                    connector, rejected=rejected, watermarks=dict(watermarks)
                )
                run.fetched += sum(count for _, _, count in results)
                run.quarantined += outcome.quarantined
                if progress is not None:
                    progress(run)
            if down.is_set():
                break
            done += len(batch)
        measured = list(spans)
        for plan in plans:
            if plan.objective.id in spans:
                await reconcile(telemetry, plan.objective, spans[plan.objective.id], settings)
                spans.pop(plan.objective.id)
        await telemetry.prune((now - timedelta(days=settings.retention_days)).date())
        # Live status subscriptions re-read what this run measured (hub.events).
        status_events.publish(measured)
        run.status = "FAILED" if failures else "SUCCEEDED"
        run.error = "; ".join(failures) or None
    return run
