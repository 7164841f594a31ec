"""The demo's governance history (`governance.yaml`): extra terms for the agreements
of enterprise.yaml, a revision, a maintenance exception and a sunset service.

Each change goes through its repository as a person would make it, at the fixed
instant the YAML gives (the repositories' clock), so approvals never backdate and
every load writes the same history. The one exception is the seller portal's
contract end, placed relative to the load so that the demo always has an SLA due for
renewal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from hub.demo.specs import clauses, objective_spec, support_hours
from hub.domain.documents import parse_data
from hub.domain.exceptions import ExceptionKind
from hub.domain.models import AgreementRevisionSpec
from hub.domain.workflow import Actor
from hub.graph.client import Graph
from hub.graph.repositories import AgreementRepository
from hub.graph.repositories.exceptions import ExceptionRepository
from hub.graph.repositories.sunset import SunsetRepository


@dataclass(frozen=True, slots=True)
class GovernanceCounts:
    revisions: int
    exceptions: int
    sunset: int  # agreement versions sunset with their services


def governance_data() -> dict[str, Any]:
    name = "governance.yaml"
    data: dict[str, Any] = parse_data(resources.files("hub.demo").joinpath(name).read_bytes(), name)
    return data


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def extra_terms(raw: dict[str, Any] | None, loaded_at: datetime) -> dict[str, Any]:
    """AgreementSpec fields from one entry of governance.yaml's `terms`."""
    if raw is None:
        return {}
    found: dict[str, Any] = {
        "support_hours": support_hours(raw.get("supportHours")),
        "clauses": clauses(raw.get("clauses", [])),
        "regulations": tuple(raw.get("regulations", [])),
        "jurisdiction": raw.get("jurisdiction"),
        "data_residency": tuple(raw.get("dataResidency", [])),
        "indemnity_percent": raw.get("indemnityPercent"),
    }
    if "effectiveToDaysAfterLoad" in raw:
        day = loaded_at.replace(hour=0, minute=0, second=0, microsecond=0)
        found["effective_to"] = day + timedelta(days=int(raw["effectiveToDaysAfterLoad"]))
    return found


async def apply_governance(
    graph: Graph,
    resolve: Callable[[str], Awaitable[str]],
    ids: dict[str, str],
    author: Actor,
    approver: Actor,
) -> GovernanceCounts:
    """Revise, excuse and sunset as governance.yaml says. `resolve` maps a bundle
    externalId to its node id; `ids` (agreement key -> id) gains the revisions."""
    data = governance_data()
    for raw in data.get("revisions", []):
        ids[raw["key"]] = await _revise(graph, ids[raw["revises"]], raw, author, approver)
    for raw in data.get("exceptions", []):
        requested = ExceptionRepository(graph, clock=_fixed(_at(raw["requestedAt"])))
        exception = await requested.request(
            author,
            kind=ExceptionKind(raw["kind"]),
            components=[await resolve(key) for key in raw["components"]],
            start=_at(raw["start"]),
            end=_at(raw["end"]),
            reason=raw["reason"],
        )
        approved = ExceptionRepository(graph, clock=_fixed(_at(raw["approvedAt"])))
        await approved.approve(exception.id, approver, note="demo data")
    sunset = 0
    for raw in data.get("sunset", []):
        at = _at(raw["at"])
        ended = await SunsetRepository(graph, clock=_fixed(at)).sunset_service(
            await resolve(raw["service"]), approver, raw["reason"]
        )
        sunset += len(ended)
    return GovernanceCounts(
        revisions=len(data.get("revisions", [])),
        exceptions=len(data.get("exceptions", [])),
        sunset=sunset,
    )


async def _revise(
    graph: Graph, agreement_id: str, raw: dict[str, Any], author: Actor, approver: Actor
) -> str:
    authored = AgreementRepository(graph, clock=_fixed(_at(raw["authoredAt"])))
    revision = AgreementRevisionSpec(
        objectives=tuple(objective_spec(o) for o in raw["objectives"]),
        effective_from=_at(raw["effectiveFrom"]),
    )
    revision_id = await authored.revise(agreement_id, revision, author, raw["reason"])
    await authored.submit(revision_id, author, note="demo data")
    approved = AgreementRepository(graph, clock=_fixed(_at(raw["approvedAt"])))
    await approved.approve(revision_id, approver, note="demo data")
    return revision_id
