"""The standard report templates, read once from hub/templates/reports/*.yaml.

Every business unit uses the same four (operations, business-unit, customer,
executive), so that a figure means the same in every report.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hub.domain.reports import ReportAudience, RowLevel, Template

PACKAGE = "hub.templates"
FOLDER = "reports"
Section = Literal["summary", "chart", "table", "comments"]


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1)
    audience: ReportAudience
    description: str
    kinds: tuple[Literal["SLA", "OLA", "UC"], ...] = Field(min_length=1)
    levels: tuple[RowLevel, ...] = Field(min_length=1)
    sections: tuple[Section, ...] = Field(min_length=1)


class UnknownTemplateError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"there is no report template {name!r}; reportTemplates lists them: "
            + ", ".join(sorted(report_templates()))
        )
        self.name = name


@cache
def report_templates() -> dict[str, Template]:
    """Every shipped template by name (validated: a bad file fails at first use)."""
    folder = resources.files(PACKAGE).joinpath(FOLDER)
    found: dict[str, Template] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        spec = _TemplateFile.model_validate(yaml.safe_load(entry.read_text(encoding="utf-8")))
        found[spec.name] = Template(
            name=spec.name,
            title=spec.title,
            audience=spec.audience,
            description=spec.description.strip(),
            kinds=spec.kinds,
            levels=spec.levels,
            sections=tuple(spec.sections),
        )
    return found


def template_named(name: str) -> Template:
    found = report_templates().get(name)
    if found is None:
        raise UnknownTemplateError(name)
    return found
