"""`node(id)` and `lookup(source, externalId)`: any node, found by its id's kind."""

from __future__ import annotations

import strawberry

from hub.domain.workflow import Role
from hub.graph.ids import kind_of
from hub.schema.agreements.types import load_agreements
from hub.schema.audit.types import AuditRecord
from hub.schema.base import Node
from hub.schema.change_requests import change_request_node
from hub.schema.components.types import load_component
from hub.schema.context import Info
from hub.schema.exceptions.types import ServiceException
from hub.schema.parties.types import Customer, Team, Vendor
from hub.schema.service_levels.types import Violation


async def resolve_node(info: Info, node_id: str) -> Node | None:
    loaders = info.context.loaders
    match kind_of(node_id):
        case "Component":
            return await load_component(info, node_id)
        case "Agreement":
            found = await load_agreements(info, [node_id])
            return found[0] if found else None
        case "Team":
            team = await loaders.team.load(node_id)
            return None if team is None else Team.from_domain(team)
        case "Vendor":
            vendor = await loaders.vendor.load(node_id)
            return None if vendor is None else Vendor.from_domain(vendor)
        case "Customer":
            customer = await loaders.customer.load(node_id)
            return None if customer is None else Customer.from_domain(customer)
        case "Violation":
            violations = await info.context.service_levels.violations_by_ids([node_id])
            record = violations.get(node_id)
            return None if record is None else Violation.from_record(record)
        case "ServiceException":
            exceptions = await info.context.exceptions.by_ids([node_id])
            exception = exceptions.get(node_id)
            return None if exception is None else ServiceException.from_domain(exception)
        case "Credit":
            from hub.schema.remediation.credits import credit_node

            return await credit_node(info, node_id)
        case "Action":
            from hub.schema.remediation.actions import action_node

            return await action_node(info, node_id)
        case "ServiceReview":
            from hub.schema.remediation.reviews import service_review_node

            return await service_review_node(info, node_id)
        case "ChangeRequest":
            return await change_request_node(info, node_id)
        case "ReportSnapshot":
            from hub.schema.reports.types import snapshot_node

            return await snapshot_node(info, node_id)
        case "DistributionList":
            from hub.schema.distribution import distribution_list_node

            return await distribution_list_node(info, node_id)
        case "ReportAnomaly":
            from hub.schema.distribution import anomaly_node

            return await anomaly_node(info, node_id)
        case "AuditRecord":
            # Audit records by id are for admins only; to anyone else they do not exist.
            if not info.context.actor.can(Role.ADMIN):
                return None
            audited = await info.context.audit.by_ids([node_id])
            return None if node_id not in audited else AuditRecord.from_record(audited[node_id])
        case _:
            return None


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Any node by its id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, str(id))

    @strawberry.field(
        description="A component, customer, team or vendor by the key a source system gave it."
    )
    async def lookup(self, info: Info, source: str, external_id: str) -> Node | None:
        node_id = await info.context.components.lookup(source, external_id)
        return None if node_id is None else await resolve_node(info, node_id)
