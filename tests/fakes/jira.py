"""An in-memory Jira Cloud site with Jira Service Management, in the REST wire format.

`FakeJira` keeps issues and their request SLAs and serves them through a Starlette app
(``fake.app``), so the hub's real httpx client runs end to end against it (serve it with
`tests.fakes.server.serve_app`)::

    fake = FakeJira(time_zone="Europe/Berlin")
    key = fake.add_issue(summary="Checkout down", priority="Highest",
                         fields={"customfield_10050": [option("ci-db1")]})
    fake.set_sla(key, "Time to resolution", SlaCycle(start=..., goal=timedelta(hours=4)))
    with serve_app(fake.app) as base_url:
        ...  # POST {base_url}/rest/api/3/search/jql

Routes: ``GET /rest/api/3/myself``, ``GET``/``POST /rest/api/3/search/jql``,
``POST /rest/api/3/changelog/bulkfetch``,
``GET /rest/servicedeskapi/request/{issueIdOrKey}/sla``, and the writes of the hub's
cases: ``POST /rest/servicedeskapi/request`` (a request in one of `service_desks`
with one of its `request_types`; ``requestFieldValues`` needs a ``summary``, and its
``labels`` can be searched with ``labels = "x"``) and
``POST /rest/api/3/issue/{issueIdOrKey}/transitions`` (one of `transitions`, 204).
Writes need ``Content-Type: application/json`` (415 otherwise) and are refused with
JSM's or Jira's error envelope when malformed (400). `created_requests` lists what
was raised.

Status changes are kept as changelog histories (`FakeJira.transition`, or `update` with a
new ``status``; `add_history` for others, `add_raw_history` for malformed ones)::

    fake.transition(key, "Waiting for customer", at=...)

and so are moves between teams in a Team custom field (`FakeJira.reassign`, items as
`team_item` writes them: ``fieldtype`` ``custom``, team ids in ``from``/``to``; the
field's value is `team`'s ``{"id", "name"}``, an assumed shape)::

    fake.reassign(key, "customfield_10001", team("t-db", "Database"), at=...)

Wire format, and how sure we are of each point
----------------------------------------------
From Atlassian's REST reference and the OpenAPI models generated from it (jira.js,
jira_v3_openapi, fetch-jsd):

- Search: body (or query) ``jql``, ``nextPageToken``, ``maxResults`` (default 50),
  ``fields`` (a list in the body, comma-separated in the query), ``expand``,
  ``properties``, ``fieldsByKeys``, ``reconcileIssues``, ``failFast``. The answer is
  ``{"issues": [...], "nextPageToken": ..., "isLast": ...}``; no ``total``. Only the
  fields asked for come back. ``ORDER BY`` takes at most 7 fields.
- ``expand`` is a comma-separated *string* in the POST body (the reference stresses it,
  unlike the other expands); ``changelog`` adds ``"changelog": {"startAt", "maxResults",
  "total", "histories"}`` to each issue, the "recent updates, sorted by date, starting
  from the most recent". A history is ``{"id", "author", "created", "items"}``; an item
  ``{"field", "fieldtype", "fieldId", "from", "fromString", "to", "toString"}`` (a status
  change: ``field``/``fieldId`` ``status``, ``fieldtype`` ``jira``, ids in ``from``/``to``
  and names in ``fromString``/``toString``).
- Bulk changelog, ``POST /rest/api/3/changelog/bulkfetch``: body ``issueIdsOrKeys`` (at
  most 1000), ``fieldIds`` (at most 10, filtering the items), ``maxResults``,
  ``nextPageToken``; the answer ``{"issueChangeLogs": [{"issueId", "changeHistories"}],
  "nextPageToken"}`` sorted by changelog date and issue id, oldest first, the token null
  on the last page.
- ``/myself`` has ``accountId``, ``accountType``, ``emailAddress``, ``displayName``,
  ``active``, ``timeZone`` (IANA), ``locale``.
- JSM SLAs: a paged DTO ``{"_expands", "size", "start", "limit", "isLastPage", "_links",
  "values"}``; a value has ``id``, ``name``, ``completedCycles``, ``ongoingCycle`` and
  ``_links``. Cycles: ``startTime``, ``stopTime`` (completed), ``breachTime``,
  ``breached``, ``paused`` and ``withinCalendarHours`` (ongoing), ``goalDuration``,
  ``elapsedTime``, ``remainingTime``. Durations are ``{"millis", "friendly"}``, dates
  ``{"iso8601", "jira", "friendly", "epochMillis"}``; the ``jira`` form is
  ``2016-09-28T23:08:32.097+1000``. JSM errors are ``{"errorMessage",
  "i18nErrorMessage": {"i18nKey", "parameters"}}``.
- Platform errors are ``{"errorMessages": [...], "errors": {...}}``.
- Rate limits: 429 with ``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (ISO 8601,
  ``yyyy-MM-ddTHH:mmZ``); ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``,
  ``X-RateLimit-NearLimit: true`` under 20% left, ``RateLimit-Reason`` (here
  ``jira-burst-based``).

Seen in bug reports and community answers (not in the reference):

- The last search page leaves ``nextPageToken`` out instead of sending null
  (JRACLOUD-92184, since fixed): ``FakeJira(last_page_token="null")`` sends null.
- A JQL date literal is read in the searching user's time zone, to the minute
  (JRACLOUD-74279; Atlassian staff on the developer community). Formats: ``yyyy/MM/dd
  HH:mm``, ``yyyy-MM-dd HH:mm``, ``yyyy/MM/dd``, ``yyyy-MM-dd`` and periods like ``-15m``.
- Dates in issues are written with the user's offset (``...T09:15:00.000+0100``).
- A POST body with keys the endpoint does not know (``startAt``) gets 400 "Invalid
  request payload. Refer to the REST API documentation and try again."
- Unbounded JQL gets 400 "Unbounded JQL queries are not allowed here. Please add a
  search restriction to your query."

- The enhanced search cuts the expanded changelog short: 40 histories per issue in
  reports (faros-ai/airbyte-connectors#2003, "changelog being limited to 40 items"; other
  notes say 20). Here the most recent `changelog_limit` (40) come, with ``total`` saying
  how many there are.

Assumed (chosen here, unverified):

- The token's meaning is not documented. Here it is a *position* in the result as it is
  when the next page is asked for, the adverse case: an issue updated while a client
  pages moves to the end of an ``updated`` order, and the issue behind it is skipped.
- ``maxResults`` is capped at 100 (5000 when only ``id``/``key`` are asked for).
- The expanded changelog's ``maxResults`` is the number of histories sent. The bulk
  changelog sends at most 1000 histories a page (`changelog_page_size`) and groups a
  page's histories by issue; issues it does not know are left out; a history whose
  items the ``fieldIds`` filter empties is left out.
- An overlap in local time (the repeated hour) resolves to the earlier offset, as
  ``java.time`` does; an issue with no ``ORDER BY`` comes in key order.
- 401 body ``{"errorMessages": ["Client must be authenticated to access this
  resource."], "errors": {}}``; the 429 body and the JSM 404 ``i18nKey``.
- JQL: ``AND``, ``OR``, parentheses, and ``= != > >= < <=`` on ``project``, ``key``,
  ``status``, ``priority``, ``created``, ``updated``, ``resolutiondate``; anything else
  is a 400, so a client relying on more finds out here.

The fake's clock (`FakeJira.now`) stamps created/updated times, every ``Date`` header and
the rate-limit window, so a test can make time pass by advancing it (a client's sleep
can call `FakeJira.advance`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import email.utils
import functools
import hashlib
import itertools
import json
import math
import operator
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "OMIT",
    "FakeIssue",
    "FakeJira",
    "RecordedRequest",
    "SlaCycle",
    "component",
    "option",
    "status_item",
    "team",
    "team_item",
]

JSON_TYPE = "application/json;charset=UTF-8"
DEFAULT_NOW = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_MAX_RESULTS = 50
MAX_RESULTS = 100
MAX_ID_RESULTS = 5000
MAX_ORDER_FIELDS = 7
CHANGELOG_LIMIT = 40
CHANGELOG_PAGE_SIZE = 1000
MAX_CHANGELOG_ISSUES = 1000
MAX_CHANGELOG_FIELDS = 10
CHANGELOG_KEYS = frozenset({"issueIdsOrKeys", "fieldIds", "maxResults", "nextPageToken"})
# The ids Jira gives its default workflow's statuses; others get made-up ones.
STATUS_IDS = {"Open": "1", "In Progress": "3", "Reopened": "4", "Resolved": "5", "Closed": "6"}
DEFAULT_SLA_LIMIT = 50
SEARCH_KEYS = frozenset(
    {
        "jql",
        "nextPageToken",
        "maxResults",
        "fields",
        "expand",
        "properties",
        "fieldsByKeys",
        "reconcileIssues",
        "failFast",
    }
)


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""An override value that drops the field from the issue's JSON."""


def jira_error(*messages: str, errors: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The platform API's error envelope."""
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


def jsm_error(message: str, key: str) -> dict[str, Any]:
    """The service desk API's error envelope."""
    return {"errorMessage": message, "i18nErrorMessage": {"i18nKey": key, "parameters": []}}


AUTH_ERROR = jira_error("Client must be authenticated to access this resource.")
UNBOUNDED_ERROR = jira_error(
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
PAYLOAD_ERROR = jira_error(
    "Invalid request payload. Refer to the REST API documentation and try again."
)


def option(value: str, option_id: str = "10100") -> dict[str, Any]:
    """A select-list option as a custom field holds it."""
    return {"self": f"/rest/api/3/customFieldOption/{option_id}", "value": value, "id": option_id}


def status_item(before: str, after: str) -> dict[str, Any]:
    """A changelog item for a status change, as Jira writes it."""
    return {
        "field": "status",
        "fieldtype": "jira",
        "fieldId": "status",
        "from": STATUS_IDS.get(before, str(10000 + len(before))),
        "fromString": before,
        "to": STATUS_IDS.get(after, str(10000 + len(after))),
        "toString": after,
    }


def team(team_id: str, name: str) -> dict[str, Any]:
    """An Atlassian team as a Team custom field holds it (assumed shape: id and name)."""
    return {"id": team_id, "name": name}


def team_item(
    field_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A changelog item for a change of a Team custom field: team ids in ``from``/``to``
    (null for none), names in ``fromString``/``toString``."""
    return {
        "field": "Team",
        "fieldtype": "custom",
        "fieldId": field_id,
        "from": before["id"] if before else None,
        "fromString": before["name"] if before else None,
        "to": after["id"] if after else None,
        "toString": after["name"] if after else None,
    }


def component(name: str, component_id: str = "10000") -> dict[str, Any]:
    """A Jira component as the ``components`` field holds it."""
    return {"self": f"/rest/api/3/component/{component_id}", "id": component_id, "name": name}


@dataclass
class SlaCycle:
    """One cycle of an SLA metric; ongoing while `stop` is None."""

    start: datetime
    goal: timedelta | None = timedelta(hours=4)
    elapsed: timedelta = timedelta(0)
    stop: datetime | None = None
    breached: bool = False
    paused: bool = False


@dataclass
class FakeIssue:
    """An issue as stored; `fields` holds other fields as raw JSON, `overrides` replaces
    rendered fields verbatim (`OMIT` drops one)."""

    key: str
    id: str
    project: str
    summary: str
    status: str
    priority: str | None
    created: datetime
    updated: datetime
    resolutiondate: datetime | None
    fields: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    # None: not a service request (the SLA endpoint answers 404).
    slas: list[dict[str, Any]] | None = field(default_factory=list)
    # Changelog histories, oldest first; a datetime `created` is written in the user's
    # zone when served, anything else verbatim.
    changelog: list[dict[str, Any]] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


@dataclass
class RecordedRequest:
    """One request the fake received; `status` is filled in once it is answered."""

    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    status: int | None = None


@dataclass
class _Fault:
    kind: Literal["fail", "fail-after", "malformed"]
    path: str | None
    remaining: int
    status: int = 500
    body: bytes | None = None
    content_type: str = JSON_TYPE
    retry_after: str | None = None

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


class JqlError(Exception):
    """JQL the fake does not understand or Jira would refuse; the message is Jira's."""


# ---- JQL ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<comma>,)
      | (?P<op>>=|<=|!=|=|>|<)
      | "(?P<dq>(?:[^"\\]|\\.)*)"
      | '(?P<sq>(?:[^'\\]|\\.)*)'
      | (?P<word>[^\s()=!<>,"']+)
    )""",
    re.VERBOSE,
)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"([+-]?)(\d+)([mhdw])")
_PERIOD_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_DATE_FIELDS = {
    "created": "created",
    "updated": "updated",
    "resolutiondate": "resolutiondate",
    "resolved": "resolutiondate",
}
_TEXT_FIELDS = ("project", "status", "priority")

Predicate = Callable[[FakeIssue], bool]
Token = tuple[str, str]


def _tokens(text: str) -> list[Token]:
    found: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise JqlError(f"Error in the JQL Query: unexpected {text[position:]!r}.")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind in ("dq", "sq"):
            found.append(("string", re.sub(r"\\(.)", r"\1", value)))
        else:
            found.append((kind, value))
        position = match.end()
    return found


def _key_order(key: str) -> tuple[str, int]:
    project, _, number = key.upper().rpartition("-")
    return project, int(number) if number.isdigit() else -1


class _JqlParser:
    """``query := [expr] [ORDER BY field [ASC|DESC], ...]``; expr with AND, OR, ( )."""

    def __init__(self, text: str, zone: ZoneInfo, now: datetime) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.zone = zone
        self.now = now
        self.clauses = 0

    def parse(self) -> tuple[Predicate | None, list[tuple[str, bool]]]:
        where = None if self._at_order() or self._done() else self._or()
        order = self._order() if self._at_order() else []
        if not self._done():
            raise JqlError(f"Error in the JQL Query: unexpected {self._peek()[1]!r}.")
        return where, order

    def _done(self) -> bool:
        return self.at >= len(self.tokens)

    def _peek(self) -> Token:
        return self.tokens[self.at] if not self._done() else ("end", "")

    def _word(self, *words: str) -> bool:
        kind, value = self._peek()
        return kind == "word" and value.upper() in words

    def _at_order(self) -> bool:
        return self._word("ORDER")

    def _take(self) -> Token:
        if self._done():
            raise JqlError("Error in the JQL Query: the query ends too soon.")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._word("OR"):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else lambda i: any(p(i) for p in parts)

    def _and(self) -> Predicate:
        parts = [self._factor()]
        while self._word("AND"):
            self._take()
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else lambda i: all(p(i) for p in parts)

    def _factor(self) -> Predicate:
        if self._peek() == ("paren", "("):
            self._take()
            inner = self._or()
            if self._take() != ("paren", ")"):
                raise JqlError("Error in the JQL Query: expecting ')'.")
            return inner
        return self._clause()

    def _clause(self) -> Predicate:
        kind, name = self._take()
        if kind not in ("word", "string"):
            raise JqlError(f"Error in the JQL Query: expecting a field name, got {name!r}.")
        op_kind, op = self._take()
        if op_kind != "op":
            raise JqlError(f"Error in the JQL Query: unsupported operator {op!r} after {name!r}.")
        value_kind, value = self._take()
        if value_kind not in ("word", "string"):
            raise JqlError(f"Error in the JQL Query: expecting a value after {name} {op}.")
        self.clauses += 1
        return self._condition(name.lower(), op, value)

    def _condition(self, name: str, op: str, value: str) -> Predicate:
        compare = _OPERATORS[op]
        if name in _DATE_FIELDS:
            attribute = _DATE_FIELDS[name]
            moment = self._date(name, value)

            def on_date(issue: FakeIssue) -> bool:
                when: datetime | None = getattr(issue, attribute)
                return when is not None and compare(when, moment)

            return on_date
        if name == "labels":
            if op not in ("=", "!="):
                raise JqlError(f"The operator '{op}' is not supported by the 'labels' field.")
            return lambda issue: compare(value in (issue.fields.get("labels") or []), True)
        if name in ("key", "issuekey", "id"):
            wanted = _key_order(value)
            return lambda issue: compare(_key_order(issue.key), wanted)
        if name in _TEXT_FIELDS:
            if op not in ("=", "!="):
                raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
            wanted_text = value.lower()
            return lambda issue: compare((getattr(issue, name) or "").lower(), wanted_text)
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def _date(self, name: str, value: str) -> datetime:
        period = _PERIOD.fullmatch(value)
        if period:
            sign, amount, unit = period.groups()
            delta = timedelta(**{_PERIOD_UNITS[unit]: int(amount)})
            return self.now - delta if sign == "-" else self.now + delta
        for form in _DATE_FORMATS:
            try:
                naive = datetime.strptime(value, form)
            except ValueError:
                continue
            # fold=0: the earlier offset when a local time happens twice.
            return naive.replace(tzinfo=self.zone).astimezone(UTC)
        raise JqlError(
            f"Date value '{value}' for field '{name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
            "format e.g. '-5d', '4w 2d'."
        )

    def _order(self) -> list[tuple[str, bool]]:
        self._take()
        if not self._word("BY"):
            raise JqlError("Error in the JQL Query: expecting 'BY' after 'ORDER'.")
        self._take()
        order = [self._sort_field()]
        while self._peek() == ("comma", ","):
            self._take()
            order.append(self._sort_field())
        if len(order) > MAX_ORDER_FIELDS:
            raise JqlError(f"The ORDER BY clause may have at most {MAX_ORDER_FIELDS} fields.")
        return order

    def _sort_field(self) -> tuple[str, bool]:
        _, name = self._take()
        name = name.lower()
        if name not in (*_DATE_FIELDS, "key", "issuekey", *_TEXT_FIELDS):
            raise JqlError(f"Not able to sort using field '{name}'.")
        descending = False
        if self._word("ASC", "DESC"):
            descending = self._take()[1].upper() == "DESC"
        return name, descending


def _sort_value(issue: FakeIssue, name: str) -> Any:
    if name in _DATE_FIELDS:
        when = getattr(issue, _DATE_FIELDS[name])
        # Empty dates sort last, as Jira puts EMPTY after values in ascending order.
        return (when is None, when or DEFAULT_NOW)
    if name in ("key", "issuekey"):
        return _key_order(issue.key)
    return (getattr(issue, name) or "").lower()


def _sorted(issues: Iterable[FakeIssue], order: Sequence[tuple[str, bool]]) -> list[FakeIssue]:
    result = sorted(issues, key=lambda i: _key_order(i.key))
    # Stable sorts from the least significant field up.
    for name, descending in reversed(order):
        result.sort(key=functools.partial(_sort_value, name=name), reverse=descending)
    return result


# ---- rendering -----------------------------------------------------------------


def jira_time(moment: datetime, zone: ZoneInfo) -> str:
    """``2024-03-01T09:15:00.000+0100``: Jira's date-time form, in `zone`."""
    local = moment.astimezone(zone)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + (local.strftime("%z"))
    )


def _friendly_duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}h {rest}m" if rest else f"{sign}{hours}h"


def _duration(delta: timedelta) -> dict[str, Any]:
    return {"millis": int(delta.total_seconds() * 1000), "friendly": _friendly_duration(delta)}


def _date_dto(moment: datetime, zone: ZoneInfo) -> dict[str, Any]:
    local = moment.astimezone(zone)
    return {
        "iso8601": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "jira": jira_time(moment, zone),
        "friendly": local.strftime("%d/%b/%y %I:%M %p"),
        "epochMillis": int(moment.timestamp() * 1000),
    }


def _cycle(cycle: SlaCycle, zone: ZoneInfo) -> dict[str, Any]:
    rendered: dict[str, Any] = {"startTime": _date_dto(cycle.start, zone)}
    if cycle.stop is not None:
        rendered["stopTime"] = _date_dto(cycle.stop, zone)
    if cycle.goal is not None:
        rendered["breachTime"] = _date_dto(cycle.start + cycle.goal, zone)
    rendered["breached"] = cycle.breached
    if cycle.stop is None:
        rendered["paused"] = cycle.paused
        rendered["withinCalendarHours"] = True
    if cycle.goal is not None:
        rendered["goalDuration"] = _duration(cycle.goal)
        rendered["remainingTime"] = _duration(cycle.goal - cycle.elapsed)
    rendered["elapsedTime"] = _duration(cycle.elapsed)
    return rendered


def _page_token(offset: int, jql: str) -> str:
    raw = json.dumps({"o": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:16]})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_token(token: str, jql: str) -> int | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = data["o"]
        matches = data["q"] == hashlib.sha256(jql.encode()).hexdigest()[:16]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 and matches else None


def _int(value: Any, default: int) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


# ---- the fake ------------------------------------------------------------------


class FakeJira:
    """An in-memory Jira Cloud site with JSM; see the module docstring for the wire format.

    `issues` maps keys to `FakeIssue`; `requests` logs every request.
    """

    def __init__(
        self,
        email: str = "sync@example.com",
        # A throwaway credential of a fake on loopback.
        api_token: str = "fake-api-token",  # noqa: S107
        *,
        time_zone: str | None = "Europe/Berlin",
        now: datetime = DEFAULT_NOW,
        last_page_token: Literal["absent", "null"] = "absent",  # noqa: S107 - not a secret
        changelog_limit: int = CHANGELOG_LIMIT,
        changelog_page_size: int = CHANGELOG_PAGE_SIZE,
    ) -> None:
        self.email = email
        self.api_token = api_token
        self.time_zone = time_zone
        self.last_page_token = last_page_token
        self.changelog_limit = changelog_limit
        self.changelog_page_size = changelog_page_size
        self.issues: dict[str, FakeIssue] = {}
        self.requests: list[RecordedRequest] = []
        self._now = now.astimezone(UTC)
        self._lock = threading.RLock()
        self._ids = itertools.count(10001)
        self._history_ids = itertools.count(20001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._faults: list[_Fault] = []
        self._hooks: list[Callable[[RecordedRequest], None]] = []
        self._rate_limit: int | None = None
        self._rate_window = timedelta(seconds=60)
        self._rate_started: datetime | None = None
        self._rate_count = 0
        # Service desk id -> project key; request types each desk offers; transition
        # ids -> the status they lead to; statuses in the "done" category.
        self.service_desks: dict[str, str] = {"1": "SUP"}
        self.request_types: dict[str, set[str]] = {"1": {"25"}}
        self.transitions: dict[str, str] = {"761": "Resolved"}
        self.done_statuses: set[str] = {"Resolved", "Done", "Closed", "Canceled"}
        self.app = Starlette(
            routes=[
                Route("/rest/api/3/myself", self._myself, methods=["GET"]),
                Route("/rest/api/3/search/jql", self._search, methods=["GET", "POST"]),
                Route("/rest/api/3/changelog/bulkfetch", self._bulkfetch, methods=["POST"]),
                Route("/rest/servicedeskapi/request/{issue}/sla", self._sla, methods=["GET"]),
                Route("/rest/servicedeskapi/request", self._create_request, methods=["POST"]),
                Route("/rest/api/3/issue/{issue}/transitions", self._transition, methods=["POST"]),
            ]
        )

    # -- clock -------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The site's clock (UTC); settable."""
        with self._lock:
            return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            self._now = value.astimezone(UTC)

    def advance(self, seconds: float = 1.0) -> datetime:
        """Move the clock forward; return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    @property
    def zone(self) -> ZoneInfo:
        """The user's zone, as JQL dates are read and issue dates written (UTC if unset)."""
        return ZoneInfo(self.time_zone) if self.time_zone else ZoneInfo("UTC")

    # -- issues ------------------------------------------------------------------

    def add_issue(
        self,
        *,
        project: str = "OPS",
        key: str | None = None,
        summary: str = "Something is broken",
        status: str = "Open",
        priority: str | None = "Medium",
        created: datetime | None = None,
        updated: datetime | None = None,
        resolutiondate: datetime | None = None,
        fields: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        request: bool = True,
    ) -> str:
        """Add an issue (``OPS-1``, ``OPS-2``... unless `key` is given); return its key.

        Created and updated default to `now`. `request=False` makes it no JSM request.
        """
        with self._lock:
            if key is None:
                counter = self._numbers.setdefault(project, itertools.count(1))
                key = f"{project}-{next(counter)}"
                while key in self.issues:
                    key = f"{project}-{next(counter)}"
            created = created or self._now
            self.issues[key] = FakeIssue(
                key=key,
                id=str(next(self._ids)),
                project=project,
                summary=summary,
                status=status,
                priority=priority,
                created=created,
                updated=updated or max(created, self._now),
                resolutiondate=resolutiondate,
                fields=dict(fields or {}),
                overrides=dict(overrides or {}),
                slas=[] if request else None,
            )
            return key

    def update(self, key: str, **changes: Any) -> None:
        """Change attributes of an issue (`fields`/`overrides` merge); updated = now
        unless given. A new ``status`` is logged in the changelog, as Jira does."""
        with self._lock:
            issue = self.issues[key]
            before = issue.status
            for name, value in changes.items():
                if name in ("fields", "overrides"):
                    getattr(issue, name).update(value)
                elif hasattr(issue, name) and name not in ("key", "id", "changelog"):
                    setattr(issue, name, value)
                else:
                    raise AttributeError(f"FakeIssue has no settable attribute {name!r}")
            if "updated" not in changes:
                issue.updated = self._now
            if issue.status != before:
                self._log(issue, [status_item(before, issue.status)], issue.updated)

    def transition(self, key: str, status: str, *, at: datetime | None = None) -> None:
        """Move an issue to `status` at `at` (default now), logging the change; its
        updated time moves to `at` unless it is later already."""
        with self._lock:
            issue = self.issues[key]
            when = (at or self._now).astimezone(UTC)
            before, issue.status = issue.status, status
            issue.updated = max(issue.updated, when)
            self._log(issue, [status_item(before, status)], when)

    def reassign(
        self,
        key: str,
        field_id: str,
        to: Mapping[str, Any] | None,
        *,
        at: datetime | None = None,
    ) -> None:
        """Move an issue to another team (`team`; None: none) in the Team custom field
        `field_id` at `at` (default now), logging the change (`team_item`); its updated
        time moves to `at` unless it is later already."""
        with self._lock:
            issue = self.issues[key]
            when = (at or self._now).astimezone(UTC)
            before = issue.fields.get(field_id)
            issue.fields[field_id] = dict(to) if to else None
            issue.updated = max(issue.updated, when)
            self._log(issue, [team_item(field_id, before, to)], when)

    def add_history(
        self, key: str, items: Sequence[Mapping[str, Any]], *, at: datetime | None = None
    ) -> None:
        """Log a change of other fields (items as Jira writes them) without changing them."""
        with self._lock:
            self._log(self.issues[key], [dict(item) for item in items], at or self._now)

    def add_raw_history(self, key: str, history: Mapping[str, Any]) -> None:
        """Append a changelog history exactly as given (e.g. a malformed one)."""
        with self._lock:
            self.issues[key].changelog.append(dict(history))

    def _log(self, issue: FakeIssue, items: list[dict[str, Any]], at: datetime) -> None:
        issue.changelog.append(
            {
                "id": str(next(self._history_ids)),
                "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Agent"},
                "created": at.astimezone(UTC),
                "items": items,
            }
        )

    def delete(self, key: str) -> None:
        with self._lock:
            del self.issues[key]

    def set_sla(self, key: str, name: str, *cycles: SlaCycle, metric_id: str | None = None) -> None:
        """Give an issue (a JSM request) an SLA metric `name` with these cycles, replacing
        one of that name; the last cycle is ongoing if its `stop` is None."""
        with self._lock:
            issue = self.issues[key]
            slas = issue.slas if issue.slas is not None else []
            if any(c.stop is None for c in cycles[:-1]):
                raise ValueError("only the last cycle may be ongoing (stop=None)")
            metric_id = metric_id or str(len(slas) + 1)
            value: dict[str, Any] = {
                "id": metric_id,
                "name": name,
                "_links": {"self": f"/rest/servicedeskapi/request/{issue.id}/sla/{metric_id}"},
                "completedCycles": [_cycle(c, self.zone) for c in cycles if c.stop is not None],
            }
            if cycles and cycles[-1].stop is None:
                value["ongoingCycle"] = _cycle(cycles[-1], self.zone)
            issue.slas = [m for m in slas if m.get("name") != name] + [value]

    def set_raw_slas(self, key: str, values: list[Any] | None) -> None:
        """Replace an issue's SLA values with raw JSON (None: no JSM request)."""
        with self._lock:
            self.issues[key].slas = values

    # -- rate limit, faults, hooks ---------------------------------------------

    def set_rate_limit(self, limit: int | None, window_seconds: float = 60.0) -> None:
        """Allow `limit` requests per window of the fake clock (None: no limit)."""
        with self._lock:
            self._rate_limit = limit
            self._rate_window = timedelta(seconds=window_seconds)
            self._rate_started = None
            self._rate_count = 0

    def fail_next(
        self,
        status: int = 500,
        *,
        path: str | None = None,
        retry_after: float | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        times: int = 1,
        after_serving: bool = False,
    ) -> None:
        """Answer the next request(s) whose path starts with `path` with `status`.

        The default body is Jira's error envelope (an HTML page for 502/503/504, as a
        gateway sends); a 429 also carries the rate-limit headers. `after_serving`
        carries the request out first (a gateway timing out on a slow write that
        went through).
        """
        if body is None:
            raw, kind = _default_error(status)
        elif isinstance(body, bytes | str):
            raw, kind = (body.encode() if isinstance(body, str) else body), JSON_TYPE
        else:
            raw, kind = json.dumps(body).encode(), JSON_TYPE
        after = None if retry_after is None else str(math.ceil(retry_after))
        fault_kind: Literal["fail", "fail-after"] = "fail-after" if after_serving else "fail"
        self._queue(_Fault(fault_kind, path, times, status, raw, kind, after))

    def malformed_next(
        self, *, path: str | None = None, body: bytes | str | None = None, times: int = 1
    ) -> None:
        """Answer 200 with a body that is not JSON (by default the real answer cut in half)."""
        raw = body.encode() if isinstance(body, str) else body
        self._queue(_Fault("malformed", path, times, 200, raw))

    def on_request(self, callback: Callable[[RecordedRequest], None]) -> Callable[[], None]:
        """Call `callback` with each authenticated request before it is answered (in the
        server's thread); returns a function that removes it."""
        with self._lock:
            self._hooks.append(callback)

        def remove() -> None:
            with self._lock:
                self._hooks.remove(callback)

        return remove

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path)]

    def _queue(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- HTTP --------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Date": email.utils.format_datetime(self.now, usegmt=True)}
        headers.update(extra or {})
        return headers

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
        content = json.dumps(body, separators=(",", ":")).encode()
        return Response(content, status, self._headers(headers), media_type=JSON_TYPE)

    def _authenticated(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, token = decoded.partition(":")
        return user == self.email and token == self.api_token

    def _rate_check(self) -> tuple[dict[str, str], int | None]:
        """Rate-limit headers, and the Retry-After seconds when over the limit."""
        with self._lock:
            if self._rate_limit is None:
                return {}, None
            now = self._now
            if self._rate_started is None or now >= self._rate_started + self._rate_window:
                self._rate_started, self._rate_count = now, 0
            self._rate_count += 1
            remaining = max(0, self._rate_limit - self._rate_count)
            headers = {
                "X-RateLimit-Limit": str(self._rate_limit),
                "X-RateLimit-Remaining": str(remaining),
            }
            if remaining < 0.2 * self._rate_limit:
                headers["X-RateLimit-NearLimit"] = "true"
            if self._rate_count <= self._rate_limit:
                return headers, None
            wait = math.ceil((self._rate_started + self._rate_window - now).total_seconds())
            return headers, max(1, wait)

    def _rate_limited(self, headers: Mapping[str, str], wait: int) -> Response:
        reset = self.now + timedelta(seconds=wait)
        extra = {
            **headers,
            "Retry-After": str(wait),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
            "RateLimit-Reason": "jira-burst-based",
        }
        return self._json(429, jira_error("Rate limit exceeded."), extra)

    async def _handle(
        self, request: Request, serve: Callable[[Request, RecordedRequest], Response]
    ) -> Response:
        body: Any = None
        if request.method == "POST":
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        recorded = RecordedRequest(
            request.method, request.url.path, dict(request.query_params), body
        )
        with self._lock:
            self.requests.append(recorded)
        response = self._answer(request, recorded, serve)
        recorded.status = response.status_code
        return response

    def _answer(
        self,
        request: Request,
        recorded: RecordedRequest,
        serve: Callable[[Request, RecordedRequest], Response],
    ) -> Response:
        if not self._authenticated(request):
            return self._json(401, AUTH_ERROR)
        rate_headers, wait = self._rate_check()
        if wait is not None:
            return self._rate_limited(rate_headers, wait)
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook(recorded)
        fault = self._take_fault(recorded.path)
        if fault is not None and fault.kind == "fail":
            headers = dict(rate_headers)
            if fault.status == 429:
                headers.setdefault("X-RateLimit-Limit", "100")
                headers.setdefault("X-RateLimit-Remaining", "0")
                headers["RateLimit-Reason"] = "jira-burst-based"
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
                reset = self.now + timedelta(seconds=int(fault.retry_after))
                headers["X-RateLimit-Reset"] = reset.strftime("%Y-%m-%dT%H:%MZ")
            return Response(
                fault.body, fault.status, self._headers(headers), media_type=fault.content_type
            )
        response = serve(request, recorded)
        if fault is not None and fault.kind == "fail-after":
            return Response(
                fault.body, fault.status, self._headers(rate_headers), media_type=fault.content_type
            )
        if rate_headers:
            response.headers.update(rate_headers)
        if fault is not None and fault.kind == "malformed":
            cut = response.body[: len(response.body) // 2]
            return Response(
                fault.body if fault.body is not None else cut,
                200,
                self._headers(rate_headers),
                media_type=JSON_TYPE,
            )
        return response

    async def _myself(self, request: Request) -> Response:
        return await self._handle(request, self._serve_myself)

    async def _search(self, request: Request) -> Response:
        return await self._handle(request, self._serve_search)

    async def _sla(self, request: Request) -> Response:
        return await self._handle(request, self._serve_sla)

    def _serve_myself(self, request: Request, recorded: RecordedRequest) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        account = "5b10a2844c20165700ede21g"
        return self._json(
            200,
            {
                "self": f"{base}/rest/api/3/user?accountId={account}",
                "accountId": account,
                "accountType": "atlassian",
                "emailAddress": self.email,
                "displayName": "Hub Sync",
                "active": True,
                "timeZone": self.time_zone,
                "locale": "en_US",
                "expand": "groups,applicationRoles",
            },
        )

    def _search_params(self, recorded: RecordedRequest) -> dict[str, Any] | None:
        """The search's parameters from the body (POST) or the query (GET); None if the
        body is no object or has keys the endpoint does not know."""
        if recorded.method == "GET":
            params: dict[str, Any] = dict(recorded.params)
            if "fields" in params:
                params["fields"] = [f for f in params["fields"].split(",") if f]
            return params
        body = recorded.body
        if not isinstance(body, dict) or not set(body) <= SEARCH_KEYS:
            return None
        return body

    def _serve_search(self, request: Request, recorded: RecordedRequest) -> Response:
        params = self._search_params(recorded)
        if params is None:
            return self._json(400, PAYLOAD_ERROR)
        jql = params.get("jql") or ""
        requested = params.get("fields") or ["id"]
        if not isinstance(jql, str) or not isinstance(requested, list):
            return self._json(400, PAYLOAD_ERROR)
        size = _int(params.get("maxResults"), DEFAULT_MAX_RESULTS)
        if size is None:
            return self._json(400, PAYLOAD_ERROR)
        raw_expand = params.get("expand") or ""
        if not isinstance(raw_expand, str):
            return self._json(400, PAYLOAD_ERROR)  # a list, as most expands take, is refused
        expand = {part.strip() for part in raw_expand.split(",") if part.strip()}
        cap = MAX_ID_RESULTS if set(requested) <= {"id", "key"} else MAX_RESULTS
        size = max(1, min(size, cap))
        offset = 0
        token = params.get("nextPageToken")
        if token is not None:
            found = _read_token(str(token), jql) if token else None
            if found is None:
                return self._json(400, jira_error("The provided next page token is invalid."))
            offset = found
        with self._lock:
            try:
                parser = _JqlParser(jql, self.zone, self._now)
                where, order = parser.parse()
            except JqlError as exc:
                return self._json(400, jira_error(str(exc)))
            if where is None:
                return self._json(400, UNBOUNDED_ERROR)
            matching = _sorted(filter(where, self.issues.values()), order)
            page = matching[offset : offset + size]
            base = f"{request.url.scheme}://{request.url.netloc}"
            issues = [self._render(issue, requested, base, expand) for issue in page]
        result: dict[str, Any] = {"issues": issues}
        last = offset + size >= len(matching)
        if not last:
            result["nextPageToken"] = _page_token(offset + size, jql)
        elif self.last_page_token == "null":
            result["nextPageToken"] = None
        result["isLast"] = last
        return self._json(200, result)

    def _render(
        self, issue: FakeIssue, requested: Sequence[str], base: str, expand: set[str]
    ) -> dict[str, Any]:
        zone = self.zone
        system: dict[str, Any] = {
            "summary": issue.summary,
            "status": {
                "self": f"{base}/rest/api/3/status/1",
                "name": issue.status,
                "id": "1",
                "statusCategory": _status_category(issue.status in self.done_statuses),
            },
            "priority": None
            if issue.priority is None
            else {
                "self": f"{base}/rest/api/3/priority/3",
                "name": issue.priority,
                "id": "3",
            },
            "created": jira_time(issue.created, zone),
            "updated": jira_time(issue.updated, zone),
            "resolutiondate": None
            if issue.resolutiondate is None
            else jira_time(issue.resolutiondate, zone),
            "components": [],
        }
        everything = {**system, **issue.fields}
        wanted = (
            list(everything)
            if {"*all", "*navigable"} & set(requested)
            else [f for f in requested if f in everything]
        )
        fields = {name: everything[name] for name in wanted}
        for name, value in issue.overrides.items():
            if value is OMIT:
                fields.pop(name, None)
            elif name in wanted:
                fields[name] = value
        rendered: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": f"{base}/rest/api/3/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }
        if "changelog" in expand:
            recent = [self._history(h) for h in reversed(issue.changelog)]
            sent = recent[: self.changelog_limit]
            rendered["changelog"] = {
                "startAt": 0,
                "maxResults": len(sent),
                "total": len(recent),
                "histories": sent,
            }
        return rendered

    def _history(self, history: Mapping[str, Any]) -> dict[str, Any]:
        rendered = {name: copy.deepcopy(value) for name, value in history.items()}
        if isinstance(rendered.get("created"), datetime):
            rendered["created"] = jira_time(rendered["created"], self.zone)
        return rendered

    async def _bulkfetch(self, request: Request) -> Response:
        return await self._handle(request, self._serve_bulkfetch)

    def _serve_bulkfetch(self, request: Request, recorded: RecordedRequest) -> Response:
        body = recorded.body
        if not isinstance(body, dict) or not set(body) <= CHANGELOG_KEYS:
            return self._json(400, PAYLOAD_ERROR)
        wanted = body.get("issueIdsOrKeys")
        field_ids = body.get("fieldIds")
        if (
            not isinstance(wanted, list)
            or not wanted
            or len(wanted) > MAX_CHANGELOG_ISSUES
            or not all(isinstance(w, str) for w in wanted)
        ):
            return self._json(
                400, jira_error(f"Provide between 1 and {MAX_CHANGELOG_ISSUES} issue ids or keys.")
            )
        if field_ids is not None and (
            not isinstance(field_ids, list) or len(field_ids) > MAX_CHANGELOG_FIELDS
        ):
            return self._json(400, jira_error(f"Provide at most {MAX_CHANGELOG_FIELDS} field ids."))
        size = _int(body.get("maxResults"), self.changelog_page_size)
        if size is None or size < 1:
            return self._json(400, PAYLOAD_ERROR)
        size = min(size, self.changelog_page_size)
        signature = json.dumps([wanted, field_ids], sort_keys=True)
        offset = 0
        token = body.get("nextPageToken")
        if token is not None:
            found = _read_token(str(token), signature) if token else None
            if found is None:
                return self._json(400, jira_error("The provided next page token is invalid."))
            offset = found
        with self._lock:
            chosen: dict[str, FakeIssue] = {}
            for ref in wanted:
                issue = self.issues.get(ref) or next(
                    (i for i in self.issues.values() if i.id == ref), None
                )
                if issue is not None:
                    chosen[issue.id] = issue
            entries: list[tuple[datetime, int, int, str, dict[str, Any]]] = []
            for issue in chosen.values():
                for position, history in enumerate(issue.changelog):
                    rendered = self._history(history)
                    if field_ids is not None:
                        items = rendered.get("items") or []
                        kept = [
                            i
                            for i in items
                            if isinstance(i, dict) and i.get("fieldId") in field_ids
                        ]
                        if not kept:
                            continue
                        rendered["items"] = kept
                    when = history.get("created")
                    moment = when if isinstance(when, datetime) else DEFAULT_NOW
                    entries.append((moment, int(issue.id), position, issue.id, rendered))
        entries.sort(key=lambda entry: entry[:3])
        page = entries[offset : offset + size]
        logs: dict[str, list[dict[str, Any]]] = {}
        for _, _, _, issue_id, rendered in page:
            logs.setdefault(issue_id, []).append(rendered)
        more = offset + size < len(entries)
        return self._json(
            200,
            {
                "issueChangeLogs": [
                    {"issueId": issue_id, "changeHistories": histories}
                    for issue_id, histories in logs.items()
                ],
                "nextPageToken": _page_token(offset + size, signature) if more else None,
            },
        )

    # -- the hub's cases: JSM requests and transitions ---------------------------------

    def created_requests(self) -> list[FakeIssue]:
        """The requests raised through ``POST /rest/servicedeskapi/request``, in order."""
        with self._lock:
            return [i for i in self.issues.values() if "requestTypeId" in i.fields]

    async def _create_request(self, request: Request) -> Response:
        return await self._handle(request, self._serve_create_request)

    async def _transition(self, request: Request) -> Response:
        return await self._handle(request, self._serve_transition)

    def _serve_create_request(self, request: Request, recorded: RecordedRequest) -> Response:
        if not _is_json(request):
            return self._json(415, jsm_error("Unsupported media type.", "sd.media.unsupported"))
        body = recorded.body
        if not isinstance(body, dict):
            return self._json(400, jsm_error("Invalid request payload.", "sd.payload.invalid"))
        desk, kind = body.get("serviceDeskId"), body.get("requestTypeId")
        values = body.get("requestFieldValues")
        with self._lock:
            if not isinstance(desk, str) or desk not in self.service_desks:
                return self._json(
                    400,
                    jsm_error(
                        "The service desk does not exist or you do not have permission.",
                        "sd.servicedesk.not.found",
                    ),
                )
            if not isinstance(kind, str) or kind not in self.request_types.get(desk, set()):
                return self._json(
                    400,
                    jsm_error("The request type does not exist.", "sd.requesttype.not.found"),
                )
            if not isinstance(values, dict):
                return self._json(
                    400, jsm_error("requestFieldValues is required.", "sd.payload.invalid")
                )
            summary, labels = values.get("summary"), values.get("labels", [])
            problems: dict[str, str] = {}
            if not isinstance(summary, str) or not summary.strip():
                problems["summary"] = "You must specify a summary of the issue."
            elif len(summary) > 255:
                problems["summary"] = "Summary must be less than 255 characters."
            if not isinstance(labels, list) or not all(
                isinstance(x, str) and x and " " not in x for x in labels
            ):
                problems["labels"] = "Labels must be strings without spaces."
            description = values.get("description")
            if description is not None and not isinstance(description, str):
                problems["description"] = "Operation value must be a string"
            if problems:
                return self._json(400, jira_error(errors=problems))
            key = self.add_issue(
                project=self.service_desks[desk],
                summary=str(summary),
                status="Waiting for support",
                priority=None,
                fields={
                    "labels": list(labels),
                    "description": description,
                    "requestTypeId": kind,
                    "serviceDeskId": desk,
                },
            )
            issue = self.issues[key]
        base = f"{request.url.scheme}://{request.url.netloc}"
        return self._json(
            201,
            {
                "_expands": ["participant", "status", "sla", "requestType", "serviceDesk"],
                "issueId": issue.id,
                "issueKey": issue.key,
                "requestTypeId": kind,
                "serviceDeskId": desk,
                "createdDate": _date_dto(issue.created, self.zone),
                "currentStatus": {"status": issue.status, "statusCategory": "NEW"},
                "_links": {
                    "web": f"{base}/servicedesk/customer/portal/{desk}/{issue.key}",
                    "self": f"{base}/rest/servicedeskapi/request/{issue.id}",
                },
            },
        )

    def _serve_transition(self, request: Request, recorded: RecordedRequest) -> Response:
        if not _is_json(request):
            return self._json(415, jira_error("Unsupported media type."))
        wanted = request.path_params["issue"]
        body = recorded.body
        transition = body.get("transition") if isinstance(body, dict) else None
        transition_id = transition.get("id") if isinstance(transition, dict) else None
        if not isinstance(transition_id, str):
            return self._json(400, PAYLOAD_ERROR)
        with self._lock:
            issue = self.issues.get(wanted) or next(
                (i for i in self.issues.values() if i.id == wanted), None
            )
            if issue is None:
                return self._json(
                    404, jira_error("Issue does not exist or you do not have permission to see it.")
                )
            target = self.transitions.get(transition_id)
            if target is None or issue.status in self.done_statuses:
                return self._json(
                    400,
                    jira_error(f"Transition id '{transition_id}' is not valid for this issue."),
                )
            self.transition(issue.key, target)
            issue.resolutiondate = self._now
        return Response(status_code=204, headers=self._headers())

    def _serve_sla(self, request: Request, recorded: RecordedRequest) -> Response:
        wanted = request.path_params["issue"]
        start = _int(recorded.params.get("start"), 0)
        limit = _int(recorded.params.get("limit"), DEFAULT_SLA_LIMIT)
        if start is None or limit is None or start < 0 or limit < 1:
            return self._json(400, jsm_error("Invalid paging parameters.", "sd.paging.invalid"))
        with self._lock:
            issue = self.issues.get(wanted) or next(
                (i for i in self.issues.values() if i.id == wanted), None
            )
            values = None if issue is None else issue.slas
            if values is None:
                return self._json(
                    404,
                    jsm_error(
                        "The request could not be found, or you do not have permission to view it.",
                        "sd.request.not.found",
                    ),
                )
            page = list(values[start : start + limit])
        base = f"{request.url.scheme}://{request.url.netloc}"
        path = f"{base}{request.url.path}"
        last = start + limit >= len(values)
        links: dict[str, str] = {
            "base": f"{base}/rest/servicedeskapi",
            "context": "",
            "self": f"{path}?start={start}&limit={limit}",
        }
        if not last:
            links["next"] = f"{path}?start={start + limit}&limit={limit}"
        if start > 0:
            links["prev"] = f"{path}?start={max(0, start - limit)}&limit={limit}"
        return self._json(
            200,
            {
                "_expands": [],
                "size": len(page),
                "start": start,
                "limit": limit,
                "isLastPage": last,
                "_links": links,
                "values": page,
            },
        )


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


def _status_category(done: bool) -> dict[str, Any]:
    if done:
        return {"id": 3, "key": "done", "colorName": "green", "name": "Done"}
    return {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}


def _default_error(status: int) -> tuple[bytes, str]:
    if status in (502, 503, 504):
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        page = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
        return page.encode(), "text/html"
    body = {
        400: jira_error("Bad request (injected by FakeJira.fail_next)."),
        401: AUTH_ERROR,
        403: jira_error("You do not have permission to perform this operation."),
        404: jira_error("Not found (injected by FakeJira.fail_next)."),
        429: jira_error("Rate limit exceeded."),
    }.get(status, jira_error("Internal server error (injected by FakeJira.fail_next)."))
    return json.dumps(body, separators=(",", ":")).encode(), JSON_TYPE
