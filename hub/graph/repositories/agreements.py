"""Authoring and reading agreement versions; every change is audited in the same
transaction. A version's terms are written once, when it is created (version 1 or a
revision); afterwards only its workflow state moves, and its valid time ends when a
later version takes over."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.boards import Board, highest_tier, required_groups
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementRevisionSpec,
    AgreementSpec,
    AgreementState,
    AgreementStatus,
    Approval,
    CreditPolicySpec,
    CreditTierSpec,
    Objective,
    SlaLevel,
)
from hub.domain.reviews import ReviewCycle, due, next_review_at
from hub.domain.terms import ClauseSpec, GovernanceTerms, SupportHoursSpec, common_value
from hub.domain.validity import ValidTime, takeovers
from hub.domain.workflow import (
    Actor,
    approve,
    check_reject,
    check_revise,
    check_submit,
    check_withdraw,
    require_reason,
    revision_problems,
)
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import agreements as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import PREFIXES, Clock, from_iso, new_id, system_clock, to_iso
from hub.graph.key_ranges import id_slices
from hub.graph.repositories.audit import write_audit, write_audits
from hub.graph.repositories.levels import DEFAULT_LEVEL, SlaLevelRepository, refresh_inheritance
from hub.graph.repositories.objectives import objective_from_props as read_objective
from hub.graph.repositories.objectives import objective_props

# How often an approval re-reads an agreement that another approval changed meanwhile.
_APPROVAL_ATTEMPTS = 5

_LINK_COUNTERPART = {
    AgreementKind.SLA: q.LINK_CUSTOMER,
    AgreementKind.OLA: q.LINK_PROVIDER_TEAM,
    AgreementKind.UC: q.LINK_VENDOR,
}


def credit_policy_json(policy: CreditPolicySpec | None) -> str | None:
    """The stored form of a credit policy: JSON text, tiers best first."""
    if policy is None:
        return None
    text: str = json.dumps(
        {
            "tiers": [
                {"belowPercent": t.below_percent, "creditPercent": t.credit_percent}
                for t in policy.tiers
            ],
            "capPercent": policy.cap_percent,
            # A decimal string (money is never a float); policies stored before hold
            # a number, which `credit_policy_from_json` reads too.
            "monthlyFee": None if policy.monthly_fee is None else str(policy.monthly_fee),
            "currency": policy.currency,
        }
    )
    return text


def credit_policy_from_json(text: str | None) -> CreditPolicySpec | None:
    if not text:
        return None
    data = json.loads(text)
    return CreditPolicySpec(
        tiers=tuple(
            CreditTierSpec(below_percent=t["belowPercent"], credit_percent=t["creditPercent"])
            for t in data["tiers"]
        ),
        cap_percent=data["capPercent"],
        monthly_fee=data.get("monthlyFee"),
        currency=data.get("currency"),
    )


def governance_props(terms: GovernanceTerms) -> dict[str, Any]:
    """The stored form of a version's regulatory terms: clauses and support hours as
    JSON text, the codes as lists."""
    hours = terms.support_hours
    return {
        "supportHours": None
        if hours is None
        else json.dumps(
            {
                "timeZone": hours.time_zone,
                "days": list(hours.days),
                "start": hours.start,
                "end": hours.end,
            }
        ),
        "clauses": json.dumps([{"kind": str(c.kind), "text": c.text} for c in terms.clauses]),
        "regulations": list(terms.regulations),
        "jurisdiction": terms.jurisdiction,
        "dataResidency": list(terms.data_residency),
        "reviewCycle": None if terms.review_cycle is None else str(terms.review_cycle),
    }


def support_hours_from_json(text: str | None) -> SupportHoursSpec | None:
    if not text:
        return None
    data = json.loads(text)
    return SupportHoursSpec(
        time_zone=data["timeZone"], days=tuple(data["days"]), start=data["start"], end=data["end"]
    )


def governance_from_props(props: dict[str, Any]) -> GovernanceTerms:
    """A version's regulatory terms as stored (none on versions written before them)."""
    return GovernanceTerms(
        support_hours=support_hours_from_json(props.get("supportHours")),
        clauses=tuple(
            ClauseSpec(kind=c["kind"], text=c["text"])
            for c in json.loads(props.get("clauses") or "[]")
        ),
        regulations=tuple(props.get("regulations") or ()),
        jurisdiction=props.get("jurisdiction"),
        data_residency=tuple(props.get("dataResidency") or ()),
        review_cycle=None if not props.get("reviewCycle") else ReviewCycle(props["reviewCycle"]),
    )


def _time(value: str | None) -> datetime | None:
    return from_iso(value)


def _state(props: dict[str, Any]) -> AgreementState:
    """The stored workflow state (older nodes stored only a status, until migration 8)."""
    state = props.get("state")
    if state is not None:
        return AgreementState(state)
    legacy = props.get("status") or "DRAFT"
    if legacy in (AgreementState.DRAFT, AgreementState.PENDING_APPROVAL):
        return AgreementState(legacy)
    return AgreementState.APPROVED  # ACTIVE, or a later status nothing ever set


def valid_time(props: dict[str, Any]) -> ValidTime:
    """What a version's status is derived from, as stored."""
    return ValidTime(
        state=_state(props),
        effective_from=_time(props.get("effectiveFrom")),
        effective_to=_time(props.get("effectiveTo")),
        superseded_at=_time(props.get("supersededAt")),
        sunset_at=_time(props.get("sunsetAt")),
    )


def approval_log_json(log: Sequence[Approval]) -> str:
    """The stored form of a version's approvals: JSON text, oldest first."""
    return json.dumps(
        [{"by": a.by, "group": a.group, "at": to_iso(a.at), "note": a.note} for a in log],
        sort_keys=True,
    )


def _approval_log(props: dict[str, Any]) -> tuple[Approval, ...]:
    text = props.get("approvalLog")
    if not text:
        return ()
    return tuple(
        Approval(
            by=a["by"], at=datetime.fromisoformat(a["at"]), group=a.get("group"), note=a.get("note")
        )
        for a in json.loads(text)
    )


def agreement_from_row(
    props: dict[str, Any],
    counterpart_id: str | None,
    now: datetime,
    previous_id: str | None = None,
    units: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    reviewed_at: Sequence[str] | None = None,
) -> Agreement:
    """A stored version, its status derived at `now`; its business unit and region
    from the `units` and `regions` of its customer or of the SLAs it underpins
    (`hub.graph.cypher.agreements`, `_DERIVED_SCOPE`); its next review from the times
    it was `reviewed_at` (`hub.graph.cypher.reviews`)."""
    valid = valid_time(props)
    governance = governance_from_props(props)
    reviewed = sorted(t for t in (_time(r) for r in reviewed_at or ()) if t is not None)
    return Agreement(
        id=props["id"],
        kind=AgreementKind(props["kind"]),
        name=props["name"],
        version=int(props["version"]),
        status=valid.status_at(now),
        effective_from=valid.effective_from,
        effective_to=valid.effective_to,
        counterpart_id=counterpart_id or "",
        created_by=props.get("createdBy", ""),
        submitted_by=props.get("submittedBy"),
        approvals=tuple(props.get("approvals") or ()),
        credit_policy=credit_policy_from_json(props.get("creditPolicy")),
        lineage=props.get("lineage") or props["id"],
        state=valid.state,
        recorded_at=_time(props.get("recordedAt") or props.get("createdAt")),
        previous_id=previous_id,
        approval_log=_approval_log(props),
        superseded_at=valid.superseded_at,
        sunset_at=valid.sunset_at,
        required_groups=tuple(props.get("requiredGroups") or ()),
        governance=governance,
        business_unit=common_value(units or ()),
        region=common_value(regions or ()),
        next_review_at=next_review_at(governance.review_cycle, valid.effective_from, now, reviewed)
        if valid.in_force(now)
        else None,
        level=_level(props),
        parent_lineage=props.get("parentLineage"),
        indemnity_percent=props.get("indemnityPercent"),
        last_reviewed_at=reviewed[-1] if reviewed else None,
    )


def _level(props: dict[str, Any]) -> SlaLevel | None:
    """An SLA's level as stored; SLAs written before levels are SERVICE SLAs."""
    if props["kind"] != AgreementKind.SLA:
        return None
    return SlaLevel(props.get("level") or DEFAULT_LEVEL)


def objective_from_props(props: dict[str, Any], agreement_id: str | None = None) -> Objective:
    """An agreement's objective as stored (measurement and OpenSLO properties included)."""
    return read_objective(props, agreement_id=agreement_id)


@dataclass(frozen=True, slots=True)
class Renewal:
    """A version in force that is due for renewal: it `expires` or is due for `review`."""

    agreement: Agreement
    due: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class AgreementFilter:
    """Which versions a list holds: with `as_of`, those in force then; with `statuses`,
    those whose status now is one of them; with neither, the latest of each lineage."""

    kinds: Iterable[AgreementKind] | None = None
    statuses: Iterable[AgreementStatus] | None = None
    customer_id: str | None = None
    service_id: str | None = None
    as_of: datetime | None = None
    regulation: str | None = None
    business_unit: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceSla:
    """An SLA version covering a service, with its status now."""

    agreement_id: str
    status: AgreementStatus
    latest: bool


def _row_agreement(row: Row, now: datetime) -> Agreement:
    return agreement_from_row(
        row["props"],
        row["counterpartId"],
        now,
        row.get("previousId"),
        units=row.get("units"),
        regions=row.get("regions"),
        reviewed_at=row.get("reviewedAt"),
    )


# Objective properties a revision does not copy: the copy is a node of its own.
_OBJECTIVE_BOOKKEEPING = frozenset({"id", "createdAt", "updatedAt"})


class AgreementRepository:
    """Agreement versions: read with their status at the repository's clock, written
    through the workflow's rules, every change audited in its own transaction.

    `clock` is when things happen for this repository: the request's instant (the
    GraphQL context binds one per request), the system clock, or the instant a test or
    the demo authors its history at. Statuses are derived at it, and approvals happen
    at it.
    """

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope).
        self._graph = graph
        self._scope = scope
        self._clock = clock

    # ---- reads ----------------------------------------------------------------

    def levels(self) -> SlaLevelRepository:
        """Parents, children and effective terms of SLAs, in this repository's scope
        and at its clock."""
        return SlaLevelRepository(self._graph, self._scope, self._clock)

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Agreement]:
        rows = await self._graph.read(q.AGREEMENTS_BY_IDS, ids=list(ids), **self._scope.params())
        now = self._clock()
        found = (_row_agreement(r, now) for r in rows)
        return {agreement.id: agreement for agreement in found}

    async def get(self, agreement_id: str) -> Agreement:
        found = await self.by_ids([agreement_id])
        if agreement_id not in found:
            raise NotFoundError("agreement", agreement_id)
        return found[agreement_id]

    async def versions_by_lineages(self, lineages: Sequence[str]) -> dict[str, list[Agreement]]:
        """Every version of each lineage that the scope admits, version 1 first."""
        rows = await self._graph.read(
            q.VERSIONS_BY_LINEAGES, lineages=list(lineages), **self._scope.params()
        )
        now = self._clock()
        grouped: dict[str, list[Agreement]] = {lineage: [] for lineage in lineages}
        for row in rows:
            grouped[row["lineage"]].append(_row_agreement(row, now))
        return {k: sorted(v, key=lambda a: a.version) for k, v in grouped.items()}

    async def as_of(self, lineage: str, at: datetime) -> Agreement | None:
        """The version of `lineage` in force at `at`, or None if none was (or the scope
        does not admit it)."""
        rows = await self._graph.read(
            q.AGREEMENT_AS_OF, lineage=lineage, at=to_iso(at), **self._scope.params()
        )
        return _row_agreement(rows[0], self._clock()) if rows else None

    async def objectives_by_agreement_ids(self, ids: Sequence[str]) -> dict[str, list[Objective]]:
        rows = await self._graph.read(q.OBJECTIVES_BY_AGREEMENT_IDS, ids=list(ids))
        grouped: dict[str, list[Objective]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["agreementId"]].append(
                objective_from_props(row["props"], row["agreementId"])
            )
        return grouped

    async def covered_ids_by_agreement_ids(self, ids: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._graph.read(q.COVERED_IDS_BY_AGREEMENT_IDS, ids=list(ids))
        grouped: dict[str, list[str]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["agreementId"]].append(row["componentId"])
        return grouped

    async def underpinning_ids_by_sla_ids(self, ids: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._graph.read(q.UNDERPINNING_IDS_BY_SLA_IDS, ids=list(ids))
        grouped: dict[str, list[str]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["slaId"]].append(row["agreementId"])
        return grouped

    async def sla_ids_by_service_ids(self, ids: Sequence[str]) -> dict[str, list[ServiceSla]]:
        rows = await self._graph.read(q.SLA_IDS_BY_SERVICE_IDS, ids=list(ids))
        now = self._clock()
        grouped: dict[str, list[ServiceSla]] = {i: [] for i in ids}
        for row in rows:
            status = valid_time(row).status_at(now)
            grouped[row["serviceId"]].append(
                ServiceSla(row["agreementId"], status, bool(row["latest"]))
            )
        return grouped

    async def find(
        self,
        where: AgreementFilter,
        *,
        limit: int,
        after: str | None = None,
    ) -> list[Agreement]:
        now = self._clock()
        params: dict[str, Any] = {
            "limit": limit,
            "after": after,
            "kinds": None if where.kinds is None else [str(k) for k in where.kinds],
            "statuses": None if where.statuses is None else [str(s) for s in where.statuses],
            "customerId": where.customer_id,
            "serviceId": where.service_id,
            "regulation": None if where.regulation is None else where.regulation.strip().upper(),
            "businessUnit": where.business_unit,
            "region": where.region,
            "now": to_iso(now),
        }
        if where.as_of is None:
            rows = await self._graph.read(q.LIST_AGREEMENTS, **params, **self._scope.params())
        else:
            rows = []
            for lo, hi in id_slices(after, PREFIXES["Agreement"]):
                params["limit"] = limit - len(rows)
                rows += await self._graph.read(
                    q.LIST_AGREEMENTS_AS_OF,
                    asOf=to_iso(where.as_of),
                    lo=lo,
                    hi=hi,
                    **params,
                    **self._scope.params(),
                )
                if len(rows) >= limit:
                    break
        return [_row_agreement(r, now) for r in rows]

    async def upcoming_renewals(self, days: int) -> list[Renewal]:
        """The versions in force (that the scope admits) whose expiry or next review
        falls in [now, now + days], soonest first (`hub.domain.reviews.due`)."""
        now = self._clock()
        rows = await self._graph.read(
            q.RENEWAL_CANDIDATES,
            now=to_iso(now),
            until=to_iso(now + timedelta(days=days)),
            **self._scope.params(),
        )
        found: list[Renewal] = []
        for row in rows:
            agreement = _row_agreement(row, now)
            if agreement.status is not AgreementStatus.ACTIVE:
                continue  # e.g. sunset
            when = due(
                agreement.effective_to,
                agreement.superseded_at,
                agreement.next_review_at,
                now,
                days,
            )
            if when is not None:
                found.append(Renewal(agreement, when.at, when.reason))
        return sorted(found, key=lambda r: (r.due, r.agreement.id))

    # ---- writes ---------------------------------------------------------------

    async def create(self, spec: AgreementSpec, actor: Actor, note: str | None = None) -> str:
        """Store `spec` as version 1 in DRAFT; raise `InvalidInputError` naming bad references."""
        level = (spec.level or DEFAULT_LEVEL) if spec.kind is AgreementKind.SLA else None
        problems: list[FieldProblem] = []
        parent_lineage = None
        # Every bad reference at once, the parent SLA's included.
        try:
            await self._check_references(spec)
        except InvalidInputError as exc:
            problems += exc.problems
        try:
            if level is not None:
                parent_lineage = await self.levels().check_parent(level, spec.parent_id)
        except InvalidInputError as exc:
            problems += exc.problems
        if problems:
            raise InvalidInputError(problems)
        agreement_id = new_id("Agreement")
        # Objectives are read back in id order: ids sorted to match the authored order.
        objectives = _with_new_ids([objective_props(o) for o in spec.objectives])
        counterpart = spec.customer_id or spec.provider_team_id or spec.vendor_id
        assert counterpart is not None, "AgreementSpec requires a counterpart"
        now = to_iso(self._clock())
        audit = AuditEntry.of(
            actor,
            "agreement.create",
            agreement_id,
            reason=note,
            after={
                "kind": str(spec.kind),
                "name": spec.name,
                "state": str(AgreementState.DRAFT),
                "version": 1,
                **({} if level is None else {"level": str(level), "parentLineage": parent_lineage}),
            },
        )

        async def work(tx: Transaction) -> None:
            await self._write_version(
                tx,
                agreement_id=agreement_id,
                kind=spec.kind,
                name=spec.name,
                lineage=agreement_id,
                version=1,
                effective_from=spec.effective_from,
                effective_to=spec.effective_to,
                credit_policy=credit_policy_json(spec.credit_policy),
                indemnity_percent=spec.indemnity_percent,
                objectives=objectives,
                covers=list(spec.covers),
                counterpart_id=counterpart,
                underpins=list(spec.underpins),
                actor=actor,
                now=now,
                governance=spec.governance,
                level=level,
                parent_lineage=parent_lineage,
            )
            await write_audit(tx, audit)

        await self._graph.write_transaction(work)
        return agreement_id

    async def _write_version(
        self,
        tx: Transaction,
        *,
        agreement_id: str,
        kind: AgreementKind,
        name: str,
        lineage: str,
        version: int,
        effective_from: datetime | None,
        effective_to: datetime | None,
        credit_policy: str | None,
        objectives: list[dict[str, Any]],
        covers: list[str],
        counterpart_id: str,
        underpins: list[str],
        actor: Actor,
        now: str,
        previous_id: str | None = None,
        governance: GovernanceTerms | None = None,
        level: SlaLevel | None = None,
        parent_lineage: str | None = None,
        indemnity_percent: float | None = None,
    ) -> None:
        await tx.run(
            q.CREATE_AGREEMENT,
            indemnityPercent=indemnity_percent,
            level=None if level is None else str(level),
            parentLineage=parent_lineage,
            **governance_props(governance or GovernanceTerms()),
            id=agreement_id,
            kind=str(kind),
            name=name,
            lineage=lineage,
            version=version,
            versionKey=f"{lineage}#{version}",
            effectiveFrom=None if effective_from is None else to_iso(effective_from),
            effectiveTo=None if effective_to is None else to_iso(effective_to),
            now=now,
            actor=actor.user,
            creditPolicy=credit_policy,
            objectives=[{k: v for k, v in o.items() if v is not None} for o in objectives],
            covers=list(dict.fromkeys(covers)),
        )
        await tx.run(_LINK_COUNTERPART[kind], id=agreement_id, counterpartId=counterpart_id)
        if underpins:
            await tx.run(q.LINK_UNDERPINS, id=agreement_id, slaIds=list(dict.fromkeys(underpins)))
        if previous_id is not None:
            await tx.run(q.LINK_PREVIOUS_VERSION, id=agreement_id, previousId=previous_id)

    async def _check_references(self, spec: AgreementSpec) -> None:
        """Raise `InvalidInputError` naming each reference that does not exist or that
        the author may not read (the two look the same)."""
        await self._check(
            covers=spec.covers,
            underpins=spec.underpins,
            customer_id=spec.customer_id,
            team_id=spec.provider_team_id,
            vendor_id=spec.vendor_id,
        )

    async def _check(
        self,
        *,
        covers: Sequence[str] = (),
        underpins: Sequence[str] = (),
        customer_id: str | None = None,
        team_id: str | None = None,
        vendor_id: str | None = None,
    ) -> None:
        rows = await self._graph.read(
            q.EXISTING_REFERENCES,
            customerId=customer_id,
            teamId=team_id,
            vendorId=vendor_id,
            covers=list(covers),
            underpins=list(underpins),
            **self._scope.params(),
        )
        found = rows[0]
        problems: list[FieldProblem] = []
        for field, wanted, got, what in (
            ("customerId", customer_id, found["customerId"], "customer"),
            ("providerTeamId", team_id, found["teamId"], "team"),
            ("vendorId", vendor_id, found["vendorId"], "vendor"),
        ):
            if wanted is not None and got is None:
                problems.append(FieldProblem(field, f"no {what} with id {quoted(wanted)}"))
        components = set(found["components"])
        for index, component_id in enumerate(covers):
            if component_id not in components:
                problem = f"no service or CI with id {quoted(component_id)}"
                problems.append(FieldProblem(f"covers.{index}", problem))
        slas = set(found["slas"])
        for index, sla_id in enumerate(underpins):
            if sla_id not in slas:
                problem = f"no SLA with id {quoted(sla_id)}"
                problems.append(FieldProblem(f"underpins.{index}", problem))
        if problems:
            raise InvalidInputError(problems)

    async def revise(
        self,
        agreement_id: str,
        revision: AgreementRevisionSpec,
        actor: Actor,
        reason: str | None,
    ) -> str:
        """Make DRAFT version n+1 of the lineage from its latest version n (which
        `agreement_id` must be), with the changes `revision` gives and the rest copied:
        objectives as new nodes, covers, counterpart, underpins, credit policy. Returns
        the new version's id.

        Raises `InvalidInputError` for a blank reason or bad input, `WorkflowError` when
        the version is not the latest or the lineage already has an open version, and
        `ConflictError` when another revision got there first.
        """
        why = require_reason(reason)
        current = await self.get(agreement_id)
        problems = revision_problems(
            current.kind,
            revision,
            revision.effective_to if revision.effective_to is not None else current.effective_to,
        )
        if problems:
            raise InvalidInputError(problems)
        await self._check(covers=revision.covers or (), underpins=revision.underpins or ())
        revision_id = new_id("Agreement")
        now = to_iso(self._clock())
        given = _given(revision)

        async def work(tx: Transaction) -> None:
            versions = [
                _row_agreement(r, self._clock())
                for r in await tx.run(q.LINEAGE_VERSIONS, lineage=current.lineage)
            ]
            latest = versions[-1]
            this = next(v for v in versions if v.id == agreement_id)
            check_revise(this, latest, actor)
            previous = await _terms(tx, this)
            governance = revision.governance(this.governance)
            objectives = (
                [objective_props(o) for o in revision.objectives]
                if revision.objectives is not None
                else previous["objectives"]
            )
            terms: dict[str, Any] = {
                "name": revision.name if revision.name is not None else this.name,
                "covers": list(revision.covers)
                if revision.covers is not None
                else previous["covers"],
                "underpins": list(revision.underpins)
                if revision.underpins is not None
                else previous["underpins"],
                # Left out, the revision starts at its approval.
                "effectiveFrom": revision.effective_from,
                "effectiveTo": revision.effective_to
                if revision.effective_to is not None
                else this.effective_to,
            }
            await self._write_version(
                tx,
                agreement_id=revision_id,
                kind=this.kind,
                name=terms["name"],
                lineage=this.lineage,
                version=latest.version + 1,
                effective_from=terms["effectiveFrom"],
                effective_to=terms["effectiveTo"],
                credit_policy=credit_policy_json(this.credit_policy),
                indemnity_percent=this.indemnity_percent,
                objectives=_with_new_ids(objectives),
                covers=terms["covers"],
                counterpart_id=this.counterpart_id,
                underpins=terms["underpins"],
                actor=actor,
                now=now,
                previous_id=this.id,
                governance=governance,
                # Terms a revision cannot change (AgreementRevisionInput has neither).
                level=this.level,
                parent_lineage=this.parent_lineage,
            )
            before = {
                "id": this.id,
                "version": this.version,
                **{
                    field: _audited(field, value)
                    for field, value in {
                        **previous,
                        **governance_props(this.governance),
                        "name": this.name,
                        "effectiveFrom": this.effective_from,
                        "effectiveTo": this.effective_to,
                    }.items()
                    if field in given
                },
            }
            after = {
                "version": latest.version + 1,
                "state": str(AgreementState.DRAFT),
                **{
                    field: _audited(field, value)
                    for field, value in {
                        **terms,
                        **governance_props(governance),
                        "objectives": objectives,
                    }.items()
                    if field in given
                },
            }
            await write_audit(
                tx,
                AuditEntry.of(
                    actor, "agreement.revise", revision_id, reason=why, before=before, after=after
                ),
            )

        await self._graph.write_transaction(work)
        return revision_id

    async def _transition(
        self,
        agreement: Agreement,
        *,
        state: AgreementState,
        actor: Actor,
        action: str,
        note: str | None,
        approvals: tuple[str, ...] | None = None,
        approval_log: tuple[Approval, ...] | None = None,
        submitted_by: str | None = None,
        effective_from: datetime | None = None,
        required_groups: tuple[str, ...] | None = None,
        group: str | None = None,
        at: datetime,
    ) -> None:
        """Move `agreement` on, if nobody else did meanwhile; audited in the same
        transaction. An approval that completes it also ends the earlier versions it
        takes over from (`hub.domain.validity.takeovers`), audited too, and for an SLA
        writes the objectives that its lineage and its descendants' inherit
        (`hub.graph.repositories.levels.refresh_inheritance`). A submission
        fixes the board groups (`required_groups`); an approval names the group it
        signs for (`group`), both audited."""
        approvals = agreement.approvals if approvals is None else approvals
        approval_log = agreement.approval_log if approval_log is None else approval_log
        approved = state is AgreementState.APPROVED
        ended = state in (AgreementState.REJECTED, AgreementState.WITHDRAWN)
        before: dict[str, Any] = {
            "state": str(agreement.state),
            "approvals": list(agreement.approvals),
        }
        after: dict[str, Any] = {"state": str(state), "approvals": list(approvals)}
        if required_groups:
            after["requiredGroups"] = list(required_groups)
        if group is not None:
            after["group"] = group
        if approved:
            before["effectiveFrom"] = _audited("effectiveFrom", agreement.effective_from)
            after["effectiveFrom"] = _audited("effectiveFrom", effective_from)
        audit = AuditEntry.of(actor, action, agreement.id, reason=note, before=before, after=after)
        moment = to_iso(at)

        async def work(tx: Transaction) -> bool:
            moved = await tx.run(
                q.TRANSITION_AGREEMENT,
                id=agreement.id,
                expectedState=str(agreement.state),
                expectedApprovals=list(agreement.approvals),
                state=str(state),
                approvals=list(approvals),
                approvalLog=approval_log_json(approval_log),
                requiredGroups=None if required_groups is None else list(required_groups),
                submittedBy=submitted_by,
                submittedAt=moment if submitted_by is not None else None,
                effectiveFrom=None if effective_from is None else to_iso(effective_from),
                approvedAt=moment if approved else None,
                endedAt=moment if ended else None,
                now=moment,
                **self._scope.params(),
            )
            if not moved:
                return False
            entries = [audit]
            if approved:
                assert effective_from is not None, "an approval sets the start"
                entries += await self._take_over(tx, agreement, effective_from, at, actor, note)
                if agreement.kind is AgreementKind.SLA:
                    entries += await refresh_inheritance(tx, agreement.lineage, actor, note, at)
            await write_audits(tx, entries)
            return True

        if not await self._graph.write_transaction(work):
            raise ConflictError(
                f"agreement {agreement.id!r} changed while this request ran; read it again"
            )

    async def _take_over(
        self,
        tx: Transaction,
        agreement: Agreement,
        start: datetime,
        at: datetime,
        actor: Actor,
        note: str | None,
    ) -> list[AuditEntry]:
        """End the earlier approved versions of the lineage that `agreement`, approved
        at `at` and starting at `start`, takes over from; their audit entries."""
        rows = await tx.run(q.LINEAGE_VERSIONS, lineage=agreement.lineage)
        earlier = [
            (row["props"]["id"], valid_time(row["props"]))
            for row in rows
            if int(row["props"]["version"]) < agreement.version
        ]
        ended = takeovers(earlier, start, at)
        if not ended:
            return []
        await tx.run(
            q.SUPERSEDE_VERSIONS,
            rows=[{"id": t.version_id, "at": to_iso(t.at)} for t in ended],
            by=agreement.id,
            now=to_iso(at),
        )
        return [
            AuditEntry.of(
                actor,
                "agreement.supersede",
                t.version_id,
                reason=note,
                before={"effectiveTo": _audited("effectiveTo", t.effective_to)},
                after={
                    "effectiveTo": _audited("effectiveTo", t.at),
                    "supersededAt": _audited("supersededAt", t.at),
                    "supersededBy": agreement.id,
                },
            )
            for t in ended
        ]

    async def submit(
        self,
        agreement_id: str,
        actor: Actor,
        note: str | None = None,
        boards: Sequence[Board] = (),
    ) -> Agreement:
        """DRAFT -> PENDING_APPROVAL, by an editor. The approval board that applies to
        the version now (by its kind and the highest tier it covers) fixes the groups
        that must sign it; none applying, the count rule will."""
        agreement = await self.get(agreement_id)
        check_submit(agreement, actor)
        groups: tuple[str, ...] = ()
        if boards:
            rows = await self._graph.read(q.COVERED_TIERS, id=agreement_id)
            tier = highest_tier(rows[0]["tiers"] if rows else ())
            groups = required_groups(boards, agreement.kind, tier)
        await self._transition(
            agreement,
            state=AgreementState.PENDING_APPROVAL,
            approvals=(),
            actor=actor,
            action="agreement.submit",
            note=note,
            submitted_by=actor.user,
            required_groups=groups,
            at=self._clock(),
        )
        return await self.get(agreement_id)

    async def approve(
        self,
        agreement_id: str,
        actor: Actor,
        note: str | None = None,
        approvals_required: int = 1,
        group: str | None = None,
    ) -> Agreement:
        """Record an approval (four eyes, no backdating); enough of them approve the
        version, which then takes over from the earlier version in force at its start.
        Under an approval board the approval signs for `group` (or the one required
        group the approver holds that is still unsigned; `hub.domain.boards`).

        The change is a compare-and-set on the state and the approvals so far, so two
        approvals racing on one agreement never lose one: the loser reads again and
        adds its approval to the winner's (or fails with the rule that now forbids it),
        also when the two sign for different groups.
        """
        for _ in range(_APPROVAL_ATTEMPTS):
            agreement = await self.get(agreement_id)
            at = self._clock()
            outcome = approve(agreement, actor, approvals_required, at=at, group=group)
            signature = Approval(actor.user, at, group=outcome.group, note=note)
            try:
                await self._transition(
                    agreement,
                    state=outcome.state,
                    approvals=outcome.approvals,
                    approval_log=(*agreement.approval_log, signature),
                    actor=actor,
                    action="agreement.approve",
                    note=note,
                    effective_from=outcome.effective_from,
                    group=outcome.group,
                    at=at,
                )
            except ConflictError:
                continue
            return await self.get(agreement_id)
        raise ConflictError(
            f"agreement {agreement_id!r} kept changing while this approval ran; try again"
        )

    async def reject(self, agreement_id: str, actor: Actor, reason: str | None) -> Agreement:
        """PENDING_APPROVAL -> REJECTED, by an approver who neither wrote nor submitted it."""
        why = require_reason(reason)
        agreement = await self.get(agreement_id)
        check_reject(agreement, actor)
        await self._transition(
            agreement,
            state=AgreementState.REJECTED,
            actor=actor,
            action="agreement.reject",
            note=why,
            at=self._clock(),
        )
        return await self.get(agreement_id)

    async def withdraw(self, agreement_id: str, actor: Actor, reason: str | None) -> Agreement:
        """PENDING_APPROVAL -> WITHDRAWN by its submitter (a DRAFT, by its author)."""
        why = require_reason(reason)
        agreement = await self.get(agreement_id)
        check_withdraw(agreement, actor)
        await self._transition(
            agreement,
            state=AgreementState.WITHDRAWN,
            actor=actor,
            action="agreement.withdraw",
            note=why,
            at=self._clock(),
        )
        return await self.get(agreement_id)


def _with_new_ids(objectives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objectives with new ids, sorted so that reading back by id keeps their order."""
    ids = sorted(new_id("Objective") for _ in objectives)
    return [
        {**{k: v for k, v in o.items() if k not in _OBJECTIVE_BOOKKEEPING}, "id": objective_id}
        for objective_id, o in zip(ids, objectives, strict=True)
    ]


async def _terms(tx: Transaction, agreement: Agreement) -> dict[str, Any]:
    """What a revision copies of `agreement` that its read model does not hold."""
    ids = [agreement.id]
    objectives = await tx.run(q.OBJECTIVES_BY_AGREEMENT_IDS, ids=ids)
    covers = await tx.run(q.COVERED_IDS_BY_AGREEMENT_IDS, ids=ids)
    underpins = await tx.run(q.UNDERPINNED_IDS_BY_AGREEMENT_IDS, ids=ids)
    return {
        "objectives": [dict(row["props"]) for row in objectives],
        "covers": [row["componentId"] for row in covers],
        "underpins": [row["slaId"] for row in underpins],
    }


def _given(revision: AgreementRevisionSpec) -> set[str]:
    """The terms a revision changes, by their input names."""
    names = {
        "name": "name",
        "covers": "covers",
        "objectives": "objectives",
        "underpins": "underpins",
        "effective_from": "effectiveFrom",
        "effective_to": "effectiveTo",
        "support_hours": "supportHours",
        "clauses": "clauses",
        "regulations": "regulations",
        "jurisdiction": "jurisdiction",
        "data_residency": "dataResidency",
        "review_cycle": "reviewCycle",
    }
    given = {names[field] for field in revision.model_fields_set if field in names}
    # effectiveFrom always changes: left out, the revision starts at its approval.
    return given | {"effectiveFrom"}


def _audited(field: str, value: Any) -> Any:
    """A term as the audit trail records it (JSON values; objectives without ids)."""
    if isinstance(value, datetime):
        return to_iso(value)
    if field in ("clauses", "supportHours") and isinstance(value, str):
        return json.loads(value)  # stored as JSON text, audited as JSON values
    if field == "objectives":
        return [
            {k: v for k, v in o.items() if v is not None and k not in _OBJECTIVE_BOOKKEEPING}
            for o in value
        ]
    return value


_MIGRATION_PAGE = 500


async def version_agreements(graph: Graph) -> None:
    """Migration 8: agreements written before versions become version 1 of their own
    lineage, their stored status a workflow state; an approved one without a start
    starts when it was approved (its last change). Each is audited. Idempotent: a page
    at a time, each versioned agreement leaving the next page."""
    while True:

        async def work(tx: Transaction) -> int:
            rows = await tx.run(q.UNVERSIONED_AGREEMENTS, limit=_MIGRATION_PAGE)
            if not rows:
                return 0
            updates, entries = [], []
            for row in rows:
                props = row["props"]
                update = _versioned(props)
                updates.append({"id": props["id"], "props": update})
                entries.append(
                    AuditEntry.of(
                        "migration",
                        "agreement.version",
                        props["id"],
                        before={
                            "status": props.get("status"),
                            "effectiveFrom": props.get("effectiveFrom"),
                        },
                        after={
                            k: update[k] for k in ("state", "effectiveFrom", "lineage", "version")
                        },
                    )
                )
            await tx.run(q.VERSION_AGREEMENTS, rows=updates)
            await write_audits(tx, entries)
            return len(rows)

        if await graph.write_transaction(work) < _MIGRATION_PAGE:
            return


def _versioned(props: dict[str, Any]) -> dict[str, Any]:
    """The version fields of an agreement stored before versions."""
    state = _state(props)
    version = int(props.get("version") or 1)
    changed_at = props.get("updatedAt") or props.get("createdAt")
    approved = state is AgreementState.APPROVED
    effective_from = props.get("effectiveFrom") or (changed_at if approved else None)
    log = [
        {"by": name, "group": None, "at": changed_at, "note": None}
        for name in props.get("approvals") or ()
    ]
    return {
        "lineage": props["id"],
        "version": version,
        "versionKey": f"{props['id']}#{version}",
        "state": str(state),
        "effectiveFrom": effective_from,
        "recordedAt": props.get("createdAt"),
        "approvalLog": json.dumps(log, sort_keys=True) if log else None,
        "approvedAt": changed_at if approved else None,
    }
