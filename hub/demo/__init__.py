"""The demo enterprise: a bundle plus agreements, authored and approved as people would,
then service-level data for some of them (see `service_levels.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from hub.demo.service_levels import ServiceLevelCounts, load_service_levels
from hub.domain.bundle import bundle_data
from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    AgreementStatus,
    CreditPolicySpec,
    ObjectiveSpec,
    RatioMetric,
)
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
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


def demo_bundle() -> dict[str, Any]:
    """The demo enterprise as `hub import` reads a bundle (its agreements included)."""
    return bundle_data(
        resources.files("hub.demo").joinpath("enterprise.yaml").read_bytes(), "enterprise.yaml"
    )


async def load_demo(graph: Graph) -> DemoResult:
    """Load the demo enterprise, unless it is loaded already (then change nothing)."""
    raw = demo_bundle()
    source = raw.get("source", "manual")
    components = ComponentRepository(graph)
    first_service = raw["services"][0]["externalId"]
    if await components.lookup(source, first_service) is not None:
        return DemoResult(loaded=False, counts=None, agreements=0)
    counts = await BundleImporter(graph).load(raw)
    specs = raw.get("agreements", [])
    ids = await _author_agreements(graph, source, specs)
    slas = [ids[a["key"]] for a in specs if a["kind"] == AgreementKind.SLA]
    service_levels = await load_service_levels(graph, source, ids, slas)
    return DemoResult(
        loaded=True, counts=counts, agreements=len(ids), service_levels=service_levels
    )


def _metric(raw: dict[str, Any] | None) -> RatioMetric | None:
    """`{source, good or bad, total, counter}` as an OpenSLO ratioMetric would say it."""
    if raw is None:
        return None
    queries = {
        part: {"source_type": raw["source"], "query": raw[part]}
        for part in ("good", "bad", "total")
        if part in raw
    }
    return RatioMetric.model_validate({"counter": raw.get("counter", False), **queries})


def _credit_policy(raw: dict[str, Any] | None) -> CreditPolicySpec | None:
    if raw is None:
        return None
    return CreditPolicySpec.model_validate(
        {
            "tiers": [
                {"below_percent": t["belowPercent"], "credit_percent": t["creditPercent"]}
                for t in raw["tiers"]
            ],
            "cap_percent": raw.get("capPercent", 100.0),
            "monthly_fee": raw.get("monthlyFee"),
        }
    )


async def _author_agreements(
    graph: Graph, source: str, specs: list[dict[str, Any]]
) -> dict[str, str]:
    """Author, submit and approve each agreement as its status says; key -> id."""
    components = ComponentRepository(graph)
    agreements = AgreementRepository(graph, clock=lambda: AUTHORED_AT)
    ids: dict[str, str] = {}

    async def resolve(external_id: str) -> str:
        node_id = await components.lookup(source, external_id)
        if node_id is None:
            raise ValueError(f"the demo agreements name {external_id!r}, which the bundle lacks")
        return node_id

    for raw in specs:
        spec = AgreementSpec(
            kind=raw["kind"],
            name=raw["name"],
            covers=tuple([await resolve(key) for key in raw["covers"]]),
            objectives=tuple(
                ObjectiveSpec.model_validate(
                    {
                        "indicator": o["indicator"],
                        "target": o["target"],
                        "threshold": o.get("threshold"),
                        "window_kind": o["windowKind"],
                        "window_days": o.get("windowDays"),
                        "priority": o.get("priority"),
                        "name": o.get("name"),
                        "metric": _metric(o.get("metric")),
                    }
                )
                for o in raw["objectives"]
            ),
            customer_id=await resolve(raw["customer"]) if "customer" in raw else None,
            provider_team_id=await resolve(raw["providerTeam"]) if "providerTeam" in raw else None,
            vendor_id=await resolve(raw["vendor"]) if "vendor" in raw else None,
            underpins=tuple(ids[key] for key in raw.get("underpins", [])),
            effective_from=raw.get("effectiveFrom"),
            effective_to=raw.get("effectiveTo"),
            credit_policy=_credit_policy(raw.get("creditPolicy")),
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
