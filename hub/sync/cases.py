"""Cases in the ticketing tool: a scheduled job inside `hub serve` that opens a case
(a JSM request or a ServiceNow task, `[cases] system`) for each version
PENDING_APPROVAL and each agreement whose review is due, and closes each case whose
subject is resolved: the version approved, rejected or withdrawn, the review recorded
(`recordReview`) or the version no longer in force. Approvers work in the tool they use
already; the hub stays the record of the decision.

Never two cases for one subject, across restarts and hub processes:

- one run at a time over the graph: the sync lease named ``cases``;
- a case is claimed in the graph before the tool is asked, PENDING under a
  `subjectKey` that is unique (`hub.graph.cypher.cases`), with a correlation id made
  up by the hub; the id goes into the request (a Jira label, ServiceNow's
  ``correlation_id``);
- a PENDING case is looked up in the tool by that id before it is created, so a run
  that died after the tool created the case and before the graph recorded it finds
  the case on the next run and records it instead of opening another;
- a create that failed (429, 5xx, a dropped connection) is looked up again before
  each retry (`SourceClient.create_json`): a 504 after a create that went through
  does not send it twice.

A review case opens `review_case_days` before the review is due, and stays open
past the due date until a review is recorded. Opening, closing and cancelling are
audited (actor "system:cases") against the agreement version.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.connectors.cases import CaseRequest, CaseTool, ExternalCase
from hub.connectors.http import ConnectorError, SourceClient
from hub.connectors.jira import JiraCases
from hub.connectors.servicenow import ServiceNowCases
from hub.domain.models import AgreementStatus
from hub.domain.reviews import REMINDER_DAYS, CaseKind, review_case_days
from hub.graph.client import Graph
from hub.graph.ids import Clock, system_clock, to_iso
from hub.graph.repositories.agreements import AgreementRepository, valid_time
from hub.graph.repositories.cases import (
    OPEN,
    PENDING,
    CaseRecord,
    CaseRepository,
    UnresolvedCase,
)
from hub.graph.repositories.sync import SyncRepository
from hub.settings import Settings
from hub.sync.lease import held_lease

__all__ = ["ACTOR", "LEASE", "CasesReport", "case_tool", "reconcile_cases"]

log = logging.getLogger(__name__)

ACTOR = "system:cases"
LEASE = "cases"


@dataclass(frozen=True, slots=True)
class CasesReport:
    opened: int = 0
    closed: int = 0
    cancelled: int = 0
    failed: int = 0


def case_tool(settings: Settings) -> CaseTool | None:
    """The configured tool, with a client of its connector's settings; None if unset."""
    cases = settings.cases
    if cases.system == "jira":
        jira = settings.jira
        token = "" if jira.api_token is None else jira.api_token.get_secret_value()
        auth = None if jira.email is None else (jira.email, token)
        client = SourceClient.for_connector("jira-cases", jira, auth=auth)
        # Set: CaseSettings refuses system = jira without them.
        assert cases.jira_service_desk_id is not None
        assert cases.jira_request_type_id is not None
        assert cases.jira_close_transition_id is not None
        return JiraCases(
            client,
            service_desk_id=cases.jira_service_desk_id,
            request_type_id=cases.jira_request_type_id,
            close_transition_id=cases.jira_close_transition_id,
        )
    if cases.system == "servicenow":
        section = settings.servicenow
        password = "" if section.password is None else section.password.get_secret_value()
        auth = None if section.username is None else (section.username, password)
        client = SourceClient.for_connector("servicenow-cases", section, auth=auth)
        return ServiceNowCases(
            client, table=cases.servicenow_table, assignment_group=cases.servicenow_assignment_group
        )
    return None


def _resolution(unresolved: UnresolvedCase, now: datetime) -> str | None:
    """Why the case's subject needs it no longer, or None while it still does."""
    case, subject = unresolved.case, unresolved.subject
    if case.kind is CaseKind.APPROVAL:
        state = subject.get("state")
        return None if state == "PENDING_APPROVAL" else f"version {str(state).lower()}"
    if any(at >= case.created_at for at in unresolved.reviewed_at):
        return "review recorded"
    if valid_time(subject).status_at(now) is not AgreementStatus.ACTIVE:
        return "version no longer in force"
    return None


class _Run:
    def __init__(self, tool: CaseTool, repository: CaseRepository) -> None:
        self.tool = tool
        self.repository = repository
        self.opened = self.closed = self.cancelled = self.failed = 0

    async def open(self, case: CaseRecord) -> None:
        """Get a PENDING case into the tool (found, or created) and record it OPEN."""
        external = await self.tool.find(case.id)
        if external is None:
            request = CaseRequest(case.id, case.summary, case.description)
            external = await self.tool.create(request)
        if await self.repository.mark_open(case, external.key, external.number):
            self.opened += 1
            log.info("case %s opened for %s (%s)", external.number, case.subject_id, case.kind)

    async def close(self, case: CaseRecord, resolution: str) -> None:
        external = await self.tool.find(case.id)
        if external is None and case.state == OPEN and case.key is not None:
            # Gone from the tool (deleted there): nothing is left to close.
            external = ExternalCase(case.key, case.number or case.key, closed=True)
        if external is not None:
            await self.tool.close(external, resolution)
        key = None if external is None else external.key
        number = None if external is None else external.number
        if await self.repository.mark_closed(case, resolution, key, number):
            if key is None:
                self.cancelled += 1
            else:
                self.closed += 1
                log.info("case %s closed: %s", number, resolution)

    async def claim_and_open(
        self,
        *,
        subject_key: str,
        kind: CaseKind,
        subject_id: str,
        summary: str,
        description: str,
        due: datetime | None = None,
    ) -> None:
        case = await self.repository.claim(
            subject_key=f"{self.tool.system}:{subject_key}",
            new_id=uuid.uuid4().hex,
            system=self.tool.system,
            kind=kind,
            subject_id=subject_id,
            summary=summary,
            description=description,
            due=due,
        )
        if case.state == PENDING:
            await self.open(case)


async def reconcile_cases(
    settings: Settings,
    graph: Graph,
    *,
    clock: Clock = system_clock,
    tool: CaseTool | None = None,
) -> CasesReport:
    """Close the cases whose subject is resolved, then open those missing. Does nothing
    without `[cases] system`. Raises `LeaseHeldError` while another run goes on."""
    if settings.cases.system is None:
        return CasesReport()
    async with held_lease(SyncRepository(graph), LEASE):
        own = tool is None
        tool = tool or case_tool(settings)
        assert tool is not None
        try:
            return await _reconcile(tool, graph, clock())
        finally:
            if own:
                await tool.aclose()


async def _reconcile(tool: CaseTool, graph: Graph, now: datetime) -> CasesReport:
    repository = CaseRepository(graph, clock=lambda: now, actor=ACTOR)
    run = _Run(tool, repository)
    waiting: set[tuple[CaseKind, str]] = set()  # subjects with a case still needed
    for unresolved in await repository.unresolved():
        case = unresolved.case
        if case.system != tool.system:
            continue  # left in a tool no longer configured; see docs/governance.md
        resolution = _resolution(unresolved, now)
        try:
            if resolution is not None:
                await run.close(case, resolution)
                continue
            waiting.add((case.kind, case.subject_id))
            if case.state == PENDING:  # a run before this one died half way
                await run.open(case)
        except ConnectorError as exc:  # the next run tries again
            run.failed += 1
            log.warning("case %s for %s: %s", case.id, case.subject_id, exc)
    for pending in await repository.pending_approvals():
        if (CaseKind.APPROVAL, pending.id) in waiting:
            continue
        try:
            await run.claim_and_open(
                subject_key=f"approval:{pending.id}:{pending.submitted_at}",
                kind=CaseKind.APPROVAL,
                subject_id=pending.id,
                summary=f"Approve {pending.kind} {pending.name} (version {pending.version})",
                description=(
                    f"The {pending.kind} {pending.name!r} version {pending.version} "
                    f"({pending.id}) was submitted by {pending.submitted_by} and waits for "
                    "approval in the Service Agreements Hub (approveAgreement or "
                    "rejectAgreement). This case closes when the version is approved, "
                    "rejected or withdrawn."
                ),
            )
        except ConnectorError as exc:
            run.failed += 1
            log.warning("approval case for %s: %s", pending.id, exc)
    agreements = AgreementRepository(graph, clock=lambda: now)
    for renewal in await agreements.upcoming_renewals(max(REMINDER_DAYS)):
        agreement, cycle = renewal.agreement, renewal.agreement.governance.review_cycle
        if renewal.reason != "review" or cycle is None:
            continue
        if (CaseKind.REVIEW, agreement.id) in waiting:
            continue
        if renewal.due - timedelta(days=review_case_days(cycle)) > now:
            continue
        try:
            await run.claim_and_open(
                subject_key=f"review:{agreement.id}:{to_iso(renewal.due)}",
                kind=CaseKind.REVIEW,
                subject_id=agreement.id,
                summary=f"Review {agreement.kind} {agreement.name} by "
                f"{renewal.due.date().isoformat()}",
                description=(
                    f"The {agreement.kind} {agreement.name!r} version {agreement.version} "
                    f"({agreement.id}) is due for its {cycle.lower().replace('_', '-')} "
                    f"review on {to_iso(renewal.due)}. Review its terms and record the "
                    "review in the Service Agreements Hub (recordReview); a change of "
                    "terms is a revision (reviseAgreement). This case closes when the "
                    "review is recorded."
                ),
                due=renewal.due,
            )
        except ConnectorError as exc:
            run.failed += 1
            log.warning("review case for %s: %s", agreement.id, exc)
    report = CasesReport(run.opened, run.closed, run.cancelled, run.failed)
    if report != CasesReport():
        log.info("cases: %s", report)
    return report
