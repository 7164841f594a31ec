"""The GraphQL schema, composed from one set of queries and mutations per domain."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from hub.schema.agreements.mutations import AgreementMutations
from hub.schema.agreements.queries import AgreementQueries
from hub.schema.agreements.reviews import ReviewMutations
from hub.schema.agreements.templates import TemplateQueries
from hub.schema.agreements.types import (
    OperationalLevelAgreement,
    ServiceLevelAgreement,
    UnderpinningContract,
)
from hub.schema.audit.queries import AuditQueries
from hub.schema.audit.types import AuditRecord
from hub.schema.base import DATETIME_SCALAR, DateTime
from hub.schema.change_requests import ChangeRequestMutations, ChangeRequestQueries
from hub.schema.components.mutations import ComponentMutations
from hub.schema.components.queries import ComponentQueries
from hub.schema.components.types import ConfigurationItem, Service
from hub.schema.distribution import DistributionMutations, DistributionQueries
from hub.schema.errors import ErrorPolicy, HubSchema
from hub.schema.exceptions.mutations import ExceptionMutations
from hub.schema.exceptions.queries import ExceptionQueries
from hub.schema.limits import RequestLimits
from hub.schema.nodes import NodeQueries
from hub.schema.parties.queries import PartyQueries
from hub.schema.parties.types import Customer, Team, Vendor
from hub.schema.remediation.actions import ActionMutations
from hub.schema.remediation.credits import CreditMutations, CreditQueries
from hub.schema.remediation.performance import PerformanceQueries
from hub.schema.remediation.reviews import ServiceReviewMutations, ServiceReviewQueries
from hub.schema.remediation.trends import TrendQueries
from hub.schema.remediation.workflow import RemediationMutations, RemediationQueries
from hub.schema.reports import ReportMutations, ReportQueries
from hub.schema.service_levels.at_risk import AtRiskMutations, AtRiskQueries
from hub.schema.service_levels.budget_policies import BudgetPolicyQueries
from hub.schema.service_levels.ownership import OwnershipMutations
from hub.schema.service_levels.queries import ServiceLevelQueries
from hub.schema.service_levels.suggestions import SuggestionQueries
from hub.schema.service_levels.types import Violation
from hub.schema.subscriptions import Subscription
from hub.schema.sync.queries import SyncMutations, SyncQueries
from hub.schema.traversals.queries import TraversalQueries
from hub.settings import ApiSettings


@strawberry.type
class Query(
    NodeQueries,
    TraversalQueries,
    ComponentQueries,
    PartyQueries,
    AgreementQueries,
    SyncQueries,
    ServiceLevelQueries,
    SuggestionQueries,
    AtRiskQueries,
    BudgetPolicyQueries,
    AuditQueries,
    ExceptionQueries,
    TemplateQueries,
    RemediationQueries,
    CreditQueries,
    ServiceReviewQueries,
    PerformanceQueries,
    TrendQueries,
    ChangeRequestQueries,
    DistributionQueries,
    ReportQueries,
):
    pass


@strawberry.type
class Mutation(
    AgreementMutations,
    ReviewMutations,
    SyncMutations,
    ExceptionMutations,
    ComponentMutations,
    OwnershipMutations,
    AtRiskMutations,
    RemediationMutations,
    CreditMutations,
    ActionMutations,
    ServiceReviewMutations,
    ChangeRequestMutations,
    DistributionMutations,
    ReportMutations,
):
    pass


def build_schema(api: ApiSettings | None = None) -> strawberry.Schema:
    """The served schema, with the query-cost bounds of `api`."""
    api = api or ApiSettings()
    # The rules are made once: ValidationCache keys on them, and limiters built per
    # request would bring new rule classes each time, so nothing would ever hit.
    rules = [
        *QueryDepthLimiter(max_depth=api.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=api.max_aliases).validation_rules,
    ]
    return HubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Types reached only through interfaces must be named to be in the schema.
        types=[
            Service,
            ConfigurationItem,
            Team,
            Vendor,
            Customer,
            ServiceLevelAgreement,
            OperationalLevelAgreement,
            UnderpinningContract,
            Violation,
            AuditRecord,
        ],
        extensions=[
            lambda: AddValidationRules(rules),
            # Tokens while parsing; string lengths and estimated cost before executing.
            lambda: RequestLimits(api),
            # Portals send the same few queries again and again: parse and validate
            # each once (about 3 ms of a 14 ms status request, docs/benchmarks.md).
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            ErrorPolicy,
        ],
        config=StrawberryConfig(auto_camel_case=True, scalar_map={DateTime: DATETIME_SCALAR}),
    )


__all__ = ["Mutation", "Query", "build_schema"]
