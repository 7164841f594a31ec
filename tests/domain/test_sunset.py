"""Sunset rules without I/O: when a sunset takes effect (no backdating), and that a
sunset objective raises no alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.budget import AlertPair, BudgetState, Forecast, ObjectiveStatus
from hub.domain.errors import InvalidInputError
from hub.domain.sunset import silenced, sunset_moment, sync_actor
from hub.domain.windows import Window

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_a_sunset_is_now_unless_asked_for_later_and_never_backdated() -> None:
    assert sunset_moment(None, NOW) == NOW
    assert sunset_moment(NOW + timedelta(days=2), NOW) == NOW + timedelta(days=2)
    # Within the tolerance (clock skew): read as now.
    assert sunset_moment(NOW - timedelta(seconds=60), NOW) == NOW
    with pytest.raises(InvalidInputError) as refused:
        sunset_moment(NOW - timedelta(seconds=61), NOW)
    assert [p.field for p in refused.value.problems] == ["at"]
    assert sync_actor("servicenow-cmdb") == "sync:servicenow-cmdb"


FIRING = ObjectiveStatus(
    window=Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    good=99.5,
    total=100.0,
    compliance=99.5,
    data_coverage=100.0,
    budget_remaining=50.0,
    state=BudgetState.AT_RISK,
    burn_rates=((3600, 20.0),),
    firing=(AlertPair(3600, 300, 14.4),),
    forecast=Forecast(),
)


def test_a_sunset_objective_raises_no_alert_from_its_sunset_on() -> None:
    sunset_at = NOW - timedelta(hours=1)

    quiet = silenced(FIRING, sunset_at, NOW)

    assert (quiet.firing, quiet.state) == ((), BudgetState.HEALTHY)
    assert quiet.compliance == FIRING.compliance  # the figures stay as measured
    # Before the sunset, or for a version never sunset: unchanged.
    assert silenced(FIRING, NOW + timedelta(hours=1), NOW) == FIRING
    assert silenced(FIRING, None, NOW) == FIRING
    # A forecast that the budget runs out keeps it at risk; only the alert goes.
    forecast = replace(FIRING, forecast=Forecast(at=NOW + timedelta(days=1)))
    assert silenced(forecast, sunset_at, NOW).state is BudgetState.AT_RISK
