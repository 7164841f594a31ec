"""Renewal reminders end to end: the job enqueues through the outbox, once per
threshold however often it runs, audited in the same transaction; the dispatcher
delivers to a real SMTP server and a loopback webhook receiver that checks the HMAC."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from notify_support import FakeClock, Receiver, SmtpServer, hub_settings
from pydantic import ValidationError
from slo_support import objective_spec
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind, AgreementSpec
from hub.domain.reviews import ReviewCycle
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.audit import AuditRepository
from hub.notify import Dispatcher, NotificationRepository
from hub.settings import Settings
from hub.sync.renewals import ACTOR, KIND, send_renewal_reminders
from hub.sync.scheduler import build_scheduler


async def test_reminders_go_out_once_per_threshold_and_are_audited(
    graph: Graph,
    builder: GraphBuilder,
    clock: FakeClock,
    smtp: SmtpServer,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    ends = clock.now + timedelta(days=20)
    repository = AgreementRepository(graph, clock=lambda: clock.now)
    agreement_id = await repository.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"Renewed SLA {ids['web']}",
            covers=(ids["web"],),
            objectives=(objective_spec(target=99.9, name="availability"),),
            customer_id=ids["cust-1"],
            effective_to=ends,
            review_cycle=ReviewCycle.ANNUAL,  # next review a year away: only the expiry
        ),
        EDITOR,
    )
    await repository.submit(agreement_id, EDITOR)
    await repository.approve(agreement_id, APPROVER)
    settings = hub_settings(
        webhook_url=receiver_url,
        smtp=smtp.settings(),
        lists={"governance": {"emails": ["board@example.com"], "webhooks": ["ops"]}},
    )
    settings = settings.model_copy(
        update={"renewals": settings.renewals.model_copy(update={"list": "governance"})}
    )
    outbox = NotificationRepository(graph)

    first = await send_renewal_reminders(settings, graph, clock=clock)
    again = await send_renewal_reminders(settings, graph, clock=clock)

    ours = await outbox.find(about=agreement_id, kind=KIND)
    assert sorted(d.channel for d in ours) == ["EMAIL", "WEBHOOK"]
    assert first.enqueued >= 1
    assert again.enqueued == 0  # nothing new, for this agreement or any other
    audit = [r for r in await AuditRepository(graph).for_target(agreement_id) if r.actor == ACTOR]
    assert len(audit) == 1
    assert audit[0].action == "renewal.reminder"
    assert json.loads(audit[0].after or "{}") == {
        "agreementId": agreement_id,
        "lineage": agreement_id,
        "version": 1,
        "name": f"Renewed SLA {ids['web']}",
        "kind": "SLA",
        "reason": "expires",
        "due": to_iso(ends),
        "daysBefore": 30,
        "list": "governance",
    }

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()

    mails = [m for m in smtp.handler.messages if agreement_id in m.message.get_content()]
    assert len(mails) == 1
    assert mails[0].rcpt_tos == ["board@example.com"]
    assert " ".join(str(mails[0].message["Subject"]).split()) == (
        f"SLA Renewed SLA {ids['web']} expires on {ends.date().isoformat()}"
    )
    assert mails[0].message["X-Hub-Notification"] == KIND
    hooks = [d for d in receiver.delivered if d["about"] == agreement_id]
    assert len(hooks) == 1  # the receiver checked its signature
    assert hooks[0]["kind"] == KIND
    assert hooks[0]["data"]["daysBefore"] == 30
    assert hooks[0]["data"]["due"] == to_iso(ends)
    assert receiver.bad_signatures == 0

    # Two weeks on, 6 days before the end: the 7-day reminder, once.
    clock.advance(timedelta(days=14).total_seconds())
    await send_renewal_reminders(settings, graph, clock=clock)
    await send_renewal_reminders(settings, graph, clock=clock)
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()
    hooks = [d for d in receiver.delivered if d["about"] == agreement_id]
    assert [h["data"]["daysBefore"] for h in hooks] == [30, 7]
    mails = [m for m in smtp.handler.messages if agreement_id in m.message.get_content()]
    assert len(mails) == 2
    audit = [r for r in await AuditRepository(graph).for_target(agreement_id) if r.actor == ACTOR]
    assert len(audit) == 2


async def test_the_job_is_scheduled_only_with_a_list(graph: Graph) -> None:
    assert "renewals:remind" not in {j.id for j in build_scheduler(Settings(), graph).get_jobs()}
    settings = Settings(
        webhooks={"ops": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}},
        notifications={"lists": {"governance": {"webhooks": ["ops"]}}},
        renewals={"list": "governance", "interval_hours": 6},
    )
    jobs = {j.id: j for j in build_scheduler(settings, graph).get_jobs()}
    assert jobs["renewals:remind"].trigger.interval == timedelta(hours=6)


def test_the_list_must_be_configured() -> None:
    with pytest.raises(ValidationError, match=r"no \[notifications.lists.board\]"):
        Settings(renewals={"list": "board"})
