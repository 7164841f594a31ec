"""API tokens (kept only as SHA-256 hashes) and the audit trail."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import identity as q
from hub.graph.ids import new_id, utc_now

TOKEN_PREFIX = "hub_"  # noqa: S105 - a marker, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    at: str
    actor: str
    action: str
    target_id: str
    target_kind: str
    note: str | None
    details: str | None

    @classmethod
    def of(
        cls,
        actor: Actor,
        action: str,
        target_id: str,
        target_kind: str,
        note: str | None,
        details: str | None = None,
    ) -> AuditEntry:
        return cls(
            new_id("AuditRecord"),
            utc_now(),
            actor.user,
            action,
            target_id,
            target_kind,
            note,
            details,
        )

    @classmethod
    def from_props(cls, props: dict[str, Any]) -> AuditEntry:
        return cls(
            props["id"],
            props["at"],
            props["actor"],
            props["action"],
            props["targetId"],
            props["targetKind"],
            props.get("note"),
            props.get("details"),
        )


async def write_audit(tx: Transaction, entry: AuditEntry) -> None:
    """Append an audit record inside the caller's transaction: both commit, or neither."""
    await tx.run(
        q.WRITE_AUDIT_RECORD,
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        targetId=entry.target_id,
        targetKind=entry.target_kind,
        note=entry.note,
        details=entry.details,
    )


class AuditRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def for_target(self, target_id: str) -> list[AuditEntry]:
        rows = await self._graph.read(q.AUDIT_RECORDS_FOR_TARGET, targetId=target_id)
        return [AuditEntry.from_props(r["props"]) for r in rows]


class TokenRepository:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    async def create(self, user: str, role: Role, domains: frozenset[str] | None) -> str:
        """Issue a new token for `user`; only its hash is stored, so show it once."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        actor = Actor(user="cli", role=Role.ADMIN)
        entry = AuditEntry.of(
            actor, "token.create", user, "ApiToken", None, details=role.name.lower()
        )

        async def work(tx: Transaction) -> None:
            await tx.run(
                q.CREATE_TOKEN,
                hash=hash_token(token),
                user=user,
                role=role.name.lower(),
                domains=None if domains is None else sorted(domains),
                now=utc_now(),
            )
            await write_audit(tx, entry)

        await self._graph.write_transaction(work)
        return token

    async def authenticate(self, token: str) -> Actor | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        rows = await self._graph.read(q.TOKEN_BY_HASH, hash=hash_token(token))
        if not rows:
            return None
        row = rows[0]
        domains = row["domains"]
        return Actor(
            user=row["user"],
            role=Role.parse(row["role"]),
            domains=None if domains is None else frozenset(domains),
        )
