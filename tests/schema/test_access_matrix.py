"""Every door, every role, every scope: the authorization matrix of the served schema.

`CASES` declares, for each Query and Mutation field (a field may have several cases,
one per kind of record it can name), what each role gets with an unlimited token,
with a token scoped to the target's business unit and region ("in"), and with that
same token naming the other unit's record ("out"). The test reads the fields from the
served schema: a field without a case fails it, so a new field cannot skip the
checkpoint. Every answer that hides a record (BLIND, NOT_FOUND, BAD_USER_INPUT for a
reference) is compared with the answer for an id that does not exist: an out-of-scope
record must look exactly like an unknown one.

The five roles that reach the schema run in process on the real embedded graph;
`pusher` tokens are refused by the HTTP view, so their column is asked over HTTP
(the app in process, through httpx's ASGI transport): 403 for every case.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from access_support import World, build_world
from support import APPROVER, EDITOR

from hub.app import create_app
from hub.domain.models import AgreementStatus
from hub.domain.reviews import ReviewCycle
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.repositories import AgreementRepository, TokenRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, Settings

SEES = "SEES"  # no error, and the target is in the answer
BLIND = "BLIND"  # no error, and the target is not in the answer
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
BAD_INPUT = "BAD_USER_INPUT"

ROLES = (Role.VIEWER, Role.EDITOR, Role.APPROVER, Role.ADMIN, Role.CUSTOMER)
SCOPES = ("unlimited", "in", "out")
# Which unit's record each scope names: an unlimited token is shown another unit's.
TARGET_UNIT = {"unlimited": "corp", "in": "retail", "out": "corp"}

Variables = Callable[[World, Graph, str], Awaitable[dict[str, Any]]]
ActorVariables = Callable[[World, Graph, str, Actor], Awaitable[dict[str, Any]]]
Present = Callable[[dict[str, Any], World, str], bool]
Outcomes = tuple[str, str, str]


@dataclass(frozen=True)
class Case:
    field: str  # "Query.node", "Mutation.createAgreement"
    name: str
    document: str
    variables: Variables
    present: Present
    expected: dict[Role, Outcomes]
    # The same variables naming nothing that exists; None where the case names no
    # scoped record (a hidden answer then has nothing to be compared with).
    unknown: Callable[[World], dict[str, Any]] | None = None
    # For a case whose target depends on who asks (a version only its submitter may
    # withdraw): the variables for that actor, in place of `variables`.
    for_actor: ActorVariables | None = None


def everyone(staff: Outcomes, customer: Outcomes) -> dict[Role, Outcomes]:
    return {**dict.fromkeys(ROLES[:4], staff), Role.CUSTOMER: customer}


def from_role(minimum: Role, allowed: Outcomes) -> dict[Role, Outcomes]:
    forbidden = (FORBIDDEN, FORBIDDEN, FORBIDDEN)
    return {
        role: allowed if role.rank >= minimum.rank and role.rank > 0 else forbidden
        for role in ROLES
    }


# The usual shapes: a scoped record of the target's unit, and shared infrastructure.
SCOPED = everyone((SEES, SEES, BLIND), (BLIND, SEES, BLIND))
SCOPED_INTERNAL = everyone((SEES, SEES, BLIND), (BLIND, BLIND, BLIND))
SHARED_INTERNAL = everyone((SEES, SEES, SEES), (BLIND, BLIND, BLIND))
ROOTED = everyone((SEES, SEES, NOT_FOUND), (NOT_FOUND, SEES, NOT_FOUND))

UNKNOWN_IDS = {
    "Component": "cmp_00000000000000000000000000000000",
    "Customer": "cus_00000000000000000000000000000000",
    "Agreement": "agr_00000000000000000000000000000000",
    "Violation": "vio_00000000000000000000000000000000",
    "Team": "team_00000000000000000000000000000000",
    "ServiceException": "exc_00000000000000000000000000000000",
}


def ids(key: str) -> Variables:
    """Variables `{"id": <the record `key` of the target's unit>}`."""

    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": world.ids[key.format(unit=unit)]}

    return variables


def same(key: str) -> Variables:
    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": world.ids[key]}

    return variables


def node_present(data: dict[str, Any], world: World, unit: str) -> bool:
    return data["node"] is not None


def connection_has(field: str, key: str) -> Present:
    def present(data: dict[str, Any], world: World, unit: str) -> bool:
        listed = {edge["node"]["id"] for edge in data[field]["edges"]}
        return world.ids[key.format(unit=unit)] in listed

    return present


def unknown_id(kind: str) -> Callable[[World], dict[str, Any]]:
    return lambda world: {"id": UNKNOWN_IDS[kind]}


NODE = "query Node($id: ID!) { node(id: $id) { id } }"


def node_case(name: str, key: str, kind: str, expected: dict[Role, Outcomes]) -> Case:
    fixed = "{unit}" not in key
    return Case(
        "Query.node",
        name,
        NODE,
        same(key) if fixed else ids(key),
        node_present,
        expected,
        unknown_id(kind),
    )


async def lookup_vars(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"source": world.source, "key": f"svc-{unit}"}


async def customer_lookup_vars(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"source": world.source, "key": f"cust-{unit}"}


def lookup_unknown(world: World) -> dict[str, Any]:
    return {"source": world.source, "key": "no-such-record"}


async def service_name(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"name": f"Service {unit} {world.source}"}


async def ci_name(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"name": f"ci-{world.source}"}


async def unit_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"unit": world.unit(unit)}


async def customer_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": world.ids[f"cust:{unit}"]}


async def window_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {
        "id": world.ids[f"sla:{unit}"],
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-02-01T00:00:00Z",
    }


async def new_agreement_input(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {
        "input": {
            "kind": "SLA",
            "name": f"Matrix SLA ({unit})",
            "covers": [world.ids[f"svc:{unit}"]],
            "customerId": world.ids[f"cust:{unit}"],
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
            ],
        }
    }


def unknown_agreement_input(world: World) -> dict[str, Any]:
    return {
        "input": {
            "kind": "SLA",
            "name": "Matrix SLA (corp)",
            "covers": [UNKNOWN_IDS["Component"]],
            "customerId": UNKNOWN_IDS["Customer"],
            "objectives": [
                {"indicator": "AVAILABILITY", "target": 99.5, "windowKind": "CALENDAR_MONTH"}
            ],
        }
    }


def fresh(status: AgreementStatus) -> Variables:
    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": await world.agreement_in(graph, unit, status)}

    return variables


async def submitted_by_the_asker(
    world: World, graph: Graph, unit: str, actor: Actor
) -> dict[str, Any]:
    """A new SLA PENDING_APPROVAL, submitted by the user asking (as an editor)."""
    submitter = Actor(actor.user, Role.EDITOR)
    agreement_id = await world.agreement_in(
        graph, unit, AgreementStatus.PENDING_APPROVAL, submitter
    )
    return {"id": agreement_id, "reason": "matrix"}


def with_reason(variables: Variables) -> Variables:
    async def more(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {**await variables(world, graph, unit), "reason": "matrix"}

    return more


def with_note(variables: Variables) -> Variables:
    async def more(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {**await variables(world, graph, unit), "note": "matrix"}

    return more


async def lineage_now(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"lineage": world.ids[f"sla:{unit}"], "at": datetime.now(UTC).isoformat()}


async def reviewed_sla(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    """An SLA of `unit` in force from now, reviewed monthly: due within 40 days. Made
    once per unit, when a case first asks."""
    key = f"reviewed:{unit}"
    if key not in world.ids:
        repository = AgreementRepository(graph)
        spec = world.sla_spec(unit, "Reviewed SLA").model_copy(
            update={"review_cycle": ReviewCycle.MONTHLY}
        )
        world.ids[key] = await repository.create(spec, EDITOR)
        await repository.submit(world.ids[key], EDITOR)
        await repository.approve(world.ids[key], APPROVER)
    return {}


def renewal_of(data: dict[str, Any], world: World, unit: str) -> bool:
    due = {renewal["agreement"]["id"] for renewal in data["upcomingRenewals"]}
    return world.ids[f"reviewed:{unit}"] in due


async def customer_now(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": world.ids[f"cust:{unit}"], "asOf": datetime.now(UTC).isoformat()}


async def no_variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {}


def exposed(impact: dict[str, Any], world: World, unit: str) -> bool:
    """Whether the unit's SLA is among the agreements exposed; its customer with it."""
    sla = world.ids[f"sla:{unit}"] in {a["id"] for a in impact["agreements"]}
    customer = world.ids[f"cust:{unit}"] in {c["id"] for c in impact["customers"]}
    assert sla == customer, impact
    return sla


# A time after every assessment of the world: the revisions current then are today's.
KNOWN_AT = "2999-01-01T00:00:00Z"


async def recorded_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": world.ids[f"sla:{unit}"], "knownAt": KNOWN_AT}


HISTORY = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


def history_of(key: str) -> Variables:
    """The record `key` of the target's unit, over the month the world's buckets are in."""

    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": world.ids[key.format(unit=unit)], **HISTORY}

    return variables


def answered(field: str) -> Present:
    return lambda data, world, unit: data[field] is not None


# ---- exceptions: scoped through the components they name (docs/security.md) ------------


async def service_of(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": world.ids[f"svc:{unit}"]}


def fresh_exception(approved: bool = False) -> Variables:
    async def variables(world: World, graph: Graph, unit: str) -> dict[str, Any]:
        return {"id": await world.exception_in(graph, unit, approved)}

    return variables


def exception_input(component: str) -> dict[str, Any]:
    return {
        "input": {
            "kind": "PLANNED_MAINTENANCE",
            "components": [component],
            "start": "2031-02-01T00:00:00Z",
            "end": "2031-02-01T02:00:00Z",
            "reason": "matrix maintenance",
        }
    }


async def new_exception_input(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return exception_input(world.ids[f"svc:{unit}"])


async def fresh_service(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await world.service_in(graph, unit)}


async def fresh_violation(world: World, graph: Graph, unit: str) -> dict[str, Any]:
    return {"id": await world.violation_in(graph, unit)}


def moved_to(field: str, status: str) -> Present:
    return lambda data, world, unit: data[field]["status"] == status


CASES: list[Case] = [
    node_case("service", "svc:{unit}", "Component", SCOPED),
    node_case("customer", "cust:{unit}", "Customer", SCOPED),
    node_case("sla", "sla:{unit}", "Agreement", SCOPED),
    node_case("ola", "ola:{unit}", "Agreement", SCOPED_INTERNAL),
    # A UC that underpins no SLA belongs to no unit: only unlimited tokens read it.
    node_case(
        "uc-underpinning-nothing",
        "uc",
        "Agreement",
        everyone((SEES, BLIND, BLIND), (BLIND, BLIND, BLIND)),
    ),
    node_case("violation", "violation:{unit}", "Violation", SCOPED),
    node_case("ci", "ci", "Component", SHARED_INTERNAL),
    node_case("exception", "exception:{unit}", "ServiceException", SCOPED_INTERNAL),
    node_case("team", "team", "Team", SHARED_INTERNAL),
    Case(
        "Query.lookup",
        "service",
        "query L($source: String!, $key: String!) { lookup(source: $source, externalId: $key)"
        " { id } }",
        lookup_vars,
        answered("lookup"),
        SCOPED,
        lookup_unknown,
    ),
    Case(
        "Query.lookup",
        "customer",
        "query L($source: String!, $key: String!) { lookup(source: $source, externalId: $key)"
        " { id } }",
        customer_lookup_vars,
        answered("lookup"),
        SCOPED,
        lookup_unknown,
    ),
    Case(
        "Query.dependencyChain",
        "service",
        "query C($id: ID!) { dependencyChain(id: $id) { root { id } } }",
        ids("svc:{unit}"),
        answered("dependencyChain"),
        ROOTED,
        unknown_id("Component"),
    ),
    Case(
        "Query.impact",
        "service",
        "query I($id: ID!) { impact(id: $id) { root { id } } }",
        ids("svc:{unit}"),
        answered("impact"),
        ROOTED,
        unknown_id("Component"),
    ),
    Case(
        "Query.impact",
        "shared-ci-exposes-the-sla",
        "query I($id: ID!) { impact(id: $id) { agreements { id } customers { id } } }",
        same("ci"),
        lambda data, world, unit: exposed(data["impact"], world, unit),
        everyone((SEES, SEES, BLIND), (NOT_FOUND, NOT_FOUND, NOT_FOUND)),
    ),
    Case(
        "Query.coverageGaps",
        "one-sla",
        "query G($id: ID) { coverageGaps(slaId: $id) { sla { id } } }",
        ids("sla:{unit}"),
        lambda data, world, unit: bool(data["coverageGaps"]),
        SCOPED_INTERNAL,
        unknown_id("Agreement"),
    ),
    Case(
        "Query.coverageGaps",
        "every-sla",
        "query G { coverageGaps { sla { id } } }",
        no_variables,
        lambda data, world, unit: (
            world.ids[f"sla:{unit}"] in {g["sla"]["id"] for g in data["coverageGaps"]}
        ),
        SCOPED_INTERNAL,
    ),
    Case(
        "Query.services",
        "by-name",
        "query S($name: String) { services(nameContains: $name, first: 500)"
        " { edges { node { id } } } }",
        service_name,
        connection_has("services", "svc:{unit}"),
        SCOPED,
        lambda world: {"name": "no-such-service"},
    ),
    Case(
        "Query.configurationItems",
        "by-name",
        "query S($name: String) { configurationItems(nameContains: $name)"
        " { edges { node { id } } } }",
        ci_name,
        connection_has("configurationItems", "ci"),
        SHARED_INTERNAL,
    ),
    Case(
        "Query.customers",
        "by-unit",
        "query C($unit: String) { customers(businessUnit: $unit) { edges { node { id } } } }",
        unit_of,
        connection_has("customers", "cust:{unit}"),
        SCOPED,
        lambda world: {"unit": "no-such-unit"},
    ),
    Case(
        "Query.agreements",
        "slas-of-a-customer",
        "query A($id: ID) { agreements(customerId: $id) { edges { node { id } } } }",
        customer_of,
        connection_has("agreements", "sla:{unit}"),
        SCOPED,
        unknown_id("Customer"),
    ),
    Case(
        "Query.agreements",
        "olas-on-the-shared-ci",
        "query A($id: ID) { agreements(serviceId: $id, kind: [OLA]) { edges { node { id } } } }",
        same("ci"),
        connection_has("agreements", "ola:{unit}"),
        SCOPED_INTERNAL,
    ),
    Case(
        "Query.agreements",
        "slas-in-force-as-of-now",
        "query A($id: ID, $asOf: DateTime) { agreements(customerId: $id, asOf: $asOf)"
        " { edges { node { id } } } }",
        customer_now,
        connection_has("agreements", "sla:{unit}"),
        SCOPED,
        lambda world: {"id": UNKNOWN_IDS["Customer"], "asOf": "2026-06-01T00:00:00Z"},
    ),
    Case(
        "Query.agreementAsOf",
        "an-sla-now",
        "query A($lineage: ID!, $at: DateTime!) { agreementAsOf(lineage: $lineage, at: $at)"
        " { id } }",
        lineage_now,
        answered("agreementAsOf"),
        SCOPED,
        lambda world: {"lineage": UNKNOWN_IDS["Agreement"], "at": "2026-06-01T00:00:00Z"},
    ),
    Case(
        "Query.upcomingRenewals",
        "an-sla-due-for-review",
        "query R { upcomingRenewals(days: 40) { agreement { id } due reason } }",
        reviewed_sla,
        renewal_of,
        SCOPED,
    ),
    Case(
        "Query.syncRuns",
        "any",
        "query R { syncRuns(first: 1) { edges { node { id } } } }",
        no_variables,
        answered("syncRuns"),
        everyone((SEES, SEES, SEES), (FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ),
    Case(
        "Query.quarantine",
        "any",
        "query Q { quarantine(first: 1) { edges { node { source } } } }",
        no_variables,
        answered("quarantine"),
        from_role(Role.ADMIN, (SEES, SEES, SEES)),
    ),
    Case(
        "Query.violations",
        "of-an-sla",
        "query V($id: ID) { violations(agreementId: $id) { edges { node { id } } } }",
        ids("sla:{unit}"),
        lambda data, world, unit: bool(data["violations"]["edges"]),
        SCOPED,
        unknown_id("Agreement"),
    ),
    Case(
        "Query.violationsAsRecorded",
        "of-an-sla",
        "query V($id: ID, $knownAt: DateTime!) { violationsAsRecorded(knownAt: $knownAt,"
        " agreementId: $id) { edges { node { id } } } }",
        recorded_of,
        connection_has("violationsAsRecorded", "violation:{unit}"),
        SCOPED,
        lambda world: {"id": UNKNOWN_IDS["Agreement"], "knownAt": KNOWN_AT},
    ),
    Case(
        "Query.violationsOf",
        "of-an-sla",
        "query V($id: ID) { violationsOf(agreementId: $id) { edges { node { id } } } }",
        ids("sla:{unit}"),
        connection_has("violationsOf", "violation:{unit}"),
        SCOPED,
        unknown_id("Agreement"),
    ),
    Case(
        "Query.rootCause",
        "of-an-sla",
        "query R($id: ID!, $from: DateTime!, $to: DateTime!)"
        " { rootCause(slaId: $id, from: $from, to: $to) { score } }",
        window_of,
        answered("rootCause"),
        ROOTED,
        lambda world: {
            "id": UNKNOWN_IDS["Agreement"],
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-02-01T00:00:00Z",
        },
    ),
    Case(
        "Query.suggestObjectives",
        "of-a-service",
        "query S($id: ID!, $from: DateTime!, $to: DateTime!) { suggestObjectives("
        "serviceId: $id, indicator: AVAILABILITY, from: $from, to: $to) { serviceId } }",
        history_of("svc:{unit}"),
        answered("suggestObjectives"),
        ROOTED,
        lambda world: {"id": UNKNOWN_IDS["Component"], **HISTORY},
    ),
    Case(
        "Query.baseline",
        "of-an-sla-objective",
        "query B($id: ID!, $from: DateTime!, $to: DateTime!) {"
        " baseline(objectiveId: $id, from: $from, to: $to) { bucketsUsed } }",
        history_of("objective:{unit}"),
        answered("baseline"),
        ROOTED,
        lambda world: {"id": "obj_00000000000000000000000000000000", **HISTORY},
    ),
    Case(
        "Query.auditTrail",
        "of-an-sla",
        "query T($id: ID) { auditTrail(targetId: $id) { edges { node { targetId } } } }",
        ids("sla:{unit}"),
        lambda data, world, unit: bool(data["auditTrail"]["edges"]),
        from_role(Role.APPROVER, (SEES, SEES, BLIND)),
        unknown_id("Agreement"),
    ),
    Case(
        "Query.agreementTemplates",
        "shipped",
        "query T { agreementTemplates { name kind } }",
        no_variables,
        lambda data, world, unit: bool(data["agreementTemplates"]),
        everyone((SEES, SEES, SEES), (FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ),
    Case(
        "Mutation.createAgreementFromTemplate",
        "an-sla",
        "mutation C($input: AgreementInput!) {"
        ' createAgreementFromTemplate(template: "tier-1-web-service", input: $input) { id } }',
        new_agreement_input,
        answered("createAgreementFromTemplate"),
        from_role(Role.EDITOR, (SEES, SEES, BAD_INPUT)),
        unknown_agreement_input,
    ),
    Case(
        "Mutation.createAgreement",
        "an-sla",
        "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }",
        new_agreement_input,
        answered("createAgreement"),
        from_role(Role.EDITOR, (SEES, SEES, BAD_INPUT)),
        unknown_agreement_input,
    ),
    Case(
        "Mutation.submitAgreement",
        "a-draft",
        "mutation S($id: ID!) { submitAgreement(id: $id) { id status } }",
        fresh(AgreementStatus.DRAFT),
        lambda data, world, unit: data["submitAgreement"]["status"] == "PENDING_APPROVAL",
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        unknown_id("Agreement"),
    ),
    Case(
        "Mutation.approveAgreement",
        "a-pending-sla",
        "mutation A($id: ID!) { approveAgreement(id: $id) { id status } }",
        fresh(AgreementStatus.PENDING_APPROVAL),
        lambda data, world, unit: data["approveAgreement"]["status"] == "ACTIVE",
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        unknown_id("Agreement"),
    ),
    Case(
        "Mutation.recordRootCause",
        "a-violation",
        'mutation R($id: ID!) { recordRootCause(violationId: $id, summary: "matrix") { id } }',
        ids("violation:{unit}"),
        answered("recordRootCause"),
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        unknown_id("Violation"),
    ),
    Case(
        "Mutation.proposeTargetRevision",
        "a-violation",
        'mutation P($id: ID!) { proposeTargetRevision(violationId: $id, reason: "matrix",'
        " objectives: [{indicator: AVAILABILITY, target: 99.5, windowKind: CALENDAR_MONTH}])"
        " { id version } }",
        fresh_violation,
        lambda data, world, unit: data["proposeTargetRevision"]["version"] == 2,
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        unknown_id("Violation"),
    ),
    Case(
        "Mutation.reviseAgreement",
        "an-active-sla",
        "mutation R($id: ID!, $reason: String!) { reviseAgreement(id: $id, reason: $reason,"
        ' input: {name: "Revised"}) { id version status } }',
        with_reason(fresh(AgreementStatus.ACTIVE)),
        lambda data, world, unit: data["reviseAgreement"]["version"] == 2,
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_IDS["Agreement"], "reason": "matrix"},
    ),
    Case(
        "Mutation.recordReview",
        "an-active-sla",
        "mutation V($id: ID!, $note: String!) { recordReview(id: $id, note: $note)"
        " { id lastReviewedAt } }",
        with_note(fresh(AgreementStatus.ACTIVE)),
        lambda data, world, unit: data["recordReview"]["lastReviewedAt"] is not None,
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_IDS["Agreement"], "note": "matrix"},
    ),
    Case(
        "Mutation.rejectAgreement",
        "a-pending-sla",
        "mutation J($id: ID!, $reason: String!) { rejectAgreement(id: $id, reason: $reason)"
        " { id status } }",
        with_reason(fresh(AgreementStatus.PENDING_APPROVAL)),
        lambda data, world, unit: data["rejectAgreement"]["status"] == "REJECTED",
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_IDS["Agreement"], "reason": "matrix"},
    ),
    Case(
        "Mutation.withdrawAgreement",
        "a-pending-sla-of-its-submitter",
        "mutation W($id: ID!, $reason: String!) { withdrawAgreement(id: $id, reason: $reason)"
        " { id status } }",
        with_reason(fresh(AgreementStatus.PENDING_APPROVAL)),
        lambda data, world, unit: data["withdrawAgreement"]["status"] == "WITHDRAWN",
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": UNKNOWN_IDS["Agreement"], "reason": "matrix"},
        for_actor=submitted_by_the_asker,
    ),
    Case(
        "Query.exceptions",
        "of-a-service",
        "query E($id: ID) { exceptions(componentId: $id) { id } }",
        service_of,
        lambda data, world, unit: (
            world.ids[f"exception:{unit}"] in {e["id"] for e in data["exceptions"]}
        ),
        everyone((SEES, SEES, BLIND), (FORBIDDEN, FORBIDDEN, FORBIDDEN)),
        unknown_id("Component"),
    ),
    Case(
        "Mutation.requestException",
        "on-a-service",
        "mutation R($input: ExceptionInput!) { requestException(input: $input) { id status } }",
        new_exception_input,
        moved_to("requestException", "PENDING_APPROVAL"),
        from_role(Role.EDITOR, (SEES, SEES, BAD_INPUT)),
        lambda world: exception_input(UNKNOWN_IDS["Component"]),
    ),
    Case(
        "Mutation.approveException",
        "a-pending-exception",
        "mutation A($id: ID!) { approveException(id: $id) { id status } }",
        fresh_exception(),
        moved_to("approveException", "APPROVED"),
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        unknown_id("ServiceException"),
    ),
    Case(
        "Mutation.rejectException",
        "a-pending-exception",
        'mutation J($id: ID!) { rejectException(id: $id, reason: "no") { id status } }',
        fresh_exception(),
        moved_to("rejectException", "REJECTED"),
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        unknown_id("ServiceException"),
    ),
    Case(
        "Mutation.cancelException",
        "an-approved-exception-before-its-start",
        'mutation C($id: ID!) { cancelException(id: $id, reason: "moved") { id status } }',
        fresh_exception(approved=True),
        moved_to("cancelException", "CANCELLED"),
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        unknown_id("ServiceException"),
    ),
    Case(
        "Mutation.sunsetService",
        "a-fresh-service",
        'mutation S($id: ID!) { sunsetService(id: $id, reason: "matrix") { id status } }',
        fresh_service,
        moved_to("sunsetService", "SUNSET"),
        # It ends agreements: approvers and admins, as for approving them.
        from_role(Role.APPROVER, (SEES, SEES, NOT_FOUND)),
        unknown_id("Component"),
    ),
    Case(
        "Mutation.setObjectiveOwnership",
        "an-sla-objective",
        "mutation O($id: ID!) { setObjectiveOwnership(objectiveId: $id, mode: REPORTED, "
        'reason: "matrix") { id monitoringMode } }',
        ids("objective:{unit}"),
        lambda data, world, unit: data["setObjectiveOwnership"]["monitoringMode"] == "REPORTED",
        # Operational metadata, not a term: editors, within their scope.
        from_role(Role.EDITOR, (SEES, SEES, NOT_FOUND)),
        lambda world: {"id": "obj_00000000000000000000000000000000"},
    ),
    Case(
        "Mutation.runSync",
        "servicenow",
        'mutation R { runSync(source: "servicenow-cmdb") { id } }',
        no_variables,
        answered("runSync"),
        # The test context runs no connectors: an admin is told so, nobody else is let in.
        from_role(Role.ADMIN, (BAD_INPUT, BAD_INPUT, BAD_INPUT)),
    ),
]

# Cases kept next to the features they cover. Their modules import this one's helpers,
# so they are imported late, when the tests are collected (`all_cases`).
FEATURE_CASES = (
    "remediation_cases_credits",
    "remediation_cases_actions",
    "remediation_cases_performance",
    "change_request_cases",
    "report_cases",
    "distribution_cases",
    "at_risk_cases",
    "budget_policy_cases",
)


def all_cases() -> list[Case]:
    """`CASES` and those of `FEATURE_CASES`."""
    found = list(CASES)
    for name in FEATURE_CASES:
        found.extend(importlib.import_module(name).CASES.values())
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = all_cases()
        metafunc.parametrize("case", cases, ids=[f"{c.field}:{c.name}" for c in cases])


def served_fields(schema: strawberry.Schema) -> set[str]:
    fields: set[str] = set()
    for root in ("Query", "Mutation"):
        definition = schema._schema.get_type(root)  # the graphql-core schema
        assert definition is not None
        fields |= {f"{root}.{name}" for name in definition.fields}  # type: ignore[attr-defined]
    return fields


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    return await build_world(graph, "matrix")


def test_every_query_and_mutation_field_has_a_declared_outcome(schema: strawberry.Schema) -> None:
    cases = all_cases()
    declared = {case.field for case in cases}
    assert served_fields(schema) - declared == set(), "declare these fields in CASES"
    assert declared - served_fields(schema) == set(), "CASES names fields the schema lacks"
    for case in cases:
        assert set(case.expected) == set(ROLES), case.name


def _masked(value: Any) -> Any:
    """An answer with every node id and source key replaced by a placeholder."""
    text = re.sub(r"\b[a-z]{2,4}_[0-9a-f]{32}\b", "<id>", repr(value))
    return re.sub(r"(svc|cust)-(retail|corp)|no-such-record", "<key>", text)


async def _answer(
    schema: strawberry.Schema,
    graph: Graph,
    case: Case,
    world: World,
    role: Role,
    scoped: bool,
    variables: dict[str, Any],
) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    result = await schema.execute(
        case.document,
        variable_values=variables,
        context_value=Context.create(graph, world.actor(role, scoped), ApiSettings()),
    )
    errors = result.errors or []
    codes = [str((e.extensions or {}).get("code")) for e in errors]
    return result.data, codes, [e.message for e in errors]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
async def test_access(
    case: Case, role: Role, scope: str, schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    expected = case.expected[role][SCOPES.index(scope)]
    unit = TARGET_UNIT[scope]
    scoped = scope != "unlimited"
    if case.for_actor is None:
        variables = await case.variables(world, graph, unit)
    else:
        variables = await case.for_actor(world, graph, unit, world.actor(role, scoped))

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


@pytest.fixture(scope="module")
async def pusher_client(
    graph_connection: GraphConnection, graph: Graph, world: World, tmp_path_factory: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await TokenRepository(graph).create(
        "pusher-matrix", Role.PUSHER, objectives=frozenset({world.ids["objective:retail"]})
    )
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("hub-matrix")), graph_connection)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as client,
    ):
        yield client, token


async def test_a_pusher_token_is_refused_on_every_field(
    case: Case, pusher_client: tuple[httpx.AsyncClient, str], graph: Graph, world: World
) -> None:
    client, token = pusher_client
    variables = await case.variables(world, graph, "retail")

    response = await client.post(
        "/graphql",
        json={"query": case.document, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert "data" not in response.json()


# ---- the matrix as docs/security.md shows it ------------------------------------------

SECURITY_DOC = Path(__file__).parents[2] / "docs" / "security.md"
BEGIN, END = "<!-- matrix:begin -->", "<!-- matrix:end -->"
WORDS = {
    SEES: "yes",
    BLIND: "hidden",
    FORBIDDEN: "FORBIDDEN",
    NOT_FOUND: "NOT_FOUND",
    BAD_INPUT: "BAD_USER_INPUT",
}


def matrix_markdown() -> str:
    """The table of `CASES`: one row per case, one column per role, each cell the
    outcome for an unlimited token / one in the record's scope / one outside it."""
    header = "| field | record | " + " | ".join(r.value for r in ROLES) + " | pusher |"
    lines = [header, "|" + "---|" * (len(ROLES) + 3)]
    for case in all_cases():
        cells = [" / ".join(WORDS[o] for o in case.expected[role]) for role in ROLES]
        lines.append(f"| `{case.field}` | {case.name} | " + " | ".join(cells) + " | 403 |")
    return "\n".join(lines)


def test_the_security_doc_shows_this_matrix() -> None:
    """docs/security.md shows the table this test enforces; regenerate it with
    `PYTHONPATH=tests .venv/bin/python tests/schema/test_access_matrix.py` when a case
    changes."""
    text = SECURITY_DOC.read_text()
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert shown == matrix_markdown()


def write_security_doc() -> None:
    text = SECURITY_DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    SECURITY_DOC.write_text(text[:start] + "\n" + matrix_markdown() + "\n" + text[end:])


if __name__ == "__main__":
    # The case modules import this one by name: regenerate through that module, not
    # through __main__, so that they and it share its helpers.
    import test_access_matrix

    test_access_matrix.write_security_doc()
