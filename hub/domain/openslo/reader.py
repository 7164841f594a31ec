"""Reading OpenSLO v1 documents (see the package docstring for what is read)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.domain.documents import UniqueKeyLoader
from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import (
    MAX_ROLLING_DAYS,
    BudgetingMethod,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
    OpenSloOrigin,
    RatioMetric,
    WindowKind,
    duration_seconds,
    parse_duration,
)
from hub.domain.openslo.common import (
    API_VERSION,
    BUDGETING,
    CALENDAR,
    INDICATOR_LABEL,
    ImportedObjective,
    OpenSloImport,
    ServiceDocument,
)

_M = TypeVar("_M", bound=BaseModel)

# RFC 1123 names, as OpenSLO requires; never containing the '#' of `name#n`.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_MAX_NAME = 63
_DAY = 86400
_UTC_ZONES = ("UTC", "Etc/UTC")
_START_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Percent digits kept from `target` (0.999 -> 99.9; float products carry noise below).
_PERCENT_DIGITS = 10


def parse_documents(text: str) -> OpenSloImport:
    """Read an OpenSLO v1 YAML stream; raise `InvalidInputError` listing every problem."""
    try:
        # A mapping that gives a key twice is refused, not read as its last value.
        loaded = list(yaml.load_all(text, Loader=UniqueKeyLoader))
    except yaml.YAMLError as exc:
        raise InvalidInputError([FieldProblem("documents", f"not valid YAML: {exc}")]) from exc
    except RecursionError as exc:
        problem = FieldProblem("documents", "nested too deeply to be read")
        raise InvalidInputError([problem]) from exc
    reader = _Reader()
    slos: list[tuple[int, dict[str, Any]]] = []
    indicators: dict[str, _Indicator] = {}
    services: list[ServiceDocument] = []
    for index, document in enumerate(loaded):
        path = f"documents[{index}]"
        if document is None:
            continue
        doc = reader.mapping(document, path)
        if doc is None:
            continue
        version = doc.get("apiVersion")
        if version != API_VERSION:
            reader.add(f"{path}.apiVersion", f"expected {API_VERSION}, got {version!r}")
            continue
        kind = doc.get("kind")
        if kind == "SLO":
            slos.append((index, doc))
        elif kind == "SLI":
            reader.sli_document(doc, path, indicators)
        elif kind == "Service":
            name = reader.service_document(doc, path)
            if name is not None:
                services.append(ServiceDocument(index, name))
        else:
            reader.add(
                f"{path}.kind",
                f"{kind!r} documents are not imported; a file holds SLO, SLI and Service documents",
            )
    objectives: list[ImportedObjective] = []
    seen: dict[tuple[str, str], int] = {}
    for index, doc in slos:
        objectives.extend(reader.slo(doc, index, indicators, seen))
    if not reader.problems and not slos and not services:
        reader.add("documents", "the file holds no OpenSLO documents")
    if reader.problems:
        raise InvalidInputError(reader.problems)
    return OpenSloImport(tuple(objectives), tuple(services))


@dataclass(frozen=True, slots=True)
class _Indicator:
    metric: RatioMetric
    name: str | None
    display_name: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class _Metadata:
    name: str | None
    display_name: str | None
    labels: tuple[tuple[str, str | tuple[str, ...]], ...]
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Window:
    kind: WindowKind
    days: int | None
    duration: str
    start_time: str | None
    time_zone: str | None


@dataclass(frozen=True, slots=True)
class _Target:
    percent: float
    time_slice_target: float | None
    time_slice_window: str | None
    display_name: str | None


_SLO_SPEC = ("service", "description", "budgetingMethod", "timeWindow", "indicator")
_SLO_SPEC_KEYS = (*_SLO_SPEC, "indicatorRef", "objectives")
_OBJECTIVE_KEYS = ("displayName", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow")
_NOT_IMPORTED = {
    "alertPolicies": "alert policies are not imported; the hub alerts on burn rates itself",
    "thresholdMetric": "threshold metrics are not imported; write a ratioMetric "
    "(good or bad, over total)",
    "raw": "precomputed ratios are not imported; give good or bad, and total",
    "rawType": "precomputed ratios are not imported; give good or bad, and total",
    "op": "op and value belong to threshold metrics, which are not imported",
    "value": "op and value belong to threshold metrics, which are not imported",
    "indicator": "composite SLOs are not imported; write one SLO per indicator",
    "indicatorRef": "composite SLOs are not imported; write one SLO per indicator",
    "compositeWeight": "composite SLOs are not imported; write one SLO per indicator",
}


class _Reader:
    """Walks the documents, collecting a problem for each field that cannot be used."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(FieldProblem(path, message))

    # ---- shapes ---------------------------------------------------------------------

    def mapping(self, value: object, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            return value
        self.add(path, "required: a mapping" if value is None else "expected a mapping")
        return None

    def only(self, mapping: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in mapping:
            if key in allowed:
                continue
            message = _NOT_IMPORTED.get(key, f"unknown field; expected {', '.join(allowed)}")
            self.add(f"{path}.{key}", message)

    def text(
        self, mapping: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = mapping.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(f"{path}.{key}", "expected text")
            return None
        return value

    def number(self, mapping: Mapping[str, Any], key: str, path: str) -> float | None:
        value = mapping.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(f"{path}.{key}", "expected a number")
            return None
        return float(value)

    def build(self, model: type[_M], path: str, **values: Any) -> _M | None:
        try:
            return model(**values)
        except ValidationError as exc:
            self.problems.extend(InvalidInputError.from_validation(exc, f"{path}.").problems)
            return None

    # ---- metadata -------------------------------------------------------------------

    def metadata(
        self, value: object, path: str, *, named: bool, labelled: bool
    ) -> _Metadata | None:
        meta = self.mapping(value, path)
        if meta is None:
            return None
        keys = (
            ("name", "displayName", "labels", "annotations")
            if labelled
            else ("name", "displayName")
        )
        self.only(meta, path, keys)
        name = self.text(meta, "name", path, required=named)
        if name is not None and (len(name) > _MAX_NAME or not _NAME.match(name)):
            self.add(
                f"{path}.name",
                f"{name!r} is not an RFC 1123 name: at most {_MAX_NAME} lower-case letters, "
                "digits, '-' and '.', starting and ending with a letter or digit",
            )
            name = None
        return _Metadata(
            name=name,
            display_name=self.text(meta, "displayName", path),
            labels=self.labels(meta.get("labels"), f"{path}.labels"),
            annotations=self.annotations(meta.get("annotations"), f"{path}.annotations"),
        )

    def labels(self, value: object, path: str) -> tuple[tuple[str, str | tuple[str, ...]], ...]:
        if value is None:
            return ()
        labels = self.mapping(value, path)
        if labels is None:
            return ()
        found: list[tuple[str, str | tuple[str, ...]]] = []
        for key, item in labels.items():
            if isinstance(item, str):
                found.append((key, item))
            elif isinstance(item, list) and all(isinstance(v, str) for v in item):
                found.append((key, tuple(item)))
            else:
                self.add(f"{path}.{key}", "a label is text or a list of text")
        return tuple(sorted(found, key=lambda pair: pair[0]))

    def annotations(self, value: object, path: str) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        annotations = self.mapping(value, path)
        if annotations is None:
            return ()
        found: list[tuple[str, str]] = []
        for key, item in annotations.items():
            if isinstance(item, str):
                found.append((key, item))
            else:
                self.add(f"{path}.{key}", "an annotation is text")
        return tuple(sorted(found))

    # ---- SLI and Service documents --------------------------------------------------

    def sli_document(
        self, doc: dict[str, Any], path: str, indicators: dict[str, _Indicator]
    ) -> None:
        self.only(doc, path, ("apiVersion", "kind", "metadata", "spec"))
        meta = self.metadata(doc.get("metadata"), f"{path}.metadata", named=True, labelled=False)
        spec = self.mapping(doc.get("spec"), f"{path}.spec")
        indicator = None if spec is None else self.sli_spec(spec, f"{path}.spec", meta)
        if meta is None or meta.name is None or indicator is None:
            return
        if meta.name in indicators:
            self.add(f"{path}.metadata.name", f"another SLI document is named {meta.name!r}")
            return
        indicators[meta.name] = indicator

    def sli_spec(
        self, spec: dict[str, Any], path: str, meta: _Metadata | None
    ) -> _Indicator | None:
        self.only(spec, path, ("description", "ratioMetric"))
        description = self.text(spec, "description", path)
        if "thresholdMetric" in spec:
            return None
        ratio = self.mapping(spec.get("ratioMetric"), f"{path}.ratioMetric")
        if ratio is None:
            return None
        metric = self.ratio_metric(ratio, f"{path}.ratioMetric")
        if metric is None:
            return None
        return _Indicator(
            metric=metric,
            name=None if meta is None else meta.name,
            display_name=None if meta is None else meta.display_name,
            description=description,
        )

    def ratio_metric(self, ratio: dict[str, Any], path: str) -> RatioMetric | None:
        self.only(ratio, path, ("counter", "good", "bad", "total"))
        counter = ratio.get("counter")
        if not isinstance(counter, bool):
            self.add(
                f"{path}.counter",
                "required: true when the queries return counters, false for rates"
                if counter is None
                else "expected true or false",
            )
        if ("good" in ratio) == ("bad" in ratio):
            self.add(f"{path}.good", "give exactly one of good and bad")
        queries = {
            key: self.metric_query(ratio[key], f"{path}.{key}")
            for key in ("good", "bad", "total")
            if key in ratio
        }
        if "total" not in ratio:
            self.add(f"{path}.total", "required")
        if not isinstance(counter, bool) or any(q is None for q in queries.values()):
            return None
        return self.build(RatioMetric, path, counter=counter, **queries)

    def metric_query(self, value: object, path: str) -> MetricQuery | None:
        holder = self.mapping(value, path)
        if holder is None:
            return None
        self.only(holder, path, ("metricSource",))
        source = self.mapping(holder.get("metricSource"), f"{path}.metricSource")
        if source is None:
            return None
        path = f"{path}.metricSource"
        self.only(source, path, ("metricSourceRef", "type", "spec"))
        source_type = self.text(source, "type", path, required=True)
        source_ref = self.text(source, "metricSourceRef", path)
        spec = self.mapping(source.get("spec"), f"{path}.spec")
        if spec is None:
            return None
        query = self.text(spec, "query", f"{path}.spec", required=True)
        if source_type is None or query is None:
            return None
        extra = tuple((key, item) for key, item in spec.items() if key != "query")
        return self.build(
            MetricQuery,
            f"{path}.spec",
            source_type=source_type,
            query=query,
            source_ref=source_ref,
            extra=extra,
        )

    def service_document(self, doc: dict[str, Any], path: str) -> str | None:
        self.only(doc, path, ("apiVersion", "kind", "metadata", "spec"))
        meta = self.metadata(doc.get("metadata"), f"{path}.metadata", named=True, labelled=True)
        return None if meta is None else meta.name

    # ---- SLO documents --------------------------------------------------------------

    def slo(
        self,
        doc: dict[str, Any],
        index: int,
        indicators: Mapping[str, _Indicator],
        seen: dict[tuple[str, str], int],
    ) -> list[ImportedObjective]:
        path = f"documents[{index}]"
        before = len(self.problems)
        self.only(doc, path, ("apiVersion", "kind", "metadata", "spec"))
        meta = self.metadata(doc.get("metadata"), f"{path}.metadata", named=True, labelled=True)
        spec = self.mapping(doc.get("spec"), f"{path}.spec")
        if meta is None or spec is None:
            return []
        path = f"{path}.spec"
        self.only(
            {k: v for k, v in spec.items() if k != "alertPolicies" or v}, path, _SLO_SPEC_KEYS
        )
        service = self.text(spec, "service", path, required=True)
        description = self.text(spec, "description", path)
        budgeting = self.budgeting(spec.get("budgetingMethod"), f"{path}.budgetingMethod")
        window = self.window(spec.get("timeWindow"), f"{path}.timeWindow")
        indicator, by_ref = self.slo_indicator(spec, path, indicators)
        hub_indicator = self.hub_indicator(meta, f"documents[{index}].metadata.labels")
        targets = self.targets(spec.get("objectives"), f"{path}.objectives", budgeting)
        if (
            len(self.problems) > before
            or meta.name is None
            or service is None
            or budgeting is None
            or window is None
            or indicator is None
            or hub_indicator is None
        ):
            return []
        first = seen.setdefault((service, meta.name), index)
        if first != index:
            self.add(
                f"documents[{index}].metadata.name",
                f"documents[{first}] already defines SLO {meta.name!r} for service {service!r}",
            )
            return []
        origin = OpenSloOrigin(
            slo_name=meta.name,
            service=service,
            window_duration=window.duration,
            calendar_start_time=window.start_time,
            calendar_time_zone=window.time_zone,
            slo_display_name=meta.display_name,
            description=description,
            labels=meta.labels,
            annotations=meta.annotations,
            indicator_name=indicator.name,
            indicator_display_name=indicator.display_name,
            indicator_description=indicator.description,
            indicator_ref=by_ref,
        )
        found: list[ImportedObjective] = []
        for number, target in enumerate(targets, start=1):
            objective = self.build(
                ObjectiveSpec,
                f"{path}.objectives[{number - 1}]",
                indicator=hub_indicator,
                target=target.percent,
                window_kind=window.kind,
                window_days=window.days,
                name=meta.name if len(targets) == 1 else f"{meta.name}#{number}",
                budgeting_method=budgeting,
                time_slice_target=target.time_slice_target,
                time_slice_window=target.time_slice_window,
                metric=indicator.metric,
                origin=origin.model_copy(update={"display_name": target.display_name}),
            )
            if objective is not None:
                found.append(ImportedObjective(index, service, objective))
        return found

    def budgeting(self, value: object, path: str) -> BudgetingMethod | None:
        if value is None:
            self.add(path, "required: Occurrences or Timeslices")
            return None
        if value == "RatioTimeslices":
            self.add(path, "RatioTimeslices is not supported; use Occurrences or Timeslices")
            return None
        method = BUDGETING.get(value) if isinstance(value, str) else None
        if method is None:
            self.add(path, f"expected Occurrences or Timeslices, got {value!r}")
        return method

    def window(self, value: object, path: str) -> _Window | None:
        if not isinstance(value, list) or len(value) != 1:
            self.add(path, "required: a list with exactly one window")
            return None
        path = f"{path}[0]"
        window = self.mapping(value[0], path)
        if window is None:
            return None
        self.only(window, path, ("duration", "isRolling", "calendar"))
        duration = self.text(window, "duration", path, required=True)
        rolling = window.get("isRolling", False)
        if not isinstance(rolling, bool):
            self.add(f"{path}.isRolling", "expected true or false")
            return None
        if duration is None:
            return None
        try:
            count, unit = parse_duration(duration)
        except ValueError as exc:
            self.add(f"{path}.duration", str(exc))
            return None
        if rolling:
            if "calendar" in window:
                self.add(f"{path}.calendar", "a rolling window has no calendar")
                return None
            return self.rolling(duration, unit, count, f"{path}.duration")
        kind = CALENDAR.get(duration)
        if kind is None:
            self.add(
                f"{path}.duration",
                f"a calendar window is 1M (a month) or 1Q (a quarter), not {duration!r}; "
                "other windows are rolling (isRolling: true) over whole days",
            )
            return None
        start_time, time_zone = self.calendar(window.get("calendar"), f"{path}.calendar", kind)
        return _Window(kind, None, duration, start_time, time_zone)

    def rolling(self, duration: str, unit: str, count: int, path: str) -> _Window | None:
        try:
            seconds = duration_seconds(duration)
        except ValueError:
            seconds = 0
        days, rest = divmod(seconds, _DAY)
        if seconds == 0 or rest or not 1 <= days <= MAX_ROLLING_DAYS:
            self.add(
                path,
                f"a rolling window is 1 to {MAX_ROLLING_DAYS} whole days (e.g. 28d or 4w), "
                f"not {duration!r}"
                + ("; months and quarters are calendar windows" if unit in "MQY" else ""),
            )
            return None
        return _Window(WindowKind.ROLLING, days, duration, None, None)

    def calendar(self, value: object, path: str, kind: WindowKind) -> tuple[str | None, str | None]:
        if value is None:
            return None, None
        calendar = self.mapping(value, path)
        if calendar is None:
            return None, None
        self.only(calendar, path, ("startTime", "timeZone"))
        raw = calendar.get("startTime")
        start_time: str | None = None
        # YAML reads an unquoted `2024-01-01 00:00:00` as a timestamp.
        moment = raw if isinstance(raw, datetime) else None
        if isinstance(raw, str):
            start_time = raw
            try:
                moment = datetime.strptime(raw, _START_TIME_FORMAT)
            except ValueError:
                self.add(f"{path}.startTime", "expected a time like 2024-01-01 00:00:00")
        elif moment is not None:
            start_time = moment.strftime(_START_TIME_FORMAT)
        elif raw is not None:
            self.add(f"{path}.startTime", "expected a time like 2024-01-01 00:00:00")
        if moment is not None and (
            moment.day != 1
            or moment.time() != datetime.min.time()
            or (kind is WindowKind.CALENDAR_QUARTER and moment.month % 3 != 1)
        ):
            what = (
                "a quarter (January, April, July or October)"
                if kind is WindowKind.CALENDAR_QUARTER
                else "a month"
            )
            self.add(
                f"{path}.startTime",
                f"the hub's calendar windows start at midnight on the first day of {what}",
            )
        time_zone = self.text(calendar, "timeZone", path)
        if time_zone is not None and time_zone not in _UTC_ZONES:
            self.add(f"{path}.timeZone", "the hub's calendar windows are in UTC; write UTC")
        return start_time, time_zone

    def slo_indicator(
        self, spec: dict[str, Any], path: str, indicators: Mapping[str, _Indicator]
    ) -> tuple[_Indicator | None, bool]:
        if "indicator" in spec and "indicatorRef" in spec:
            self.add(f"{path}.indicatorRef", "give indicator or indicatorRef, not both")
            return None, False
        if "indicatorRef" in spec:
            ref = self.text(spec, "indicatorRef", path, required=True)
            if ref is None:
                return None, True
            if ref not in indicators:
                self.add(
                    f"{path}.indicatorRef", f"no valid SLI document named {ref!r} in this file"
                )
                return None, True
            return indicators[ref], True
        inline = self.mapping(spec.get("indicator"), f"{path}.indicator")
        if inline is None:
            return None, False
        path = f"{path}.indicator"
        self.only(inline, path, ("metadata", "spec"))
        meta = None
        if "metadata" in inline:
            meta = self.metadata(
                inline["metadata"], f"{path}.metadata", named=False, labelled=False
            )
        sli = self.mapping(inline.get("spec"), f"{path}.spec")
        return (None if sli is None else self.sli_spec(sli, f"{path}.spec", meta)), False

    def hub_indicator(self, meta: _Metadata, path: str) -> Indicator | None:
        value = dict(meta.labels).get(INDICATOR_LABEL)
        if value is None:
            return Indicator.AVAILABILITY
        path = f"{path}.{INDICATOR_LABEL}"
        if isinstance(value, tuple):
            if len(value) != 1:
                self.add(path, "give one indicator")
                return None
            value = value[0]
        fitting = ", ".join(i.value for i in Indicator if i.percentage_only)
        try:
            indicator = Indicator(value.upper())
        except ValueError:
            self.add(path, f"unknown indicator {value!r}; use one of {fitting}")
            return None
        if not indicator.percentage_only:
            self.add(
                path,
                f"{indicator} objectives need a threshold, which OpenSLO ratio metrics do not "
                f"carry; use one of {fitting}",
            )
            return None
        return indicator

    def targets(self, value: object, path: str, budgeting: BudgetingMethod | None) -> list[_Target]:
        if not isinstance(value, list) or not value:
            self.add(path, "required: a list of at least one objective")
            return []
        found: list[_Target] = []
        for position, item in enumerate(value):
            here = f"{path}[{position}]"
            entry = self.mapping(item, here)
            if entry is None:
                continue
            self.only(entry, here, _OBJECTIVE_KEYS)
            percent = self.percent(entry, here)
            slice_target = self.number(entry, "timeSliceTarget", here)
            slice_window = self.text(entry, "timeSliceWindow", here)
            if slice_target is not None and not 0 < slice_target <= 1:
                self.add(f"{here}.timeSliceTarget", "must be more than 0 and at most 1")
            if budgeting is BudgetingMethod.TIMESLICES:
                if "timeSliceTarget" not in entry:
                    self.add(f"{here}.timeSliceTarget", "required with Timeslices, e.g. 0.95")
                if "timeSliceWindow" not in entry:
                    self.add(f"{here}.timeSliceWindow", "required with Timeslices, e.g. 1m")
            elif budgeting is BudgetingMethod.OCCURRENCES:
                for key in ("timeSliceTarget", "timeSliceWindow"):
                    if key in entry:
                        self.add(f"{here}.{key}", "only Timeslices objectives take one")
            if slice_window is not None:
                try:
                    duration_seconds(slice_window)
                except ValueError as exc:
                    self.add(f"{here}.timeSliceWindow", str(exc))
            if percent is not None:
                found.append(
                    _Target(
                        percent, slice_target, slice_window, self.text(entry, "displayName", here)
                    )
                )
        return found

    def percent(self, entry: dict[str, Any], path: str) -> float | None:
        if "target" in entry and "targetPercent" in entry:
            self.add(f"{path}.targetPercent", "give target or targetPercent, not both")
            return None
        if "targetPercent" in entry:
            percent = self.number(entry, "targetPercent", path)
            if percent is not None and not 0 < percent < 100:
                self.add(f"{path}.targetPercent", "must be more than 0 and less than 100")
                return None
            return percent
        target = self.number(entry, "target", path)
        if target is None:
            if "target" not in entry:
                self.add(f"{path}.target", "required, e.g. 0.999 for 99.9%")
            return None
        if not 0 < target < 1:
            self.add(f"{path}.target", "must be more than 0 and less than 1 (0.999 is 99.9%)")
            return None
        return round(target * 100, _PERCENT_DIGITS)
