"""Agreement versions through the API, in process on the real embedded graph: revise,
reject and withdraw with their errors; `versions`, `previousVersion`, `approvals`;
`agreementAsOf` across two versions; lists in force at a time; and immutability, tried
field by field through every path that could write terms (the GraphQL mutations, bundle
import, OpenSLO import).

Version 1 of each agreement is authored by `support.Author` (approved in December
2025, in force since). Approvals through the API happen at server time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry
from slo_support import CREDIT_POLICY, objective_spec, openslo, openslo_text
from support import EDITOR, Author, GraphBuilder, load

from hub.domain.access import UNLIMITED
from hub.domain.bundle import BundleError
from hub.domain.errors import InvalidInputError
from hub.domain.models import AgreementKind, AgreementRevisionSpec, AgreementStatus
from hub.domain.openslo import parse_documents
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.cypher import agreements as aq
from hub.graph.repositories import AgreementRepository, BundleImporter, ObjectiveRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

CAROL = Actor("carol", Role.APPROVER)
SECOND = timedelta(seconds=1)

REVISE = """
mutation R($id: ID!, $input: AgreementRevisionInput!, $reason: String!) {
  reviseAgreement(id: $id, input: $input, reason: $reason) {
    id version lineage status effectiveFrom recordedAt
    previousVersion { id version }
    objectives { indicator target name }
    covers { id }
  }
}
"""
SUBMIT = "mutation S($id: ID!) { submitAgreement(id: $id) { id status } }"
APPROVE = (
    "mutation A($id: ID!, $note: String) { approveAgreement(id: $id, note: $note)"
    " { id status effectiveFrom approvedBy approvals { by group at note } } }"
)
REJECT = (
    "mutation J($id: ID!, $reason: String!) { rejectAgreement(id: $id, reason: $reason)"
    " { id status } }"
)
WITHDRAW = (
    "mutation W($id: ID!, $reason: String!) { withdrawAgreement(id: $id, reason: $reason)"
    " { id status } }"
)
VERSIONS = """
query V($id: ID!) {
  node(id: $id) {
    ... on Agreement {
      id lineage version status effectiveFrom effectiveTo
      previousVersion { id }
      versions { id version status effectiveFrom effectiveTo }
    }
  }
}
"""
AS_OF = """
query A($lineage: ID!, $at: DateTime!) {
  agreementAsOf(lineage: $lineage, at: $at) { id version name }
}
"""
IN_FORCE = """
query L($customer: ID, $asOf: DateTime, $status: [AgreementStatus!]) {
  agreements(customerId: $customer, asOf: $asOf, status: $status) {
    edges { node { id version status } }
  }
}
"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(UTC)


async def ask(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[str], list[str]]:
    """Data, error codes and messages of one request by `actor`, at its own instant."""
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, actor, ApiSettings()),
    )
    errors = result.errors or []
    codes = [str((e.extensions or {}).get("code")) for e in errors]
    return result.data, codes, [e.message for e in errors]


async def ok(
    schema: strawberry.Schema, graph: Graph, actor: Actor, query: str, **variables: Any
) -> dict[str, Any]:
    data, codes, messages = await ask(schema, graph, actor, query, **variables)
    assert codes == [], messages
    assert data is not None
    return data


async def setup(builder: GraphBuilder) -> tuple[dict[str, str], Author, str]:
    ids, author = await load(builder, [("web", "db"), ("api", "db")], services=["web", "api"])
    sla = await author(
        AgreementKind.SLA,
        "Web SLA",
        ["web"],
        [objective_spec(target=99.5, name="avail")],
        credit_policy=CREDIT_POLICY,
    )
    return ids, author, sla


# ---- revise, reject, withdraw -------------------------------------------------------------


async def test_a_revision_through_the_api_from_draft_to_in_force(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    ids, _, v1 = await setup(builder)
    objectives = [
        {"indicator": "AVAILABILITY", "target": 99.9, "windowKind": "CALENDAR_MONTH", "name": "a"}
    ]
    start = now() + 3 * SECOND

    revised = (
        await ok(
            schema,
            graph,
            EDITOR,
            REVISE,
            id=v1,
            input={"objectives": objectives, "effectiveFrom": iso(start)},
            reason="customer pays for 99.9",
        )
    )["reviseAgreement"]

    v2 = revised["id"]
    assert {k: revised[k] for k in ("version", "lineage", "status", "previousVersion")} == {
        "version": 2,
        "lineage": v1,
        "status": "DRAFT",
        "previousVersion": {"id": v1, "version": 1},
    }
    assert revised["objectives"] == [{"indicator": "AVAILABILITY", "target": 99.9, "name": "a"}]
    assert revised["covers"] == [{"id": ids["web"]}]  # copied
    await ok(schema, graph, EDITOR, SUBMIT, id=v2)
    approved = (await ok(schema, graph, CAROL, APPROVE, id=v2, note="fine"))["approveAgreement"]
    assert approved["status"] == "SCHEDULED"
    assert approved["effectiveFrom"] == iso(start)
    assert approved["approvedBy"] == ["carol"]
    (approval,) = approved["approvals"]
    assert (approval["by"], approval["group"], approval["note"]) == ("carol", None, "fine")

    # Before the start: version 1 in force, version 2 scheduled; after it, version 2.
    lineage = (await ok(schema, graph, EDITOR, VERSIONS, id=v2))["node"]
    assert [(v["id"], v["status"]) for v in lineage["versions"]] == [
        (v1, "ACTIVE"),
        (v2, "SCHEDULED"),
    ]
    assert lineage["versions"][0]["effectiveTo"] == iso(start)
    await asyncio.sleep(max(0.0, (start - now()).total_seconds()) + 0.2)
    lineage = (await ok(schema, graph, EDITOR, VERSIONS, id=v1))["node"]
    assert [(v["id"], v["status"]) for v in lineage["versions"]] == [
        (v1, "SUPERSEDED"),
        (v2, "ACTIVE"),
    ]
    # As of any instant: the version in force then.
    for moment, expected in (
        (start - SECOND, {"id": v1, "version": 1, "name": "Web SLA"}),
        (start, {"id": v2, "version": 2, "name": "Web SLA"}),
        (datetime(2025, 6, 1, tzinfo=UTC), None),
    ):
        found = await ok(schema, graph, EDITOR, AS_OF, lineage=v1, at=iso(moment))
        assert found["agreementAsOf"] == expected, moment
    # Lists in force at a time, and by the status now.
    for moment, in_force in ((start - SECOND, v1), (start + SECOND, v2)):
        page = await ok(schema, graph, EDITOR, IN_FORCE, customer=ids["cust-1"], asOf=iso(moment))
        assert [e["node"]["id"] for e in page["agreements"]["edges"]] == [in_force]
    for status, expected_ids in (("ACTIVE", [v2]), ("SUPERSEDED", [v1]), ("SCHEDULED", [])):
        page = await ok(schema, graph, EDITOR, IN_FORCE, customer=ids["cust-1"], status=[status])
        assert [e["node"]["id"] for e in page["agreements"]["edges"]] == expected_ids


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (REVISE, {"input": {"name": "x"}}),
        (REJECT, {}),
        (WITHDRAW, {}),
    ],
    ids=["revise", "reject", "withdraw"],
)
@pytest.mark.parametrize("reason", ["", "  "])
async def test_a_blank_reason_is_bad_input(
    schema: strawberry.Schema,
    graph: Graph,
    builder: GraphBuilder,
    query: str,
    variables: dict[str, Any],
    reason: str,
) -> None:
    _, author, _ = await setup(builder)
    pending = await author(
        AgreementKind.SLA,
        "Pending",
        ["api"],
        [objective_spec()],
        status=AgreementStatus.PENDING_APPROVAL,
    )
    target = (
        pending
        if query is not REVISE
        else await author(AgreementKind.SLA, "Active", ["api"], [objective_spec()])
    )
    actor = CAROL if query is REJECT else EDITOR

    data, codes, messages = await ask(
        schema, graph, actor, query, id=target, reason=reason, **variables
    )

    assert (data, codes) == (None, ["BAD_USER_INPUT"]), messages
    assert "give a reason" in messages[0]


async def test_rejection_and_withdrawal_follow_four_eyes_and_the_submitter(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, author, _ = await setup(builder)

    async def pending() -> str:
        return await author(
            AgreementKind.SLA,
            "Pending",
            ["api"],
            [objective_spec()],
            status=AgreementStatus.PENDING_APPROVAL,
        )

    first, second = await pending(), await pending()
    # The submitter (erin) may not reject, even holding an approver token.
    _, codes, messages = await ask(
        schema, graph, Actor(EDITOR.user, Role.APPROVER), REJECT, id=first, reason="mine"
    )
    assert codes == ["FORBIDDEN_TRANSITION"], messages
    # An editor may not reject at all; another approver may.
    _, codes, _ = await ask(schema, graph, Actor("ed", Role.EDITOR), REJECT, id=first, reason="x")
    assert codes == ["FORBIDDEN"]
    rejected = await ok(schema, graph, CAROL, REJECT, id=first, reason="targets too low")
    assert rejected["rejectAgreement"] == {"id": first, "status": "REJECTED"}
    # Only the submitter withdraws.
    _, codes, messages = await ask(
        schema, graph, Actor("someone", Role.ADMIN), WITHDRAW, id=second, reason="x"
    )
    assert codes == ["FORBIDDEN_TRANSITION"], messages
    withdrawn = await ok(schema, graph, EDITOR, WITHDRAW, id=second, reason="wrong customer")
    assert withdrawn["withdrawAgreement"] == {"id": second, "status": "WITHDRAWN"}
    # Ended versions stay ended.
    for target in (first, second):
        _, codes, _ = await ask(schema, graph, CAROL, APPROVE, id=target)
        assert codes == ["FORBIDDEN_TRANSITION"]


async def test_approval_fails_for_a_backdated_start(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, _, v1 = await setup(builder)
    revised = await ok(
        schema,
        graph,
        EDITOR,
        REVISE,
        id=v1,
        input={"effectiveFrom": iso(now() - timedelta(minutes=5))},
        reason="retroactive credits",
    )
    v2 = revised["reviseAgreement"]["id"]
    await ok(schema, graph, EDITOR, SUBMIT, id=v2)

    data, codes, messages = await ask(schema, graph, CAROL, APPROVE, id=v2)

    assert (data, codes) == (None, ["FORBIDDEN_TRANSITION"])
    assert "never backdates" in messages[0]
    lineage = (await ok(schema, graph, EDITOR, VERSIONS, id=v2))["node"]["versions"]
    assert [v["status"] for v in lineage] == ["ACTIVE", "PENDING_APPROVAL"]


async def test_revising_twice_is_refused_while_a_version_is_open(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    _, _, v1 = await setup(builder)
    v2 = (await ok(schema, graph, EDITOR, REVISE, id=v1, input={}, reason="first"))[
        "reviseAgreement"
    ]["id"]

    for target, words in ((v1, "the latest is version 2"), (v2, "one version in DRAFT")):
        data, codes, messages = await ask(
            schema, graph, EDITOR, REVISE, id=target, input={}, reason="second"
        )
        assert (data, codes) == (None, ["FORBIDDEN_TRANSITION"])
        assert words in messages[0]


# ---- immutability: every term through every path ------------------------------------------

# Each term of a version, a new value for it, and whether AgreementRevisionInput has it
# (the others are refused by the schema itself).
TERMS: dict[str, Any] = {
    "name": "Renamed",
    "objectives": [{"indicator": "AVAILABILITY", "target": 50.0, "windowKind": "CALENDAR_MONTH"}],
    # How an objective is measured is a term too (hub.domain.change_control).
    "objectives.bindings": [
        {
            "indicator": "AVAILABILITY",
            "target": 99.5,
            "windowKind": "CALENDAR_MONTH",
            "name": "avail",
            "bindings": [{"good": "ok", "total": "all"}],
        }
    ],
    "covers": "<api>",
    "underpins": "<other-sla>",
    "effectiveFrom": "2030-01-01T00:00:00Z",
    "effectiveTo": "2031-01-01T00:00:00Z",
    "customerId": "<cust-2>",
    "creditPolicy": {"tiers": [{"belowPercent": 50, "creditPercent": 1}]},
    "creditPolicy.currency": {
        "tiers": [{"belowPercent": 50, "creditPercent": 1}],
        "monthlyFee": 100.5,
        "currency": "USD",
    },
    "indemnityPercent": 50,
    "supportHours": {"timeZone": "Europe/Berlin", "days": [1, 2], "start": "08:00", "end": "18:00"},
    "clauses": [{"kind": "EXCLUSION", "text": "Third-party outages."}],
    "regulations": ["GDPR"],
    "jurisdiction": "DE",
    "dataResidency": ["EU"],
    "level": "CORPORATE",
    "parentId": "<other-sla>",
}
REVISABLE = {
    "name",
    "objectives",
    "covers",
    "underpins",
    "effectiveFrom",
    "effectiveTo",
    "supportHours",
    "clauses",
    "regulations",
    "jurisdiction",
    "dataResidency",
}


async def stored(graph: Graph, agreement_ids: list[str]) -> dict[str, Any]:
    """Everything stored of these versions: properties, objectives, covers, links."""
    repository = AgreementRepository(graph)
    rows = await graph.read(aq.AGREEMENTS_BY_IDS, ids=agreement_ids, **UNLIMITED.params())
    return {
        "nodes": sorted((r["props"]["id"], r["props"], r["counterpartId"]) for r in rows),
        "objectives": await repository.objectives_by_agreement_ids(agreement_ids),
        "covers": await repository.covered_ids_by_agreement_ids(agreement_ids),
        "underpins": await graph.read(aq.UNDERPINNED_IDS_BY_AGREEMENT_IDS, ids=agreement_ids),
        "lineages": await repository.versions_by_lineages(agreement_ids),
    }


async def test_no_path_changes_a_submitted_version(
    schema: strawberry.Schema, graph: Graph, builder: GraphBuilder
) -> None:
    """An SLA (version 1 in force, version 2 PENDING_APPROVAL) and an OLA underpinning
    it (the same): each term, through each path, is refused and nothing stored moves."""
    ids, author, sla = await setup(builder)
    other_sla = await author(AgreementKind.SLA, "Other", ["api"], [objective_spec()])
    ola = await author(
        AgreementKind.OLA, "Hosting", ["db"], [objective_spec(name="hosting")], underpins=[sla]
    )
    repository = AgreementRepository(graph)
    pending = {}
    for v1 in (sla, ola):
        v2 = await repository.revise(v1, _no_change(), EDITOR, "next year")
        await repository.submit(v2, EDITOR)
        pending[v1] = v2
    versions = [sla, ola, *pending.values()]
    before = await stored(graph, versions)
    names = {"<api>": ids["api"], "<other-sla>": other_sla, "<cust-2>": ids["cust-2"]}
    refusals: list[tuple[str, str, str]] = []

    for term, raw in TERMS.items():
        value = [names[raw]] if isinstance(raw, str) and raw in names else raw
        if term in ("customerId", "parentId"):
            value = names[raw]
        for target in versions:
            # The revision mutation on a submitted version (the latest is open) and on
            # version 1 (not the latest): refused either way.
            data, codes, messages = await ask(
                schema,
                graph,
                EDITOR,
                REVISE,
                id=target,
                input={term.partition(".")[0]: value},
                reason="change",
            )
            assert data is None, (term, target)
            # Refused for the version's state (or, first, for what an SLA cannot take);
            # terms a revision cannot hold are refused by the schema itself.
            revisable = term.partition(".")[0] in REVISABLE
            expected = {"FORBIDDEN_TRANSITION", "BAD_USER_INPUT"} if revisable else {"None"}
            assert len(codes) == 1, messages
            assert codes[0] in expected, (term, messages)
            refusals.append(("reviseAgreement", term, codes[0]))
            # Submitting again does not reopen the terms either.
            data, codes, _ = await ask(schema, graph, EDITOR, SUBMIT, id=target)
            assert (data, codes) == (None, ["FORBIDDEN_TRANSITION"])
        # createAgreement cannot name an existing version: the input has no id.
        data, codes, messages = await ask(
            schema,
            graph,
            EDITOR,
            "mutation C($input: AgreementInput!) { createAgreement(input: $input) { id } }",
            input={"id": sla, "kind": "SLA", "name": "x", "covers": [], "objectives": []},
        )
        assert data is None
        assert any("id" in m for m in messages), messages
        # A bundle naming the version.
        with pytest.raises(BundleError, match=r"agreements\[0\]\.id: an import never changes"):
            await BundleImporter(graph).load(
                {"source": builder.source, "agreements": [{"id": sla, term: value}]}
            )
        refusals.append(("import", term, "BundleError"))
        # An OpenSLO document naming the agreement (by id, or by name) as its service.
        for reference in (sla, "Web SLA"):
            document = openslo("avail", reference, 0.5)
            with pytest.raises(InvalidInputError, match="no service"):
                await ObjectiveRepository(graph).import_slos(
                    parse_documents(openslo_text(document)), EDITOR
                )
        refusals.append(("slo import", term, "BAD_USER_INPUT"))

    assert await stored(graph, versions) == before
    assert len(refusals) == len(TERMS) * (len(versions) + 2)


def _no_change() -> AgreementRevisionSpec:
    return AgreementRevisionSpec()
