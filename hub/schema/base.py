"""Types shared by every domain of the schema: Node, refs, enums and Relay paging."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Generic, TypeVar

import strawberry

from hub.domain import models
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import (
    AgreementKind,
    AgreementStatus,
    Indicator,
    LifecycleStatus,
    Tier,
    WindowKind,
)

DateTime = datetime


def parse_datetime(value: str) -> datetime:
    """A DateTime input as given (its offset kept for the field to judge), refused here
    when it has no instant in UTC: `9999-12-31T23:00:00-05:00` is past the calendar's
    end, and every input type's times would otherwise overflow wherever they are
    converted, answered as an unexpected error."""
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is not None:
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value} has no instant in UTC: it is off the calendar") from None
    return parsed


# Mapped in `build_schema` through `StrawberryConfig.scalar_map` (passing a type to
# strawberry.scalar() is deprecated and warns on import).
DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    serialize=lambda value: value.isoformat().replace("+00:00", "Z"),
    parse_value=parse_datetime,
    description="A UTC instant in ISO-8601, e.g. 2026-01-31T23:59:59Z.",
)

# The domain's enums are the GraphQL enums: registering them here names them once.
for _enum in (Tier, LifecycleStatus, AgreementKind, AgreementStatus, Indicator, WindowKind):
    strawberry.enum(_enum)


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class ExternalRef:
    source: str
    external_id: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="One signature: who, for which board group (if any), when.")
class Approval:
    by: str
    group: str | None
    at: DateTime
    note: str | None

    @classmethod
    def from_domain(cls, approval: models.Approval) -> Approval:
        return cls(by=approval.by, group=approval.group, at=approval.at, note=approval.note)


__all__ = [
    "DATETIME_SCALAR",
    "AgreementKind",
    "AgreementStatus",
    "Approval",
    "Connection",
    "DateTime",
    "Edge",
    "ExternalRef",
    "Indicator",
    "LifecycleStatus",
    "Node",
    "PageInfo",
    "Tier",
    "WindowKind",
    "connection",
    "decode_cursor",
    "encode_cursor",
    "utc_argument",
]

T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    node: T
    cursor: str


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


# The times an argument may name. Windows, periods and forecasts are computed from
# them, and Python's datetimes end at year 9999: `status(at: "9999-12-31T23:59:59Z")`
# would overflow computing its window instead of answering.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


def utc_argument(value: datetime, name: str) -> datetime:
    """A time argument in UTC, from `EARLIEST` to `LATEST`; one without a time zone,
    or outside that range, is the caller's mistake."""
    if value.tzinfo is None or value.utcoffset() is None:
        problem = FieldProblem(name, "give a time zone (UTC, e.g. 2026-01-01T00:00:00Z)")
        raise InvalidInputError([problem])
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # an offset that moves 0001-01-01 or 9999-12-31 off the calendar
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        problem = FieldProblem(
            name, f"give a time from {_iso(EARLIEST)} to {_iso(LATEST)}, not {_iso(value)}"
        )
        raise InvalidInputError([problem])
    return utc


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def encode_cursor(node_id: str) -> str:
    return base64.urlsafe_b64encode(node_id.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        problem = FieldProblem("after", f"{quoted(cursor)} is not a cursor this API gave out")
        raise InvalidInputError([problem]) from None


def connection(items: Sequence[T], ids: Sequence[str], page_size: int) -> Connection[T]:
    """A page from `items` fetched with one extra row, which only says a next page exists."""
    page = list(items[:page_size])
    edges = [Edge(node=item, cursor=encode_cursor(i)) for item, i in zip(page, ids, strict=False)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(items) > page_size,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
