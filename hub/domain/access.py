"""Who may read which scoped records: the token's scope, as pure values.

The rules are the contract's "Access" section. Services, customers and agreements
(and what hangs from them) are scoped; CIs, teams and vendors are shared
infrastructure, except for customer tokens, which read only their own customer, its
SLAs in force and the services those cover. The graph layer applies a `Scope` to every
statement that returns or changes scoped records (`hub.graph.cypher.scope`); nothing
else decides visibility.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any


def _frozen(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True, slots=True)
class Scope:
    """The scoped records a token may read and change.

    `None` means "not limited"; an empty set admits nothing. A record with no
    business unit (or region) is admitted only where units (or regions) are not
    limited.

    A customer token reads its customer's SLAs *in force*: `now` is the instant that
    is judged at, bound once per request (`at`). A customer scope without one admits
    no SLA at all; the other scopes do not use it.
    """

    units: frozenset[str] | None = None
    regions: frozenset[str] | None = None
    customer_id: str | None = None
    now: datetime | None = None

    @classmethod
    def of(
        cls,
        units: Iterable[str] | None = None,
        regions: Iterable[str] | None = None,
        customer_id: str | None = None,
    ) -> Scope:
        return cls(_frozen(units), _frozen(regions), customer_id)

    def at(self, now: datetime) -> Scope:
        """The same scope, judging what is in force at `now`."""
        return replace(self, now=now)

    @property
    def unlimited(self) -> bool:
        return self.units is None and self.regions is None and self.customer_id is None

    @property
    def internal(self) -> bool:
        """Whether internal records (OLAs, UCs, CIs, teams, vendors, gaps) are readable."""
        return self.customer_id is None

    def admits(self, unit: str | None, region: str | None) -> bool:
        """Whether a record of `unit` and `region` is in the unit/region part of the scope."""
        return (self.units is None or unit in self.units) and (
            self.regions is None or region in self.regions
        )

    def params(self) -> dict[str, Any]:
        """The statement parameters that `hub.graph.cypher.scope`'s predicates read."""
        return {
            "scopeUnits": None if self.units is None else sorted(self.units),
            "scopeRegions": None if self.regions is None else sorted(self.regions),
            "scopeCustomer": self.customer_id,
            "scopeNow": None if self.now is None else stored_time(self.now),
        }


def stored_time(moment: datetime) -> str:
    """`moment` as the graph stores and compares times (`hub.graph.ids.to_iso`): UTC,
    fixed width, so that the strings sort as the times do."""
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UNLIMITED = Scope()
