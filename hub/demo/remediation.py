"""The demo's remediation history (`remediation.yaml`): a root cause with a corrective
action that closes a violation, a violation escalated past its RCA deadline, a
disputed and resolved credit, a vendor flagged for remediation, and a joint service
review with an action.

Each step goes through the repository or job a person or `hub serve` would use, at the
fixed instant the YAML gives (the repositories' clock, the jobs' `now`), so every load
writes the same history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from hub.domain.actions import ActionKind, ActionSpec
from hub.domain.documents import parse_data
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.ids import to_iso
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.actions import ActionRepository
from hub.graph.repositories.credits import CreditRepository
from hub.graph.repositories.remediation import (
    Remediation,
    RemediationRepository,
    remediation_key,
)
from hub.graph.repositories.service_reviews import ServiceReviewRepository
from hub.settings import Settings
from hub.sync.escalations import escalate
from hub.sync.performance import review_performance


@dataclass(frozen=True, slots=True)
class RemediationCounts:
    root_causes: int
    actions: int
    escalations: int
    credits_disputed: int
    service_reviews: int
    remediation_actions: int  # opened by the vendor and team performance rule


def remediation_data() -> dict[str, Any]:
    name = "remediation.yaml"
    data: dict[str, Any] = parse_data(resources.files("hub.demo").joinpath(name).read_bytes(), name)
    return data


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _actor(name: str) -> Actor:
    return Actor(user=name, role=Role.APPROVER if name.endswith("approver") else Role.EDITOR)


def _spec(raw: Mapping[str, Any]) -> ActionSpec:
    return ActionSpec(
        kind=ActionKind(raw["kind"]),
        description=raw["description"],
        owner=raw["owner"],
        due_at=_at(raw["dueAt"]),
        link=raw.get("link"),
    )


class _Periods:
    """Finds a violated period's remediation by the YAML's agreement key, objective
    name and period start."""

    def __init__(self, graph: Graph, agreement_ids: Mapping[str, str]) -> None:
        self._graph = graph
        self._ids = agreement_ids

    async def find(self, raw: Mapping[str, Any]) -> Remediation:
        agreement_id = self._ids[raw["agreement"]]
        objectives = await AgreementRepository(self._graph).objectives_by_agreement_ids(
            [agreement_id]
        )
        named = [o for o in objectives[agreement_id] if o.name == raw["objective"]]
        if len(named) != 1:
            raise ValueError(f"the demo names no objective {raw['objective']!r} (or several)")
        key = remediation_key(agreement_id, named[0].id, to_iso(_at(raw["period"])))
        found = await RemediationRepository(self._graph).by_keys([key])
        if key not in found:
            raise ValueError(f"the demo's {raw['agreement']} has no violation for {raw['period']}")
        return found[key]


async def apply_remediation(
    graph: Graph,
    resolve: Callable[[str], Awaitable[str]],
    agreement_ids: Mapping[str, str],
    customer_of: Callable[[str], Awaitable[str]],
) -> RemediationCounts:
    """Replay remediation.yaml over the assessed demo; `resolve` finds a component by
    its bundle key, `customer_of` the customer id of an SLA key."""
    data = remediation_data()
    periods = _Periods(graph, agreement_ids)
    demo = list(agreement_ids.values())
    settings = Settings.model_construct()  # the defaults; the demo notifies nobody
    root_causes = actions = 0
    for raw in data.get("rootCauses", []):
        at = _at(raw["at"])
        remediation = await periods.find(raw)
        components = [await resolve(key) for key in raw.get("components", [])]
        await RemediationRepository(graph, clock=_fixed(at)).record_root_cause(
            remediation, raw["summary"], components, _actor(raw["by"])
        )
        root_causes += 1
        for item in raw.get("actions", []):
            (action,) = await ActionRepository(graph, clock=_fixed(at)).add(
                remediation.id, [_spec(item)], _actor(raw["by"])
            )
            actions += 1
            if "doneAt" in item:
                await ActionRepository(graph, clock=_fixed(_at(item["doneAt"]))).complete(
                    action.id, item["reason"], item.get("link"), _actor(raw["by"])
                )
    flagged = await review_performance(graph, settings, _at(data["reviewPerformanceAt"]))
    escalated = await escalate(graph, settings, _at(data["escalateAt"]), agreement_ids=demo)
    disputed = 0
    for raw in data.get("credits", []):
        remediation = await periods.find(raw)
        credits = (await CreditRepository(graph).by_remediation_keys([remediation.key]))[
            remediation.key
        ]
        credit = credits[0]
        dispute, resolve_with = raw["dispute"], raw["resolve"]
        customer = Actor(
            dispute["by"], Role.CUSTOMER, customer_id=await customer_of(raw["agreement"])
        )
        disputed_credit = await CreditRepository(graph, clock=_fixed(_at(dispute["at"]))).dispute(
            credit.id, customer, dispute["reason"]
        )
        await CreditRepository(graph, clock=_fixed(_at(resolve_with["at"]))).resolve(
            disputed_credit.id,
            _actor(resolve_with["by"]),
            Decimal(resolve_with["amount"]),
            resolve_with["reason"],
        )
        disputed += 1
    reviews = 0
    for raw in data.get("serviceReviews", []):
        held = _at(raw["heldAt"])
        review_specs: Sequence[ActionSpec] = [_spec(item) for item in raw.get("actions", [])]
        await ServiceReviewRepository(graph, clock=_fixed(held)).record(
            agreement_ids[raw["agreement"]],
            held,
            raw["participants"],
            raw["findings"],
            review_specs,
            _actor(raw["by"]),
        )
        reviews += 1
    return RemediationCounts(
        root_causes=root_causes,
        actions=actions,
        escalations=escalated.escalated,
        credits_disputed=disputed,
        service_reviews=reviews,
        remediation_actions=flagged.opened,
    )
