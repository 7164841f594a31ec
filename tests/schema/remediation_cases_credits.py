"""Access-matrix cases for the credit ledger (`credits`, `approveCredit`,
`issueCredit`, `disputeCredit`, `resolveCredit`, `waiveCredit`), in the shape of
`test_access_matrix.CASES` entries, keyed by field.

A credit belongs to its SLA: read with it (customers read their own SLAs' credits),
changed by approvers in its scope (out of scope it does not exist: NOT_FOUND, as an
unknown id); a dispute is an editor's or the SLA's customer's.

Each mutation case makes a fresh credit (a newly violated SLA of the unit with a
credit policy, assessed), moved to the state the mutation starts from by the test
authors, so that every role and scope acts on a credit of its own.

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(remediation_cases_credits.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from access_support import World
from support import APPROVER, EDITOR
from test_access_matrix import NOT_FOUND, SCOPED, SEES, Case, from_role

from hub.domain.models import CreditPolicySpec, CreditTierSpec
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories.credits import CreditRepository
from hub.graph.repositories.remediation import remediation_key
from hub.graph.repositories.violations import ViolationRepository

UNKNOWN_CREDIT = "crd_00000000000000000000000000000000"
# 10 % of 1000.00 EUR below the SLAs' 99.9 %: every matrix violation (90 %) earns 100.00.
POLICY = CreditPolicySpec(
    tiers=(CreditTierSpec(below_percent=99.9, credit_percent=10),),
    monthly_fee=Decimal("1000.00"),
    currency="EUR",
)


async def credit_in(world: World, graph: Graph, unit: str) -> str:
    """A new PROPOSED credit of a newly violated SLA of `unit`."""
    violation_id = await world.violation_in(graph, unit, credit_policy=POLICY)
    violation = (await ViolationRepository(graph).by_ids([violation_id]))[violation_id]
    key = remediation_key(
        violation.agreement_id, violation.objective_id, to_iso(violation.period_start)
    )
    [credit] = (await CreditRepository(graph).by_remediation_keys([key]))[key]
    return credit.id


async def proposed(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await credit_in(world, graph, unit)}


async def approved(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    credit_id = await credit_in(world, graph, unit)
    await CreditRepository(graph).approve(credit_id, APPROVER)
    return {"id": credit_id}


async def disputed(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    credit_id = await credit_in(world, graph, unit)
    await CreditRepository(graph).dispute(credit_id, EDITOR, "matrix dispute")
    return {"id": credit_id}


async def listed_credit(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """The unit's listed credit (made once per world); January's window."""
    key = f"credit:{unit}"
    if key not in world.ids:
        world.ids[key] = await credit_in(world, graph, unit)
    return {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


def _status(field: str, status: str) -> Any:
    return lambda data, world, unit: data[field]["status"] == status


APPROVER_IN_SCOPE = from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND))

CASES: dict[str, Case] = {
    "Query.credits": Case(
        "Query.credits",
        "of-an-sla",
        "query C($from: DateTime, $to: DateTime) { credits(from: $from, to: $to) { id } }",
        listed_credit,
        lambda data, world, unit: world.ids[f"credit:{unit}"] in {c["id"] for c in data["credits"]},
        SCOPED,
    ),
    "Mutation.approveCredit": Case(
        "Mutation.approveCredit",
        "a-proposed-credit",
        'mutation A($id: ID!) { approveCredit(id: $id, note: "matrix") { id status } }',
        proposed,
        _status("approveCredit", "APPROVED"),
        APPROVER_IN_SCOPE,
        lambda world: {"id": UNKNOWN_CREDIT},
    ),
    "Mutation.issueCredit": Case(
        "Mutation.issueCredit",
        "an-approved-credit",
        "mutation I($id: ID!) { issueCredit(id: $id) { id status } }",
        approved,
        _status("issueCredit", "ISSUED"),
        APPROVER_IN_SCOPE,
        lambda world: {"id": UNKNOWN_CREDIT},
    ),
    "Mutation.disputeCredit": Case(
        "Mutation.disputeCredit",
        "a-proposed-credit",
        'mutation D($id: ID!) { disputeCredit(id: $id, reason: "matrix") { id status } }',
        proposed,
        _status("disputeCredit", "DISPUTED"),
        {
            **from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
            # A customer token disputes its own SLAs' credits only.
            Role.CUSTOMER: (NOT_FOUND, SEES, NOT_FOUND),
        },
        lambda world: {"id": UNKNOWN_CREDIT},
    ),
    "Mutation.resolveCredit": Case(
        "Mutation.resolveCredit",
        "a-disputed-credit",
        "mutation R($id: ID!) {"
        ' resolveCredit(id: $id, amount: 50, reason: "matrix") { id status amount } }',
        disputed,
        _status("resolveCredit", "RESOLVED"),
        APPROVER_IN_SCOPE,
        lambda world: {"id": UNKNOWN_CREDIT},
    ),
    "Mutation.waiveCredit": Case(
        "Mutation.waiveCredit",
        "a-proposed-credit",
        'mutation W($id: ID!) { waiveCredit(id: $id, reason: "matrix") { id status } }',
        proposed,
        _status("waiveCredit", "WAIVED"),
        APPROVER_IN_SCOPE,
        lambda world: {"id": UNKNOWN_CREDIT},
    ),
}
