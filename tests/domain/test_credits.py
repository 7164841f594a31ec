"""Credit amounts, their calculation text, the ledger's state machine with four eyes,
indemnities, and what new verdicts do to a period's credits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import credits as c
from hub.domain.credits import Calculation, Credit, CreditError, CreditStatus, New, Update

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
FEE = Decimal("12000.00")


def calc(percent: float = 10.0, **fields: object) -> Calculation:
    values: dict[str, object] = {
        "measured": 99.2,
        "target": 99.5,
        "percent": percent,
        "monthly_fee": FEE,
        "currency": "EUR",
        "period_start": JAN,
        "period_end": FEB,
    }
    values.update(fields)
    return Calculation(**values)  # type: ignore[arg-type]


def credit(
    status: CreditStatus = CreditStatus.PROPOSED, amount: str = "1200.00", **f: object
) -> Credit:
    base = Credit(
        id="cr_1",
        remediation_key="k",
        violation_id="vio_1",
        status=status,
        percent=10.0,
        amount=Decimal(amount),
        currency="EUR",
        calculation="x",
        created_at="2026-02-01T00:00:00.000000Z",
    )
    return replace(base, **f)  # type: ignore[arg-type]


# ---- amounts ---------------------------------------------------------------------


def test_months_in_a_period() -> None:
    assert c.months_in(JAN, FEB) == 1
    assert c.months_in(JAN, APR) == 3
    assert c.months_in(datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == 3


def test_credit_amount_by_hand() -> None:
    assert c.credit_amount(10, FEE, 1, "EUR") == Decimal("1200.00")
    assert c.credit_amount(10, FEE, 3, "EUR") == Decimal("3600.00")
    # 12.5% of 99.99 = 12.49875 -> 12.50; JPY has no minor unit.
    assert c.credit_amount(12.5, Decimal("99.99"), 1, "EUR") == Decimal("12.50")
    assert c.credit_amount(10, Decimal("12345"), 1, "JPY") == Decimal("1234")  # 1234.5, even
    assert c.credit_amount(0, FEE, 1, "EUR") == Decimal("0.00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((101, FEE, 1, "EUR"), "percent"),
        ((10, Decimal(-1), 1, "EUR"), "monthly_fee"),
        ((10, FEE, 0, "EUR"), "months"),
        ((10, FEE, 1, "EURO"), "ISO 4217"),
    ],
)
def test_credit_amount_refuses_bad_input(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        c.credit_amount(*args)  # type: ignore[arg-type]


def test_indemnity_amount() -> None:
    assert c.indemnity_amount(50, Decimal("1200.00"), "EUR") == Decimal("600.00")
    assert c.indemnity_amount(33.3, Decimal("100.00"), "EUR") == Decimal("33.30")
    assert c.indemnity_amount(50, Decimal("0.05"), "EUR") == Decimal("0.02")  # 0.025, even
    with pytest.raises(ValueError, match="indemnity_percent"):
        c.indemnity_amount(150, Decimal(1), "EUR")


def test_calculation_texts() -> None:
    assert calc().text() == "99.2% < 99.5%: tier 10% x fee 12000.00 EUR = 1200.00 EUR"
    quarter = calc(period_end=APR)
    assert quarter.text() == ("99.2% < 99.5%: tier 10% x fee 12000.00 EUR x 3 months = 3600.00 EUR")
    # The version judged 15 of January's 31 days: 10% x 15/31 of the month.
    part = calc(10 * 15 / 31, part_start=datetime(2026, 1, 17, tzinfo=UTC), part_end=FEB)
    assert part.amount == Decimal("580.65")
    assert part.text() == (
        "99.2% < 99.5%: tier 10% x part 2026-01-17..2026-02-01 (15 of 31 days) = 4.83871%"
        " x fee 12000.00 EUR = 580.65 EUR"
    )


@given(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.decimals(min_value=0, max_value=10**7, places=2),
    st.sampled_from([1, 3]),
    st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_credit_amount_is_the_product_within_half_a_minor_unit(
    percent: float, fee: Decimal, months: int, currency: str
) -> None:
    amount = c.credit_amount(percent, fee, months, currency)
    exact = Decimal(repr(percent)) * fee * months / 100
    step = Decimal(1).scaleb(-{"EUR": 2, "JPY": 0, "KWD": 3}[currency])
    assert abs(amount - exact) <= step / 2
    assert Decimal(0) <= amount <= fee * months + step


@given(
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.decimals(min_value=0, max_value=10**6, places=2),
)
def test_indemnity_never_exceeds_its_credit(percent: float, amount: Decimal) -> None:
    indemnity = c.indemnity_amount(percent, amount, "EUR")
    assert Decimal(0) <= indemnity <= amount


# ---- the state machine -----------------------------------------------------------


def test_the_happy_path() -> None:
    proposed = credit()
    assert c.approve(proposed, "abe") == {"status": "APPROVED", "approvedBy": "abe"}
    assert c.issue(credit(CreditStatus.APPROVED), "abe") == {"status": "ISSUED", "issuedBy": "abe"}


def test_dispute_resolve_and_issue() -> None:
    disputed = c.dispute(credit(), "customer:1", "the outage was planned")
    assert disputed == {
        "status": "DISPUTED",
        "disputeReason": "the outage was planned",
        "disputedBy": "customer:1",
    }
    now = credit(CreditStatus.DISPUTED, disputed_by="erin")
    resolved = c.resolve(now, "abe", Decimal("600"), "half of it", Decimal(0))
    assert resolved["amount"] == "600.00"
    assert resolved["status"] == "RESOLVED"
    with pytest.raises(CreditError, match="resolved it"):
        c.issue(credit(CreditStatus.RESOLVED, resolved_by="abe"), "abe")
    assert c.issue(credit(CreditStatus.RESOLVED, resolved_by="abe"), "ann")["status"] == "ISSUED"


def test_four_eyes() -> None:
    with pytest.raises(CreditError, match="may not resolve"):
        c.resolve(
            credit(CreditStatus.DISPUTED, disputed_by="abe"), "abe", Decimal(1), "x", Decimal(0)
        )
    with pytest.raises(CreditError, match="may not waive"):
        c.waive(credit(CreditStatus.DISPUTED, disputed_by="abe"), "abe", "x")
    with pytest.raises(CreditError, match="may not approve"):
        c.approve(credit(disputed_by="abe"), "abe")


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (CreditStatus.PROPOSED, {"approve", "dispute", "waive"}),
        (CreditStatus.APPROVED, {"issue", "dispute", "waive"}),
        (CreditStatus.DISPUTED, {"resolve", "waive"}),
        (CreditStatus.RESOLVED, {"issue"}),
        (CreditStatus.ISSUED, set()),
        (CreditStatus.WAIVED, set()),
    ],
)
def test_legal_transitions(status: CreditStatus, allowed: set[str]) -> None:
    moves = {
        "approve": lambda x: c.approve(x, "ann"),
        "issue": lambda x: c.issue(x, "ann"),
        "dispute": lambda x: c.dispute(x, "ann", "why"),
        "resolve": lambda x: c.resolve(x, "ann", Decimal(1), "why", Decimal(0)),
        "waive": lambda x: c.waive(x, "ann", "why"),
    }
    legal = set()
    for name, move in moves.items():
        try:
            move(credit(status))
        except CreditError:
            continue
        legal.add(name)
    assert legal == allowed


def test_reasons_are_required() -> None:
    for move in (
        lambda: c.dispute(credit(), "ann", " "),
        lambda: c.waive(credit(), "ann", None),
        lambda: c.resolve(credit(CreditStatus.DISPUTED), "ann", Decimal(1), "", Decimal(0)),
    ):
        with pytest.raises(CreditError, match="reason"):
            move()


def test_a_resolution_of_an_issued_credit_is_the_difference() -> None:
    correction = credit(CreditStatus.DISPUTED, amount="0", corrects_id="cr_0")
    resolved = c.resolve(correction, "abe", Decimal("900"), "partly planned", Decimal("1200.00"))
    assert resolved["amount"] == "-300.00"
    with pytest.raises(CreditError, match="negative"):
        c.resolve(correction, "abe", Decimal(-1), "x", Decimal(0))


def test_an_issued_credit_is_disputed_through_a_correction() -> None:
    issued = credit(CreditStatus.ISSUED)
    c.correction_dispute(issued, [issued], "wrong")
    open_one = credit(id="cr_2", corrects_id="cr_1")
    with pytest.raises(CreditError, match="dispute that one"):
        c.correction_dispute(issued, [issued, open_one], "wrong")
    with pytest.raises(CreditError, match="disputed"):
        c.correction_dispute(credit(), [], "wrong")


# ---- new verdicts ----------------------------------------------------------------


def test_a_new_violation_proposes_a_credit() -> None:
    [new] = c.plan_revision([], calc(), None, cleared=False)
    assert new == New(Decimal("1200.00"), calc().text(), None)
    assert c.plan_revision([], calc(0.0), None, cleared=False) == []
    assert c.plan_revision([], None, None, cleared=True) == []


def test_new_figures_update_an_open_credit_and_reopen_an_approved_one() -> None:
    [update] = c.plan_revision([credit(CreditStatus.APPROVED)], calc(25.0), "EUR", cleared=False)
    assert isinstance(update, Update)
    assert update.props == {
        "amount": "3000.00",
        "percent": 25.0,
        "calculation": calc(25.0).text(),
        "status": "PROPOSED",
    }


def test_new_figures_after_issue_make_a_correction() -> None:
    issued = credit(CreditStatus.ISSUED)
    [new] = c.plan_revision([issued], calc(5.0), "EUR", cleared=False)
    assert isinstance(new, New)
    assert (new.amount, new.corrects_id) == (Decimal("-600.00"), "cr_1")
    assert new.calculation.endswith("less 1200.00 EUR issued = -600.00 EUR")
    assert c.plan_revision([issued], calc(), "EUR", cleared=False) == []


def test_clearing_waives_what_was_not_issued_and_reverses_what_was() -> None:
    [waived] = c.plan_revision([credit(CreditStatus.DISPUTED)], None, "EUR", cleared=True)
    assert isinstance(waived, Update)
    assert waived.props["status"] == "WAIVED"
    assert waived.props["resolution"] == "cleared by late data"
    [reversal] = c.plan_revision([credit(CreditStatus.ISSUED)], None, "EUR", cleared=True)
    assert isinstance(reversal, New)
    assert reversal.amount == Decimal("-1200.00")


def test_a_persons_decision_stands() -> None:
    resolved = credit(CreditStatus.RESOLVED, amount="500.00", resolved_by="abe")
    assert c.plan_revision([resolved], calc(25.0), "EUR", cleared=False) == []
    waived = credit(CreditStatus.WAIVED, waived_by="abe")
    assert c.plan_revision([waived], calc(25.0), "EUR", cleared=False) == []
    # Waived by an assessment (cleared), then breached again: a new credit.
    system = credit(CreditStatus.WAIVED, waived_by=c.SYSTEM_ACTOR)
    [new] = c.plan_revision([system], calc(), "EUR", cleared=False)
    assert isinstance(new, New)


def _apply(credits: list[Credit], changes: list[Update | New], n: int) -> list[Credit]:
    out = list(credits)
    for change in changes:
        if isinstance(change, New):
            out.append(
                credit(
                    id=f"cr_n{n}_{len(out)}",
                    amount=str(change.amount),
                    corrects_id=change.corrects_id,
                )
            )
            continue
        i = next(i for i, x in enumerate(out) if x.id == change.credit_id)
        props = change.props
        out[i] = replace(
            out[i],
            status=CreditStatus(str(props.get("status", out[i].status))),
            amount=Decimal(str(props.get("amount", out[i].amount))),
            waived_by=str(props["waivedBy"]) if "waivedBy" in props else out[i].waived_by,
        )
    return out


steps = st.lists(
    st.one_of(
        st.none(),  # cleared
        st.sampled_from([0.0, 5.0, 10.0, 25.0]),  # new figures
        st.just("issue"),  # a person issues the open credit
    ),
    max_size=8,
)


@given(steps)
def test_the_ledger_always_adds_up_to_what_the_figures_earn(history: list[object]) -> None:
    """Whatever sequence of verdicts and issues: what was issued plus what is open
    is what the latest figures earn (0 once cleared), and at most one credit is open."""
    credits: list[Credit] = []
    earned = Decimal(0)
    for n, step in enumerate(history):
        if step == "issue":
            credits = [
                replace(x, status=CreditStatus.ISSUED) if x.status in c.OPEN else x for x in credits
            ]
            continue
        cleared = step is None
        target = None if cleared or step == 0.0 else calc(float(step))  # type: ignore[arg-type]
        changes = c.plan_revision(credits, target, "EUR" if credits else None, cleared=cleared)
        credits = _apply(credits, changes, n)
        earned = Decimal(0) if target is None else target.amount
        open_credits = [x for x in credits if x.status in c.OPEN]
        assert len(open_credits) <= 1
        total = sum(
            (x.amount for x in credits if x.status in {*c.OPEN, CreditStatus.ISSUED}), Decimal(0)
        )
        assert total == earned, (history[: n + 1], credits)
