"""The hub's ownership annotations on an OpenSLO document, as `hub slo apply` reads them.

`metadata.annotations` may name the objective's owner teams and monitoring mode:

- ``hub.owner``: the provider team (the side that keeps the objective), by id or name;
- ``hub.consumer``: the consumer team (the side it is promised to), by id or name;
- ``hub.mode``: ``ACTIVE`` or ``REPORTED`` (any case).

An annotation that is absent leaves that part of the ownership as it is, so a template
that names only its owner does not clear a mode someone set by hand. Which team a name
means is the repository's to resolve; this module only reads the values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.domain.errors import FieldProblem, quoted
from hub.domain.monitoring import MonitoringMode

OWNER_ANNOTATION = "hub.owner"
CONSUMER_ANNOTATION = "hub.consumer"
MODE_ANNOTATION = "hub.mode"


@dataclass(frozen=True, slots=True)
class AnnotatedOwnership:
    """What a document's annotations ask for; None where an annotation is absent."""

    provider: str | None = None
    consumer: str | None = None
    mode: MonitoringMode | None = None

    @property
    def team_refs(self) -> list[str]:
        return [ref for ref in (self.provider, self.consumer) if ref is not None]


def annotated_ownership(
    annotations: Iterable[tuple[str, str]], path: str
) -> tuple[AnnotatedOwnership | None, list[FieldProblem]]:
    """The ownership `annotations` ask for (None when they name none of it), and the
    problems of their values, each named from `path` (e.g. ``documents[0].metadata``)."""
    given = dict(annotations)
    if not any(key in given for key in (OWNER_ANNOTATION, CONSUMER_ANNOTATION, MODE_ANNOTATION)):
        return None, []
    problems: list[FieldProblem] = []
    teams: dict[str, str | None] = {}
    for key in (OWNER_ANNOTATION, CONSUMER_ANNOTATION):
        value = given.get(key)
        if value is not None and not value.strip():
            problems.append(FieldProblem(f"{path}.annotations.{key}", "give a team's id or name"))
            value = None
        teams[key] = None if value is None else value.strip()
    mode: MonitoringMode | None = None
    raw_mode = given.get(MODE_ANNOTATION)
    if raw_mode is not None:
        try:
            mode = MonitoringMode(raw_mode.strip().upper())
        except ValueError:
            allowed = " or ".join(m.value for m in MonitoringMode)
            problems.append(
                FieldProblem(
                    f"{path}.annotations.{MODE_ANNOTATION}",
                    f"{quoted(raw_mode)} is no monitoring mode; give {allowed}",
                )
            )
    found = AnnotatedOwnership(teams[OWNER_ANNOTATION], teams[CONSUMER_ANNOTATION], mode)
    return found, problems
