"""Violations in record time: each assessment's verdicts stored as revisions, never
overwritten or deleted, and read as of now or as the hub knew them at an instant.

A `Violation` node is one *revision*: the verdict on one period of one objective as an
assessment recorded it (`recordedAt`). When a later assessment finds other figures for
the period, or finds it met, the revision is closed (`supersededAt` = that
assessment's record time) and, if the period is still breached, a new revision is
written. Ids name revisions, so `node(id)` of a revised violation still answers with
what it said then; the period is `(objectiveId, periodStart)`.

    recordedAt <= knownAt < coalesce(supersededAt, +inf)

is the revision current at `knownAt`. An assessment that finds the figures it already
holds writes nothing, so assessing again (or a retried transaction) adds no revision.
Each new revision and each clearing is audited in the transaction that writes it, as
actor `system:assessment`, in one batch per assessment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.breaches import Breach, Severity
from hub.domain.windows import Window
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import service_levels as q
from hub.graph.errors import GraphError
from hub.graph.ids import Clock, from_iso, new_id, system_clock, to_iso, utc_now
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.remediation import RevisionChange, on_revisions, remediation_key
from hub.settings import RemediationSettings

log = logging.getLogger(__name__)

ACTOR = "system:assessment"

OPEN_RECORD = "9999-12-31T23:59:59.999999Z"
"""The record end of a current revision in `recordKey`: after every real time, in the
stored form of times (`to_iso`), so that record keys sort by the end of their record."""

# Figures that differ by less than this (percentage points) are the same figures: the
# same buckets always give the same float, this only keeps noise from making revisions.
_MEASURED_TOLERANCE = 1e-9
# How often an assessment re-reads periods that another assessment revised meanwhile.
_ATTEMPTS = 5


def record_key(end: str, agreement_id: str, objective_id: str, period_start: str) -> str:
    """`<recordEnd>|<agreementId>|<objectiveId>|<periodStart>` (see `hub.graph.cypher.
    service_levels`): `end` is `supersededAt`, or `OPEN_RECORD` while current."""
    return f"{end}|{agreement_id}|{objective_id}|{period_start}"


@dataclass(frozen=True, slots=True)
class Violation:
    """One revision of the verdict on a breached period."""

    id: str
    agreement_id: str
    objective_id: str
    period_start: datetime
    period_end: datetime
    measured: float
    target: float
    severity: Severity
    credit_percent: float | None
    agreement_version: int
    recorded_at: datetime
    superseded_at: datetime | None
    # The part of the period its version judged (docs/service-levels.md, "Judged by
    # the terms in force"): the whole period unless a new version took over during it.
    part_start: datetime
    part_end: datetime

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> Violation:
        return cls(
            id=props["id"],
            agreement_id=props["agreementId"],
            objective_id=props["objectiveId"],
            period_start=datetime.fromisoformat(props["periodStart"]),
            period_end=datetime.fromisoformat(props["periodEnd"]),
            measured=float(props["measured"]),
            target=float(props["target"]),
            severity=Severity(props["severity"]),
            credit_percent=props.get("creditPercent"),
            agreement_version=int(props["agreementVersion"]),
            recorded_at=datetime.fromisoformat(props["recordedAt"]),
            superseded_at=from_iso(props.get("supersededAt")),
            part_start=datetime.fromisoformat(props.get("partStart") or props["periodStart"]),
            part_end=datetime.fromisoformat(props.get("partEnd") or props["periodEnd"]),
        )


@dataclass(frozen=True, slots=True)
class PeriodVerdict:
    """What one assessment found for one period of one objective: a breach, or None
    when the period met its target. `part` is the part of the period that the
    objective's agreement version judged, when it was not in force for all of it."""

    agreement_id: str
    objective_id: str
    period: Window
    agreement_version: int
    breach: Breach | None
    part: Window | None = None
    agreement_kind: str = "SLA"
    # What the verdict was drawn from (hub.domain.evidence), frozen with a new revision.
    evidence: Mapping[str, Any] | None = None

    @property
    def open_key(self) -> str:
        """The record key of the period's current revision, if it has one."""
        return self.record_key(OPEN_RECORD)

    def record_key(self, end: str) -> str:
        """The record key of a revision of this period whose record ends at `end`."""
        return record_key(end, self.agreement_id, self.objective_id, to_iso(self.period.start))

    def figures(self) -> dict[str, Any] | None:
        """The stored properties that make up the verdict; None for a met period."""
        breach = self.breach
        if breach is None:
            return None
        figures = {
            "agreementId": self.agreement_id,
            "objectiveId": self.objective_id,
            "periodStart": to_iso(self.period.start),
            "periodEnd": to_iso(self.period.end),
            "measured": breach.measured,
            "target": breach.target,
            "severity": str(breach.severity),
            "creditPercent": breach.credit_percent,
            "agreementVersion": self.agreement_version,
        }
        # Stored only for a part: revisions of whole periods keep the figures they had.
        if self.part is not None and self.part != self.period:
            figures["partStart"] = to_iso(self.part.start)
            figures["partEnd"] = to_iso(self.part.end)
        return {k: v for k, v in figures.items() if v is not None}


@dataclass(frozen=True, slots=True)
class ViolationFilter:
    agreement_id: str | None = None
    severities: Sequence[Severity] | None = None
    start: datetime | None = None  # periods ending after
    end: datetime | None = None  # periods starting before


@dataclass(frozen=True, slots=True)
class Revisions:
    """What one assessment changed: new violations, revised ones, cleared ones."""

    recorded: int = 0
    revised: int = 0
    cleared: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.recorded or self.revised or self.cleared)


@dataclass(slots=True)
class _Plan:
    closing: list[dict[str, str]]
    opening: list[dict[str, Any]]
    audits: list[AuditEntry]
    revisions: Revisions
    changes: list[RevisionChange]


def _change(
    verdict: PeriodVerdict,
    violation_id: str | None,
    figures: Mapping[str, Any] | None,
    before: Mapping[str, Any] | None,
) -> RevisionChange:
    return RevisionChange(
        key=remediation_key(
            verdict.agreement_id, verdict.objective_id, to_iso(verdict.period.start)
        ),
        agreement_id=verdict.agreement_id,
        objective_id=verdict.objective_id,
        agreement_kind=verdict.agreement_kind,
        period_start=verdict.period.start,
        period_end=verdict.period.end,
        violation_id=violation_id,
        figures=figures,
        previous=before,
        evidence=None if figures is None else verdict.evidence,
    )


class _Moved(Exception):
    """Another assessment closed revisions after this one read them: read again."""


_FIGURE_KEYS = (
    "agreementId",
    "objectiveId",
    "periodStart",
    "periodEnd",
    "measured",
    "target",
    "severity",
    "creditPercent",
    "agreementVersion",
    "partStart",
    "partEnd",
)


def _same(stored: Mapping[str, Any], figures: Mapping[str, Any]) -> bool:
    """Whether a stored revision already says what `figures` say."""
    for key in _FIGURE_KEYS:
        old, new = stored.get(key), figures.get(key)
        if key == "measured" and old is not None and new is not None:
            if not math.isclose(old, new, rel_tol=0, abs_tol=_MEASURED_TOLERANCE):
                return False
        elif old != new:
            return False
    return True


def _audited(props: Mapping[str, Any]) -> dict[str, Any]:
    """A revision's values as the audit trail records them."""
    return {k: props[k] for k in (*_FIGURE_KEYS, "id", "recordedAt") if k in props}


def _plan(
    verdicts: Sequence[PeriodVerdict], current: Mapping[str, dict[str, Any]], now: str, reason: str
) -> _Plan:
    """What to write for `verdicts`, given the current revisions of their periods (by
    open record key) and this assessment's record time `now`."""
    closing: list[dict[str, str]] = []
    opening: list[dict[str, Any]] = []
    audits: list[AuditEntry] = []
    changes: list[RevisionChange] = []
    recorded = revised = cleared = 0
    for verdict in verdicts:
        before = current.get(verdict.open_key)
        figures = verdict.figures()
        if before is not None and figures is not None and _same(before, figures):
            continue  # the same verdict: nothing to record
        if before is not None:
            closing.append({"recordKey": verdict.open_key, "closedKey": verdict.record_key(now)})
        if figures is None:
            if before is not None:
                cleared += 1
                changes.append(_change(verdict, None, None, before))
                audits.append(
                    AuditEntry.of(
                        ACTOR,
                        "violation.clear",
                        before["id"],
                        reason=f"{reason}: the period met its target",
                        before=_audited(before),
                    )
                )
            continue
        props = {
            **figures,
            "id": new_id("Violation"),
            "key": f"{verdict.objective_id}|{figures['periodStart']}|{now}",
            "recordKey": verdict.open_key,
            "recordedAt": now,
        }
        opening.append(
            {
                "agreementId": verdict.agreement_id,
                "objectiveId": verdict.objective_id,
                "props": props,
            }
        )
        changes.append(_change(verdict, props["id"], props, before))
        if before is None:
            recorded += 1
        else:
            revised += 1
        audits.append(
            AuditEntry.of(
                ACTOR,
                "violation.record" if before is None else "violation.revise",
                props["id"],
                reason=f"{reason}: {'breached' if before is None else 'new figures'}",
                before=None if before is None else _audited(before),
                after=_audited(props),
            )
        )
    return _Plan(closing, opening, audits, Revisions(recorded, revised, cleared), changes)


def _record_time(current: Mapping[str, dict[str, Any]], clock: Clock) -> str:
    """Server time for this run's revisions, always after those it closes, even when
    the clocks of several hub processes disagree (keys stay unique, intervals ordered)."""
    now = to_iso(clock())
    latest = max((str(v["recordedAt"]) for v in current.values()), default="")
    if now > latest:
        return now
    return to_iso(datetime.fromisoformat(latest) + timedelta(microseconds=1))


class ViolationRepository:
    """Violation revisions. Reads pass `scope` (the access checkpoint: a violation is
    readable with its agreement); assessment writes are the system's."""

    def __init__(
        self,
        graph: Graph,
        scope: Scope = UNLIMITED,
        clock: Clock = system_clock,
        policy: RemediationSettings | None = None,
    ) -> None:
        # `clock` is the record time of writes: the server's, or the instant the demo
        # records its history at. `policy` sets the remediation deadlines of new ones.
        self._graph = graph
        self._scope = scope
        self._clock = clock
        self._policy = policy

    # ---- writes ---------------------------------------------------------------

    async def record(self, verdicts: Sequence[PeriodVerdict], reason: str) -> Revisions:
        """Store one assessment's verdicts: close the current revision of each period
        whose verdict changed, write a revision for each one still (or newly) breached,
        and audit each, all in one transaction. `reason` says which assessment it was.
        """
        if not verdicts:
            return Revisions()
        keys = [verdict.open_key for verdict in verdicts]

        async def work(tx: Transaction) -> Revisions:
            rows = await tx.run(q.CURRENT_VIOLATIONS, recordKeys=keys)
            current = {row["violation"]["recordKey"]: row["violation"] for row in rows}
            now = _record_time(current, self._clock)
            plan = _plan(verdicts, current, now, reason)
            if plan.closing:
                closed = await tx.run(q.SUPERSEDE_VIOLATIONS, rows=plan.closing, now=now)
                if (closed[0]["superseded"] if closed else 0) != len(plan.closing):
                    raise _Moved
            if plan.opening:
                await tx.run(q.RECORD_VIOLATIONS, rows=plan.opening)
            remediations = await on_revisions(tx, plan.changes, now, self._policy)
            await write_audits(tx, [*plan.audits, *remediations])
            return plan.revisions

        for attempt in range(1, _ATTEMPTS + 1):
            try:
                revisions = await self._graph.write_transaction(work)
            except _Moved:
                log.debug("violations revised by another assessment, reading again (%d)", attempt)
                continue
            if revisions.changed:
                log.info(
                    "violations: %d recorded, %d revised, %d cleared",
                    revisions.recorded,
                    revisions.revised,
                    revisions.cleared,
                )
            return revisions
        raise GraphError(
            "other assessments kept revising the same violations; nothing was written, assess again"
        )

    # ---- reads ----------------------------------------------------------------

    async def current(
        self, where: ViolationFilter, *, after: str | None = None, limit: int = 50
    ) -> list[Violation]:
        """The current revisions, by id: violations as the hub knows them now."""
        prefix = (
            OPEN_RECORD + "|" + ("" if where.agreement_id is None else where.agreement_id + "|")
        )
        rows = await self._graph.read(
            q.VIOLATIONS, recordKeyPrefix=prefix, **self._params(where, after, limit)
        )
        return [Violation.from_props(row["violation"]) for row in rows]

    async def as_recorded(
        self,
        known_at: datetime,
        where: ViolationFilter,
        *,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Violation]:
        """The revisions current at `known_at`, by id: violations as the hub had
        recorded them then, including ones later revised or cleared."""
        known = to_iso(known_at)
        rows = await self._graph.read(
            q.VIOLATIONS_AS_RECORDED,
            knownAt=known,
            recordKeyAfter=known + "~",
            **self._params(where, after, limit),
        )
        return [Violation.from_props(row["violation"]) for row in rows]

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Violation]:
        """Revisions by id, current or not."""
        rows = await self._graph.read(q.VIOLATIONS_BY_IDS, ids=list(ids), **self._scope.params())
        found = [Violation.from_props(row["violation"]) for row in rows]
        return {v.id: v for v in found}

    def _params(self, where: ViolationFilter, after: str | None, limit: int) -> dict[str, Any]:
        return {
            **self._scope.params(),
            "agreementId": where.agreement_id,
            "severities": None if where.severities is None else [str(s) for s in where.severities],
            "from": None if where.start is None else to_iso(where.start),
            "to": None if where.end is None else to_iso(where.end),
            "after": after,
            "limit": limit,
        }


async def violations_to_revisions(graph: Graph) -> None:
    """Migration: violations written before record time become the current revisions
    of their periods, recorded when they were last written."""
    await graph.write(q.VIOLATIONS_TO_REVISIONS, openRecord=OPEN_RECORD, now=utc_now())
