"""Building a compliance report from the graph, and publishing it to the archive.

The figures of each objective-month row are those of `Objective.status` over that
month: the same buckets (`StatusEngine.series_between`, primary source over secondary,
approved exceptions excused, ticket clocks settled as of the month's end or now) and
the same tally (`CumulativeSeries.tally` of the elapsed part of the month). Nothing
here measures anything itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from hub.domain.access import Scope
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.reports import (
    Leaf,
    Report,
    ReportFilter,
    ReportFormat,
    Template,
    canonical,
    months_between,
    roll_up,
    sha256_hex,
    visible_comments,
)
from hub.domain.windows import BUCKET, Window, snap
from hub.domain.workflow import Actor
from hub.engine.sources import telemetry_sources
from hub.engine.status import LOOKBACK, StatusEngine
from hub.graph.client import Graph
from hub.graph.errors import NotFoundError
from hub.graph.ids import new_id, to_iso
from hub.graph.repositories.parties import PartyRepository
from hub.graph.repositories.reports import (
    NONE_MARK,
    CountedObjective,
    ReportRepository,
    StoredSnapshot,
)
from hub.reports.document import report_document
from hub.reports.render import render_csv, render_json
from hub.reports.templates import template_named
from hub.settings import Settings, SloSettings

# A report covers at most this many months: a bound on the work one request asks for.
MAX_MONTHS = 36
# A snapshot's rows travel in one Bolt message, which ArcadeDB refuses over 16 MiB.
MAX_CONTENT_BYTES = 12 * 2**20


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a report is built for: the customer it is limited to, and whether it is
    redacted (only that customer's SLAs, customer-visible commentary)."""

    customer_id: str | None
    redacted: bool


async def audience_of(
    graph: Graph, scope: Scope, template: Template, report_scope: ReportFilter
) -> Audience:
    """A customer token's report is its own customer's, redacted whatever the template;
    so is a report for an external customer, and one from the customer template."""
    if scope.customer_id is not None:
        return Audience(scope.customer_id, True)
    customer_id = report_scope.customer_id
    external = False
    if customer_id is not None:
        found = await PartyRepository(graph, scope).customers_by_ids([customer_id])
        if customer_id not in found:
            raise NotFoundError("Customer", customer_id)
        external = found[customer_id].external
    return Audience(customer_id, template.customer_facing or external)


def check_period(start: datetime, end: datetime) -> None:
    problems = []
    if end <= start:
        problems.append(FieldProblem("to", "must be after `from`"))
    elif len(months_between(start, end)) > MAX_MONTHS:
        problems.append(FieldProblem("to", f"a report covers at most {MAX_MONTHS} months"))
    if problems:
        raise InvalidInputError(problems)


def _objective_name(counted: CountedObjective) -> str:
    objective = counted.objective
    if objective.name:
        return objective.name
    indicator = objective.indicator.value.lower().replace("_", " ")
    priority = f" {objective.priority}" if objective.priority else ""
    return f"{counted.agreement_name}: {indicator}{priority}"


async def build_report(
    graph: Graph,
    scope: Scope,
    template: Template | str,
    start: datetime,
    end: datetime,
    report_scope: ReportFilter,
    now: datetime,
    *,
    slo: SloSettings | None = None,
) -> Report:
    """The report of `template` over [start, end) that a token of `scope` may read
    (`scope` is bound to `now` here). `report_scope` narrows it."""
    template = template_named(template) if isinstance(template, str) else template
    check_period(start, end)
    scope = scope.at(now)
    audience = await audience_of(graph, scope, template, report_scope)
    kinds = ("SLA",) if audience.redacted else template.kinds
    repository = ReportRepository(graph, scope)
    counted = [
        c
        for c in await repository.objectives(kinds, start, end, audience.customer_id)
        if report_scope.admits(c.business_unit, c.region, c.services[0][0] if c.services else None)
    ]
    slo = slo or SloSettings()
    engine = StatusEngine(graph, slo)
    months = months_between(start, end)
    figures = await repository.figures([c.objective.id for c in counted], start, end)
    summed = await _summed_months(repository, engine, slo, counted, start, end, now)
    leaves: list[Leaf] = []
    for month, month_start, month_end in months:
        group = [c for c in counted if c.in_force_during(month_start, month_end)]
        tallies = {
            c.objective.id: summed[(c.objective.id, month)]
            for c in group
            if (c.objective.id, month) in summed
        }
        rest = [c for c in group if c.objective.id not in tallies]
        tallies.update(await _month_tallies(engine, rest, month_start, month_end, now))
        for c in group:
            good, total = tallies.get(c.objective.id, (None, None))
            service_id, service_name = c.services[0] if c.services else (None, c.agreement_name)
            found = figures.get((c.objective.id, month))
            leaves.append(
                Leaf(
                    objective_id=c.objective.id,
                    objective_name=_objective_name(c),
                    kind=c.kind,
                    service_id=service_id,
                    service_name=service_name,
                    business_unit=c.business_unit,
                    region=c.region,
                    month=month,
                    good=good,
                    total=total,
                    target=c.objective.target,
                    violations=found.violations if found else 0,
                    credit=found.credit if found else Decimal(0),
                )
            )
    service_ids = sorted({leaf.service_id for leaf in leaves if leaf.service_id})
    comments = await repository.comments(
        service_ids, [m for m, _, _ in months], internal=not audience.redacted
    )
    return Report(
        template=template,
        start=start,
        end=end,
        generated_at=now,
        total=roll_up(leaves, visible_comments(comments, audience.redacted)),
        redacted=audience.redacted,
        scope=ReportFilter(
            report_scope.business_units,
            report_scope.regions,
            report_scope.service_ids,
            audience.customer_id,
        ),
    )


Tallied = tuple[float | None, float | None]


def _first_of_month(moment: datetime) -> bool:
    return moment == datetime(moment.year, moment.month, 1, tzinfo=UTC)


async def _summed_months(
    repository: ReportRepository,
    engine: StatusEngine,
    slo: SloSettings,
    counted: Sequence[CountedObjective],
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[tuple[str, str], Tallied]:
    """The months whose tally the stored day sums give exactly, without reading buckets:
    whole months that have ended, of telemetry objectives measured by one source, with
    no approved exception overlapping the month and every stored day carrying its sums.
    Their buckets add up to the days' sums (each day's sums are written with its
    buckets), which is what the month's status counts; any other month is tallied from
    its buckets (`_month_tallies`). (objective id, month) -> (good, total); a month
    without data maps to (None, None).

    Reading one aggregated row per objective and month instead of 30 rows of buckets is
    what keeps a 500-service, 12-month report within seconds (docs/benchmarks.md)."""
    whole = [
        (month, month_start, month_end)
        for month, month_start, month_end in months_between(start, end)
        if month_end <= now and _first_of_month(month_start) and _first_of_month(month_end)
    ]
    if not whole:
        return {}
    keys = {c.objective.id: telemetry_sources(c.objective, slo.bindings).read_keys for c in counted}
    single = [
        c.objective
        for c in counted
        if not c.objective.indicator.ticket_time and len(keys[c.objective.id]) == 1
    ]
    if not single:
        return {}
    span = Window(whole[0][1], whole[-1][2])
    excused = await engine.excused(single, span, span.end)
    sums = await repository.month_sums([o.id for o in single], span.start, span.end)
    found: dict[tuple[str, str], Tallied] = {}
    for objective in single:
        source = keys[objective.id][0]
        windows = excused.get(objective.id, ())
        for month, month_start, month_end in whole:
            if any(w.start < month_end and month_start < w.end for w in windows):
                continue
            month_sums = sums.get((objective.id, source, month))
            if month_sums is None:
                found[(objective.id, month)] = (None, None)
            elif month_sums.complete:
                found[(objective.id, month)] = (
                    (month_sums.good, month_sums.total) if month_sums.buckets > 0 else (None, None)
                )
    return found


async def _month_tallies(
    engine: StatusEngine,
    group: Sequence[CountedObjective],
    month_start: datetime,
    month_end: datetime,
    now: datetime,
) -> dict[str, tuple[float | None, float | None]]:
    """good/total of each objective over the month as its status would count them at
    the month's end (or now, for the month still running): the buckets of the span
    `hub.engine.status.measured_span` reads, tallied over the elapsed month."""
    at = min(month_end, now)
    if at <= month_start or not group:
        return {}
    span = Window(min(month_start, snap(at) - LOOKBACK), max(snap(at) + BUCKET, month_start))
    elapsed = Window(month_start, max(month_start, min(snap(at), month_end)))
    series = await engine.series_between([c.objective for c in group], span, at)
    found: dict[str, tuple[float | None, float | None]] = {}
    for c in group:
        tally = series[c.objective.id].cumulative().tally(elapsed)
        if tally.covered_seconds > 0:
            found[c.objective.id] = (tally.good, tally.total)
    return found


# ---- publishing ------------------------------------------------------------------------


async def render_files(report: Report) -> list[tuple[ReportFormat, bytes]]:
    """The three files of a report; the PDF is drawn in a worker thread, so that the
    event loop serving other requests does not wait for it."""
    from hub.reports.pdf import render_pdf

    pdf = await asyncio.to_thread(render_pdf, report)
    return [
        (ReportFormat.JSON, render_json(report)),
        (ReportFormat.CSV, render_csv(report)),
        (ReportFormat.PDF, pdf),
    ]


async def publish(
    graph: Graph,
    settings: Settings,
    actor: Actor,
    template: Template | str,
    start: datetime,
    end: datetime,
    scope: ReportFilter,
    corrects: str | None,
    *,
    now: datetime | None = None,
) -> StoredSnapshot:
    """Build the report as `actor` reads it, render its files and append a snapshot of
    it to the archive's hash chain. `corrects` names a snapshot (one the actor may
    read) that this one corrects."""
    moment = now or datetime.now(UTC)
    reader = actor.scope.at(moment)
    repository = ReportRepository(graph, reader)
    if corrects is not None and await repository.snapshot(corrects) is None:
        raise NotFoundError("ReportSnapshot", corrects)
    report = await build_report(
        graph, reader, template, start, end, scope, moment, slo=settings.slo
    )
    content = canonical(report_document(report))
    if len(content.encode()) > MAX_CONTENT_BYTES:
        raise InvalidInputError(
            [
                FieldProblem(
                    "scope",
                    f"the report is too large to archive as one snapshot "
                    f"({len(content.encode()) / 2**20:.1f} MiB of rows, at most "
                    f"{MAX_CONTENT_BYTES / 2**20:.0f} MiB): narrow the scope or the period",
                )
            ]
        )
    files = await render_files(report)
    snapshot_id = new_id("ReportSnapshot")
    props = {
        "template": report.template.name,
        "audience": report.template.audience.value,
        "from": to_iso(start),
        "to": to_iso(end),
        "scope": canonical(report.scope.to_json()),
        "content": content,
        "units": [u if u is not None else NONE_MARK for u in report.business_units()],
        "regions": [r if r is not None else NONE_MARK for r in report.regions()],
        "customerId": report.scope.customer_id,
        "redacted": report.redacted,
    }
    return await repository.archive(
        snapshot_id,
        props,
        files,
        sha256_hex(content),
        moment,
        actor.user,
        corrects,
    )


__all__ = ["build_report", "publish", "render_files"]
