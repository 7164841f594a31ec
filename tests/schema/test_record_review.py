"""Recording a review through the API, on the real embedded graph: the version's
terms stay as written, `lastReviewedAt` shows the review, `nextReviewAt` moves to one
cycle after it, the review is audited, and renewal reminders follow the new date. Only
approvers, only a version in force, only within the token's scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from slo_support import objective_spec
from support import APPROVER, EDITOR, GraphBuilder, load

from hub.domain.models import AgreementKind, AgreementRevisionSpec, AgreementSpec
from hub.domain.reviews import ReviewCycle, add_months
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.ids import from_iso
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.audit import AuditRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

FIELDS = "id version status reviewCycle nextReviewAt lastReviewedAt name"
RECORD = (
    "mutation V($id: ID!, $note: String!) { recordReview(id: $id, note: $note) {" + FIELDS + "} }"
)
NODE = "query N($id: ID!) { node(id: $id) { ... on Agreement {" + FIELDS + "} } }"
RENEWALS = "query U($days: Int!) { upcomingRenewals(days: $days) { agreement { id } due reason } }"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    return result.data, [
        {"message": e.message, **(e.extensions or {})} for e in result.errors or []
    ]


async def in_force(
    graph: Graph, builder: GraphBuilder, start: datetime, cycle: str = "QUARTERLY"
) -> str:
    """An SLA approved (so in force) at `start`, reviewed every `cycle`."""
    ids, _ = await load(builder, [("web", "db")], services=["web"])
    repository = AgreementRepository(graph, clock=lambda: start)
    agreement_id = await repository.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"Reviewed SLA {ids['web']}",
            covers=(ids["web"],),
            objectives=(objective_spec(target=99.9, name="availability"),),
            customer_id=ids["cust-1"],
            review_cycle=ReviewCycle(cycle),
        ),
        EDITOR,
    )
    await repository.submit(agreement_id, EDITOR)
    await repository.approve(agreement_id, APPROVER)
    return agreement_id


async def test_a_review_moves_the_next_review_without_touching_the_terms(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=80)
    agreement_id = await in_force(graph, builder, start)
    before, errors = await ask(schema, graph, APPROVER, NODE, id=agreement_id)
    assert errors == []
    assert before is not None
    due = add_months(start, 3)  # about ten days from now
    assert from_iso(before["node"]["nextReviewAt"]) == due
    assert before["node"]["lastReviewedAt"] is None
    renewals, _ = await ask(schema, graph, APPROVER, RENEWALS, days=30)
    assert renewals is not None
    assert {
        "agreement": {"id": agreement_id},
        "due": before["node"]["nextReviewAt"],
        "reason": "review",
    } in renewals["upcomingRenewals"]

    asked = datetime.now(UTC)
    data, errors = await ask(schema, graph, APPROVER, RECORD, id=agreement_id, note="still fit")
    assert errors == []
    assert data is not None
    reviewed = data["recordReview"]
    reviewed_at = from_iso(reviewed["lastReviewedAt"])
    assert reviewed_at is not None
    assert asked - timedelta(seconds=1) <= reviewed_at <= datetime.now(UTC)
    assert from_iso(reviewed["nextReviewAt"]) == add_months(reviewed_at, 3)
    # The same version, with the same terms: a review is no revision.
    assert {k: reviewed[k] for k in ("id", "version", "status", "reviewCycle", "name")} == {
        k: before["node"][k] for k in ("id", "version", "status", "reviewCycle", "name")
    }
    again, _ = await ask(schema, graph, APPROVER, NODE, id=agreement_id)
    assert again is not None
    assert again["node"] == reviewed

    # Reminders follow the new date: nothing due for this agreement within 30 days.
    renewals, _ = await ask(schema, graph, APPROVER, RENEWALS, days=30)
    assert renewals is not None
    assert agreement_id not in {r["agreement"]["id"] for r in renewals["upcomingRenewals"]}

    records = await AuditRepository(graph).for_target(agreement_id)
    review = [r for r in records if r.action == "agreement.review"]
    assert len(review) == 1
    assert (review[0].actor, review[0].reason) == (APPROVER.user, "still fit")
    written = json.loads(review[0].before or "{}")["nextReviewAt"]
    assert from_iso(written) == due
    after = json.loads(review[0].after or "{}")
    assert (after["by"], from_iso(after["reviewedAt"])) == (APPROVER.user, reviewed_at)


async def test_only_approvers_review_only_versions_in_force_with_a_note(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    agreement_id = await in_force(graph, builder, datetime.now(UTC) - timedelta(days=3))
    _, errors = await ask(schema, graph, EDITOR, RECORD, id=agreement_id, note="x")
    assert [e["code"] for e in errors] == ["FORBIDDEN"]
    _, errors = await ask(schema, graph, APPROVER, RECORD, id=agreement_id, note="  ")
    assert [e["code"] for e in errors] == ["BAD_USER_INPUT"]

    # A DRAFT revision is no version in force.
    draft = await AgreementRepository(graph).revise(
        agreement_id, AgreementRevisionSpec(name="Draft"), EDITOR, "change"
    )
    _, errors = await ask(schema, graph, APPROVER, RECORD, id=draft, note="x")
    assert len(errors) == 1
    assert "only a version in force (ACTIVE) can be reviewed" in errors[0]["message"]

    # Another business unit's agreement looks like one that does not exist.
    scoped = Actor("scoped-approver", Role.APPROVER, domains=frozenset({"no-such-unit"}))
    _, hidden = await ask(schema, graph, scoped, RECORD, id=agreement_id, note="x")
    _, unknown = await ask(
        schema, graph, scoped, RECORD, id="agr_00000000000000000000000000000000", note="x"
    )
    assert [e["code"] for e in hidden] == [e["code"] for e in unknown] == ["NOT_FOUND"]
    data, _ = await ask(schema, graph, APPROVER, NODE, id=agreement_id)
    assert data is not None
    assert data["node"]["lastReviewedAt"] is None  # none of the refused calls recorded one
