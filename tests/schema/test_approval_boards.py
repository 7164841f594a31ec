"""Approval boards through the API on the real embedded graph: a TIER_1 SLA that needs
it, legal and business; refusals (wrong group, a second signature by one person, the
author and the submitter); requiredGroups fixed at submission; the default rule
without boards; two approvals for different groups racing over HTTP; the audit trail.

Agreements are authored as DRAFTs by `support.Author` and submitted through the API
with the boards in the request's context, as `hub serve` passes them from the settings.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from fakes.server import serve_app
from slo_support import objective_spec
from support import EDITOR, GraphBuilder, load

from hub.app import create_app
from hub.domain.boards import Board
from hub.domain.models import AgreementKind, AgreementStatus, Tier
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.identity import TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, BoardSettings, PolicySettings, Settings

BOARD = ("it", "legal", "business")
BOARDS = (
    Board(AgreementKind.SLA, Tier.TIER_1, BOARD),
    Board(AgreementKind.SLA, Tier.TIER_2, ("it",)),
)
SUBMITTER = Actor("sam", Role.EDITOR)
IVY = Actor("ivy", Role.APPROVER, groups=frozenset({"it"}))
LEO = Actor("leo", Role.APPROVER, groups=frozenset({"legal"}))
BEA = Actor("bea", Role.APPROVER, groups=frozenset({"business"}))
MAX = Actor("max", Role.APPROVER, groups=frozenset({"it", "legal", "business"}))

SUBMIT = "mutation S($id: ID!) { submitAgreement(id: $id) { id status requiredGroups } }"
APPROVE = """
mutation A($id: ID!, $group: String, $note: String) {
  approveAgreement(id: $id, group: $group, note: $note) {
    id status requiredGroups approvedBy approvals { by group note }
  }
}
"""
READ = "query R($id: ID!) { node(id: $id) { ... on Agreement { status requiredGroups } } }"
SIGNED = """
query S($id: ID!) {
  node(id: $id) {
    ... on Agreement { status approvedBy requiredGroups approvals { by group note } }
  }
}
"""
TRAIL = """
query T($id: ID!) {
  auditTrail(targetId: $id, action: "agreement.approve") { edges { node { actor after } } }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def ask(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    boards: Sequence[Board] = BOARDS,
    **variables: Any,
) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """Data, error codes and messages of one request by `actor`."""
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings(), boards=boards),
    )
    errors = result.errors or []
    codes = [str((e.extensions or {}).get("code")) for e in errors]
    return result.data, codes, [e.message for e in errors]


async def ok(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    boards: Sequence[Board] = BOARDS,
    **variables: Any,
) -> dict[str, Any]:
    data, codes, messages = await ask(schema, graph, actor, query, boards, **variables)
    assert codes == [], messages
    assert data is not None
    return data


async def refused(
    schema: strawberry.Schema, graph: Graph, actor: Actor, code: str, **variables: Any
) -> str:
    """The message of an approval refused with `code`."""
    _, codes, messages = await ask(schema, graph, actor, APPROVE, **variables)
    assert codes == [code], messages
    return messages[0]


async def sla_draft(
    builder: GraphBuilder, tiers: dict[str, str], covers: Sequence[str] | None = None
) -> str:
    """A DRAFT SLA written by `support.EDITOR` covering services of `tiers` (and CIs)."""
    services = list(tiers)
    _, author = await load(builder, [(s, "db") for s in services], services, tiers=tiers)
    return await author(
        AgreementKind.SLA,
        "Checkout SLA",
        list(covers if covers is not None else services),
        [objective_spec(target=99.9)],
        status=AgreementStatus.DRAFT,
    )


async def submitted(schema: strawberry.Schema, graph: Graph, agreement_id: str) -> list[str]:
    """Submit by `SUBMITTER`; the groups the version now needs."""
    found = await ok(schema, graph, SUBMITTER, SUBMIT, id=agreement_id)
    assert found["submitAgreement"]["status"] == "PENDING_APPROVAL"
    groups: list[str] = found["submitAgreement"]["requiredGroups"]
    return groups


async def test_a_tier_1_sla_needs_it_legal_and_business(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    # Its highest covered tier decides: TIER_1 beats TIER_3.
    sla = await sla_draft(builder, {"checkout": "TIER_1", "search": "TIER_3"})
    assert (await ok(schema, graph, EDITOR, READ, id=sla))["node"]["requiredGroups"] == []
    assert await submitted(schema, graph, sla) == list(BOARD)

    first = (await ok(schema, graph, IVY, APPROVE, id=sla, note="infra ok"))["approveAgreement"]
    assert (first["status"], first["requiredGroups"]) == ("PENDING_APPROVAL", list(BOARD))
    second = (await ok(schema, graph, LEO, APPROVE, id=sla, group="legal"))["approveAgreement"]
    assert second["status"] == "PENDING_APPROVAL"  # business is still missing
    last = (await ok(schema, graph, BEA, APPROVE, id=sla))["approveAgreement"]

    assert last["status"] == "ACTIVE"
    assert last["approvedBy"] == ["ivy", "leo", "bea"]
    assert last["approvals"] == [
        {"by": "ivy", "group": "it", "note": "infra ok"},
        {"by": "leo", "group": "legal", "note": None},
        {"by": "bea", "group": "business", "note": None},
    ]
    # Each approval is audited with the group it signed for.
    trail = (await ok(schema, graph, Actor("audra", Role.ADMIN), TRAIL, id=sla))["auditTrail"]
    signed = {e["node"]["actor"]: json.loads(e["node"]["after"]) for e in trail["edges"]}
    assert {actor: after["group"] for actor, after in signed.items()} == {
        "ivy": "it",
        "leo": "legal",
        "bea": "business",
    }
    assert signed["bea"]["state"] == "APPROVED"
    # The board and the approvers' notes are internal: the SLA's customer reads neither.
    customer = Actor("cara", Role.CUSTOMER, customer_id=(await builder.ids(["cust-1"]))["cust-1"])
    seen = (await ok(schema, graph, customer, SIGNED, id=sla))["node"]
    assert seen == {
        "status": "ACTIVE",
        "approvedBy": ["ivy", "leo", "bea"],
        "requiredGroups": [],
        "approvals": [],
    }


async def test_wrong_groups_and_second_signatures_are_refused(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla = await sla_draft(builder, {"checkout": "TIER_1"})
    await submitted(schema, graph, sla)
    outsider = Actor("fay", Role.APPROVER, groups=frozenset({"finance"}))

    message = await refused(schema, graph, outsider, "FORBIDDEN_TRANSITION", id=sla)
    assert "still needs signatures from 'it', 'legal', 'business'" in message
    assert "carries none of them" in message
    message = await refused(schema, graph, IVY, "FORBIDDEN_TRANSITION", id=sla, group="legal")
    assert "does not carry the group 'legal'" in message
    message = await refused(schema, graph, IVY, "FORBIDDEN_TRANSITION", id=sla, group="audit")
    assert "needs signatures from 'it', 'legal', 'business', not 'audit'" in message
    # An approver of several groups names one; left out, the API asks which.
    message = await refused(schema, graph, MAX, "BAD_USER_INPUT", id=sla)
    assert "'it', 'legal', 'business'; name one" in message

    await ok(schema, graph, MAX, APPROVE, id=sla, group="it")
    message = await refused(schema, graph, MAX, "FORBIDDEN_TRANSITION", id=sla, group="legal")
    assert "max has already approved 'Checkout SLA' (for 'it')" in message
    message = await refused(schema, graph, IVY, "FORBIDDEN_TRANSITION", id=sla, group="it")
    assert "max has already signed 'Checkout SLA' for 'it'" in message

    await ok(schema, graph, LEO, APPROVE, id=sla)
    found = (await ok(schema, graph, EDITOR, READ, id=sla))["node"]
    assert found["status"] == "PENDING_APPROVAL"  # no business signature yet


async def test_the_author_and_the_submitter_sign_for_no_group(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla = await sla_draft(builder, {"checkout": "TIER_1"})
    await submitted(schema, graph, sla)
    for user in (EDITOR.user, SUBMITTER.user):
        holder = Actor(user, Role.ADMIN, groups=frozenset(BOARD))
        for group in BOARD:
            message = await refused(
                schema, graph, holder, "FORBIDDEN_TRANSITION", id=sla, group=group
            )
            assert f"{user} wrote" in message or f"{user} submitted" in message
            assert "cannot also approve it" in message
    found = (await ok(schema, graph, EDITOR, READ, id=sla))["node"]
    assert found["status"] == "PENDING_APPROVAL"


async def test_required_groups_are_fixed_at_submission(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """A settings change after submission does not move the goalposts, either way."""
    strict = await sla_draft(builder, {"checkout": "TIER_1"})
    assert await submitted(schema, graph, strict) == list(BOARD)
    # The boards go away: the pending version still needs its three groups.
    await ok(schema, graph, IVY, APPROVE, (), id=strict)
    found = (await ok(schema, graph, EDITOR, READ, (), id=strict))["node"]
    assert found == {"status": "PENDING_APPROVAL", "requiredGroups": list(BOARD)}

    # Submitted with no board for its tier (TIER_3): the count rule, whatever comes later.
    lenient = await sla_draft(builder, {"catalogue": "TIER_3"})
    assert await submitted(schema, graph, lenient) == []
    strictest = (Board(AgreementKind.SLA, Tier.TIER_3, BOARD),)
    approved = await ok(schema, graph, Actor("abe", Role.APPROVER), APPROVE, strictest, id=lenient)
    assert approved["approveAgreement"]["status"] == "ACTIVE"
    assert approved["approveAgreement"]["approvals"] == [{"by": "abe", "group": None, "note": None}]


async def test_a_ci_only_sla_falls_back_to_the_kind_wide_board(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla = await sla_draft(builder, {"checkout": "TIER_1"}, covers=["db"])
    kind_wide = (*BOARDS, Board(AgreementKind.SLA, None, ("it",)))
    found = await ok(schema, graph, SUBMITTER, SUBMIT, kind_wide, id=sla)
    assert found["submitAgreement"]["requiredGroups"] == ["it"]


async def test_without_boards_one_approval_by_another_approver_still_activates(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    sla = await sla_draft(builder, {"checkout": "TIER_1"})
    found = await ok(schema, graph, SUBMITTER, SUBMIT, (), id=sla)
    assert found["submitAgreement"]["requiredGroups"] == []
    message = await refused(schema, graph, IVY, "FORBIDDEN_TRANSITION", id=sla, group="it")
    assert "has no approval board" in message
    approved = await ok(schema, graph, Actor("abe", Role.APPROVER), APPROVE, (), id=sla)
    assert approved["approveAgreement"]["status"] == "ACTIVE"
    assert approved["approveAgreement"]["approvals"] == [{"by": "abe", "group": None, "note": None}]


async def test_approvals_for_different_groups_racing_over_http_both_count(
    graph: Graph, graph_connection: GraphConnection, builder: GraphBuilder, tmp_path: Path
) -> None:
    """The boards come from the settings; two signatures at once, again and again: each
    counts or is told CONFLICT, none is lost, and the version waits for the third."""
    tag = uuid.uuid4().hex[:6]
    users = {"it": f"it-{tag}", "legal": f"legal-{tag}"}
    tokens = {
        group: await TokenRepository(graph).create(user, Role.APPROVER, groups=frozenset({group}))
        for group, user in users.items()
    }
    settings = Settings(
        data_dir=tmp_path,
        policy=PolicySettings(
            groups=list(BOARD),
            boards=[BoardSettings(kind=AgreementKind.SLA, tier=Tier.TIER_1, groups=list(BOARD))],
        ),
    )
    app = create_app(settings, graph_connection, schedule_syncs=False)
    repository = AgreementRepository(graph)
    submit = "mutation S($id: ID!) { submitAgreement(id: $id) { requiredGroups } }"
    approve = "mutation A($id: ID!) { approveAgreement(id: $id) { status } }"
    submitter = await TokenRepository(graph).create(f"sam-{tag}", Role.EDITOR)

    with serve_app(app, lifespan=True) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for _ in range(4):
                sla = await sla_draft(builder, {f"svc-{uuid.uuid4().hex[:6]}": "TIER_1"})
                response = await client.post(
                    "/graphql",
                    json={"query": submit, "variables": {"id": sla}},
                    headers={"Authorization": f"Bearer {submitter}"},
                )
                assert response.json()["data"]["submitAgreement"]["requiredGroups"] == list(BOARD)
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/graphql",
                            json={"query": approve, "variables": {"id": sla}},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        for token in tokens.values()
                    )
                )
                bodies = [r.json() for r in responses]
                succeeded = set()
                for group, body in zip(tokens, bodies, strict=True):
                    if body.get("errors"):
                        assert [e["extensions"]["code"] for e in body["errors"]] == ["CONFLICT"]
                    else:
                        succeeded.add(group)
                stored = await repository.get(sla)
                assert {a.group for a in stored.approval_log} == succeeded
                assert {a.by for a in stored.approval_log} == {users[g] for g in succeeded}
                assert stored.status is AgreementStatus.PENDING_APPROVAL
