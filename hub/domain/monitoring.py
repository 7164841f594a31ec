"""Monitoring mode and rigor by tier: which objectives are alerted, and how often each is
measured. Pure rules, no I/O (docs/service-levels.md, "Ownership and monitoring mode").

An objective is ACTIVE (measured, alerted, escalated) or REPORTED (measured for reports
only, never alerted). An explicit mode, set by `setObjectiveOwnership`, wins; without
one the tier of the objective's service decides (`[slo.monitoring]` in the settings):
for a service objective its service's tier, for an agreement objective the highest tier
the agreement covers (`hub.domain.boards.highest_tier`). An objective without a tier
(a CI-only agreement, a service with no tier) is ACTIVE and measured at its connector's
interval, as before tiers had a say: no setting silences or slows an objective nobody
has classified.

The tier also sets how often the scheduled telemetry sync measures the objective
(`sync_interval`, `is_due`), so a tier changes monitoring rigor as well as severity.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from hub.domain.models import Tier

__all__ = [
    "MonitoringMode",
    "MonitoringModeSource",
    "ObjectiveMonitoring",
    "TierPolicy",
    "due_objectives",
    "effective_mode",
    "is_alerted",
    "is_due",
    "mode_source",
    "scheduled_interval",
    "sync_interval",
]


class MonitoringMode(enum.StrEnum):
    ACTIVE = "ACTIVE"
    REPORTED = "REPORTED"


class MonitoringModeSource(enum.StrEnum):
    """Where an objective's effective mode comes from."""

    EXPLICIT = "EXPLICIT"  # set on the objective
    TIER = "TIER"  # the default of its tier
    UNTIERED = "UNTIERED"  # no tier: ACTIVE


class TierPolicy(Protocol):
    """What a tier sets (the settings' `[slo.monitoring.TIER_n]` tables satisfy it)."""

    @property
    def mode(self) -> MonitoringMode: ...

    @property
    def sync_interval_seconds(self) -> int: ...


def effective_mode(
    explicit: MonitoringMode | None, tier: Tier | None, defaults: Mapping[Tier, TierPolicy]
) -> MonitoringMode:
    """The mode an objective is monitored in: the explicit one, else its tier's default,
    else ACTIVE (no tier, or a tier the settings leave out)."""
    if explicit is not None:
        return explicit
    policy = None if tier is None else defaults.get(tier)
    return MonitoringMode.ACTIVE if policy is None else policy.mode


def mode_source(
    explicit: MonitoringMode | None, tier: Tier | None, defaults: Mapping[Tier, TierPolicy]
) -> MonitoringModeSource:
    """Which rule `effective_mode` applied."""
    if explicit is not None:
        return MonitoringModeSource.EXPLICIT
    if tier is not None and tier in defaults:
        return MonitoringModeSource.TIER
    return MonitoringModeSource.UNTIERED


def is_alerted(
    explicit: MonitoringMode | None, tier: Tier | None, defaults: Mapping[Tier, TierPolicy]
) -> bool:
    """Whether anything may alert or escalate on the objective: only in ACTIVE mode. The
    one gate every alerting path (burn-rate rules, escalation, budget policies) asks."""
    return effective_mode(explicit, tier, defaults) is MonitoringMode.ACTIVE


def sync_interval(tier: Tier | None, defaults: Mapping[Tier, TierPolicy]) -> timedelta | None:
    """How often the scheduled sync measures an objective of `tier`; None when the tier
    sets nothing (no tier, or a tier the settings leave out): the connector's interval."""
    policy = None if tier is None else defaults.get(tier)
    return None if policy is None else timedelta(seconds=policy.sync_interval_seconds)


def is_due(watermark: datetime | None, interval: timedelta | None, now: datetime) -> bool:
    """Whether an objective measured up to `watermark` is due for measuring at `now`:
    never measured, no interval (every run), or its interval has passed since. The
    watermark is the end of the last bucket measured (a 5-minute boundary), so an
    interval counts from that boundary, never from later than the run that set it."""
    return watermark is None or interval is None or now - watermark >= interval


def scheduled_interval(
    defaults: Mapping[Tier, TierPolicy], connector_interval: timedelta
) -> timedelta:
    """How often the scheduled sync of a telemetry source runs: the connector's interval,
    or the shortest tier interval when that is shorter, so that each run can measure
    the objectives whose own interval has passed."""
    tiers = [timedelta(seconds=p.sync_interval_seconds) for p in defaults.values()]
    return min([connector_interval, *tiers])


def due_objectives(
    tiers: Mapping[str, Tier | None],
    defaults: Mapping[Tier, TierPolicy],
    connector_interval: timedelta,
    now: datetime,
) -> Callable[[str, datetime | None], bool]:
    """Which objectives a scheduled run at `now` measures, given each objective's tier
    (objective id -> tier): (objective id, watermark) -> due. An objective without a
    tier setting, or not in `tiers` (created since they were read), keeps the
    connector's interval."""

    def due(objective_id: str, watermark: datetime | None) -> bool:
        interval = sync_interval(tiers.get(objective_id), defaults) or connector_interval
        return is_due(watermark, interval, now)

    return due


@dataclass(frozen=True, slots=True)
class ObjectiveMonitoring:
    """An objective's owners (team ids; the provider and the consumer side of the
    negotiation), its explicit mode, and the tier its defaults come from."""

    objective_id: str
    provider_team_id: str | None
    consumer_team_id: str | None
    explicit_mode: MonitoringMode | None
    tier: Tier | None

    def mode(self, defaults: Mapping[Tier, TierPolicy]) -> MonitoringMode:
        return effective_mode(self.explicit_mode, self.tier, defaults)

    def source(self, defaults: Mapping[Tier, TierPolicy]) -> MonitoringModeSource:
        return mode_source(self.explicit_mode, self.tier, defaults)

    def alerted(self, defaults: Mapping[Tier, TierPolicy]) -> bool:
        return is_alerted(self.explicit_mode, self.tier, defaults)
