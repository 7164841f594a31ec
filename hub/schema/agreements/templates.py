"""The shipped agreement templates (`agreementTemplates`)."""

from __future__ import annotations

import strawberry

from hub.domain import models
from hub.domain import templates as domain
from hub.schema.agreements.terms import Clause, SupportHours
from hub.schema.agreements.types import Objective, ReviewCycle
from hub.schema.base import AgreementKind, Tier
from hub.schema.context import Info
from hub.schema.permissions import IsStaff
from hub.templates import shipped_templates


def _objective(template: str, index: int, spec: models.ObjectiveSpec) -> Objective:
    # A template's objectives are not stored: their ids name the template and position.
    return Objective.from_domain(
        models.Objective(
            id=f"template:{template}:{index}",
            indicator=spec.indicator,
            target=spec.target,
            threshold=spec.threshold,
            window_kind=spec.window_kind,
            window_days=spec.window_days,
            priority=spec.priority,
            name=spec.name,
        )
    )


@strawberry.type(
    description="The usual terms of a kind of service; see createAgreementFromTemplate."
)
class AgreementTemplate:
    name: str
    description: str
    kind: AgreementKind
    service_tier: Tier | None
    objectives: list[Objective]
    clauses: list[Clause]
    regulations: list[str]
    support_hours: SupportHours | None
    review_cycle: ReviewCycle | None  # type: ignore[valid-type]

    @classmethod
    def from_domain(cls, template: domain.AgreementTemplate) -> AgreementTemplate:
        return cls(
            name=template.name,
            description=template.description,
            kind=template.kind,
            service_tier=template.service_tier,
            objectives=[_objective(template.name, i, o) for i, o in enumerate(template.objectives)],
            clauses=[Clause.from_domain(c) for c in template.clauses],
            regulations=list(template.regulations),
            support_hours=None
            if template.support_hours is None
            else SupportHours.from_domain(template.support_hours),
            review_cycle=template.review_cycle,
        )


@strawberry.type
class TemplateQueries:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="The agreement templates the hub ships, by name.",
    )
    def agreement_templates(self, info: Info) -> list[AgreementTemplate]:
        return [AgreementTemplate.from_domain(t) for _, t in sorted(shipped_templates().items())]
