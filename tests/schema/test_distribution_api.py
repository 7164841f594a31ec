"""Distribution lists and report anomalies through GraphQL: the access-matrix cases of
`distribution_cases` (until the matrix takes them in), every problem of a list named at
once, and a list's deliveries as the contract shows them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from distribution_cases import CASES
from test_access_matrix import (
    BAD_INPUT,
    BLIND,
    NOT_FOUND,
    ROLES,
    SCOPES,
    SEES,
    TARGET_UNIT,
    Case,
    _answer,
    _masked,
)

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories.distribution import DistributionRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings
from hub.sync.distribution import Published, PublishRequest, run_due_distributions

EDITOR = Actor("editor", Role.EDITOR)


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "distmatrix")


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_access(
    case: Case, role: Role, scope: str, schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    expected = case.expected[role][SCOPES.index(scope)]
    unit = TARGET_UNIT[scope]
    scoped = scope != "unlimited"
    variables = await case.variables(world, graph, unit)

    data, codes, messages = await _answer(schema, graph, case, world, role, scoped, variables)

    if expected in (SEES, BLIND):
        assert codes == [], messages
        assert data is not None
        assert case.present(data, world, unit) is (expected == SEES), data
    else:
        assert codes == [expected], messages
    if expected in (BLIND, NOT_FOUND, BAD_INPUT) and case.unknown is not None:
        unknown = await _answer(schema, graph, case, world, role, scoped, case.unknown(world))
        assert _masked(unknown) == _masked((data, codes, messages))


async def execute(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> Any:
    return await schema.execute(
        query, variable_values=variables, context_value=Context.create(graph, actor, ApiSettings())
    )


CREATE = """
mutation C($input: DistributionListInput!) {
  createDistributionList(input: $input) {
    id name template businessUnits regions schedule timeZone channel
    recipients { role address }
    deliveries { at status attempts error channel snapshotId }
  }
}
"""


async def test_every_problem_of_a_list_is_named_at_once(
    schema: strawberry.Schema, graph: Graph
) -> None:
    result = await execute(
        schema,
        graph,
        EDITOR,
        CREATE,
        input={
            "name": "Bad",
            "template": "weekly",
            "schedule": "0 25 * * *",
            "timeZone": "Europe/Berlin",
            "channel": "EMAIL",
            "recipients": [{"address": "nobody"}, {}],
        },
    )

    assert result.data is None
    [error] = result.errors
    assert error.extensions["code"] == "BAD_USER_INPUT"
    for field in ("template", "schedule", "recipients[0].address", "recipients[1]"):
        assert field in error.message


@pytest.fixture
async def no_lists(graph: Graph) -> AsyncIterator[None]:
    repository = DistributionRepository(graph)
    for distribution in await repository.lists():
        await repository.delete(distribution.id)
    yield
    for distribution in await repository.lists():
        await repository.delete(distribution.id)


class OnePublisher:
    async def publish(self, request: PublishRequest) -> Published:
        return Published("rsn_api1", {"pdf": b"%PDF", "csv": b"a,b\n"})

    async def files(self, snapshot_id: str) -> Published:
        return Published(snapshot_id, {"pdf": b"%PDF", "csv": b"a,b\n"})


@pytest.mark.usefixtures("no_lists")
async def test_a_portal_lists_runs_show_as_deliveries(
    schema: strawberry.Schema, graph: Graph
) -> None:
    created = await execute(
        schema,
        graph,
        EDITOR,
        CREATE,
        input={
            "name": "Portal monthly",
            "template": "executive",
            "schedule": "0 7 1 * *",
            "timeZone": "UTC",
            "channel": "PORTAL",
            "recipients": [{"role": "viewer"}],
        },
    )
    assert created.errors is None, created.errors
    made = created.data["createDistributionList"]
    assert made["deliveries"] == []
    assert (made["schedule"], made["timeZone"], made["channel"]) == ("0 7 1 * *", "UTC", "PORTAL")

    # Its schedule fires on the first of next month: the run then publishes and delivers.
    now = datetime.now(UTC)
    first = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=8, minute=0)
    await run_due_distributions(graph, Settings(), first, publisher=OnePublisher())
    listed = await execute(
        schema,
        graph,
        Actor("viewer", Role.VIEWER),
        "{ distributionLists { id lastRunAt deliveries(first: 5) { status attempts channel"
        " snapshotId error } } }",
    )

    assert listed.errors is None, listed.errors
    [entry] = listed.data["distributionLists"]
    assert entry["id"] == made["id"]
    assert entry["lastRunAt"].startswith(first.strftime("%Y-%m-01T07:00:00"))
    assert entry["deliveries"] == [
        {
            "status": "DELIVERED",
            "attempts": 1,
            "channel": "PORTAL",
            "snapshotId": "rsn_api1",
            "error": None,
        }
    ]
