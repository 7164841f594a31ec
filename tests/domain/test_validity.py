"""Valid time and the status derived from it (`hub.domain.validity`): examples for each
status, then properties over generated versions and instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.models import AgreementState, AgreementStatus
from hub.domain.validity import (
    Takeover,
    ValidTime,
    backdated,
    start_at_approval,
    stored_time,
    takeovers,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def approved(
    start: datetime | None = T0,
    end: datetime | None = None,
    superseded: datetime | None = None,
    sunset: datetime | None = None,
) -> ValidTime:
    return ValidTime(AgreementState.APPROVED, start, end, superseded, sunset)


@pytest.mark.parametrize(
    ("valid", "at", "status"),
    [
        (ValidTime(AgreementState.DRAFT), T0, AgreementStatus.DRAFT),
        (ValidTime(AgreementState.PENDING_APPROVAL, T0), T0, AgreementStatus.PENDING_APPROVAL),
        (ValidTime(AgreementState.REJECTED, T0), T0 + DAY, AgreementStatus.REJECTED),
        (ValidTime(AgreementState.WITHDRAWN), T0, AgreementStatus.WITHDRAWN),
        (approved(), T0 - timedelta(microseconds=1), AgreementStatus.SCHEDULED),
        (approved(), T0, AgreementStatus.ACTIVE),  # the start is inclusive
        (approved(end=T0 + DAY), T0 + DAY - timedelta(microseconds=1), AgreementStatus.ACTIVE),
        (approved(end=T0 + DAY), T0 + DAY, AgreementStatus.EXPIRED),  # the end is exclusive
        (approved(end=T0 + DAY, superseded=T0 + DAY), T0 + DAY, AgreementStatus.SUPERSEDED),
        (approved(end=T0 + DAY, superseded=T0 + DAY), T0, AgreementStatus.ACTIVE),
        # Taken over before it ever started: superseded at once, never scheduled.
        (approved(end=T0, superseded=T0), T0 - DAY, AgreementStatus.SUPERSEDED),
        (approved(end=T0 + DAY, sunset=T0 + DAY), T0 + 2 * DAY, AgreementStatus.SUNSET),
    ],
)
def test_the_status_is_derived_at_the_instant_asked(
    valid: ValidTime, at: datetime, status: AgreementStatus
) -> None:
    assert valid.status_at(at) is status
    assert valid.in_force(at) is (status is AgreementStatus.ACTIVE)


def test_start_at_approval_and_backdating() -> None:
    assert start_at_approval(None, T0) == T0
    assert start_at_approval(T0 - timedelta(seconds=30), T0) == T0
    assert start_at_approval(T0 + DAY, T0) == T0 + DAY
    assert not backdated(None, T0)
    assert not backdated(T0 - timedelta(seconds=60), T0)
    assert backdated(T0 - timedelta(seconds=61), T0)


def test_a_new_version_ends_the_earlier_ones_still_in_force_at_its_start() -> None:
    earlier = [
        ("v1", approved(T0 - 10 * DAY, end=T0 - 5 * DAY)),  # already over: expires
        ("v2", ValidTime(AgreementState.REJECTED, None)),  # never in force
        ("v3", approved(T0 - 5 * DAY)),  # open-ended: taken over
        ("v4", approved(T0 + 5 * DAY, end=T0 + 9 * DAY)),  # scheduled: never starts
    ]
    assert takeovers(earlier, start=T0 + DAY, approved_at=T0) == [
        Takeover("v3", None, T0 + DAY),
        Takeover("v4", T0 + 9 * DAY, T0 + DAY),
    ]


def test_a_takeover_is_never_earlier_than_the_approval() -> None:
    earlier = [("v1", approved(T0 - DAY))]
    assert takeovers(earlier, start=T0 - timedelta(seconds=30), approved_at=T0) == [
        Takeover("v1", None, T0)
    ]


def test_stored_times_sort_as_times_do() -> None:
    assert stored_time(T0) == "2026-03-01T00:00:00.000000Z"
    assert stored_time(T0 - timedelta(microseconds=1)) < stored_time(T0)
    with pytest.raises(ValueError, match="time zone"):
        stored_time(datetime(2026, 1, 1))


# ---- properties ----------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@st.composite
def versions(draw: st.DrawFn) -> ValidTime:
    state = draw(st.sampled_from(AgreementState))
    start = draw(moments)
    end = draw(st.none() | moments.filter(lambda m: m > start))
    superseded = None
    if state is AgreementState.APPROVED and draw(st.booleans()):
        # A takeover sets the end and the supersession to one instant.
        superseded = end = draw(moments)
    return ValidTime(state, start if state is not AgreementState.DRAFT else None, end, superseded)


@given(versions(), moments)
def test_in_force_exactly_when_active(valid: ValidTime, at: datetime) -> None:
    assert valid.in_force(at) is (valid.status_at(at) is AgreementStatus.ACTIVE)


@given(versions(), moments, moments)
def test_statuses_only_move_forward_in_time(valid: ValidTime, a: datetime, b: datetime) -> None:
    order = [
        AgreementStatus.SCHEDULED,
        AgreementStatus.ACTIVE,
        AgreementStatus.EXPIRED,
        AgreementStatus.SUPERSEDED,
    ]
    early, late = sorted((a, b))
    first, then = valid.status_at(early), valid.status_at(late)
    if valid.state is not AgreementState.APPROVED:
        assert first is then  # no clock moves an undecided or ended workflow
        return
    # SCHEDULED -> ACTIVE -> EXPIRED or SUPERSEDED; never back, never both ends.
    assert order.index(first) <= order.index(then)
    assert {first, then} != {AgreementStatus.EXPIRED, AgreementStatus.SUPERSEDED}


@given(versions(), moments)
def test_a_superseded_version_is_never_in_force_again(valid: ValidTime, at: datetime) -> None:
    if valid.superseded_at is not None and at >= valid.superseded_at:
        assert not valid.in_force(at)
        assert valid.status_at(at) is AgreementStatus.SUPERSEDED


@given(st.lists(versions(), max_size=5), moments, moments)
def test_after_a_takeover_only_the_new_version_is_in_force_from_its_start(
    earlier: list[ValidTime], start: datetime, approved_at: datetime
) -> None:
    named = [(f"v{i}", v) for i, v in enumerate(earlier)]
    ended = {t.version_id: t for t in takeovers(named, start, approved_at)}
    at = max(start, approved_at)
    for version_id, valid in named:
        if version_id in ended:
            takeover = ended[version_id]
            assert takeover.at == at
            after = ValidTime(valid.state, valid.effective_from, takeover.at, takeover.at)
        else:
            after = valid
        # From the new version's start on, no earlier version is in force.
        assert not after.in_force(at)
        # Before it, each earlier version is in force exactly as it was.
        before = at - timedelta(microseconds=1)
        assert after.in_force(before) is valid.in_force(before)
