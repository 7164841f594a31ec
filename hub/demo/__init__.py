"""The demo enterprise: a bundle plus agreements, authored and approved as people would,
their governance history (see `governance.yaml`), then service-level data for some of
them (see `service_levels.yaml`), and what was done about their violations (see
`remediation.yaml`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from hub.demo.governance import GovernanceCounts, apply_governance, extra_terms, governance_data
from hub.demo.remediation import RemediationCounts, apply_remediation
from hub.demo.service_levels import ServiceLevelCounts, load_service_levels
from hub.demo.specs import credit_policy, objective_spec
from hub.domain.bundle import bundle_data
from hub.domain.models import AgreementKind, AgreementSpec, AgreementStatus
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.ids import Clock, system_clock
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository
from hub.graph.repositories.bundles import ImportCounts

AUTHOR = Actor(user="demo-author", role=Role.EDITOR)
APPROVER = Actor(user="demo-approver", role=Role.APPROVER)
# The demo's agreements are authored and approved as they would have been, on this
# day: before the earliest effectiveFrom the demo names, since an approval never
# backdates terms. Those without an effectiveFrom are in force from it.
AUTHORED_AT = datetime(2025, 12, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoResult:
    loaded: bool
    counts: ImportCounts | None
    agreements: int
    service_levels: ServiceLevelCounts | None = None
    governance: GovernanceCounts | None = None
    remediation: RemediationCounts | None = None


def demo_bundle() -> dict[str, Any]:
    """The demo enterprise as `hub import` reads a bundle (its agreements included)."""
    return bundle_data(
        resources.files("hub.demo").joinpath("enterprise.yaml").read_bytes(), "enterprise.yaml"
    )


async def load_demo(graph: Graph, clock: Clock = system_clock) -> DemoResult:
    """Load the demo enterprise, unless it is loaded already (then change nothing).

    `clock` is when the demo is loaded: only the seller portal SLA's contract end
    depends on it (governance.yaml); everything else happens at fixed instants."""
    raw = demo_bundle()
    source = raw.get("source", "manual")
    components = ComponentRepository(graph)
    first_service = raw["services"][0]["externalId"]
    if await components.lookup(source, first_service) is not None:
        return DemoResult(loaded=False, counts=None, agreements=0)
    counts = await BundleImporter(graph).load(raw)

    async def resolve(external_id: str) -> str:
        node_id = await components.lookup(source, external_id)
        if node_id is None:
            raise ValueError(f"the demo agreements name {external_id!r}, which the bundle lacks")
        return node_id

    specs = raw.get("agreements", [])
    ids = await _author_agreements(graph, resolve, specs, clock())
    slas = [ids[a["key"]] for a in specs if a["kind"] == AgreementKind.SLA]
    governance = await apply_governance(graph, resolve, ids, AUTHOR, APPROVER)
    service_levels = await load_service_levels(graph, source, ids, slas)
    customers = {a["key"]: a["customer"] for a in specs if "customer" in a}

    async def customer_of(agreement_key: str) -> str:
        return await resolve(customers[agreement_key])

    remediation = await apply_remediation(graph, resolve, ids, customer_of)
    return DemoResult(
        loaded=True,
        counts=counts,
        agreements=len(ids),
        service_levels=service_levels,
        governance=governance,
        remediation=remediation,
    )


async def _author_agreements(
    graph: Graph,
    resolve: Callable[[str], Awaitable[str]],
    specs: list[dict[str, Any]],
    loaded_at: datetime,
) -> dict[str, str]:
    """Author, submit and approve each agreement as its status says; key -> id."""
    agreements = AgreementRepository(graph, clock=lambda: AUTHORED_AT)
    ids: dict[str, str] = {}
    # governance.yaml's terms, the seller portal's contract end among them.
    extra = governance_data().get("terms", {})
    for raw in specs:
        terms = {
            "effective_to": raw.get("effectiveTo"),
            **extra_terms(extra.get(raw["key"]), loaded_at),
        }
        spec = AgreementSpec(
            kind=raw["kind"],
            name=raw["name"],
            covers=tuple([await resolve(key) for key in raw["covers"]]),
            objectives=tuple(objective_spec(o) for o in raw["objectives"]),
            customer_id=await resolve(raw["customer"]) if "customer" in raw else None,
            provider_team_id=await resolve(raw["providerTeam"]) if "providerTeam" in raw else None,
            vendor_id=await resolve(raw["vendor"]) if "vendor" in raw else None,
            underpins=tuple(ids[key] for key in raw.get("underpins", [])),
            effective_from=raw.get("effectiveFrom"),
            credit_policy=credit_policy(raw.get("creditPolicy")),
            **terms,
        )
        agreement_id = await agreements.create(spec, AUTHOR, note="demo data")
        ids[raw["key"]] = agreement_id
        wanted = AgreementStatus(raw.get("status", "ACTIVE"))
        if wanted is AgreementStatus.DRAFT:
            continue
        await agreements.submit(agreement_id, AUTHOR, note="demo data")
        if wanted is AgreementStatus.ACTIVE:
            await agreements.approve(agreement_id, APPROVER, note="demo data")
    return ids
