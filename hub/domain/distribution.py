"""Distribution lists, as pure values: who gets which report, when, over what channel.

A list names a report template, a scope (business units and regions; empty means all
of them), a schedule (a five-field cron expression read in the list's IANA time zone),
a channel (EMAIL, WEBHOOK or PORTAL) and recipients, each by role or by address.

- **Schedule**: `CronTrigger.from_crontab(expr, timezone=ZoneInfo(tz))` (APScheduler
  3.x), so ``0 7 1 * *`` in ``Europe/Berlin`` is 07:00 Berlin time on the first of every
  month, summer time or not. `fire_times_between` and `latest_fire` say when it fires.
- **Period**: a run covers the last whole calendar month before its scheduled instant,
  in the list's time zone (`report_period`): the run of 1 December 07:00 Berlin time
  reports [1 November 00:00, 1 December 00:00) Berlin time.
- **Recipients**: an *address* is an email address (EMAIL), the name of a configured
  webhook (WEBHOOK, ``[webhooks.<name>]``: the URL and secret stay in the settings) or
  a token's user name (PORTAL). A *role* names the notification list of that name
  (``[notifications.lists.<role>]``): its emails for EMAIL, its webhooks for WEBHOOK; for
  PORTAL it is a token role (viewer, editor, ...), shown the delivery in the portal.
- **Scope**: a list's units and regions must lie within the token that creates it
  (`within_scope`); it is read by tokens whose scope holds all of them (`visible_to`).

Nothing here does I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from hub.domain.access import Scope
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.notifications import is_email_address

STANDARD_TEMPLATES = ("operations", "business-unit", "customer", "executive")
"""The report templates the hub ships (issue 11): one per audience."""

OPERATIONS_TEMPLATE = "operations"
"""Lists of this template hear of report anomalies (`hub.domain.anomalies`)."""

PORTAL_ROLES = frozenset({"viewer", "editor", "approver", "admin", "customer"})
_NAME_LIMIT = 200
_MAX_RECIPIENTS = 100
_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
# Searching back for the latest fire time starts with this span and widens it fourfold.
_FIRST_SPAN = timedelta(hours=1)


class DistributionChannel(enum.StrEnum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"
    PORTAL = "PORTAL"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient: a `role` or an `address` (exactly one of them)."""

    role: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class DistributionSpec:
    """A distribution list as asked for (`createDistributionList`'s input)."""

    name: str
    template: str
    schedule: str
    time_zone: str
    channel: DistributionChannel
    recipients: tuple[Recipient, ...]
    business_units: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DistributionList(DistributionSpec):
    """A distribution list as stored."""

    id: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    created_by: str = ""
    last_run_at: datetime | None = None

    @property
    def since(self) -> datetime:
        """Runs are due after this instant: the last run's, else the list's creation."""
        return self.last_run_at or self.created_at


@dataclass(frozen=True, slots=True)
class Targets:
    """Where one run of a list goes: addresses and webhook names, or portal readers."""

    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    portal: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.emails or self.webhooks or self.portal)


# ---- schedules ------------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError naming it when there is none such."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from exc


def trigger(schedule: str, time_zone: str) -> CronTrigger:
    """The cron trigger of `schedule` in `time_zone`; ValueError saying what is wrong."""
    tz = zone(time_zone)
    try:
        return CronTrigger.from_crontab(schedule, timezone=tz)
    except ValueError as exc:
        raise ValueError(
            f"{exc}; give five fields: minute hour day-of-month month day-of-week"
        ) from exc


def next_fire(schedule: str, time_zone: str, after: datetime) -> datetime | None:
    """The first time the schedule fires strictly after `after` (UTC), or None."""
    found = trigger(schedule, time_zone).get_next_fire_time(None, _just_after(after))
    return None if found is None else found.astimezone(UTC)


def fire_times_between(
    schedule: str, time_zone: str, start: datetime, end: datetime
) -> Iterator[datetime]:
    """The times the schedule fires in (start, end], oldest first, in UTC."""
    cron = trigger(schedule, time_zone)
    moment = start
    while True:
        found = cron.get_next_fire_time(None, _just_after(moment))
        if found is None or found > end:
            return
        moment = found.astimezone(UTC)
        yield moment


def latest_fire(schedule: str, time_zone: str, since: datetime, now: datetime) -> datetime | None:
    """The latest time in (since, now] the schedule fires, or None: the one run that is
    due at `now` (missed runs are folded into it, as the scheduler's ``coalesce``)."""
    span = _FIRST_SPAN
    while True:
        start = max(since, now - span)
        last = None
        for last in fire_times_between(schedule, time_zone, start, now):  # noqa: B007
            pass
        if last is not None or start == since:
            return last
        span *= 4


def _just_after(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return moment.astimezone(UTC) + timedelta(microseconds=1)


def report_period(scheduled: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The report period a run scheduled at `scheduled` covers: the last whole calendar
    month before it in `time_zone`, as UTC instants [from, to)."""
    tz = zone(time_zone)
    local = scheduled.astimezone(tz)
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    # Midnight is rebuilt in the zone, so a month that starts in another UTC offset
    # than it ends (summer time) gets its own.
    start = datetime(start.year, start.month, 1, tzinfo=tz)
    end = datetime(end.year, end.month, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def run_key(list_id: str, scheduled: datetime) -> str:
    """The key of one scheduled run of a list: a run is made once per key."""
    return f"{list_id}|{scheduled.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


# ---- checking a list ------------------------------------------------------------------


def problems(
    spec: DistributionSpec,
    *,
    templates: Collection[str] = STANDARD_TEMPLATES,
    lists: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
    webhooks: Collection[str] | None = None,
) -> list[FieldProblem]:
    """Every problem with `spec`, at once. `lists` (name -> (emails, webhooks)) and
    `webhooks` (names) are the configured ones; None skips the checks that need them."""
    found: list[FieldProblem] = []
    if not spec.name.strip():
        found.append(FieldProblem("name", "give the list a name"))
    elif len(spec.name) > _NAME_LIMIT:
        found.append(FieldProblem("name", f"at most {_NAME_LIMIT} characters"))
    if spec.template not in templates:
        found.append(
            FieldProblem(
                "template",
                f"unknown template {spec.template[:100]!r}; one of {', '.join(templates)}",
            )
        )
    try:
        zone(spec.time_zone)
    except ValueError as exc:
        found.append(FieldProblem("timeZone", str(exc)))
    else:
        try:
            trigger(spec.schedule, spec.time_zone)
        except ValueError as exc:
            found.append(FieldProblem("schedule", str(exc)))
    for name, values in (("businessUnits", spec.business_units), ("regions", spec.regions)):
        if any(not v.strip() for v in values):
            found.append(FieldProblem(name, "empty names are not allowed"))
    if not spec.recipients:
        found.append(FieldProblem("recipients", "name at least one recipient"))
    if len(spec.recipients) > _MAX_RECIPIENTS:
        found.append(FieldProblem("recipients", f"at most {_MAX_RECIPIENTS}"))
    for index, recipient in enumerate(spec.recipients):
        found += _recipient_problems(
            f"recipients[{index}]", spec.channel, recipient, lists, webhooks
        )
    return found


def _recipient_problems(
    where: str,
    channel: DistributionChannel,
    recipient: Recipient,
    lists: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None,
    webhooks: Collection[str] | None,
) -> list[FieldProblem]:
    role, address = recipient.role, recipient.address
    if (role is None) == (address is None):
        return [FieldProblem(where, "give either a role or an address")]
    if role is not None:
        if not _ROLE.match(role):
            return [FieldProblem(f"{where}.role", "lower-case letters, digits, - and _")]
        if channel is DistributionChannel.PORTAL:
            if role not in PORTAL_ROLES:
                return [
                    FieldProblem(
                        f"{where}.role",
                        f"a portal recipient's role is one of {', '.join(sorted(PORTAL_ROLES))}",
                    )
                ]
        elif lists is not None and role not in lists:
            known = ", ".join(sorted(lists)) or "none is configured"
            return [
                FieldProblem(
                    f"{where}.role",
                    f"no notification list named {role!r} ({known}); add "
                    f"[notifications.lists.{role}] to the settings",
                )
            ]
        return []
    assert address is not None
    if channel is DistributionChannel.EMAIL and not is_email_address(address):
        return [FieldProblem(f"{where}.address", "not an email address")]
    if channel is DistributionChannel.WEBHOOK and webhooks is not None and address not in webhooks:
        return [
            FieldProblem(
                f"{where}.address",
                f"no webhook named {address[:100]!r}; name one configured under [webhooks]",
            )
        ]
    if not address.strip():
        return [FieldProblem(f"{where}.address", "empty")]
    return []


def check(
    spec: DistributionSpec,
    *,
    templates: Collection[str] = STANDARD_TEMPLATES,
    lists: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
    webhooks: Collection[str] | None = None,
) -> None:
    """Raise `InvalidInputError` with every problem of `spec`, if it has any."""
    found = problems(spec, templates=templates, lists=lists, webhooks=webhooks)
    if found:
        raise InvalidInputError(found)


def targets(
    channel: DistributionChannel,
    recipients: Sequence[Recipient],
    lists: Mapping[str, tuple[Sequence[str], Sequence[str]]],
) -> Targets:
    """Where a run goes: roles resolved through `lists` (name -> (emails, webhooks));
    a role whose list is gone since the list was made resolves to nobody."""
    emails: list[str] = []
    hooks: list[str] = []
    portal: list[str] = []
    for recipient in recipients:
        if recipient.role is not None:
            if channel is DistributionChannel.PORTAL:
                portal.append(f"role:{recipient.role}")
                continue
            list_emails, list_hooks = lists.get(recipient.role, ((), ()))
            if channel is DistributionChannel.EMAIL:
                emails += list_emails
            else:
                hooks += list_hooks
        elif recipient.address is not None:
            match channel:
                case DistributionChannel.EMAIL:
                    emails.append(recipient.address)
                case DistributionChannel.WEBHOOK:
                    hooks.append(recipient.address)
                case DistributionChannel.PORTAL:
                    portal.append(f"user:{recipient.address}")
    return Targets(
        tuple(dict.fromkeys(emails)), tuple(dict.fromkeys(hooks)), tuple(dict.fromkeys(portal))
    )


# ---- scope ----------------------------------------------------------------------------


def within_scope(scope: Scope, units: Collection[str], regions: Collection[str]) -> bool:
    """Whether a token of `scope` may make or remove a list of these units and regions:
    each lies within the token's (an empty set means all, so only for a token not
    limited by units, or regions). Customer tokens never may."""
    if scope.customer_id is not None:
        return False
    return _covered(scope.units, units) and _covered(scope.regions, regions)


def visible_to(scope: Scope, units: Collection[str], regions: Collection[str]) -> bool:
    """Whether a token of `scope` reads a list: the same rule as `within_scope`."""
    return within_scope(scope, units, regions)


def _covered(allowed: frozenset[str] | None, asked: Collection[str]) -> bool:
    if allowed is None:
        return True
    return bool(asked) and set(asked) <= allowed
