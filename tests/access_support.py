"""A small estate of two business units for the access tests.

Retail (region `eu`) and corporate (region `us`) each have a customer, a service, an
SLA in force for that customer covering the service (with a breached January), and an
OLA in force that underpins the SLA and covers the CI both services run on, and an
approved maintenance exception of the service. A UC underpins nothing, so it belongs
to no unit. Unit and region names carry the test
source, so that no other test's records share them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slo_support import bound, objective_spec, objectives_of, store, utc
from support import APPROVER, EDITOR, authored_then

from hub.domain.exceptions import ExceptionKind
from hub.domain.models import AgreementKind, AgreementSpec, AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.engine.service import ServiceLevels
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.graph.repositories.agreements import AgreementFilter
from hub.graph.repositories.exceptions import ExceptionRepository

UNITS = ("retail", "corp")
REGIONS = {"retail": "eu", "corp": "us"}
# January is breached for both SLAs: 9,000 good of 10,000 against 99.9 %.
ASSESSED_AT = utc(2026, 2, 1)
# Exceptions lie far ahead: the real clock approves them, and they excuse nothing measured.
MAINTENANCE = datetime(2031, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class World:
    source: str
    ids: dict[str, str]

    def unit(self, name: str) -> str:
        return f"{name}-{self.source}"

    def region(self, name: str) -> str:
        return f"{REGIONS[name]}-{self.source}"

    def actor(self, role: Role, scoped: bool) -> Actor:
        """A token of `role`: limited to retail's unit and region when `scoped`; a
        customer token is always bound to the retail customer."""
        customer = self.ids["cust:retail"] if role is Role.CUSTOMER else None
        if not scoped:
            return Actor(f"{role.value}-unlimited", role, customer_id=customer)
        return Actor(
            f"{role.value}-scoped",
            role,
            domains=frozenset({self.unit("retail")}),
            regions=frozenset({self.region("retail")}),
            customer_id=customer,
        )

    async def agreement_in(
        self, graph: Graph, unit: str, status: AgreementStatus, submitter: Actor = EDITOR
    ) -> str:
        """A new SLA for `unit`'s customer, moved to `status` (DRAFT, PENDING_APPROVAL or
        ACTIVE) by the test authors, or submitted by `submitter`."""
        repository = AgreementRepository(graph, clock=authored_then)
        agreement_id = await repository.create(self.sla_spec(unit, "Fresh SLA"), EDITOR)
        if status is not AgreementStatus.DRAFT:
            await repository.submit(agreement_id, submitter)
        if status is AgreementStatus.ACTIVE:
            await repository.approve(agreement_id, APPROVER)
        return agreement_id

    async def exception_in(self, graph: Graph, unit: str, approved: bool = False) -> str:
        """A new exception of `unit`'s service, requested by the test editor (and
        approved by the test approver, if asked)."""
        repository = ExceptionRepository(graph)
        exception = await repository.request(
            EDITOR,
            kind=ExceptionKind.PLANNED_MAINTENANCE,
            components=[self.ids[f"svc:{unit}"]],
            start=MAINTENANCE,
            end=MAINTENANCE + timedelta(hours=2),
            reason="matrix maintenance",
        )
        if approved:
            await repository.approve(exception.id, APPROVER)
        return exception.id

    async def service_in(self, graph: Graph, unit: str) -> str:
        """A new service of `unit` (for mutations that retire one)."""
        key = f"svc-{unit}-{uuid.uuid4().hex[:8]}"
        service = {
            "externalId": key,
            "name": f"Fresh service {unit} {self.source}",
            "businessUnit": self.unit(unit),
            "region": self.region(unit),
        }
        await BundleImporter(graph).load({"source": self.source, "services": [service]})
        found = await ComponentRepository(graph).lookup(self.source, key)
        assert found is not None
        return found

    async def violation_in(self, graph: Graph, unit: str, **fields: Any) -> str:
        """A new ACTIVE SLA of `unit`, breached in January and assessed: its violation's
        id (for mutations that move a violation's remediation on). `fields` are more
        fields of the SLA's spec (a credit policy)."""
        repository = AgreementRepository(graph, clock=authored_then)
        spec = self.sla_spec(unit, f"Violated SLA {uuid.uuid4().hex[:8]}")
        if fields:
            spec = spec.model_copy(update=fields)
        agreement_id = await repository.create(spec, EDITOR)
        await repository.submit(agreement_id, EDITOR)
        await repository.approve(agreement_id, APPROVER)
        (objective,) = await objectives_of(graph, agreement_id)
        await store(graph, objective.id, utc(2026, 1, 20), [9_000], [10_000])
        service = ServiceLevels(graph, bound(objective.id, assess_days=40))
        await service.assess(ASSESSED_AT, [agreement_id])
        (violation,) = await service.violations(agreement_id=agreement_id)
        return violation.id

    def sla_spec(self, unit: str, name: str) -> AgreementSpec:
        return AgreementSpec(
            kind=AgreementKind.SLA,
            name=f"{name} ({unit})",
            covers=(self.ids[f"svc:{unit}"],),
            objectives=(objective_spec(target=99.9, name="availability"),),
            customer_id=self.ids[f"cust:{unit}"],
        )


def _bundle(source: str) -> dict[str, Any]:
    def unit(name: str) -> str:
        return f"{name}-{source}"

    def region(name: str) -> str:
        return f"{REGIONS[name]}-{source}"

    return {
        "source": source,
        "teams": [{"externalId": "team", "name": f"Platform {source}"}],
        "vendors": [{"externalId": "vendor", "name": f"Cloud {source}"}],
        "customers": [
            {
                "externalId": f"cust-{name}",
                "name": f"Customer {name} {source}",
                "businessUnit": unit(name),
                "region": region(name),
            }
            for name in UNITS
        ],
        "services": [
            {
                "externalId": f"svc-{name}",
                "name": f"Service {name} {source}",
                "tier": "TIER_1",
                "businessUnit": unit(name),
                "region": region(name),
                "ownerTeam": "team",
            }
            for name in UNITS
        ],
        "configurationItems": [
            {"externalId": "ci", "name": f"ci-{source}", "ciClass": "cmdb_ci_server"}
        ],
        "dependencies": [{"from": f"svc-{name}", "to": "ci"} for name in UNITS],
    }


async def build_world(graph: Graph, source: str) -> World:
    await BundleImporter(graph).load(_bundle(source))
    components = ComponentRepository(graph)
    ids: dict[str, str] = {}
    for key in ("ci", "team", "vendor", *[f"{k}-{u}" for k in ("svc", "cust") for u in UNITS]):
        found = await components.lookup(source, key)
        assert found is not None, key
        ids[key.replace("-", ":")] = found
    # Approved before January, which is measured below.
    repository = AgreementRepository(graph, clock=authored_then)

    async def activate(spec: AgreementSpec) -> str:
        agreement_id = await repository.create(spec, EDITOR)
        await repository.submit(agreement_id, EDITOR)
        await repository.approve(agreement_id, APPROVER)
        return agreement_id

    world = World(source, ids)
    for unit in UNITS:
        ids[f"sla:{unit}"] = await activate(world.sla_spec(unit, "Checkout SLA"))
        ids[f"ola:{unit}"] = await activate(
            AgreementSpec(
                kind=AgreementKind.OLA,
                name=f"Hosting OLA ({unit})",
                covers=(ids["ci"],),
                objectives=(objective_spec(target=99.95, name="hosting"),),
                provider_team_id=ids["team"],
                underpins=(ids[f"sla:{unit}"],),
            )
        )
    ids["uc"] = await activate(
        AgreementSpec(
            kind=AgreementKind.UC,
            name="Unattached UC",
            covers=(ids["ci"],),
            objectives=(objective_spec(target=99.5, name="vendor"),),
            vendor_id=ids["vendor"],
        )
    )
    objectives = {unit: (await objectives_of(graph, ids[f"sla:{unit}"]))[0].id for unit in UNITS}
    for objective_id in objectives.values():
        await store(graph, objective_id, utc(2026, 1, 20), [9_000], [10_000])
    settings = bound(*objectives.values(), assess_days=40)
    await ServiceLevels(graph, settings).assess(ASSESSED_AT, [ids[f"sla:{unit}"] for unit in UNITS])
    for unit in UNITS:
        (violation,) = await ServiceLevels(graph, settings).violations(
            agreement_id=ids[f"sla:{unit}"]
        )
        ids[f"violation:{unit}"] = violation.id
        ids[f"objective:{unit}"] = objectives[unit]
        ids[f"exception:{unit}"] = await world.exception_in(graph, unit, approved=True)
    listed = await repository.find(AgreementFilter(customer_id=ids["cust:retail"]), limit=10)
    assert [a.id for a in listed] == [ids["sla:retail"]]
    return world
