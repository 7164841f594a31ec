"""Authoring and reading agreements; every state change is audited in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementSpec,
    AgreementStatus,
    CreditPolicySpec,
    CreditTierSpec,
    Objective,
)
from hub.domain.workflow import Actor, approve, check_submit
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import agreements as q
from hub.graph.errors import ConflictError, NotFoundError
from hub.graph.ids import from_iso, new_id, to_iso, utc_now
from hub.graph.repositories.audit import write_audit
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
            "monthlyFee": policy.monthly_fee,
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
    )


def agreement_from_row(props: dict[str, Any], counterpart_id: str | None) -> Agreement:
    return Agreement(
        id=props["id"],
        kind=AgreementKind(props["kind"]),
        name=props["name"],
        version=int(props["version"]),
        status=AgreementStatus(props["status"]),
        effective_from=from_iso(props.get("effectiveFrom")),
        effective_to=from_iso(props.get("effectiveTo")),
        counterpart_id=counterpart_id or "",
        created_by=props.get("createdBy", ""),
        submitted_by=props.get("submittedBy"),
        approvals=tuple(props.get("approvals") or ()),
        credit_policy=credit_policy_from_json(props.get("creditPolicy")),
    )


def objective_from_props(props: dict[str, Any], agreement_id: str | None = None) -> Objective:
    """An agreement's objective as stored (measurement and OpenSLO properties included)."""
    return read_objective(props, agreement_id=agreement_id)


@dataclass(frozen=True, slots=True)
class AgreementFilter:
    kinds: Iterable[AgreementKind] | None = None
    statuses: Iterable[AgreementStatus] | None = None
    customer_id: str | None = None
    service_id: str | None = None


class AgreementRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # The access checkpoint: every read of scoped records below passes
        # `self._scope` to its statement (see hub.graph.cypher.scope).
        self._graph = graph
        self._scope = scope

    # ---- reads ----------------------------------------------------------------

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Agreement]:
        rows = await self._graph.read(q.AGREEMENTS_BY_IDS, ids=list(ids), **self._scope.params())
        found = (agreement_from_row(r["props"], r["counterpartId"]) for r in rows)
        return {agreement.id: agreement for agreement in found}

    async def get(self, agreement_id: str) -> Agreement:
        found = await self.by_ids([agreement_id])
        if agreement_id not in found:
            raise NotFoundError("agreement", agreement_id)
        return found[agreement_id]

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

    async def sla_ids_by_service_ids(
        self, ids: Sequence[str]
    ) -> dict[str, list[tuple[str, AgreementStatus]]]:
        rows = await self._graph.read(q.SLA_IDS_BY_SERVICE_IDS, ids=list(ids))
        grouped: dict[str, list[tuple[str, AgreementStatus]]] = {i: [] for i in ids}
        for row in rows:
            grouped[row["serviceId"]].append((row["agreementId"], AgreementStatus(row["status"])))
        return grouped

    async def find(
        self,
        where: AgreementFilter,
        *,
        limit: int,
        after: str | None = None,
    ) -> list[Agreement]:
        rows = await self._graph.read(
            q.LIST_AGREEMENTS,
            limit=limit,
            after=after,
            kinds=None if where.kinds is None else [str(k) for k in where.kinds],
            statuses=None if where.statuses is None else [str(s) for s in where.statuses],
            customerId=where.customer_id,
            serviceId=where.service_id,
            **self._scope.params(),
        )
        return [agreement_from_row(r["props"], r["counterpartId"]) for r in rows]

    # ---- writes ---------------------------------------------------------------

    async def create(self, spec: AgreementSpec, actor: Actor, note: str | None = None) -> str:
        """Store `spec` as version 1 in DRAFT; raise `InvalidInputError` naming bad references."""
        await self._check_references(spec)
        agreement_id = new_id("Agreement")
        # Objectives are read back in id order: ids sorted to match the authored order.
        objective_ids = sorted(new_id("Objective") for _ in spec.objectives)
        objectives = [
            {"id": objective_id, **objective_props(o)}
            for objective_id, o in zip(objective_ids, spec.objectives, strict=True)
        ]
        counterpart = spec.customer_id or spec.provider_team_id or spec.vendor_id
        now = utc_now()
        audit = AuditEntry.of(
            actor,
            "agreement.create",
            agreement_id,
            reason=note,
            after={
                "kind": str(spec.kind),
                "name": spec.name,
                "status": str(AgreementStatus.DRAFT),
                "version": 1,
            },
        )

        async def work(tx: Transaction) -> None:
            await tx.run(
                q.CREATE_AGREEMENT,
                id=agreement_id,
                kind=str(spec.kind),
                name=spec.name,
                effectiveFrom=None if spec.effective_from is None else to_iso(spec.effective_from),
                effectiveTo=None if spec.effective_to is None else to_iso(spec.effective_to),
                now=now,
                actor=actor.user,
                creditPolicy=credit_policy_json(spec.credit_policy),
                objectives=[{k: v for k, v in o.items() if v is not None} for o in objectives],
                covers=list(dict.fromkeys(spec.covers)),
            )
            await tx.run(_LINK_COUNTERPART[spec.kind], id=agreement_id, counterpartId=counterpart)
            if spec.underpins:
                await tx.run(q.LINK_UNDERPINS, id=agreement_id, slaIds=list(spec.underpins))
            await write_audit(tx, audit)

        await self._graph.write_transaction(work)
        return agreement_id

    async def _check_references(self, spec: AgreementSpec) -> None:
        """Raise `InvalidInputError` naming each reference that does not exist or that
        the author may not read (the two look the same)."""
        rows = await self._graph.read(
            q.EXISTING_REFERENCES,
            customerId=spec.customer_id,
            teamId=spec.provider_team_id,
            vendorId=spec.vendor_id,
            covers=list(spec.covers),
            underpins=list(spec.underpins),
            **self._scope.params(),
        )
        found = rows[0]
        problems: list[FieldProblem] = []
        for field, wanted, got, what in (
            ("customerId", spec.customer_id, found["customerId"], "customer"),
            ("providerTeamId", spec.provider_team_id, found["teamId"], "team"),
            ("vendorId", spec.vendor_id, found["vendorId"], "vendor"),
        ):
            if wanted is not None and got is None:
                problems.append(FieldProblem(field, f"no {what} with id {quoted(wanted)}"))
        components = set(found["components"])
        for index, component_id in enumerate(spec.covers):
            if component_id not in components:
                problem = f"no service or CI with id {quoted(component_id)}"
                problems.append(FieldProblem(f"covers.{index}", problem))
        slas = set(found["slas"])
        for index, sla_id in enumerate(spec.underpins):
            if sla_id not in slas:
                problem = f"no SLA with id {quoted(sla_id)}"
                problems.append(FieldProblem(f"underpins.{index}", problem))
        if problems:
            raise InvalidInputError(problems)

    async def transition(
        self,
        agreement: Agreement,
        *,
        status: AgreementStatus,
        approvals: tuple[str, ...],
        actor: Actor,
        action: str,
        note: str | None,
        submitted_by: str | None = None,
    ) -> None:
        """Move `agreement` on, if nobody else did meanwhile; audited in the same transaction."""
        audit = AuditEntry.of(
            actor,
            action,
            agreement.id,
            reason=note,
            before={"status": str(agreement.status), "approvals": list(agreement.approvals)},
            after={"status": str(status), "approvals": list(approvals)},
        )

        async def work(tx: Transaction) -> bool:
            moved = await tx.run(
                q.TRANSITION_AGREEMENT,
                id=agreement.id,
                expectedStatus=str(agreement.status),
                expectedApprovals=list(agreement.approvals),
                status=str(status),
                approvals=list(approvals),
                submittedBy=submitted_by,
                now=utc_now(),
                **self._scope.params(),
            )
            if not moved:
                return False
            await write_audit(tx, audit)
            return True

        if not await self._graph.write_transaction(work):
            raise ConflictError(
                f"agreement {agreement.id!r} changed while this request ran; read it again"
            )

    async def submit(self, agreement_id: str, actor: Actor, note: str | None = None) -> Agreement:
        """DRAFT -> PENDING_APPROVAL, by an editor."""
        agreement = await self.get(agreement_id)
        check_submit(agreement, actor)
        await self.transition(
            agreement,
            status=AgreementStatus.PENDING_APPROVAL,
            approvals=(),
            actor=actor,
            action="agreement.submit",
            note=note,
            submitted_by=actor.user,
        )
        return await self.get(agreement_id)

    async def approve(
        self,
        agreement_id: str,
        actor: Actor,
        note: str | None = None,
        approvals_required: int = 1,
    ) -> Agreement:
        """Record an approval (four eyes); enough of them make the agreement ACTIVE.

        The change is a compare-and-set on the status and the approvals so far, so two
        approvals racing on one agreement never lose one: the loser reads again and
        adds its approval to the winner's (or fails with the rule that now forbids it).
        """
        for _ in range(_APPROVAL_ATTEMPTS):
            agreement = await self.get(agreement_id)
            outcome = approve(agreement, actor, approvals_required)
            try:
                await self.transition(
                    agreement,
                    status=outcome.status,
                    approvals=outcome.approvals,
                    actor=actor,
                    action="agreement.approve",
                    note=note,
                )
            except ConflictError:
                continue
            return await self.get(agreement_id)
        raise ConflictError(
            f"agreement {agreement_id!r} kept changing while this approval ran; try again"
        )
