"""API tokens: issued, listed, revoked and checked. Only a token's SHA-256 is stored.

Each token has an opaque id (``tok_...``) for listing and revoking; the token itself is
shown once, when it is issued. Issuing and revoking are audited in the same
transaction. A revoked token, or one past its expiry, no longer authenticates.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.domain.audit import AuditEntry
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, Row, Transaction
from hub.graph.cypher import identity as q
from hub.graph.errors import NotFoundError
from hub.graph.ids import new_id, to_iso
from hub.graph.repositories.audit import write_audit

# `AuditEntry` and `write_audit` are also exported from here for modules written before
# the audit trail had modules of its own (`hub.domain.audit`, `...repositories.audit`).
__all__ = [
    "CLI_ACTOR",
    "TOKEN_PREFIX",
    "AuditEntry",
    "IssuedToken",
    "TokenInfo",
    "TokenRepository",
    "assign_token_ids",
    "hash_token",
    "token_actor",
    "write_audit",
]

TOKEN_PREFIX = "hub_"  # noqa: S105 - a marker, not a secret

CLI_ACTOR = Actor(user="cli", role=Role.ADMIN)
"""Who the command line acts as in the audit trail."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: its id (for `hub token revoke`) and the token, shown once."""

    id: str
    token: str = field(repr=False)
    expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What `hub token list` shows of a token: never the token or its hash."""

    id: str
    user: str
    role: str
    domains: tuple[str, ...] | None
    regions: tuple[str, ...] | None
    groups: tuple[str, ...]
    customer_id: str | None
    objectives: tuple[str, ...]
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> TokenInfo:
        return cls(
            id=row["id"],
            user=row["user"],
            role=row["role"],
            domains=_optional(row["domains"]),
            regions=_optional(row["regions"]),
            groups=tuple(sorted(row["groups"] or ())),
            customer_id=row["customerId"],
            objectives=tuple(sorted(row["objectives"] or ())),
            created_at=row["createdAt"],
            expires_at=row["expiresAt"],
            revoked_at=row["revokedAt"],
        )


def _optional(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(sorted(values))


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def _bindings(spec: TokenSpec, token_id: str, expires_at: str | None) -> dict[str, Any]:
    """What the token is bound to, as stored and as audited."""
    return {
        "id": token_id,
        "user": spec.user,
        "role": spec.role.value,
        "domains": _sorted(spec.domains),
        "regions": _sorted(spec.regions),
        "groups": sorted(spec.groups),
        "customerId": spec.customer_id,
        "objectives": sorted(spec.objectives),
        "expiresAt": expires_at,
    }


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenRepository:
    """Issues, lists, revokes and checks tokens; `clock` gives the time expiries are
    reckoned from and checked against (injectable, so tests need not wait days)."""

    def __init__(self, graph: Graph, clock: Clock = _utc_now) -> None:
        self._graph = graph
        self._clock = clock

    async def create(
        self,
        user: str,
        role: Role,
        domains: frozenset[str] | None = None,
        *,
        regions: frozenset[str] | None = None,
        groups: frozenset[str] = frozenset(),
        customer_id: str | None = None,
        objectives: frozenset[str] = frozenset(),
        expires_in_days: int | None = None,
    ) -> str:
        """Issue a token for `user` and return it (shown once: only its hash is kept)."""
        spec = TokenSpec(
            user, role, domains, regions, groups, customer_id, objectives, expires_in_days
        )
        return (await self.issue(spec)).token

    async def issue(self, spec: TokenSpec, actor: Actor = CLI_ACTOR) -> IssuedToken:
        """Issue a token as `spec` says; raise `InvalidInputError` naming every problem
        (a customer or objective that does not exist included) and store nothing then."""
        problems = spec.problems()
        if not problems:
            problems = await self._missing_references(spec)
        if problems:
            raise InvalidInputError(problems)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = new_id("ApiToken")
        now = self._clock()
        expires_at = (
            None
            if spec.expires_in_days is None
            else to_iso(now + timedelta(days=spec.expires_in_days))
        )
        bindings = _bindings(spec, token_id, expires_at)
        entry = AuditEntry.of(actor, "token.create", token_id, after=bindings)

        async def work(tx: Transaction) -> None:
            await tx.run(q.CREATE_TOKEN, hash=hash_token(token), now=to_iso(now), **bindings)
            await write_audit(tx, entry)

        await self._graph.write_transaction(work)
        return IssuedToken(token_id, token, expires_at)

    async def _missing_references(self, spec: TokenSpec) -> list[FieldProblem]:
        if spec.customer_id is None and not spec.objectives:
            return []
        rows = await self._graph.read(
            q.TOKEN_REFERENCES,
            customerId=spec.customer_id,
            objectiveIds=sorted(spec.objectives),
        )
        found = rows[0]
        problems = []
        if spec.customer_id is not None and found["customerId"] is None:
            problems.append(FieldProblem("customer", f"no customer with id {spec.customer_id!r}"))
        known = set(found["objectiveIds"])
        problems.extend(
            FieldProblem("objectives", f"no objective with id {objective_id!r}")
            for objective_id in sorted(spec.objectives - known)
        )
        return problems

    async def all_tokens(self) -> list[TokenInfo]:
        """Every token, oldest first."""
        return [TokenInfo.from_row(row) for row in await self._graph.read(q.LIST_TOKENS)]

    async def revoke(self, token_id: str, actor: Actor = CLI_ACTOR) -> TokenInfo:
        """Revoke the token `token_id` (NotFoundError if there is none); revoking twice
        changes nothing and is audited once."""

        async def work(tx: Transaction) -> bool:
            rows = await tx.run(q.REVOKE_TOKEN, id=token_id, now=to_iso(self._clock()))
            if not rows:
                return False
            row = rows[0]
            if row["previously"] is None:
                entry = AuditEntry.of(
                    actor,
                    "token.revoke",
                    token_id,
                    before={"revokedAt": None},
                    after={"revokedAt": row["revokedAt"]},
                )
                await write_audit(tx, entry)
            return True

        if not await self._graph.write_transaction(work):
            raise NotFoundError("token", token_id)
        listed = {info.id: info for info in await self.all_tokens()}
        return listed[token_id]

    async def authenticate(self, token: str) -> Actor | None:
        """Who holds `token`, or None when it is unknown, revoked or expired."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        rows = await self._graph.read(
            q.TOKEN_BY_HASH, hash=hash_token(token), now=to_iso(self._clock())
        )
        return token_actor(rows[0]) if rows else None


def token_actor(row: Row) -> Actor:
    """The holder of a token, from a row shaped as `TOKEN_BY_HASH` returns it."""
    domains, regions = row["domains"], row["regions"]
    return Actor(
        user=row["user"],
        role=Role.parse(row["role"]),
        domains=None if domains is None else frozenset(domains),
        regions=None if regions is None else frozenset(regions),
        groups=frozenset(row["groups"] or ()),
        customer_id=row["customerId"],
        objectives=frozenset(row["objectives"] or ()),
        token_id=row["id"],
    )


async def assign_token_ids(graph: Graph) -> None:
    """Migration: give tokens issued before tokens had ids one each, so that they can be
    listed and revoked. They keep authenticating as before."""

    async def work(tx: Transaction) -> None:
        rows = await tx.run(q.TOKENS_WITHOUT_ID)
        if rows:
            ids = [{"hash": row["hash"], "id": new_id("ApiToken")} for row in rows]
            await tx.run(q.ASSIGN_TOKEN_IDS, rows=ids)

    await graph.write_transaction(work)
