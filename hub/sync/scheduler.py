"""Scheduled jobs inside `hub serve`: each enabled connector's sync on its interval,
the breach assessment, the scheduled backup (`hub.sync.backups`), the
notification dispatcher (`hub.notify`), the renewal reminders
(`hub.sync.renewals`), the cases in the ticketing tool (`hub.sync.cases`), the
remediation jobs (`hub.sync.escalations`, `hub.sync.performance`,
`hub.sync.periodic_audit`), report
distribution (`hub.sync.distribution`) and, after each assessment, report anomalies
(`hub.sync.anomalies`) and the error-budget policies (`hub.sync.budget_policies`, also
on their own interval).

A telemetry source's job runs at the shortest tier interval (`[slo.monitoring]`) when
that is shorter than the connector's, and each run measures only the objectives whose
tier interval has passed since their watermark (`tiered_due_filter`).

APScheduler runs a job at most once at a time (`max_instances=1`) and folds missed
runs into one (`coalesce`); the lease in the graph keeps two hub processes that share
one graph from syncing the same connector at once, and from both taking an interval's
backup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from hub.domain.monitoring import due_objectives, scheduled_interval
from hub.engine.service import ServiceLevels
from hub.events import status_events
from hub.graph.client import Graph
from hub.graph.errors import GraphError
from hub.graph.repositories.ownership import OwnershipRepository
from hub.notify.outbox import dispatch_notifications
from hub.settings import Settings
from hub.sync.anomalies import detect_after_assessment
from hub.sync.at_risk import run_at_risk_escalation
from hub.sync.backups import first_run_time, run_scheduled_backup
from hub.sync.budget_policies import run_scheduled_budget_policies
from hub.sync.cases import reconcile_cases
from hub.sync.distribution import run_due_distributions
from hub.sync.escalations import escalate
from hub.sync.lease import LeaseHeldError, lease_holder
from hub.sync.performance import review_performance
from hub.sync.periodic_audit import previous_month, run_periodic_audit
from hub.sync.registry import connector_settings, enabled, is_telemetry
from hub.sync.renewals import send_renewal_reminders
from hub.sync.service import sync_now

log = logging.getLogger(__name__)


def job_interval(settings: Settings, name: str) -> timedelta:
    """How often connector `name`'s scheduled sync runs."""
    interval = timedelta(seconds=connector_settings(settings, name).interval_seconds)
    if not is_telemetry(name):
        return interval
    return scheduled_interval(settings.slo.monitoring, interval)


async def tiered_due_filter(
    settings: Settings, graph: Graph, name: str, now: datetime
) -> Callable[[str, datetime | None], bool]:
    """Which objectives a scheduled run of telemetry source `name` at `now` measures:
    those whose tier interval (else the connector's) has passed since their watermark."""
    tiers = await OwnershipRepository(graph).live_tiers(now)
    interval = timedelta(seconds=connector_settings(settings, name).interval_seconds)
    return due_objectives(tiers, settings.slo.monitoring, interval, now)


def build_scheduler(settings: Settings, graph: Graph) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name in enabled(settings):

        async def job(name: str = name) -> None:
            try:
                due = None
                if is_telemetry(name):
                    due = await tiered_due_filter(settings, graph, name, datetime.now(UTC))
                run = await sync_now(settings, graph, name, due_filter=due)
            except LeaseHeldError as exc:
                log.info("scheduled sync skipped: %s", exc)
                return
            log.info(
                "scheduled sync of %s %s: %d fetched, %d created, %d updated, %d deleted, "
                "%d quarantined",
                name,
                run.status.lower(),
                run.fetched,
                run.created,
                run.updated,
                run.deleted,
                run.quarantined,
            )

        scheduler.add_job(
            job,
            "interval",
            seconds=int(job_interval(settings, name).total_seconds()),
            id=f"sync:{name}",
            max_instances=1,
            coalesce=True,
        )

    async def assess() -> None:
        try:
            breaches = await ServiceLevels(graph, settings.slo).assess(
                datetime.now(UTC), policy=settings.remediation
            )
        except GraphError as exc:
            log.error("scheduled breach assessment failed: %s", exc)
            return
        log.info("scheduled breach assessment: %d violations", len(breaches))
        # Live status subscriptions re-read the objectives found in breach (hub.events).
        status_events.publish(b.objective_id for b in breaches)
        # Report anomalies of the months just assessed (docs/reporting.md).
        await detect_after_assessment(graph, settings, datetime.now(UTC))
        # Error-budget policies act on the statuses as of now (docs/service-levels.md).
        await apply_budget_policies()

    async def apply_budget_policies() -> None:
        try:
            await run_scheduled_budget_policies(graph, settings)
        except LeaseHeldError as exc:  # another hub's run is acting now
            log.info("scheduled budget policies skipped: %s", exc)
            return
        except GraphError as exc:  # what was not done now is due at the next run
            log.error("scheduled budget policies failed: %s", exc)
            return

    scheduler.add_job(
        assess,
        "interval",
        seconds=settings.slo.assess_interval_seconds,
        id="slo:assess",
        max_instances=1,
        coalesce=True,
    )
    # The lease and unique action keys keep replicas from taking one action twice.
    scheduler.add_job(
        apply_budget_policies,
        "interval",
        minutes=settings.slo.budget_policies.interval_minutes,
        id="slo:budget-policies",
        name="error-budget policies",
        max_instances=1,
        coalesce=True,
    )
    if settings.backup.interval_hours:
        scheduler.add_job(
            run_scheduled_backup,
            "interval",
            args=(settings, graph, lease_holder()),  # one holder for this process's runs
            hours=settings.backup.interval_hours,
            start_date=first_run_time(settings, datetime.now(UTC)),
            id="backup:scheduled",
            name="scheduled backup",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # a late backup still runs (once: coalesce)
        )
    notifications = settings.notifications
    if notifications.dispatch_interval_seconds and (settings.smtp.enabled or settings.webhooks):

        async def dispatch() -> None:
            try:
                report = await dispatch_notifications(settings, graph)
            except GraphError as exc:  # what was not sent stays due for the next run
                log.error("scheduled notification dispatch failed: %s", exc)
                return
            if report.claimed:
                log.info("scheduled notification dispatch: %s", report)

        # Claims in the graph keep two hub processes from sending one delivery twice.
        scheduler.add_job(
            dispatch,
            "interval",
            seconds=notifications.dispatch_interval_seconds,
            id="notifications:dispatch",
            name="notification dispatch",
            max_instances=1,
            coalesce=True,
        )
    if settings.renewals.list is not None:

        async def remind() -> None:
            try:
                await send_renewal_reminders(settings, graph)
            except GraphError as exc:  # the next run enqueues what this one did not
                log.error("scheduled renewal reminders failed: %s", exc)

        # Dedupe keys in the outbox keep restarts and replicas from sending one twice.
        scheduler.add_job(
            remind,
            "interval",
            hours=settings.renewals.interval_hours,
            next_run_time=datetime.now(UTC),
            id="renewals:remind",
            name="renewal reminders",
            max_instances=1,
            coalesce=True,
        )
    if settings.reporting.distribution_interval_seconds:

        async def distribute() -> None:
            try:
                report = await run_due_distributions(graph, settings, datetime.now(UTC))
            except GraphError as exc:  # a run not made stays due for the next
                log.error("scheduled report distribution failed: %s", exc)
                return
            if report.due:
                log.info("scheduled report distribution: %s", report)

        # Runs are claimed in the graph: two hub processes never make one run twice.
        scheduler.add_job(
            distribute,
            "interval",
            seconds=settings.reporting.distribution_interval_seconds,
            id="reports:distribute",
            name="report distribution",
            max_instances=1,
            coalesce=True,
        )
    if settings.cases.system is not None:

        async def cases() -> None:
            try:
                await reconcile_cases(settings, graph)
            except LeaseHeldError as exc:
                log.info("scheduled cases run skipped: %s", exc)
            except GraphError as exc:  # the next run picks up what this one left
                log.error("scheduled cases run failed: %s", exc)

        # The lease and the unique case per subject keep replicas from opening two.
        scheduler.add_job(
            cases,
            "interval",
            minutes=settings.cases.interval_minutes,
            next_run_time=datetime.now(UTC),
            id="cases:reconcile",
            name="ticketing cases",
            max_instances=1,
            coalesce=True,
        )
    remediation = settings.remediation

    async def escalate_due() -> None:
        try:
            report = await escalate(graph, settings, datetime.now(UTC))
        except GraphError as exc:  # a step not escalated now is due at the next run
            log.error("scheduled escalation failed: %s", exc)
            return
        if report.escalated:
            log.info("scheduled escalation: %s", report)

    # Unique step keys keep restarts and replicas from escalating one step twice.
    scheduler.add_job(
        escalate_due,
        "interval",
        minutes=remediation.escalation_interval_minutes,
        next_run_time=datetime.now(UTC),
        id="remediation:escalate",
        name="violation escalation",
        max_instances=1,
        coalesce=True,
    )
    if settings.at_risk_escalation.enabled:

        async def escalate_at_risk() -> None:
            try:
                await run_at_risk_escalation(graph, settings, datetime.now(UTC))
            except LeaseHeldError as exc:
                log.info("scheduled at-risk escalation skipped: %s", exc)
                return
            except GraphError as exc:  # what was not done now is due at the next run
                log.error("scheduled at-risk escalation failed: %s", exc)
                return

        # The lease and unique step keys keep replicas from telling one level twice. The
        # first run waits an interval, as the assessment does: statuses of every objective
        # in force are not worth computing while a hub is starting.
        scheduler.add_job(
            escalate_at_risk,
            "interval",
            minutes=settings.at_risk_escalation.interval_minutes,
            id="slo:at-risk-escalation",
            name="at-risk escalation",
            max_instances=1,
            coalesce=True,
        )

    async def review_parties() -> None:
        try:
            review = await review_performance(graph, settings, datetime.now(UTC))
        except GraphError as exc:
            log.error("scheduled vendor and team performance review failed: %s", exc)
            return
        if review.opened:
            log.info("performance review: %d remediation actions opened", review.opened)

    scheduler.add_job(
        review_parties,
        "interval",
        hours=remediation.performance_interval_hours,
        next_run_time=datetime.now(UTC),
        id="remediation:performance",
        name="vendor and team performance",
        max_instances=1,
        coalesce=True,
    )

    async def audit_last_month() -> None:
        now = datetime.now(UTC)
        try:
            await run_periodic_audit(graph, settings, previous_month(now), now)
        except GraphError as exc:
            log.error("periodic SLA audit failed: %s", exc)

    # Each replica that runs it archives a report; each later one corrects the one
    # before (docs/remediation.md, "Periodic audits").
    scheduler.add_job(
        audit_last_month,
        "cron",
        day=remediation.audit_day_of_month,
        hour=2,
        id="remediation:audit",
        name="periodic SLA audit",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
