"""What an API token may be issued with: the rules `hub token create` checks. Pure.

A staff token (viewer, editor, approver, admin) may be limited to business units
(domains) and regions and name approval groups. A `customer` token is bound to exactly
one customer; a `pusher` token names the objectives it may push measurements to.
Neither binding makes sense for another role, so giving one is a mistake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.domain.errors import FieldProblem
from hub.domain.workflow import Role


def _frozen(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """A token to issue. `domains`/`regions` None means "not limited"."""

    user: str
    role: Role
    domains: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    groups: frozenset[str] = field(default_factory=frozenset)
    customer_id: str | None = None
    objectives: frozenset[str] = field(default_factory=frozenset)
    expires_in_days: int | None = None

    @classmethod
    def of(
        cls,
        user: str,
        role: Role,
        *,
        domains: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        groups: Iterable[str] = (),
        customer_id: str | None = None,
        objectives: Iterable[str] = (),
        expires_in_days: int | None = None,
    ) -> TokenSpec:
        return cls(
            user=user,
            role=role,
            domains=_frozen(domains),
            regions=_frozen(regions),
            groups=frozenset(groups),
            customer_id=customer_id,
            objectives=frozenset(objectives),
            expires_in_days=expires_in_days,
        )

    def problems(self) -> list[FieldProblem]:
        """Every rule this spec breaks (references to the graph are checked there)."""
        problems: list[FieldProblem] = []
        if not self.user.strip():
            problems.append(FieldProblem("user", "name who the token is for"))
        if self.role is Role.CUSTOMER and not self.customer_id:
            problems.append(
                FieldProblem("customer", "a customer token needs --customer CUSTOMER_ID")
            )
        if self.role is not Role.CUSTOMER and self.customer_id is not None:
            problems.append(
                FieldProblem(
                    "customer",
                    f"--customer binds customer tokens only; this one is {self.role.value}",
                )
            )
        if self.role is Role.PUSHER and not self.objectives:
            problems.append(
                FieldProblem(
                    "objectives", "a pusher token needs at least one --objective OBJECTIVE_ID"
                )
            )
        if self.role is not Role.PUSHER and self.objectives:
            problems.append(
                FieldProblem(
                    "objectives",
                    f"--objective is for pusher tokens only; this one is {self.role.value}",
                )
            )
        for name, values in (("domains", self.domains), ("regions", self.regions)):
            if values is not None and not all(v.strip() for v in values):
                problems.append(FieldProblem(name, "an empty name limits the token to nothing"))
        if self.expires_in_days is not None and self.expires_in_days < 1:
            problems.append(
                FieldProblem("expiresIn", "give a number of days of 1 or more (or leave it out)")
            )
        return problems
