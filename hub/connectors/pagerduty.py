"""PagerDuty through REST API v2 (``https://api.pagerduty.com``): two connectors.

- `PagerDutyServices` (``pagerduty-services``): technical services (``GET /services``)
  and business services (``GET /business_services``) become Services; a ``disabled``
  technical service is SUNSET. Their dependencies (``GET /service_dependencies/
  {technical_services|business_services}/{id}``, immediate ones only) become DEPENDS_ON
  edges from the ``dependent_service`` to the ``supporting_service``. PagerDuty offers no
  "changed since" filter for either list, so every run reads them whole (no watermark).
- `PagerDutyIncidents` (``pagerduty``): incidents created in a ``since``/``until`` window
  (``GET /incidents``), plus a refetch (``GET /incidents/{id}``) of older incidents whose
  status or priority changed in that window, found through ``GET /log_entries``: the
  incident list filters on creation time only, so an incident opened last month and
  resolved today would otherwise never be seen again.

Both authenticate with ``Authorization: Token token=<key>`` and ask for version 2 with
``Accept: application/vnd.pagerduty+json;version=2`` (`auth_headers`). Without it the
token's own default version answers, which a token made before v2 may not be.

Paging is classic offset paging (``limit`` at most 100, ``offset``, ``more``). PagerDuty
refuses ``offset + limit`` beyond 10,000 (HTTP 400), so a window is first asked for its
``total`` (``total=true``, which PagerDuty computes only on request); one holding more
than the ceiling is cut in two halves, recursively, before it is paged. Incidents are
sorted by ``incident_number`` so that the offsets of a window stay put while it is read.

Incident watermark: ``{"incidents": <until of the last finished window>}``. The next run
starts `overlap` earlier, because an incident can show up in the list a little after its
``created_at`` and the hub's clock may run ahead of PagerDuty's. The first run backfills
`backfill_days`; it reads the log entries for acknowledgements only and reads no incident
again, since nothing older is in the graph to update (an incident opened before the
backfill enters the graph when its status next changes).
Windows are at most 180 days long: PagerDuty answers at most six months per request.

Incident fields: ``status`` (triggered, acknowledged, resolved) is kept as PagerDuty's
own word; ``created_at`` opens; ``resolved_at`` (documented in v2, null until resolved)
resolves, falling back on ``last_status_change_at`` for a resolved incident without it
(resolution is final in PagerDuty, so its last status change is the resolution). There
is no separate close. Priority: see `priority_of`.

Ticket timestamps. Each window's log entries (``GET /log_entries``, ``is_overview=true``)
are read before its incidents, on every run, so no request is made per incident for
them. The first response is the first acknowledgement: the earliest of the incident's
``acknowledgements[].at`` (documented as empty while triggered or resolved) and the
``acknowledge_log_entry`` times of the log entries the run read (`first_acknowledgement`).
That is exact for an incident created within the run's windows, whose whole log the run
read. For an older one it is the first acknowledgement *this run* saw; it is left unset
(the graph keeps what an earlier run wrote) when an ``unacknowledge_log_entry`` or
``snooze_log_entry`` before it shows an earlier acknowledgement; but when an earlier
run saw the un-acknowledgement (an acknowledgement timeout), the acknowledgement after
it cannot be told from a first one and replaces it. No state history: a run sees only
its window's log, so a whole status history cannot be told apart from a partial one
without each incident's own log (a request per incident).

Handoffs. An incident's team is the team of the escalation policy it is on (its
``teams``); a ``reassign_log_entry`` or ``escalate_log_entry`` moves it, and the entry's
``teams`` name the team it went to (PagerDuty fills a log entry's ``teams`` from the
incident; that they are the teams *after* the action is assumed, not documented). Only
an incident with such an entry in the run's log costs a request of its own: its whole
log (``GET /incidents/{id}/log_entries``, paged, these requests run as many at a time
as the client allows), from which its ``trigger_log_entry``'s team (else its own first
team) and each move make the assignments (`hub.domain.handoffs`, team refs
``{source}:<team id>``). Those entries also make an older incident be read again. An
incident listed in the run's windows without such an entry was held by its first team
since it opened; an older one read again without one keeps the assignments an earlier
run wrote (they are left unset here).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from hub.connectors.fields import required, text
from hub.connectors.http import (
    ConnectorError,
    MalformedResponseError,
    Params,
    SourceClient,
    SourceRejectedError,
)
from hub.domain.handoffs import GroupChange, assignments, first_handoff
from hub.domain.models import ComponentKind, LifecycleStatus
from hub.domain.sources import (
    Quarantined,
    RecordRejected,
    SourceComponent,
    SourceIncident,
    SourcePage,
    SourceRelation,
)

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_SIZE = 100  # the largest `limit` PagerDuty accepts
OFFSET_CEILING = 10_000  # offset + limit may not exceed this
BACKFILL_DAYS = 30
OVERLAP = timedelta(minutes=5)
# PagerDuty answers at most six months per incident query; 180 days is within any six.
MAX_WINDOW = timedelta(days=180)
# Window ends are whole seconds, so a window this short cannot be split any further.
MIN_WINDOW = timedelta(seconds=1)
WATERMARK = "incidents"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Dependency lookups run this many at a time (the client's own limit still applies), and
# their relations are written as one page.
DEPENDENCY_BATCH = 25

INCIDENT_STATES = frozenset({"triggered", "acknowledged", "resolved"})
# Log entries that move an incident to another escalation policy, and so maybe team.
HANDOFF_LOG_TYPES = frozenset({"reassign_log_entry", "escalate_log_entry"})
TRIGGER_LOG_TYPE = "trigger_log_entry"
# Log entries after which an incident reads differently to the hub: its status (ack,
# un-ack when an acknowledgement times out, snooze, resolve), its priority or urgency,
# or its team (a handoff). Notifications and notes change nothing the hub keeps.
CHANGE_LOG_TYPES = frozenset(
    {
        "acknowledge_log_entry",
        "unacknowledge_log_entry",
        "snooze_log_entry",
        "resolve_log_entry",
        "priority_change_log_entry",
        "urgency_change_log_entry",
        *HANDOFF_LOG_TYPES,
    }
)
# The acknowledgement log entries kept for response times: an acknowledgement, and the
# entries that show the incident was acknowledged before (an un-acknowledgement, by hand
# or by the acknowledgement timeout, and a snooze, which needs an acknowledged incident).
ACKNOWLEDGE_LOG_TYPE = "acknowledge_log_entry"
ACKNOWLEDGED_BEFORE_LOG_TYPES = frozenset({"unacknowledge_log_entry", "snooze_log_entry"})
# Older incidents changed in a window are read again this many at a time (one page).
REFETCH_BATCH = PAGE_SIZE
# Technical service statuses: active, warning, critical, maintenance, disabled. Only
# `disabled` means the service is out of use; the others describe its current health.
DISABLED = "disabled"
# Urgency stands in for priority where an account has no priorities (or the incident
# none): a high-urgency incident pages someone at once, which is what P2 ("high") means
# in the hub's P1-P5 scale; urgency alone cannot tell a P1 (critical) apart, so it never
# yields P1. A low-urgency one does not page at once: P4.
URGENCY_PRIORITY = {"high": "P2", "low": "P4"}
# PagerDuty's default priority names are P1..P5; accounts that renamed them mostly use
# SEV1/SEV-1/Sev 1. Other names fall back on urgency.
_PRIORITY_NAME = re.compile(r"^(?:p|sev)[\s_-]?([1-5])$", re.IGNORECASE)


def auth_headers(token: str) -> dict[str, str]:
    """The headers every PagerDuty request carries; pass them as ``SourceClient(headers=)``.

    `SourceClient` scrubs the values of headers named like ``Authorization`` from every
    message, so the token never shows in logs or errors.
    """
    return {"Authorization": f"Token token={token}", "Accept": ACCEPT}


# ---- parsing (pure) --------------------------------------------------------------------


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 date-time with its offset (PagerDuty always sends one), in UTC."""
    if not isinstance(value, str) or not value:
        raise RecordRejected(f"{field}: missing date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordRejected(f"{field}: {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise RecordRejected(f"{field}: {value!r} has no time zone")
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def reference_id(value: Any, field: str) -> str:
    """The ``id`` of a reference object (``{"id": ..., "type": "..._reference"}``)."""
    ref = value.get("id") if isinstance(value, dict) else None
    if not isinstance(ref, str) or not ref:
        raise RecordRejected(f"{field}: expected a reference with an id")
    return ref


def priority_of(raw: Mapping[str, Any]) -> str | None:
    """The hub's P1-P5 for an incident: the priority's name when it is one of P1-P5 (or
    SEV1-5), otherwise from urgency (high -> P2, low -> P4), otherwise none."""
    priority = raw.get("priority")
    name = priority.get("summary") if isinstance(priority, dict) else None
    if isinstance(name, str):
        match = _PRIORITY_NAME.match(name.strip())
        if match:
            return f"P{match.group(1)}"
    urgency = raw.get("urgency")
    return URGENCY_PRIORITY.get(urgency) if isinstance(urgency, str) else None


def _object(raw: Any) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise RecordRejected("record: expected an object")
    return raw


def _rejected(exc: ValidationError) -> RecordRejected:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "record"
    return RecordRejected(f"{where}: {error['msg']}")


def parse_service(raw: Any, *, seen_at: datetime, source: str = SOURCE) -> SourceComponent:
    """A technical or business service as a Service, or `RecordRejected` naming the field.

    Neither kind carries a modification time that PagerDuty documents for both, so the
    record is stamped with its own ``updated_at`` when it has one and `seen_at` otherwise.
    """
    record = _object(raw)
    service_id = required(text(record, "id"), "id")
    name = required(text(record, "name"), "name")
    status = text(record, "status")  # business services have none
    updated = record.get("updated_at")
    try:
        return SourceComponent(
            source=source,
            external_id=service_id,
            updated_at=seen_at if updated is None else parse_time(updated, "updated_at"),
            kind=ComponentKind.SERVICE,
            name=name,
            status=LifecycleStatus.SUNSET if status == DISABLED else LifecycleStatus.ACTIVE,
        )
    except ValidationError as exc:
        raise _rejected(exc) from None


def parse_dependency(raw: Any, *, seen_at: datetime, source: str = SOURCE) -> SourceRelation:
    """A ``service_dependency``: the dependent service depends on the supporting one."""
    record = _object(raw)
    relation_id = required(text(record, "id"), "id")
    dependent = reference_id(record.get("dependent_service"), "dependent_service")
    supporting = reference_id(record.get("supporting_service"), "supporting_service")
    try:
        return SourceRelation(
            source=source,
            external_id=relation_id,
            updated_at=seen_at,  # relationships carry no time of their own
            parent_id=dependent,
            child_id=supporting,
            type_name=text(record, "type") or "service_dependency",
            depends=True,
        )
    except ValidationError as exc:
        raise _rejected(exc) from None


def first_acknowledgement(
    current: Iterable[datetime], logged: Iterable[tuple[datetime, str]]
) -> datetime | None:
    """The first response: the earliest of the incident's current acknowledgements and
    its acknowledgements among `logged` (``(created_at, log entry type)``).

    None when there is none, or when an un-acknowledgement or snooze in `logged` came
    before it: the incident was acknowledged earlier than anything seen here.
    """
    entries = list(logged)
    times = [*current, *(at for at, kind in entries if kind == ACKNOWLEDGE_LOG_TYPE)]
    if not times:
        return None
    first = min(times)
    if any(kind in ACKNOWLEDGED_BEFORE_LOG_TYPES and at < first for at, kind in entries):
        return None
    return first


def acknowledgement_times(record: Mapping[str, Any]) -> list[datetime]:
    """The ``at`` of each of ``acknowledgements[]`` (``{"at", "acknowledger"}``)."""
    acknowledgements = record.get("acknowledgements")
    if acknowledgements is None:
        return []
    if not isinstance(acknowledgements, list):
        raise RecordRejected("acknowledgements: expected a list")
    times = []
    for i, acknowledgement in enumerate(acknowledgements):
        at = acknowledgement.get("at") if isinstance(acknowledgement, dict) else None
        times.append(parse_time(at, f"acknowledgements[{i}].at"))
    return times


def parse_incident(
    raw: Any, *, source: str = SOURCE, logged: Iterable[tuple[datetime, str]] = ()
) -> SourceIncident:
    """An incident, or `RecordRejected` naming the field that makes it unusable.

    `logged` are its acknowledgement log entries the run read (`_AcknowledgementLog`);
    with them and its ``acknowledgements[]`` they give the first response.
    """
    record = _object(raw)
    incident_id = required(text(record, "id"), "id")
    state = required(text(record, "status"), "status")
    if state not in INCIDENT_STATES:
        raise RecordRejected(f"status: {state!r} is none of {', '.join(sorted(INCIDENT_STATES))}")
    opened = parse_time(record.get("created_at"), "created_at")
    service = reference_id(record.get("service"), "service")
    resolved: datetime | None = None
    if state == "resolved":
        if record.get("resolved_at") is not None:
            resolved = parse_time(record.get("resolved_at"), "resolved_at")
        elif record.get("last_status_change_at") is not None:
            resolved = parse_time(record.get("last_status_change_at"), "last_status_change_at")
        else:
            raise RecordRejected("resolved_at: missing for a resolved incident")
        if resolved < opened:
            raise RecordRejected("resolved_at: earlier than created_at")
    updated = opened
    for field in ("updated_at", "last_status_change_at"):
        if record.get(field) is not None:
            updated = parse_time(record.get(field), field)
            break
    number = record.get("incident_number")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise RecordRejected(f"incident_number: expected an integer, got {number!r}")
    responded = first_acknowledgement(acknowledgement_times(record), logged)
    team = first_team(record.get("teams"), source)
    try:
        return SourceIncident(
            source=source,
            external_id=incident_id,
            updated_at=updated,
            number=None if number is None else str(number),
            title=text(record, "title"),
            priority=priority_of(record),
            state=state,
            opened_at=opened,
            resolved_at=resolved,
            responded_at=responded,
            assignments=assignments(opened, (), team),
            component_refs=(f"{source}:{service}",),
        )
    except ValidationError as exc:
        raise _rejected(exc) from None


def first_team(teams: Any, source: str = SOURCE) -> str | None:
    """The team ref of the first of ``teams`` (team references), None without one."""
    first = teams[0] if isinstance(teams, list) and teams else None
    team_id = first.get("id") if isinstance(first, dict) else None
    return f"{source}:{team_id}" if isinstance(team_id, str) and team_id else None


def group_changes(
    entries: Iterable[Any], opened_in: str | None, source: str = SOURCE
) -> list[GroupChange]:
    """The team moves in an incident's log entries (any order): its trigger entry's
    team (else `opened_in`, its own first team) and then each reassign or escalate
    entry's team, in time order. An entry without a readable time or team is skipped."""
    moves: list[tuple[datetime, bool, str]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("type")
        if kind != TRIGGER_LOG_TYPE and kind not in HANDOFF_LOG_TYPES:
            continue
        team = first_team(entry.get("teams"), source)
        try:
            at = parse_time(entry.get("created_at"), "created_at")
        except RecordRejected:
            at = None
        if at is None or team is None:
            log.warning("pagerduty: ignoring %s %s: no time or team", kind, entry.get("id"))
            continue
        moves.append((at, kind != TRIGGER_LOG_TYPE, team))
    moves.sort(key=lambda move: move[:2])  # the trigger first at a shared instant
    holder = next((team for _, handoff, team in moves if not handoff), opened_in)
    changes = []
    for at, handoff, team in moves:
        if handoff:
            changes.append(GroupChange(at, holder, team))
            holder = team
    return changes


# ---- fetching ---------------------------------------------------------------------------


class _Reader:
    """The paging and window logic both connectors share."""

    def __init__(self, client: SourceClient, page_size: int, offset_ceiling: int) -> None:
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {PAGE_SIZE}")
        if offset_ceiling < page_size:
            raise ValueError("offset_ceiling must be at least page_size")
        self.client = client
        self.page_size = page_size
        self.ceiling = offset_ceiling

    async def get(self, path: str, params: Params | None = None) -> Mapping[str, Any]:
        body, _ = await self.client.get_json(path, params)
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"PagerDuty answered GET {path} with JSON that is not an object"
            )
        return body

    async def get_optional(self, path: str) -> Mapping[str, Any] | None:
        """GET one object; None when PagerDuty says it does not exist (any more)."""
        try:
            return await self.get(path)
        except SourceRejectedError as exc:
            if exc.status_code == 404:
                return None
            raise

    async def pages(self, path: str, key: str, params: Params) -> AsyncIterator[list[Any]]:
        """Every page of an offset-paged list."""
        offset = 0
        while True:
            limit = min(self.page_size, self.ceiling - offset)
            if limit <= 0:
                raise ConnectorError(
                    f"PagerDuty lists more than {self.ceiling} {key} under GET {path}, "
                    "more than offset paging can reach; narrow the listing (e.g. by team)"
                )
            body = await self.get(path, {**params, "limit": limit, "offset": offset})
            records = _records(body, key, path)
            yield records
            if body.get("more") is not True or not records:
                return
            offset += len(records)

    async def window(
        self, path: str, key: str, since: datetime, until: datetime, params: Params
    ) -> AsyncIterator[list[Any]]:
        """Every page of a ``since``/``until`` list, split where it holds too many.

        A window is split when its ``total`` exceeds the offset ceiling, or (should it
        grow while being read) when the ceiling is reached with ``more`` still true; in
        that case its records come again from the halves, so callers drop duplicates.
        """
        base = {**params, "since": format_time(since), "until": format_time(until)}
        body = await self.get(path, {**base, "limit": self.page_size, "offset": 0, "total": "true"})
        records = _records(body, key, path)
        total = body.get("total")
        if isinstance(total, int) and total > self.ceiling:
            async for page in self._halves(path, key, since, until, params, total):
                yield page
            return
        offset = 0
        while True:
            yield records
            if body.get("more") is not True or not records:
                return
            offset += len(records)
            limit = min(self.page_size, self.ceiling - offset)
            if limit <= 0:
                async for page in self._halves(path, key, since, until, params, offset):
                    yield page
                return
            body = await self.get(path, {**base, "limit": limit, "offset": offset})
            records = _records(body, key, path)

    async def _halves(
        self,
        path: str,
        key: str,
        since: datetime,
        until: datetime,
        params: Params,
        count: int,
    ) -> AsyncIterator[list[Any]]:
        if until - since <= MIN_WINDOW:
            raise ConnectorError(
                f"PagerDuty holds {count} {key} between {format_time(since)} and "
                f"{format_time(until)}, more than the {self.ceiling} offset paging can reach "
                "in a window that cannot be split further"
            )
        middle = _whole_seconds(since + (until - since) / 2)
        log.debug("splitting %s %s..%s (%d records)", path, since, until, count)
        for start, end in ((since, middle), (middle, until)):
            async for page in self.window(path, key, start, end, params):
                yield page


def _records(body: Mapping[str, Any], key: str, path: str) -> list[Any]:
    records = body.get(key)
    if not isinstance(records, list):
        raise MalformedResponseError(f"PagerDuty answered GET {path} without a {key} list")
    return records


def _whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _windows(
    start: datetime, end: datetime, longest: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        stop = min(end, start + longest)
        yield start, stop
        start = stop


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PagerDutyServices:
    """The ``pagerduty-services`` connector: services, business services, dependencies."""

    def __init__(
        self,
        client: SourceClient,
        *,
        page_size: int = PAGE_SIZE,
        offset_ceiling: int = OFFSET_CEILING,
        name: str = "pagerduty-services",
        source: str = SOURCE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        # Another name and source let one hub sync two PagerDuty accounts apart.
        self.name = name
        self.source = source
        self._reader = _Reader(client, page_size, offset_ceiling)
        self._clock = clock

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        # Services first: the graph quarantines a relation whose ends it does not know.
        seen_at = self._clock()
        listed: list[tuple[str, str]] = []  # (dependency path kind, service id)
        for path, key, kind in (
            ("/services", "services", "technical_services"),
            ("/business_services", "business_services", "business_services"),
        ):
            async for records in self._reader.pages(path, key, {}):
                page = SourcePage(fetched=len(records))
                for raw in records:
                    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
                        listed.append((kind, raw["id"]))
                    try:
                        page.components.append(
                            parse_service(raw, seen_at=seen_at, source=self.source)
                        )
                    except RecordRejected as exc:
                        page.rejected.append(
                            Quarantined.of(self.source, "component", raw, str(exc), "id")
                        )
                yield page
        # Each relationship is listed under both of its services; it is written once.
        written: set[str] = set()
        for start in range(0, len(listed), DEPENDENCY_BATCH):
            batch = listed[start : start + DEPENDENCY_BATCH]
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._dependencies(kind, sid)) for kind, sid in batch]
            raws = [raw for task in tasks for raw in task.result()]
            page = SourcePage(fetched=len(raws))
            for raw in raws:
                self._add_relation(page, raw, seen_at, written)
            yield page

    async def live_keys(self) -> set[str]:
        keys: set[str] = set()
        for path, key in (("/services", "services"), ("/business_services", "business_services")):
            async for records in self._reader.pages(path, key, {}):
                for raw in records:
                    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                        raise MalformedResponseError(
                            f"PagerDuty listed one of its {key} without an id; "
                            "the deletion check cannot trust this listing"
                        )
                    keys.add(raw["id"])
        return keys

    def _add_relation(
        self, page: SourcePage, raw: Any, seen_at: datetime, written: set[str]
    ) -> None:
        try:
            relation = parse_dependency(raw, seen_at=seen_at, source=self.source)
        except RecordRejected as exc:
            page.rejected.append(Quarantined.of(self.source, "relation", raw, str(exc), "id"))
            return
        if relation.external_id not in written:
            written.add(relation.external_id)
            page.relations.append(relation)

    async def _dependencies(self, kind: str, service_id: str) -> list[Any]:
        path = f"/service_dependencies/{kind}/{quote(service_id, safe='')}"
        # A service deleted since it was listed has no dependencies left to read.
        body = await self._reader.get_optional(path)
        return [] if body is None else _records(body, "relationships", path)


class PagerDutyIncidents:
    """The ``pagerduty`` connector: incidents by creation window, and the older incidents
    whose status changed since the last run (through the log entries)."""

    def __init__(
        self,
        client: SourceClient,
        *,
        backfill_days: int = BACKFILL_DAYS,
        overlap: timedelta = OVERLAP,
        page_size: int = PAGE_SIZE,
        offset_ceiling: int = OFFSET_CEILING,
        name: str = "pagerduty",
        source: str = SOURCE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if backfill_days < 1:
            raise ValueError("backfill_days must be at least 1")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        self.name = name
        self.source = source
        self._reader = _Reader(client, page_size, offset_ceiling)
        self._backfill = timedelta(days=backfill_days)
        self._overlap = overlap
        self._clock = clock

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        now = _whole_seconds(self._clock())
        start = self._start(watermarks.get(WATERMARK), now)
        incremental = start is not None
        seen: set[str] = set()  # incidents fetched this run: each is read once
        acknowledgements = _AcknowledgementLog()
        handed: set[str] = set()  # incidents with a reassign or escalate entry this run
        for since, until in _windows(start or now - self._backfill, now, MAX_WINDOW):
            # The window's log first: it holds the acknowledgements of the incidents
            # listed below and names the older incidents that changed (a backfill reads
            # it for the acknowledgements only: nothing older is in the graph yet).
            changed: dict[str, None] = {}
            async for entries in self._reader.window(
                "/log_entries",
                "log_entries",
                since,
                until,
                {"is_overview": "true", "time_zone": "UTC"},
            ):
                acknowledgements.add(entries)
                handed.update(_incidents_of(entries, HANDOFF_LOG_TYPES))
                if incremental:
                    changed.update(dict.fromkeys(_changed_incidents(entries)))
            params = {"sort_by": "incident_number:asc", "time_zone": "UTC"}
            async for records in self._reader.window(
                "/incidents", "incidents", since, until, params
            ):
                page = self._page(records, len(records), seen, acknowledgements)
                yield await self._handoffs(page, handed, listed=True)
            older = [i for i in changed if i not in seen]
            for first in range(0, len(older), REFETCH_BATCH):
                fetched = await self._refetch(older[first : first + REFETCH_BATCH])
                page = self._page(fetched, len(fetched), seen, acknowledgements)
                yield await self._handoffs(page, handed, listed=False)
            # Everything created or changed before `until` is in: the window is done.
            yield SourcePage(fetched=0, watermarks={**watermarks, WATERMARK: format_time(until)})

    async def live_keys(self) -> set[str] | None:
        return None  # incidents are not components; nothing to delete

    def _start(self, mark: str | None, now: datetime) -> datetime | None:
        if mark is None:
            return None
        try:
            since = parse_time(mark, WATERMARK) - self._overlap
        except RecordRejected as exc:
            # Reading the backfill again is safe (writes are upserts); stopping is not.
            log.warning("%s: ignoring the stored watermark (%s); backfilling", self.name, exc)
            return None
        return _whole_seconds(min(since, now))

    def _page(
        self,
        records: Iterable[Any],
        fetched: int,
        seen: set[str],
        acknowledgements: _AcknowledgementLog,
    ) -> SourcePage:
        page = SourcePage(fetched=fetched)
        for raw in records:
            incident_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(incident_id, str):
                if incident_id in seen:
                    continue  # listed again by a split window or a log entry
                seen.add(incident_id)
            logged = acknowledgements.of(incident_id) if isinstance(incident_id, str) else ()
            try:
                page.incidents.append(parse_incident(raw, source=self.source, logged=logged))
            except RecordRejected as exc:
                page.rejected.append(Quarantined.of(self.source, "incident", raw, str(exc), "id"))
        return page

    async def _handoffs(self, page: SourcePage, handed: set[str], *, listed: bool) -> SourcePage:
        """The page with each incident's assignments: from its own log where the run saw
        it handed on, else (`listed`: created in the run's windows) its first team since
        it opened, else unknown (left unset)."""
        wanted = [i.external_id for i in page.incidents if i.external_id in handed]
        logs: dict[str, list[Any]] = {}
        if wanted:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = {i: group.create_task(self._incident_log(i)) for i in wanted}
            except* ConnectorError as failures:
                raise failures.exceptions[0] from None
            logs = {i: task.result() for i, task in tasks.items()}
        incidents = []
        for incident in page.incidents:
            own = logs.get(incident.external_id)
            if own is not None:
                opened_in = incident.assignments[0].team_ref if incident.assignments else None
                changes = group_changes(own, opened_in, self.source)
                spans = assignments(incident.opened_at, changes, opened_in)
                update = {"assignments": spans, "handed_off_at": first_handoff(spans)}
                incidents.append(incident.model_copy(update=update))
            elif listed:
                incidents.append(incident)
            else:
                incidents.append(incident.model_copy(update={"assignments": ()}))
        return SourcePage(fetched=page.fetched, incidents=incidents, rejected=page.rejected)

    async def _incident_log(self, incident_id: str) -> list[Any]:
        """Every log entry of one incident (empty when it is gone)."""
        path = f"/incidents/{quote(incident_id, safe='')}/log_entries"
        entries: list[Any] = []
        try:
            async for page in self._reader.pages(path, "log_entries", {"time_zone": "UTC"}):
                entries.extend(page)
        except SourceRejectedError as exc:
            if exc.status_code != 404:
                raise
        return entries

    async def _refetch(self, incident_ids: list[str]) -> list[Any]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._incident(i)) for i in incident_ids]
        found = (task.result() for task in tasks)
        return [incident for incident in found if incident is not None]

    async def _incident(self, incident_id: str) -> Any:
        body = await self._reader.get_optional(f"/incidents/{quote(incident_id, safe='')}")
        if body is None:
            log.warning(
                "%s: incident %s is gone; its last known state stays", self.name, incident_id
            )
            return None
        incident = body.get("incident")
        if incident is None:
            raise MalformedResponseError(
                f"PagerDuty answered GET /incidents/{incident_id} without an incident"
            )
        return incident


class _AcknowledgementLog:
    """The acknowledgement log entries a run read, by incident (times and types only)."""

    def __init__(self) -> None:
        self._entries: dict[str, list[tuple[datetime, str]]] = {}

    def add(self, entries: Iterable[Any]) -> None:
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            kind = entry.get("type")
            if kind != ACKNOWLEDGE_LOG_TYPE and kind not in ACKNOWLEDGED_BEFORE_LOG_TYPES:
                continue
            incident = entry.get("incident")
            incident_id = incident.get("id") if isinstance(incident, dict) else None
            try:
                at = parse_time(entry.get("created_at"), "created_at")
            except RecordRejected as exc:
                log.warning("pagerduty: ignoring log entry %s: %s", entry.get("id"), exc)
                continue
            if isinstance(incident_id, str) and incident_id:
                self._entries.setdefault(incident_id, []).append((at, kind))

    def of(self, incident_id: str) -> list[tuple[datetime, str]]:
        return self._entries.get(incident_id, [])


def _changed_incidents(entries: Iterable[Any]) -> list[str]:
    """Ids of the incidents these log entries changed, once each, in order."""
    return _incidents_of(entries, CHANGE_LOG_TYPES)


def _incidents_of(entries: Iterable[Any], types: frozenset[str]) -> list[str]:
    """Ids of the incidents of the log entries of these types, once each, in order."""
    found: dict[str, None] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") not in types:
            continue
        incident = entry.get("incident")
        incident_id = incident.get("id") if isinstance(incident, dict) else None
        if isinstance(incident_id, str) and incident_id:
            found[incident_id] = None
    return list(found)
