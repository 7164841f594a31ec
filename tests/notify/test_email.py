"""EMAIL deliveries to a real SMTP server on loopback (aiosmtpd): the message as
received (sender, recipient, subject, text, PDF and CSV attachments), STARTTLS with a
certificate from a test CA and a login over it, a password never sent in clear, and
SMTP refusals (5xx not retried, 4xx retried)."""

from __future__ import annotations

import uuid

from notify_support import SMTP_PASSWORD, FakeClock, SmtpServer, free_port, hub_settings

from hub.graph.client import Graph
from hub.notify import (
    Attachment,
    DeliveryStatus,
    Dispatcher,
    NotificationRepository,
    Outbox,
    Recipients,
)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n" + bytes(range(256))
CSV = b"service,compliance\nCheckout,99.95\nSearch,99.12\n"


async def test_an_email_arrives_with_its_subject_text_and_attachments(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(
        smtp=smtp.settings(),
        lists={"operations": {"emails": ["ops@example.com", "lead@example.com"]}},
    )
    subject_id = f"snap_{uuid.uuid4().hex}"

    enqueued = await Outbox(graph, settings, clock=clock).notify(
        "report",
        "Operations report, November 2026",
        "Attached: the operations report for November 2026.\nCompliance: 99.5 %",
        Recipients.of_lists("operations"),
        attachments=[
            Attachment("operations-2026-11.pdf", "application/pdf", PDF),
            Attachment("operations-2026-11.csv", "text/csv", CSV),
        ],
        about=subject_id,
    )
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        report = await dispatcher.run_once()

    assert (report.claimed, report.sent) == (2, 2)
    received = sorted(smtp.handler.messages, key=lambda m: m.rcpt_tos)
    assert [m.rcpt_tos for m in received] == [["lead@example.com"], ["ops@example.com"]]
    ids = {e.target: e.id for e in enqueued}
    for item in received:
        [to] = item.rcpt_tos
        message = item.message
        assert item.mail_from == "hub@example.com"
        assert message["From"] == "Service Hub <hub@example.com>"
        assert message["To"] == to
        assert message["Subject"] == "Operations report, November 2026"
        assert message["Message-ID"] == f"<{ids[to]}@example.com>"
        text = message.get_body(preferencelist=("plain",))
        assert text is not None
        assert "Compliance: 99.5 %" in text.get_content()
        files = {
            part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()
        }
        assert files == {
            "operations-2026-11.pdf": ("application/pdf", PDF),
            "operations-2026-11.csv": ("text/csv", CSV),
        }
    stored = await NotificationRepository(graph).find(about=subject_id)
    assert {n.status for n in stored} == {DeliveryStatus.SENT}
    assert {n.attachments[0].name for n in stored} == {"operations-2026-11.pdf"}


async def test_starttls_with_a_login_when_the_server_offers_it(
    graph: Graph, clock: FakeClock, smtp_tls: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp_tls.settings(username="hub-mailer", password=SMTP_PASSWORD))
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(emails=("ops@example.com",))
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).sent == 1

    [item] = smtp_tls.handler.messages
    assert item.tls
    assert item.login == "hub-mailer"
    assert smtp_tls.handler.logins == [("hub-mailer", SMTP_PASSWORD)]
    assert item.message["Message-ID"] == f"<{enqueued.id}@example.com>"


async def test_a_wrong_password_is_recorded_without_it_and_retried(
    graph: Graph, clock: FakeClock, smtp_tls: SmtpServer
) -> None:
    wrong = "not-the-password-31415"
    settings = hub_settings(smtp=smtp_tls.settings(username="hub-mailer", password=wrong))
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(emails=("ops@example.com",))
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).retrying == 1

    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert stored.status is DeliveryStatus.PENDING
    assert "refused the login" in (stored.last_error or "")
    assert wrong not in (stored.last_error or "")
    assert smtp_tls.handler.messages == []


async def test_a_password_is_never_sent_to_a_server_without_starttls(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    settings = hub_settings(smtp=smtp.settings(username="hub-mailer", password=SMTP_PASSWORD))
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(emails=("ops@example.com",))
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).retrying == 1

    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert "did not offer STARTTLS" in (stored.last_error or "")
    assert smtp.handler.logins == []
    assert smtp.handler.messages == []


async def test_a_recipient_refused_for_good_fails_and_one_refused_for_now_is_retried(
    graph: Graph, clock: FakeClock, smtp: SmtpServer
) -> None:
    smtp.handler.refuse = {
        "gone@example.com": "550 5.1.1 No such user",
        "full@example.com": "452 4.2.2 Mailbox full",
    }
    settings = hub_settings(smtp=smtp.settings())
    enqueued = await Outbox(graph, settings, clock=clock).notify(
        "escalation",
        "Violation escalated",
        "text",
        Recipients(emails=("gone@example.com", "full@example.com", "ok@example.com")),
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        report = await dispatcher.run_once()

    assert (report.sent, report.failed, report.retrying) == (1, 1, 1)
    stored = await NotificationRepository(graph).get([e.id for e in enqueued])
    by_target = {n.target: n for n in stored.values()}
    assert by_target["gone@example.com"].status is DeliveryStatus.FAILED
    assert "550 5.1.1 No such user" in (by_target["gone@example.com"].last_error or "")
    assert by_target["full@example.com"].status is DeliveryStatus.PENDING
    assert "452" in (by_target["full@example.com"].last_error or "")
    assert by_target["ok@example.com"].status is DeliveryStatus.SENT


async def test_a_server_that_is_down_is_retried(graph: Graph, clock: FakeClock) -> None:
    port = free_port()  # nothing listens there
    settings = hub_settings(
        smtp={"host": "127.0.0.1", "port": port, "from": "hub@example.com", "timeout_seconds": 2}
    )
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(emails=("ops@example.com",))
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).retrying == 1

    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert stored.status is DeliveryStatus.PENDING
    assert f"SMTP server 127.0.0.1:{port} could not be reached" in (stored.last_error or "")
