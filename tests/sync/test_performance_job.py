"""The vendor and team performance rule acting (`review_performance`): one REMEDIATION
action on the flagged agreement, owned by its approvers, audited, notified in the same
transaction; never a second while it is open; a new one once it is done and the rule
still holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from slo_support import objective_spec, objectives_of
from support import GraphBuilder, load

from hub.domain.actions import ActionKind, ActionStatus
from hub.domain.breaches import Breach, Severity
from hub.domain.models import AgreementKind, WindowKind
from hub.domain.windows import Window
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories.actions import ActionRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.violations import PeriodVerdict, ViolationRepository
from hub.notify import NotificationRepository
from hub.settings import Settings
from hub.sync.performance import ACTOR, KIND, review_performance

# Agreements are in force from 2025-12-01; the job runs on 2026-06-10, when March,
# April and May were missed: three in a row.
NOW = datetime(2026, 6, 10, tzinfo=UTC)
EDITOR = Actor("erin", Role.EDITOR)


def settings() -> Settings:
    return Settings(
        webhooks={"ops": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}},
        remediation={
            "escalation_levels": [
                {"name": "team", "recipients": ["ops"]},
                {"name": "management"},
                {"name": "executive"},
            ],
            "performance": {"action_due_days": 14},
        },
    )


def month(m: int) -> Window:
    return Window(datetime(2026, m, 1, tzinfo=UTC), datetime(2026, m + 1, 1, tzinfo=UTC))


async def flagged_uc(graph: Graph, builder: GraphBuilder) -> str:
    _, author = await load(builder, [("app", "db")], services=["app"])
    uc = await author(
        AgreementKind.UC,
        "Hosting UC",
        ["db"],
        [objective_spec(target=99.9, window=WindowKind.CALENDAR_MONTH)],
    )
    (objective,) = await objectives_of(graph, uc)
    await ViolationRepository(graph).record(
        [
            PeriodVerdict(
                uc,
                objective.id,
                month(m),
                1,
                Breach(objective.id, month(m), 99.5, 99.9, Severity.MINOR, None),
                agreement_kind="UC",
            )
            for m in (3, 4, 5)
        ],
        "test assessment",
    )
    return uc


async def remediation_actions(graph: Graph, agreement_id: str) -> list[tuple[str, ActionStatus]]:
    found = (await ActionRepository(graph).of_subjects([agreement_id]))[agreement_id]
    return [(a.id, a.status) for a in found if a.kind is ActionKind.REMEDIATION]


async def test_one_action_notified_and_not_again_while_it_is_open(
    graph: Graph, builder: GraphBuilder
) -> None:
    uc = await flagged_uc(graph, builder)
    first = await review_performance(graph, settings(), NOW)
    assert first.flagged >= 1
    assert first.opened >= 1
    ((action_id, status),) = await remediation_actions(graph, uc)
    assert status is ActionStatus.OPEN
    (action,) = (await ActionRepository(graph).by_ids([action_id])).values()
    assert action.owner == "abe"  # no approval board: the approver who signed it
    assert action.due_at == NOW + timedelta(days=14)
    assert action.created_by == ACTOR
    assert action.description.startswith("Vendor Example Cloud Inc.: remediation required")

    # The notification went into the outbox with the action, to level 1's webhook.
    (delivery,) = await NotificationRepository(graph).find(about=uc, kind=KIND)
    assert (delivery.channel, delivery.target) == ("WEBHOOK", "ops")
    payload = json.loads(delivery.body)["data"]
    assert (payload["actionId"], payload["consecutiveMisses"], payload["missed"]) == (
        action_id,
        3,
        3,
    )
    trail = await AuditRepository(graph).for_target(uc)
    assert [r.action for r in trail if r.actor == ACTOR] == ["party.remediation_required"]
    assert [r.action for r in await AuditRepository(graph).for_target(action_id)] == ["action.add"]

    # Again, and again a day later: the action is open, nothing new.
    await review_performance(graph, settings(), NOW)
    await review_performance(graph, settings(), NOW + timedelta(days=1))
    assert await remediation_actions(graph, uc) == [(action_id, ActionStatus.OPEN)]
    assert len(await NotificationRepository(graph).find(about=uc, kind=KIND)) == 1


async def test_a_new_action_once_the_last_is_done_and_the_rule_still_holds(
    graph: Graph, builder: GraphBuilder
) -> None:
    uc = await flagged_uc(graph, builder)
    await review_performance(graph, settings(), NOW)
    ((first, _),) = await remediation_actions(graph, uc)
    await ActionRepository(graph, clock=lambda: NOW).complete(
        first, "vendor replaced the storage array", None, EDITOR
    )

    await review_performance(graph, settings(), NOW + timedelta(days=1))
    actions = dict(await remediation_actions(graph, uc))
    assert actions.pop(first) is ActionStatus.DONE
    assert list(actions.values()) == [ActionStatus.OPEN]
    assert len(await NotificationRepository(graph).find(about=uc, kind=KIND)) == 2


async def test_a_party_that_met_its_targets_gets_no_action(
    graph: Graph, builder: GraphBuilder
) -> None:
    _, author = await load(builder, [("app", "db")], services=["app"])
    ola = await author(
        AgreementKind.OLA,
        "Database OLA",
        ["db"],
        [objective_spec(target=99.9, window=WindowKind.CALENDAR_MONTH)],
    )
    await review_performance(graph, settings(), NOW)
    assert await remediation_actions(graph, ola) == []
