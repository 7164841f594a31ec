"""Which stored telemetry an objective is measured by: its primary and secondary source.

Buckets are stored per objective under a source key: the connector's name for the
primary measurement (e.g. ``prometheus``), and ``<connector>:secondary`` for a
secondary one, so one connector may even be both. An objective that no connector
measures is measured by the points pushed to it (`POST /api/v1/measurements`), stored
under ``push`` (`TelemetrySources.read_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.domain.models import Objective
from hub.domain.push import PUSH_SOURCE
from hub.settings import TelemetryBinding

PRIMARY, SECONDARY = "primary", "secondary"


def source_key(connector: str, role: str) -> str:
    return connector if role == PRIMARY else f"{connector}:{SECONDARY}"


@dataclass(frozen=True, slots=True)
class TelemetrySources:
    primary: str | None = None
    secondary: str | None = None

    @property
    def keys(self) -> list[str]:
        return [k for k in (self.primary, self.secondary) if k is not None]

    @property
    def read_keys(self) -> list[str]:
        """The keys status reads, primary first: pushed points are the primary source
        of an objective without a connector's."""
        return self.keys if self.primary is not None else [PUSH_SOURCE, *self.keys]


def telemetry_sources(
    objective: Objective, bindings: Sequence[TelemetryBinding]
) -> TelemetrySources:
    """The source keys of `objective`: its own bindings (authored, or pinned at
    approval: `hub.domain.change_control`) if it has any, whatever the settings say;
    otherwise settings bindings that name it (by id or name) win over the metric
    source an OpenSLO import gave it."""
    primary = secondary = None
    if objective.bindings:
        for own in objective.bindings:
            if own.role == PRIMARY:
                primary = source_key(own.source, PRIMARY)
            else:
                secondary = source_key(own.source, SECONDARY)
        return TelemetrySources(primary, secondary)
    if objective.metric is not None:
        primary = source_key(objective.metric.total.source_type.lower(), PRIMARY)
    for binding in bindings:
        if binding.objective not in (objective.id, objective.name):
            continue
        if binding.role == PRIMARY:
            primary = source_key(binding.source, PRIMARY)
        else:
            secondary = source_key(binding.source, SECONDARY)
    return TelemetrySources(primary, secondary)
