"""Prometheus rules for objectives: names, windows, thresholds, and promtool's verdict.

`promtool check rules` validates the generated file; `promtool test rules` evaluates it
over known series, the deterministic way to see that a fast burn pages and a slow
one does not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_server import tool

from hub.domain.budget import DEFAULT_ALERT_PAIRS, PERFECT_TARGET_ALLOWANCE, AlertPair
from hub.domain.models import Indicator, Objective, WindowKind
from hub.domain.rules import (
    RuleSource,
    Sli,
    alerted_sources,
    duration,
    rule_groups,
    rules_document,
    rules_yaml,
)

COUNTERS = Sli(
    bad='http_requests_total{job="checkout",code=~"5.."}',
    total='http_requests_total{job="checkout"}',
    counter=True,
)
RATES = Sli(good="sum(rate(ok_total[5m]))", total="sum(rate(all_total[5m]))")
SELECTOR = (
    '{sloth_id="checkout-availability", sloth_service="checkout", '
    'sloth_slo="availability", hub_objective="o-1"}'
)


def objective(
    id: str = "o-1",
    name: str | None = "availability",
    target: float = 99.9,
    kind: WindowKind = WindowKind.ROLLING,
    days: int | None = 30,
) -> Objective:
    return Objective(
        id=id,
        indicator=Indicator.AVAILABILITY,
        target=target,
        threshold=None,
        window_kind=kind,
        window_days=days,
        priority=None,
        name=name,
    )


def rules_by_name(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule.get("record") or rule["alert"]: rule for g in groups for rule in g["rules"]}


# ---- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (1800, "30m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (259200, "3d"),
        (2419200, "4w"),
        (2592000, "30d"),
        (7776000, "90d"),
        (31536000, "1y"),
        (90061, "1d1h1m1s"),
    ],
)
def test_durations_are_written_as_prometheus_writes_them(seconds: int, text: str) -> None:
    assert duration(seconds) == text


@given(st.integers(min_value=1, max_value=10 * 31536000))
def test_a_duration_reads_back_as_its_seconds(seconds: int) -> None:
    sizes = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(
        r"((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?", duration(seconds)
    )
    assert parts is not None
    total = sum(int(n) * sizes[u] for n, u in re.findall(r"(\d+)([ywdhms])", parts[0]))
    assert total == seconds


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        duration(0)


# ---- what is generated -----------------------------------------------------------------


def test_an_sli_has_one_shape() -> None:
    with pytest.raises(ValueError, match="good or bad with total"):
        Sli(good="a", bad="b", total="c")
    with pytest.raises(ValueError, match="good or bad with total"):
        Sli(ratio="r", total="c", bad="b")
    with pytest.raises(ValueError, match="good or bad with total"):
        Sli()


def test_counters_are_rated_over_every_window_as_sloth_does() -> None:
    groups = rule_groups(RuleSource(objective(), "checkout", COUNTERS))
    assert [g["name"] for g in groups] == [
        "sloth-slo-sli-recordings-checkout-availability",
        "sloth-slo-meta-recordings-checkout-availability",
        "sloth-slo-alerts-checkout-availability",
    ]
    records = [r["record"] for r in groups[0]["rules"]]
    assert records == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
    ]
    one_hour = groups[0]["rules"][2]
    assert one_hour["expr"] == (
        '(sum(rate(http_requests_total{job="checkout",code=~"5.."}[1h])))\n/\n'
        '(sum(rate(http_requests_total{job="checkout"}[1h])))'
    )
    assert one_hour["labels"] == {
        "sloth_id": "checkout-availability",
        "sloth_service": "checkout",
        "sloth_slo": "availability",
        "hub_objective": "o-1",
        "sloth_window": "1h",
    }
    # The period is the mean of the 5-minute ratios, Sloth's own period record.
    assert groups[0]["rules"][-1]["expr"] == (
        f"sum_over_time(slo:sli_error:ratio_rate5m{SELECTOR}[30d])\n"
        "/ ignoring (sloth_window)\n"
        f"count_over_time(slo:sli_error:ratio_rate5m{SELECTOR}[30d])"
    )


def test_rate_queries_are_recorded_at_five_minutes_and_averaged_beyond() -> None:
    sli = Sli(good="sum(rate(ok_total[5m]))", total="sum(rate(all_total[5m]))")
    rules = rules_by_name(rule_groups(RuleSource(objective(), "checkout", sli)))
    assert rules["slo:sli_error:ratio_rate5m"]["expr"] == (
        "1 - (\n(sum(rate(ok_total[5m])))\n/\n(sum(rate(all_total[5m])))\n)"
    )
    assert rules["slo:sli_error:ratio_rate6h"]["expr"].startswith(
        f"sum_over_time(slo:sli_error:ratio_rate5m{SELECTOR}[6h])"
    )


def test_a_counter_expression_is_rated_through_a_subquery() -> None:
    sli = Sli(bad="sum by (job) (errors_total)", total="requests_total", counter=True)
    rules = rules_by_name(rule_groups(RuleSource(objective(), "checkout", sli)))
    assert rules["slo:sli_error:ratio_rate1h"]["expr"] == (
        "(sum(rate((sum by (job) (errors_total))[1h:])))\n/\n(sum(rate(requests_total[1h])))"
    )


def test_ratios_of_good_events_are_turned_into_error_ratios() -> None:
    good = Sli(ratio="slo:availability:ratio", error_ratio=False)
    bad = Sli(ratio="slo:errors:ratio")
    first = rules_by_name(rule_groups(RuleSource(objective(), "s", good)))
    second = rules_by_name(rule_groups(RuleSource(objective(), "s", bad)))
    assert first["slo:sli_error:ratio_rate5m"]["expr"] == "1 - (slo:availability:ratio)"
    assert second["slo:sli_error:ratio_rate5m"]["expr"] == "(slo:errors:ratio)"


def test_meta_records_carry_the_target_budget_and_period() -> None:
    rules = rules_by_name(rule_groups(RuleSource(objective(target=99.5), "checkout", COUNTERS)))
    assert rules["slo:objective:ratio"]["expr"] == "vector(0.995)"
    assert rules["slo:error_budget:ratio"]["expr"] == f"vector({1 - 99.5 / 100!r})"
    assert rules["slo:time_period:days"]["expr"] == "vector(30)"
    assert rules["slo:period_error_budget_remaining:ratio"]["expr"] == (
        f"1 - slo:period_burn_rate:ratio{SELECTOR}"
    )
    info = rules["sloth_slo_info"]
    assert info["expr"] == "vector(1)"
    assert info["labels"]["sloth_objective"] == "99.5"
    assert info["labels"]["sloth_service"] == "checkout"


@pytest.mark.parametrize(
    ("kind", "days", "period"),
    [
        (WindowKind.ROLLING, 28, "4w"),
        (WindowKind.CALENDAR_MONTH, None, "30d"),
        (WindowKind.CALENDAR_QUARTER, None, "90d"),
    ],
)
def test_the_period_follows_the_window(kind: WindowKind, days: int | None, period: str) -> None:
    rules = rules_by_name(rule_groups(RuleSource(objective(kind=kind, days=days), "s", COUNTERS)))
    assert f"slo:sli_error:ratio_rate{period}" in rules
    assert rules["slo:period_burn_rate:ratio"]["expr"].startswith(
        f"slo:sli_error:ratio_rate{period}{{"
    )


def test_alerts_page_on_the_fast_pairs_and_ticket_on_the_slow_ones() -> None:
    groups = rule_groups(RuleSource(objective(), "checkout", COUNTERS))
    page, ticket = groups[2]["rules"]
    assert page["alert"] == ticket["alert"] == "CheckoutAvailabilitySLO"
    assert page["labels"] == {"sloth_severity": "page"}
    assert ticket["labels"] == {"sloth_severity": "ticket"}
    budget = repr(1 - 99.9 / 100)
    assert f"(slo:sli_error:ratio_rate5m{SELECTOR} > (14.4 * {budget}))" in page["expr"]
    assert f"(slo:sli_error:ratio_rate1h{SELECTOR} > (14.4 * {budget}))" in page["expr"]
    assert f"(slo:sli_error:ratio_rate6h{SELECTOR} > (6 * {budget}))" in page["expr"]
    assert f"(slo:sli_error:ratio_rate3d{SELECTOR} > (1 * {budget}))" in ticket["expr"]
    assert "ratio_rate3d" not in page["expr"]
    assert page["expr"].count("\nor ignoring (sloth_window)\n") == 1


def test_custom_pairs_bring_their_windows_and_may_leave_a_severity_out() -> None:
    pairs = [AlertPair(7200, 600, 10.0)]
    groups = rule_groups(RuleSource(objective(), "checkout", COUNTERS), pairs)
    records = [r["record"] for r in groups[0]["rules"]]
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "10m", "2h", "30d")]
    (page,) = groups[2]["rules"]
    assert page["labels"] == {"sloth_severity": "page"}
    only_ticket = rule_groups(RuleSource(objective(), "c", COUNTERS), [AlertPair(86400, 7200, 3)])
    assert [r["labels"]["sloth_severity"] for r in only_ticket[2]["rules"]] == ["ticket"]


def test_a_perfect_target_is_budgeted_as_the_hub_budgets_it() -> None:
    rules = rules_by_name(rule_groups(RuleSource(objective(target=100), "s", COUNTERS)))
    assert rules["slo:error_budget:ratio"]["expr"] == f"vector({PERFECT_TARGET_ALLOWANCE!r})"


def test_two_objectives_with_one_sloth_id_get_groups_of_their_own() -> None:
    first = RuleSource(objective(id="a"), "checkout", COUNTERS)
    second = RuleSource(objective(id="b"), "checkout", COUNTERS)
    names = [g["name"] for g in rules_document([first, second])["groups"]]
    assert len(names) == len(set(names)) == 6
    assert "sloth-slo-alerts-checkout-availability-b" in names


def test_an_unnamed_objective_is_named_by_its_id_and_names_are_quoted() -> None:
    source = RuleSource(objective(id="o-9", name=None), 'pay "eu"', COUNTERS)
    assert (source.slo, source.sloth_id) == ("o-9", 'pay "eu"-o-9')
    groups = rule_groups(source)
    rules = rules_by_name(groups)
    assert 'sloth_service="pay \\"eu\\""' in rules["slo:current_burn_rate:ratio"]["expr"]
    assert [alert["alert"] for alert in groups[2]["rules"]] == ["PayEuO9SLO", "PayEuO9SLO"]


def test_the_selection_takes_a_predicate_and_orders_by_service_and_name() -> None:
    sources = [
        RuleSource(objective(id="3", name="b"), "zeta", COUNTERS),
        RuleSource(objective(id="2", name="b"), "alpha", COUNTERS),
        RuleSource(objective(id="1", name="a"), "alpha", COUNTERS),
    ]
    assert [s.objective.id for s in alerted_sources(sources)] == ["1", "2", "3"]
    assert [s.objective.id for s in alerted_sources(sources, lambda o: o.id != "2")] == ["1", "3"]


def test_the_yaml_is_the_document_with_literal_blocks_and_no_anchors() -> None:
    sources = [RuleSource(objective(), "checkout", COUNTERS)]
    text = rules_yaml(sources)
    assert text.startswith("# Generated by `hub slo rules`")
    assert yaml.safe_load(text) == rules_document(sources)
    assert "expr: |-\n" in text
    assert "&id" not in text
    assert "*id" not in text


# Any text a service, an objective or a query may hold, line breaks and YAML's own
# syntax included (lone surrogates cannot be stored as UTF-8, so they never arrive).
TEXT = st.text(
    st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30
) | st.sampled_from(["yes", "a:", "- x", "#c", "'q'", '"', "1e3", " lead", "end\n", "a\n\nb"])


# Each example reads some 40 rules back with PyYAML's Python loader: no deadline.
@settings(deadline=None, max_examples=60)
@given(service=TEXT, name=TEXT, bad=TEXT, total=TEXT, counter=st.booleans())
def test_the_written_yaml_reads_back_as_the_document(
    service: str, name: str, bad: str, total: str, counter: bool
) -> None:
    sources = [
        RuleSource(objective(name=name), service, Sli(bad=bad, total=total, counter=counter)),
        RuleSource(objective(id="r", name=name), service, Sli(ratio=bad, error_ratio=False)),
    ]
    assert yaml.safe_load(rules_yaml(sources)) == rules_document(sources)


# ---- promtool --------------------------------------------------------------------------


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_no_objectives_make_an_empty_rule_file_promtool_accepts(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml([]))

    done = promtool("check", "rules", str(path), cwd=tmp_path)

    assert yaml.safe_load(path.read_text()) == {"groups": []}
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 0 rules found" in done.stdout


def test_promtool_accepts_every_shape(tmp_path: Path) -> None:
    sources = [
        RuleSource(objective(id="1"), "checkout", COUNTERS),
        RuleSource(objective(id="2", name="rates", kind=WindowKind.CALENDAR_MONTH), "c", RATES),
        RuleSource(objective(id="3", name="ratio#1", target=100), 'pay "eu"', Sli(ratio="r")),
        RuleSource(objective(id="4", name="odd"), "c", Sli(bad="sum(e)", total="t", counter=True)),
    ]
    path = tmp_path / "rules.yml"
    path.write_text(rules_yaml(sources))

    done = promtool("check", "rules", str(path), cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    rules = 4 * (8 + 7 + 2)  # windows and period, meta records, page and ticket
    assert f"SUCCESS: {rules} rules found" in done.stdout


def series(name: str, labels: str, per_minute: int) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute}x240"}


def page_alert() -> dict[str, Any]:
    return {
        "exp_labels": {
            "sloth_id": "checkout-availability",
            "sloth_service": "checkout",
            "sloth_slo": "availability",
            "hub_objective": "o-1",
            "sloth_window": "5m",
            "sloth_severity": "page",
        },
        "exp_annotations": {
            "summary": "checkout availability is burning its error budget too fast (objective o-1)",
            "title": "(page) checkout availability SLO error budget burn rate is too fast.",
        },
    }


def test_promtool_sees_a_fast_burn_page_and_a_healthy_service_stay_quiet(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(
        rules_yaml([RuleSource(objective(), "checkout", COUNTERS)], DEFAULT_ALERT_PAIRS[:2])
    )
    burning = [  # 10% errors: a 14.4x burn of a 99.9% target is 1.44%
        series("http_requests_total", 'job="checkout",code="500"', 6),
        series("http_requests_total", 'job="checkout",code="200"', 54),
    ]
    healthy = [  # 0.05% errors: half the budget's pace
        series("http_requests_total", 'job="checkout",code="500"', 1),
        series("http_requests_total", 'job="checkout",code="200"', 1999),
    ]
    unit = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": burning,
                "alert_rule_test": [
                    # Both windows of 14.4x 1h/5m (and of 6x 6h/30m) burn within the hour.
                    {
                        "eval_time": "1h",
                        "alertname": "CheckoutAvailabilitySLO",
                        "exp_alerts": [page_alert()],
                    },
                ],
                "promql_expr_test": [
                    {
                        "expr": "slo:current_burn_rate:ratio",
                        "eval_time": "1h",
                        "exp_samples": [
                            {
                                "labels": "slo:current_burn_rate:ratio{"
                                + SELECTOR[1:-1]
                                + ', sloth_window="5m"}',
                                "value": 0.1 / (1 - 99.9 / 100),
                            }
                        ],
                    }
                ],
            },
            {
                "interval": "1m",
                "input_series": healthy,
                "alert_rule_test": [
                    {"eval_time": "3h", "alertname": "CheckoutAvailabilitySLO", "exp_alerts": []}
                ],
            },
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(unit, sort_keys=False))

    done = promtool("test", "rules", "test.yml", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
