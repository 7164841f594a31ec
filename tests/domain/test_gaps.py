"""Coverage-gap rules (docs/coverage-gaps.md) as pure functions, plus property tests."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.gaps import (
    ChainMember,
    Cover,
    Gap,
    GapKind,
    applies_to,
    at_least_as_strong,
    best_provided,
    chains_gaps,
    composed_availability,
    member_gaps,
    sla_gaps,
)
from hub.domain.models import Indicator, Objective, ObjectiveSpec, WindowKind

SLA = "sla-1"
_ids = itertools.count(1)


def objective(
    indicator: Indicator,
    target: float = 99.0,
    threshold: float | None = None,
    priority: str | None = None,
) -> Objective:
    """An Objective over a calendar month; windows never matter to the gap rules."""
    return Objective(
        id=f"o-{next(_ids)}",
        indicator=indicator,
        target=target,
        threshold=threshold,
        window_kind=WindowKind.CALENDAR_MONTH,
        window_days=None,
        priority=priority,
    )


def availability(target: float, priority: str | None = None) -> Objective:
    return objective(Indicator.AVAILABILITY, target, priority=priority)


def latency(threshold: float, target: float = 99.0, priority: str | None = None) -> Objective:
    return objective(Indicator.LATENCY, target, threshold, priority)


def resolution(threshold: float, target: float = 95.0, priority: str | None = None) -> Objective:
    return objective(Indicator.RESOLUTION_TIME, target, threshold, priority)


def response(threshold: float, target: float = 95.0, priority: str | None = None) -> Objective:
    return objective(Indicator.RESPONSE_TIME, target, threshold, priority)


def handoff(threshold: float, target: float = 95.0, priority: str | None = None) -> Objective:
    return objective(Indicator.HANDOFF_TIME, target, threshold, priority)


def cover(agreement_id: str, *objectives: Objective) -> Cover:
    return Cover(agreement_id, f"Agreement {agreement_id}", tuple(objectives))


def member(component_id: str, *covers: Cover) -> ChainMember:
    return ChainMember(component_id, f"Component {component_id}", tuple(covers))


def kinds(gaps: list[Gap]) -> list[GapKind]:
    return [gap.kind for gap in gaps]


# ---- UNCOVERED -----------------------------------------------------------------


def test_uncovered_component_gets_one_uncovered_gap_and_nothing_else() -> None:
    gaps = member_gaps(SLA, [availability(99.9), resolution(3600)], member("db"))
    assert len(gaps) == 1
    gap = gaps[0]
    assert (gap.sla_id, gap.component_id, gap.kind) == (SLA, "db", GapKind.UNCOVERED)
    assert (gap.indicator, gap.required, gap.provided) == (None, None, None)
    assert "Component db" in gap.detail


def test_covered_component_meeting_every_objective_has_no_gap() -> None:
    ola = cover("ola", availability(99.95), resolution(3000))
    assert member_gaps(SLA, [availability(99.9), resolution(3600)], member("db", ola)) == []


# ---- WEAKER_TARGET -------------------------------------------------------------


def test_weaker_target_with_no_objective_of_that_indicator_provides_none() -> None:
    ola = cover("ola", latency(0.2))
    [gap] = member_gaps(SLA, [availability(99.9)], member("db", ola))
    assert (gap.kind, gap.component_id, gap.indicator) == (
        GapKind.WEAKER_TARGET,
        "db",
        Indicator.AVAILABILITY,
    )
    assert (gap.required, gap.provided) == (99.9, None)
    assert "no such objective" in gap.detail


def test_weaker_target_provides_the_best_value_across_all_covers() -> None:
    db = member("db", cover("ola", availability(99.5)), cover("uc", availability(99.8)))
    [gap] = member_gaps(SLA, [availability(99.9)], db)
    assert (gap.kind, gap.required, gap.provided) == (GapKind.WEAKER_TARGET, 99.9, 99.8)
    assert "weaker" in gap.detail


def test_weaker_ticket_time_requires_the_threshold_and_provides_the_lowest() -> None:
    ola = cover("ola", resolution(7200), resolution(5400))
    [gap] = member_gaps(SLA, [resolution(3600)], member("db", ola))
    assert (gap.kind, gap.indicator) == (GapKind.WEAKER_TARGET, Indicator.RESOLUTION_TIME)
    assert (gap.required, gap.provided) == (3600, 5400)


def test_one_weaker_target_gap_per_failing_sla_objective() -> None:
    ola = cover("ola", availability(99.0), latency(0.5))
    gaps = member_gaps(SLA, [availability(99.9), latency(0.2), latency(1.0)], member("db", ola))
    assert [(g.kind, g.indicator, g.required) for g in gaps] == [
        (GapKind.WEAKER_TARGET, Indicator.AVAILABILITY, 99.9),
        (GapKind.WEAKER_TARGET, Indicator.LATENCY, 0.2),
    ]


def test_two_covers_where_only_one_is_strong_enough_has_no_gap() -> None:
    weak = cover("ola-weak", availability(99.0), resolution(7200))
    strong = cover("uc-strong", availability(99.99), resolution(1800))
    for covers in ((weak, strong), (strong, weak)):
        assert member_gaps(SLA, [availability(99.9), resolution(3600)], member("db", *covers)) == []


def test_weaker_ola_does_not_compose_with_a_stronger_one_on_another_indicator() -> None:
    """Each SLA objective needs one cover strong enough; covers are not mixed per field."""
    ola = cover("ola", availability(99.99), latency(0.5))
    uc = cover("uc", availability(99.0), latency(0.1))
    assert member_gaps(SLA, [availability(99.9), latency(0.2)], member("db", ola, uc)) == []


@pytest.mark.parametrize(
    ("candidate", "strong"),
    [
        (latency(0.2, 99.0), True),  # equal on both
        (latency(0.1, 99.5), True),  # better on both
        (latency(0.2001, 99.0), False),  # threshold too long
        (latency(0.2, 98.99), False),  # target too low
        (latency(0.1, 98.0), False),  # faster but at a lower target
        (latency(0.5, 99.99), False),  # higher target but slower
    ],
)
def test_latency_strength_is_threshold_at_most_and_target_at_least(
    candidate: Objective, strong: bool
) -> None:
    required = latency(0.2, 99.0)
    assert at_least_as_strong(candidate, required) is strong
    gaps = member_gaps(SLA, [required], member("db", cover("ola", candidate)))
    assert kinds(gaps) == ([] if strong else [GapKind.WEAKER_TARGET])


@pytest.mark.parametrize(
    "indicator", [Indicator.RESPONSE_TIME, Indicator.RESOLUTION_TIME, Indicator.HANDOFF_TIME]
)
def test_ticket_time_strength_is_threshold_at_most_and_target_at_least(
    indicator: Indicator,
) -> None:
    required = objective(indicator, 95.0, 3600)
    assert at_least_as_strong(objective(indicator, 95.0, 3600), required)
    assert at_least_as_strong(objective(indicator, 99.0, 60), required)
    assert not at_least_as_strong(objective(indicator, 95.0, 3601), required)
    assert not at_least_as_strong(objective(indicator, 94.9, 60), required)


@pytest.mark.parametrize("indicator", [Indicator.AVAILABILITY, Indicator.ERROR_RATE])
def test_percentage_strength_is_target_at_least(indicator: Indicator) -> None:
    required = objective(indicator, 99.9)
    assert at_least_as_strong(objective(indicator, 99.9), required)
    assert at_least_as_strong(objective(indicator, 100.0), required)
    assert not at_least_as_strong(objective(indicator, 99.89), required)


def test_a_different_indicator_is_never_strong_enough() -> None:
    assert not at_least_as_strong(response(60), resolution(3600))
    assert not at_least_as_strong(objective(Indicator.ERROR_RATE, 100.0), availability(99.0))
    assert best_provided([response(60), latency(0.1)], resolution(3600)) is None


# ---- priorities ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "required", "applies"),
    [
        (None, None, True),
        (None, "P1", True),  # an objective without priority applies to every priority
        ("P1", None, False),  # a P1-only promise does not back one for every priority
        ("P1", "P1", True),
        ("P1", "P2", False),
        ("P2", "P1", False),
    ],
)
def test_priority_matching(candidate: str | None, required: str | None, applies: bool) -> None:
    assert applies_to(resolution(60, priority=candidate), resolution(60, priority=required)) is (
        applies
    )


def test_unprioritised_cover_objective_covers_a_p1_sla_objective() -> None:
    ola = cover("ola", resolution(1800))
    assert member_gaps(SLA, [resolution(3600, priority="P1")], member("db", ola)) == []


def test_p2_cover_objective_does_not_count_for_a_p1_sla_objective() -> None:
    ola = cover("ola", resolution(60, priority="P2"))
    [gap] = member_gaps(SLA, [resolution(3600, priority="P1")], member("db", ola))
    assert (gap.kind, gap.required, gap.provided) == (GapKind.WEAKER_TARGET, 3600, None)


def test_best_provided_ignores_objectives_of_another_priority() -> None:
    objectives = [resolution(60, priority="P2"), resolution(900, priority="P1"), resolution(1200)]
    assert best_provided(objectives, resolution(3600, priority="P1")) == 900
    assert best_provided(objectives, resolution(3600, priority="P3")) == 1200


# ---- TIMELINE_MISMATCH ---------------------------------------------------------


def test_handoff_plus_resolution_above_the_sla_threshold_is_a_mismatch() -> None:
    """The docs' example: P1 resolution in 4 h; the OLA resolves in 3 h after a 90 min hand-off."""
    ola = cover("ola", resolution(10_800, priority="P1"), handoff(5_400, priority="P1"))
    [gap] = member_gaps(SLA, [resolution(14_400, priority="P1")], member("db", ola))
    assert (gap.kind, gap.component_id, gap.indicator) == (
        GapKind.TIMELINE_MISMATCH,
        "db",
        Indicator.RESOLUTION_TIME,
    )
    assert (gap.required, gap.provided) == (14_400, 16_200)
    assert "16200 s" in gap.detail
    assert "14400 s" in gap.detail


def test_response_time_is_judged_with_the_handoff_too() -> None:
    ola = cover("ola", response(600), handoff(300))
    [gap] = member_gaps(SLA, [response(800)], member("db", ola))
    assert (gap.kind, gap.required, gap.provided) == (GapKind.TIMELINE_MISMATCH, 800, 900)


@pytest.mark.parametrize("handoff_seconds", [0.0, 1_800.0, 3_600.0])
def test_handoff_plus_resolution_within_the_sla_threshold_is_no_gap(
    handoff_seconds: float,
) -> None:
    ola = cover("ola", resolution(10_800), handoff(handoff_seconds))
    assert member_gaps(SLA, [resolution(14_400)], member("db", ola)) == []


def test_without_handoff_objective_the_handoff_counts_as_zero() -> None:
    ola = cover("ola", resolution(14_400))
    assert member_gaps(SLA, [resolution(14_400)], member("db", ola)) == []


def test_the_lowest_applicable_handoff_and_strongest_objective_are_used() -> None:
    ola = cover(
        "ola",
        resolution(10_800),
        resolution(9_000),
        handoff(6_000),
        handoff(4_000),
        handoff(60, priority="P2"),  # another priority: does not apply to P1
    )
    [gap] = member_gaps(SLA, [resolution(12_000, priority="P1")], member("db", ola))
    assert (gap.kind, gap.provided) == (GapKind.TIMELINE_MISMATCH, 13_000)


def test_best_strong_cover_decides_the_end_to_end_time() -> None:
    slow_handoff = cover("ola", resolution(3_000), handoff(7_200))
    direct = cover("uc", resolution(3_500))
    assert member_gaps(SLA, [resolution(3_600)], member("db", slow_handoff, direct)) == []


def test_a_weak_cover_short_handoff_does_not_rescue_a_strong_one() -> None:
    strong_slow = cover("ola-1", resolution(3_000), handoff(1_000))
    weak_fast = cover("ola-2", resolution(7_200), handoff(0))
    [gap] = member_gaps(SLA, [resolution(3_600)], member("db", strong_slow, weak_fast))
    assert (gap.kind, gap.provided) == (GapKind.TIMELINE_MISMATCH, 4_000)


def test_latency_is_never_a_timeline_mismatch() -> None:
    ola = cover("ola", latency(0.2), handoff(10_000))
    assert member_gaps(SLA, [latency(0.2)], member("db", ola)) == []


def test_sla_handoff_objective_is_not_judged() -> None:
    assert member_gaps(SLA, [handoff(60)], member("db", cover("ola", availability(99.0)))) == []


# ---- INFEASIBLE_TARGET ---------------------------------------------------------


def test_availability_in_series_below_the_sla_target_is_infeasible() -> None:
    """The docs' example: three components at 99.95% compose to about 99.85%."""
    members = [member(c, cover(f"ola-{c}", availability(99.95))) for c in ("a", "b", "c")]
    gaps = sla_gaps(SLA, [availability(99.9)], members)
    assert kinds(gaps) == [GapKind.INFEASIBLE_TARGET]
    gap = gaps[0]
    assert (gap.sla_id, gap.component_id, gap.indicator) == (SLA, None, Indicator.AVAILABILITY)
    assert gap.required == 99.9
    assert gap.provided == pytest.approx(99.85007498750, abs=1e-9)
    assert "99.8501%" in gap.detail


def test_composed_availability_exactly_at_the_sla_target_is_no_gap() -> None:
    """99% x 99% is exactly 98.01%, though the float product lands just below it."""
    members = [member(c, cover(f"ola-{c}", availability(99.0))) for c in ("a", "b")]
    composed = composed_availability(members, availability(98.01))
    assert composed == pytest.approx(98.01, abs=1e-12)
    assert composed < 98.01  # rounding noise the rule must not turn into a gap
    assert sla_gaps(SLA, [availability(98.01)], members) == []
    [gap] = sla_gaps(SLA, [availability(98.0100001)], members)
    assert (gap.kind, gap.required) == (GapKind.INFEASIBLE_TARGET, 98.0100001)


def test_composition_uses_the_best_availability_of_each_member() -> None:
    a = member("a", cover("ola", availability(99.0)), cover("uc", availability(99.99)))
    b = member("b", cover("ola", availability(99.99), availability(99.5)))
    assert composed_availability([a, b], availability(99.9)) == pytest.approx(99.99 * 99.99 / 100)
    assert sla_gaps(SLA, [availability(99.9)], [a, b]) == []


def test_member_without_availability_counts_as_full_and_is_reported_otherwise() -> None:
    a = member("a", cover("ola", availability(99.95)))
    bare = member("bare")
    latency_only = member("lat", cover("uc", latency(0.1)))
    members = [a, bare, latency_only]
    assert composed_availability(members, availability(99.9)) == pytest.approx(99.95)
    gaps = sla_gaps(SLA, [availability(99.9)], members)
    assert [(g.kind, g.component_id) for g in gaps] == [
        (GapKind.UNCOVERED, "bare"),
        (GapKind.WEAKER_TARGET, "lat"),
    ]


def test_no_infeasible_gap_without_an_sla_availability_objective() -> None:
    members = [member("a", cover("ola", availability(50.0), resolution(60)))]
    assert sla_gaps(SLA, [resolution(3600)], members) == []


def test_sla_gaps_lists_member_gaps_in_chain_order_then_infeasibility() -> None:
    members = [
        member("a", cover("ola", availability(99.0))),
        member("b"),
        member("c", cover("ola", availability(99.95))),
    ]
    gaps = sla_gaps(SLA, [availability(99.9)], members)
    assert [(g.kind, g.component_id) for g in gaps] == [
        (GapKind.WEAKER_TARGET, "a"),
        (GapKind.UNCOVERED, "b"),
        (GapKind.INFEASIBLE_TARGET, None),
    ]
    assert gaps[-1].provided == pytest.approx(99.0 * 99.95 / 100)


# ---- properties ----------------------------------------------------------------

PRIORITIES = st.sampled_from([None, "P1", "P2"])
TARGETS = st.floats(min_value=0.01, max_value=100.0, allow_nan=False, allow_infinity=False)
THRESHOLDS = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def valid_objectives(draw: st.DrawFn) -> Objective:
    """Any objective the authoring model accepts, as the read model."""
    indicator = draw(st.sampled_from(list(Indicator)))
    window_kind = draw(st.sampled_from(list(WindowKind)))
    spec = ObjectiveSpec(
        indicator=indicator,
        target=draw(st.floats(min_value=0.0, max_value=100.0, exclude_min=True)),
        threshold=None if indicator.percentage_only else draw(THRESHOLDS),
        window_kind=window_kind,
        window_days=(
            draw(st.integers(min_value=1, max_value=366))
            if window_kind is WindowKind.ROLLING
            else None
        ),
        priority=draw(PRIORITIES),
    )
    return Objective(
        id=f"o-{next(_ids)}",
        indicator=spec.indicator,
        target=spec.target,
        threshold=spec.threshold,
        window_kind=spec.window_kind,
        window_days=spec.window_days,
        priority=spec.priority,
    )


@st.composite
def availability_members(draw: st.DrawFn, component_id: str) -> ChainMember:
    """A chain member whose covers carry availability (and some latency) objectives."""
    covers = draw(
        st.lists(
            st.lists(
                st.one_of(
                    st.builds(availability, TARGETS, PRIORITIES),
                    st.builds(latency, THRESHOLDS, TARGETS, PRIORITIES),
                ),
                max_size=3,
            ),
            max_size=3,
        )
    )
    return member(component_id, *(cover(f"a-{i}", *objs) for i, objs in enumerate(covers)))


def members_lists(max_size: int = 6) -> st.SearchStrategy[list[ChainMember]]:
    return st.integers(min_value=0, max_value=max_size).flatmap(
        lambda n: st.tuples(*(availability_members(f"c{i}") for i in range(n))).map(list)
    )


def best_availability(m: ChainMember, required: Objective) -> float | None:
    """Oracle: the highest applicable availability target of a member, spelled out."""
    targets = [
        o.target
        for c in m.covers
        for o in c.objectives
        if o.indicator is Indicator.AVAILABILITY
        and (o.priority is None or o.priority == required.priority)
    ]
    return max(targets, default=None)


@given(members=members_lists(), required_target=TARGETS, priority=PRIORITIES)
def test_composed_availability_is_at_most_the_weakest_member_and_positive(
    members: list[ChainMember], required_target: float, priority: str | None
) -> None:
    required = availability(required_target, priority)
    composed = composed_availability(members, required)
    bests = [b for m in members if (b := best_availability(m, required)) is not None]
    assert 0.0 < composed <= 100.0
    if bests:
        # `best / 100 * 100` may round up by an ulp; allow that and nothing more.
        assert composed <= min(bests) * (1 + 1e-12)
        assert composed == pytest.approx(100.0 * math.prod(b / 100.0 for b in bests))
    else:
        assert composed == 100.0


@given(members=members_lists(), extra=availability_members("extra"), priority=PRIORITIES)
def test_adding_a_member_never_increases_composed_availability(
    members: list[ChainMember], extra: ChainMember, priority: str | None
) -> None:
    required = availability(99.9, priority)
    before = composed_availability(members, required)
    for position in range(len(members) + 1):
        longer = [*members[:position], extra, *members[position:]]
        assert composed_availability(longer, required) <= before * (1 + 1e-12)
    assert composed_availability([*members, extra], required) <= before


@given(valid_objectives())
def test_at_least_as_strong_is_reflexive(o: Objective) -> None:
    assert applies_to(o, o)
    assert at_least_as_strong(o, o)


@given(
    covered=st.lists(st.booleans(), max_size=8),
    sla_objectives=st.lists(valid_objectives(), max_size=4),
    cover_objectives=st.lists(valid_objectives(), max_size=4),
)
def test_sla_gaps_has_exactly_one_uncovered_per_uncovered_member(
    covered: list[bool], sla_objectives: list[Objective], cover_objectives: list[Objective]
) -> None:
    members = [
        member(f"c{i}", cover(f"ola-{i}", *cover_objectives)) if is_covered else member(f"c{i}")
        for i, is_covered in enumerate(covered)
    ]
    gaps = sla_gaps(SLA, sla_objectives, members)
    uncovered = Counter(g.component_id for g in gaps if g.kind is GapKind.UNCOVERED)
    assert uncovered == Counter(f"c{i}" for i, is_covered in enumerate(covered) if not is_covered)
    for gap in gaps:
        assert gap.sla_id == SLA
        if gap.component_id is not None and not covered[int(gap.component_id[1:])]:
            assert gap.kind is GapKind.UNCOVERED


@given(
    pool=st.lists(
        st.one_of(
            availability_members("m"),
            st.lists(valid_objectives(), max_size=3).map(lambda os: member("m", cover("x", *os))),
            st.just(member("m")),
        ),
        min_size=1,
        max_size=5,
    ),
    promises=st.lists(st.lists(valid_objectives(), max_size=3), min_size=1, max_size=3),
    picks=st.lists(
        st.tuples(st.integers(min_value=0), st.lists(st.integers(min_value=0), max_size=6)),
        max_size=5,
    ),
)
def test_chains_gaps_judges_shared_members_once_with_the_same_result_as_sla_gaps(
    pool: list[ChainMember],
    promises: list[list[Objective]],
    picks: list[tuple[int, list[int]]],
) -> None:
    """Chains that share members (the same objects, as the graph layer builds them) and
    SLAs that promise the same things: every SLA's gaps are `sla_gaps`' own."""
    pool = [ChainMember(f"c{i}", f"Component {i}", m.covers) for i, m in enumerate(pool)]
    chains = {
        f"sla-{n}": [pool[i % len(pool)] for i in members] for n, (_, members) in enumerate(picks)
    }
    objectives = {f"sla-{n}": promises[p % len(promises)] for n, (p, _) in enumerate(picks)}

    found = chains_gaps(chains, objectives)

    assert found == {sla: sla_gaps(sla, objectives[sla], chains[sla]) for sla in chains}
    for sla, gaps in found.items():
        assert [g.component_name for g in gaps] == [
            g.component_name for g in sla_gaps(sla, objectives[sla], chains[sla])
        ]
