"""Writing the hub's measured objectives as OpenSLO v1 documents."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from hub.domain.models import (
    Indicator,
    MetricQuery,
    OpenSloOrigin,
    RatioMetric,
    WindowKind,
)
from hub.domain.openslo.common import (
    API_VERSION,
    BUDGETING,
    CALENDAR,
    INDICATOR_LABEL,
    ObjectiveLike,
)

_DURATION_OF = {kind: duration for duration, kind in CALENDAR.items()}
_BUDGETING_NAME = {method: name for name, method in BUDGETING.items()}
# `target` digits written back: 99.9 -> 0.999 exactly for targets of up to 9 decimals.
_TARGET_DIGITS = 12
# A calendar window exported without a known start: the first month of a quarter.
_DEFAULT_CALENDAR = {"startTime": "2024-01-01 00:00:00", "timeZone": "UTC"}


def to_documents(objectives: Iterable[tuple[str, ObjectiveLike]]) -> str:
    """OpenSLO v1 YAML for measured objectives, each given with the `spec.service` to write.

    Objectives of one SLO (the same service and `origin.slo_name`, else the same name
    before `#`) become one SLO document again, their objectives in `#n` order; an SLI
    that was a document of its own is written once, before the first SLO naming it.
    Raises ValueError for an objective without a name or a metric.
    """
    groups: dict[tuple[str, str], list[ObjectiveLike]] = {}
    for service, objective in objectives:
        if objective.name is None or objective.metric is None:
            raise ValueError(
                f"objective {objective.name!r} cannot be written as OpenSLO: "
                "it needs a name and a metric"
            )
        slo = objective.origin.slo_name if objective.origin else objective.name.split("#")[0]
        groups.setdefault((service, slo), []).append(objective)
    documents: list[dict[str, Any]] = []
    written_slis: set[str] = set()
    for (service, slo), members in groups.items():
        members.sort(key=_position)
        first = members[0]
        origin = first.origin
        sli = origin.indicator_name if origin is not None and origin.indicator_ref else None
        if sli is not None and sli not in written_slis:
            written_slis.add(sli)
            documents.append(_sli_document(first))
        documents.append(_slo_document(service, slo, members))
    if not documents:
        return ""
    return yaml.safe_dump_all(
        documents, sort_keys=False, explicit_start=True, allow_unicode=True, width=1_000_000
    )


def _position(objective: ObjectiveLike) -> tuple[int, str]:
    name = objective.name or ""
    _, sep, number = name.rpartition("#")
    return (int(number) if sep and number.isdigit() else 0), name


def _slo_document(service: str, slo: str, members: list[ObjectiveLike]) -> dict[str, Any]:
    first = members[0]
    origin = first.origin
    assert first.metric is not None  # checked by to_documents
    metadata: dict[str, Any] = {"name": slo}
    labels: dict[str, Any] = {}
    if origin is not None:
        if origin.slo_display_name is not None:
            metadata["displayName"] = origin.slo_display_name
        labels = {
            key: list(value) if isinstance(value, tuple) else value for key, value in origin.labels
        }
    if INDICATOR_LABEL not in labels and first.indicator is not Indicator.AVAILABILITY:
        labels[INDICATOR_LABEL] = str(first.indicator)
    if labels:
        metadata["labels"] = labels
    if origin is not None and origin.annotations:
        metadata["annotations"] = dict(origin.annotations)
    spec: dict[str, Any] = {}
    if origin is not None and origin.description is not None:
        spec["description"] = origin.description
    spec["service"] = service
    if origin is not None and origin.indicator_ref and origin.indicator_name:
        spec["indicatorRef"] = origin.indicator_name
    else:
        indicator: dict[str, Any] = {}
        sli_meta = _sli_metadata(origin)
        if sli_meta:
            indicator["metadata"] = sli_meta
        indicator["spec"] = _sli_spec(first.metric, origin)
        spec["indicator"] = indicator
    spec["timeWindow"] = [_time_window(first)]
    spec["budgetingMethod"] = _BUDGETING_NAME[first.budgeting_method]
    spec["objectives"] = [_objective_entry(member) for member in members]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


def _sli_document(objective: ObjectiveLike) -> dict[str, Any]:
    assert objective.metric is not None
    return {
        "apiVersion": API_VERSION,
        "kind": "SLI",
        "metadata": _sli_metadata(objective.origin),
        "spec": _sli_spec(objective.metric, objective.origin),
    }


def _sli_metadata(origin: OpenSloOrigin | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if origin is not None and origin.indicator_name is not None:
        metadata["name"] = origin.indicator_name
    if origin is not None and origin.indicator_display_name is not None:
        metadata["displayName"] = origin.indicator_display_name
    return metadata


def _sli_spec(metric: RatioMetric, origin: OpenSloOrigin | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if origin is not None and origin.indicator_description is not None:
        spec["description"] = origin.indicator_description
    ratio: dict[str, Any] = {"counter": metric.counter}
    for key, query in (("good", metric.good), ("bad", metric.bad), ("total", metric.total)):
        if query is not None:
            ratio[key] = {"metricSource": _metric_source(query)}
    spec["ratioMetric"] = ratio
    return spec


def _metric_source(query: MetricQuery) -> dict[str, Any]:
    source: dict[str, Any] = {}
    if query.source_ref is not None:
        source["metricSourceRef"] = query.source_ref
    source["type"] = query.source_type
    source["spec"] = {"query": query.query, **dict(query.extra)}
    return source


def _time_window(objective: ObjectiveLike) -> dict[str, Any]:
    origin = objective.origin
    if objective.window_kind is WindowKind.ROLLING:
        duration = origin.window_duration if origin else f"{objective.window_days}d"
        return {"duration": duration, "isRolling": True}
    window: dict[str, Any] = {
        "duration": origin.window_duration if origin else _DURATION_OF[objective.window_kind]
    }
    if origin is None:
        window["calendar"] = dict(_DEFAULT_CALENDAR)
    elif origin.calendar_start_time is not None or origin.calendar_time_zone is not None:
        calendar: dict[str, Any] = {}
        if origin.calendar_start_time is not None:
            calendar["startTime"] = origin.calendar_start_time
        if origin.calendar_time_zone is not None:
            calendar["timeZone"] = origin.calendar_time_zone
        window["calendar"] = calendar
    window["isRolling"] = False
    return window


def _objective_entry(objective: ObjectiveLike) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if objective.origin is not None and objective.origin.display_name is not None:
        entry["displayName"] = objective.origin.display_name
    entry["target"] = round(objective.target / 100, _TARGET_DIGITS)
    if objective.time_slice_target is not None:
        entry["timeSliceTarget"] = objective.time_slice_target
    if objective.time_slice_window is not None:
        entry["timeSliceWindow"] = objective.time_slice_window
    return entry
