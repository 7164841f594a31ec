"""Monitoring mode and sync interval by tier (hub.domain.monitoring)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.domain.models import Tier
from hub.domain.monitoring import (
    MonitoringMode,
    MonitoringModeSource,
    ObjectiveMonitoring,
    due_objectives,
    effective_mode,
    is_alerted,
    is_due,
    mode_source,
    scheduled_interval,
    sync_interval,
)
from hub.settings import SloSettings, TierMonitoringSettings

DEFAULTS = SloSettings().monitoring
ACTIVE, REPORTED = MonitoringMode.ACTIVE, MonitoringMode.REPORTED
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tier", "mode", "seconds"),
    [
        (Tier.TIER_1, ACTIVE, 60),
        (Tier.TIER_2, ACTIVE, 300),
        (Tier.TIER_3, ACTIVE, 600),
        (Tier.TIER_4, REPORTED, 900),
    ],
)
def test_the_tier_sets_the_default_mode_and_the_sync_interval(
    tier: Tier, mode: MonitoringMode, seconds: int
) -> None:
    assert effective_mode(None, tier, DEFAULTS) is mode
    assert mode_source(None, tier, DEFAULTS) is MonitoringModeSource.TIER
    assert sync_interval(tier, DEFAULTS) == timedelta(seconds=seconds)
    assert is_alerted(None, tier, DEFAULTS) is (mode is ACTIVE)


def test_an_explicit_mode_overrides_the_tier_either_way() -> None:
    assert effective_mode(ACTIVE, Tier.TIER_4, DEFAULTS) is ACTIVE
    assert effective_mode(REPORTED, Tier.TIER_1, DEFAULTS) is REPORTED
    assert mode_source(REPORTED, Tier.TIER_1, DEFAULTS) is MonitoringModeSource.EXPLICIT
    assert is_alerted(REPORTED, Tier.TIER_1, DEFAULTS) is False
    assert is_alerted(ACTIVE, Tier.TIER_4, DEFAULTS) is True


def test_without_a_tier_an_objective_is_active_at_the_connector_interval() -> None:
    assert effective_mode(None, None, DEFAULTS) is ACTIVE
    assert mode_source(None, None, DEFAULTS) is MonitoringModeSource.UNTIERED
    assert sync_interval(None, DEFAULTS) is None
    # A tier the settings leave out is treated as no tier.
    only_first = {Tier.TIER_1: DEFAULTS[Tier.TIER_1]}
    assert effective_mode(None, Tier.TIER_4, only_first) is ACTIVE
    assert mode_source(None, Tier.TIER_4, only_first) is MonitoringModeSource.UNTIERED
    assert sync_interval(Tier.TIER_4, only_first) is None


def test_the_settings_refuse_an_unknown_mode_a_short_interval_and_extra_keys() -> None:
    with pytest.raises(ValidationError, match="mode"):
        SloSettings.model_validate(
            {"monitoring": {"TIER_1": {"mode": "SILENT", "sync_interval_seconds": 60}}}
        )
    with pytest.raises(ValidationError, match="sync_interval_seconds"):
        SloSettings.model_validate(
            {"monitoring": {"TIER_1": {"mode": "ACTIVE", "sync_interval_seconds": 5}}}
        )
    with pytest.raises(ValidationError, match="extra"):
        TierMonitoringSettings.model_validate(
            {"mode": "ACTIVE", "sync_interval_seconds": 60, "x": 1}
        )
    with pytest.raises(ValidationError, match="TIER_9"):
        SloSettings.model_validate(
            {"monitoring": {"TIER_9": {"mode": "ACTIVE", "sync_interval_seconds": 60}}}
        )
    custom = SloSettings.model_validate(
        {"monitoring": {"TIER_2": {"mode": "REPORTED", "sync_interval_seconds": 120}}}
    ).monitoring
    assert effective_mode(None, Tier.TIER_2, custom) is REPORTED
    assert sync_interval(Tier.TIER_2, custom) == timedelta(seconds=120)


def test_an_objective_is_due_when_its_interval_has_passed_since_its_watermark() -> None:
    fifteen = timedelta(minutes=15)
    assert is_due(None, fifteen, NOON)  # never measured
    assert is_due(NOON, None, NOON)  # no interval: every run
    assert not is_due(NOON, fifteen, NOON + timedelta(minutes=14, seconds=59))
    assert is_due(NOON, fifteen, NOON + fifteen)


def test_the_objective_record_answers_with_the_same_rules() -> None:
    found = ObjectiveMonitoring("obj_1", "team_a", "team_b", None, Tier.TIER_4)
    assert found.mode(DEFAULTS) is REPORTED
    assert found.source(DEFAULTS) is MonitoringModeSource.TIER
    assert found.alerted(DEFAULTS) is False


modes = st.sampled_from([None, ACTIVE, REPORTED])
tiers = st.sampled_from([None, *Tier])


@given(explicit=modes, tier=tiers)
def test_an_explicit_mode_always_wins_and_only_active_is_alerted(
    explicit: MonitoringMode | None, tier: Tier | None
) -> None:
    mode = effective_mode(explicit, tier, DEFAULTS)
    if explicit is not None:
        assert mode is explicit
    assert is_alerted(explicit, tier, DEFAULTS) is (mode is ACTIVE)
    assert (mode_source(explicit, tier, DEFAULTS) is MonitoringModeSource.EXPLICIT) is (
        explicit is not None
    )


@given(
    minutes=st.integers(min_value=0, max_value=10_000),
    interval=st.integers(min_value=1, max_value=1440),
)
def test_due_exactly_from_one_interval_after_the_watermark(minutes: int, interval: int) -> None:
    now = NOON + timedelta(minutes=minutes)
    assert is_due(NOON, timedelta(minutes=interval), now) is (minutes >= interval)


def test_a_scheduled_run_measures_what_is_due_by_tier_else_by_the_connector() -> None:
    five = timedelta(minutes=5)
    tiers = {"gold": Tier.TIER_1, "bronze": Tier.TIER_4, "plain": None}
    due = due_objectives(tiers, DEFAULTS, five, NOON + timedelta(minutes=10))
    assert due("gold", NOON + timedelta(minutes=9))
    assert not due("bronze", NOON)  # 900 s not yet passed
    assert due("plain", NOON + timedelta(minutes=5))
    assert due("unknown", None)  # created since the tiers were read: never measured
    assert scheduled_interval(DEFAULTS, five) == timedelta(seconds=60)
    assert scheduled_interval({}, five) == five
