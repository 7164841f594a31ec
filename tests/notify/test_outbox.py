"""The outbox on the real embedded graph: notifications recorded with the change that
causes them, sent once whatever the restarts and the number of dispatchers, "send
once" keys, the read API, and what is refused before anything is written."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from datetime import timedelta

import pytest
from fakes.server import serve_app
from notify_support import HOST, FakeClock, Receiver, hub_settings

from hub.graph.client import Graph, GraphConnection, Transaction
from hub.notify import (
    Attachment,
    Channel,
    DeliveryStatus,
    Dispatcher,
    NotificationError,
    NotificationRepository,
    Outbox,
    Recipients,
    cursor_of,
)
from hub.settings import Settings, SettingsError, load_settings
from hub.sync.scheduler import build_scheduler

WEBHOOK = Recipients(webhooks=("ops",))


def about() -> str:
    return f"agr_{uuid.uuid4().hex}"


class Rollback(Exception):
    pass


async def test_a_notification_commits_with_the_transaction_that_makes_it_or_not_at_all(
    graph: Graph, clock: FakeClock, receiver_url: str
) -> None:
    outbox = Outbox(graph, hub_settings(webhook_url=receiver_url), clock=clock)
    repository = NotificationRepository(graph)
    made: list[str] = []

    async def change_that_fails(tx: Transaction) -> None:
        enqueued = await outbox.enqueue(tx, "escalation", "Escalated", "text", WEBHOOK)
        made.extend(e.id for e in enqueued)
        raise Rollback

    with pytest.raises(Rollback):
        await graph.write_transaction(change_that_fails)
    assert made
    assert await repository.get(made) == {}

    async def change_that_commits(tx: Transaction) -> list[str]:
        return [e.id for e in await outbox.enqueue(tx, "escalation", "Escalated", "t", WEBHOOK)]

    ids = await graph.write_transaction(change_that_commits)
    assert [n.status for n in (await repository.get(ids)).values()] == [DeliveryStatus.PENDING]


async def test_a_delivery_survives_a_receiver_that_is_down_and_a_restart_and_arrives_once(
    graph_connection: GraphConnection, clock: FakeClock
) -> None:
    # A port held but not listening: connections are refused, and no one else takes it.
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind((HOST, 0))
    port = held.getsockname()[1]
    settings = hub_settings(webhook_url=f"http://{HOST}:{port}{Receiver.path}")
    subject_id = about()

    first_graph = Graph.connect(graph_connection)
    try:
        outbox = Outbox(first_graph, settings, clock=clock)
        [enqueued] = await outbox.notify(
            "renewal-reminder", "Renewal in 7 days", "text", WEBHOOK, about=subject_id
        )
        async with Dispatcher(first_graph, settings, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).retrying == 1
            clock.advance(30)
            assert (await dispatcher.run_once()).retrying == 1
    finally:
        await first_graph.close()
        held.close()

    # The hub restarts: a new graph client and a new dispatcher; the receiver is back.
    receiver = Receiver()
    second_graph = Graph.connect(graph_connection)
    try:
        repository = NotificationRepository(second_graph)
        waiting = (await repository.get([enqueued.id]))[enqueued.id]
        assert waiting.status is DeliveryStatus.PENDING
        assert waiting.attempts == 2
        assert "could not be reached" in (waiting.last_error or "")
        with serve_app(receiver.app, port=port):
            async with Dispatcher(second_graph, settings, clock=clock) as dispatcher:
                assert (await dispatcher.run_once()).claimed == 0  # due 60 s after the 2nd
                clock.advance(60)
                assert (await dispatcher.run_once()).sent == 1
                clock.advance(86400)
                assert (await dispatcher.run_once()).claimed == 0
        sent = (await repository.get([enqueued.id]))[enqueued.id]
    finally:
        await second_graph.close()

    assert receiver.ids() == [enqueued.id]
    assert sent.status is DeliveryStatus.SENT
    assert sent.attempts == 3


async def test_two_dispatchers_at_once_send_each_delivery_once(
    graph_connection: GraphConnection,
    graph: Graph,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    settings = hub_settings(webhook_url=receiver_url, max_concurrency=3, batch_size=20)
    outbox = Outbox(graph, settings, clock=clock)
    ids = [
        e.id
        for i in range(12)
        for e in await outbox.notify("escalation", f"Escalation {i}", "text", WEBHOOK)
    ]
    graphs = [Graph.connect(graph_connection) for _ in range(2)]
    try:
        dispatchers = [Dispatcher(g, settings, clock=clock) for g in graphs]
        reports = await asyncio.gather(*(d.run_once() for d in dispatchers))
        for dispatcher in dispatchers:
            await dispatcher.aclose()
    finally:
        for g in graphs:
            await g.close()

    assert sorted(receiver.ids()) == sorted(ids)  # each once, none twice
    assert sum(r.sent for r in reports) == 12
    assert sum(r.claimed for r in reports) == 12
    stored = await NotificationRepository(graph).get(ids)
    assert {(n.status, n.attempts) for n in stored.values()} == {(DeliveryStatus.SENT, 1)}


async def test_a_claim_is_a_compare_and_set_no_delivery_goes_to_two_claimers(
    graph_connection: GraphConnection, graph: Graph, clock: FakeClock, receiver_url: str
) -> None:
    outbox = Outbox(graph, hub_settings(webhook_url=receiver_url), clock=clock)
    graphs = [Graph.connect(graph_connection) for _ in range(3)]
    try:
        repositories = [NotificationRepository(g) for g in graphs]
        for _ in range(4):
            ids = [e.id for _ in range(6) for e in await outbox.notify("k", "s", "t", WEBHOOK)]
            until = clock.now + timedelta(minutes=5)
            claimed = await asyncio.gather(
                *(r.claim(ids, f"holder-{i}", clock.now, until) for i, r in enumerate(repositories))
            )
            got = [n.id for batch in claimed for n in batch]
            assert sorted(got) == sorted(ids)  # every one claimed, none twice
            for i, batch in enumerate(claimed):
                for n in batch:
                    assert await repositories[0].record_sent(n.id, f"holder-{i}", clock.now)
    finally:
        for g in graphs:
            await g.close()


async def test_a_dedupe_key_records_a_notification_once_across_calls_and_restarts(
    graph_connection: GraphConnection,
    graph: Graph,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
) -> None:
    settings = hub_settings(webhook_url=receiver_url)
    key = f"renewal:{about()}:30"

    first = await Outbox(graph, settings, clock=clock).notify(
        "renewal-reminder", "Renewal in 30 days", "text", WEBHOOK, dedupe_key=key
    )
    again = await Outbox(graph, settings, clock=clock).notify(
        "renewal-reminder", "Renewal in 30 days", "text", WEBHOOK, dedupe_key=key
    )
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()
    restarted = Graph.connect(graph_connection)
    try:
        after_restart = await Outbox(restarted, settings, clock=clock).notify(
            "renewal-reminder", "Renewal in 30 days", "text", WEBHOOK, dedupe_key=key
        )
        async with Dispatcher(restarted, settings, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).claimed == 0
    finally:
        await restarted.close()

    assert [e.created for e in first] == [True]
    assert [e.created for e in again] == [False]
    assert [e.created for e in after_restart] == [False]
    assert first[0].id == again[0].id == after_restart[0].id
    assert receiver.ids() == [first[0].id]


async def test_concurrent_sends_of_one_dedupe_key_record_it_once(
    graph: Graph, clock: FakeClock, receiver_url: str
) -> None:
    settings = hub_settings(webhook_url=receiver_url)
    key = f"escalation:{about()}:level-2"
    outbox = Outbox(graph, settings, clock=clock)

    results = await asyncio.gather(
        *(
            outbox.notify("escalation", "Escalated", "text", WEBHOOK, dedupe_key=key)
            for _ in range(4)
        )
    )

    assert len({r[0].id for r in results}) == 1
    assert sum(r[0].created for r in results) == 1


async def test_the_read_api_lists_by_status_kind_and_subject_and_counts(
    graph: Graph, clock: FakeClock, receiver: Receiver, receiver_url: str
) -> None:
    settings = hub_settings(webhook_url=receiver_url, max_concurrency=1)  # one at a time
    outbox = Outbox(graph, settings, clock=clock)
    repository = NotificationRepository(graph)
    subject_id = about()
    receiver.script = [(400, {})]  # the first delivery (the oldest) is refused
    made = []
    for i in range(3):
        made += await outbox.notify(
            "violation.opened", f"Violation {i}", "text", WEBHOOK, about=subject_id
        )
        clock.advance(1)
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()

    newest_first = await repository.find(about=subject_id)
    assert [n.id for n in newest_first] == [e.id for e in reversed(made)]
    failed = await repository.find(about=subject_id, status=DeliveryStatus.FAILED)
    assert [n.id for n in failed] == [made[0].id]
    assert failed[0].channel is Channel.WEBHOOK
    assert failed[0].target == "ops"
    assert "HTTP 400" in (failed[0].last_error or "")
    sent = await repository.find(
        about=subject_id, status=[DeliveryStatus.SENT], kind="violation.opened"
    )
    assert len(sent) == 2
    page = await repository.find(about=subject_id, limit=2)
    rest = await repository.find(about=subject_id, limit=2, before=cursor_of(page[-1]))
    assert [n.id for n in page + rest] == [n.id for n in newest_first]
    assert await repository.find(about=subject_id, kind="other-kind") == []
    counts = await repository.counts("violation.opened")
    assert counts[DeliveryStatus.FAILED] >= 1
    assert set(counts) == set(DeliveryStatus)

    # An operator sends the refused one again once the receiver accepts it.
    assert await repository.requeue([made[0].id, made[1].id], clock.now) == [made[0].id]
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).sent == 1
    assert sorted(receiver.ids()) == sorted(e.id for e in made)


async def test_attachments_are_stored_once_by_content(
    graph: Graph, clock: FakeClock, receiver_url: str
) -> None:
    settings = hub_settings(
        webhook_url=receiver_url, smtp={"host": HOST, "port": 25, "from": "hub@example.com"}
    )
    pdf = Attachment("r.pdf", "application/pdf", uuid.uuid4().bytes * 1000)
    made = await Outbox(graph, settings, clock=clock).notify(
        "report",
        "Report",
        "text",
        Recipients(emails=("a@example.com", "b@example.com"), webhooks=("ops",)),
        attachments=[pdf],
    )
    repository = NotificationRepository(graph)

    stored = await repository.get([e.id for e in made])
    assert {n.attachments for n in stored.values()} == {(pdf.ref,)}
    assert await repository.attachment_contents([pdf.sha256]) == {pdf.sha256: pdf.content}


def test_what_cannot_be_sent_is_refused_before_anything_is_written(graph: Graph) -> None:
    settings = hub_settings(
        webhook_url="http://127.0.0.1:9/hook",
        lists={"operations": {"webhooks": ["ops"]}},
        max_body_bytes=2048,
        max_attachment_bytes=1024,
    )
    outbox = Outbox(graph, settings)

    def prepare(**changes: object) -> object:
        arguments: dict[str, object] = {
            "kind": "escalation",
            "subject": "Escalated",
            "body": "text",
            "to": Recipients.of_lists("operations"),
        }
        return outbox.prepare(**(arguments | changes))  # type: ignore[arg-type]

    refusals = {
        "no notification list named 'nope'": {"to": Recipients.of_lists("nope")},
        "no SMTP server is configured": {"to": Recipients(emails=("a@example.com",))},
        "not an email address": {"to": Recipients(emails=("a@b\r\nBcc: x@y.z",))},
        "no webhook named 'other'": {"to": Recipients(webhooks=("other",))},
        "name at least one": {"to": Recipients()},
        "subject: give one line": {"subject": "two\nlines"},
        "kind 'Not A Kind'": {"kind": "Not A Kind"},
        "body: 3,000 bytes": {"body": "x" * 3000},
        "attachments: 2,000 bytes": {
            "attachments": [Attachment("a.bin", "application/octet-stream", b"x" * 2000)]
        },
        "payload: cannot be sent as JSON": {"payload": {"x": object()}},
    }
    for message, changes in refusals.items():
        with pytest.raises(NotificationError, match=re.escape(message)):
            prepare(**changes)
    with pytest.raises(NotificationError, match="attachment name"):
        Attachment("../etc/passwd", "text/plain", b"")
    with pytest.raises(NotificationError, match="MIME type"):
        Attachment("a.txt", "text", b"")


def test_the_settings_refuse_lists_naming_what_is_not_configured() -> None:
    with pytest.raises(SettingsError, match=r"lists\.operations: no \[webhooks\.ops\]"):
        load_settings(notifications={"lists": {"operations": {"webhooks": ["ops"]}}})
    with pytest.raises(SettingsError, match=r"smtp\.host is not set"):
        load_settings(notifications={"lists": {"operations": {"emails": ["a@example.com"]}}})
    with pytest.raises(SettingsError, match="HUB_SMTP__FROM"):
        load_settings(smtp={"host": "mail.example.com"})
    with pytest.raises(SettingsError, match="not email addresses"):
        load_settings(
            smtp={"host": "mail.example.com", "from": "hub@example.com"},
            notifications={"lists": {"operations": {"emails": ["nobody"]}}},
        )


def test_hub_serve_dispatches_on_a_timer_once_a_channel_is_configured(graph: Graph) -> None:
    configured = hub_settings(webhook_url="http://127.0.0.1:9/hook", dispatch_interval_seconds=15)
    jobs = {job.id: job for job in build_scheduler(configured, graph).get_jobs()}
    job = jobs["notifications:dispatch"]
    assert job.trigger.interval == timedelta(seconds=15)
    assert job.max_instances == 1
    assert job.coalesce

    nothing = {job.id for job in build_scheduler(Settings(), graph).get_jobs()}
    assert "notifications:dispatch" not in nothing
    off = hub_settings(webhook_url="http://127.0.0.1:9/hook", dispatch_interval_seconds=0)
    assert "notifications:dispatch" not in {j.id for j in build_scheduler(off, graph).get_jobs()}
