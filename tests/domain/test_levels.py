"""Multi-level SLA rules (hub.domain.levels): allowed parents, what an SLA inherits and
what replaces it, and which ancestor versions a child version inherits from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hub.domain.levels import (
    SlaLevel,
    VersionTerms,
    allowed_parent,
    effective_clauses,
    effective_objectives,
    inheritances,
    parent_problem,
    terms_instant,
)
from hub.domain.models import (
    Agreement,
    AgreementKind,
    AgreementSpec,
    AgreementState,
    AgreementStatus,
    Indicator,
    Objective,
    WindowKind,
)
from hub.domain.terms import ClauseKind, ClauseSpec


def objective(
    objective_id: str, indicator: Indicator, target: float, priority: str | None = None
) -> Objective:
    return Objective(
        id=objective_id,
        indicator=indicator,
        target=target,
        threshold=None if indicator.percentage_only else 0.5,
        window_kind=WindowKind.CALENDAR_MONTH,
        window_days=None,
        priority=priority,
    )


def at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


AVAILABILITY = objective("corp-avail", Indicator.AVAILABILITY, 99.5)
CORP_LATENCY = objective("corp-latency", Indicator.LATENCY, 99.9)
OWN_LATENCY = objective("own-latency", Indicator.LATENCY, 99.0)


@pytest.mark.parametrize(
    ("level", "parent", "allowed"),
    [
        (SlaLevel.SERVICE, SlaLevel.CUSTOMER, True),
        (SlaLevel.SERVICE, SlaLevel.CORPORATE, True),
        (SlaLevel.CUSTOMER, SlaLevel.CORPORATE, True),
        (SlaLevel.SERVICE, SlaLevel.SERVICE, False),
        (SlaLevel.CUSTOMER, SlaLevel.CUSTOMER, False),
        (SlaLevel.CUSTOMER, SlaLevel.SERVICE, False),
        (SlaLevel.CORPORATE, SlaLevel.CORPORATE, False),
        (SlaLevel.CORPORATE, SlaLevel.CUSTOMER, False),
        (SlaLevel.CORPORATE, SlaLevel.SERVICE, False),
    ],
)
def test_a_parent_sits_at_a_higher_level(level: SlaLevel, parent: SlaLevel, allowed: bool) -> None:
    assert allowed_parent(level, parent) is allowed
    assert (parent_problem(level, parent) is None) is allowed


def test_problems_say_which_parent_would_do() -> None:
    assert parent_problem(SlaLevel.CUSTOMER, SlaLevel.SERVICE) == (
        "a CUSTOMER SLA's parent must be a CORPORATE SLA, not a SERVICE one"
    )
    assert parent_problem(SlaLevel.SERVICE, SlaLevel.SERVICE) == (
        "a SERVICE SLA's parent must be a CUSTOMER or CORPORATE SLA, not a SERVICE one"
    )
    assert parent_problem(SlaLevel.CORPORATE, SlaLevel.CORPORATE) == (
        "a CORPORATE SLA has no parent"
    )


def test_level_and_parent_belong_to_slas_and_a_corporate_sla_has_no_parent() -> None:
    avail = {"indicator": "AVAILABILITY", "target": 99.5, "window_kind": "CALENDAR_MONTH"}
    common = {"name": "x", "covers": ("c",), "objectives": (avail,)}
    for kind, fields, field in (
        (AgreementKind.OLA, {"provider_team_id": "t", "level": SlaLevel.SERVICE}, "level"),
        (AgreementKind.UC, {"vendor_id": "v", "parent_id": "sla"}, "parentId"),
        (
            AgreementKind.SLA,
            {"customer_id": "c", "level": SlaLevel.CORPORATE, "parent_id": "sla"},
            "parentId",
        ),
    ):
        with pytest.raises(ValidationError, match=f"{field}: "):
            AgreementSpec.model_validate({**common, "kind": kind, **fields})


def test_an_own_objective_replaces_the_inherited_one_of_its_indicator_and_priority() -> None:
    p1_latency = objective("p1-latency", Indicator.LATENCY, 99.9, priority="P1")
    found = effective_objectives([OWN_LATENCY], [[AVAILABILITY, CORP_LATENCY, p1_latency]])
    # Own first; the corporate latency (no priority) is replaced, its P1 one is not.
    assert [o.id for o in found] == ["own-latency", "corp-avail", "p1-latency"]


def test_a_nearer_ancestor_wins_over_a_farther_one() -> None:
    customer_avail = objective("cust-avail", Indicator.AVAILABILITY, 99.7)
    found = effective_objectives([], [[customer_avail], [AVAILABILITY, CORP_LATENCY]])
    assert [(o.id, o.target) for o in found] == [("cust-avail", 99.7), ("corp-latency", 99.9)]


def test_own_clauses_of_a_kind_replace_the_inherited_ones_of_that_kind() -> None:
    own = [ClauseSpec(kind=ClauseKind.PENALTY, text="service penalty")]
    corporate = [
        ClauseSpec(kind=ClauseKind.PENALTY, text="corporate penalty"),
        ClauseSpec(kind=ClauseKind.EXCLUSION, text="force majeure"),
        ClauseSpec(kind=ClauseKind.EXCLUSION, text="customer changes"),
    ]
    found = effective_clauses(own, [corporate])
    assert [(c.kind, c.text) for c in found] == [
        (ClauseKind.PENALTY, "service penalty"),
        (ClauseKind.EXCLUSION, "force majeure"),
        (ClauseKind.EXCLUSION, "customer changes"),
    ]


def test_a_child_version_inherits_from_each_overlapping_ancestor_version() -> None:
    child = VersionTerms("child", at(1), None, (OWN_LATENCY,))
    corporate_v1 = VersionTerms("corp-1", at(1), at(4, 11), (AVAILABILITY, CORP_LATENCY))
    stricter = objective("corp-avail-2", Indicator.AVAILABILITY, 99.9)
    corporate_v2 = VersionTerms("corp-2", at(4, 11), None, (stricter, CORP_LATENCY))
    before = VersionTerms("corp-0", at(1, 1), at(1, 1), (AVAILABILITY,))  # never in force

    found = inheritances(child, [[before, corporate_v1, corporate_v2]])

    # Availability from each corporate version; latency is the child's own.
    assert [(i.ancestor_version_id, i.objective.id) for i in found] == [
        ("corp-1", "corp-avail"),
        ("corp-2", "corp-avail-2"),
    ]


def test_a_nearer_ancestor_overlapping_both_overrides_a_farther_one() -> None:
    child = VersionTerms("child", at(1), None, ())
    customer = VersionTerms(
        "cust-1", at(1), None, (objective("cust-avail", Indicator.AVAILABILITY, 99.7),)
    )
    corporate = VersionTerms("corp-1", at(1), None, (AVAILABILITY, CORP_LATENCY))

    found = inheritances(child, [[customer], [corporate]])

    assert [(i.ancestor_version_id, i.objective.id) for i in found] == [
        ("cust-1", "cust-avail"),
        ("corp-1", "corp-latency"),
    ]


def version(
    state: AgreementState, status: AgreementStatus, start: datetime | None, end: datetime | None
) -> Agreement:
    return Agreement(
        id="sla",
        kind=AgreementKind.SLA,
        name="Shop",
        version=1,
        status=status,
        effective_from=start,
        effective_to=end,
        counterpart_id="cust",
        created_by="erin",
        state=state,
    )


def test_effective_terms_are_answered_now_at_the_start_or_at_the_last_instant() -> None:
    now = at(6)
    for agreement, expected in (
        (version(AgreementState.APPROVED, AgreementStatus.ACTIVE, at(1), None), now),
        (version(AgreementState.DRAFT, AgreementStatus.DRAFT, None, None), now),
        (version(AgreementState.APPROVED, AgreementStatus.SCHEDULED, at(7), None), at(7)),
        (
            version(AgreementState.APPROVED, AgreementStatus.EXPIRED, at(1), at(4)),
            at(4) - timedelta(microseconds=1),
        ),
    ):
        assert terms_instant(agreement, now) == expected, agreement.status
