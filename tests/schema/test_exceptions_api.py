"""Exceptions through GraphQL (`governance.graphql`): the four mutations, the
`exceptions` query and `node`, the errors clients get, and the effect of an approved
exception on the status of the objectives that answer for its components, with
figures worked out by hand."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from slo_support import bound, excuse, iso, march, objective_spec, objectives_of, store, ticket
from support import APPROVER, EDITOR, VIEWER, GraphBuilder, listening, load

from hub.domain.exceptions import ExceptionKind
from hub.domain.models import AgreementKind, Indicator
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.sync import SyncRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings

ADMIN = Actor("ada", Role.ADMIN)
CUSTOMER = Actor("cal", Role.CUSTOMER, customer_id="cus_00000000000000000000000000000000")


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


async def run(
    schema: strawberry.Schema,
    graph: Graph,
    actor: Actor,
    query: str,
    slo: SloSettings | None = None,
    **variables: Any,
) -> tuple[dict[str, Any] | None, list[tuple[str, str, Any]]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings(), slo=slo),
    )
    errors = [
        (
            str((e.extensions or {}).get("code")),
            e.message,
            [p["field"] for p in (e.extensions or {}).get("problems", [])],
        )
        for e in result.errors or []
    ]
    return result.data, errors


async def ok(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> dict[str, Any]:
    data, errors = await run(schema, graph, actor, query, **variables)
    assert errors == []
    assert data is not None
    return data


FIELDS = """
  id kind status start end reason requestedBy statusReason
  components { id name }
  approvals { by group note }
"""
REQUEST = f"""
mutation R($input: ExceptionInput!) {{ requestException(input: $input) {{ {FIELDS} }} }}
"""
APPROVE = f"""
mutation A($id: ID!, $note: String) {{ approveException(id: $id, note: $note) {{ {FIELDS} }} }}
"""
REJECT = f"""
mutation J($id: ID!, $reason: String!) {{
  rejectException(id: $id, reason: $reason) {{ {FIELDS} }}
}}
"""
CANCEL = f"""
mutation C($id: ID!, $reason: String!) {{
  cancelException(id: $id, reason: $reason) {{ {FIELDS} }}
}}
"""
LIST = """
query L($id: ID, $status: [ExceptionStatus!], $from: DateTime, $to: DateTime) {
  exceptions(componentId: $id, status: $status, from: $from, to: $to) { id status }
}
"""


def ahead(hours: float) -> datetime:
    """A moment `hours` from now (the API's workflow runs on the server's clock)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


def exception_input(
    components: list[str], start: datetime, hours: float = 2, **fields: Any
) -> dict[str, Any]:
    return {
        "kind": "PLANNED_MAINTENANCE",
        "components": components,
        "start": iso(start),
        "end": iso(start + timedelta(hours=hours)),
        "reason": "database upgrade",
        **fields,
    }


async def test_request_approve_and_read_it_back_everywhere(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids = await builder.load(services=["shop"], nodes=["db"])
    start = ahead(24)

    requested = await ok(
        schema, graph, EDITOR, REQUEST, input=exception_input([ids["shop"], ids["db"]], start)
    )
    exception = requested["requestException"]
    approved = await ok(schema, graph, APPROVER, APPROVE, id=exception["id"], note="fine")

    assert exception["status"] == "PENDING_APPROVAL"
    assert exception["requestedBy"] == "erin"
    assert exception["start"] == iso(start)
    assert {c["name"] for c in exception["components"]} == {"shop", "db"}
    assert approved["approveException"]["status"] == "APPROVED"
    assert approved["approveException"]["approvals"] == [
        {"by": "abe", "group": None, "note": "fine"}
    ]
    node = await ok(
        schema,
        graph,
        VIEWER,
        "query N($id: ID!) { node(id: $id) { id ... on ServiceException { status } } }",
        id=exception["id"],
    )
    assert node["node"] == {"id": exception["id"], "status": "APPROVED"}
    listed = await ok(schema, graph, VIEWER, LIST, id=ids["db"], status=["APPROVED"])
    assert listed["exceptions"] == [{"id": exception["id"], "status": "APPROVED"}]
    trail = await ok(
        schema,
        graph,
        APPROVER,
        "query T($id: ID) { auditTrail(targetId: $id) { edges { node { actor action } } } }",
        id=exception["id"],
    )
    assert [e["node"] for e in trail["auditTrail"]["edges"]] == [
        {"actor": "erin", "action": "exception.request"},
        {"actor": "abe", "action": "exception.approve"},
    ]


async def test_errors_clients_get_say_what_to_fix(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids = await builder.load(services=["shop"])
    requester = Actor("abe", Role.APPROVER)

    _, refused = await run(
        schema,
        graph,
        EDITOR,
        REQUEST,
        input=exception_input([ids["shop"]], ahead(1), hours=-1, reason=" "),
    )
    assert [(code, fields) for code, _, fields in refused] == [
        ("BAD_USER_INPUT", ["input.end", "input.reason"])
    ]
    _, backdated = await run(
        schema, graph, EDITOR, REQUEST, input=exception_input([ids["shop"]], ahead(-1))
    )
    assert [(code, fields) for code, _, fields in backdated] == [
        ("BAD_USER_INPUT", ["input.start"])
    ]
    data = await ok(
        schema, graph, requester, REQUEST, input=exception_input([ids["shop"]], ahead(2))
    )
    exception_id = data["requestException"]["id"]
    _, own = await run(schema, graph, requester, APPROVE, id=exception_id)
    assert [code for code, _, _ in own] == ["FORBIDDEN_TRANSITION"]
    assert "another approver" in own[0][1]
    _, blank = await run(schema, graph, APPROVER, REJECT, id=exception_id, reason="")
    assert [(code, fields) for code, _, fields in blank] == [("BAD_USER_INPUT", ["reason"])]
    _, viewer = await run(schema, graph, VIEWER, CANCEL, id=exception_id, reason="x")
    assert [code for code, _, _ in viewer] == ["FORBIDDEN"]
    _, customer = await run(schema, graph, CUSTOMER, LIST)
    assert [code for code, _, _ in customer] == ["FORBIDDEN"]
    rejected = await ok(schema, graph, APPROVER, REJECT, id=exception_id, reason="sale week")
    assert rejected["rejectException"]["status"] == "REJECTED"
    assert rejected["rejectException"]["statusReason"] == "sale week"
    _, unknown = await run(
        schema, graph, APPROVER, APPROVE, id="exc_00000000000000000000000000000000"
    )
    assert [code for code, _, _ in unknown] == ["NOT_FOUND"]


async def test_an_approved_exception_is_cancelled_before_its_start_and_not_after(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids = await builder.load(services=["shop"])
    later = await ok(schema, graph, EDITOR, REQUEST, input=exception_input([ids["shop"]], ahead(5)))
    later_id = later["requestException"]["id"]
    await ok(schema, graph, APPROVER, APPROVE, id=later_id)
    # Approved before it started, yesterday: running now.
    running = await excuse(graph, [ids["shop"]], ahead(-24), ahead(24))

    cancelled = await ok(schema, graph, EDITOR, CANCEL, id=later_id, reason="moved")
    _, too_late = await run(schema, graph, EDITOR, CANCEL, id=running, reason="moved")

    assert cancelled["cancelException"]["status"] == "CANCELLED"
    assert cancelled["cancelException"]["statusReason"] == "moved"
    assert [code for code, _, _ in too_late] == ["FORBIDDEN_TRANSITION"]
    listed = await ok(schema, graph, VIEWER, LIST, id=ids["shop"])
    assert {e["id"]: e["status"] for e in listed["exceptions"]} == {
        later_id: "CANCELLED",
        running: "APPROVED",
    }


async def test_a_list_of_exceptions_with_their_components_costs_two_statements(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids = await builder.load(services=["a", "b", "c"])
    for key in ("a", "b", "c"):
        await excuse(graph, [ids[key], ids["a"]], ahead(24), ahead(26))

    with listening(graph) as sent:
        data = await ok(
            schema,
            graph,
            VIEWER,
            "query L($id: ID) { exceptions(componentId: $id) { id components { name } } }",
            id=ids["a"],
        )

    assert len(data["exceptions"]) == 3
    assert sorted(c["name"] for e in data["exceptions"] for c in e["components"]) == [
        "a",
        "a",
        "a",
        "b",
        "c",
    ]
    assert Counter(sent.names) == Counter(
        {"exceptions.COMPONENT_EXCEPTIONS": 1, "components.COMPONENTS_BY_IDS": 1}
    )


# ---- the effect on service levels -------------------------------------------------------

STATUS = """
query S($id: ID!, $at: DateTime) {
  node(id: $id) {
    ... on ServiceLevelAgreement {
      objectives { name status(at: $at) { good total compliance dataCoverage state } }
    }
  }
}
"""
AT = march(2, 14)
# March 1 00:00 to March 2 14:00: 38 hours, 456 buckets.
ELAPSED = 456


async def sla_status(
    schema: strawberry.Schema, graph: Graph, sla: str, slo: SloSettings, at: datetime = AT
) -> Any:
    data, errors = await run(schema, graph, VIEWER, STATUS, slo, id=sla, at=iso(at))
    assert errors == []
    assert data is not None
    return {o["name"]: o["status"] for o in data["node"]["objectives"]}


async def test_an_approved_exception_leaves_its_window_out_of_availability(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """Two hours of buckets from 2 March 10:00, 1,000 requests each; 11:00-11:30 (six
    buckets) answered only 500 of them. The outage is planned maintenance of `shop`."""
    ids, author = await load(builder, [("shop", "db")], services=["shop"])
    sla = await author(AgreementKind.SLA, "Shop", ["shop"], [objective_spec(target=99.0, name="a")])
    (objective,) = await objectives_of(graph, sla)
    good = [1000] * 12 + [500] * 6 + [1000] * 6
    await store(graph, objective.id, march(2, 10), good, [1000] * 24)
    slo = bound(objective.id)
    repository = ExceptionRepository(graph, clock=lambda: march(1))
    pending = await repository.request(
        EDITOR,
        kind=ExceptionKind.PLANNED_MAINTENANCE,
        components=[ids["shop"]],
        start=march(2, 11),
        end=march(2, 11, 30),
        reason="maintenance",
    )
    # Maintenance of `db` excuses nothing of an SLA that covers only `shop`.
    await excuse(graph, [ids["db"]], march(2, 10), march(2, 12))

    before = await sla_status(schema, graph, sla, slo)
    await repository.approve(pending.id, APPROVER)
    after = await sla_status(schema, graph, sla, slo)

    # Pending: 21,000 good of 24,000 (87.5 %); 24 of 456 buckets had data.
    assert before == {
        "a": {
            "good": 21000.0,
            "total": 24000.0,
            "compliance": 87.5,
            "dataCoverage": pytest.approx(100 * 24 / ELAPSED),
            "state": "EXHAUSTED",
        }
    }
    # Approved: the six buckets count neither way and leave the coverage denominator:
    # 18,000 of 18,000; 18 of 450 buckets.
    assert after == {
        "a": {
            "good": 18000.0,
            "total": 18000.0,
            "compliance": 100.0,
            "dataCoverage": pytest.approx(100 * 18 / (ELAPSED - 6)),
            "state": "HEALTHY",
        }
    }


async def test_ticket_clocks_stop_in_an_approved_exception(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder, source: str
) -> None:
    """Office hours 09:00-17:00 UTC (the default calendar). A P1 opened Monday 2 March
    09:00 and resolved 14:00 ran five hours against a four-hour threshold: late. With
    the covered service excused 10:00-12:00 its clock ran three hours: within."""
    ids, author = await load(builder, [], services=["svc"])
    spec = objective_spec(
        Indicator.RESOLUTION_TIME, 90.0, threshold=4 * 3600, priority="P1", name="resolve"
    )
    sla = await author(AgreementKind.SLA, "Desk", ["svc"], [spec])
    await SyncRepository(graph).write_batch(
        f"{source}-itsm", incidents=[ticket(source, "T1", "P1", march(2, 9), resolved=march(2, 14))]
    )
    slo = SloSettings()

    before = await sla_status(schema, graph, sla, slo, march(2, 15))
    await excuse(graph, [ids["svc"]], march(2, 10), march(2, 12))
    after = await sla_status(schema, graph, sla, slo, march(2, 15))

    assert (before["resolve"]["good"], before["resolve"]["total"]) == (0.0, 1.0)
    assert (after["resolve"]["good"], after["resolve"]["total"]) == (1.0, 1.0)
    # Ticket objectives measure every bucket (a quiet one counts zero tickets):
    # nothing is excused from them, the clock simply stops.
    assert after["resolve"]["dataCoverage"] == 100.0
