"""Escalation notices end to end: the job records each escalation once and enqueues
one notification per escalation through the outbox in the same transaction; the
dispatcher delivers them to a real SMTP server (aiosmtpd on loopback) and a loopback
webhook receiver that checks the HMAC. Runs repeated, and runs by separate processes
(a hub stopped and started again, or two hubs at once), notify each step once.

The `hub serve` route (the job registered in the scheduler) is the lead's wiring; here
each "hub" is a process that runs the job once and exits (escalation_process.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from escalation_support import detected, policy
from notify_support import Receiver, SmtpServer, hub_settings
from support import GraphBuilder

from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import escalations as eq
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.remediation import Remediation
from hub.notify import Dispatcher, NotificationRepository
from hub.settings import Settings
from hub.sync.escalations import VIOLATION_KIND, escalate

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
LISTS = {"team": {"emails": ["team@example.com"], "webhooks": ["ops"]}}
RECIPIENTS = [["team"], ["mgmt@example.com"], ["cxo@example.com"]]


@pytest.fixture(scope="module", autouse=True)
async def unique_steps(graph: Graph) -> None:
    # The migration the lead adds; applied here so the tests run before it exists.
    await graph.write(eq.ESCALATION_STEP_UNIQUE)


def settings_for(smtp: SmtpServer, receiver_url: str) -> Settings:
    settings = hub_settings(webhook_url=receiver_url, smtp=smtp.settings(), lists=LISTS)
    return settings.model_copy(update={"remediation": policy(*RECIPIENTS)})


def mails_about(smtp: SmtpServer, remediation: Remediation) -> list[tuple[str, str]]:
    return sorted(
        (",".join(m.rcpt_tos), " ".join(str(m.message["Subject"]).split()))
        for m in smtp.handler.messages
        if remediation.agreement_id in m.message.get_content()
    )


def expected_mails(remediation: Remediation) -> list[tuple[str, str]]:
    what = "Violation of SLA Shop, objective avail"
    return [
        ("mgmt@example.com", f"{what} escalated to level 2 (management)"),
        ("team@example.com", f"{what} escalated to level 1 (team)"),
    ]


async def dispatch(graph: Graph, settings: Settings, now: datetime) -> None:
    async with Dispatcher(graph, settings, clock=lambda: now) as dispatcher:
        await dispatcher.run_once()


async def test_each_escalation_is_mailed_and_posted_once(
    graph: Graph,
    builder: GraphBuilder,
    smtp: SmtpServer,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    remediation = await detected(builder)
    settings = settings_for(smtp, receiver_url)
    later = remediation.detected_at + timedelta(hours=3)
    only = [remediation.agreement_id]

    first = await escalate(graph, settings, later, agreement_ids=only)
    again = await escalate(graph, settings, later, agreement_ids=only)

    assert (first.escalated, first.by_level, first.notified, first.problems) == (
        2,
        {1: 1, 2: 1},
        3,  # the team's list (an address and the webhook), and management's address
        [],
    )
    assert (again.escalated, again.notified) == (0, 0)
    deliveries = await NotificationRepository(graph).find(about=remediation.id)
    assert sorted((d.kind, d.channel, d.target) for d in deliveries) == [
        (VIOLATION_KIND, "EMAIL", "mgmt@example.com"),
        (VIOLATION_KIND, "EMAIL", "team@example.com"),
        (VIOLATION_KIND, "WEBHOOK", "ops"),
    ]

    await dispatch(graph, settings, later)
    await dispatch(graph, settings, later + timedelta(minutes=5))

    assert mails_about(smtp, remediation) == expected_mails(remediation)
    [mail] = [m for m in smtp.handler.messages if m.rcpt_tos == ["mgmt@example.com"]]
    body = mail.message.get_content()
    assert "the root-cause analysis was due" in body
    assert mail.message["X-Hub-Notification"] == VIOLATION_KIND
    [hook] = [d for d in receiver.delivered if d["about"] == remediation.id]
    assert receiver.bad_signatures == 0
    assert hook["kind"] == VIOLATION_KIND
    assert hook["data"] == {
        "subjectId": remediation.id,
        "subjectKind": "Remediation",
        "stepKey": f"{remediation.id}|detected",
        "level": 1,
        "levelName": "team",
        "reason": hook["data"]["reason"],
        "agreementId": remediation.agreement_id,
        "violationId": remediation.violation_id,
    }
    assert hook["data"]["reason"].startswith("violation detected at ")
    audited = [
        r.action
        for r in await AuditRepository(graph).for_target(remediation.id)
        if r.actor == "system:escalation"
    ]
    assert audited == ["escalation.record", "escalation.record"]


def run_hub(args: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(TESTS / "notify" / "escalation_process.py")],
        cwd=REPO,
        env={"PYTHONPATH": f"{TESTS}{':'}{REPO}", "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(processes: list[subprocess.Popen[str]], args: dict[str, Any]) -> list[dict[str, int]]:
    reports = []
    for process in processes:
        out, err = process.communicate(json.dumps(args), timeout=120)
        assert process.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


async def test_hubs_stopped_started_and_side_by_side_escalate_each_step_once(
    graph: Graph,
    graph_connection: GraphConnection,
    builder: GraphBuilder,
    smtp: SmtpServer,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    remediation = await detected(builder)
    settings = settings_for(smtp, receiver_url)
    later = remediation.detected_at + timedelta(hours=3)
    args = {
        "connection": {
            "uri": graph_connection.uri,
            "user": graph_connection.user,
            "password": graph_connection.password,
            "database": graph_connection.database,
        },
        "webhookUrl": receiver_url,
        "smtp": smtp.settings(),
        "lists": LISTS,
        "recipients": RECIPIENTS,
        "now": later.isoformat(),
        "agreementId": remediation.agreement_id,
    }

    # One hub runs the job and stops; it starts again and runs it; then two at once.
    reports = finished([run_hub(args)], args)
    reports += finished([run_hub(args)], args)
    reports += finished([run_hub(args), run_hub(args)], args)

    assert [r["escalated"] for r in reports] == [2, 0, 0, 0]
    assert sum(r["notified"] for r in reports) == 3
    await dispatch(graph, settings, later)
    assert mails_about(smtp, remediation) == expected_mails(remediation)
    assert len([d for d in receiver.delivered if d["about"] == remediation.id]) == 1
