"""Compliance reports as values: templates, rows, roll-ups, redaction and the
archive's hashes. No I/O: `hub.reports` reads the graph and renders the files.

A report's leaves are one per objective and calendar month of its period, each with
the good/total counts the objective's status counts over that month
(`hub.engine.status.StatusEngine`). Leaves roll up by service, region, business unit
and in total; a rolled-up row's compliance is 100 * sum(good) / sum(total) over its
leaves with data, never an average of percentages, so a busy service weighs as much
as its traffic. Violations and credits add up the same way.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


class RowLevel(enum.StrEnum):
    TOTAL = "TOTAL"
    BUSINESS_UNIT = "BUSINESS_UNIT"
    REGION = "REGION"
    SERVICE = "SERVICE"
    OBJECTIVE_MONTH = "OBJECTIVE_MONTH"


class ReportAudience(enum.StrEnum):
    OPERATIONS = "OPERATIONS"
    BUSINESS_UNIT = "BUSINESS_UNIT"
    CUSTOMER = "CUSTOMER"
    EXECUTIVE = "EXECUTIVE"


class CommentVisibility(enum.StrEnum):
    INTERNAL = "INTERNAL"
    CUSTOMER_VISIBLE = "CUSTOMER_VISIBLE"


class ReportFormat(enum.StrEnum):
    JSON = "JSON"
    CSV = "CSV"
    PDF = "PDF"

    @property
    def extension(self) -> str:
        return self.value.lower()


NO_UNIT = "(no business unit)"
NO_REGION = "(no region)"
# The `previousHash` of the first snapshot of the chain.
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Template:
    """One standard report template (hub/templates/reports/*.yaml).

    `kinds`: the agreement kinds whose objectives are rows; `levels`: the row levels
    the rendered tables show (every format keeps the whole tree of rows; the levels
    choose what a reader sees first); `sections`: what the PDF holds, in order.
    """

    name: str
    title: str
    audience: ReportAudience
    description: str
    kinds: tuple[str, ...]
    levels: tuple[RowLevel, ...]
    sections: tuple[str, ...]

    @property
    def customer_facing(self) -> bool:
        return self.audience is ReportAudience.CUSTOMER


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """The `ReportScope` of a request: business units, regions, services, and the one
    customer a customer report is for (None: not limited)."""

    business_units: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    service_ids: frozenset[str] | None = None
    customer_id: str | None = None

    def admits(self, unit: str | None, region: str | None, service_id: str | None) -> bool:
        return (
            (self.business_units is None or unit in self.business_units)
            and (self.regions is None or region in self.regions)
            and (self.service_ids is None or service_id in self.service_ids)
        )

    def to_json(self) -> dict[str, Any]:
        def listed(values: frozenset[str] | None) -> list[str] | None:
            return None if values is None else sorted(values)

        return {
            "businessUnits": listed(self.business_units),
            "regions": listed(self.regions),
            "serviceIds": listed(self.service_ids),
            "customerId": self.customer_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportFilter:
        def frozen(key: str) -> frozenset[str] | None:
            value = data.get(key)
            return None if value is None else frozenset(value)

        return cls(
            frozen("businessUnits"),
            frozen("regions"),
            frozen("serviceIds"),
            data.get("customerId"),
        )


@dataclass(frozen=True, slots=True)
class Comment:
    """A service owner's comment on a service's month (`commentOnReport`)."""

    id: str
    service_id: str
    month: str
    author: str
    at: datetime
    visibility: CommentVisibility
    text: str


@dataclass(frozen=True, slots=True)
class Leaf:
    """The figures of one objective in one calendar month: an OBJECTIVE_MONTH row
    before it is placed under its service, region and unit."""

    objective_id: str
    objective_name: str
    kind: str  # the agreement kind: SLA, OLA, UC
    service_id: str | None
    service_name: str
    business_unit: str | None
    region: str | None
    month: str  # "2026-10"
    good: float | None
    total: float | None
    target: float
    violations: int = 0
    credit: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class ReportRow:
    level: RowLevel
    label: str
    good: float | None
    total: float | None
    violations: int
    credit: Decimal
    met: bool | None
    service_id: str | None = None
    objective_id: str | None = None
    month: str | None = None
    target: float | None = None
    comments: tuple[Comment, ...] = ()
    children: tuple[ReportRow, ...] = ()

    @property
    def compliance(self) -> float | None:
        return compliance(self.good, self.total)

    def leaves(self) -> Iterable[ReportRow]:
        if self.level is RowLevel.OBJECTIVE_MONTH:
            yield self
        for child in self.children:
            yield from child.leaves()

    def walk(self) -> Iterable[ReportRow]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Report:
    """A report: `total` is its TOTAL row, the root of the drill-down."""

    template: Template
    start: datetime
    end: datetime
    generated_at: datetime
    total: ReportRow
    redacted: bool
    scope: ReportFilter = field(default_factory=ReportFilter)

    @property
    def rows(self) -> tuple[ReportRow, ...]:
        """The TOTAL row first, then its children (each drillable)."""
        return (self.total, *self.total.children)

    def business_units(self) -> list[str | None]:
        return sorted({leaf.business_unit for leaf in _leaf_context(self)}, key=_none_last)

    def regions(self) -> list[str | None]:
        return sorted({leaf.region for leaf in _leaf_context(self)}, key=_none_last)


@dataclass(frozen=True, slots=True)
class _Placed:
    business_unit: str | None
    region: str | None


def _leaf_context(report: Report) -> Iterable[_Placed]:
    for unit_row in report.total.children:
        unit = None if unit_row.label == NO_UNIT else unit_row.label
        for region_row in unit_row.children:
            region = None if region_row.label == NO_REGION else region_row.label
            yield _Placed(unit, region)


def _none_last(value: str | None) -> tuple[bool, str]:
    return (value is None, value or "")


def compliance(good: float | None, total: float | None) -> float | None:
    """100 * good / total, in [0, 100]; None without data."""
    if good is None or total is None or total <= 0:
        return None
    return min(max(100.0 * good / total, 0.0), 100.0)


def months_between(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """The calendar months (UTC) that [start, end) touches, each clipped to it:
    ("2026-10", from, to)."""
    if end <= start:
        return []
    found = []
    cursor = datetime(start.year, start.month, 1, tzinfo=UTC)
    while cursor < end:
        following = (
            datetime(cursor.year + 1, 1, 1, tzinfo=UTC)
            if cursor.month == 12
            else datetime(cursor.year, cursor.month + 1, 1, tzinfo=UTC)
        )
        found.append((f"{cursor:%Y-%m}", max(cursor, start), min(following, end)))
        cursor = following
    return found


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _met(children: Sequence[ReportRow]) -> bool | None:
    known = [c.met for c in children if c.met is not None]
    return all(known) if known else None


def _group(level: RowLevel, label: str, children: Sequence[ReportRow], **extra: Any) -> ReportRow:
    # Only rows with data count: a row without data has neither good nor total.
    with_data = [c for c in children if c.good is not None and c.total is not None]
    return ReportRow(
        level=level,
        label=label,
        good=_sum(c.good for c in with_data),
        total=_sum(c.total for c in with_data),
        violations=sum(c.violations for c in children),
        credit=sum((c.credit for c in children), Decimal(0)),
        met=_met(children),
        children=tuple(children),
        **extra,
    )


def leaf_row(leaf: Leaf, comments: Sequence[Comment] = ()) -> ReportRow:
    value = compliance(leaf.good, leaf.total)
    return ReportRow(
        level=RowLevel.OBJECTIVE_MONTH,
        label=f"{leaf.objective_name} / {leaf.month}",
        good=leaf.good,
        total=leaf.total,
        violations=leaf.violations,
        credit=leaf.credit,
        met=None if value is None else value >= leaf.target,
        service_id=leaf.service_id,
        objective_id=leaf.objective_id,
        month=leaf.month,
        target=leaf.target,
        comments=tuple(comments),
    )


def roll_up(leaves: Sequence[Leaf], comments: Sequence[Comment] = ()) -> ReportRow:
    """The TOTAL row over `leaves`: units, then regions, then services, then the
    objective-month rows, each level sorted by label (months in order). A comment
    shows on the rows of its service and month."""
    by_key: dict[tuple[str, str], list[Comment]] = {}
    for comment in sorted(comments, key=lambda c: (c.at, c.id)):
        by_key.setdefault((comment.service_id, comment.month), []).append(comment)
    tree: dict[str, dict[str, dict[tuple[str, str], list[Leaf]]]] = {}
    for leaf in leaves:
        unit = leaf.business_unit or NO_UNIT
        region = leaf.region or NO_REGION
        service = (leaf.service_name, leaf.service_id or "")
        tree.setdefault(unit, {}).setdefault(region, {}).setdefault(service, []).append(leaf)
    units = []
    for unit, regions in sorted(tree.items(), key=lambda item: (item[0] == NO_UNIT, item[0])):
        region_rows = []
        for region, services in sorted(
            regions.items(), key=lambda item: (item[0] == NO_REGION, item[0])
        ):
            service_rows = []
            for (name, service_id), group in sorted(services.items()):
                ordered = sorted(group, key=lambda leaf: (leaf.month, leaf.objective_name))
                rows = [
                    leaf_row(leaf, by_key.get((service_id, leaf.month), ())) for leaf in ordered
                ]
                service_rows.append(
                    _group(RowLevel.SERVICE, name, rows, service_id=service_id or None)
                )
            region_rows.append(_group(RowLevel.REGION, region, service_rows))
        units.append(_group(RowLevel.BUSINESS_UNIT, unit, region_rows))
    return _group(RowLevel.TOTAL, "total", units)


def month_totals(total: ReportRow) -> list[tuple[str, float | None]]:
    """Compliance per month over every leaf (the PDF's chart)."""
    good: dict[str, list[float | None]] = {}
    sums: dict[str, list[float | None]] = {}
    for leaf in total.leaves():
        assert leaf.month is not None
        good.setdefault(leaf.month, []).append(leaf.good)
        sums.setdefault(leaf.month, []).append(leaf.total)
    return [(m, compliance(_sum(good[m]), _sum(sums[m]))) for m in sorted(good)]


def visible_comments(comments: Iterable[Comment], redacted: bool) -> list[Comment]:
    """What a report shows: every comment, or only the customer-visible ones."""
    return [
        c for c in comments if not redacted or c.visibility is CommentVisibility.CUSTOMER_VISIBLE
    ]


def valid_month(month: str) -> bool:
    """Whether `month` is YYYY-MM."""
    try:
        datetime.strptime(month, "%Y-%m")
    except ValueError:
        return False
    return len(month) == 7


# ---- the archive -------------------------------------------------------------------------


def canonical(value: Any) -> str:
    """The one JSON text of a value that hashes are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True, slots=True)
class FileDigest:
    format: ReportFormat
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """What a snapshot's `hash` covers, besides its content and files."""

    id: str
    sequence: int
    published_at: str
    published_by: str
    corrects_id: str | None


def snapshot_hash(
    header: SnapshotHeader,
    content_sha256: str,
    files: Sequence[FileDigest],
    previous_hash: str,
) -> str:
    """The chain link of a snapshot: SHA-256 over its header, the SHA-256 of its
    content (the report's canonical JSON), each file's SHA-256 and size, and the hash
    of the snapshot before it."""
    return sha256_hex(
        canonical(
            {
                "id": header.id,
                "sequence": header.sequence,
                "publishedAt": header.published_at,
                "publishedBy": header.published_by,
                "corrects": header.corrects_id,
                "content": content_sha256,
                "files": {f.format.value: [f.sha256, f.size] for f in files},
                "previous": previous_hash,
            }
        )
    )
