"""WEBHOOK deliveries to a real receiver on loopback that checks the HMAC itself:
signed bodies, retries on 5xx and 429 (with Retry-After), giving up, refusals, and
what the hub logs and records (never the secret, never the body)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fakes.server import serve_app
from notify_support import WEBHOOK_SECRET, FakeClock, Receiver, hub_settings

from hub.graph.client import Graph
from hub.notify import (
    Attachment,
    Channel,
    DeliveryError,
    DeliveryStatus,
    Dispatcher,
    Notification,
    NotificationRepository,
    Outbox,
    Recipients,
    WebhookSender,
    sign,
    verify_signature,
)
from hub.settings import WebhookSettings

BODY_MARKER = "confidential-body-text-4c1d"


def about() -> str:
    return f"agr_{uuid.uuid4().hex}"


def test_the_signature_is_the_hex_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"id":"ntf_1","kind":"renewal-reminder"}'
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert sign("s3cret", body) == expected
    assert verify_signature("s3cret", body, expected)
    assert not verify_signature("s3cret", body + b" ", expected)
    assert not verify_signature("other", body, expected)
    assert not verify_signature("s3cret", body, None)


async def test_a_webhook_gets_one_signed_json_post_with_the_payload(
    graph: Graph, clock: FakeClock, receiver: Receiver, receiver_url: str
) -> None:
    settings = hub_settings(webhook_url=receiver_url)
    subject_id = about()
    pdf = Attachment("report.pdf", "application/pdf", b"%PDF-1.7 ...")

    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "renewal-reminder",
        "SLA Gold renews in 30 days",
        "The SLA ends on 2027-03-31.",
        Recipients(webhooks=("ops",)),
        payload={"agreementId": subject_id, "daysLeft": 30},
        attachments=[pdf],
        about=subject_id,
    )
    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        report = await dispatcher.run_once()

    assert (report.claimed, report.sent) == (1, 1)
    assert receiver.bad_signatures == 0
    [request] = receiver.requests
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["x-hub-delivery"] == enqueued.id
    assert request["headers"]["x-hub-event"] == "renewal-reminder"
    document = request["document"]
    assert document["id"] == enqueued.id
    assert document["kind"] == "renewal-reminder"
    assert document["subject"] == "SLA Gold renews in 30 days"
    assert document["text"] == "The SLA ends on 2027-03-31."
    assert document["data"] == {"agreementId": subject_id, "daysLeft": 30}
    assert document["about"] == subject_id
    assert document["attachments"] == [
        {
            "name": "report.pdf",
            "contentType": "application/pdf",
            "size": len(pdf.content),
            "sha256": hashlib.sha256(pdf.content).hexdigest(),
        }
    ]
    [stored] = (await NotificationRepository(graph).get([enqueued.id])).values()
    assert stored.status is DeliveryStatus.SENT
    assert stored.attempts == 1
    assert stored.sent_at == clock.now
    assert json.loads(stored.body) == document


async def test_5xx_and_429_are_retried_with_backoff_and_retry_after(
    graph: Graph, clock: FakeClock, receiver: Receiver, receiver_url: str
) -> None:
    settings = hub_settings(webhook_url=receiver_url, retry_base_seconds=30, max_attempts=5)
    receiver.script = [(500, {}), (429, {"Retry-After": "600"}), (503, {"Retry-After": "5"})]
    repository = NotificationRepository(graph)
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(webhooks=("ops",))
    )

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        start = clock.now
        assert (await dispatcher.run_once()).retrying == 1  # 500: backoff 30 s
        first = (await repository.get([enqueued.id]))[enqueued.id]
        assert first.status is DeliveryStatus.PENDING
        assert first.attempts == 1
        assert first.next_attempt_at == start + timedelta(seconds=30)
        assert "HTTP 500" in (first.last_error or "")

        clock.advance(29)
        assert (await dispatcher.run_once()).claimed == 0  # not due yet
        clock.advance(1)
        assert (await dispatcher.run_once()).retrying == 1  # 429 asks for 600 s > 60 s
        second = (await repository.get([enqueued.id]))[enqueued.id]
        assert second.next_attempt_at == clock.now + timedelta(seconds=600)
        assert "HTTP 429" in (second.last_error or "")
        assert "600s" in (second.last_error or "")

        clock.advance(599)
        assert (await dispatcher.run_once()).claimed == 0
        clock.advance(1)
        assert (await dispatcher.run_once()).retrying == 1  # 503 asks for 5 s < 120 s
        third = (await repository.get([enqueued.id]))[enqueued.id]
        assert third.next_attempt_at == clock.now + timedelta(seconds=120)

        clock.advance(120)
        assert (await dispatcher.run_once()).sent == 1

    done = (await repository.get([enqueued.id]))[enqueued.id]
    assert done.status is DeliveryStatus.SENT
    assert done.attempts == 4
    assert len(receiver.requests) == 4
    assert receiver.ids() == [enqueued.id]
    # Every attempt sent the same bytes, so the same signature.
    assert len({json.dumps(r["document"]) for r in receiver.requests}) == 1


async def test_after_max_attempts_the_delivery_is_given_up_and_each_attempt_logged(
    graph: Graph,
    clock: FakeClock,
    receiver: Receiver,
    receiver_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = hub_settings(webhook_url=receiver_url, max_attempts=3, retry_base_seconds=10)
    receiver.script = [(502, {})] * 10
    [enqueued] = await Outbox(graph, settings, clock=clock).notify(
        "anomaly", "Compliance dropped", BODY_MARKER, Recipients(webhooks=("ops",))
    )
    caplog.set_level(logging.INFO, logger="hub.notify")

    async with Dispatcher(graph, settings, clock=clock) as dispatcher:
        for _ in range(5):
            await dispatcher.run_once()
            clock.advance(3600)

    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert stored.status is DeliveryStatus.GAVE_UP
    assert stored.attempts == 3
    assert stored.next_attempt_at is None
    assert len(receiver.requests) == 3
    lines = [r.getMessage() for r in caplog.records if enqueued.id in r.getMessage()]
    assert len(lines) == 3, lines
    assert "attempt 1 of 3 failed" in lines[0]
    assert "HTTP 502" in lines[0]
    assert "retrying in 10s" in lines[0]
    assert "retrying in 20s" in lines[1]
    assert "giving up (GAVE_UP)" in lines[2]
    for text in [*lines, stored.last_error or ""]:
        assert WEBHOOK_SECRET not in text
        assert BODY_MARKER not in text
        assert Receiver.path not in text  # a webhook's URL can be its secret


async def test_a_refusal_is_not_retried_and_a_bad_secret_is_refused_by_the_receiver(
    graph: Graph, clock: FakeClock
) -> None:
    wrong = Receiver(secret="a-different-secret-123456")
    with serve_app(wrong.app) as base:
        settings = hub_settings(webhook_url=base + Receiver.path)
        [enqueued] = await Outbox(graph, settings, clock=clock).notify(
            "escalation", "Violation escalated", "text", Recipients(webhooks=("ops",))
        )
        async with Dispatcher(graph, settings, clock=clock) as dispatcher:
            assert (await dispatcher.run_once()).failed == 1
            clock.advance(86400)
            assert (await dispatcher.run_once()).claimed == 0

    assert wrong.bad_signatures == 1
    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert stored.status is DeliveryStatus.FAILED
    assert stored.attempts == 1
    assert "HTTP 401" in (stored.last_error or "")
    assert "secret" in (stored.last_error or "")
    assert WEBHOOK_SECRET not in (stored.last_error or "")


async def test_a_webhook_removed_from_the_settings_fails_its_pending_deliveries(
    graph: Graph, clock: FakeClock, receiver_url: str
) -> None:
    before = hub_settings(webhook_url=receiver_url)
    [enqueued] = await Outbox(graph, before, clock=clock).notify(
        "escalation", "Violation escalated", "text", Recipients(webhooks=("ops",))
    )

    async with Dispatcher(graph, hub_settings(), clock=clock) as dispatcher:
        assert (await dispatcher.run_once()).failed == 1

    stored = (await NotificationRepository(graph).get([enqueued.id]))[enqueued.id]
    assert stored.status is DeliveryStatus.FAILED
    assert "not configured any more" in (stored.last_error or "")


def _delivery(target: str = "chat") -> Notification:
    return Notification(
        id="ntf_unit",
        kind="escalation",
        channel=Channel.WEBHOOK,
        target=target,
        subject="s",
        body='{"id":"ntf_unit"}',
        status=DeliveryStatus.PENDING,
        attempts=1,
        created_at=datetime(2026, 12, 7, tzinfo=UTC),
    )


SECRET_PATH = "/services/T0001/B0002/tok3nInThePath9"


def _sender(handler: Callable[[httpx.Request], httpx.Response]) -> WebhookSender:
    webhook = WebhookSettings(
        url=f"https://chat.example.com{SECRET_PATH}?key=query-secret-77",  # type: ignore[arg-type]
        secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
    )
    return WebhookSender(
        {"chat": webhook}, transport=httpx.MockTransport(handler), wall_clock=lambda: 1_000_000
    )


async def test_webhook_answers_map_to_retry_or_refusal_without_leaking_the_url() -> None:
    def date_after(seconds: int) -> str:
        return format_datetime(datetime.fromtimestamp(1_000_000 + seconds, UTC), usegmt=True)

    answers = {
        "HTTP 503": (httpx.Response(503, headers={"Retry-After": date_after(90)}), False, 90),
        "HTTP 302": (httpx.Response(302, headers={"Location": "https://x.example"}), True, None),
        "HTTP 404": (httpx.Response(404), True, None),
        "HTTP 408": (httpx.Response(408), False, None),
    }
    for expected, (answer, permanent, retry_after) in answers.items():
        async with contextlib.aclosing(_sender(lambda r, a=answer: a)) as sender:
            with pytest.raises(DeliveryError, match=expected) as caught:
                await sender.send(_delivery(), [])
        assert caught.value.permanent is permanent, expected
        assert caught.value.retry_after == retry_after, expected

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for handler, expected in ((refuse, "could not be reached"), (slow, "did not answer")):
        async with contextlib.aclosing(_sender(handler)) as sender:
            with pytest.raises(DeliveryError, match=expected) as caught:
                await sender.send(_delivery(), [])
        message = str(caught.value)
        assert not caught.value.permanent
        assert "chat.example.com" in message
        assert SECRET_PATH not in message
        assert "tok3nInThePath9" not in message
        assert "query-secret-77" not in message
