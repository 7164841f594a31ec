"""Error-budget policies end to end: an objective goes AT_RISK, then EXHAUSTED, then
recovers. The job records each action once and enqueues its notices; the dispatcher
delivers them to a real SMTP server (aiosmtpd on loopback) and a loopback webhook
receiver that checks the HMAC; the freeze shows in GraphQL as `Service.changeFreeze`
while the budget is spent, and lifted once it recovers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import strawberry
from budget_policy_support import (
    AT_RISK_AT,
    EXHAUSTED_AT,
    LEVEL_2_EMAIL,
    OWNER_EMAIL,
    RECOVERED_AT,
    Shop,
    settings_for,
    shop,
)
from notify_support import Receiver, SmtpServer
from support import GraphBuilder

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.notify import Dispatcher
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings
from hub.sync.budget_policies import apply_budget_policies

FREEZE = """
query Freeze($id: ID!, $objective: ID!) {
  node(id: $id) { ... on Service { changeFreeze { reason since lifted objectiveId serviceIds } } }
  budgetPolicyActions(objectiveId: $objective) { action phase level recipients }
}
"""
ADMIN = Actor("ada", Role.ADMIN)


async def dispatch(graph: Graph, settings: Settings, now: datetime) -> None:
    async with Dispatcher(graph, settings, clock=lambda: now) as dispatcher:
        await dispatcher.run_once()


async def ask(schema: strawberry.Schema, graph: Graph, item: Shop) -> dict[str, Any]:
    result = await schema.execute(
        FREEZE,
        variable_values={"id": item.service_id, "objective": item.objective.id},
        context_value=Context.create(graph, ADMIN, ApiSettings()),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def mails(smtp: SmtpServer, item: Shop) -> list[tuple[str, str]]:
    return [
        (",".join(m.rcpt_tos), " ".join(str(m.message["Subject"]).split()))
        for m in smtp.handler.messages
        if item.objective.id in m.message.get_content()
    ]


async def test_owner_and_level_two_hear_the_freeze_shows_and_recovery_lifts_it(
    graph: Graph,
    builder: GraphBuilder,
    smtp: SmtpServer,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    item = await shop(builder)
    settings = settings_for(item, webhook_url=receiver_url, smtp=smtp.settings())
    only = [item.objective.id]
    schema = build_schema()
    what = "objective availability of Shop"

    await apply_budget_policies(graph, settings, AT_RISK_AT, objective_ids=only)
    await dispatch(graph, settings, AT_RISK_AT)
    assert mails(smtp, item) == [(OWNER_EMAIL, f"Error budget at risk: {what}")]
    assert (await ask(schema, graph, item))["node"]["changeFreeze"] is None

    await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)
    await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)  # again
    await dispatch(graph, settings, EXHAUSTED_AT)
    await dispatch(graph, settings, EXHAUSTED_AT + timedelta(minutes=5))

    exhausted = f"Error budget exhausted: {what} (change freeze)"
    assert sorted(mails(smtp, item)) == sorted(
        [
            (OWNER_EMAIL, f"Error budget at risk: {what}"),
            (OWNER_EMAIL, exhausted),  # NOTIFY_OWNER, which tells of the freeze
            (LEVEL_2_EMAIL, exhausted),
        ]
    )
    [level_mail] = [m for m in smtp.handler.messages if m.rcpt_tos == [LEVEL_2_EMAIL]]
    body = level_mail.message.get_content()
    assert "Escalation level: 2 (management)" in body
    assert "Changes to these services are frozen" in body
    assert level_mail.message["X-Hub-Notification"] == "budget.exhausted"

    hooks = [d for d in receiver.delivered if d["about"] == item.objective.id]
    assert receiver.bad_signatures == 0
    assert sorted((h["kind"], h["data"]["action"]) for h in hooks) == [
        ("budget.at-risk", "NOTIFY_OWNER"),
        ("budget.exhausted", "NOTIFY_OWNER"),
    ]
    [freeze_hook] = [h for h in hooks if h["kind"] == "budget.exhausted"]
    assert freeze_hook["data"]["changeFreeze"] is True
    assert freeze_hook["data"]["serviceIds"] == [item.service_id]
    assert freeze_hook["data"]["state"] == "EXHAUSTED"

    data = await ask(schema, graph, item)
    freeze = data["node"]["changeFreeze"]
    assert freeze["since"].startswith("2026-03-10T07:00:00")
    assert (freeze["lifted"], freeze["objectiveId"], freeze["serviceIds"]) == (
        None,
        item.objective.id,
        [item.service_id],
    )
    assert freeze["reason"].startswith("error budget EXHAUSTED")
    assert sorted((a["phase"], a["action"], a["level"]) for a in data["budgetPolicyActions"]) == [
        ("AT_RISK", "NOTIFY_OWNER", None),
        ("EXHAUSTED", "CHANGE_FREEZE", None),
        ("EXHAUSTED", "NOTIFY_ESCALATION_LEVEL", 2),
        ("EXHAUSTED", "NOTIFY_OWNER", None),
    ]

    await apply_budget_policies(graph, settings, RECOVERED_AT, objective_ids=only)
    await dispatch(graph, settings, RECOVERED_AT)

    lifted = (await ask(schema, graph, item))["node"]["changeFreeze"]
    assert lifted["lifted"].startswith("2026-04-02T00:00:00")
    assert (OWNER_EMAIL, f"Change freeze lifted: {what}") in mails(smtp, item)
    assert receiver.bad_signatures == 0
