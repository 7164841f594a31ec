"""Scheduled distribution on the real graph: a due list publishes a snapshot and
delivers it by EMAIL (a real SMTP server on loopback: the PDF and CSV arrive attached),
by WEBHOOK (a loopback receiver checks the HMAC) or to the PORTAL; one scheduled run is
made once whatever the processes and restarts; a receiver that is down gets its one
delivery when it is back, from a dispatcher started after the first failed.

The snapshot comes from a fake `Publisher` here (fixed PDF and CSV bytes), and from the
report archive in `test_distribution_archive.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes.server import serve_app
from notify_support import (
    WEBHOOK_SECRET,
    FakeClock,
    Receiver,
    SmtpServer,
    free_port,
    hub_settings,
    settle_leftovers,
    smtp_server,
)

from hub.domain.distribution import DistributionChannel, DistributionSpec, Recipient, latest_fire
from hub.graph.client import Graph
from hub.graph.cypher import distribution as dq
from hub.graph.repositories.distribution import DistributionRepository
from hub.notify import Dispatcher
from hub.settings import Settings
from hub.sync.distribution import Published, PublishRequest, run_due_distributions

PDF = b"%PDF-1.7\n% a report\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
BERLIN = ZoneInfo("Europe/Berlin")
CSV = b"level,label,month,good,total,compliance\nSERVICE,Payments,2026-11,9950,10000,99.5\n"


class FakePublisher:
    """Publishes a snapshot per request, counting them."""

    def __init__(self) -> None:
        self.requests: list[PublishRequest] = []

    async def publish(self, request: PublishRequest) -> Published:
        self.requests.append(request)
        return Published(f"rsn_fake{len(self.requests)}", {"pdf": PDF, "csv": CSV, "json": b"{}"})

    async def files(self, snapshot_id: str) -> Published:
        return Published(snapshot_id, {"pdf": PDF, "csv": CSV, "json": b"{}"})


@pytest.fixture(autouse=True)
async def apart(graph: Graph) -> AsyncIterator[None]:
    """No list and no due delivery of another test; the run key's constraint (a
    migration the lead adds) in place."""
    await graph.write(dq.DISTRIBUTION_RUN_KEY_UNIQUE)
    await graph.write(dq.REPORT_ANOMALY_KEY_UNIQUE)
    await _remove_lists(graph)
    await settle_leftovers(graph)
    yield
    await _remove_lists(graph)
    await settle_leftovers(graph)


async def _remove_lists(graph: Graph) -> None:
    repository = DistributionRepository(graph)
    for distribution in await repository.lists():
        await repository.delete(distribution.id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


async def make_list(
    graph: Graph,
    clock: FakeClock,
    channel: DistributionChannel,
    *recipients: Recipient,
    schedule: str = "0 7 1 * *",
) -> str:
    """A list made two months ago, so its schedule has fired since."""
    made = clock.now - timedelta(days=62)
    repository = DistributionRepository(graph, clock=lambda: made)
    created = await repository.create(
        DistributionSpec(
            name=f"Monthly {channel.value.lower()}",
            template="operations",
            schedule=schedule,
            time_zone="Europe/Berlin",
            channel=channel,
            recipients=recipients,
        ),
        "editor",
    )
    return created.id


async def test_an_email_list_sends_the_pdf_and_csv_to_every_recipient(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(
        smtp=smtp.settings(), lists={"operations": {"emails": ["ops@example.com"]}}
    )
    list_id = await make_list(
        graph,
        clock,
        DistributionChannel.EMAIL,
        Recipient(role="operations"),
        Recipient(address="cio@example.com"),
    )
    publisher = FakePublisher()

    report = await run_due_distributions(graph, settings, clock.now, publisher=publisher)
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        sent = await dispatcher.run_once()

    assert (report.due, report.delivered) == (1, 1)
    assert sent.sent == 2
    [request] = publisher.requests
    assert request.template == "operations"
    # The last whole month before the run, in Berlin time.
    start, end = (t.astimezone(BERLIN) for t in (request.start, request.end))
    assert (start.day, start.hour, end.day, end.hour) == (1, 0, 1, 0)
    assert end.month == clock.now.astimezone(BERLIN).month
    by_recipient = {item.rcpt_tos[0]: item.message for item in smtp.handler.messages}
    assert set(by_recipient) == {"ops@example.com", "cio@example.com"}
    for message in by_recipient.values():
        files = {
            part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()
        }
        assert files == {
            "report-rsn_fake1.pdf": ("application/pdf", PDF),
            "report-rsn_fake1.csv": ("text/csv", CSV),
        }
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        assert "/reports/rsn_fake1.pdf" in body.get_content()
    [distribution] = await DistributionRepository(graph).lists()
    assert distribution.id == list_id
    assert distribution.last_run_at is not None
    deliveries = await DistributionRepository(graph).deliveries(distribution, 20)
    assert sorted((d.target, d.status, d.attempts, d.snapshot_id) for d in deliveries) == [
        ("cio@example.com", "DELIVERED", 1, "rsn_fake1"),
        ("ops@example.com", "DELIVERED", 1, "rsn_fake1"),
    ]


async def test_one_scheduled_run_is_made_once_by_two_processes_and_a_restart(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp.settings())
    await make_list(graph, clock, DistributionChannel.EMAIL, Recipient(address="ops@example.com"))
    publisher = FakePublisher()

    first = await run_due_distributions(
        graph, settings, clock.now, publisher=publisher, holder="hub-a"
    )
    second = await run_due_distributions(
        graph, settings, clock.now, publisher=publisher, holder="hub-b"
    )
    restarted = await run_due_distributions(
        graph, settings, clock.advance(120), publisher=publisher, holder="hub-a-restarted"
    )
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()

    assert (first.delivered, second.delivered, restarted.delivered) == (1, 0, 0)
    assert second.due == 0  # lastRunAt moved on: nothing is due any more
    assert len(publisher.requests) == 1
    assert len(smtp.handler.messages) == 1


async def test_a_run_claimed_by_a_process_that_died_is_taken_over_once(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp.settings())
    list_id = await make_list(
        graph, clock, DistributionChannel.EMAIL, Recipient(address="ops@example.com")
    )
    [distribution] = await DistributionRepository(graph).lists()
    scheduled = latest_fire(
        distribution.schedule, distribution.time_zone, distribution.since, clock.now
    )
    assert scheduled is not None
    # A process claimed the run and died before publishing.
    dead = await DistributionRepository(graph, clock=clock).claim_run(
        list_id, scheduled, "hub-dead", clock.now + timedelta(seconds=900)
    )
    assert dead is not None
    publisher = FakePublisher()

    meanwhile = await run_due_distributions(
        graph, settings, clock.now, publisher=publisher, holder="hub-b"
    )
    later = await run_due_distributions(
        graph, settings, clock.advance(901), publisher=publisher, holder="hub-b"
    )

    assert (meanwhile.skipped, meanwhile.delivered) == (1, 0)
    assert later.delivered == 1
    assert len(publisher.requests) == 1


async def test_a_webhook_list_posts_signed_json_naming_the_snapshot(
    graph: Graph, clock: FakeClock
) -> None:
    receiver = Receiver()
    with serve_app(receiver.app) as base:
        settings = hub_settings(webhook_url=base + Receiver.path)
        await make_list(graph, clock, DistributionChannel.WEBHOOK, Recipient(address="ops"))

        await run_due_distributions(graph, settings, clock.now, publisher=FakePublisher())
        async with Dispatcher(graph, settings, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).sent == 1

    # The receiver checked the HMAC-SHA256 of the raw body with the shared secret.
    assert receiver.bad_signatures == 0
    assert WEBHOOK_SECRET
    [document] = receiver.delivered
    assert document["kind"] == "report-delivery"
    assert document["data"]["snapshotId"] == "rsn_fake1"
    assert document["data"]["files"]["pdf"] == {
        "url": "/reports/rsn_fake1.pdf",
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "size": len(PDF),
    }
    assert document["attachments"] == []  # files are named, with their SHA-256, not sent


async def test_a_receiver_down_gets_its_one_delivery_from_a_dispatcher_after_a_restart(
    graph: Graph, clock: FakeClock
) -> None:
    port = free_port()
    settings = hub_settings(webhook_url=f"http://127.0.0.1:{port}{Receiver.path}")
    list_id = await make_list(graph, clock, DistributionChannel.WEBHOOK, Recipient(address="ops"))
    await run_due_distributions(graph, settings, clock.now, publisher=FakePublisher())

    # The receiver is down: the first hub's attempt fails and is due again after 30 s.
    async with Dispatcher(graph, settings, clock=clock) as first:
        assert (await first.run_once()).retrying == 1
    distribution = (await DistributionRepository(graph).by_ids([list_id]))[list_id]
    [pending] = await DistributionRepository(graph).deliveries(distribution, 20)
    assert (pending.status, pending.attempts) == ("PENDING", 1)
    assert pending.error is not None

    # The hub restarts (a new dispatcher, nothing in memory); the receiver is back.
    receiver = Receiver()
    with serve_app(receiver.app, port=port):
        clock.advance(31)
        async with Dispatcher(graph, settings, clock=clock) as second:
            assert (await second.run_once()).sent == 1
            assert (await second.run_once()).claimed == 0
        clock.advance(3600)
        async with Dispatcher(graph, settings, clock=clock) as third:
            assert (await third.run_once()).claimed == 0

    assert len(receiver.delivered) == 1
    [delivered] = await DistributionRepository(graph).deliveries(distribution, 20)
    assert (delivered.status, delivered.attempts, delivered.error) == ("DELIVERED", 2, None)


async def test_a_portal_list_is_recorded_as_delivered(graph: Graph, clock: FakeClock) -> None:
    await make_list(graph, clock, DistributionChannel.PORTAL, Recipient(role="viewer"))

    report = await run_due_distributions(graph, Settings(), clock.now, publisher=FakePublisher())

    assert report.delivered == 1
    [distribution] = await DistributionRepository(graph).lists()
    [delivery] = await DistributionRepository(graph).deliveries(distribution, 20)
    assert (delivery.channel, delivery.status, delivery.snapshot_id) == (
        "PORTAL",
        "DELIVERED",
        "rsn_fake1",
    )


async def test_an_email_list_without_an_smtp_server_is_settled_failed_once(
    graph: Graph, clock: FakeClock
) -> None:
    await make_list(graph, clock, DistributionChannel.EMAIL, Recipient(address="ops@example.com"))

    first = await run_due_distributions(graph, Settings(), clock.now, publisher=FakePublisher())
    again = await run_due_distributions(graph, Settings(), clock.now, publisher=FakePublisher())

    assert (first.failed, again.due) == (1, 0)


async def test_files_over_the_attachment_limit_are_linked_not_attached(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp.settings(), max_attachment_bytes=len(PDF))
    await make_list(graph, clock, DistributionChannel.EMAIL, Recipient(address="ops@example.com"))

    report = await run_due_distributions(graph, settings, clock.now, publisher=FakePublisher())
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).sent == 1

    assert report.delivered == 1
    [item] = smtp.handler.messages
    assert list(item.message.iter_attachments()) == []
    body = item.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "too large to attach" in body.get_content()
    assert "PDF: /reports/rsn_fake1.pdf" in body.get_content()


async def test_two_processes_at_once_make_one_run(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp.settings())
    await make_list(graph, clock, DistributionChannel.EMAIL, Recipient(address="ops@example.com"))
    publisher = FakePublisher()

    reports = await asyncio.gather(
        *(
            run_due_distributions(graph, settings, clock.now, publisher=publisher, holder=name)
            for name in ("hub-a", "hub-b", "hub-c")
        )
    )
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        await dispatcher.run_once()

    assert sorted(r.delivered for r in reports) == [0, 0, 1]
    assert len(publisher.requests) == 1
    assert len(smtp.handler.messages) == 1
