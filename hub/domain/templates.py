"""Agreement templates: the usual terms of a kind of service, filled in by authors.

Pure rules: `parse_templates` validates the shipped data (hub/templates), `fill` merges
an author's input into a template. Adding a template is adding an entry to the data
file; nothing here names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import AgreementKind, ObjectiveSpec, Tier
from hub.domain.reviews import ReviewCycle
from hub.domain.terms import ClauseSpec, SupportHoursSpec

__all__ = ["AgreementTemplate", "ReviewCycle", "TemplateError", "fill", "parse_templates"]


class AgreementTemplate(BaseModel):
    """The terms a template proposes; an agreement made from it may override each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    description: str = Field(min_length=1, max_length=500)
    kind: AgreementKind
    service_tier: Tier | None = None
    objectives: tuple[ObjectiveSpec, ...] = Field(min_length=1)
    clauses: tuple[ClauseSpec, ...] = ()
    regulations: tuple[str, ...] = ()
    support_hours: SupportHoursSpec | None = None
    review_cycle: ReviewCycle | None = None


class TemplateError(ValueError):
    """The template data is not valid; the message lists every problem."""


def parse_templates(data: Any, name: str) -> dict[str, AgreementTemplate]:
    """The templates in `data` (a mapping with a `templates` list), by name."""
    entries = data.get("templates") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise TemplateError(f"{name}: expected a mapping with a non-empty list `templates`")
    found: dict[str, AgreementTemplate] = {}
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            template = AgreementTemplate.model_validate(entry)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append(f"{name}: templates.{index}.{where}: {error['msg']}")
            continue
        if template.name in found:
            problems.append(f"{name}: templates.{index}.name: {template.name!r} is given twice")
        found[template.name] = template
    if problems:
        raise TemplateError("\n".join(problems))
    return found


def fill(template: AgreementTemplate, values: Mapping[str, Any]) -> dict[str, Any]:
    """An agreement's values from an author's `values` (AgreementSpec fields), with the
    template's terms wherever the author gave none: objectives when the list is empty,
    clauses, regulations and support hours when left out."""
    if values.get("kind") != template.kind:
        problem = FieldProblem(
            "input.kind", f"template {template.name!r} is for a {template.kind}, not this kind"
        )
        raise InvalidInputError([problem])
    filled = dict(values)
    if not filled.get("objectives"):
        filled["objectives"] = tuple(o.model_dump() for o in template.objectives)
    defaults = {
        "clauses": tuple(c.model_dump() for c in template.clauses),
        "regulations": template.regulations,
        "review_cycle": template.review_cycle,
        "support_hours": None
        if template.support_hours is None
        else template.support_hours.model_dump(),
    }
    for key, value in defaults.items():
        if filled.get(key) is None and value:
            filled[key] = value
    return filled
