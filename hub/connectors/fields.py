"""Small readers of vendor payloads shared by the connectors: every field problem is a
`RecordRejected` that names the field."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.domain.sources import RecordRejected


def text(raw: Mapping[str, Any], field: str) -> str | None:
    """A string field; None when absent or empty (vendors send "" for empty)."""
    value = raw.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordRejected(f"{field}: expected a string, got {type(value).__name__}")
    return value


def required(value: str | None, field: str) -> str:
    if value is None:
        raise RecordRejected(f"{field}: required, but missing or empty")
    return value


def server_time(header: str | None) -> datetime:
    """The source's clock from an HTTP Date header; ours when it sent none."""
    if header:
        try:
            return email.utils.parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)
