"""Real parts for the notification tests (tests/notify/): an SMTP server (aiosmtpd)
and a webhook receiver (starlette under uvicorn), both on 127.0.0.1, a clock the tests
move, and settings that point the hub at them. Fixtures are in tests/notify/conftest.py.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.domain.notifications import Attachment, Channel, Notification
from hub.graph.client import Graph
from hub.notify import DeliveryError, Dispatcher
from hub.settings import Settings

HOST = "127.0.0.1"
WEBHOOK_SECRET = "whsec-test-7f3a9c1e5b2d4f60"
SMTP_PASSWORD = "smtp-pw-9e8d7c6b5a"


class FakeClock:
    """The time the outbox and the dispatcher read; tests move it forward."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# ---- SMTP -------------------------------------------------------------------------------


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class SmtpHandler:
    """aiosmtpd handler: keeps what arrives; refuses recipients it is told to."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP answer
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.messages.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message,
                session.ssl is not None,
                login,
            )
        )
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        ok = data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok, handled=False, auth_data=data)


@dataclass
class SmtpServer:
    handler: SmtpHandler
    port: int
    ca_file: Path | None = None

    def settings(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "from": "Service Hub <hub@example.com>",
            "timeout_seconds": 5,
        }
        if self.ca_file is not None:
            values["ca_file"] = str(self.ca_file)
        return values | overrides


@contextlib.contextmanager
def smtp_server(
    *, tls: ssl.SSLContext | None = None, ca_file: Path | None = None
) -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 (with STARTTLS required and AUTH offered when `tls`)."""
    handler = SmtpHandler()
    port = free_port()
    options: dict[str, Any] = {}
    if tls is not None:
        options = {
            "tls_context": tls,
            "require_starttls": True,
            "authenticator": handler.authenticate,
        }
    controller = Controller(handler, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield SmtpServer(handler, port, ca_file)
    finally:
        controller.stop()


# ---- webhooks ---------------------------------------------------------------------------


class Receiver:
    """A webhook receiver that checks the signature itself (plain `hmac`, not the hub's
    code) and keeps every delivery; `script` holds answers to give before accepting,
    e.g. ``[(500, {}), (429, {"Retry-After": "120"})]``."""

    path: ClassVar[str] = "/hooks/sla-hub"

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        self.secret = secret.encode()
        self.script: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []  # every signed request, answered or not
        self.delivered: list[dict[str, Any]] = []  # the documents accepted (2xx)
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route(self.path, self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            with self._lock:
                self.bad_signatures += 1
            return Response(status_code=401)
        document = json.loads(body)
        with self._lock:
            self.requests.append({"headers": dict(request.headers), "document": document})
            if self.script:
                status, headers = self.script.pop(0)
                return Response(status_code=status, headers=headers)
            self.delivered.append(document)
        return Response(status_code=204)

    def ids(self) -> list[str]:
        with self._lock:
            return [d["id"] for d in self.delivered]


def hub_settings(
    *,
    webhook_url: str | None = None,
    smtp: dict[str, Any] | None = None,
    lists: dict[str, Any] | None = None,
    **notifications: Any,
) -> Settings:
    """Settings with the webhook ``ops`` at `webhook_url`, SMTP as given, quick retries."""
    values: dict[str, Any] = {
        "retry_base_seconds": 30,
        "retry_max_seconds": 3600,
        "max_attempts": 5,
    }
    values.update(notifications)
    if lists is not None:
        values["lists"] = lists
    return Settings(
        webhooks=(
            {}
            if webhook_url is None
            else {"ops": {"url": webhook_url, "secret": WEBHOOK_SECRET, "timeout_seconds": 5}}
        ),
        smtp=smtp or {},
        notifications=values,
    )


# ---- keeping tests apart ----------------------------------------------------------------


class _RefuseAll:
    """A sender that refuses everything for good."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, notification: Notification, attachments: Sequence[Attachment]) -> None:
        raise DeliveryError("left over by an earlier test", permanent=True)

    async def aclose(self) -> None:
        return None


async def settle_leftovers(graph: Graph) -> None:
    """Settle every delivery still PENDING (whenever due) as FAILED."""
    far = datetime.now(UTC) + timedelta(days=3650)
    senders: dict[Channel, Any] = {c: _RefuseAll(c) for c in Channel}
    async with Dispatcher(graph, Settings(), senders=senders, clock=lambda: far) as dispatcher:
        while (await dispatcher.run_once()).claimed:
            pass
