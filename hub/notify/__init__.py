"""Notifications: email and webhooks, through a durable outbox in the graph.

Make a notification with `Outbox.notify` (or `Outbox.enqueue(tx, ...)` inside the
transaction of the change that causes it); `hub serve` sends it with the `Dispatcher`
and records every attempt. `NotificationRepository` reads what went out.
docs/notifications.md has the channels, the signature, the outbox and the retry policy.
"""

from hub.domain.notifications import (
    Attachment,
    AttachmentRef,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationError,
    Recipients,
)
from hub.graph.repositories.notifications import Enqueued, NotificationRepository, cursor_of
from hub.notify.base import DeliveryError, Sender
from hub.notify.email import EmailSender
from hub.notify.outbox import Dispatcher, DispatchReport, Outbox, dispatch_notifications
from hub.notify.webhook import SIGNATURE_HEADER, WebhookSender, sign, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "Attachment",
    "AttachmentRef",
    "Channel",
    "DeliveryError",
    "DeliveryStatus",
    "DispatchReport",
    "Dispatcher",
    "EmailSender",
    "Enqueued",
    "Notification",
    "NotificationError",
    "NotificationRepository",
    "Outbox",
    "Recipients",
    "Sender",
    "WebhookSender",
    "cursor_of",
    "dispatch_notifications",
    "sign",
    "verify_signature",
]
