"""Node ids: opaque strings whose prefix says which kind of node they name.

Imported records get stable ids derived from ``(kind, source, externalId)``, so that
the same bundle loaded into an empty graph always yields the same ids; authored
records (agreements, audit records) get random ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

_NAMESPACE = uuid.UUID("6f1f0e8e-3a55-4c1b-9a47-5d2b6c0f8a11")

PREFIXES = {
    "Component": "cmp",
    "Team": "team",
    "Vendor": "ven",
    "Customer": "cus",
    "Agreement": "agr",
    "Objective": "obj",
    "AuditRecord": "aud",
    "ApiToken": "tok",
    "Violation": "vio",
    "ServiceException": "exc",
    "Remediation": "rem",
    "Evidence": "evd",
    "Action": "act",
    "Escalation": "esc",
    "Credit": "crd",
    "ServiceReview": "srv",
    "AuditReport": "ard",
    "ReportSnapshot": "rsn",
    "ReportComment": "rcm",
    "DistributionList": "dls",
    "ReportAnomaly": "ran",
    "ChangeRequest": "chr",
    "AtRiskEscalation": "ark",
}
_KINDS = {prefix: kind for kind, prefix in PREFIXES.items()}


def stable_id(kind: str, source: str, external_id: str) -> str:
    digest = uuid.uuid5(_NAMESPACE, f"{kind}|{source}|{external_id}")
    return f"{PREFIXES[kind]}_{digest.hex}"


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{uuid.uuid4().hex}"


def kind_of(node_id: str) -> str | None:
    """The node kind an id names, or None for a string that is no hub id."""
    prefix, _, rest = node_id.partition("_")
    return _KINDS.get(prefix) if rest else None


def ref_key(source: str, external_id: str) -> str:
    """The unique key of an external reference (sources never contain ':')."""
    return f"{source}:{external_id}"


def utc_now() -> str:
    return to_iso(datetime.now(UTC))


def to_iso(moment: datetime) -> str:
    """Stored form of a time: UTC, fixed width, so that strings sort as times do."""
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone")
    utc = moment.astimezone(UTC)
    # The year by hand: strftime's %Y does not pad years before 1000 ("362-04-28..."),
    # which then neither sort as times nor parse back (datetime.fromisoformat).
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


Clock = Callable[[], datetime]
"""Where repositories read the time: `system_clock`, or a fixed instant per request
(one clock for everything a request asks), or a test's or the demo's own."""


def system_clock() -> datetime:
    return datetime.now(UTC)
