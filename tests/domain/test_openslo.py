"""OpenSLO v1 documents to service objectives and back: what is read, what is refused
(every problem, named by its place in the file), and what an export writes again."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from slo_support import objective_spec, openslo_text

from hub.domain.errors import InvalidInputError
from hub.domain.models import (
    BudgetingMethod,
    Indicator,
    MetricQuery,
    ObjectiveSpec,
    RatioMetric,
    WindowKind,
    duration_seconds,
)
from hub.domain.openslo import OpenSloImport, parse_documents, to_documents

# The example of ../shared/apis.md, as an operator would write it.
EXAMPLE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: checkout-good-ratio
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{job="checkout",code!~"5.."}[5m]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{job="checkout"}[5m]))
  objectives:
    - displayName: 99.9% good requests
      target: 0.999
"""

GOOD = 'sum(rate(http_requests_total{job="checkout",code!~"5.."}[5m]))'
TOTAL = 'sum(rate(http_requests_total{job="checkout"}[5m]))'


def slo(**spec: Any) -> dict[str, Any]:
    """An SLO document; `spec` keys replace the defaults (None removes one)."""
    base: dict[str, Any] = {
        "service": "checkout",
        "budgetingMethod": "Occurrences",
        "timeWindow": [{"duration": "28d", "isRolling": True}],
        "indicator": {
            "metadata": {"name": "checkout-good-ratio"},
            "spec": {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {"type": "Prometheus", "spec": {"query": GOOD}}},
                    "total": {"metricSource": {"type": "Prometheus", "spec": {"query": TOTAL}}},
                }
            },
        },
        "objectives": [{"displayName": "99.9% good requests", "target": 0.999}],
    }
    for key, value in spec.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "checkout-availability"},
        "spec": base,
    }


def problems_of(text: str) -> dict[str, str]:
    with pytest.raises(InvalidInputError) as caught:
        parse_documents(text)
    return {problem.field: problem.message for problem in caught.value.problems}


def only(parsed: OpenSloImport) -> ObjectiveSpec:
    assert len(parsed.objectives) == 1
    return parsed.objectives[0].spec


# ---- reading ----------------------------------------------------------------------


def test_the_contract_example_becomes_one_objective() -> None:
    parsed = parse_documents(EXAMPLE)

    assert [(o.document, o.service) for o in parsed.objectives] == [(0, "checkout")]
    spec = only(parsed)
    assert spec.name == "checkout-availability"
    assert spec.indicator is Indicator.AVAILABILITY
    assert spec.target == 99.9
    assert (spec.window_kind, spec.window_days) == (WindowKind.ROLLING, 28)
    assert spec.budgeting_method is BudgetingMethod.OCCURRENCES
    assert (spec.time_slice_target, spec.time_slice_window, spec.time_slice_seconds) == (
        None,
        None,
        None,
    )
    assert spec.metric == RatioMetric(
        counter=True,
        good=MetricQuery(source_type="Prometheus", query=GOOD),
        total=MetricQuery(source_type="Prometheus", query=TOTAL),
    )
    assert spec.origin is not None
    assert spec.origin.window_duration == "28d"
    assert spec.origin.display_name == "99.9% good requests"
    assert spec.origin.indicator_name == "checkout-good-ratio"
    assert parsed.services == ()


@pytest.mark.parametrize(
    ("duration", "days"), [("28d", 28), ("4w", 28), ("30d", 30), ("72h", 3), ("1d", 1)]
)
def test_rolling_windows_are_whole_days(duration: str, days: int) -> None:
    spec = only(
        parse_documents(openslo_text(slo(timeWindow=[{"duration": duration, "isRolling": True}])))
    )

    assert (spec.window_kind, spec.window_days) == (WindowKind.ROLLING, days)
    assert spec.origin is not None
    assert spec.origin.window_duration == duration


@pytest.mark.parametrize(
    ("duration", "start", "kind"),
    [
        ("1M", "2024-02-01 00:00:00", WindowKind.CALENDAR_MONTH),
        ("1Q", "2024-04-01 00:00:00", WindowKind.CALENDAR_QUARTER),
    ],
)
def test_calendar_windows_keep_their_calendar(duration: str, start: str, kind: WindowKind) -> None:
    window = {"duration": duration, "calendar": {"startTime": start, "timeZone": "UTC"}}
    spec = only(parse_documents(openslo_text(slo(timeWindow=[{**window, "isRolling": False}]))))

    assert (spec.window_kind, spec.window_days) == (kind, None)
    assert spec.origin is not None
    assert (spec.origin.calendar_start_time, spec.origin.calendar_time_zone) == (start, "UTC")


def test_an_unquoted_start_time_is_read_as_written() -> None:
    text = EXAMPLE.replace(
        "    - duration: 28d\n      isRolling: true\n",
        "    - duration: 1M\n      isRolling: false\n      calendar:\n"
        "        startTime: 2024-01-01 00:00:00\n        timeZone: UTC\n",
    )
    spec = only(parse_documents(text))

    assert spec.window_kind is WindowKind.CALENDAR_MONTH
    assert spec.origin is not None
    assert spec.origin.calendar_start_time == "2024-01-01 00:00:00"


def test_several_objectives_are_numbered_from_one() -> None:
    objectives = [{"target": 0.99}, {"target": 0.995}, {"targetPercent": 99.95}]
    parsed = parse_documents(openslo_text(slo(objectives=objectives)))

    assert [(o.spec.name, o.spec.target) for o in parsed.objectives] == [
        ("checkout-availability#1", 99.0),
        ("checkout-availability#2", 99.5),
        ("checkout-availability#3", 99.95),
    ]


def test_timeslices_keep_their_target_and_window() -> None:
    document = slo(
        budgetingMethod="Timeslices",
        objectives=[{"target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "5m"}],
    )
    spec = only(parse_documents(openslo_text(document)))

    assert spec.budgeting_method is BudgetingMethod.TIMESLICES
    assert (spec.time_slice_target, spec.time_slice_window) == (0.95, "5m")
    assert spec.time_slice_seconds == 300


def test_the_indicator_label_and_the_other_labels() -> None:
    document = slo()
    document["metadata"]["labels"] = {"team": ["payments", "web"], "hub.indicator": "error_rate"}
    document["metadata"]["annotations"] = {"owner": "payments@example.com"}
    spec = only(parse_documents(openslo_text(document)))

    assert spec.indicator is Indicator.ERROR_RATE
    assert spec.origin is not None
    assert spec.origin.labels == (("hub.indicator", "error_rate"), ("team", ("payments", "web")))
    assert spec.origin.annotations == (("owner", "payments@example.com"),)


def test_the_indicator_label_may_be_a_list_of_one() -> None:
    document = slo()
    document["metadata"]["labels"] = {"hub.indicator": ["ERROR_RATE"]}

    assert only(parse_documents(openslo_text(document))).indicator is Indicator.ERROR_RATE


def test_an_indicator_ref_names_an_sli_document_of_the_file() -> None:
    sli = {
        "apiVersion": "openslo/v1",
        "kind": "SLI",
        "metadata": {"name": "api-errors", "displayName": "API errors"},
        "spec": {
            "description": "5xx over all",
            "ratioMetric": {
                "counter": False,
                "bad": {
                    "metricSource": {
                        "metricSourceRef": "datadog-prod",
                        "type": "Datadog",
                        "spec": {"query": "sum:api.errors{*}", "region": "eu"},
                    }
                },
                "total": {
                    "metricSource": {"type": "Datadog", "spec": {"query": "sum:api.hits{*}"}}
                },
            },
        },
    }
    spec = only(parse_documents(openslo_text(slo(indicator=None, indicatorRef="api-errors"), sli)))

    assert spec.metric == RatioMetric(
        counter=False,
        bad=MetricQuery(
            source_type="Datadog",
            query="sum:api.errors{*}",
            source_ref="datadog-prod",
            extra=(("region", "eu"),),
        ),
        total=MetricQuery(source_type="Datadog", query="sum:api.hits{*}"),
    )
    assert spec.origin is not None
    assert spec.origin.indicator_ref is True
    assert spec.origin.indicator_display_name == "API errors"


def test_service_documents_are_listed_and_empty_documents_skipped() -> None:
    service = {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": "checkout"}}
    parsed = parse_documents("---\n" + openslo_text(service, slo()) + "---\n")

    assert [(s.document, s.name) for s in parsed.services] == [(0, "checkout")]
    assert [o.document for o in parsed.objectives] == [1]


def test_durations() -> None:
    assert [duration_seconds(d) for d in ("1m", "2h", "28d", "1w")] == [60, 7200, 2419200, 604800]
    for bad in ("1M", "0m", "5s", "m", "1.5h"):
        with pytest.raises(ValueError, match=repr(bad)):
            duration_seconds(bad)


# ---- refusing -----------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    """An edit that sets `value` at the dotted `path` of a document (None deletes)."""

    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


RATIO = "spec.indicator.spec.ratioMetric"
SOURCE = f"{RATIO}.good.metricSource"


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (_set("apiVersion", "openslo/v2alpha"), "apiVersion", "expected openslo/v1"),
        (_set("kind", "AlertPolicy"), "kind", "'AlertPolicy' documents are not imported"),
        (_set("metadata.name", "Checkout_SLO"), "metadata.name", "not an RFC 1123 name"),
        (_set("metadata.name", None), "metadata.name", "required"),
        (_set("metadata.owner", "me"), "metadata.owner", "unknown field"),
        (_set("spec.service", None), "spec.service", "required"),
        (_set("spec.service", 42), "spec.service", "expected text"),
        (_set("spec.colour", "blue"), "spec.colour", "unknown field"),
        (_set("spec.alertPolicies", ["page"]), "spec.alertPolicies", "not imported"),
        (
            _set("spec.budgetingMethod", "RatioTimeslices"),
            "spec.budgetingMethod",
            "RatioTimeslices is not supported",
        ),
        (_set("spec.budgetingMethod", "Sometimes"), "spec.budgetingMethod", "expected Occurrences"),
        (_set("spec.budgetingMethod", None), "spec.budgetingMethod", "required"),
        (_set("spec.timeWindow", []), "spec.timeWindow", "exactly one window"),
        (_set("spec.timeWindow.0.duration", "1Y"), "spec.timeWindow[0].duration", "calendar"),
        (_set("spec.timeWindow.0.duration", "90m"), "spec.timeWindow[0].duration", "whole days"),
        (_set("spec.timeWindow.0.duration", "400d"), "spec.timeWindow[0].duration", "1 to 366"),
        (_set("spec.timeWindow.0.duration", "soon"), "spec.timeWindow[0].duration", "not a dur"),
        (_set("spec.timeWindow.0.isRolling", "yes"), "spec.timeWindow[0].isRolling", "true or"),
        (
            _set("spec.timeWindow.0", {"duration": "2M", "isRolling": False}),
            "spec.timeWindow[0].duration",
            "1M (a month) or 1Q (a quarter)",
        ),
        (
            _set(
                "spec.timeWindow.0",
                {
                    "duration": "1M",
                    "isRolling": False,
                    "calendar": {"startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"},
                },
            ),
            "spec.timeWindow[0].calendar.timeZone",
            "in UTC",
        ),
        (
            _set(
                "spec.timeWindow.0",
                {
                    "duration": "1Q",
                    "isRolling": False,
                    "calendar": {"startTime": "2024-02-01 00:00:00", "timeZone": "UTC"},
                },
            ),
            "spec.timeWindow[0].calendar.startTime",
            "first day of a quarter",
        ),
        (
            _set("spec.timeWindow.0.calendar", {"startTime": "2024-01-01 00:00:00"}),
            "spec.timeWindow[0].calendar",
            "a rolling window has no calendar",
        ),
        (_set("spec.indicator", None), "spec.indicator", "required"),
        (_set("spec.indicatorRef", "elsewhere"), "spec.indicatorRef", "not both"),
        (
            _set("spec.indicator.spec.thresholdMetric", {"metricSource": {}}),
            "spec.indicator.spec.thresholdMetric",
            "threshold metrics are not imported",
        ),
        (_set(f"{RATIO}.counter", None), f"{RATIO}.counter", "required"),
        (_set(f"{RATIO}.bad", {"metricSource": {}}), f"{RATIO}.good", "exactly one of good"),
        (_set(f"{RATIO}.total", None), f"{RATIO}.total", "required"),
        (_set(f"{RATIO}.raw", {"metricSource": {}}), f"{RATIO}.raw", "precomputed ratios"),
        (_set(f"{SOURCE}.type", None), f"{SOURCE}.type", "required"),
        (_set(f"{SOURCE}.spec.query", None), f"{SOURCE}.spec.query", "required"),
        (_set(f"{SOURCE}.spec", "up"), f"{SOURCE}.spec", "expected a mapping"),
        (_set("spec.objectives", []), "spec.objectives", "at least one objective"),
        (_set("spec.objectives.0.target", 1.5), "spec.objectives[0].target", "less than 1"),
        (_set("spec.objectives.0.target", "high"), "spec.objectives[0].target", "a number"),
        (_set("spec.objectives.0.target", None), "spec.objectives[0].target", "required"),
        (_set("spec.objectives.0.targetPercent", 99), "spec.objectives[0].targetPercent", "not"),
        (_set("spec.objectives.0.op", "lte"), "spec.objectives[0].op", "threshold metrics"),
        (
            _set("spec.objectives.0.compositeWeight", 1),
            "spec.objectives[0].compositeWeight",
            "composite SLOs",
        ),
        (
            _set("spec.objectives.0.timeSliceWindow", "1m"),
            "spec.objectives[0].timeSliceWindow",
            "only Timeslices",
        ),
        (_set("spec.budgetingMethod", "Timeslices"), "spec.objectives[0].timeSliceTarget", "req"),
        (
            _set("metadata.labels", {"hub.indicator": "LATENCY"}),
            "metadata.labels.hub.indicator",
            "LATENCY objectives need a threshold",
        ),
        (
            _set("metadata.labels", {"hub.indicator": "uptime"}),
            "metadata.labels.hub.indicator",
            "unknown indicator 'uptime'",
        ),
        (
            _set("metadata.labels", {"hub.indicator": ["AVAILABILITY", "ERROR_RATE"]}),
            "metadata.labels.hub.indicator",
            "give one indicator",
        ),
        (_set("metadata.labels", {"tier": 1}), "metadata.labels.tier", "text or a list of text"),
    ],
)
def test_each_problem_names_its_field(edit: Edit, field: str, message: str) -> None:
    document = copy.deepcopy(slo())
    edit(document)

    found = problems_of(openslo_text(document))

    assert f"documents[0].{field}" in found, found
    assert message in found[f"documents[0].{field}"]


def test_timeslices_need_a_fixed_slice_window() -> None:
    document = slo(
        budgetingMethod="Timeslices",
        objectives=[{"target": 0.99, "timeSliceTarget": 1.5, "timeSliceWindow": "1M"}],
    )

    found = problems_of(openslo_text(document))

    assert found["documents[0].spec.objectives[0].timeSliceTarget"] == (
        "must be more than 0 and at most 1"
    )
    assert "no fixed length" in found["documents[0].spec.objectives[0].timeSliceWindow"]


def test_every_problem_of_every_document_is_reported_at_once() -> None:
    unknown_ref = slo(indicator=None, indicatorRef="nowhere")
    bad_target = slo(objectives=[{"target": 0}])
    bad_target["metadata"]["name"] = "second"
    nameless_service = {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {}}
    text = openslo_text(unknown_ref, "just text", bad_target, nameless_service)

    found = problems_of(text)

    assert set(found) == {
        "documents[0].spec.indicatorRef",
        "documents[1]",
        "documents[2].spec.objectives[0].target",
        "documents[3].metadata.name",
    }
    assert "no valid SLI document named 'nowhere'" in found["documents[0].spec.indicatorRef"]


def test_an_slo_defined_twice_for_one_service_is_refused() -> None:
    found = problems_of(openslo_text(slo(), slo()))

    assert (
        "documents[0] already defines SLO 'checkout-availability'"
        in (found["documents[1].metadata.name"])
    )


def test_two_sli_documents_with_one_name_are_refused() -> None:
    sli = {
        "apiVersion": "openslo/v1",
        "kind": "SLI",
        "metadata": {"name": "ratio"},
        "spec": slo()["spec"]["indicator"]["spec"],
    }

    found = problems_of(openslo_text(sli, sli, slo()))

    assert found == {"documents[1].metadata.name": "another SLI document is named 'ratio'"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "holds no OpenSLO documents"), ("a: [1\n", "not valid YAML")],
)
def test_an_empty_or_broken_file_is_refused(text: str, message: str) -> None:
    found = problems_of(text)

    assert list(found) == ["documents"]
    assert message in found["documents"]


# ---- writing ------------------------------------------------------------------------

ROUND_TRIP = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: api-errors
spec:
  ratioMetric:
    counter: false
    bad:
      metricSource:
        metricSourceRef: datadog-prod
        type: Datadog
        spec:
          query: sum:api.errors{service:api}.as_count()
          region: eu
    total:
      metricSource:
        type: Datadog
        spec:
          query: sum:api.hits{service:api}.as_count()
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api
  displayName: API
  labels:
    hub.indicator: ERROR_RATE
    team: [payments, web]
spec:
  description: Errors of the public API
  service: manual:api
  indicatorRef: api-errors
  timeWindow:
    - duration: 1Q
      calendar:
        startTime: 2024-01-01 00:00:00
        timeZone: UTC
      isRolling: false
  budgetingMethod: Timeslices
  objectives:
    - displayName: most minutes
      target: 0.999
      timeSliceTarget: 0.95
      timeSliceWindow: 1m
    - target: 0.9995
      timeSliceTarget: 0.9
      timeSliceWindow: 5m
---
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
---
""" + EXAMPLE.replace("28d", "4w")


def _sub_trees(documents: list[dict[str, Any]]) -> list[Any]:
    """What must come back unchanged: budgeting, window, objectives and ratio metrics."""
    found: list[Any] = []
    for document in documents:
        spec = document["spec"]
        if document["kind"] == "SLO":
            found.append(
                (
                    document["metadata"],
                    spec["service"],
                    spec["budgetingMethod"],
                    spec["timeWindow"],
                    spec["objectives"],
                    spec.get("indicatorRef"),
                    spec.get("indicator"),
                )
            )
        elif document["kind"] == "SLI":
            found.append((document["metadata"], spec["ratioMetric"]))
    return found


def test_an_export_reads_back_as_the_same_objectives() -> None:
    parsed = parse_documents(ROUND_TRIP)

    text = to_documents((o.service, o.spec) for o in parsed.objectives)
    again = parse_documents(text)

    assert [(o.service, o.spec) for o in again.objectives] == [
        (o.service, o.spec) for o in parsed.objectives
    ]
    original = [d for d in yaml.safe_load_all(ROUND_TRIP) if d["kind"] != "Service"]
    exported = list(yaml.safe_load_all(text))
    # The unquoted startTime is a YAML timestamp; the export writes it as text.
    original[1]["spec"]["timeWindow"][0]["calendar"]["startTime"] = "2024-01-01 00:00:00"
    assert _sub_trees(exported) == _sub_trees(original)
    assert "target: 0.999\n" in text
    assert "target: 0.9995\n" in text
    assert "duration: 4w\n" in text


def test_objectives_of_one_slo_are_written_as_one_document_in_number_order() -> None:
    objectives = [{"target": round(0.9 + i / 1000, 3)} for i in range(11)]
    parsed = parse_documents(openslo_text(slo(objectives=objectives)))

    text = to_documents((o.service, o.spec) for o in reversed(parsed.objectives))
    documents = list(yaml.safe_load_all(text))

    assert len(documents) == 1
    assert [o["target"] for o in documents[0]["spec"]["objectives"]] == [
        o["target"] for o in objectives
    ]


def test_an_objective_without_origin_gets_a_plain_document() -> None:
    metric = RatioMetric(
        counter=True,
        bad=MetricQuery(source_type="Prometheus", query="errors"),
        total=MetricQuery(source_type="Prometheus", query="all"),
    )
    spec = objective_spec(Indicator.ERROR_RATE, 99.5, name="api-errors", metric=metric)

    text = to_documents([("api", spec)])
    again = only(parse_documents(text))

    assert (again.indicator, again.target, again.window_kind) == (
        Indicator.ERROR_RATE,
        99.5,
        WindowKind.CALENDAR_MONTH,
    )
    assert again.metric == metric
    assert again.name == "api-errors"


def test_an_objective_without_a_metric_cannot_be_written() -> None:
    spec = objective_spec(window=WindowKind.ROLLING, window_days=7)

    with pytest.raises(ValueError, match="needs a name and a metric"):
        to_documents([("api", spec)])


def test_nothing_to_export_is_an_empty_text() -> None:
    assert to_documents([]) == ""
