"""Ticket clocks from a real sync: Jira issues on the fake Jira, read by the Jira connector
(status changes from their changelog) and written by the sync pipeline, settle a
resolution objective with and without the "Waiting for customer" pause.

The calendar is the default one (Monday to Friday, 09:00-17:00 UTC); the fake writes
every date in Europe/Berlin (+0100), as a Jira user there sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
from fakes.jira import FakeJira, option
from fakes.server import serve_app
from slo_support import objective_spec, objectives_of, utc
from support import GraphBuilder, load

from hub.connectors.http import RetryPolicy, SourceClient
from hub.connectors.jira import JiraServiceManagement
from hub.domain.models import AgreementKind, Indicator, Objective
from hub.engine.status import StatusEngine
from hub.graph.client import Graph
from hub.graph.repositories.sync import SyncRepository
from hub.settings import SloSettings
from hub.sync.pipeline import run_sync

AT = utc(2026, 3, 16, 12)  # a Monday; the March window
PAUSE = "Waiting for customer"
COMPONENT_FIELD = "customfield_10050"
RESOLUTION = objective_spec(Indicator.RESOLUTION_TIME, 90.0, threshold=4 * 3600, name="resolve-4h")


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira(time_zone="Europe/Berlin", now=AT)


@pytest.fixture
def jira_url(jira: FakeJira) -> Iterator[str]:
    with serve_app(jira.app) as url:
        yield url


@pytest.fixture
async def jira_client(jira: FakeJira, jira_url: str) -> AsyncIterator[SourceClient]:
    async with SourceClient(
        "jira",
        jira_url,
        auth=(jira.email, jira.api_token),
        retry=RetryPolicy(attempts=2, base_delay=0.01),
    ) as client:
        yield client


def add_tickets(jira: FakeJira, project: str) -> dict[str, str]:
    """Five requests on component ``svc``; each comment gives its business time."""
    on_svc = {COMPONENT_FIELD: [option("svc")]}

    def ticket(created: datetime, *moves: tuple[datetime, str]) -> str:
        key = jira.add_issue(project=project, created=created, status="Open", fields=on_svc)
        for when, status in moves:
            jira.transition(key, status, at=when)
            if status == "Done":
                jira.update(key, resolutiondate=when, updated=AT)
        return key

    return {
        # Mon 09:00-15:00, waiting 10:00-13:00: 3h with the pause (within), else past
        # 4h at 13:00.
        "A": ticket(
            utc(2026, 3, 2, 9),
            (utc(2026, 3, 2, 10), PAUSE),
            (utc(2026, 3, 2, 13), "In Progress"),
            (utc(2026, 3, 2, 15), "Done"),
        ),
        # Tue 09:00-11:00: 2h, within either way.
        "B": ticket(utc(2026, 3, 3, 9), (utc(2026, 3, 3, 11), "Done")),
        # Wed 09:00, waiting from 09:30 until Thu 08:00 (before hours), done Thu 09:30:
        # 0.5h + 0.5h with the pause (within), else past 4h at Wed 13:00.
        "C": ticket(
            utc(2026, 3, 4, 9),
            (utc(2026, 3, 4, 9, 30), PAUSE),
            (utc(2026, 3, 5, 8), "In Progress"),
            (utc(2026, 3, 5, 9, 30), "Done"),
        ),
        # Thu 10:00-16:00, never waiting: past 4h at 14:00 either way.
        "D": ticket(utc(2026, 3, 5, 10), (utc(2026, 3, 5, 16), "Done")),
        # Mon 9 March 09:00, waiting since 09:30 and still open: 0.5h with the pause (not
        # settled, not counted), else past 4h at 13:00 that day.
        "E": ticket(utc(2026, 3, 9, 9), (utc(2026, 3, 9, 9, 30), PAUSE)),
    }


async def resolution_objective(builder: GraphBuilder) -> Objective:
    """The resolution objective of an ACTIVE SLA covering ``svc``."""
    _, author = await load(builder, [], services=["svc"])
    sla = await author(AgreementKind.SLA, "Service desk", ["svc"], [RESOLUTION])
    [objective] = await objectives_of(builder.graph, sla)
    return objective


def new_project() -> str:
    """A project of its own: issue keys are the incidents' ids in the shared graph."""
    return "K" + uuid.uuid4().hex[:8].upper().replace("0", "Q")


def connector(jira_client: SourceClient, project: str, source: str) -> JiraServiceManagement:
    """The Jira connector reading `project`, with a lease and watermark of its own."""
    found = JiraServiceManagement(
        jira_client,
        jql=f"project = {project}",
        component_field=COMPONENT_FIELD,
        component_source=source,
    )
    found.name = f"jira-{source}"
    return found


async def test_a_waiting_for_customer_pause_synced_from_jira_stops_the_resolution_clock(
    graph: Graph, builder: GraphBuilder, source: str, jira: FakeJira, jira_client: SourceClient
) -> None:
    objective = await resolution_objective(builder)
    project = new_project()
    keys = add_tickets(jira, project)

    run = await run_sync(graph, connector(jira_client, project, source))

    assert (run.status, run.error, run.fetched, run.quarantined) == ("SUCCEEDED", None, 5, 0)
    [stored] = await SyncRepository(graph).incidents_by_keys([f"jira:{keys['A']}"])
    assert stored["props"]["stateHistory"] == (
        '[{"at": "2026-03-02T09:00:00.000000Z", "state": "Open"}, '
        '{"at": "2026-03-02T10:00:00.000000Z", "state": "Waiting for customer"}, '
        '{"at": "2026-03-02T13:00:00.000000Z", "state": "In Progress"}, '
        '{"at": "2026-03-02T15:00:00.000000Z", "state": "Done"}]'
    )
    assert len(stored["componentIds"]) == 1

    paused = SloSettings(pause_states=[PAUSE])
    [with_pause] = await StatusEngine(graph, paused).statuses([objective], AT)
    # A, B and C within, D late; E waits and is not settled.
    assert (with_pause.good, with_pause.total, with_pause.compliance) == (3, 4, 75.0)

    unpaused = SloSettings(pause_states=[])
    [without_pause] = await StatusEngine(graph, unpaused).statuses([objective], AT)
    # Only B within; A, C and E pass 4h while waiting, D is late anyway.
    assert (without_pause.good, without_pause.total, without_pause.compliance) == (1, 5, 20.0)

    # The configured states are matched exactly: another pause name changes nothing.
    other = SloSettings(pause_states=["Pending customer"])
    [unmatched] = await StatusEngine(graph, other).statuses([objective], AT)
    assert (unmatched.good, unmatched.total) == (without_pause.good, without_pause.total)


async def test_the_default_settings_pause_on_jiras_waiting_for_customer(
    graph: Graph, builder: GraphBuilder, source: str, jira: FakeJira, jira_client: SourceClient
) -> None:
    """JSM's status is "Waiting for customer"; the default pause states name it."""
    assert PAUSE in SloSettings().pause_states
    objective = await resolution_objective(builder)
    project = new_project()
    key = jira.add_issue(
        project=project,
        created=utc(2026, 3, 2, 9),
        status="Open",
        fields={COMPONENT_FIELD: [option("svc")]},
    )
    jira.transition(key, PAUSE, at=utc(2026, 3, 2, 10))
    jira.transition(key, "Done", at=utc(2026, 3, 2, 15))
    jira.update(key, resolutiondate=utc(2026, 3, 2, 15), updated=AT)
    assert (await run_sync(graph, connector(jira_client, project, source))).status == "SUCCEEDED"

    [status] = await StatusEngine(graph, SloSettings()).statuses([objective], AT)

    # 6h from opening to resolution, 5h of it waiting: 1h on the clock, within 4h.
    assert (status.good, status.total) == (1, 1)
