"""Escalation when at risk, end to end: an ACTIVE-mode objective found AT_RISK tells
level 1 of the path; unacknowledged past level 1's timeline (the clock is the job's
`now`) it tells level 2, exactly once however often the job runs; an acknowledgement
through the GraphQL API needs a note, and with one nothing further is told. Each notice
goes through the outbox to a real SMTP server (aiosmtpd on loopback) and a loopback
webhook receiver that checks the HMAC itself; every step is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from at_risk_support import AT, at_risk_objective, at_risk_settings
from notify_support import Receiver, SmtpServer, hub_settings
from support import EDITOR, GraphBuilder

from hub.domain.models import Objective
from hub.graph.client import Graph
from hub.graph.repositories.audit import AuditRepository
from hub.notify import Dispatcher, NotificationRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings
from hub.sync.at_risk import ACTOR, KIND, escalate_at_risk

LISTS = {"team": {"emails": ["team@example.com"], "webhooks": ["ops"]}}
RECIPIENTS = (["team"], ["mgmt@example.com"], ["cxo@example.com"])
ACKNOWLEDGE = """
mutation A($id: ID!, $note: String!) {
  acknowledgeAtRisk(escalationId: $id, note: $note) {
    id status note acknowledgedBy current { level levelName }
    objective { id }
  }
}
"""
LIST = """
query L($id: ID!) {
  atRiskEscalations(objectiveId: $id) {
    id status episodeStart steps { position level levelName to reason }
  }
}
"""


async def dispatch(graph: Graph, settings: Settings, now: datetime) -> None:
    async with Dispatcher(graph, settings, clock=lambda: now) as dispatcher:
        await dispatcher.run_once()


def mails_about(smtp: SmtpServer, objective: Objective) -> list[tuple[str, str]]:
    return [
        (",".join(m.rcpt_tos), " ".join(str(m.message["Subject"]).split()))
        for m in smtp.handler.messages
        if objective.id in m.message.get_content()
    ]


async def graphql(graph: Graph, settings: Settings, document: str, **variables: Any) -> Any:
    context = Context.create(graph, EDITOR, ApiSettings(), slo=settings.slo, settings=settings)
    return await build_schema().execute(document, variable_values=variables, context_value=context)


async def test_at_risk_climbs_to_level_two_once_and_stops_when_acknowledged(
    graph: Graph,
    builder: GraphBuilder,
    smtp: SmtpServer,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    objective, slo = await at_risk_objective(builder)
    base = hub_settings(webhook_url=receiver_url, smtp=smtp.settings(), lists=LISTS)
    settings = at_risk_settings(slo, *RECIPIENTS, settings=base)
    only = [objective.id]
    subject = "Objective availability of SLA Shop at risk: escalated to level"

    # Found at risk: level 1 (the team's list: an address and the webhook).
    first = await escalate_at_risk(graph, settings, AT, objective_ids=only)
    assert (first.opened, first.by_level, first.notified, first.problems) == (1, {1: 1}, 2, [])
    await dispatch(graph, settings, AT)
    assert mails_about(smtp, objective) == [("team@example.com", f"{subject} 1 (team)")]
    [hook] = [d for d in receiver.delivered if d["data"]["objectiveId"] == objective.id]
    assert receiver.bad_signatures == 0
    assert hook["kind"] == KIND
    escalation_id = hook["data"]["escalationId"]
    assert hook["about"] == escalation_id
    assert {k: hook["data"][k] for k in ("position", "level", "levelName", "episodeStart")} == {
        "position": 1,
        "level": 1,
        "levelName": "team",
        "episodeStart": "2026-03-10T12:00:00Z",
    }

    # 59 minutes on: still level 1's time. An hour on, unacknowledged: management, once.
    early = await escalate_at_risk(graph, settings, AT + timedelta(minutes=59), objective_ids=only)
    assert early.escalated == 0
    later = AT + timedelta(hours=1, minutes=1)
    runs = [await escalate_at_risk(graph, settings, later, objective_ids=only) for _ in range(3)]
    assert [(r.escalated, r.notified) for r in runs] == [(1, 1), (0, 0), (0, 0)]
    await dispatch(graph, settings, later)
    await dispatch(graph, settings, later + timedelta(minutes=5))
    assert mails_about(smtp, objective) == [
        ("team@example.com", f"{subject} 1 (team)"),
        ("mgmt@example.com", f"{subject} 2 (management)"),
    ]
    [mail] = [m for m in smtp.handler.messages if m.rcpt_tos == ["mgmt@example.com"]]
    body = mail.message.get_content()
    assert "not acknowledged by level 1 (team) within 1 hours" in body
    assert escalation_id in body

    # Acknowledging needs a note; with one, the climb stops.
    refused = await graphql(graph, settings, ACKNOWLEDGE, id=escalation_id, note=" ")
    assert refused.errors is not None
    [error] = refused.errors
    assert error.extensions is not None
    assert error.extensions["code"] == "BAD_USER_INPUT"
    assert [p["field"] for p in error.extensions["problems"]] == ["note"]
    done = await graphql(graph, settings, ACKNOWLEDGE, id=escalation_id, note="failover to B")
    assert done.errors is None
    assert done.data == {
        "acknowledgeAtRisk": {
            "id": escalation_id,
            "status": "ACKNOWLEDGED",
            "note": "failover to B",
            "acknowledgedBy": EDITOR.user,
            "current": {"level": 2, "levelName": "management"},
            "objective": {"id": objective.id},
        }
    }
    past = AT + timedelta(hours=4)
    assert (await escalate_at_risk(graph, settings, past, objective_ids=only)).escalated == 0
    await dispatch(graph, settings, past)
    assert len(mails_about(smtp, objective)) == 2

    listed = await graphql(graph, settings, LIST, id=objective.id)
    assert listed.errors is None
    [episode] = listed.data["atRiskEscalations"]
    assert (episode["status"], [s["to"] for s in episode["steps"]]) == (
        "ACKNOWLEDGED",
        [["team"], ["mgmt@example.com"]],
    )
    deliveries = await NotificationRepository(graph).find(about=escalation_id)
    assert sorted((d.channel, d.target) for d in deliveries) == [
        ("EMAIL", "mgmt@example.com"),
        ("EMAIL", "team@example.com"),
        ("WEBHOOK", "ops"),
    ]
    audited = [(r.actor, r.action) for r in await AuditRepository(graph).for_target(escalation_id)]
    assert audited == [
        (ACTOR, "atRisk.open"),
        (ACTOR, "atRisk.escalate"),
        (ACTOR, "atRisk.escalate"),
        (EDITOR.user, "atRisk.acknowledge"),
    ]
