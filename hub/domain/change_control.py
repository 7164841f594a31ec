"""Change control of how approved objectives are measured: pure comparisons, no I/O.

An agreement objective's telemetry bindings (which source measures it, and with which
queries) are a term of its version, like its target: authored with the objective
(`ObjectiveSpec.bindings`), or, for an approved objective authored without any,
pinned from the settings' `[[slo.bindings]]` by the first telemetry sync while
its version is in force. From then on automation cannot change them: a settings binding that names
the objective and differs is refused (`refusal`), and the objective keeps being
measured by its own. Changing them is a revision of the agreement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "PIN_ACTION",
    "REFUSAL_EXIT_CODE",
    "REFUSED_ACTION",
    "Binding",
    "Refusal",
    "attempted",
    "bindings_from_json",
    "bindings_json",
    "bindings_value",
    "canonical",
    "is_refusal",
    "refusal",
]

PIN_ACTION = "objective.binding.pin"
REFUSED_ACTION = "objective.binding.refused"
REFUSAL_EXIT_CODE = 3
"""`hub sync SOURCE` exits with this code when its run refused a change of binding."""

_REFUSAL_PREFIX = "change refused: "


class Binding(BaseModel):
    """How one telemetry source measures an objective: `good` or `bad` with `total`, or
    a `ratio`, or a `latency` series, or `sloth_service` + `sloth_slo` (Sloth's
    recording rules). The settings' `TelemetryBinding` is the same plus the objective
    it names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["prometheus", "datadog"] = "prometheus"
    role: Literal["primary", "secondary"] = "primary"
    good: str | None = Field(default=None, min_length=1)
    bad: str | None = Field(default=None, min_length=1)
    total: str | None = Field(default=None, min_length=1)
    counter: bool = Field(default=False, description="queries return counters, not rates")
    ratio: str | None = Field(default=None, min_length=1)
    error_ratio: bool = Field(default=True, description="`ratio` is the share of bad events")
    latency: str | None = Field(
        default=None, min_length=1, description="a latency series, e.g. p99"
    )
    unit: str | None = Field(
        default=None, min_length=1, description="unit of `latency` if not reported"
    )
    sloth_service: str | None = Field(default=None, min_length=1)
    sloth_slo: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_shape(self) -> Binding:
        shapes = [
            self.total is not None and (self.good is not None) != (self.bad is not None),
            self.ratio is not None,
            self.latency is not None,
            self.sloth_service is not None and self.sloth_slo is not None,
        ]
        if sum(shapes) != 1:
            raise ValueError(
                "give exactly one of: good or bad with total; ratio; latency; "
                "a Sloth service with its SLO"
            )
        return self


def canonical(bindings: Iterable[Binding]) -> tuple[Binding, ...]:
    """At most one binding per role, primary first; raises `ValueError` otherwise."""
    found = sorted(bindings, key=lambda b: b.role)
    roles = [b.role for b in found]
    if len(set(roles)) != len(roles):
        raise ValueError("bindings: give at most one primary and one secondary binding")
    return tuple(found)


def bindings_value(bindings: Sequence[Binding]) -> list[dict[str, Any]]:
    """The bindings as JSON values (what the graph stores and the audit trail records)."""
    return [b.model_dump(mode="json", exclude_none=True) for b in bindings]


def bindings_json(bindings: Sequence[Binding]) -> str | None:
    """Canonical JSON text of the bindings; None for none (the property is left out)."""
    if not bindings:
        return None
    return json.dumps(bindings_value(bindings), sort_keys=True, separators=(",", ":"))


def bindings_from_json(text: str | None) -> tuple[Binding, ...]:
    if text is None:
        return ()
    return tuple(Binding.model_validate(value) for value in json.loads(text))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Automation tried to measure an approved objective otherwise than by its own
    bindings (`in_force`): the attempt is refused, reported and audited once."""

    objective_id: str
    agreement_id: str | None
    in_force: tuple[Binding, ...]
    attempted: tuple[Binding, ...]

    @property
    def sources(self) -> set[str]:
        """The connectors concerned: their runs report the refusal."""
        return {b.source for b in (*self.in_force, *self.attempted)}

    def problem(self, what: str = "the settings binding") -> str:
        roles = sorted({b.role for b in (*self.in_force, *self.attempted)})
        return (
            f"{_REFUSAL_PREFIX}{what} of objective {self.objective_id} ({', '.join(roles)}) "
            f"differs from the binding approved with agreement {self.agreement_id}; it "
            "stays measured as approved: revise the agreement to change it"
        )


def attempted(bindings: Iterable[Binding]) -> tuple[Binding, ...]:
    """The settings bindings naming one objective as the sync applies them: one per role,
    the last given winning, primary first."""
    by_role = {b.role: b for b in bindings}
    return tuple(by_role[role] for role in sorted(by_role))


def is_refusal(problem: str) -> bool:
    """Whether a run's note reports a refused change (see `Refusal.problem`)."""
    return problem.startswith(_REFUSAL_PREFIX)


def refusal(
    objective_id: str,
    agreement_id: str | None,
    in_force: Sequence[Binding],
    named: Sequence[Binding],
) -> Refusal | None:
    """The refusal of `named` (the settings bindings naming the objective) for an
    approved objective measured by `in_force`; None when they agree, or when nothing
    names the objective (then its own bindings simply go on)."""
    if not named or not in_force:
        return None
    tried = attempted(named)
    if tried == canonical(in_force):
        return None
    return Refusal(objective_id, agreement_id, canonical(in_force), tried)
