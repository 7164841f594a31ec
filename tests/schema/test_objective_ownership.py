"""`setObjectiveOwnership`, `Objective.owner` and `Objective.monitoringMode`, asked
in process on the real embedded graph: values, the audit trail's before and after, the
tier defaults, scope (an objective out of scope looks unknown) and roles."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import strawberry
from access_support import World, build_world
from slo_support import import_slo, objective_spec, objectives_of, openslo, openslo_text
from support import APPROVER, EDITOR, GraphBuilder, authored_then

from hub.domain.models import AgreementKind, AgreementSpec
from hub.domain.monitoring import MonitoringMode
from hub.domain.openslo import parse_documents
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.repositories import (
    AgreementRepository,
    BundleImporter,
    ComponentRepository,
    ObjectiveRepository,
)
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.ownership import OwnershipRepository
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings, SloSettings

SET = """
mutation Set($id: ID!, $provider: ID, $consumer: ID, $mode: MonitoringMode, $reason: String!) {
  setObjectiveOwnership(objectiveId: $id, providerTeamId: $provider, consumerTeamId: $consumer,
                        mode: $mode, reason: $reason) {
    id target monitoringMode monitoringModeSource
    owner { provider { id name } consumer { id name } }
  }
}
"""
READ = """
query Read($id: ID!) {
  node(id: $id) {
    ... on Agreement {
      status
      objectives {
        id target monitoringMode monitoringModeSource
        owner { provider { id } consumer { id } }
      }
    }
  }
}
"""
UNKNOWN = "obj_00000000000000000000000000000000"


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema()


@pytest.fixture(scope="module")
async def world(graph: Graph) -> World:
    world = await build_world(graph, f"own-{uuid.uuid4().hex[:6]}")
    await BundleImporter(graph).load(
        {
            "source": world.source,
            "teams": [{"externalId": "consumer", "name": f"Checkout {world.source}"}],
            "services": [
                {
                    "externalId": "svc-minor",
                    "name": f"Minor service {world.source}",
                    "tier": "TIER_4",
                    "businessUnit": world.unit("retail"),
                    "region": world.region("retail"),
                }
            ],
        }
    )
    components = ComponentRepository(graph)
    for key in ("consumer", "svc-minor"):
        found = await components.lookup(world.source, key)
        assert found is not None
        world.ids[key] = found
    return world


async def execute(
    schema: strawberry.Schema,
    graph: Graph,
    world: World,
    query: str,
    role: Role = Role.EDITOR,
    scoped: bool = False,
    **variables: Any,
) -> tuple[dict[str, Any] | None, list[str], list[Any]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=Context.create(graph, world.actor(role, scoped), ApiSettings()),
    )
    errors = result.errors or []
    return (
        result.data,
        [str((e.extensions or {}).get("code")) for e in errors],
        [(e.message, (e.extensions or {}).get("problems")) for e in errors],
    )


async def approved_sla(graph: Graph, world: World, covers: tuple[str, ...]) -> str:
    repository = AgreementRepository(graph, clock=authored_then)
    agreement_id = await repository.create(
        AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"Ownership SLA {uuid.uuid4().hex[:6]}",
            covers=covers,
            objectives=(objective_spec(target=99.5, name="availability"),),
            customer_id=world.ids["cust:retail"],
        ),
        EDITOR,
    )
    await repository.submit(agreement_id, EDITOR)
    await repository.approve(agreement_id, APPROVER)
    return agreement_id


async def test_owners_and_mode_are_set_audited_and_read_back(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    sla = world.ids["sla:retail"]
    objective = world.ids["objective:retail"]
    data, codes, messages = await execute(schema, graph, world, READ, id=sla)
    assert codes == [], messages
    assert data is not None
    (before,) = data["node"]["objectives"]
    # The SLA covers a TIER_1 service: ACTIVE by its tier, nobody owns it yet.
    assert before["monitoringMode"] == "ACTIVE"
    assert before["monitoringModeSource"] == "TIER"
    assert before["owner"] == {"provider": None, "consumer": None}

    data, codes, messages = await execute(
        schema,
        graph,
        world,
        SET,
        id=objective,
        provider=world.ids["team"],
        consumer=world.ids["consumer"],
        mode="REPORTED",
        reason="agreed with checkout in the quarterly review",
    )
    assert codes == [], messages
    assert data is not None
    assert data["setObjectiveOwnership"] == {
        "id": objective,
        "target": 99.9,
        "monitoringMode": "REPORTED",
        "monitoringModeSource": "EXPLICIT",
        "owner": {
            "provider": {"id": world.ids["team"], "name": f"Platform {world.source}"},
            "consumer": {"id": world.ids["consumer"], "name": f"Checkout {world.source}"},
        },
    }
    (record,) = [
        r
        for r in await AuditRepository(graph).for_target(objective)
        if r.action == "objective.ownership"
    ]
    assert record.actor == "editor-unlimited"
    assert record.reason == "agreed with checkout in the quarterly review"
    assert json.loads(record.before or "null") == {
        "providerTeamId": None,
        "consumerTeamId": None,
        "monitoringMode": None,
    }
    assert json.loads(record.after or "null") == {
        "providerTeamId": world.ids["team"],
        "consumerTeamId": world.ids["consumer"],
        "monitoringMode": "REPORTED",
    }

    # Operational metadata, not a term: the approved version is as it was.
    data, codes, _ = await execute(schema, graph, world, READ, id=sla)
    assert data is not None
    assert data["node"]["status"] == "ACTIVE"
    (after,) = data["node"]["objectives"]
    assert after["target"] == before["target"]
    assert after["monitoringMode"] == "REPORTED"
    assert after["owner"]["consumer"] == {"id": world.ids["consumer"]}

    # The same ownership again changes nothing and records nothing.
    await execute(
        schema,
        graph,
        world,
        SET,
        id=objective,
        provider=world.ids["team"],
        consumer=world.ids["consumer"],
        mode="REPORTED",
        reason="again",
    )
    trail = await AuditRepository(graph).for_target(objective)
    assert [r.action for r in trail].count("objective.ownership") == 1

    # A null mode follows the tier again; a null team clears that side.
    data, codes, messages = await execute(
        schema, graph, world, SET, id=objective, provider=world.ids["team"], reason="back"
    )
    assert codes == [], messages
    assert data is not None
    assert data["setObjectiveOwnership"]["monitoringMode"] == "ACTIVE"
    assert data["setObjectiveOwnership"]["monitoringModeSource"] == "TIER"
    assert data["setObjectiveOwnership"]["owner"]["consumer"] is None
    latest = (await AuditRepository(graph).for_target(objective))[-1]
    assert json.loads(latest.after or "null") == {
        "providerTeamId": world.ids["team"],
        "consumerTeamId": None,
        "monitoringMode": None,
    }


async def test_the_highest_covered_tier_sets_an_agreement_objectives_default(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    minor = await approved_sla(graph, world, (world.ids["svc-minor"],))
    both = await approved_sla(graph, world, (world.ids["svc-minor"], world.ids["svc:retail"]))
    for agreement_id, mode, source in ((minor, "REPORTED", "TIER"), (both, "ACTIVE", "TIER")):
        data, codes, _ = await execute(schema, graph, world, READ, id=agreement_id)
        assert codes == []
        assert data is not None
        (objective,) = data["node"]["objectives"]
        assert (objective["monitoringMode"], objective["monitoringModeSource"]) == (mode, source)
    # The OLA covers only a CI: no tier, ACTIVE.
    data, _, _ = await execute(schema, graph, world, READ, id=world.ids["ola:retail"])
    assert data is not None
    (objective,) = data["node"]["objectives"]
    assert (objective["monitoringMode"], objective["monitoringModeSource"]) == (
        "ACTIVE",
        "UNTIERED",
    )
    # And the explicit mode wins over the tier: a TIER_4 objective made ACTIVE.
    (minor_objective,) = await objectives_of(graph, minor)
    data, codes, messages = await execute(
        schema, graph, world, SET, id=minor_objective.id, mode="ACTIVE", reason="customer asked"
    )
    assert codes == [], messages
    assert data is not None
    assert data["setObjectiveOwnership"]["monitoringMode"] == "ACTIVE"


async def test_an_unknown_team_and_a_missing_reason_are_refused_naming_the_argument(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    objective = world.ids["objective:corp"]
    _, codes, messages = await execute(
        schema,
        graph,
        world,
        SET,
        id=objective,
        consumer="team_00000000000000000000000000000000",
        reason="x",
    )
    assert codes == ["BAD_USER_INPUT"]
    assert "consumerTeamId" in json.dumps(messages)
    _, codes, messages = await execute(
        schema, graph, world, SET, id=objective, mode="REPORTED", reason="  "
    )
    assert codes == ["BAD_USER_INPUT"]
    assert "reason" in json.dumps(messages)
    assert not [
        r
        for r in await AuditRepository(graph).for_target(objective)
        if r.action == "objective.ownership"
    ]


async def test_out_of_scope_is_unknown_and_only_editors_may_set(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    corp = world.ids["objective:corp"]
    _, out_codes, out_messages = await execute(
        schema, graph, world, SET, scoped=True, id=corp, mode="REPORTED", reason="x"
    )
    _, unknown_codes, unknown_messages = await execute(
        schema, graph, world, SET, scoped=True, id=UNKNOWN, mode="REPORTED", reason="x"
    )
    assert out_codes == unknown_codes == ["NOT_FOUND"]
    assert [m.replace(corp, UNKNOWN) for m, _ in out_messages] == [m for m, _ in unknown_messages]
    for role in (Role.VIEWER, Role.CUSTOMER):
        _, codes, _ = await execute(
            schema, graph, world, SET, role=role, id=corp, mode="REPORTED", reason="x"
        )
        assert codes == ["FORBIDDEN"]
    assert not [
        r
        for r in await AuditRepository(graph).for_target(corp)
        if r.action == "objective.ownership"
    ]
    data, codes, _ = await execute(
        schema,
        graph,
        world,
        SET,
        role=Role.APPROVER,
        scoped=True,
        id=world.ids["objective:retail"],
        mode="REPORTED",
        reason="in scope",
    )
    assert codes == []
    assert data is not None
    assert data["setObjectiveOwnership"]["monitoringMode"] == "REPORTED"


async def test_reported_objectives_are_left_out_of_every_alerting_path(
    schema: strawberry.Schema, graph: Graph, world: World
) -> None:
    minor = await approved_sla(graph, world, (world.ids["svc-minor"],))
    critical = await approved_sla(graph, world, (world.ids["svc:retail"],))
    silenced = await approved_sla(graph, world, (world.ids["svc:retail"],))
    (minor_objective,) = await objectives_of(graph, minor)
    (critical_objective,) = await objectives_of(graph, critical)
    (silenced_objective,) = await objectives_of(graph, silenced)
    _, codes, _ = await execute(
        schema, graph, world, SET, id=silenced_objective.id, mode="REPORTED", reason="noisy"
    )
    assert codes == []
    ids = [minor_objective.id, critical_objective.id, silenced_objective.id, UNKNOWN]
    # TIER_4 is REPORTED by default, the other TIER_1 one was made REPORTED.
    alerted = await OwnershipRepository(graph).alerted_ids(ids, SloSettings().monitoring)
    assert alerted == {critical_objective.id}


async def test_a_service_objective_keeps_its_ownership_when_its_slo_is_imported_again(
    graph: Graph, builder: GraphBuilder
) -> None:
    # A name of its own: `import_slo` finds the objective by name in the shared graph.
    name = f"{builder.source}-availability"
    objective = await import_slo(builder, name, 0.995)
    await builder.load(extra={"teams": [{"externalId": "t", "name": "T"}]})
    team = await builder.ids(["t"])
    repository = OwnershipRepository(graph)
    await repository.set_ownership(
        objective.id,
        provider_team_id=team["t"],
        consumer_team_id=None,
        mode=MonitoringMode.REPORTED,
        actor=EDITOR,
        reason="owned by T",
    )
    document = openslo(name, f"{builder.source}:checkout", 0.995)
    counts = await ObjectiveRepository(graph).import_slos(
        parse_documents(openslo_text(document)), EDITOR
    )
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 1)
    (found,) = (await repository.by_objective_ids([objective.id])).values()
    assert (found.provider_team_id, found.explicit_mode) == (team["t"], MonitoringMode.REPORTED)
    # A service without a tier would be ACTIVE: the explicit mode is what it keeps.
    assert found.tier is None
    assert found.mode(SloSettings().monitoring) is MonitoringMode.REPORTED
