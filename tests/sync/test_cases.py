"""Cases in the ticketing tool, end to end: the job against the loopback Jira and
ServiceNow fakes and the real embedded graph. Approval cases open on submission and
close on approval or rejection; review cases open when due and close when a review is
recorded; runs repeated, a crash between the tool's create and the graph's write, and
429/5xx answers never leave two cases for one subject."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakes.jira import FakeIssue, FakeJira
from fakes.server import serve_app
from fakes.servicenow import FakeServiceNow
from pydantic import ValidationError
from slo_support import objective_spec
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.connectors.cases import CaseRequest, CaseTool, ExternalCase
from hub.connectors.http import RetryPolicy, SourceClient
from hub.connectors.jira import JiraCases
from hub.connectors.servicenow import ServiceNowCases
from hub.domain.models import AgreementKind, AgreementSpec
from hub.domain.reviews import ReviewCycle, add_months
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.cases import CaseRecord, CaseRepository
from hub.graph.repositories.reviews import ReviewRepository
from hub.settings import Settings
from hub.sync.cases import ACTOR, CasesReport, reconcile_cases
from hub.sync.lease import LeaseHeldError
from hub.sync.scheduler import build_scheduler

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=5)
JIRA_AUTH = ("hub@example.com", "jira-token-123456")
SN_AUTH = ("hub", "s3cret-pw")


class Sleeps:
    """The client's sleep: records the delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira(*JIRA_AUTH)


@pytest.fixture
def jira_url(jira: FakeJira) -> Iterator[str]:
    with serve_app(jira.app) as url:
        yield url


@pytest.fixture
def servicenow() -> FakeServiceNow:
    return FakeServiceNow(*SN_AUTH)


@pytest.fixture
def servicenow_url(servicenow: FakeServiceNow) -> Iterator[str]:
    with serve_app(servicenow.app) as url:
        yield url


def jira_settings(url: str) -> Settings:
    return Settings(
        jira={"url": url, "email": JIRA_AUTH[0], "api_token": JIRA_AUTH[1]},
        cases={
            "system": "jira",
            "jira_service_desk_id": "1",
            "jira_request_type_id": "25",
            "jira_close_transition_id": "761",
        },
    )


def servicenow_settings(url: str) -> Settings:
    return Settings(
        servicenow={"url": url, "username": SN_AUTH[0], "password": SN_AUTH[1]},
        cases={"system": "servicenow", "servicenow_table": "sc_task"},
    )


@pytest.fixture
async def jira_tool(jira_url: str) -> AsyncIterator[tuple[JiraCases, Sleeps]]:
    sleeps = Sleeps()
    client = SourceClient("jira-cases", jira_url, auth=JIRA_AUTH, retry=FAST, sleep=sleeps)
    async with JiraCases(
        client, service_desk_id="1", request_type_id="25", close_transition_id="761"
    ) as tool:
        yield tool, sleeps


@pytest.fixture
async def servicenow_tool(servicenow_url: str) -> AsyncIterator[tuple[ServiceNowCases, Sleeps]]:
    sleeps = Sleeps()
    client = SourceClient(
        "servicenow-cases", servicenow_url, auth=SN_AUTH, retry=FAST, sleep=sleeps
    )
    async with ServiceNowCases(client, table="sc_task", assignment_group="a" * 32) as tool:
        yield tool, sleeps


async def submitted(graph: Graph, builder: GraphBuilder, name: str) -> str:
    """A version PENDING_APPROVAL, written by EDITOR."""
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    repository = AgreementRepository(graph)
    agreement_id = await repository.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name=name,
            covers=(ids["web"],),
            objectives=(objective_spec(target=99.9, name="availability"),),
            customer_id=ids["cust-1"],
        ),
        EDITOR,
    )
    await repository.submit(agreement_id, EDITOR)
    return agreement_id


async def cases_of(graph: Graph, subject_id: str) -> list[CaseRecord]:
    return (await CaseRepository(graph).by_subjects([subject_id]))[subject_id]


def requests_named(jira: FakeJira, name: str) -> list[FakeIssue]:
    return [i for i in jira.created_requests() if name in i.summary]


async def audit_actions(graph: Graph, subject_id: str) -> list[tuple[str, dict[str, Any]]]:
    records = await AuditRepository(graph).for_target(subject_id)
    return [(r.action, json.loads(r.after or "{}")) for r in records if r.actor == ACTOR]


async def test_no_cases_without_a_system(graph: Graph, jira: FakeJira, jira_url: str) -> None:
    settings = Settings(jira={"url": jira_url, "email": JIRA_AUTH[0], "api_token": JIRA_AUTH[1]})
    assert await reconcile_cases(settings, graph) == CasesReport()
    assert jira.requests == []
    jobs = {j.id for j in build_scheduler(settings, graph).get_jobs()}
    assert "cases:reconcile" not in jobs
    assert "cases:reconcile" in {
        j.id for j in build_scheduler(jira_settings(jira_url), graph).get_jobs()
    }


async def test_approval_case_opens_once_and_closes_on_approval(
    graph: Graph,
    builder: GraphBuilder,
    jira: FakeJira,
    jira_url: str,
    jira_tool: tuple[JiraCases, Sleeps],
) -> None:
    name = f"Approval case SLA {uuid.uuid4().hex[:8]}"
    agreement_id = await submitted(graph, builder, name)
    settings = jira_settings(jira_url)
    tool, _ = jira_tool

    await reconcile_cases(settings, graph, tool=tool)
    await reconcile_cases(settings, graph, tool=tool)  # nothing new for this subject

    (request,) = requests_named(jira, name)
    (case,) = await cases_of(graph, agreement_id)
    assert (case.kind, case.state, case.system, case.key) == (
        "APPROVAL",
        "OPEN",
        "jira",
        request.key,
    )
    assert request.project == "SUP"
    assert request.fields["labels"] == [f"hub-case-{case.id}"]
    assert request.fields["requestTypeId"] == "25"
    assert agreement_id in request.fields["description"]
    assert request.status == "Waiting for support"

    await AgreementRepository(graph).approve(agreement_id, APPROVER)
    await reconcile_cases(settings, graph, tool=tool)

    assert jira.issues[request.key].status == "Resolved"
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.resolution) == ("CLOSED", "version approved")
    assert len(requests_named(jira, name)) == 1
    actions = await audit_actions(graph, agreement_id)
    assert [a for a, _ in actions] == ["case.open", "case.close"]
    assert actions[0][1]["key"] == request.key
    assert actions[1][1]["caseId"] == case.id

    # A later run neither reopens nor transitions it again.
    transitions = len(jira.requests_for(f"/rest/api/3/issue/{request.key}/transitions"))
    await reconcile_cases(settings, graph, tool=tool)
    assert len(jira.requests_for(f"/rest/api/3/issue/{request.key}/transitions")) == transitions
    assert len(await cases_of(graph, agreement_id)) == 1


async def test_approval_case_closes_on_rejection_in_servicenow(
    graph: Graph,
    builder: GraphBuilder,
    servicenow: FakeServiceNow,
    servicenow_url: str,
    servicenow_tool: tuple[ServiceNowCases, Sleeps],
) -> None:
    name = f"Rejected case SLA {uuid.uuid4().hex[:8]}"
    agreement_id = await submitted(graph, builder, name)
    settings = servicenow_settings(servicenow_url)
    tool, sleeps = servicenow_tool
    servicenow.fail_next(429, retry_after=1, table="sc_task")
    servicenow.fail_next(500, table="sc_task")

    await reconcile_cases(settings, graph, tool=tool)
    assert [r.status for r in servicenow.requests_for("sc_task")][:3] == [429, 500, 200]
    assert sleeps.delays[0] == 1.0  # the Retry-After
    (record,) = [r for r in servicenow.written("sc_task") if name in r["short_description"]]
    (case,) = await cases_of(graph, agreement_id)
    assert record["correlation_id"] == case.id
    assert record["assignment_group"] == "a" * 32
    assert record["state"] == "1"
    assert (case.state, case.key, case.number) == ("OPEN", record["sys_id"], record["number"])
    assert record["number"].startswith("SCTASK")

    await AgreementRepository(graph).reject(agreement_id, APPROVER, "targets too weak")
    await reconcile_cases(settings, graph, tool=tool)

    closed = servicenow.record("sc_task", record["sys_id"])
    assert (closed["state"], closed["close_notes"], closed["active"]) == (
        "3",
        "version rejected",
        "false",
    )
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.resolution) == ("CLOSED", "version rejected")
    patches = [r for r in servicenow.requests if r.method == "PATCH"]
    assert patches[-1].body == {"state": "3", "close_notes": "version rejected"}


async def test_review_case_opens_when_due_and_closes_when_the_review_is_recorded(
    graph: Graph,
    builder: GraphBuilder,
    servicenow: FakeServiceNow,
    servicenow_url: str,
    servicenow_tool: tuple[ServiceNowCases, Sleeps],
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    approved_at = now - timedelta(days=80)
    name = f"Reviewed SLA {uuid.uuid4().hex[:8]}"
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    past = AgreementRepository(graph, clock=lambda: approved_at)
    agreement_id = await past.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name=name,
            covers=(ids["web"],),
            objectives=(objective_spec(target=99.9, name="availability"),),
            customer_id=ids["cust-1"],
            review_cycle=ReviewCycle.QUARTERLY,
        ),
        EDITOR,
    )
    await past.submit(agreement_id, EDITOR)
    await past.approve(agreement_id, APPROVER)
    due = add_months(approved_at, 3)  # about 10 days after now: inside the 30-day window
    settings = servicenow_settings(servicenow_url)
    tool, _ = servicenow_tool

    # 40 days before the review is due (outside the quarterly window): no case yet.
    await reconcile_cases(settings, graph, clock=lambda: due - timedelta(days=40), tool=tool)
    assert await cases_of(graph, agreement_id) == []

    await reconcile_cases(settings, graph, clock=lambda: now, tool=tool)
    await reconcile_cases(settings, graph, clock=lambda: now, tool=tool)
    (case,) = await cases_of(graph, agreement_id)
    assert (case.kind, case.state, case.due) == ("REVIEW", "OPEN", due)
    (record,) = [r for r in servicenow.written("sc_task") if name in r["short_description"]]
    assert record["correlation_id"] == case.id

    reviewed_at = now + timedelta(hours=1)
    reviews = ReviewRepository(graph, clock=lambda: reviewed_at)
    agreement = await reviews.record(agreement_id, APPROVER, "terms still right")
    assert agreement.last_reviewed_at == reviewed_at
    assert agreement.next_review_at == add_months(reviewed_at, 3)

    later = reviewed_at + timedelta(minutes=5)
    await reconcile_cases(settings, graph, clock=lambda: later, tool=tool)
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.resolution) == ("CLOSED", "review recorded")
    assert servicenow.record("sc_task", record["sys_id"])["state"] == "3"
    # The next review is a quarter away: no new case.
    await reconcile_cases(settings, graph, clock=lambda: later, tool=tool)
    assert len(await cases_of(graph, agreement_id)) == 1
    actions = [a for a, _ in await audit_actions(graph, agreement_id)]
    assert actions == ["case.open", "case.close"]


class CrashAfterCreate:
    """The real tool, except that the process "dies" right after the tool created the
    case named `name`, before the graph recorded it."""

    def __init__(self, tool: CaseTool, name: str) -> None:
        self.tool = tool
        self.name = name
        self.system = tool.system

    async def find(self, correlation_id: str) -> ExternalCase | None:
        return await self.tool.find(correlation_id)

    async def create(self, request: CaseRequest) -> ExternalCase:
        created = await self.tool.create(request)
        if self.name in request.summary:
            raise SystemExit("crash")  # not a ConnectorError: the run ends here
        return created

    async def close(self, case: ExternalCase, resolution: str) -> None:
        await self.tool.close(case, resolution)

    async def aclose(self) -> None:
        await self.tool.aclose()


async def test_a_crash_after_the_create_leaves_one_case(
    graph: Graph,
    builder: GraphBuilder,
    jira: FakeJira,
    jira_url: str,
    jira_tool: tuple[JiraCases, Sleeps],
) -> None:
    name = f"Crash case SLA {uuid.uuid4().hex[:8]}"
    agreement_id = await submitted(graph, builder, name)
    settings = jira_settings(jira_url)
    tool, _ = jira_tool

    with pytest.raises(SystemExit):
        await reconcile_cases(settings, graph, tool=CrashAfterCreate(tool, name))
    (case,) = await cases_of(graph, agreement_id)
    assert case.state == "PENDING"
    (request,) = requests_named(jira, name)

    await reconcile_cases(settings, graph, tool=tool)  # the restarted hub

    assert requests_named(jira, name) == [request]  # found by its label, not made again
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.key) == ("OPEN", request.key)
    searches = [r.body for r in jira.requests_for("/rest/api/3/search/jql")]
    assert {"jql": f'labels = "hub-case-{case.id}"', "fields": ["status"], "maxResults": 1} in (
        searches
    )


async def test_retries_on_429_and_5xx_and_two_runs_at_once(
    graph: Graph,
    builder: GraphBuilder,
    jira: FakeJira,
    jira_url: str,
    jira_tool: tuple[JiraCases, Sleeps],
) -> None:
    name = f"Retried case SLA {uuid.uuid4().hex[:8]}"
    agreement_id = await submitted(graph, builder, name)
    settings = jira_settings(jira_url)
    tool, sleeps = jira_tool
    jira.fail_next(429, path="/rest/servicedeskapi/request", retry_after=2)
    jira.fail_next(502, path="/rest/servicedeskapi/request")

    results = await asyncio.gather(
        reconcile_cases(settings, graph, tool=tool),
        reconcile_cases(settings, graph, tool=tool),
        return_exceptions=True,
    )

    # One run held the lease; the other stood back (or ran after it, finding it done).
    assert all(isinstance(r, CasesReport | LeaseHeldError) for r in results), results
    (request,) = requests_named(jira, name)
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.key) == ("OPEN", request.key)
    assert 2.0 in sleeps.delays  # the Retry-After, honoured
    creates = [r.status for r in jira.requests_for("/rest/servicedeskapi/request")]
    assert creates[:3] == [429, 502, 201]


async def test_a_create_that_failed_after_going_through_is_not_sent_again(
    graph: Graph,
    builder: GraphBuilder,
    jira: FakeJira,
    jira_url: str,
    jira_tool: tuple[JiraCases, Sleeps],
) -> None:
    settings = jira_settings(jira_url)
    tool, _ = jira_tool
    await reconcile_cases(settings, graph, tool=tool)  # other tests' subjects first
    name = f"Gateway case SLA {uuid.uuid4().hex[:8]}"
    agreement_id = await submitted(graph, builder, name)
    already = len(jira.requests_for("/rest/servicedeskapi/request"))
    # The gateway gives up on a slow create that Jira carried out all the same.
    jira.fail_next(504, path="/rest/servicedeskapi/request", after_serving=True)

    await reconcile_cases(settings, graph, tool=tool)

    creates = jira.requests_for("/rest/servicedeskapi/request")[already:]
    assert [r.status for r in creates] == [504]  # not sent again: the recheck found it
    (request,) = requests_named(jira, name)
    (case,) = await cases_of(graph, agreement_id)
    assert (case.state, case.key) == ("OPEN", request.key)


async def test_the_fakes_refuse_malformed_writes(
    jira: FakeJira,
    jira_url: str,
    servicenow: FakeServiceNow,
    servicenow_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=jira_url, auth=JIRA_AUTH) as client:
        bad = await client.post(
            "/rest/servicedeskapi/request",
            json={"serviceDeskId": "1", "requestTypeId": "25", "requestFieldValues": {}},
        )
        assert bad.status_code == 400
        assert bad.json() == {
            "errorMessages": [],
            "errors": {"summary": "You must specify a summary of the issue."},
        }
        desk = await client.post(
            "/rest/servicedeskapi/request",
            json={"serviceDeskId": "9", "requestTypeId": "25", "requestFieldValues": {}},
        )
        assert desk.status_code == 400
        assert desk.json()["i18nErrorMessage"]["i18nKey"] == "sd.servicedesk.not.found"
        text = await client.post("/rest/servicedeskapi/request", content=b"{}")
        assert text.status_code == 415
    async with httpx.AsyncClient(base_url=jira_url) as anonymous:
        unauthenticated = await anonymous.post("/rest/servicedeskapi/request", json={})
        assert unauthenticated.status_code == 401
    async with httpx.AsyncClient(base_url=servicenow_url, auth=SN_AUTH) as client:
        missing = await client.post("/api/now/table/sc_task", json={"description": "x"})
        assert missing.status_code == 400
        assert missing.json()["status"] == "failure"
        unknown = await client.post(
            "/api/now/table/sc_task", json={"short_description": "x", "colour": "red"}
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"]["detail"] == "Table sc_task has no field colour"
        other = await client.post("/api/now/table/incident", json={"short_description": "x"})
        assert other.status_code == 403


def test_settings_name_what_a_case_system_lacks(jira_url: str) -> None:
    with pytest.raises(ValidationError, match="jira_request_type_id, jira_close_transition_id"):
        Settings(
            jira={"url": jira_url},
            cases={"system": "jira", "jira_service_desk_id": "1"},
        )
    with pytest.raises(ValidationError, match=r"no \[servicenow\] url is configured"):
        Settings(cases={"system": "servicenow"})
    assert Settings().cases.system is None
