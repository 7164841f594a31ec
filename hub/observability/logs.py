"""Logs that can be followed across layers: a request id on every line, and one JSON
object per line when ``log_format = "json"``.

The id of the request being served lives in a context variable, `request_id`: the
`RequestIds` middleware sets it from a valid ``X-Request-Id`` header (else a new one)
and returns it in the response's ``X-Request-Id``. Tasks started while a request runs
copy it, so the graph's and the connectors' log lines of that request carry it; a sync
run carries its run id when no request started it (`hub.sync.runs`).

Example of a JSON line::

    {"time": "2026-03-01T08:00:00.123+00:00", "level": "DEBUG", "logger": "hub.graph.client",
     "message": "graph statement tokens.AUTHENTICATE: 1 rows in 1.2 ms",
     "request_id": "4bf92f3577b34da6"}
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal, TextIO

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "HEADER",
    "JsonFormatter",
    "RequestIdFilter",
    "RequestIds",
    "configure_logging",
    "request_id",
]

HEADER = "x-request-id"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("hub_request_id", default=None)

# What a caller's id may look like: the usual UUIDs and trace ids, nothing that could
# forge a log line or a header (no spaces, quotes or control characters).
_VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def valid_request_id(value: str | None) -> str | None:
    """`value` if it may serve as a request id, else None."""
    if value is not None and _VALID_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: each HTTP request and WebSocket connection runs with a request
    id in `request_id`, the caller's ``X-Request-Id`` when it is valid (letters, digits
    and ``._:@/+=-``, up to 128 characters), else a new one; HTTP responses carry it
    back in ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = valid_request_id(value.decode("latin-1"))
                break
        current = given or new_request_id()
        reset = request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(reset)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request) to every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    request id when there is one, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None) or request_id.get()
        if current is not None:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _HubHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs (and replaces when called again)."""


def configure_logging(
    level: str, log_format: Literal["text", "json"], *, stream: TextIO | None = None
) -> logging.Handler:
    """Send the root logger's records to standard error (or `stream`) as text or JSON
    lines, each with its request id (the driver's and httpx's chatter quietened);
    returns the handler. Called again, it replaces its
    handler, so no line is written twice; handlers of others are left alone."""
    handler = _HubHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HubHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The driver logs every retried connection attempt as a warning; ours say enough.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    # httpx logs every request with its full URL, query values included; ours say enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
