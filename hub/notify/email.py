"""EMAIL: one message per delivery through the SMTP server in the settings.

Each attempt opens its own connection (``aiosmtplib``, so the API's event loop never
blocks on a slow relay), upgrades it with STARTTLS when the server offers it (or as
`security` says), logs in if a username is set, and sends one message to one
recipient: the notification's text, with its attachments as MIME parts. A password is
never sent over a connection that is not encrypted, unless `security` is ``none``.

The message's ``Message-ID`` is derived from the delivery's id, so a message sent again
after a crash (sent, but not yet recorded as sent) can be recognised as the same one.

SMTP answers 4xx ("try later"), dropped connections, timeouts, TLS and login failures
are worth retrying (a login failure is a setting an operator can fix before the
attempts run out); a 5xx for the sender, the recipient or the message is not.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import ClassVar

import aiosmtplib

from hub.domain.notifications import Attachment, Channel, Notification
from hub.notify.base import DeliveryError, scrub
from hub.settings import SmtpSettings

_PERMANENT_CLASS = 5


def build_message(
    notification: Notification, attachments: Sequence[Attachment], sender: str
) -> EmailMessage:
    """The email for one delivery: plain text, with `attachments` as parts."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.target
    message["Subject"] = notification.subject
    message["Date"] = formatdate(notification.created_at.timestamp(), usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "hub.invalid"
    message["Message-ID"] = f"<{notification.id}@{domain}>"
    message["X-Hub-Notification"] = notification.kind
    message.set_content(notification.body)
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    return message


class EmailSender:
    """Sends EMAIL deliveries through `settings` (``[smtp]``)."""

    channel: ClassVar[Channel] = Channel.EMAIL

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        password = settings.password.get_secret_value() if settings.password else None
        self._password = password
        self._secrets = [password] if password else []
        self._tls_context: ssl.SSLContext | None = None

    async def aclose(self) -> None:
        return None

    def _context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            ca_file = self._settings.ca_file
            self._tls_context = ssl.create_default_context(
                cafile=None if ca_file is None else str(ca_file)
            )
        return self._tls_context

    async def send(self, notification: Notification, attachments: Sequence[Attachment]) -> None:
        settings = self._settings
        if settings.host is None or settings.sender is None:
            raise DeliveryError(
                "no SMTP server is configured any more; set HUB_SMTP__HOST and HUB_SMTP__FROM "
                "and requeue the delivery",
                permanent=True,
            )
        message = build_message(notification, attachments, settings.sender)
        server = f"SMTP server {settings.host}:{settings.port}"
        security = settings.security
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout_seconds,
            use_tls=security == "tls",
            # None: STARTTLS if the server offers it (aiosmtplib's own rule).
            start_tls={"auto": None, "starttls": True, "tls": False, "none": False}[security],
            tls_context=self._context() if security != "none" else None,
        )
        try:
            async with client:
                if settings.username is not None:
                    encrypted = client.get_transport_info("sslcontext") is not None
                    if not encrypted and security != "none":
                        raise DeliveryError(
                            f"{server} did not offer STARTTLS, and the hub does not send the "
                            "SMTP password unencrypted; enable STARTTLS on the server, use "
                            "HUB_SMTP__SECURITY=tls (port 465), or set it to 'none' if the "
                            "network is trusted"
                        )
                    await client.login(settings.username, self._password or "")
                await client.send_message(message)
        except DeliveryError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            answer = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise self._answered(server, "refused the recipient", answer, codes) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{server} refused the login ({exc.code} "
                f"{scrub(exc.message, self._secrets)}); check HUB_SMTP__USERNAME and "
                "HUB_SMTP__PASSWORD"
            ) from exc
        except (
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPRecipientRefused,
            aiosmtplib.SMTPDataError,
        ) as exc:
            what = {
                aiosmtplib.SMTPSenderRefused: "refused the sender (HUB_SMTP__FROM)",
                aiosmtplib.SMTPRecipientRefused: "refused the recipient",
                aiosmtplib.SMTPDataError: "refused the message",
            }[type(exc)]
            raise self._answered(server, what, f"{exc.code} {exc.message}", [exc.code]) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            raise DeliveryError(
                f"{server} did not answer within {settings.timeout_seconds:g}s; "
                "it may be overloaded or unreachable"
            ) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError(
                f"{server}: {scrub(str(exc), self._secrets)}; check HUB_SMTP__SECURITY "
                "against what the server supports"
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise self._answered(
                server, "answered with an error", f"{exc.code} {exc.message}", [exc.code]
            ) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(
                f"TLS with {server} failed ({scrub(str(exc), self._secrets)}); check the "
                "server's certificate, HUB_SMTP__CA_FILE and HUB_SMTP__SECURITY"
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            detail = scrub(str(exc), self._secrets) or type(exc).__name__
            raise DeliveryError(
                f"{server} could not be reached or dropped the connection ({detail}); check "
                "HUB_SMTP__HOST and HUB_SMTP__PORT and that the server is up"
            ) from exc

    def _answered(self, server: str, what: str, answer: str, codes: Sequence[int]) -> DeliveryError:
        # Permanent only if every refusal was permanent: a 4xx is "not now".
        permanent = bool(codes) and all(code // 100 == _PERMANENT_CLASS for code in codes)
        advice = "not retried" if permanent else "will be retried"
        return DeliveryError(
            f"{server} {what}: {scrub(answer, self._secrets)} ({advice})", permanent=permanent
        )
