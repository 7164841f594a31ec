"""The credit ledger on the real graph (`hub.graph.repositories.credits`): credits
proposed by assessments, revised and corrected by late data, waived when a period is
cleared, moved along their workflow with four eyes, audited, scoped; and the
indemnities of the UCs underpinning the SLA.

The SLA `Shop` has one 99.5 % calendar-month objective and a policy of 10 % below
99.5 % (25 % below 95 %) of a 12,000.00 EUR monthly fee; January is measured from
one 5-minute bucket of 10,000 events and assessed on 1 February.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from slo_support import bound, objective_spec, objectives_of, store, utc
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.access import Scope
from hub.domain.credits import Credit, CreditError, CreditStatus
from hub.domain.models import (
    AgreementKind,
    AgreementRevisionSpec,
    CreditPolicySpec,
    CreditTierSpec,
)
from hub.domain.terms import ClauseSpec
from hub.domain.workflow import Actor, Role
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph, GraphConnection
from hub.graph.cypher import Cypher
from hub.graph.cypher import credits as cq
from hub.graph.errors import NotFoundError
from hub.graph.repositories import AgreementRepository, AuditRepository
from hub.graph.repositories.credits import CreditRepository

JAN, FEB = utc(2026, 1, 1), utc(2026, 2, 1)
ANN = Actor("ann", Role.APPROVER)

POLICY = CreditPolicySpec(
    tiers=(
        CreditTierSpec(below_percent=99.5, credit_percent=10),
        CreditTierSpec(below_percent=95.0, credit_percent=25),
    ),
    monthly_fee=Decimal("12000.00"),
    currency="EUR",
)


class Shop:
    def __init__(self, sla: str, objective_id: str, service: ServiceLevels, **ids: str) -> None:
        self.sla = sla
        self.objective_id = objective_id
        self.service = service
        self.ids = ids


async def shop(
    builder: GraphBuilder, good: int = 9900, *, uc_percent: float | None = 50.0, **policy: object
) -> Shop:
    """The SLA (January at `good` of 10,000) and a UC underpinning it with an
    INDEMNIFICATION clause, its January breached too."""
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(
        AgreementKind.SLA,
        "Shop",
        ["shop"],
        [objective_spec(target=99.5, name="avail")],
        credit_policy=POLICY.model_copy(update=policy),
    )
    uc = await author(
        AgreementKind.UC,
        "Hosting",
        ["db"],
        [objective_spec(name="hosting")],
        underpins=[sla],
        indemnity_percent=uc_percent,
        clauses=(ClauseSpec(kind="INDEMNIFICATION", text="The vendor carries half."),),
    )
    (objective,) = await objectives_of(builder.graph, sla)
    (uc_objective,) = await objectives_of(builder.graph, uc)
    await store(builder.graph, objective.id, utc(2026, 1, 10), [good], [10_000])
    await store(builder.graph, uc_objective.id, utc(2026, 1, 10), [9000], [10_000])
    service = ServiceLevels(builder.graph, bound(objective.id, uc_objective.id, assess_days=31))
    return Shop(sla, objective.id, service, uc=uc, vendor=ids["vendor"], cust=ids["cust-1"])


async def credits_of(graph: Graph, s: Shop) -> list[Credit]:
    key = f"{s.sla}|{s.objective_id}|2026-01-01T00:00:00.000000Z"
    return (await CreditRepository(graph).by_remediation_keys([key])).get(key, [])


async def test_a_violation_proposes_a_credit_and_its_vendor_an_indemnity(
    graph: Graph, builder: GraphBuilder
) -> None:
    s = await shop(builder)  # 99.0 % < 99.5 %: 10 %
    await s.service.assess(FEB, [s.sla, s.ids["uc"]])
    [violation] = await s.service.violations(agreement_id=s.sla)
    [credit] = await credits_of(graph, s)
    assert (credit.status, credit.amount, credit.currency, credit.percent) == (
        CreditStatus.PROPOSED,
        Decimal("1200.00"),
        "EUR",
        10.0,
    )
    assert credit.violation_id == violation.id
    assert credit.calculation == "99% < 99.5%: tier 10% x fee 12000.00 EUR = 1200.00 EUR"
    # Stored as a decimal string.
    repository = CreditRepository(graph)
    assert (await repository.by_ids([credit.id]))[credit.id] == credit
    [indemnity] = (await repository.indemnities_of([credit.id]))[credit.id]
    assert (indemnity.agreement_id, indemnity.party_id) == (s.ids["uc"], s.ids["vendor"])
    assert (indemnity.percent, indemnity.amount, indemnity.currency) == (
        50.0,
        Decimal("600.00"),
        "EUR",
    )
    [audit] = await AuditRepository(graph).for_target(credit.id)
    assert audit.action == "credit.propose"
    assert audit.after is not None
    assert json.loads(audit.after)["amount"] == "1200.00"
    # Assessing again with the same figures changes nothing.
    await s.service.assess(FEB, [s.sla])
    assert await credits_of(graph, s) == [credit]


async def test_no_fee_or_currency_no_credit(graph: Graph, builder: GraphBuilder) -> None:
    s = await shop(builder, currency=None)
    await s.service.assess(FEB, [s.sla])
    assert len(await s.service.violations(agreement_id=s.sla)) == 1
    assert await credits_of(graph, s) == []


async def test_indemnity_needs_the_clause_and_a_percent(
    graph: Graph, builder: GraphBuilder
) -> None:
    s = await shop(builder, uc_percent=None)
    await s.service.assess(FEB, [s.sla, s.ids["uc"]])
    [credit] = await credits_of(graph, s)
    assert await CreditRepository(graph).indemnities_of([credit.id]) == {}


async def test_late_data_revises_an_open_credit_and_corrects_an_issued_one(
    graph: Graph, builder: GraphBuilder
) -> None:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla])
    [credit] = await credits_of(graph, s)
    repository = CreditRepository(graph)
    await repository.approve(credit.id, APPROVER)
    # Late data: 18,500 of 20,000 = 92.5 %: 25 %, and what was approved goes back.
    await store(graph, s.objective_id, utc(2026, 1, 20), [8600], [10_000])
    await s.service.assess(FEB, [s.sla])
    [revised] = await credits_of(graph, s)
    assert (revised.id, revised.status, revised.amount) == (
        credit.id,
        CreditStatus.PROPOSED,
        Decimal("3000.00"),
    )
    [current] = await s.service.violations(agreement_id=s.sla)
    assert revised.violation_id == current.id
    actions = [a.action for a in await AuditRepository(graph).for_target(credit.id)]
    assert actions == ["credit.propose", "credit.approve", "credit.revise"]
    # Issued, then more late data: 28,500 of 30,000 = 95 %: 10 % again.
    await repository.approve(credit.id, APPROVER)
    await repository.issue(credit.id, ANN)
    await store(graph, s.objective_id, utc(2026, 1, 25), [10_000], [10_000])
    await s.service.assess(FEB, [s.sla])
    issued, correction = await credits_of(graph, s)
    assert (issued.status, issued.amount) == (CreditStatus.ISSUED, Decimal("3000.00"))
    assert (correction.status, correction.amount, correction.corrects_id) == (
        CreditStatus.PROPOSED,
        Decimal("-1800.00"),
        credit.id,
    )
    assert correction.calculation.endswith("less 3000.00 EUR issued = -1800.00 EUR")


async def test_a_cleared_period_waives_what_was_not_issued(
    graph: Graph, builder: GraphBuilder
) -> None:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla])
    [credit] = await credits_of(graph, s)
    # Late data: 19,900 of 20,000 = 99.5 %: met.
    await store(graph, s.objective_id, utc(2026, 1, 20), [10_000], [10_000])
    await s.service.assess(FEB, [s.sla])
    [waived] = await credits_of(graph, s)
    assert waived.id == credit.id
    assert (waived.status, waived.resolution) == (CreditStatus.WAIVED, "cleared by late data")


async def test_a_cleared_period_reverses_what_was_issued(
    graph: Graph, builder: GraphBuilder
) -> None:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla])
    [credit] = await credits_of(graph, s)
    repository = CreditRepository(graph)
    await repository.approve(credit.id, APPROVER)
    await repository.issue(credit.id, APPROVER)
    await store(graph, s.objective_id, utc(2026, 1, 20), [10_000], [10_000])
    await s.service.assess(FEB, [s.sla])
    issued, reversal = await credits_of(graph, s)
    assert issued.status is CreditStatus.ISSUED
    assert (reversal.amount, reversal.corrects_id) == (Decimal("-1200.00"), credit.id)


async def test_dispute_and_resolution_with_four_eyes(graph: Graph, builder: GraphBuilder) -> None:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla])
    [credit] = await credits_of(graph, s)
    repository = CreditRepository(graph)
    disputed = await repository.dispute(credit.id, ANN, "the outage was announced")
    assert (disputed.status, disputed.dispute_reason) == (
        CreditStatus.DISPUTED,
        "the outage was announced",
    )
    with pytest.raises(CreditError, match="may not resolve"):
        await repository.resolve(credit.id, ANN, Decimal("600"), "half")
    resolved = await repository.resolve(credit.id, APPROVER, Decimal("600"), "half of it")
    assert (resolved.status, resolved.amount, resolved.resolution) == (
        CreditStatus.RESOLVED,
        Decimal("600.00"),
        "half of it",
    )
    with pytest.raises(CreditError, match="resolved it"):
        await repository.issue(credit.id, APPROVER)
    issued = await repository.issue(credit.id, ANN)
    assert issued.status is CreditStatus.ISSUED
    # An issued credit is disputed through a correction; it never changes itself.
    correction = await repository.dispute(credit.id, EDITOR, "still too little")
    assert (correction.status, correction.amount, correction.corrects_id) == (
        CreditStatus.DISPUTED,
        Decimal("0.00"),
        credit.id,
    )
    final = await repository.resolve(correction.id, APPROVER, Decimal("900"), "three quarters")
    assert final.amount == Decimal("300.00")
    assert (await repository.by_ids([credit.id]))[credit.id] == issued
    actions = [a.action for a in await AuditRepository(graph).for_target(credit.id)]
    assert actions == ["credit.propose", "credit.dispute", "credit.resolve", "credit.issue"]


async def test_credits_are_read_with_their_agreement(graph: Graph, builder: GraphBuilder) -> None:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla, s.ids["uc"]])
    [credit] = await credits_of(graph, s)
    own = CreditRepository(graph, Scope.of(customer_id=s.ids["cust"]).at(FEB))
    other = CreditRepository(graph, Scope.of(units=["nowhere"]))
    assert list(await own.by_ids([credit.id])) == [credit.id]
    assert await own.indemnities_of([credit.id]) == {}  # internal
    assert await other.by_ids([credit.id]) == {}
    with pytest.raises(NotFoundError):
        await other.approve(credit.id, APPROVER)
    listed = await CreditRepository(graph).list([CreditStatus.PROPOSED], JAN, FEB)
    assert credit.id in [c.id for c in listed]
    assert credit.id not in [
        c.id for c in await CreditRepository(graph).list([CreditStatus.ISSUED], JAN, FEB)
    ]
    assert credit.id not in [
        c.id for c in await CreditRepository(graph).list(None, FEB, utc(2026, 3, 1))
    ]


async def test_indemnity_percent_is_kept_by_revisions(graph: Graph, builder: GraphBuilder) -> None:
    s = await shop(builder, uc_percent=40.0)
    repository = AgreementRepository(graph)

    v2 = await repository.revise(s.ids["uc"], AgreementRevisionSpec(name="Hosting 2"), EDITOR, "x")
    assert (await repository.get(v2)).indemnity_percent == 40.0
    sla = await repository.get(s.sla)
    assert sla.credit_policy is not None
    assert (sla.credit_policy.monthly_fee, sla.credit_policy.currency) == (
        Decimal("12000.00"),
        "EUR",
    )


# --- an assessment racing a person's transition of the same credit ------------------------
#
# The assessment reads a period's credits, plans in Python and writes them back. A
# transition committed between that read and write must make the assessment run again
# (it takes the credits' write locks before reading), never be overwritten. `between`
# commits the transition at exactly that point, from another connection in another
# thread, when the assessment is about to send `UPDATE_CREDITS`; `race` lets the two
# run freely, the transition started after a varying delay.
# (`between` relies on ArcadeDB's optimistic commit: on Neo4j the transition would wait
# for the lock the paused assessment holds.)

LATE = utc(2026, 1, 20)  # late data: January at 92.5 %, 25 %, 3000.00 EUR
RACES = 5


async def between(
    graph: Graph,
    connection: GraphConnection,
    s: Shop,
    move: Callable[[CreditRepository], Awaitable[Credit]],
) -> Credit | BaseException:
    """Assess the late data, `move` committed between the credits' read and write."""

    async def moved() -> Credit:
        other = Graph.connect(connection)
        try:
            return await move(CreditRepository(other))
        finally:
            await other.close()

    outcome: list[Credit | BaseException] = []

    def listener(statement: Cypher) -> None:
        if statement is cq.UPDATE_CREDITS and not outcome:
            with ThreadPoolExecutor(1) as pool:
                try:
                    outcome.append(pool.submit(asyncio.run, moved()).result(timeout=30))
                except Exception as exc:  # the move's own error is the outcome
                    outcome.append(exc)

    await store(graph, s.objective_id, LATE, [8600], [10_000])
    graph.add_listener(listener)
    try:
        await s.service.assess(FEB, [s.sla])
    finally:
        graph.remove_listener(listener)
    [result] = outcome
    return result


async def race(
    graph: Graph, s: Shop, move: Awaitable[Credit], delay: float
) -> Credit | BaseException:
    """Assess the late data while `move` runs, started `delay` seconds in."""

    async def moved() -> Credit:
        await asyncio.sleep(delay)
        return await move

    await store(graph, s.objective_id, LATE, [8600], [10_000])
    outcome, assessed = await asyncio.gather(
        moved(), s.service.assess(FEB, [s.sla]), return_exceptions=True
    )
    assert not isinstance(assessed, BaseException), assessed
    return outcome


async def assert_approval_kept(graph: Graph, s: Shop, credit: Credit, outcome: object) -> None:
    """Approved and revised in either order, the approval audited and never overwritten."""
    assert isinstance(outcome, Credit), outcome
    [final] = await credits_of(graph, s)
    assert (final.id, final.amount) == (credit.id, Decimal("3000.00"))
    audits = await AuditRepository(graph).for_target(credit.id)
    revise = next(a for a in audits if a.action == "credit.revise")
    assert revise.before is not None
    if final.status is CreditStatus.APPROVED:  # revised, then approved
        assert [a.action for a in audits] == ["credit.propose", "credit.revise", "credit.approve"]
        assert json.loads(revise.before)["status"] == "PROPOSED"
    else:  # approved, then revised: the approval went back, it was not overwritten
        assert final.status is CreditStatus.PROPOSED
        assert [a.action for a in audits] == ["credit.propose", "credit.approve", "credit.revise"]
        assert json.loads(revise.before)["status"] == "APPROVED"


async def assert_issued_kept(graph: Graph, s: Shop, credit: Credit, outcome: object) -> None:
    """Issued, then corrected; or revised (its approval gone back), then not issued."""
    if isinstance(outcome, Credit):
        issued, correction = await credits_of(graph, s)
        assert (issued.id, issued.status, issued.amount) == (
            credit.id,
            CreditStatus.ISSUED,
            Decimal("1200.00"),
        )
        assert (correction.amount, correction.corrects_id) == (Decimal("1800.00"), credit.id)
    else:
        assert isinstance(outcome, CreditError), outcome
        [revised] = await credits_of(graph, s)
        assert (revised.id, revised.status, revised.amount) == (
            credit.id,
            CreditStatus.PROPOSED,
            Decimal("3000.00"),
        )


async def proposed(graph: Graph, builder: GraphBuilder, *, approved: bool = False) -> Shop:
    s = await shop(builder)
    await s.service.assess(FEB, [s.sla])
    if approved:
        [credit] = await credits_of(graph, s)
        await CreditRepository(graph).approve(credit.id, APPROVER)
    return s


async def test_an_approval_between_the_read_and_the_write_is_revised_not_lost(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder
) -> None:
    s = await proposed(graph, builder)
    [credit] = await credits_of(graph, s)
    outcome = await between(graph, graph_connection, s, lambda r: r.approve(credit.id, APPROVER))
    await assert_approval_kept(graph, s, credit, outcome)
    assert (await credits_of(graph, s))[0].status is CreditStatus.PROPOSED  # approved first


async def test_an_issue_between_the_read_and_the_write_is_corrected_not_revised(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder
) -> None:
    s = await proposed(graph, builder, approved=True)
    [credit] = await credits_of(graph, s)
    outcome = await between(graph, graph_connection, s, lambda r: r.issue(credit.id, ANN))
    assert isinstance(outcome, Credit)  # issued first
    await assert_issued_kept(graph, s, credit, outcome)


@pytest.mark.parametrize("round_", range(RACES))
async def test_an_approval_racing_a_revision_is_never_lost(
    graph: Graph, builder: GraphBuilder, round_: int
) -> None:
    s = await proposed(graph, builder)
    [credit] = await credits_of(graph, s)
    outcome = await race(
        graph, s, CreditRepository(graph).approve(credit.id, APPROVER), round_ * 0.05
    )
    await assert_approval_kept(graph, s, credit, outcome)


@pytest.mark.parametrize("round_", range(RACES))
async def test_an_issue_racing_a_revision_is_never_revised_in_place(
    graph: Graph, builder: GraphBuilder, round_: int
) -> None:
    s = await proposed(graph, builder, approved=True)
    [credit] = await credits_of(graph, s)
    outcome = await race(graph, s, CreditRepository(graph).issue(credit.id, ANN), round_ * 0.05)
    await assert_issued_kept(graph, s, credit, outcome)
