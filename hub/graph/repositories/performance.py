"""Vendor and team performance and violation trends, read through the scope checkpoint
(`hub.graph.cypher.performance`; the rules are `hub.domain.performance`).

Scope: a party's records are those of its agreements the reader may read
(`agreement_visible`): an OLA or UC is readable where one SLA it underpins is. Teams
and vendors are internal for customer tokens, so they get no parties at all. The rule
is judged on what the reader sees, so a scoped token's verdict never rests on an
agreement it may not read; the scheduled job (`hub.sync.performance`) reads unscoped.

Trends are aggregated in the graph (one statement: count and credit sum per bucket,
group and currency, on the remediation records of the violated periods; see
`hub.graph.cypher.performance`). Credit amounts are stored as decimal strings; the statement sums
them as floats, which is exact to well below a cent for any realistic number of
credits (a float carries 15-16 significant digits), and the sums are rounded half-even
to 4 places here, beyond every ISO 4217 minor unit, to drop the float noise. The stored
amounts stay decimal; only this report, shown as a GraphQL Float anyway, adds in
binary. A sum never mixes currencies: see `TrendPoint`.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.models import WindowKind
from hub.domain.performance import (
    HORIZON_MONTHS,
    Miss,
    ObjectiveTerms,
    PartyPerformance,
    PerformanceRule,
    VersionTerms,
    party_performance,
    period_records,
)
from hub.domain.terms_in_force import version_end
from hub.graph.client import Graph
from hub.graph.cypher import Cypher
from hub.graph.cypher import audit as audit_q
from hub.graph.cypher import performance as q
from hub.graph.ids import Clock, from_iso, system_clock, to_iso
from hub.graph.repositories.audit import HEAD_KEY
from hub.graph.repositories.violations import OPEN_RECORD
from hub.settings import RemediationSettings

__all__ = [
    "AgreementRef",
    "PartyKind",
    "PartyReport",
    "PerformanceRepository",
    "TrendGroup",
    "TrendInterval",
    "TrendPoint",
    "rule_of",
]


class PartyKind(enum.StrEnum):
    VENDOR = "VENDOR"
    TEAM = "TEAM"


class TrendGroup(enum.StrEnum):
    SERVICE = "SERVICE"
    AGREEMENT = "AGREEMENT"
    KIND = "KIND"
    SEVERITY = "SEVERITY"
    BUSINESS_UNIT = "BUSINESS_UNIT"
    REGION = "REGION"
    VENDOR = "VENDOR"
    TEAM = "TEAM"


class TrendInterval(enum.StrEnum):
    WEEK = "WEEK"
    MONTH = "MONTH"
    QUARTER = "QUARTER"


_TRENDS: Mapping[TrendGroup, Cypher] = {
    TrendGroup.SERVICE: q.TRENDS_BY_SERVICE,
    TrendGroup.AGREEMENT: q.TRENDS_BY_AGREEMENT,
    TrendGroup.KIND: q.TRENDS_BY_KIND,
    TrendGroup.SEVERITY: q.TRENDS_BY_SEVERITY,
    TrendGroup.BUSINESS_UNIT: q.TRENDS_BY_BUSINESS_UNIT,
    TrendGroup.REGION: q.TRENDS_BY_REGION,
    TrendGroup.VENDOR: q.TRENDS_BY_VENDOR,
    TrendGroup.TEAM: q.TRENDS_BY_TEAM,
}

_PARTIES: Mapping[PartyKind, tuple[Cypher, Cypher]] = {
    PartyKind.VENDOR: (q.VENDORS, q.VENDOR_AGREEMENTS),
    PartyKind.TEAM: (q.TEAMS, q.TEAM_AGREEMENTS),
}

_OPEN_PREFIX = OPEN_RECORD + "|"

# Trends answered before, by question and scope, with the audit sequence they were
# computed at (see `PerformanceRepository.trends`). Per process; bounded in size and age.
_TREND_CACHE_SIZE = 128
_TREND_CACHE_SECONDS = 60.0
_TrendKey = tuple[str, str, str, str, tuple[str, ...] | None, tuple[str, ...] | None]
_trend_cache: OrderedDict[_TrendKey, tuple[int, float, tuple[TrendPoint, ...]]] = OrderedDict()


def rule_of(policy: RemediationSettings) -> PerformanceRule:
    """The rule as `[remediation.performance]` sets it."""
    performance = policy.performance
    return PerformanceRule(
        consecutive_periods=performance.consecutive_periods,
        of_last_periods=performance.of_last_periods,
        last_periods=performance.last_periods,
    )


_AMOUNT_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class AgreementRef:
    """A version of a party's agreement as the rule's action needs it."""

    id: str
    lineage: str
    name: str
    version: int
    required_groups: tuple[str, ...]
    approvals: tuple[str, ...]
    business_units: tuple[str, ...]

    @property
    def approvers(self) -> str:
        """Who owns its REMEDIATION action: its approval board's groups, else those
        who approved it, else the approvers at large."""
        if self.required_groups:
            return ", ".join(self.required_groups)
        if self.approvals:
            return ", ".join(dict.fromkeys(self.approvals))
        return "approvers"


@dataclass(frozen=True, slots=True)
class PartyReport:
    """One vendor or team, its performance, and its agreement versions by id."""

    kind: PartyKind
    id: str
    name: str
    performance: PartyPerformance
    agreements: Mapping[str, AgreementRef]

    def latest_of(self, lineage: str) -> AgreementRef:
        """The latest approved version of `lineage` read (the one the rule's action
        goes on)."""
        return max(
            (a for a in self.agreements.values() if a.lineage == lineage), key=lambda a: a.version
        )


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Violations whose period starts in the bucket starting `period_start`, of one
    group: how many, and the sum of their credits (waived and void ones left out) in
    `currency`. A (bucket, group) whose credits are all in one currency (or that has
    none: `currency` null, amount 0) is one point; one whose credits mix currencies is
    one point per currency, plus one with `currency` null for its violations without
    a credit, so that no sum ever adds two currencies. The `violations` of the points
    of a (bucket, group) add up to its violations."""

    period_start: datetime
    group: str
    violations: int
    credit_amount: Decimal
    currency: str | None


def _time(value: Any) -> datetime | None:
    return from_iso(value) if isinstance(value, str) else None


def _version_terms(row: Mapping[str, Any]) -> VersionTerms | None:
    start = _time(row["effectiveFrom"])
    if start is None:
        return None
    objectives = tuple(
        ObjectiveTerms(str(o["id"]), WindowKind(o["windowKind"]), float(o["target"]))
        for o in row["objectives"]
        if o.get("id") is not None and o.get("target") is not None
    )
    return VersionTerms(
        agreement_id=row["agreementId"],
        lineage=row["lineage"],
        effective_from=start,
        end=version_end(_time(row["effectiveTo"]), _time(row["sunsetAt"])),
        objectives=objectives,
    )


def _misses(row: Mapping[str, Any]) -> list[Miss]:
    voided = set(row["voided"])
    found = []
    for v in row["misses"]:
        key = f"{row['agreementId']}|{v['objectiveId']}|{v['periodStart']}"
        if key in voided:
            continue
        found.append(
            Miss(
                agreement_id=row["agreementId"],
                objective_id=v["objectiveId"],
                period_start=datetime.fromisoformat(v["periodStart"]),
                measured=float(v["measured"]),
                target=float(v["target"]),
            )
        )
    return found


class PerformanceRepository:
    """Vendor and team performance, and violation trends, through `scope`."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    async def parties(
        self,
        kind: PartyKind,
        party_id: str | None,
        periods: int,
        rule: PerformanceRule,
    ) -> list[PartyReport]:
        """Each vendor (or team), or the one named, with its performance over its last
        `periods` periods: none for a customer token, nor for an unknown id."""
        if not self._scope.internal:
            return []
        now = self._clock().astimezone(UTC)
        since = now - timedelta(days=31 * HORIZON_MONTHS)
        ids = None if party_id is None else [party_id]
        parties_statement, agreements_statement = _PARTIES[kind]
        parties = await self._graph.read(parties_statement, partyIds=ids)
        if not parties:
            return []
        rows = await self._graph.read(
            agreements_statement,
            partyIds=ids,
            now=to_iso(now),
            since=to_iso(since),
            openRecord=_OPEN_PREFIX,
            **self._scope.params(),
        )
        by_party: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for found in rows:
            by_party[found["partyId"]].append(found)
        reports = []
        for party in parties:
            versions: list[VersionTerms] = []
            misses: list[Miss] = []
            refs: dict[str, AgreementRef] = {}
            for row in by_party.get(party["id"], []):
                terms = _version_terms(row)
                if terms is None:
                    continue
                versions.append(terms)
                misses += _misses(row)
                refs[row["agreementId"]] = AgreementRef(
                    id=row["agreementId"],
                    lineage=row["lineage"],
                    name=row["name"],
                    version=int(row["version"] or 1),
                    required_groups=tuple(row["requiredGroups"]),
                    approvals=tuple(str(a) for a in row["approvals"]),
                    business_units=tuple(sorted({u for u in row["units"] if u})),
                )
            records = period_records(versions, misses, now)
            reports.append(
                PartyReport(
                    kind=kind,
                    id=party["id"],
                    name=party["name"],
                    performance=party_performance(records, periods, rule),
                    agreements=refs,
                )
            )
        return reports

    async def trends(
        self, group: TrendGroup, interval: TrendInterval, start: datetime, end: datetime
    ) -> list[TrendPoint]:
        """Violations (current revisions) whose period starts in [start, end), counted
        and their credits summed per bucket of `interval` and value of `group`.

        The same question in the same staff scope is answered from this process's
        cache while the audit trail's head has not moved and for at most a minute:
        every change to violations, remediation records, credits and agreements is
        audited in the transaction that makes it, so an unmoved head means none of
        them changed; the minute bounds what is not audited (a sync renaming a
        service, or moving a customer to another unit). Customer scopes depend on the
        time (what is in force) and are never cached."""
        scope = self._scope
        key: _TrendKey | None = None
        if scope.internal:
            key = (
                str(group),
                str(interval),
                to_iso(start),
                to_iso(end),
                None if scope.units is None else tuple(sorted(scope.units)),
                None if scope.regions is None else tuple(sorted(scope.regions)),
            )
        head = await self._graph.read(audit_q.READ_AUDIT_HEAD, key=HEAD_KEY)
        sequence = int(head[0]["sequence"]) if head else 0
        if key is not None and (cached := _trend_cache.get(key)) is not None:
            at_sequence, at_time, points = cached
            if at_sequence == sequence and time.monotonic() - at_time < _TREND_CACHE_SECONDS:
                _trend_cache.move_to_end(key)
                return list(points)
        found = await self._aggregate(group, interval, start, end)
        if key is not None:
            _trend_cache[key] = (sequence, time.monotonic(), tuple(found))
            while len(_trend_cache) > _TREND_CACHE_SIZE:
                _trend_cache.popitem(last=False)
        return found

    async def _aggregate(
        self, group: TrendGroup, interval: TrendInterval, start: datetime, end: datetime
    ) -> list[TrendPoint]:
        rows = await self._graph.read(
            _TRENDS[group],
            interval=str(interval),
            **{"from": to_iso(start), "to": to_iso(end)},
            **self._scope.params(),
        )
        cells: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
        for cell in rows:
            cells[(cell["bucket"], cell["group"])].append(cell)
        points: list[TrendPoint] = []
        for (bucket, name), found in sorted(cells.items()):
            moment = datetime.fromisoformat(bucket).replace(tzinfo=UTC)
            # Exact: integer minor units of each currency, scaled to its digits.
            sums: dict[str | None, tuple[int, Decimal]] = {}
            for row in found:
                count, amount = sums.get(row["currency"], (0, Decimal(0)))
                minor = Decimal(int(row["amount"] or 0)).scaleb(-int(row["digits"] or 0))
                sums[row["currency"]] = (count + int(row["violations"]), amount + minor)
            currencies = [c for c in sums if c is not None]
            if len(currencies) <= 1:
                counted = sum(count for count, _ in sums.values())
                total = sum((amount for _, amount in sums.values()), Decimal(0))
                sums = {next(iter(currencies), None): (counted, total)}
            for currency, (count, amount) in sums.items():
                points.append(
                    TrendPoint(
                        moment,
                        str(name),
                        count,
                        amount.quantize(_AMOUNT_PLACES, rounding=ROUND_HALF_EVEN),
                        currency,
                    )
                )
        return points
