"""Coverage-gap rules: does what an SLA promises rest on OLAs and UCs that can keep it?

The graph layer gathers, for one ACTIVE SLA, every component on its chain and the
ACTIVE OLAs/UCs covering each; these pure functions decide the gaps. The rules are
documented in ``docs/coverage-gaps.md``:

- UNCOVERED: no ACTIVE OLA or UC covers a component on the chain.
- WEAKER_TARGET: the component is covered, but for an SLA objective no covering
  objective of the same indicator (and a matching priority) is at least as strong.
- TIMELINE_MISMATCH: for an SLA RESPONSE_TIME or RESOLUTION_TIME objective, every
  covering agreement that is strong enough on its own still needs more than the SLA
  allows once its HANDOFF_TIME is added: the ticket must reach the provider (handoff)
  and then be answered or resolved within the SLA's one clock.
- INFEASIBLE_TARGET: the best covering availability of each chain component, composed
  in series (the product), is below the SLA's availability target.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from hub.domain.models import Indicator, Objective


class GapKind(enum.StrEnum):
    UNCOVERED = "UNCOVERED"
    WEAKER_TARGET = "WEAKER_TARGET"
    TIMELINE_MISMATCH = "TIMELINE_MISMATCH"
    INFEASIBLE_TARGET = "INFEASIBLE_TARGET"


@dataclass(frozen=True, slots=True)
class Cover:
    """An ACTIVE OLA or UC covering one chain component, with its objectives."""

    agreement_id: str
    agreement_name: str
    objectives: tuple[Objective, ...]


@dataclass(frozen=True, slots=True)
class ChainMember:
    component_id: str
    component_name: str
    covers: tuple[Cover, ...]


@dataclass(frozen=True, slots=True)
class Gap:
    sla_id: str
    component_id: str | None
    kind: GapKind
    indicator: Indicator | None
    required: float | None
    provided: float | None
    detail: str
    # The chain component's name as `detail` spells it, so that a reader who may not
    # read that component gets the gap without it (`without_component`).
    component_name: str | None = field(default=None, compare=False)

    def without_component(self) -> Gap:
        """This gap as told to a reader who may not read its component."""
        detail = self.detail
        if self.component_name:
            detail = detail.replace(self.component_name, "a component outside your access")
        return replace(self, component_id=None, component_name=None, detail=detail)


def _priority_matches(candidate: Objective, required: Objective) -> bool:
    """A promise for every priority covers any one; a P1-only promise covers P1 alone,
    never an SLA objective that applies to every priority."""
    return candidate.priority is None or candidate.priority == required.priority


def applies_to(candidate: Objective, required: Objective) -> bool:
    """Same indicator, and a priority that covers the required one."""
    return candidate.indicator is required.indicator and _priority_matches(candidate, required)


def at_least_as_strong(candidate: Objective, required: Objective) -> bool:
    """Whether `candidate` promises at least what `required` does. Windows are ignored."""
    if not applies_to(candidate, required):
        return False
    if required.indicator.percentage_only:
        return candidate.target >= required.target
    assert candidate.threshold is not None
    assert required.threshold is not None
    return candidate.threshold <= required.threshold and candidate.target >= required.target


def best_provided(objectives: Iterable[Objective], required: Objective) -> float | None:
    """What the best applicable objective gives, in the unit of `required`'s figure."""
    applicable = [o for o in objectives if applies_to(o, required)]
    if not applicable:
        return None
    if required.indicator.percentage_only:
        return max(o.target for o in applicable)
    return min(o.threshold for o in applicable if o.threshold is not None)


def _required_figure(objective: Objective) -> float:
    if objective.indicator.percentage_only:
        return objective.target
    assert objective.threshold is not None
    return objective.threshold


def _handoff_seconds(cover: Cover, required: Objective) -> float:
    handoffs = [
        o.threshold
        for o in cover.objectives
        if o.indicator is Indicator.HANDOFF_TIME
        and o.threshold is not None
        and _priority_matches(o, required)
    ]
    return min(handoffs, default=0.0)


def _describe(objective: Objective) -> str:
    priority = f" {objective.priority}" if objective.priority else ""
    if objective.indicator.percentage_only:
        return f"{objective.indicator}{priority} {objective.target:g}%"
    return f"{objective.indicator}{priority} {objective.threshold:g} s at {objective.target:g}%"


def member_gaps(sla_id: str, sla_objectives: Sequence[Objective], member: ChainMember) -> list[Gap]:
    """The UNCOVERED, WEAKER_TARGET and TIMELINE_MISMATCH gaps of one chain component."""
    if not member.covers:
        return [
            Gap(
                sla_id,
                member.component_id,
                GapKind.UNCOVERED,
                None,
                None,
                None,
                f"{member.component_name} is on the chain but no ACTIVE OLA or UC covers it",
                component_name=member.component_name,
            )
        ]
    gaps: list[Gap] = []
    every_objective = [o for cover in member.covers for o in cover.objectives]
    for required in sla_objectives:
        if required.indicator is Indicator.HANDOFF_TIME:
            continue  # a hand-off happens between teams; the SLA's customer never sees one
        strong = [
            cover
            for cover in member.covers
            if any(at_least_as_strong(o, required) for o in cover.objectives)
        ]
        if not strong:
            provided = best_provided(every_objective, required)
            gaps.append(
                Gap(
                    sla_id,
                    member.component_id,
                    GapKind.WEAKER_TARGET,
                    required.indicator,
                    _required_figure(required),
                    provided,
                    f"{member.component_name}: the SLA promises {_describe(required)}; "
                    + (
                        "its OLAs/UCs have no such objective"
                        if provided is None
                        else "its best OLA/UC objective is weaker"
                    ),
                    component_name=member.component_name,
                )
            )
            continue
        if required.indicator not in (Indicator.RESPONSE_TIME, Indicator.RESOLUTION_TIME):
            continue
        assert required.threshold is not None
        end_to_end = min(
            _handoff_seconds(cover, required)
            + min(
                o.threshold
                for o in cover.objectives
                if at_least_as_strong(o, required) and o.threshold is not None
            )
            for cover in strong
        )
        if end_to_end > required.threshold:
            gaps.append(
                Gap(
                    sla_id,
                    member.component_id,
                    GapKind.TIMELINE_MISMATCH,
                    required.indicator,
                    required.threshold,
                    end_to_end,
                    f"{member.component_name}: hand-off plus "
                    f"{required.indicator.lower().replace('_', ' ')} takes {end_to_end:g} s "
                    f"at best, more than the SLA's {required.threshold:g} s",
                    component_name=member.component_name,
                )
            )
    return gaps


def composed_availability(members: Sequence[ChainMember], required: Objective) -> float:
    """The best covering availability of every member composed in series, in percent.

    A member with no applicable availability objective counts as 100%: its absence
    is reported as its own gap.
    """
    product = 1.0
    for member in members:
        best = best_provided((o for c in member.covers for o in c.objectives), required)
        if best is not None:
            product *= best / 100.0
    return product * 100.0


def _infeasible(sla_id: str, required: Objective, composed: float) -> Gap | None:
    # Rounding noise in the product must not invent a gap at the exact boundary.
    if composed >= required.target or math.isclose(composed, required.target, abs_tol=1e-9):
        return None
    return Gap(
        sla_id,
        None,
        GapKind.INFEASIBLE_TARGET,
        Indicator.AVAILABILITY,
        required.target,
        composed,
        f"the chain's agreements guarantee {composed:.4f}% availability in series, "
        f"below the {required.target:g}% the SLA promises",
    )


def sla_gaps(
    sla_id: str, sla_objectives: Sequence[Objective], members: Sequence[ChainMember]
) -> list[Gap]:
    """Every gap of one ACTIVE SLA whose chain is `members`."""
    gaps = [gap for member in members for gap in member_gaps(sla_id, sla_objectives, member)]
    for required in sla_objectives:
        if required.indicator is not Indicator.AVAILABILITY:
            continue
        infeasible = _infeasible(sla_id, required, composed_availability(members, required))
        if infeasible is not None:
            gaps.append(infeasible)
    return gaps


def _terms(objective: Objective) -> tuple[object, ...]:
    """What the rules read of an SLA objective (not its id, name or window)."""
    return (objective.indicator, objective.priority, objective.target, objective.threshold)


def _factor(member: ChainMember, required: Objective) -> float:
    """What `member` multiplies a composed availability by (1.0: nothing applies)."""
    best = best_provided((o for c in member.covers for o in c.objectives), required)
    return 1.0 if best is None else best / 100.0


def _for_sla(gap: Gap, sla_id: str) -> Gap:
    """`gap` of the SLA `sla_id` (`dataclasses.replace`, several times faster)."""
    return Gap(
        sla_id,
        gap.component_id,
        gap.kind,
        gap.indicator,
        gap.required,
        gap.provided,
        gap.detail,
        gap.component_name,
    )


def chains_gaps(
    chains: Mapping[str, Sequence[ChainMember]], objectives: Mapping[str, Sequence[Objective]]
) -> dict[str, list[Gap]]:
    """`sla_gaps` of every SLA of `chains` (its members, by SLA id), `objectives[sla]`
    being what it promises, with the same result.

    Estates share infrastructure: hundreds of chains hold the same router, and most
    SLAs promise the same few things. So each member is judged once per distinct set of
    promises (and its best availability found once per required figure), however many
    chains it is on, and a chain is then only looked up. A member is recognised by
    identity: the graph layer builds one `ChainMember` per component and shares it.
    """
    unique: dict[int, ChainMember] = {}
    for members in chains.values():
        unique.update(zip(map(id, members), members, strict=True))
    judged_by_terms: dict[tuple[tuple[object, ...], ...], dict[int, list[Gap]]] = {}
    factors_by_figure: dict[tuple[object, ...], dict[int, float]] = {}
    found: dict[str, list[Gap]] = {}
    for sla_id, members in chains.items():
        required = objectives[sla_id]
        terms = tuple(_terms(o) for o in required)
        judged = judged_by_terms.get(terms)
        if judged is None:
            # Only the members with gaps: a chain is then filtered, not walked, in Python.
            judged = judged_by_terms[terms] = {
                key: own for key, m in unique.items() if (own := member_gaps("", required, m))
            }
        keys = list(map(id, members))
        gaps = [
            _for_sla(gap, sla_id)
            for key in filter(judged.__contains__, keys)
            for gap in judged[key]
        ]
        for objective in required:
            if objective.indicator is not Indicator.AVAILABILITY:
                continue
            figure = _terms(objective)
            factors = factors_by_figure.get(figure)
            if factors is None:
                factors = factors_by_figure[figure] = {
                    key: _factor(m, objective) for key, m in unique.items()
                }
            # As `composed_availability`: the same products in the same order (x 1.0
            # for a member without an applicable objective changes nothing).
            composed = math.prod(map(factors.__getitem__, keys), start=1.0) * 100.0
            infeasible = _infeasible(sla_id, objective, composed)
            if infeasible is not None:
                gaps.append(infeasible)
        found[sla_id] = gaps
    return found
