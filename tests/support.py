"""Helpers shared by test modules (import them as `from support import ...`).

They live here rather than in `conftest.py`: several directories have a conftest of
their own, and a module named `conftest` is ambiguous to import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from hub.domain.models import (
    AgreementKind,
    AgreementSpec,
    AgreementState,
    AgreementStatus,
    ObjectiveSpec,
)
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.graph.cypher import Cypher, all_statements
from hub.graph.repositories import AgreementRepository, BundleImporter, ComponentRepository

EDITOR = Actor(user="erin", role=Role.EDITOR)
APPROVER = Actor(user="abe", role=Role.APPROVER)
VIEWER = Actor(user="vic", role=Role.VIEWER)

# Test agreements are authored and approved on this day, before every period the tests
# measure: an approval never backdates terms, and one without an effectiveFrom is in
# force from its approval.
AUTHORED_AT = datetime(2025, 12, 1, tzinfo=UTC)


def authored_then() -> datetime:
    return AUTHORED_AT


# The workflow state each status `Author` is asked for is reached by.
_STATES = {
    AgreementStatus.DRAFT: AgreementState.DRAFT,
    AgreementStatus.PENDING_APPROVAL: AgreementState.PENDING_APPROVAL,
    AgreementStatus.ACTIVE: AgreementState.APPROVED,
}


class GraphBuilder:
    """Builds small graphs from plain edges through the real import path."""

    def __init__(self, graph: Graph, source: str) -> None:
        self.graph = graph
        self.source = source
        self.components = ComponentRepository(graph)

    async def load(
        self,
        edges: Sequence[tuple[str, str]] = (),
        nodes: Sequence[str] = (),
        services: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
        tiers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """Import `nodes` and the ends of `edges` (keys in `services` become services, of
        the tier `tiers` gives them, if any); return their ids by key."""
        keys = list(dict.fromkeys([*nodes, *[k for e in edges for k in e], *services]))
        tiers = tiers or {}
        bundle: dict[str, Any] = {
            "source": self.source,
            "services": [
                {"externalId": k, "name": k, **({"tier": tiers[k]} if k in tiers else {})}
                for k in keys
                if k in services
            ],
            "configurationItems": [
                {"externalId": k, "name": k, "ciClass": "cmdb_ci_server"}
                for k in keys
                if k not in services
            ],
            "dependencies": [{"from": a, "to": b} for a, b in edges],
            **(extra or {}),
        }
        await BundleImporter(self.graph).load(bundle)
        return await self.ids(keys)

    async def ids(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key in keys:
            node_id = await self.components.lookup(self.source, key)
            assert node_id is not None, key
            found[key] = node_id
        return found


# A team, a vendor and three customers: the counterparts agreements need.
PARTIES: dict[str, Any] = {
    "teams": [{"externalId": "team", "name": "Platform Team"}],
    "vendors": [{"externalId": "vendor", "name": "Example Cloud Inc."}],
    "customers": [
        {"externalId": "cust-1", "name": "Retail BU", "businessUnit": "retail"},
        {"externalId": "cust-2", "name": "Wholesale BU", "businessUnit": "wholesale"},
        {"externalId": "cust-3", "name": "Unrelated BU"},
    ],
}
PARTY_KEYS = ["team", "vendor", "cust-1", "cust-2", "cust-3"]


class Author:
    """Authors agreements over one test's graph and moves them to a status; `fields`
    are the spec's other fields (a credit policy, an effective date). Everything
    happens at `AUTHORED_AT`: ACTIVE means approved then, in force from then or from
    its effectiveFrom."""

    def __init__(self, graph: Graph, ids: dict[str, str]) -> None:
        self.graph = graph
        self.repository = AgreementRepository(graph, clock=authored_then)
        self.ids = ids

    async def __call__(
        self,
        kind: AgreementKind,
        name: str,
        covers: Sequence[str],
        objectives: Sequence[ObjectiveSpec],
        *,
        status: AgreementStatus = AgreementStatus.ACTIVE,
        customer: str = "cust-1",
        **fields: Any,
    ) -> str:
        spec = AgreementSpec(
            kind=kind,
            name=name,
            covers=tuple(self.ids[key] for key in covers),
            objectives=tuple(objectives),
            customer_id=self.ids[customer] if kind is AgreementKind.SLA else None,
            provider_team_id=self.ids["team"] if kind is AgreementKind.OLA else None,
            vendor_id=self.ids["vendor"] if kind is AgreementKind.UC else None,
            **fields,
        )
        agreement_id = await self.repository.create(spec, EDITOR)
        if status is not AgreementStatus.DRAFT:
            await self.repository.submit(agreement_id, EDITOR, "please review")
        if status is AgreementStatus.ACTIVE:
            await self.repository.approve(agreement_id, APPROVER, "checked")
        assert (await self.repository.get(agreement_id)).state is _STATES[status]
        return agreement_id


async def load(
    builder: GraphBuilder,
    edges: Sequence[tuple[str, str]],
    services: Sequence[str] = (),
    nodes: Sequence[str] = (),
    tiers: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], Author]:
    ids = await builder.load(edges, nodes, services, extra=PARTIES, tiers=tiers)
    ids.update(await builder.ids(PARTY_KEYS))
    return ids, Author(builder.graph, ids)


class StatementLog:
    """The names of the statements sent while it listens."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._name_of = {statement: name for name, statement in all_statements().items()}

    def __call__(self, statement: Cypher) -> None:
        self.names.append(self._name_of.get(statement, statement.text))


@contextmanager
def listening(graph: Graph) -> Iterator[StatementLog]:
    """Log the names of the statements `graph` sends inside the block."""
    log = StatementLog()
    graph.add_listener(log)
    try:
        yield log
    finally:
        graph.remove_listener(log)
