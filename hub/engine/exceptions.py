"""The settings' side of exceptions: `slo.maintenance_windows` adopted at start-up.

Maintenance windows used to be plain settings that paused ticket clocks everywhere.
They are now approved exceptions in the graph; `hub serve` turns each settings window
into one when it starts (`adopt_settings_windows`: once per window, however often it
starts), so an existing configuration keeps working.
"""

from __future__ import annotations

from hub.domain.exceptions import SettingsWindow
from hub.graph.client import Graph
from hub.graph.repositories.exceptions import adopt_settings_windows
from hub.settings import SloSettings


def settings_windows(settings: SloSettings) -> list[SettingsWindow]:
    return [
        SettingsWindow(
            start=window.start,
            end=window.end,
            note=window.note,
            components=None if window.components is None else tuple(window.components),
        )
        for window in settings.maintenance_windows
    ]


async def adopt_maintenance_windows(graph: Graph, settings: SloSettings) -> list[str]:
    """Adopt the settings' maintenance windows not adopted yet; the new exceptions' ids."""
    return await adopt_settings_windows(graph, settings_windows(settings))
