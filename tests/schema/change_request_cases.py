"""Access-matrix cases for change requests (`changeRequests`, `submitChangeRequest`,
`acceptChangeRequest`, `declineChangeRequest`), in the shape of
`test_access_matrix.CASES` entries, keyed by field.

A request is read and changed with its agreement: staff tokens where they may read the
agreement; customer tokens read the requests of their own customer (the matrix's
customer token is bound to retail's customer). Editors and customer tokens submit
against an agreement they may read (out of scope: BAD_USER_INPUT, as an unknown id);
editors in scope accept and decline (out of scope: NOT_FOUND, as an unknown id).

Each mutation case makes a fresh ACTIVE SLA of the unit and a request about it, so
that every role and scope acts on a request of its own (an accepted request leaves a
DRAFT revision behind, and a lineage holds one open version at a time).

Import this module after `test_access_matrix` has defined its helpers (it imports
them): `CASES.extend(change_request_cases.CASES.values())` at the matrix's end.
"""

from __future__ import annotations

from typing import Any

from access_support import World
from test_access_matrix import (
    BAD_INPUT,
    FORBIDDEN,
    NOT_FOUND,
    SCOPED,
    SEES,
    Case,
    everyone,
    from_role,
)

from hub.domain.models import AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories.change_requests import ChangeRequestRepository

UNKNOWN_REQUEST = "chr_00000000000000000000000000000000"
UNKNOWN_AGREEMENT = "agr_00000000000000000000000000000000"


def customer_of(world: World, unit: str) -> Actor:
    """A customer token of `unit`'s customer (requests are read by their own customer)."""
    return Actor(f"customer-{unit}", Role.CUSTOMER, customer_id=world.ids[f"cust:{unit}"])


async def request_in(world: World, graph: Graph, unit: str) -> str:
    """A new SUBMITTED request of `unit`'s customer about a new ACTIVE SLA of `unit`."""
    sla = await world.agreement_in(graph, unit, AgreementStatus.ACTIVE)
    request = await ChangeRequestRepository(graph).submit(
        customer_of(world, unit), sla, "matrix change request"
    )
    return request.id


async def submitted(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await request_in(world, graph, unit)}


async def listed_request(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """The unit's listed request (made once per world)."""
    key = f"change-request:{unit}"
    if key not in world.ids:
        world.ids[key] = await request_in(world, graph, unit)
    return {}


async def agreement_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": world.ids[f"sla:{unit}"]}


def _status(field: str, status: str) -> Any:
    return lambda data, world, unit: data[field]["status"] == status


EDITOR_IN_SCOPE = from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND))

CASES: dict[str, Case] = {
    "Query.changeRequests": Case(
        "Query.changeRequests",
        "of-a-customer",
        "query C { changeRequests { id } }",
        listed_request,
        lambda data, world, unit: (
            world.ids[f"change-request:{unit}"] in {r["id"] for r in data["changeRequests"]}
        ),
        SCOPED,
    ),
    "Mutation.submitChangeRequest": Case(
        "Mutation.submitChangeRequest",
        "an-sla",
        'mutation S($id: ID!) { submitChangeRequest(agreementId: $id, summary: "matrix") '
        "{ id status } }",
        agreement_of,
        _status("submitChangeRequest", "SUBMITTED"),
        {
            **everyone((SEES, SEES, BAD_INPUT), (BAD_INPUT, SEES, BAD_INPUT)),
            Role.VIEWER: (FORBIDDEN, FORBIDDEN, FORBIDDEN),
        },
        lambda world: {"id": UNKNOWN_AGREEMENT},
    ),
    "Mutation.acceptChangeRequest": Case(
        "Mutation.acceptChangeRequest",
        "a-submitted-request",
        'mutation A($id: ID!) { acceptChangeRequest(id: $id, note: "matrix") { id status } }',
        submitted,
        _status("acceptChangeRequest", "ACCEPTED"),
        EDITOR_IN_SCOPE,
        lambda world: {"id": UNKNOWN_REQUEST},
    ),
    "Mutation.declineChangeRequest": Case(
        "Mutation.declineChangeRequest",
        "a-submitted-request",
        'mutation D($id: ID!) { declineChangeRequest(id: $id, reason: "matrix") { id status } }',
        submitted,
        _status("declineChangeRequest", "DECLINED"),
        EDITOR_IN_SCOPE,
        lambda world: {"id": UNKNOWN_REQUEST},
    ),
}
