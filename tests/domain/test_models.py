"""Validation of authored objectives and agreements, and how its errors name their fields."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import (
    MAX_ROLLING_DAYS,
    AgreementKind,
    AgreementSpec,
    CreditPolicySpec,
    CreditTierSpec,
    Indicator,
    ObjectiveSpec,
    WindowKind,
)

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


def objective_fields(**overrides: Any) -> dict[str, Any]:
    """A valid AVAILABILITY objective over a calendar month, as keyword arguments."""
    fields: dict[str, Any] = {
        "indicator": Indicator.AVAILABILITY,
        "target": 99.9,
        "window_kind": WindowKind.CALENDAR_MONTH,
    }
    fields.update(overrides)
    return fields


def latency_fields(**overrides: Any) -> dict[str, Any]:
    """A valid LATENCY objective (threshold in seconds) over a 30-day rolling window."""
    return objective_fields(
        **{
            "indicator": Indicator.LATENCY,
            "target": 99.0,
            "threshold": 0.5,
            "window_kind": WindowKind.ROLLING,
            "window_days": 30,
            **overrides,
        }
    )


def agreement_fields(**overrides: Any) -> dict[str, Any]:
    """A valid SLA with one objective, as keyword arguments."""
    fields: dict[str, Any] = {
        "kind": AgreementKind.SLA,
        "name": "Checkout availability",
        "covers": ("svc-checkout",),
        "objectives": (ObjectiveSpec(**objective_fields()),),
        "customer_id": "c-retail",
    }
    fields.update(overrides)
    return fields


def problems_of(exc: ValidationError) -> list[FieldProblem]:
    return InvalidInputError.from_validation(exc, prefix="input.").problems


def fields_of(exc: ValidationError) -> list[str]:
    return [problem.field for problem in problems_of(exc)]


# ---- ObjectiveSpec: target -----------------------------------------------------


@pytest.mark.parametrize("target", [1e-9, 0.5, 50, 99.999, 100, 100.0])
def test_target_in_range_is_accepted(target: float) -> None:
    assert ObjectiveSpec(**objective_fields(target=target)).target == target


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (0, "Input should be greater than 0"),
        (0.0, "Input should be greater than 0"),
        (-1, "Input should be greater than 0"),
        (100.0001, "Input should be less than or equal to 100"),
        (math.nan, "Input should be a finite number"),
        (math.inf, "Input should be a finite number"),
        (-math.inf, "Input should be a finite number"),
    ],
)
def test_target_out_of_range_is_rejected(target: float, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**objective_fields(target=target))
    assert problems_of(caught.value) == [FieldProblem("input.target", message)]


# ---- ObjectiveSpec: threshold --------------------------------------------------


@pytest.mark.parametrize("threshold", [0, 0.0, 0.001, 86_400.0])
def test_non_negative_threshold_is_accepted(threshold: float) -> None:
    assert ObjectiveSpec(**latency_fields(threshold=threshold)).threshold == threshold


@pytest.mark.parametrize("threshold", [-0.001, -1, math.nan, math.inf])
def test_negative_or_non_finite_threshold_is_rejected(threshold: float) -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**latency_fields(threshold=threshold))
    assert fields_of(caught.value) == ["input.threshold"]


@pytest.mark.parametrize(
    "indicator",
    [
        Indicator.LATENCY,
        Indicator.RESPONSE_TIME,
        Indicator.RESOLUTION_TIME,
        Indicator.HANDOFF_TIME,
    ],
)
def test_threshold_is_required_for_latency_and_ticket_times(indicator: Indicator) -> None:
    assert ObjectiveSpec(**latency_fields(indicator=indicator)).threshold == 0.5
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**latency_fields(indicator=indicator, threshold=None))
    assert problems_of(caught.value) == [
        FieldProblem("input.threshold", f"{indicator} objectives need a threshold in seconds")
    ]


@pytest.mark.parametrize("indicator", [Indicator.AVAILABILITY, Indicator.ERROR_RATE])
def test_threshold_is_forbidden_for_percentage_indicators(indicator: Indicator) -> None:
    assert ObjectiveSpec(**objective_fields(indicator=indicator)).threshold is None
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**objective_fields(indicator=indicator, threshold=0))
    assert problems_of(caught.value) == [
        FieldProblem("input.threshold", f"{indicator} objectives have a target only")
    ]


# ---- ObjectiveSpec: window -----------------------------------------------------


@pytest.mark.parametrize("days", [1, 7, 30, MAX_ROLLING_DAYS])
def test_rolling_window_days_in_range_are_accepted(days: int) -> None:
    spec = ObjectiveSpec(**objective_fields(window_kind=WindowKind.ROLLING, window_days=days))
    assert (spec.window_kind, spec.window_days) == (WindowKind.ROLLING, days)


@pytest.mark.parametrize("days", [None, 0, -1, MAX_ROLLING_DAYS + 1])
def test_rolling_window_days_out_of_range_are_rejected(days: int | None) -> None:
    assert MAX_ROLLING_DAYS == 366
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**objective_fields(window_kind=WindowKind.ROLLING, window_days=days))
    assert problems_of(caught.value) == [
        FieldProblem("input.windowDays", "a ROLLING window needs windowDays from 1 to 366")
    ]


@pytest.mark.parametrize("kind", [WindowKind.CALENDAR_MONTH, WindowKind.CALENDAR_QUARTER])
def test_calendar_window_takes_no_days(kind: WindowKind) -> None:
    assert ObjectiveSpec(**objective_fields(window_kind=kind)).window_days is None
    for days in (0, 1, 30):
        with pytest.raises(ValidationError) as caught:
            ObjectiveSpec(**objective_fields(window_kind=kind, window_days=days))
        assert problems_of(caught.value) == [
            FieldProblem("input.windowDays", f"a {kind} window takes no windowDays")
        ]


# ---- ObjectiveSpec: priority, name, shape --------------------------------------


def test_priority_length_bounds() -> None:
    assert ObjectiveSpec(**latency_fields(priority="P")).priority == "P"
    assert ObjectiveSpec(**latency_fields(priority="P" * 20)).priority == "P" * 20
    for bad in ("", "P" * 21):
        with pytest.raises(ValidationError) as caught:
            ObjectiveSpec(**latency_fields(priority=bad))
        assert fields_of(caught.value) == ["input.priority"]


def test_objective_name_may_not_be_empty() -> None:
    assert ObjectiveSpec(**objective_fields(name="Uptime")).name == "Uptime"
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**objective_fields(name=""))
    assert fields_of(caught.value) == ["input.name"]


def test_objective_rejects_unknown_fields_and_is_frozen() -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**objective_fields(colour="red"))
    assert fields_of(caught.value) == ["input.colour"]
    spec = ObjectiveSpec(**objective_fields())
    with pytest.raises(ValidationError):
        spec.target = 50.0  # type: ignore[misc]
    assert spec.target == 99.9


def test_several_field_problems_are_all_reported() -> None:
    with pytest.raises(ValidationError) as caught:
        ObjectiveSpec(**latency_fields(target=0, threshold=-1, priority=""))
    assert sorted(fields_of(caught.value)) == [
        "input.priority",
        "input.target",
        "input.threshold",
    ]


# ---- AgreementSpec: counterparts -----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "name"),
    [
        (AgreementKind.SLA, "customer_id", "customerId"),
        (AgreementKind.OLA, "provider_team_id", "providerTeamId"),
        (AgreementKind.UC, "vendor_id", "vendorId"),
    ],
)
def test_each_kind_needs_its_counterpart(kind: AgreementKind, field: str, name: str) -> None:
    spec = AgreementSpec(**{**agreement_fields(kind=kind, customer_id=None), field: "x-1"})
    assert (spec.kind, getattr(spec, field)) == (kind, "x-1")
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(kind=kind, customer_id=None))
    [problem] = problems_of(caught.value)
    assert problem.field == f"input.{name}"
    assert problem.message.startswith(f"an {kind} needs ")


@pytest.mark.parametrize(
    ("kind", "own", "other", "other_name"),
    [
        (AgreementKind.SLA, "customer_id", "vendor_id", "vendorId"),
        (AgreementKind.SLA, "customer_id", "provider_team_id", "providerTeamId"),
        (AgreementKind.OLA, "provider_team_id", "customer_id", "customerId"),
        (AgreementKind.UC, "vendor_id", "provider_team_id", "providerTeamId"),
    ],
)
def test_a_kind_takes_no_other_counterpart(
    kind: AgreementKind, own: str, other: str, other_name: str
) -> None:
    fields = {**agreement_fields(kind=kind, customer_id=None), own: "mine", other: "theirs"}
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**fields)
    assert problems_of(caught.value) == [
        FieldProblem(f"input.{other_name}", f"an {kind} takes no {other_name}")
    ]


def test_sla_cannot_underpin_but_ola_and_uc_can() -> None:
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(underpins=("sla-1",)))
    assert fields_of(caught.value) == ["input.underpins"]
    ola = AgreementSpec(
        **agreement_fields(
            kind=AgreementKind.OLA, customer_id=None, provider_team_id="t", underpins=("sla-1",)
        )
    )
    uc = AgreementSpec(
        **agreement_fields(kind=AgreementKind.UC, customer_id=None, vendor_id="v", underpins=("s",))
    )
    assert (ola.underpins, uc.underpins) == (("sla-1",), ("s",))


# ---- AgreementSpec: shape ------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "input.name"),
        ({"name": "n" * 301}, "input.name"),
        ({"covers": ()}, "input.covers"),
        ({"objectives": ()}, "input.objectives"),
    ],
)
def test_agreement_needs_name_covers_and_objectives(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(**overrides))
    assert fields_of(caught.value) == [field]


def test_agreement_name_of_300_characters_is_accepted() -> None:
    assert AgreementSpec(**agreement_fields(name="n" * 300)).name == "n" * 300


def test_invalid_nested_objective_is_named_by_its_index() -> None:
    raw = agreement_fields(
        objectives=(
            objective_fields(),
            objective_fields(window_kind=WindowKind.ROLLING),
        )
    )
    with pytest.raises(ValidationError) as caught:
        AgreementSpec.model_validate(raw)
    problems = problems_of(caught.value)
    assert (
        FieldProblem(
            "input.objectives.1.windowDays", "a ROLLING window needs windowDays from 1 to 366"
        )
        in problems
    )
    assert all(problem.field.startswith("input.objectives") for problem in problems)


# ---- AgreementSpec: effective dates --------------------------------------------


def test_effective_to_must_be_after_effective_from() -> None:
    later = AgreementSpec(
        **agreement_fields(effective_from=JAN_1, effective_to=JAN_1 + timedelta(seconds=1))
    )
    assert later.effective_to == JAN_1 + timedelta(seconds=1)
    for to in (JAN_1, JAN_1 - timedelta(days=1)):
        with pytest.raises(ValidationError) as caught:
            AgreementSpec(**agreement_fields(effective_from=JAN_1, effective_to=to))
        assert problems_of(caught.value) == [
            FieldProblem("input.effectiveTo", "must be after effectiveFrom")
        ]


def test_open_ended_effective_dates_are_accepted() -> None:
    assert AgreementSpec(**agreement_fields(effective_from=JAN_1)).effective_to is None
    assert AgreementSpec(**agreement_fields(effective_to=JAN_1)).effective_from is None


@pytest.mark.parametrize(
    ("effective_from", "effective_to", "field"),
    [
        (datetime(2026, 1, 1), None, "input.effectiveFrom"),
        (None, datetime(2026, 1, 1), "input.effectiveTo"),
        (datetime(2026, 1, 1), datetime(2026, 2, 1), "input.effectiveFrom"),
        # One naive, one aware: must be a validation problem, not a TypeError.
        (datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=UTC), "input.effectiveFrom"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1), "input.effectiveTo"),
    ],
)
def test_effective_dates_need_a_time_zone(
    effective_from: datetime | None, effective_to: datetime | None, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(effective_from=effective_from, effective_to=effective_to))
    [problem] = problems_of(caught.value)
    assert problem.field == field
    assert problem.message.startswith("give a time zone")


def test_non_utc_offsets_are_accepted_and_compared_as_instants() -> None:
    # 02:00 at +02:00 is midnight UTC: not after JAN_1; 03:00 at +02:00 is.
    plus_two = timezone(timedelta(hours=2))
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(
            **agreement_fields(
                effective_from=JAN_1, effective_to=datetime(2026, 1, 1, 2, tzinfo=plus_two)
            )
        )
    assert fields_of(caught.value) == ["input.effectiveTo"]
    spec = AgreementSpec(
        **agreement_fields(
            effective_from=JAN_1, effective_to=datetime(2026, 1, 1, 3, tzinfo=plus_two)
        )
    )
    assert spec.effective_to == JAN_1 + timedelta(hours=1)


# ---- InvalidInputError ---------------------------------------------------------


def test_from_validation_without_prefix_and_message_text() -> None:
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(customer_id=None))
    error = InvalidInputError.from_validation(caught.value)
    assert error.problems == [FieldProblem("customerId", "an SLA needs a customer")]
    assert str(error) == "customerId: an SLA needs a customer"


def test_from_validation_joins_several_problems() -> None:
    with pytest.raises(ValidationError) as caught:
        AgreementSpec(**agreement_fields(name="", covers=()))
    error = InvalidInputError.from_validation(caught.value, prefix="input.")
    assert [problem.field for problem in error.problems] == ["input.name", "input.covers"]
    assert str(error) == "; ".join(str(problem) for problem in error.problems)
    assert str(error).startswith("input.name: String should have at least 1 character; ")


def test_a_credit_policy_keeps_its_tiers_best_first_whatever_the_order_given() -> None:
    policy = CreditPolicySpec(
        tiers=(
            CreditTierSpec(below_percent=95.0, credit_percent=50),
            CreditTierSpec(below_percent=99.9, credit_percent=10),
            CreditTierSpec(below_percent=99.0, credit_percent=25),
        )
    )

    assert [t.below_percent for t in policy.tiers] == [99.9, 99.0, 95.0]


def test_a_credit_policy_refuses_a_smaller_credit_for_a_worse_tier() -> None:
    with pytest.raises(ValidationError, match="below 95% the credit must be at least"):
        CreditPolicySpec(
            tiers=(
                CreditTierSpec(below_percent=99.0, credit_percent=25),
                CreditTierSpec(below_percent=95.0, credit_percent=10),
            )
        )
