"""Anomaly detection after each assessment (docs/reporting.md, "Anomalies").

`detect_anomalies(graph, settings, now)` builds the SLA compliance figures of the last
``reporting.anomaly_periods`` + 1 ended calendar months with the report engine
(`hub.reports.build.build_report`, template ``executive``: SLAs only, the figures the
reports show), rolls them up per service and per business unit, and judges the latest
month with `hub.domain.anomalies.detect`. Each anomaly is a `ReportAnomaly` node, one
per (service | unit, month): the hub's scheduled assessment and `hub slo assess` call
this after each run, and only the first call that finds one records and notifies it.

Notified to the operations distribution lists (template ``operations``) whose units and
regions hold the anomaly's (a list without units hears of every unit), through the
notification outbox in the transaction that records it; PORTAL lists show it through
`reportAnomalies`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.domain.access import UNLIMITED
from hub.domain.anomalies import PeriodFigure, detect
from hub.domain.distribution import (
    OPERATIONS_TEMPLATE,
    DistributionChannel,
    DistributionList,
    targets,
)
from hub.domain.errors import InvalidInputError
from hub.domain.notifications import NotificationError, Recipients
from hub.domain.reports import NO_REGION, NO_UNIT, ReportFilter, ReportRow
from hub.graph.client import Graph, Transaction
from hub.graph.errors import GraphError
from hub.graph.repositories.anomalies import AnomalyRecord, new_anomaly, record_anomalies
from hub.graph.repositories.distribution import DistributionRepository
from hub.notify.outbox import Outbox
from hub.reports.build import build_report
from hub.settings import Settings
from hub.sync.distribution import notification_lists

__all__ = ["KIND", "AnomalyReport", "detect_after_assessment", "detect_anomalies", "month_starts"]

log = logging.getLogger(__name__)

KIND = "report-anomaly"
TEMPLATE = "executive"


@dataclass(slots=True)
class AnomalyReport:
    found: list[AnomalyRecord] = field(default_factory=list)  # anomalies of the month
    recorded: int = 0  # recorded (and notified) by this call


@dataclass(slots=True)
class _Month:
    """One subject's rolled-up counts in one month (`measured`: some row had data)."""

    good: float = 0.0
    total: float = 0.0
    violations: int = 0
    measured: bool = False


@dataclass(slots=True)
class _Figures:
    """A service's or unit's months, rolled up over its objective-month rows."""

    name: str
    unit: str | None
    region: str | None
    months: dict[str, _Month] = field(default_factory=dict)  # by "YYYY-MM"

    def add(self, leaf: ReportRow) -> None:
        assert leaf.month is not None
        month = self.months.setdefault(leaf.month, _Month())
        if leaf.good is not None and leaf.total is not None:
            month.good += leaf.good
            month.total += leaf.total
            month.measured = True
        month.violations += leaf.violations

    def series(self, starts: list[datetime]) -> list[PeriodFigure]:
        found = []
        for start in starts:
            month = self.months.get(start.strftime("%Y-%m"), _Month())
            if month.measured:
                found.append(PeriodFigure(start, month.good, month.total, month.violations))
            else:
                found.append(PeriodFigure(start, None, None, month.violations))
        return found


def month_starts(now: datetime, count: int) -> list[datetime]:
    """The starts of the `count` calendar months (UTC) that ended last before `now`,
    oldest first, and the end of the last as one more element."""
    moment = now.astimezone(UTC)
    year, month = moment.year, moment.month
    starts = []
    for _ in range(count + 1):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(starts))


def _placed(total: ReportRow) -> Iterable[tuple[str | None, str | None, ReportRow]]:
    for unit_row in total.children:
        unit = None if unit_row.label == NO_UNIT else unit_row.label
        for region_row in unit_row.children:
            region = None if region_row.label == NO_REGION else region_row.label
            for service_row in region_row.children:
                yield unit, region, service_row


async def detect_anomalies(graph: Graph, settings: Settings, now: datetime) -> AnomalyReport:
    """Judge the latest ended month of every service and business unit; record and
    notify the anomalies not recorded before."""
    config = settings.reporting
    bounds = month_starts(now, config.anomaly_periods + 1)
    months, end = bounds[:-1], bounds[-1]
    report = await build_report(
        graph, UNLIMITED, TEMPLATE, months[0], end, ReportFilter(), now, slo=settings.slo
    )
    services: dict[str, _Figures] = {}
    units: dict[str, _Figures] = {}
    for unit, region, service_row in _placed(report.total):
        for leaf in service_row.leaves():
            if service_row.service_id is not None:
                services.setdefault(
                    service_row.service_id, _Figures(service_row.label, unit, region)
                ).add(leaf)
            if unit is not None:
                units.setdefault(unit, _Figures(unit, unit, None)).add(leaf)
    result = AnomalyReport()
    subjects: list[tuple[str | None, _Figures]] = [*services.items()] + [
        (None, f) for f in units.values()
    ]
    for service_id, figures in subjects:
        finding = detect(
            figures.series(months),
            drop_points=config.anomaly_drop_points,
            periods=config.anomaly_periods,
        )
        if finding is None:
            continue
        kinds = tuple(
            k for k, on in (("COMPLIANCE_DROP", finding.drop), ("VIOLATIONS", finding.burst)) if on
        )
        subject = f"Service {figures.name}" if service_id else f"Business unit {figures.name}"
        result.found.append(
            new_anomaly(
                at=now,
                period_start=finding.period_start,
                compliance=round(finding.compliance, 4),
                baseline=round(finding.baseline, 4),
                detail=finding.detail(subject, config.anomaly_drop_points),
                service_id=service_id,
                business_unit=figures.unit,
                region=figures.region if service_id else None,
                kinds=kinds,
            )
        )
    if result.found:
        lists = await DistributionRepository(graph).of_template(OPERATIONS_TEMPLATE)
        result.recorded = await _record(graph, settings, now, lists, result.found)
    if result.recorded:
        log.info("report anomalies: %d new of %d found", result.recorded, len(result.found))
    return result


async def detect_after_assessment(graph: Graph, settings: Settings, at: datetime) -> int | None:
    """`detect_anomalies` as the assessment's follow-up (`hub serve`'s scheduled job and
    `hub slo assess`): the number of new anomalies, or None if detection failed (logged:
    the assessment stands, and the next one detects again)."""
    try:
        return (await detect_anomalies(graph, settings, at)).recorded
    except (GraphError, InvalidInputError, LookupError, ValueError) as exc:
        log.error("report anomaly detection after the assessment at %s failed: %s", at, exc)
        return None


def _admitted(distribution: DistributionList, anomaly: AnomalyRecord) -> bool:
    units, regions = distribution.business_units, distribution.regions
    return (not units or anomaly.business_unit in units) and (
        not regions or anomaly.region in regions
    )


async def _record(
    graph: Graph,
    settings: Settings,
    now: datetime,
    lists: list[DistributionList],
    anomalies: Sequence[AnomalyRecord],
) -> int:
    """Record every anomaly found in one transaction and enqueue the notices of those
    that are new (an anomaly of an ended month is found again at every assessment of
    the month: it is recorded and notified once); the number of new ones."""
    outbox = Outbox(graph, settings, clock=lambda: now)
    planned = {a.key: _notices(settings, outbox, lists, a) for a in anomalies}

    async def work(tx: Transaction) -> int:
        recorded = await record_anomalies(tx, anomalies)
        fresh = 0
        for anomaly in anomalies:
            anomaly_id, new = recorded[anomaly.key]
            if not new:
                continue
            fresh += 1
            subject, payload, notices = planned[anomaly.key]
            for distribution, recipients in notices:
                await outbox.enqueue(
                    tx,
                    KIND,
                    subject,
                    anomaly.detail,
                    recipients,
                    payload={**payload, "id": anomaly_id, "distributionListId": distribution.id},
                    dedupe_key=f"anomaly:{anomaly.key}:{distribution.id}",
                    about=anomaly_id,
                )
        return fresh

    return await graph.write_transaction(work)


def _notices(
    settings: Settings, outbox: Outbox, lists: list[DistributionList], anomaly: AnomalyRecord
) -> tuple[str, dict[str, Any], list[tuple[DistributionList, Recipients]]]:
    """The subject, payload and (list, recipients) of an anomaly's notices, each checked
    with the outbox before any transaction (one that cannot be sent is logged, left out)."""
    lists_by_name = notification_lists(settings)
    subject = f"Compliance anomaly in {anomaly.period_start.strftime('%Y-%m')}: " + (
        "service" if anomaly.service_id else f"unit {anomaly.business_unit}"
    )
    payload: dict[str, Any] = {
        "serviceId": anomaly.service_id,
        "businessUnit": anomaly.business_unit,
        "periodStart": anomaly.period_start,
        "compliance": anomaly.compliance,
        "baseline": anomaly.baseline,
        "kinds": list(anomaly.kinds),
    }
    notices: list[tuple[DistributionList, Recipients]] = []
    for distribution in lists:
        if distribution.channel is DistributionChannel.PORTAL or not _admitted(
            distribution, anomaly
        ):
            continue
        found = targets(distribution.channel, distribution.recipients, lists_by_name)
        recipients = Recipients(emails=found.emails, webhooks=found.webhooks)
        if not recipients:
            continue
        try:
            outbox.prepare(KIND, subject, anomaly.detail, recipients, payload=payload)
        except NotificationError as exc:
            log.error(
                "report anomaly %s: not notified to list %s: %s", anomaly.key, distribution.id, exc
            )
            continue
        notices.append((distribution, recipients))
    return subject, payload, notices
