"""Jira Service Management tickets as incidents, with their request SLAs as clocks.

Issues come from the enhanced search, ``POST /rest/api/3/search/jql``, page by page
through ``nextPageToken`` (the last page has ``isLast: true`` and, per JRACLOUD-92184, may
leave the token out instead of sending null). Each issue's SLAs come from JSM's
``GET /rest/servicedeskapi/request/{key}/sla`` (paged by ``start``/``limit``); a 404 there
means the issue is no service request, so it has no clocks.

Time zones
----------
A JQL date literal has no zone: ``updated >= "2024/03/01 09:15"`` is read in the *searching
user's* profile time zone (Atlassian staff on the developer community; JRACLOUD-74279
asks for another option), and only to the minute. So each run asks ``GET
/rest/api/3/myself`` for the user's ``timeZone`` and writes the watermark, which is kept
as a UTC instant, as that zone's wall-clock time rounded *down* to the minute
(`jql_time`). Where a wall-clock time is ambiguous (the hour repeated when daylight
saving ends) the literal is moved back until every reading of it is no later than the
watermark. A user whose zone is unknown gets literals written for UTC-12, the zone
furthest behind: read in any real zone they mean the watermark or earlier, so at worst
a day more is fetched again and nothing is missed.

Watermark
---------
Issues are asked for in ``ORDER BY updated ASC, key ASC``. An issue updated while the run
pages moves to the end of that order, and what the token means is not documented: if it
is a position, every issue behind the one that moved slides forward by one and the issue
at the cursor is skipped. So the watermark moves only with the run's last page, to the
earlier of the newest update seen and the server's clock when the run started, less
`OVERLAP` (for minute precision and the search index's lag). When an issue comes back a
second time in one run (it was updated after it was read), the watermark is also held
back to the last update on the page where that issue was first read: the skipped issue,
if any, was behind it. A failed run commits no watermark, and the next run starts from
the old one.

Ticket timestamps
-----------------
The search asks for ``expand: "changelog"`` (a comma-separated string in the POST body,
unlike most expands). Status changes are the changelog items whose ``fieldId`` (or
``field``) is ``status``; with the issue's ``created`` and the first change's
``fromString`` (the status it was created in; the current status if it never changed)
they make the state history that pauses ticket clocks (`state_history`). The expanded
changelog is documented as the *recent* updates, newest first, and the enhanced search
cuts it short (40 histories are reported; ``total`` says how many there are): for the
issues of a page whose changelog is cut, the status changes come from one
``POST /rest/api/3/changelog/bulkfetch`` (up to 1000 issues, ``fieldIds: ["status"]``,
oldest first, paged by ``nextPageToken``), so a long history costs a request per page
of issues, not per issue. The first response is the stop time of the first completed
cycle of the request SLA named `RESPONSE_SLA` (JSM's default "Time to first response",
configurable per connector).

Handoffs: with a `team_field` (the issue field naming the team that holds it: an
Atlassian Team or select custom field such as ``customfield_10001``, or ``assignee``),
its changelog items (``fieldId``, or ``field`` where there is no id, equal to it) are
the group changes, ``from`` -> ``to`` (ids; team refs ``jira:<id>``), at their
history's ``created``; the issue was opened in the first change's ``from``, or, never
changed, in the field's current value (its ``id``, ``accountId`` or ``value``). The
bulk changelog is asked for that field too. `hub.domain.handoffs.assignments` makes
the spans; the first handoff is when the first team handed the issue on. Without a
`team_field`, or with a changelog the search cut short and the bulk one did not
complete, the assignments stay unknown (the graph keeps what it had).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from hub.connectors.cases import CORRELATION_PREFIX, CaseRequest, ExternalCase
from hub.connectors.fields import server_time
from hub.connectors.http import (
    ConnectorError,
    MalformedResponseError,
    OwnsClient,
    SourceClient,
    SourceRejectedError,
)
from hub.domain.handoffs import Assignment, GroupChange, assignments
from hub.domain.sources import (
    Quarantined,
    RecordRejected,
    SourceIncident,
    SourcePage,
    StateChange,
    TicketClock,
)

log = logging.getLogger(__name__)

SOURCE = "jira"
# The most the enhanced search returns per page when more than ids and keys are asked for.
PAGE_SIZE = 100
SLA_PAGE_SIZE = 50
OVERLAP = timedelta(minutes=5)
WATERMARK = "issues"
SEARCH_PATH = "/rest/api/3/search/jql"
MYSELF_PATH = "/rest/api/3/myself"
CHANGELOG_PATH = "/rest/api/3/changelog/bulkfetch"
# The bulk changelog takes at most 1000 issues per request.
CHANGELOG_BATCH = 1000
# JSM's default name of the SLA that stops at the first response to the customer.
RESPONSE_SLA = "Time to first response"
STATUS_FIELD = "status"
JQL_TIME_FORMAT = "%Y/%m/%d %H:%M"
# The first run still needs a restriction: the enhanced search refuses unbounded JQL.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# UTC-12 (POSIX names have the sign reversed): the zone furthest behind UTC.
WESTMOST = ZoneInfo("Etc/GMT+12")

# Jira priority names (case-insensitive) -> the hub's P1..P5:
#
#   Highest  Blocker   P1  -> P1
#   High     Critical  P2  -> P2
#   Medium   Major     P3  -> P3
#   Low      Minor     P4  -> P4
#   Lowest   Trivial   P5  -> P5
#
# Highest..Lowest is Jira Cloud's default scheme; Blocker..Trivial the older default that
# migrated sites keep. A name starting with P1..P5 ("P1 - Critical") maps by that prefix.
# Any other name means nothing the hub can rank, so it maps to None.
PRIORITIES: Mapping[str, str] = {
    "highest": "P1",
    "blocker": "P1",
    "high": "P2",
    "critical": "P2",
    "medium": "P3",
    "major": "P3",
    "low": "P4",
    "minor": "P4",
    "lowest": "P5",
    "trivial": "P5",
}
_P_PRIORITY = re.compile(r"^P([1-5])(?![0-9])", re.IGNORECASE)
# Keys are put into URL paths, so only real issue keys pass ("OPS-12").
_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")
# Jira's form is 2024-03-01T08:15:00.000+0100; seconds and fractions may be left out, the
# offset may not.
_JIRA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


# ---- pure parsing ------------------------------------------------------------


def parse_time(value: Any, field: str) -> datetime:
    """A Jira date-time (``2024-03-01T08:15:00.000+0100``) in UTC."""
    if not isinstance(value, str) or not value:
        raise RecordRejected(f"{field}: missing date-time")
    if not _JIRA_TIME.match(value):
        raise RecordRejected(f"{field}: {value!r} is not an ISO 8601 date-time with an offset")
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise RecordRejected(f"{field}: {value!r} is not a valid date-time") from None


def _optional_time(value: Any, field: str) -> datetime | None:
    return None if value is None or value == "" else parse_time(value, field)


def parse_priority(value: Any) -> str | None:
    """P1..P5 for a priority object ``{"name": ...}``, None when unknown or absent."""
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str):
        return None
    name = name.strip()
    numbered = _P_PRIORITY.match(name)
    if numbered:
        return f"P{numbered.group(1)}"
    return PRIORITIES.get(name.lower())


def issue_key(raw: Any) -> str:
    """The issue's key, checked to be one (it becomes part of a URL)."""
    key = raw.get("key") if isinstance(raw, dict) else None
    if not isinstance(key, str) or not key:
        raise RecordRejected("key: required, but missing or empty")
    if not _ISSUE_KEY.match(key):
        raise RecordRejected(f"key: {key!r} is not an issue key like OPS-12")
    return key


def component_refs(value: Any, source: str, field: str) -> tuple[str, ...]:
    """External-ref keys (``source:id``) from a component field, duplicates dropped.

    The field may hold text, a list of texts, a select option ``{"value": ...}`` (or a
    list of them), or Jira components ``[{"name": ...}]``.
    """
    items = value if isinstance(value, list) else [value]
    refs = (_component_id(item, field) for item in items)
    return tuple(dict.fromkeys(f"{source}:{ref}" for ref in refs if ref))


def _component_id(item: Any, field: str) -> str | None:
    if item is None:
        return None
    if isinstance(item, str):
        return item.strip() or None
    if isinstance(item, dict):
        for name in ("value", "name"):
            text = item.get(name)
            if isinstance(text, str):
                return text.strip() or None
    raise RecordRejected(
        f"{field}: {item!r} is neither text, a select option {{value}} nor a component {{name}}"
    )


def _millis(value: Any, field: str) -> float | None:
    """Seconds from a duration ``{"millis": n, "friendly": ...}``."""
    if value is None:
        return None
    millis = value.get("millis") if isinstance(value, dict) else None
    if isinstance(millis, bool) or not isinstance(millis, int | float):
        raise RecordRejected(f"{field}: expected a duration with millis, got {value!r}")
    return millis / 1000.0


def _sla_time(value: Any, field: str) -> datetime | None:
    """A JSM date ``{"epochMillis", "iso8601", "jira", "friendly"}`` in UTC.

    epochMillis is read first: it names the instant without any zone or format.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordRejected(f"{field}: expected a date object, got {value!r}")
    millis = value.get("epochMillis")
    if isinstance(millis, int) and not isinstance(millis, bool):
        return datetime.fromtimestamp(millis / 1000.0, UTC)
    for form in ("iso8601", "jira"):
        if value.get(form) is not None:
            return parse_time(value[form], f"{field}.{form}")
    raise RecordRejected(f"{field}: a date object without epochMillis or iso8601")


def _flag(cycle: Mapping[str, Any], name: str, field: str) -> bool:
    value = cycle.get(name, False)
    if not isinstance(value, bool):
        raise RecordRejected(f"{field}.{name}: expected true or false, got {value!r}")
    return value


def parse_clock(raw: Any, field: str = "sla") -> TicketClock:
    """One JSM SLA metric as a clock describing its latest cycle.

    The latest cycle is the ongoing one, else the last completed one. `breached` is true
    when any cycle breached: a later cycle that met its goal does not undo a breach.
    """
    if not isinstance(raw, dict):
        raise RecordRejected(f"{field}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RecordRejected(f"{field}.name: required, but missing or empty")
    where = f"{field} {name!r}"
    ongoing = raw.get("ongoingCycle")
    completed = raw.get("completedCycles") or []
    if ongoing is not None and not isinstance(ongoing, dict):
        raise RecordRejected(f"{where}.ongoingCycle: expected an object")
    if not isinstance(completed, list) or not all(isinstance(c, dict) for c in completed):
        raise RecordRejected(f"{where}.completedCycles: expected a list of objects")
    cycles: list[dict[str, Any]] = [*completed, *([ongoing] if ongoing else [])]
    if not cycles:
        # Not started yet (e.g. no first response is due before the request is assigned).
        return TicketClock(name=name, breached=False)
    latest = cycles[-1]
    try:
        return TicketClock(
            name=name,
            breached=any(_flag(c, "breached", where) for c in cycles),
            goal_seconds=_millis(latest.get("goalDuration"), f"{where}.goalDuration"),
            elapsed_seconds=_millis(latest.get("elapsedTime"), f"{where}.elapsedTime"),
            # Negative once breached: JSM counts on past the goal.
            remaining_seconds=_millis(latest.get("remainingTime"), f"{where}.remainingTime"),
            started_at=_sla_time(latest.get("startTime"), f"{where}.startTime"),
            stopped_at=None if ongoing else _sla_time(latest.get("stopTime"), f"{where}.stopTime"),
            paused=_flag(ongoing, "paused", where) if ongoing else False,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RecordRejected(f"{where}.{error['loc'][0]}: {error['msg']}") from None


def parse_clocks(values: Sequence[Any] | None) -> tuple[TicketClock, ...]:
    return tuple(parse_clock(raw, f"sla[{i}]") for i, raw in enumerate(values or ()))


def first_response(values: Sequence[Any] | None, name: str | None) -> datetime | None:
    """When the first cycle of the SLA metric `name` (case-insensitive) stopped.

    None when there is no such metric or it has not stopped yet (no completed cycle).
    The earliest stop of the completed cycles counts: a later cycle (the request was
    reopened) is not the first response.
    """
    if name is None:
        return None
    wanted = name.strip().casefold()
    for i, raw in enumerate(values or ()):
        if not isinstance(raw, dict):
            continue  # parse_clocks rejects it, naming it
        metric = raw.get("name")
        if not isinstance(metric, str) or metric.strip().casefold() != wanted:
            continue
        where = f"sla[{i}] {metric!r}"
        completed = raw.get("completedCycles") or []
        if not isinstance(completed, list):
            raise RecordRejected(f"{where}.completedCycles: expected a list of objects")
        stops = [
            _sla_time(cycle.get("stopTime"), f"{where}.completedCycles[{j}].stopTime")
            if isinstance(cycle, dict)
            else None
            for j, cycle in enumerate(completed)
        ]
        return min((stop for stop in stops if stop is not None), default=None)
    return None


def _is_status_item(item: Mapping[str, Any]) -> bool:
    field_id = item.get("fieldId")
    if field_id is not None:
        return bool(field_id == STATUS_FIELD)
    # Older payloads name the field only; a custom field called "status" is "custom".
    return item.get("field") == STATUS_FIELD and item.get("fieldtype", "jira") == "jira"


def changelog_histories(raw: Any) -> list[Any] | None:
    """The histories the search expanded; None when they are not all there.

    None when the issue came without a changelog, or when ``total`` (or ``startAt``)
    says the search cut it short.
    """
    changelog = raw.get("changelog") if isinstance(raw, dict) else None
    if not isinstance(changelog, dict):
        return None
    histories = changelog.get("histories")
    if not isinstance(histories, list):
        return None
    total = changelog.get("total")
    start = changelog.get("startAt") or 0
    if (isinstance(total, int) and total > len(histories)) or start != 0:
        return None
    return histories


def state_history(
    created: datetime, current: str, histories: Sequence[Any], field: str = "changelog"
) -> tuple[StateChange, ...]:
    """The statuses an issue entered, from its creation, out of its changelog histories.

    Histories may come in any order (the expanded changelog is newest first, the bulk
    one oldest first): they are ordered by ``created``, then by id. The issue entered
    the first change's ``fromString`` when it was created, or `current` if its status
    never changed.
    """
    changes: list[tuple[datetime, int, int, Mapping[str, Any]]] = []
    for i, history in enumerate(histories):
        where = f"{field}.histories[{i}]"
        if not isinstance(history, dict):
            raise RecordRejected(f"{where}: expected an object")
        items = history.get("items") or []
        if not isinstance(items, list):
            raise RecordRejected(f"{where}.items: expected a list")
        status_items = [
            (j, item)
            for j, item in enumerate(items)
            if isinstance(item, dict) and _is_status_item(item)
        ]
        if not status_items:
            continue
        at = parse_time(history.get("created"), f"{where}.created")
        order = _history_order(history.get("id"))
        for j, item in status_items:
            entered = item.get("toString")
            if not isinstance(entered, str) or not entered.strip():
                raise RecordRejected(f"{where}.items[{j}].toString: the status entered is missing")
            changes.append((at, order, i, item))
    changes.sort(key=lambda change: change[:3])
    first = changes[0][3].get("fromString") if changes else current
    initial = first if isinstance(first, str) and first.strip() else None
    entered = [(at, item["toString"]) for at, _, _, item in changes]
    return tuple(
        StateChange(at=at, state=state)
        for at, state in ([(created, initial)] if initial else []) + entered
    )


def group_changes(histories: Sequence[Any], team_field: str) -> list[GroupChange]:
    """The changes of `team_field` in these histories, in time (then history id) order;
    team refs are ``jira:<id>``."""
    found: list[tuple[datetime, int, int, GroupChange]] = []
    for i, history in enumerate(histories):
        if not isinstance(history, dict):
            raise RecordRejected(f"changelog.histories[{i}]: expected an object")
        items = history.get("items") or []
        if not isinstance(items, list):
            raise RecordRejected(f"changelog.histories[{i}].items: expected a list")
        moves = [item for item in items if isinstance(item, dict) and _is_item(item, team_field)]
        if not moves:
            continue
        at = parse_time(history.get("created"), f"changelog.histories[{i}].created")
        order = _history_order(history.get("id"))
        for item in moves:
            change = GroupChange(at, _team_ref(item.get("from")), _team_ref(item.get("to")))
            found.append((at, order, i, change))
    found.sort(key=lambda entry: entry[:3])
    return [change for *_, change in found]


def current_team(value: Any) -> str | None:
    """The team ref of the team field's current value (a team, option or user)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = next((value.get(k) for k in ("id", "accountId", "value") if value.get(k)), None)
    return _team_ref(value)


def _is_item(item: Mapping[str, Any], field_id: str) -> bool:
    found = item.get("fieldId")
    return bool(found == field_id) if found is not None else item.get("field") == field_id


def _team_ref(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return f"{SOURCE}:{value}" if isinstance(value, str) and value.strip() else None


def _history_order(value: Any) -> int:
    """Histories at the same instant in id order (ids grow); one without an id last."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 2**63


def _status(value: Any) -> str:
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise RecordRejected("status: required, but missing or without a name")
    return name


def _summary(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordRejected(f"summary: expected a string, got {type(value).__name__}")
    return value


def parse_issue(
    raw: Any,
    slas: Sequence[Any] | None = None,
    *,
    component_field: str = "components",
    component_source: str = "manual",
    changelog: Sequence[Any] | None = None,
    response_sla: str | None = RESPONSE_SLA,
    team_field: str | None = None,
) -> SourceIncident:
    """An issue from the search, with its SLA metrics (None: none), as an incident.

    The state history comes from `changelog` (every history of the issue, or at least
    every status change, as the bulk changelog gives them) or else from the changelog
    the search expanded; without either, or with one the search cut short, it stays
    empty (unknown). The first response is when the SLA metric `response_sla` first
    stopped. With a `team_field`, the same histories give the spans each team held the
    issue (`group_changes`). Raises `RecordRejected` naming the field that makes the
    issue unusable.
    """
    key = issue_key(raw)
    fields = raw.get("fields")
    if not isinstance(fields, dict):
        raise RecordRejected("fields: missing; the search was asked for fields")
    opened = parse_time(fields.get("created"), "created")
    state = _status(fields.get("status"))
    histories = changelog if changelog is not None else changelog_histories(raw)
    spans: tuple[Assignment, ...] = ()
    if team_field is not None and histories is not None:
        changes = group_changes(histories, team_field)
        spans = assignments(opened, changes, current_team(fields.get(team_field)))
    try:
        return SourceIncident(
            source=SOURCE,
            external_id=key,
            number=key,
            updated_at=parse_time(fields.get("updated"), "updated"),
            title=_summary(fields.get("summary")),
            priority=parse_priority(fields.get("priority")),
            state=state,
            opened_at=opened,
            resolved_at=_optional_time(fields.get("resolutiondate"), "resolutiondate"),
            responded_at=first_response(slas, response_sla),
            state_history=() if histories is None else state_history(opened, state, histories),
            assignments=spans,
            component_refs=component_refs(
                fields.get(component_field), component_source, component_field
            ),
            clocks=parse_clocks(slas),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise RecordRejected(f"{error['loc'][0]}: {error['msg']}") from None


# ---- JQL and time zones --------------------------------------------------------


def user_zone(myself: Any) -> ZoneInfo | None:
    """The zone of ``/myself``'s ``timeZone``; None when absent or not a known zone."""
    name = myself.get("timeZone") if isinstance(myself, dict) else None
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def jql_time(moment: datetime, zone: ZoneInfo) -> str:
    """A JQL literal that, read in `zone`, means `moment` or up to a minute before.

    Rounded down to the minute; an ambiguous wall-clock time (the repeated hour at the
    end of daylight saving) is moved back until every reading of it is no later.
    """
    target = moment
    while True:
        wall = target.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        latest = max(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
        if latest <= moment:
            return wall.strftime(JQL_TIME_FORMAT)
        target -= latest - moment


def search_jql(extra: str, since: str) -> str:
    """``(extra) AND updated >= "since" ORDER BY updated ASC, key ASC``."""
    restriction = f'updated >= "{since}"'
    where = f"({extra}) AND {restriction}" if extra.strip() else restriction
    return f"{where} ORDER BY updated ASC, key ASC"


def _stored_watermark(watermarks: Mapping[str, str]) -> datetime | None:
    value = watermarks.get(WATERMARK)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        # Fetching everything again is slow but loses nothing.
        log.warning("jira: ignoring the unreadable watermark %r; fetching all issues", value)
        return None
    return moment.astimezone(UTC)


def _format_watermark(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _loose_updated(raw: Any) -> datetime | None:
    """An issue's update time for bookkeeping, also for issues that are quarantined."""
    fields = raw.get("fields") if isinstance(raw, dict) else None
    try:
        return parse_time(fields.get("updated"), "updated") if isinstance(fields, dict) else None
    except RecordRejected:
        return None


@dataclass(slots=True)
class _RunLedger:
    """What one run has read, to work out how far the watermark may move."""

    since: datetime | None
    started: datetime
    newest: datetime | None = None
    hold: datetime | None = None
    first_page: dict[str, int] = field(default_factory=dict)
    page_last: list[datetime | None] = field(default_factory=list)

    def record(self, issues: Sequence[Any]) -> None:
        page = len(self.page_last)
        times = [t for t in map(_loose_updated, issues) if t is not None]
        # A page with no readable time holds back to the page before it.
        previous = self.page_last[-1] if self.page_last else self.since
        self.page_last.append(max(times, default=previous))
        if times:
            self.newest = max(self.newest or times[0], *times)
        for raw in issues:
            key = raw.get("key") if isinstance(raw, dict) else None
            if not isinstance(key, str):
                continue
            seen = self.first_page.setdefault(key, page)
            if seen != page:
                self._hold_at(key, seen)

    def _hold_at(self, key: str, page: int) -> None:
        limit = self.page_last[page] or EPOCH
        log.info(
            "jira: %s was updated while the run paged; the watermark stays at or before %s",
            key,
            limit.isoformat(),
        )
        self.hold = min(self.hold or limit, limit)

    def watermark(self) -> datetime | None:
        """Where the next run starts; None when this run read nothing to move it."""
        if self.newest is None:
            return None
        mark = min(self.newest, self.started) - OVERLAP
        if self.hold is not None:
            mark = min(mark, self.hold - OVERLAP)
        # The old watermark was already safe; never go back behind it.
        return mark if self.since is None else max(mark, self.since)


# ---- the connector -----------------------------------------------------------


class JiraServiceManagement:
    """The ``jira`` connector: JSM issues as incidents with their request SLA clocks.

    `jql` narrows the search (``project = OPS``; no ``ORDER BY``). `component_field` is
    the issue field naming the affected components (``components`` or a custom field
    such as ``customfield_10050``); its values are external ids of `component_source`
    (``servicenow`` sys_ids, ``manual`` bundle ids...). `response_sla` names the request
    SLA whose first stop is the first response (None: no response times). `team_field`
    names the field whose changes are the handoffs (None: none; see the module doc)::

        connector = JiraServiceManagement(
            client, jql="project = OPS", component_field="customfield_10050",
            component_source="servicenow",
        )
    """

    name = "jira"
    source = SOURCE

    def __init__(
        self,
        client: SourceClient,
        *,
        jql: str = "",
        component_field: str = "components",
        component_source: str = "manual",
        page_size: int = PAGE_SIZE,
        response_sla: str | None = RESPONSE_SLA,
        team_field: str | None = None,
    ) -> None:
        if re.search(r"\border\s+by\b", jql, re.IGNORECASE):
            raise ValueError("jql: leave out ORDER BY; the connector orders by updated and key")
        if not component_field:
            raise ValueError("component_field: name the issue field that holds the components")
        if not component_source or ":" in component_source:
            raise ValueError("component_source: a source name such as 'servicenow', without ':'")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._client = client
        self._jql = jql
        self._component_field = component_field
        self._component_source = component_source
        self._page_size = page_size
        self._response_sla = response_sla
        self._team_field = team_field or None

    async def live_keys(self) -> set[str] | None:
        # Tickets are not a CMDB: they name components but never delete them.
        return None

    async def pages(self, watermarks: dict[str, str]) -> AsyncIterator[SourcePage]:
        zone, started = await self._user_zone()
        since = _stored_watermark(watermarks)
        query = search_jql(self._jql, jql_time(since or EPOCH, zone))
        ledger = _RunLedger(since=since, started=started)
        pending: SourcePage | None = None
        async for issues in self._search(query):
            ledger.record(issues)
            page = await self._page(issues)
            # Only the run's last page moves the watermark; see the module docstring.
            if pending is not None:
                yield pending
            pending = page
        if pending is None:
            return
        mark = ledger.watermark()
        moved = None if mark is None else {**watermarks, WATERMARK: _format_watermark(mark)}
        yield replace(pending, watermarks=moved)

    async def _user_zone(self) -> tuple[ZoneInfo, datetime]:
        """The search user's time zone, and the server's clock now."""
        body, response = await self._client.get_json(MYSELF_PATH)
        zone = user_zone(body)
        if zone is None:
            shown = body.get("timeZone") if isinstance(body, dict) else None
            log.warning(
                "jira: the API user's time zone %r is unknown; writing JQL dates for UTC-12, "
                "which re-reads up to a day of issues each run. Set the user's time zone.",
                shown,
            )
            zone = WESTMOST
        return zone, server_time(response.headers.get("date"))

    async def _search(self, query: str) -> AsyncIterator[list[Any]]:
        """Every page of the search, following nextPageToken."""
        fields = [
            "summary",
            "status",
            "priority",
            "created",
            "updated",
            "resolutiondate",
            self._component_field,
            *([self._team_field] if self._team_field else []),
        ]
        token: str | None = None
        tokens: set[str] = set()
        while True:
            body: dict[str, Any] = {
                "jql": query,
                "fields": fields,
                "maxResults": self._page_size,
                # A comma-separated string here, unlike the other expands of the API.
                "expand": "changelog",
            }
            if token is not None:
                body["nextPageToken"] = token
            data, _ = await self._client.post_json(SEARCH_PATH, body)
            issues = data.get("issues") if isinstance(data, dict) else None
            if not isinstance(issues, list):
                raise MalformedResponseError(
                    f"Jira answered POST {SEARCH_PATH} without an issues list"
                )
            yield issues
            following = data.get("nextPageToken")
            if data.get("isLast") is True or not isinstance(following, str) or not following:
                return
            if following in tokens:
                raise MalformedResponseError(
                    f"Jira answered POST {SEARCH_PATH} with a nextPageToken it gave before; "
                    "stopping rather than reading the same pages forever"
                )
            tokens.add(following)
            token = following

    async def _page(self, issues: Sequence[Any]) -> SourcePage:
        keys: list[str] = []
        for raw in issues:
            try:
                keys.append(issue_key(raw))
            except RecordRejected:
                continue  # parse_issue quarantines it below, with the reason
        slas = await self._all_slas(keys)
        changelogs = await self._cut_changelogs(issues)
        page = SourcePage(fetched=len(issues))
        for raw in issues:
            key = raw.get("key") if isinstance(raw, dict) else None
            issue_id = raw.get("id") if isinstance(raw, dict) else None
            try:
                incident = parse_issue(
                    raw,
                    slas.get(key) if isinstance(key, str) else None,
                    component_field=self._component_field,
                    component_source=self._component_source,
                    changelog=changelogs.get(issue_id) if isinstance(issue_id, str) else None,
                    response_sla=self._response_sla,
                    team_field=self._team_field,
                )
            except RecordRejected as exc:
                page.rejected.append(Quarantined.of(SOURCE, "incident", raw, str(exc), "key"))
                continue
            page.incidents.append(incident)
        return page

    async def _cut_changelogs(self, issues: Sequence[Any]) -> dict[str, list[Any]]:
        """The status changes of the issues whose expanded changelog the search cut short,
        by issue id, from the bulk changelog (an issue it does not return is left out:
        its history stays unknown)."""
        cut = [
            raw["id"]
            for raw in issues
            if isinstance(raw, dict)
            and isinstance(raw.get("id"), str)
            and raw["id"]
            and isinstance(raw.get("changelog"), dict)
            and changelog_histories(raw) is None
        ]
        found: dict[str, list[Any]] = {}
        for start in range(0, len(cut), CHANGELOG_BATCH):
            batch = list(dict.fromkeys(cut[start : start + CHANGELOG_BATCH]))
            async for logs in self._bulk_changelogs(batch):
                for log_entry in logs:
                    issue_id = log_entry.get("issueId") if isinstance(log_entry, dict) else None
                    histories = (
                        log_entry.get("changeHistories") if isinstance(log_entry, dict) else None
                    )
                    if not isinstance(issue_id, str) or not isinstance(histories, list):
                        raise MalformedResponseError(
                            f"Jira answered POST {CHANGELOG_PATH} with an issue changelog "
                            "without issueId or changeHistories"
                        )
                    found.setdefault(issue_id, []).extend(histories)
        for issue_id in cut:
            if issue_id not in found:
                log.warning(
                    "jira: the bulk changelog left out issue %s; its state history stays as it was",
                    issue_id,
                )
        return found

    async def _bulk_changelogs(self, issue_ids: Sequence[str]) -> AsyncIterator[list[Any]]:
        """Every page of the bulk changelog of these issues: status (and team) changes."""
        token: str | None = None
        tokens: set[str] = set()
        while True:
            fields = [STATUS_FIELD, *([self._team_field] if self._team_field else [])]
            body: dict[str, Any] = {"issueIdsOrKeys": list(issue_ids), "fieldIds": fields}
            if token is not None:
                body["nextPageToken"] = token
            data, _ = await self._client.post_json(CHANGELOG_PATH, body)
            logs = data.get("issueChangeLogs") if isinstance(data, dict) else None
            if not isinstance(logs, list):
                raise MalformedResponseError(
                    f"Jira answered POST {CHANGELOG_PATH} without an issueChangeLogs list"
                )
            yield logs
            following = data.get("nextPageToken")
            # Documented as null on the last page; absent is taken the same way.
            if not isinstance(following, str) or not following:
                return
            if following in tokens:
                raise MalformedResponseError(
                    f"Jira answered POST {CHANGELOG_PATH} with a nextPageToken it gave before; "
                    "stopping rather than reading the same pages forever"
                )
            tokens.add(following)
            token = following

    async def _all_slas(self, keys: Sequence[str]) -> dict[str, list[Any] | None]:
        """The SLA metrics of each issue, fetched together (the client bounds how many are
        in flight); the first failure cancels the rest."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {key: group.create_task(self._slas(key)) for key in dict.fromkeys(keys)}
        except* ConnectorError as failures:
            raise failures.exceptions[0] from None
        return {key: task.result() for key, task in tasks.items()}

    async def _slas(self, key: str) -> list[Any] | None:
        """Every SLA metric of one request; None when the issue is no JSM request."""
        path = f"/rest/servicedeskapi/request/{key}/sla"
        values: list[Any] = []
        start = 0
        while True:
            try:
                body, _ = await self._client.get_json(
                    path, {"start": start, "limit": SLA_PAGE_SIZE}
                )
            except SourceRejectedError as exc:
                if exc.status_code == 404 and start == 0:
                    return None
                raise
            page = body.get("values") if isinstance(body, dict) else None
            if not isinstance(page, list):
                raise MalformedResponseError(f"Jira answered GET {path} without a values list")
            values.extend(page)
            if body.get("isLastPage") is not False or not page:
                return values
            start += len(page)


# ---- cases (hub.connectors.cases) ----------------------------------------------------

REQUEST_PATH = "/rest/servicedeskapi/request"


class JiraCases(OwnsClient):
    """Pending approvals and due reviews as JSM requests (`hub.connectors.cases`).

    A case is raised with ``POST /rest/servicedeskapi/request`` (service desk and
    request type from settings; the correlation id as a label), found again with the
    enhanced search (``labels = "hub-case-<id>"``), and resolved with the configured
    workflow transition, ``POST /rest/api/3/issue/{key}/transitions`` (204).
    """

    system = "jira"
    _client: SourceClient

    def __init__(
        self,
        client: SourceClient,
        *,
        service_desk_id: str,
        request_type_id: str,
        close_transition_id: str,
    ) -> None:
        self._client = client
        self.service_desk_id = service_desk_id
        self.request_type_id = request_type_id
        self.close_transition_id = close_transition_id

    async def find(self, correlation_id: str) -> ExternalCase | None:
        label = CORRELATION_PREFIX + correlation_id
        body = {"jql": f'labels = "{label}"', "fields": ["status"], "maxResults": 1}
        data, _ = await self._client.post_json(SEARCH_PATH, body)
        issues = data.get("issues") if isinstance(data, dict) else None
        if not isinstance(issues, list):
            raise MalformedResponseError(f"jira: the search for case {label} has no issues list")
        if not issues:
            return None
        key = _case_key(issues[0].get("key") if isinstance(issues[0], dict) else None)
        status = (issues[0].get("fields") or {}).get("status") or {}
        category = (status.get("statusCategory") or {}).get("key")
        return ExternalCase(key=key, number=key, closed=category == "done")

    async def create(self, request: CaseRequest) -> ExternalCase:
        body = {
            "serviceDeskId": self.service_desk_id,
            "requestTypeId": self.request_type_id,
            "requestFieldValues": {
                "summary": request.summary,
                "description": request.description,
                "labels": [CORRELATION_PREFIX + request.correlation_id],
            },
        }
        found: list[ExternalCase] = []

        async def recheck() -> bool:
            case = await self.find(request.correlation_id)
            found.extend(() if case is None else (case,))
            return case is not None

        data = await self._client.create_json(REQUEST_PATH, body, recheck=recheck)
        if data is None:
            return found[-1]
        key = _case_key(data.get("issueKey") if isinstance(data, dict) else None)
        return ExternalCase(key=key, number=key)

    async def close(self, case: ExternalCase, resolution: str) -> None:
        if case.closed:
            return
        body = {"transition": {"id": self.close_transition_id}}
        path = f"/rest/api/3/issue/{case.key}/transitions"
        await self._client.write_json("POST", path, body, decode=False)


def _case_key(value: Any) -> str:
    # It becomes part of a URL (the transition), so it must be an issue key.
    if not isinstance(value, str) or not _ISSUE_KEY.match(value):
        raise MalformedResponseError(f"jira: {value!r} is not an issue key like OPS-12")
    return value
