"""Change requests (reporting.graphql, "Change requests") through the served schema on
the real embedded graph: a customer token submits one against its SLA, an editor in
scope accepts it (a DRAFT revision is opened and linked) or declines it with a reason,
the requester reads the outcome, every change is audited, and the `change-requests`
notification list, when configured, is told in the transaction of the change.

The estate is `access_support`'s: retail and corp units, each with a customer, a
service and an SLA in force; every test takes a fresh SLA of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from support import APPROVER, EDITOR

from hub.domain.models import AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.change_requests import NOTIFICATION_LIST, ChangeRequestRepository
from hub.notify import NotificationRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import (
    ApiSettings,
    NotificationListSettings,
    NotificationSettings,
    Settings,
    WebhookSettings,
)

FIELDS = """
  id requestedBy summary status decidedBy reason
  agreement { id name status }
  revision { id name status version }
"""
SUBMIT = (
    "mutation S($id: ID!, $summary: String!) {"
    f" submitChangeRequest(agreementId: $id, summary: $summary) {{ {FIELDS} }} }}"
)
ACCEPT = (
    "mutation A($id: ID!, $note: String, $input: AgreementRevisionInput) {"
    f" acceptChangeRequest(id: $id, note: $note, input: $input) {{ {FIELDS} }} }}"
)
DECLINE = (
    "mutation D($id: ID!, $reason: String!) {"
    f" declineChangeRequest(id: $id, reason: $reason) {{ {FIELDS} }} }}"
)
LIST = (
    f"query L($status: [ChangeRequestStatus!]) {{ changeRequests(status: $status) {{ {FIELDS} }} }}"
)
NODE = "query N($id: ID!) { node(id: $id) { id } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "chreq")


def customer(world: World, unit: str = "retail") -> Actor:
    return Actor(f"buyer@{unit}.example", Role.CUSTOMER, customer_id=world.ids[f"cust:{unit}"])


def editor(world: World, unit: str) -> Actor:
    return Actor(
        f"editor-{unit}",
        Role.EDITOR,
        domains=frozenset({world.unit(unit)}),
        regions=frozenset({world.region(unit)}),
    )


async def ask(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    settings: Settings | None = None,
    **variables: Any,
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings(), settings=settings),
    )
    codes = [str((e.extensions or {}).get("code", e.message)) for e in result.errors or []]
    return result.data, codes


async def ok(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    settings: Settings | None = None,
    **variables: Any,
) -> dict[str, Any]:
    data, codes = await ask(schema, graph, actor, query, settings, **variables)
    assert codes == []
    assert data is not None
    return data


async def submitted(
    schema: strawberry.Schema, graph: Graph, world: World, actor: Actor | None = None
) -> tuple[str, str]:
    """A fresh ACTIVE SLA of retail and a request about it (by the retail customer, unless
    `actor` is given): their ids."""
    sla = await world.agreement_in(graph, "retail", AgreementStatus.ACTIVE)
    data = await ok(
        schema,
        graph,
        actor or customer(world),
        SUBMIT,
        id=sla,
        summary="Raise availability to 99.95 %\nWe moved checkout to this service.",
    )
    return sla, data["submitChangeRequest"]["id"]


async def test_a_customer_submits_and_reads_its_request(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    sla = await world.agreement_in(graph, "retail", AgreementStatus.ACTIVE)

    data = await ok(schema, graph, customer(world), SUBMIT, id=sla, summary="  More uptime  ")

    request = data["submitChangeRequest"]
    assert request["id"].startswith("chr_")
    assert {k: request[k] for k in ("requestedBy", "summary", "status", "decidedBy")} == {
        "requestedBy": "buyer@retail.example",
        "summary": "More uptime",
        "status": "SUBMITTED",
        "decidedBy": None,
    }
    assert request["agreement"]["id"] == sla
    assert request["revision"] is None
    listed = await ok(schema, graph, customer(world), LIST, status=["SUBMITTED"])
    assert request["id"] in {r["id"] for r in listed["changeRequests"]}
    # Another customer of the same unit's records (a colleague's token) reads it too.
    colleague = Actor("other@retail.example", Role.CUSTOMER, customer_id=world.ids["cust:retail"])
    listed = await ok(schema, graph, colleague, LIST)
    assert request["id"] in {r["id"] for r in listed["changeRequests"]}
    (record,) = await AuditRepository(graph).for_target(request["id"])
    assert (record.action, record.actor) == ("change-request.submit", "buyer@retail.example")


async def test_requests_are_scoped_with_their_agreement(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    _, request_id = await submitted(schema, graph, world)

    async def listed(actor: Actor) -> set[str]:
        data = await ok(schema, graph, actor, LIST)
        return {r["id"] for r in data["changeRequests"]}

    assert request_id in await listed(editor(world, "retail"))
    assert request_id in await listed(Actor("vic", Role.VIEWER))
    assert request_id not in await listed(editor(world, "corp"))
    assert request_id not in await listed(customer(world, "corp"))
    # Out of scope it does not exist, exactly as an unknown id.
    for actor in (editor(world, "corp"), customer(world, "corp")):
        data = await ok(schema, graph, actor, NODE, id=request_id)
        assert data["node"] is None
    data = await ok(schema, graph, editor(world, "retail"), NODE, id=request_id)
    assert data["node"] == {"id": request_id}
    _, codes = await ask(schema, graph, editor(world, "corp"), DECLINE, id=request_id, reason="x")
    assert codes == ["NOT_FOUND"]


async def test_staff_requests_are_not_shown_to_customer_tokens(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    _, request_id = await submitted(schema, graph, world, actor=editor(world, "retail"))

    data = await ok(schema, graph, customer(world), LIST)

    assert request_id not in {r["id"] for r in data["changeRequests"]}


async def test_who_may_submit(schema: strawberry.Schema, graph: Graph, world: World) -> None:
    sla = world.ids["sla:retail"]
    viewer = Actor("vic", Role.VIEWER)

    _, codes = await ask(schema, graph, viewer, SUBMIT, id=sla, summary="please")
    assert codes == ["FORBIDDEN"]
    # An agreement the token may not read is named as one that does not exist.
    for actor in (customer(world, "corp"), editor(world, "corp")):
        _, codes = await ask(schema, graph, actor, SUBMIT, id=sla, summary="please")
        assert codes == ["BAD_USER_INPUT"]
    _, codes = await ask(schema, graph, customer(world), SUBMIT, id=sla, summary="   ")
    assert codes == ["BAD_USER_INPUT"]


async def test_an_editor_accepts_and_a_draft_revision_is_opened(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    sla, request_id = await submitted(schema, graph, world)

    data = await ok(schema, graph, editor(world, "retail"), ACCEPT, id=request_id, note="for Q3")

    accepted = data["acceptChangeRequest"]
    assert (accepted["status"], accepted["decidedBy"], accepted["reason"]) == (
        "ACCEPTED",
        "editor-retail",
        "for Q3",
    )
    revision = accepted["revision"]
    assert revision["status"] == "DRAFT"
    assert revision["version"] == 2
    assert revision["name"] == accepted["agreement"]["name"]
    assert accepted["agreement"]["id"] == sla
    # The revision's reason names the request; both changes are audited.
    (revise,) = await AuditRepository(graph).for_target(revision["id"])
    assert revise.action == "agreement.revise"
    assert revise.reason is not None
    assert request_id in revise.reason
    actions = [r.action for r in await AuditRepository(graph).for_target(request_id)]
    assert actions == ["change-request.submit", "change-request.accept"]
    # The requester reads the outcome; a customer token reads no drafts.
    listed = await ok(schema, graph, customer(world), LIST, status=["ACCEPTED"])
    (seen,) = [r for r in listed["changeRequests"] if r["id"] == request_id]
    assert (seen["status"], seen["decidedBy"], seen["revision"]) == (
        "ACCEPTED",
        "editor-retail",
        None,
    )
    assert seen["agreement"]["id"] == sla
    # Decided is final.
    _, codes = await ask(schema, graph, editor(world, "retail"), ACCEPT, id=request_id)
    assert codes == ["FORBIDDEN_TRANSITION"]
    _, codes = await ask(schema, graph, EDITOR, DECLINE, id=request_id, reason="late")
    assert codes == ["FORBIDDEN_TRANSITION"]
    # Once the revision is approved, the version named is no longer in force: the
    # customer still reads its request, shown with the version now in force.
    agreements = AgreementRepository(graph)
    await agreements.submit(revision["id"], EDITOR)
    await agreements.approve(revision["id"], APPROVER)
    listed = await ok(schema, graph, customer(world), LIST)
    (seen,) = [r for r in listed["changeRequests"] if r["id"] == request_id]
    assert seen["agreement"]["id"] == revision["id"]
    assert seen["revision"] == {**revision, "status": "ACTIVE"}


async def test_an_editor_accepts_with_the_changes_asked_for(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    _, request_id = await submitted(schema, graph, world)
    objectives = [{"indicator": "AVAILABILITY", "target": 99.95, "windowKind": "CALENDAR_MONTH"}]

    _, codes = await ask(
        schema,
        graph,
        EDITOR,
        ACCEPT,
        id=request_id,
        input={"objectives": [{**objectives[0], "target": 120}]},
    )
    assert codes == ["BAD_USER_INPUT"]
    data = await ok(
        schema,
        graph,
        EDITOR,
        ACCEPT,
        id=request_id,
        input={"name": "Checkout 99.95", "objectives": objectives},
    )

    revision = data["acceptChangeRequest"]["revision"]
    assert (revision["name"], revision["status"]) == ("Checkout 99.95", "DRAFT")
    found = await ok(
        schema,
        graph,
        EDITOR,
        "query N($id: ID!) { node(id: $id) { ... on Agreement { objectives { target } } } }",
        id=revision["id"],
    )
    assert found["node"]["objectives"] == [{"target": 99.95}]


async def test_accepting_needs_a_lineage_without_an_open_version(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    _, first = await submitted(schema, graph, world)
    data = await ok(schema, graph, customer(world), LIST)
    (shown,) = [r for r in data["changeRequests"] if r["id"] == first]
    second = (
        await ok(
            schema, graph, customer(world), SUBMIT, id=shown["agreement"]["id"], summary="more"
        )
    )["submitChangeRequest"]["id"]
    await ok(schema, graph, EDITOR, ACCEPT, id=first)

    _, codes = await ask(schema, graph, EDITOR, ACCEPT, id=second)

    assert codes == ["FORBIDDEN_TRANSITION"]
    data = await ok(schema, graph, EDITOR, LIST, status=["SUBMITTED"])
    assert second in {r["id"] for r in data["changeRequests"]}


async def test_an_editor_declines_with_a_reason(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    _, request_id = await submitted(schema, graph, world)

    _, codes = await ask(schema, graph, EDITOR, DECLINE, id=request_id, reason=" ")
    assert codes == ["BAD_USER_INPUT"]
    _, codes = await ask(schema, graph, customer(world), DECLINE, id=request_id, reason="no")
    assert codes == ["FORBIDDEN"]
    data = await ok(schema, graph, EDITOR, DECLINE, id=request_id, reason="Not this quarter")

    declined = data["declineChangeRequest"]
    assert (declined["status"], declined["reason"], declined["revision"]) == (
        "DECLINED",
        "Not this quarter",
        None,
    )
    listed = await ok(schema, graph, customer(world), LIST, status=["DECLINED"])
    (seen,) = [r for r in listed["changeRequests"] if r["id"] == request_id]
    assert (seen["status"], seen["decidedBy"], seen["reason"]) == (
        "DECLINED",
        "erin",
        "Not this quarter",
    )
    record = (await AuditRepository(graph).for_target(request_id))[-1]
    assert (record.action, record.reason) == ("change-request.decline", "Not this quarter")


async def test_the_change_requests_list_is_notified_of_each_change(
    schema: strawberry.Schema, graph: Graph, world: World, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        webhooks={"ops": WebhookSettings(url="http://127.0.0.1:9/hook", secret="s" * 16)},
        notifications=NotificationSettings(
            lists={NOTIFICATION_LIST: NotificationListSettings(webhooks=["ops"])}
        ),
    )
    sla = await world.agreement_in(graph, "retail", AgreementStatus.ACTIVE)
    data = await ok(schema, graph, customer(world), SUBMIT, settings, id=sla, summary="Faster")
    request_id = data["submitChangeRequest"]["id"]

    await ok(schema, graph, EDITOR, DECLINE, settings, id=request_id, reason="Budget")

    found = await NotificationRepository(graph).find(about=request_id)
    assert sorted((n.kind, n.channel.value, n.target) for n in found) == [
        ("change-request.declined", "WEBHOOK", "ops"),
        ("change-request.submitted", "WEBHOOK", "ops"),
    ]
    (declined,) = [n for n in found if n.kind == "change-request.declined"]
    assert declined.subject == "Change request declined: Faster"
    assert '"reason":"Budget"' in declined.body
    assert '"requestedBy":"buyer@retail.example"' in declined.body


async def test_a_decision_overtaken_by_another_is_a_conflict(graph: Graph, world: World) -> None:
    sla = await world.agreement_in(graph, "retail", AgreementStatus.ACTIVE)
    requests = ChangeRequestRepository(graph)
    request = await requests.submit(customer(world), sla, "please")
    stale = await requests.get(request.id)
    await requests.decline(request.id, EDITOR, "first")

    # As if the second editor had read it before the first decided.
    from hub.domain import change_requests as rules
    from hub.graph.errors import ConflictError

    with pytest.raises(ConflictError):
        await requests._decide(
            stale.request,
            rules.decline(stale.request, EDITOR, "second", stale.request.at),
            EDITOR,
            "change-request.decline",
        )
    assert (await requests.get(request.id)).request.reason == "first"
