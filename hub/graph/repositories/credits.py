"""The credit ledger in the graph: credits proposed, revised, corrected and waived by
assessments (`credits_on_revisions`, in the assessment's transaction), moved along
their workflow by people (`CreditRepository`), and the indemnities of the OLAs and
UCs that underpin the SLA, derived when read.

The rules are `hub.domain.credits`'s; every change is audited in its transaction.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hub.domain import credits as rules
from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.credits import Calculation, Credit, CreditStatus, New, Update
from hub.domain.money import parse, shown, stored
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import credits as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import Clock, new_id, system_clock, to_iso
from hub.graph.repositories.agreements import credit_policy_from_json
from hub.graph.repositories.audit import write_audits

if TYPE_CHECKING:
    from hub.graph.repositories.remediation import RevisionChange

log = logging.getLogger(__name__)

INDEMNIFICATION = "INDEMNIFICATION"
_LIST_LIMIT = 1000


def credit_from_props(props: Mapping[str, Any]) -> Credit:
    return Credit(
        id=props["id"],
        remediation_key=props["remediationKey"],
        violation_id=props["violationId"],
        status=CreditStatus(props["status"]),
        percent=float(props.get("percent") or 0.0),
        amount=parse(props["amount"]),
        currency=props["currency"],
        calculation=props.get("calculation") or "",
        created_at=props["createdAt"],
        dispute_reason=props.get("disputeReason"),
        resolution=props.get("resolution"),
        corrects_id=props.get("correctsId"),
        disputed_by=props.get("disputedBy"),
        resolved_by=props.get("resolvedBy"),
        waived_by=props.get("waivedBy"),
    )


def _ordered(rows: Sequence[Mapping[str, Any]]) -> list[Credit]:
    """Credits oldest first (creation time, then id)."""
    found = [credit_from_props(p) for p in rows if p]
    return sorted(found, key=lambda c: (c.created_at, c.id))


def _audited(props: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "status",
        "percent",
        "amount",
        "currency",
        "violationId",
        "correctsId",
        "calculation",
        "disputeReason",
        "resolution",
    )
    return {k: props[k] for k in keys if props.get(k) is not None}


def _props(credit: Credit) -> dict[str, Any]:
    return {
        "id": credit.id,
        "status": str(credit.status),
        "percent": credit.percent,
        "amount": stored(credit.amount, credit.currency),
        "currency": credit.currency,
        "violationId": credit.violation_id,
        "correctsId": credit.corrects_id,
        "calculation": credit.calculation,
        "disputeReason": credit.dispute_reason,
        "resolution": credit.resolution,
    }


def _calculation(change: RevisionChange, policy_json: str | None) -> Calculation | None:
    """The credit the change's new figures earn, or None (no figures, no fee or
    currency in the SLA version's policy, no credit percent)."""
    figures = change.figures
    if figures is None:
        return None
    policy = credit_policy_from_json(policy_json)
    percent = figures.get("creditPercent")
    if policy is None or policy.monthly_fee is None or policy.currency is None:
        return None
    if percent is None or percent <= 0:
        return None
    part_start, part_end = figures.get("partStart"), figures.get("partEnd")
    return Calculation(
        measured=float(figures["measured"]),
        target=float(figures["target"]),
        percent=float(percent),
        monthly_fee=policy.monthly_fee,
        currency=policy.currency,
        period_start=change.period_start,
        period_end=change.period_end,
        part_start=None if part_start is None else datetime.fromisoformat(part_start),
        part_end=None if part_end is None else datetime.fromisoformat(part_end),
    )


async def credits_on_revisions(
    tx: Transaction, changes: Sequence[RevisionChange], now: str
) -> None:
    """Propose, correct or void the credits of the periods whose verdict changed, in the
    assessment's transaction (`hub.domain.credits.plan_revision`): a new violation of
    an SLA whose version's policy has a fee and a currency proposes a credit; other
    figures revise an open credit or correct an issued one; a cleared period waives
    what was not issued and reverses what was."""
    slas = [c for c in changes if c.agreement_kind == "SLA"]
    if not slas:
        return
    # Locked before they are read: see `q.LOCK_PERIOD_CREDITS`.
    await tx.run(q.LOCK_PERIOD_CREDITS, keys=sorted({c.key for c in slas}), now=now)
    rows = await tx.run(
        q.CREDIT_CONTEXT, rows=[{"key": c.key, "agreementId": c.agreement_id} for c in slas]
    )
    context = {row["key"]: row for row in rows}
    created: list[dict[str, Any]] = []
    corrections: list[dict[str, str]] = []
    updated: list[dict[str, Any]] = []
    audits: list[AuditEntry] = []
    for change in slas:
        row = context.get(change.key)
        if row is None or row["remediationId"] is None:
            log.debug("no remediation for %s yet: no credit", change.key)
            continue
        existing = _ordered(row["credits"])
        target = _calculation(change, row["creditPolicy"])
        currency = existing[-1].currency if existing else None
        cleared = change.figures is None
        plan = rules.plan_revision(existing, target, currency, cleared=cleared)
        violation_id = change.violation_id or (change.previous or {}).get("id") or ""
        by_id = {c.id: c for c in existing}
        for step in plan:
            if isinstance(step, Update):
                before = _props(by_id[step.credit_id])
                props = dict(step.props) | {"updatedAt": now}
                if not cleared:
                    props["violationId"] = violation_id
                updated.append({"id": step.credit_id, "props": props})
                audits.append(
                    AuditEntry.of(
                        rules.SYSTEM_ACTOR,
                        step.action,
                        step.credit_id,
                        reason=step.reason,
                        before=_audited(before),
                        after=_audited({**before, **props}),
                    )
                )
            else:
                created.append(_new_credit(change.key, violation_id, step, target, currency, now))
                props = created[-1]["props"]
                if step.corrects_id is not None:
                    corrections.append({"id": props["id"], "correctsId": step.corrects_id})
                audits.append(
                    AuditEntry.of(
                        rules.SYSTEM_ACTOR,
                        "credit.propose" if step.corrects_id is None else "credit.correct",
                        props["id"],
                        reason="violation detected" if step.corrects_id is None else "new figures",
                        after=_audited(props),
                    )
                )
    if created:
        await tx.run(q.CREATE_CREDITS, rows=created)
    if corrections:
        await tx.run(q.LINK_CORRECTIONS, rows=corrections)
    if updated:
        await tx.run(q.UPDATE_CREDITS, rows=updated)
    if created or updated:
        await tx.run(q.ROLL_UP_CREDITS, keys=sorted({c.key for c in slas}))
    await write_audits(tx, audits)


def _new_credit(
    key: str,
    violation_id: str,
    step: New,
    target: Calculation | None,
    currency: str | None,
    now: str,
) -> dict[str, Any]:
    code = currency or (target.currency if target is not None else None)
    assert code is not None, "a new credit has a currency: the policy's or its period's"
    props: dict[str, Any] = {
        "id": new_id("Credit"),
        "remediationKey": key,
        "violationId": violation_id,
        "status": str(CreditStatus.PROPOSED),
        "percent": 0.0 if target is None else target.percent,
        "amount": stored(step.amount, code),
        "currency": code,
        "calculation": step.calculation,
        "createdAt": now,
    }
    if step.corrects_id is not None:
        props["correctsId"] = step.corrects_id
    return {"key": key, "props": props}


@dataclass(frozen=True, slots=True)
class IndemnityRecord:
    """The share of a credit an OLA or UC carries, charged to its team or vendor."""

    credit_id: str
    agreement_id: str
    party_id: str
    percent: float
    amount: Decimal
    currency: str


def _indemnifies(clauses: str | None) -> bool:
    return any(c.get("kind") == INDEMNIFICATION for c in json.loads(clauses or "[]"))


class CreditRepository:
    """Credits, read with their agreement (`scope`), and the people's transitions."""

    def __init__(self, graph: Graph, scope: Scope = UNLIMITED, clock: Clock = system_clock) -> None:
        self._graph = graph
        self._scope = scope
        self._clock = clock

    # ---- reads ----------------------------------------------------------------

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Credit]:
        rows = await self._graph.read(q.CREDITS_BY_IDS, ids=list(ids), **self._scope.params())
        found = [credit_from_props(row["credit"]) for row in rows]
        return {c.id: c for c in found}

    async def by_remediation_keys(self, keys: Sequence[str]) -> dict[str, builtins.list[Credit]]:
        """Every credit of each period (remediation key), oldest first."""
        rows = await self._graph.read(
            q.CREDITS_BY_REMEDIATION_KEYS, keys=list(keys), **self._scope.params()
        )
        grouped: dict[str, builtins.list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["key"], []).append(row["credit"])
        return {key: _ordered(found) for key, found in grouped.items()}

    async def list(
        self,
        statuses: Sequence[CreditStatus] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = _LIST_LIMIT,
    ) -> list[Credit]:
        """Credits in these statuses whose violation period overlaps [start, end)."""
        rows = await self._graph.read(
            q.CREDITS,
            statuses=None if statuses is None else [str(s) for s in statuses],
            limit=limit,
            **{
                "from": None if start is None else to_iso(start),
                "to": None if end is None else to_iso(end),
            },
            **self._scope.params(),
        )
        return [credit_from_props(row["credit"]) for row in rows]

    async def indemnities_of(
        self, credit_ids: Sequence[str]
    ) -> dict[str, builtins.list[IndemnityRecord]]:
        """The indemnities of each credit: one per OLA or UC lineage that underpins its
        SLA with an INDEMNIFICATION clause and `indemnityPercent`, and missed a target
        in an overlapping period (its latest such version). Empty for customers."""
        if not self._scope.internal or not credit_ids:
            return {}
        credits = await self.by_ids(credit_ids)
        rows = await self._graph.read(q.INDEMNITIES, ids=list(credits), **self._scope.params())
        chosen: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            if not _indemnifies(row["clauses"]) or row["partyId"] is None:
                continue
            slot = (row["creditId"], row["lineage"] or row["agreementId"])
            if slot not in chosen or int(row["version"]) > int(chosen[slot]["version"]):
                chosen[slot] = row
        found: dict[str, builtins.list[IndemnityRecord]] = {}
        for (credit_id, _), row in sorted(chosen.items()):
            credit = credits[credit_id]
            percent = float(row["percent"])
            found.setdefault(credit_id, []).append(
                IndemnityRecord(
                    credit_id=credit_id,
                    agreement_id=row["agreementId"],
                    party_id=row["partyId"],
                    percent=percent,
                    amount=rules.indemnity_amount(percent, credit.amount, credit.currency),
                    currency=credit.currency,
                )
            )
        return found

    # ---- transitions ------------------------------------------------------------

    async def approve(self, credit_id: str, actor: Actor, note: str | None = None) -> Credit:
        return await self._change(
            credit_id, actor, "credit.approve", note, lambda c, _: rules.approve(c, actor.user)
        )

    async def issue(self, credit_id: str, actor: Actor) -> Credit:
        return await self._change(
            credit_id, actor, "credit.issue", None, lambda c, _: rules.issue(c, actor.user)
        )

    async def resolve(self, credit_id: str, actor: Actor, amount: Decimal, reason: str) -> Credit:
        return await self._change(
            credit_id,
            actor,
            "credit.resolve",
            reason,
            lambda c, others: rules.resolve(
                c,
                actor.user,
                amount,
                reason,
                rules.issued_total(others) if c.corrects_id is not None else Decimal(0),
            ),
        )

    async def waive(self, credit_id: str, actor: Actor, reason: str) -> Credit:
        return await self._change(
            credit_id,
            actor,
            "credit.waive",
            reason,
            lambda c, _: rules.waive(c, actor.user, reason),
        )

    async def dispute(self, credit_id: str, actor: Actor, reason: str) -> Credit:
        """Dispute a credit; an ISSUED one is never changed: its dispute is a new
        correction credit (amount 0, DISPUTED) that CORRECTS it, which is returned."""
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> Credit:
            credit, key, others = await self._load(tx, credit_id, now)
            if credit.status is not CreditStatus.ISSUED:
                changed = rules.dispute(credit, actor.user, reason) | {"updatedAt": now}
                return await self._write(tx, credit, changed, actor, "credit.dispute", reason)
            rules.correction_dispute(credit, others, reason)
            props: dict[str, Any] = {
                "id": new_id("Credit"),
                "remediationKey": key,
                "violationId": credit.violation_id,
                "status": str(CreditStatus.DISPUTED),
                "percent": credit.percent,
                "amount": stored(Decimal(0), credit.currency),
                "currency": credit.currency,
                "calculation": f"correction of {credit.id}"
                f" ({shown(credit.amount, credit.currency)} issued), disputed",
                "createdAt": now,
                "correctsId": credit.id,
                "disputeReason": reason.strip(),
                "disputedBy": actor.user,
            }
            await tx.run(q.CREATE_CREDITS, rows=[{"key": key, "props": props}])
            await tx.run(q.LINK_CORRECTIONS, rows=[{"id": props["id"], "correctsId": credit.id}])
            await tx.run(q.ROLL_UP_CREDITS, keys=[key])
            await write_audits(
                tx,
                [
                    AuditEntry.of(
                        actor,
                        "credit.dispute",
                        str(props["id"]),
                        reason=reason.strip(),
                        after=_audited(props),
                    )
                ],
            )
            return credit_from_props(props)

        return await self._graph.write_transaction(work)

    async def _load(
        self, tx: Transaction, credit_id: str, now: str
    ) -> tuple[Credit, str, builtins.list[Credit]]:
        """The credit to change, locked first (`q.LOCK_CREDIT`), its remediation's key
        and every credit of its period."""
        await tx.run(q.LOCK_CREDIT, id=credit_id, now=now, **self._scope.params())
        rows = await tx.run(q.CREDIT_FOR_CHANGE, id=credit_id, **self._scope.params())
        if not rows:
            raise NotFoundError("credit", credit_id)
        row = rows[0]
        return credit_from_props(row["credit"]), row["key"], _ordered(row["others"])

    async def _write(
        self,
        tx: Transaction,
        credit: Credit,
        props: dict[str, Any],
        actor: Actor,
        action: str,
        reason: str | None,
    ) -> Credit:
        await tx.run(q.UPDATE_CREDITS, rows=[{"id": credit.id, "props": props}])
        await tx.run(q.ROLL_UP_CREDITS, keys=[credit.remediation_key])
        before = _props(credit)
        await write_audits(
            tx,
            [
                AuditEntry.of(
                    actor,
                    action,
                    credit.id,
                    reason=reason,
                    before=_audited(before),
                    after=_audited({**before, **props}),
                )
            ],
        )
        rows = await tx.run(q.CREDIT_FOR_CHANGE, id=credit.id, **self._scope.params())
        return credit_from_props(rows[0]["credit"])

    async def _change(
        self,
        credit_id: str,
        actor: Actor,
        action: str,
        reason: str | None,
        move: Callable[[Credit, builtins.list[Credit]], dict[str, object]],
    ) -> Credit:
        now = to_iso(self._clock())

        async def work(tx: Transaction) -> Credit:
            credit, _, others = await self._load(tx, credit_id, now)
            props: dict[str, Any] = dict(move(credit, others)) | {"updatedAt": now}
            return await self._write(tx, credit, props, actor, action, reason)

        return await self._graph.write_transaction(work)


async def roll_up_existing_credits(graph: Graph) -> None:
    """Migration: sum the credits of remediations written before the roll-up existed."""
    rows = await graph.read(q.REMEDIATIONS_WITH_CREDITS)
    keys = [row["key"] for row in rows]
    for start in range(0, len(keys), 1000):
        await graph.write(q.ROLL_UP_CREDITS, keys=keys[start : start + 1000])
