"""Service credits and indemnities: the amounts, the calculation spelt out, the
ledger's state machine and what a new verdict does to the credits of its period.
No I/O here.

Amounts (`hub.domain.money`: Decimal, half to even to the currency's minor unit):

    credit    = creditPercent x monthly fee x months in the period (a quarter is 3)
    indemnity = indemnityPercent x credit amount

`creditPercent` is the violation's: already pro-rated when the SLA version judged
only a part of the period (`hub.domain.terms_in_force.prorated`).

States (`CreditStatus`) and who moves them:

    PROPOSED --approve--> APPROVED --issue--> ISSUED          (approver)
    PROPOSED | APPROVED --dispute--> DISPUTED                  (customer or editor)
    DISPUTED --resolve(amount)--> RESOLVED --issue--> ISSUED   (approver)
    PROPOSED | APPROVED | DISPUTED --waive--> WAIVED           (approver)

- An ISSUED credit is never changed. Disputing it opens a *correction*: a new credit
  of amount 0, DISPUTED, that CORRECTS it; resolving the correction with the final
  amount of the period's credit sets the correction to the difference (final minus
  what was issued); waiving it leaves what was issued.
- Four eyes: the system proposes, so the person who disputed or resolved a credit
  may not approve it, the person who disputed it may not resolve or waive it, and
  the person who resolved it may not issue it.
- New figures for the period (`plan_revision`): a credit not yet issued and not
  decided by a person (PROPOSED, APPROVED, DISPUTED) takes the new amount; an
  APPROVED one goes back to PROPOSED, since what was approved changed. When
  something was issued, the difference between the new amount and what was issued
  becomes a correction credit (PROPOSED). A period cleared by late data waives what
  was not issued ("cleared by late data", RESOLVED included) and corrects what was
  issued by its negative.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hub.domain.money import parse, rounded, shown, stored
from hub.domain.workflow import WorkflowError

SYSTEM_ACTOR = "system:assessment"
CLEARED = "cleared by late data"
NO_CREDIT = "no credit owed by the revised figures"


class CreditStatus(enum.StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    ISSUED = "ISSUED"
    DISPUTED = "DISPUTED"
    RESOLVED = "RESOLVED"
    WAIVED = "WAIVED"


# Credits an assessment may still change: not issued, not decided by a person.
OPEN = frozenset({CreditStatus.PROPOSED, CreditStatus.APPROVED, CreditStatus.DISPUTED})


class CreditError(WorkflowError):
    """A credit transition the rules forbid; the message says why and what to do."""


# ---- amounts ------------------------------------------------------------------------


def months_in(period_start: datetime, period_end: datetime) -> int:
    """The whole calendar months a period spans: 1 for a month, 3 for a quarter
    (assessment periods are whole months or quarters; at least 1)."""
    months = (period_end.year - period_start.year) * 12 + period_end.month - period_start.month
    return max(months, 1)


def credit_amount(
    percent: Decimal | float, monthly_fee: Decimal, months: int, currency: str
) -> Decimal:
    """percent x monthly fee x months, half to even to the currency's minor unit.

    >>> credit_amount(10, Decimal("12000.00"), 1, "EUR")
    Decimal('1200.00')
    """
    if months < 1:
        raise ValueError(f"months: give 1 or more, not {months}")
    share = parse(percent)
    fee = parse(monthly_fee)
    if not Decimal(0) <= share <= Decimal(100):
        raise ValueError(f"percent: give a percentage from 0 to 100, not {percent}")
    if fee < 0:
        raise ValueError(f"monthly_fee: give an amount of 0 or more, not {monthly_fee}")
    return rounded(share * fee * months / 100, currency)


def indemnity_amount(indemnity_percent: Decimal | float, credit: Decimal, currency: str) -> Decimal:
    """The share of a credit an OLA or UC carries, rounded like the credit."""
    share = parse(indemnity_percent)
    if not Decimal(0) <= share <= Decimal(100):
        raise ValueError(f"indemnity_percent: give a percentage from 0 to 100, not {share}")
    return rounded(share * parse(credit) / 100, currency)


def _percent(value: Decimal | float) -> str:
    """A percentage as calculations show it: 10, 99.5, 5.16129 (6 significant digits)."""
    return f"{float(value):.6g}%"


@dataclass(frozen=True, slots=True)
class Calculation:
    """What a credit is computed from: a violation's figures and the SLA's fee."""

    measured: float
    target: float
    percent: float  # the violation's creditPercent (pro-rated for a part)
    monthly_fee: Decimal
    currency: str
    period_start: datetime
    period_end: datetime
    part_start: datetime | None = None
    part_end: datetime | None = None

    @property
    def months(self) -> int:
        return months_in(self.period_start, self.period_end)

    @property
    def amount(self) -> Decimal:
        return credit_amount(self.percent, self.monthly_fee, self.months, self.currency)

    @property
    def prorated(self) -> bool:
        return (
            self.part_start is not None
            and self.part_end is not None
            and (self.part_start, self.part_end) != (self.period_start, self.period_end)
        )

    def text(self) -> str:
        """e.g. "99.2% < 99.5%: tier 10% x fee 12000.00 EUR = 1200.00 EUR"; a quarter
        says "x 3 months", a part spells out its share of the period."""
        head = f"{_percent(self.measured)} < {_percent(self.target)}: "
        fee = f"fee {shown(self.monthly_fee, self.currency)}"
        months = "" if self.months == 1 else f" x {self.months} months"
        if self.prorated:
            assert self.part_start is not None
            assert self.part_end is not None
            part = self.part_end - self.part_start
            period = self.period_end - self.period_start
            share = part / period
            tier = self.percent / share if share else 0.0
            days = f"{part.total_seconds() / 86400:g} of {period.total_seconds() / 86400:g} days"
            rate = (
                f"tier {_percent(tier)} x part {self.part_start:%Y-%m-%d}.."
                f"{self.part_end:%Y-%m-%d} ({days}) = {_percent(self.percent)}"
            )
        else:
            rate = f"tier {_percent(self.percent)}"
        return f"{head}{rate} x {fee}{months} = {shown(self.amount, self.currency)}"


def correction_text(calculation: str, target: Decimal, issued: Decimal, currency: str) -> str:
    """A correction's calculation: the period's amount now, less what was issued."""
    difference = target - issued
    return (
        f"correction: {calculation}; less {shown(issued, currency)} issued"
        f" = {shown(difference, currency)}"
    )


# ---- the ledger's state machine -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credit:
    """One credit as the ledger holds it."""

    id: str
    remediation_key: str
    violation_id: str
    status: CreditStatus
    percent: float
    amount: Decimal
    currency: str
    calculation: str
    created_at: str
    dispute_reason: str | None = None
    resolution: str | None = None
    corrects_id: str | None = None
    disputed_by: str | None = None
    resolved_by: str | None = None
    waived_by: str | None = None


def _refuse(credit: Credit, action: str, allowed: Sequence[CreditStatus]) -> CreditError:
    names = " or ".join(str(s) for s in allowed)
    return CreditError(
        f"credit {credit.id} is {credit.status}; only a {names} credit can be {action}"
    )


def _require(text: str | None, what: str) -> str:
    if text is None or not text.strip():
        raise CreditError(f"{what}: say why (give a non-blank {what})")
    return text.strip()


def approve(credit: Credit, actor: str) -> dict[str, object]:
    """PROPOSED -> APPROVED; not by who disputed or resolved it (four eyes)."""
    if credit.status is not CreditStatus.PROPOSED:
        raise _refuse(credit, "approved", [CreditStatus.PROPOSED])
    if actor in (credit.disputed_by, credit.resolved_by):
        raise CreditError(
            f"credit {credit.id}: {actor} disputed or resolved it and may not approve it too; "
            "ask another approver"
        )
    return {"status": str(CreditStatus.APPROVED), "approvedBy": actor}


def issue(credit: Credit, actor: str) -> dict[str, object]:
    """APPROVED or RESOLVED -> ISSUED; a resolved one not by its resolver."""
    allowed = [CreditStatus.APPROVED, CreditStatus.RESOLVED]
    if credit.status not in allowed:
        raise _refuse(credit, "issued", allowed)
    if credit.status is CreditStatus.RESOLVED and actor == credit.resolved_by:
        raise CreditError(
            f"credit {credit.id}: {actor} resolved it and may not issue it too; "
            "ask another approver"
        )
    return {"status": str(CreditStatus.ISSUED), "issuedBy": actor}


def dispute(credit: Credit, actor: str, reason: str | None) -> dict[str, object]:
    """PROPOSED or APPROVED -> DISPUTED, with a reason. (An ISSUED credit is disputed
    through a correction: `correction_dispute`.)"""
    why = _require(reason, "reason")
    allowed = [CreditStatus.PROPOSED, CreditStatus.APPROVED]
    if credit.status not in allowed:
        raise _refuse(credit, "disputed", [*allowed, CreditStatus.ISSUED])
    return {"status": str(CreditStatus.DISPUTED), "disputeReason": why, "disputedBy": actor}


def resolve(
    credit: Credit, actor: str, final_amount: Decimal, reason: str | None, issued: Decimal
) -> dict[str, object]:
    """DISPUTED -> RESOLVED with the period's final amount; the credit's amount is
    that less what was already `issued` for the period (non-zero for a correction).
    Not by who disputed it."""
    why = _require(reason, "reason")
    if credit.status is not CreditStatus.DISPUTED:
        raise _refuse(credit, "resolved", [CreditStatus.DISPUTED])
    if actor == credit.disputed_by:
        raise CreditError(
            f"credit {credit.id}: {actor} disputed it and may not resolve it too; "
            "ask another approver"
        )
    final = rounded(parse(final_amount), credit.currency)
    if final < 0:
        raise CreditError(f"amount: a credit cannot be negative; give 0 or more, not {final}")
    amount = rounded(final - issued, credit.currency)
    return {
        "status": str(CreditStatus.RESOLVED),
        "amount": stored(amount, credit.currency),
        "resolution": why,
        "resolvedBy": actor,
    }


def waive(credit: Credit, actor: str, reason: str | None) -> dict[str, object]:
    """PROPOSED, APPROVED or DISPUTED -> WAIVED, with a reason; not by who disputed it."""
    why = _require(reason, "reason")
    allowed = sorted(OPEN)
    if credit.status not in OPEN:
        raise _refuse(credit, "waived", allowed)
    if actor == credit.disputed_by:
        raise CreditError(
            f"credit {credit.id}: {actor} disputed it and may not waive it too; "
            "ask another approver"
        )
    return {"status": str(CreditStatus.WAIVED), "resolution": why, "waivedBy": actor}


def correction_dispute(issued: Credit, others: Sequence[Credit], reason: str | None) -> None:
    """Check that an ISSUED credit may be disputed: with a reason, and while no other
    credit of its period is still open (dispute that one instead)."""
    _require(reason, "reason")
    if issued.status is not CreditStatus.ISSUED:
        raise _refuse(issued, "disputed", [CreditStatus.PROPOSED, CreditStatus.APPROVED])
    for other in others:
        if other.id != issued.id and other.status in OPEN:
            raise CreditError(
                f"credit {issued.id} was issued and its period already has the open credit "
                f"{other.id} ({other.status}); dispute that one instead"
            )


# ---- what a new verdict does ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    """Set `props` on credit `credit_id` (audited before/after)."""

    credit_id: str
    props: dict[str, object]
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class New:
    """A new PROPOSED credit of `amount`; `corrects_id` names the issued credit it
    corrects, if any."""

    amount: Decimal
    calculation: str
    corrects_id: str | None


def issued_total(credits: Sequence[Credit]) -> Decimal:
    """What was issued for a period: the sum of its ISSUED credits."""
    return sum((c.amount for c in credits if c.status is CreditStatus.ISSUED), Decimal(0))


def plan_revision(
    credits: Sequence[Credit],
    target: Calculation | None,
    currency: str | None,
    *,
    cleared: bool,
) -> list[Update | New]:
    """What a new verdict does to the credits of its period, oldest first.

    `target` is the credit the new figures earn (None when they earn none, or the
    period was `cleared`); `currency` the credits' (None when there are none yet).
    """
    amount = Decimal(0) if target is None else target.amount
    issued = issued_total(credits)
    latest_issued = next((c for c in reversed(credits) if c.status is CreditStatus.ISSUED), None)
    open_credits = [c for c in credits if c.status in OPEN]
    resolved = [c for c in credits if c.status is CreditStatus.RESOLVED]
    # Decided by a person: resolved, or waived by an approver (not by an assessment).
    decided = resolved + [
        c for c in credits if c.status is CreditStatus.WAIVED and c.waived_by != SYSTEM_ACTOR
    ]
    changes: list[Update | New] = []
    if cleared:
        for credit in [*open_credits, *resolved]:
            changes.append(
                Update(
                    credit.id,
                    {
                        "status": str(CreditStatus.WAIVED),
                        "resolution": CLEARED,
                        "waivedBy": SYSTEM_ACTOR,
                    },
                    "credit.waive",
                    CLEARED,
                )
            )
        if latest_issued is not None and issued != 0:
            assert currency is not None
            changes.append(
                New(
                    -issued,
                    f"{CLEARED}: less {shown(issued, currency)} issued"
                    f" = {shown(-issued, currency)}",
                    latest_issued.id,
                )
            )
        return changes
    if not open_credits and (resolved or (decided and latest_issued is None)):
        # A person resolved the period's credit (not issued yet), or waived it: that
        # decision stands until the period is cleared.
        return []
    text = None if target is None else target.text()
    if open_credits:
        for credit in open_credits[:-1]:  # only ever one; older ones are waived
            changes.append(
                Update(
                    credit.id,
                    {
                        "status": str(CreditStatus.WAIVED),
                        "resolution": NO_CREDIT,
                        "waivedBy": SYSTEM_ACTOR,
                    },
                    "credit.waive",
                    NO_CREDIT,
                )
            )
        credit = open_credits[-1]
        if target is None and issued == 0:
            changes.append(
                Update(
                    credit.id,
                    {
                        "status": str(CreditStatus.WAIVED),
                        "resolution": NO_CREDIT,
                        "waivedBy": SYSTEM_ACTOR,
                    },
                    "credit.waive",
                    NO_CREDIT,
                )
            )
            return changes
        cur = credit.currency
        new_amount = rounded(amount - issued, cur)
        calculation = (
            text
            if credit.corrects_id is None and text is not None
            else correction_text(text or NO_CREDIT, amount, issued, cur)
        )
        props: dict[str, object] = {
            "amount": stored(new_amount, cur),
            "percent": 0.0 if target is None else target.percent,
            "calculation": calculation,
        }
        if credit.status is CreditStatus.APPROVED:
            props["status"] = str(CreditStatus.PROPOSED)  # what was approved changed
        changes.append(Update(credit.id, props, "credit.revise", "new figures for the period"))
        return changes
    if latest_issued is not None:
        if amount == issued or (target is None and issued == 0):
            return []
        assert currency is not None
        changes.append(
            New(
                amount - issued,
                correction_text(text or NO_CREDIT, amount, issued, currency),
                latest_issued.id,
            )
        )
        return changes
    if target is not None and amount > 0 and text is not None:
        changes.append(New(amount, text, None))
    return changes
