"""Teams, vendors and customers."""

from __future__ import annotations

import strawberry

from hub.domain import models
from hub.schema.base import Node


@strawberry.type
class Team(Node):
    name: str

    @classmethod
    def from_domain(cls, team: models.Team) -> Team:
        return cls(id=strawberry.ID(team.id), name=team.name)


@strawberry.type
class Vendor(Node):
    name: str

    @classmethod
    def from_domain(cls, vendor: models.Vendor) -> Vendor:
        return cls(id=strawberry.ID(vendor.id), name=vendor.name)


@strawberry.type
class Customer(Node):
    name: str
    business_unit: str | None
    region: str | None
    external: bool = strawberry.field(
        description="An outside party, not a unit of the organisation that runs the hub."
    )

    @classmethod
    def from_domain(cls, customer: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(customer.id),
            name=customer.name,
            business_unit=customer.business_unit,
            region=customer.region,
            external=customer.external,
        )
