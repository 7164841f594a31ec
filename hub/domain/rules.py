"""Prometheus rules for objectives: Sloth-compatible recording and burn-rate alerting rules.

`hub slo rules` writes, for every alerted objective that Prometheus measures, the rule
groups Sloth (https://github.com/slok/sloth) generates for an SLO, under Sloth's rule
and label names, so that dashboards and alert routes built for Sloth work unchanged:

- ``sloth-slo-sli-recordings-<id>``: ``slo:sli_error:ratio_rate<window>`` (errors /
  total over the window, 0..1) for every window of the alert pairs and for the
  objective's period, labelled ``sloth_id``, ``sloth_service``, ``sloth_slo``,
  ``sloth_window`` (and ``hub_objective``, the objective's id);
- ``sloth-slo-meta-recordings-<id>``: ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:time_period:days``, ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info``;
- ``sloth-slo-alerts-<id>``: the multi-window multi-burn-rate alerts, one with
  ``sloth_severity: page`` (the pairs whose long window is at most six hours: 14.4x
  1h/5m and 6x 6h/30m by default) and one with ``sloth_severity: ticket`` (the others:
  3x 1d/2h and 1x 3d/6h).

Counter queries (``counter: true``) are rated over each window, as Sloth does. Rate
queries and ratios are already rated over a window of their own, so they are recorded
at 5 minutes and the longer windows average those records, which is how Sloth
records the period window too. Generation is pure: `rules_yaml` returns the text.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from hub.domain.budget import (
    DEFAULT_ALERT_PAIRS,
    AlertPair,
    budget_fraction,
)
from hub.domain.models import Objective, WindowKind

BASE_WINDOW_SECONDS = 300
# The SRE workbook pages on the pairs that spend 2% and 5% of a budget (1h and 6h long
# windows) and files tickets for the slower ones; custom pairs follow the same line.
PAGE_MAX_LONG_SECONDS = 6 * 3600
# Calendar periods have no fixed length; Sloth's period label wants whole days.
CALENDAR_DAYS = {WindowKind.CALENDAR_MONTH: 30, WindowKind.CALENDAR_QUARTER: 90}
DEFAULT_PERIOD_DAYS = 30

# A bare selector can take a range (`metric{...}[1h]`); anything else needs a subquery.
_SELECTOR = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*\s*(\{[^{}]*\})?|\{[^{}]*\}")
# (unit, seconds, only when exact): Prometheus writes 30d, not 4w2d.
_DURATION_UNITS = (
    ("y", 365 * 86400, True),
    ("w", 7 * 86400, True),
    ("d", 86400, False),
    ("h", 3600, False),
    ("m", 60, False),
    ("s", 1, False),
)


@dataclass(frozen=True, slots=True)
class Sli:
    """How Prometheus measures an objective, in the shapes the hub's bindings have:
    `good` or `bad` with `total` (counters when `counter`, else rates), or a `ratio`
    (of bad events when `error_ratio`, else of good ones)."""

    good: str | None = None
    bad: str | None = None
    total: str | None = None
    counter: bool = False
    ratio: str | None = None
    error_ratio: bool = True

    def __post_init__(self) -> None:
        counted = self.total is not None and (self.good is None) != (self.bad is None)
        if counted == (self.ratio is not None):
            raise ValueError("give good or bad with total, or a ratio")

    @property
    def windowed(self) -> bool:
        """Whether the queries can be rated over any window (counters can)."""
        return self.counter and self.ratio is None

    def error_ratio_expr(self, window: str) -> str:
        """Errors / total over `window` from the raw queries (any window when
        `windowed`, else the queries' own, recorded as the 5-minute ratio)."""
        if self.ratio is not None:
            return f"({self.ratio})" if self.error_ratio else f"1 - ({self.ratio})"
        assert self.total is not None
        if self.counter:
            total, bad, good = (
                None if q is None else _rated(q, window) for q in (self.total, self.bad, self.good)
            )
        else:
            total, bad, good = self.total, self.bad, self.good
        if bad is not None:
            return f"({bad})\n/\n({total})"
        return f"1 - (\n({good})\n/\n({total})\n)"


def _rated(query: str, window: str) -> str:
    if _SELECTOR.fullmatch(query.strip()):
        return f"sum(rate({query.strip()}[{window}]))"
    return f"sum(rate(({query})[{window}:]))"


@dataclass(frozen=True, slots=True)
class RuleSource:
    """An objective with what Prometheus measures it by, and the names it has in rules:
    `service` becomes ``sloth_service``, the objective's name (else its id) ``sloth_slo``."""

    objective: Objective
    service: str
    sli: Sli

    @property
    def slo(self) -> str:
        return self.objective.name or self.objective.id

    @property
    def sloth_id(self) -> str:
        return f"{self.service}-{self.slo}"


def every_objective(objective: Objective) -> bool:
    """The default of `alerted`: every objective is alerted on."""
    return True


def alerted_sources(
    sources: Iterable[RuleSource], alerted: Callable[[Objective], bool] = every_objective
) -> list[RuleSource]:
    """The sources whose objectives are alerted on, by service, name and id; the one
    place that decides which objectives get rules."""
    chosen = [s for s in sources if alerted(s.objective)]
    return sorted(chosen, key=lambda s: (s.service, s.slo, s.objective.id))


def duration(seconds: int) -> str:
    """`seconds` as Prometheus writes a duration (`model.Duration`): 300 -> 5m,
    5400 -> 1h30m, 2592000 -> 30d, 2419200 -> 4w."""
    if seconds <= 0:
        raise ValueError(f"a window must be positive, not {seconds} s")
    parts = []
    for unit, size, exact in _DURATION_UNITS:
        if exact and seconds % size:
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def period_days(objective: Objective) -> int:
    if objective.window_kind is WindowKind.ROLLING:
        return objective.window_days or DEFAULT_PERIOD_DAYS
    return CALENDAR_DAYS[objective.window_kind]


def error_budget(objective: Objective) -> float:
    """The share of events that may be bad; a 100% target is budgeted as the hub does."""
    return budget_fraction(objective.target)


def severity(pair: AlertPair) -> str:
    return "page" if pair.long_seconds <= PAGE_MAX_LONG_SECONDS else "ticket"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in a rule")
    return repr(float(value)) if value != int(value) else str(int(value))


def alert_name(source: RuleSource) -> str:
    words = re.findall(r"[A-Za-z0-9]+", f"{source.service} {source.slo}")
    name = "".join(word[:1].upper() + word[1:] for word in words) + "SLO"
    return name if name[0].isalpha() else f"SLO{name}"


def rule_groups(
    source: RuleSource,
    pairs: Sequence[AlertPair] = DEFAULT_ALERT_PAIRS,
    *,
    group_id: str | None = None,
) -> list[dict[str, Any]]:
    """The three rule groups of one objective (see the module docstring); `group_id`
    names them when the Sloth id is taken by another objective."""
    objective, gid = source.objective, group_id or source.sloth_id
    ids = {
        "sloth_id": source.sloth_id,
        "sloth_service": source.service,
        "sloth_slo": source.slo,
    }
    labels = {**ids, "hub_objective": objective.id}
    selector = "{" + ", ".join(f"{k}={_quote(v)}" for k, v in labels.items()) + "}"
    period = duration(period_days(objective) * 86400)
    windows = sorted(
        {BASE_WINDOW_SECONDS} | {p.short_seconds for p in pairs} | {p.long_seconds for p in pairs}
    )
    base = duration(BASE_WINDOW_SECONDS)

    def averaged(window: str) -> str:
        # Sloth's period window: the mean of the 5-minute ratios over it.
        recorded = f"slo:sli_error:ratio_rate{base}{selector}[{window}]"
        return f"sum_over_time({recorded})\n/ ignoring (sloth_window)\ncount_over_time({recorded})"

    recordings = []
    for seconds in windows:
        window = duration(seconds)
        raw = seconds == BASE_WINDOW_SECONDS or source.sli.windowed
        recordings.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": source.sli.error_ratio_expr(window) if raw else averaged(window),
                "labels": {**labels, "sloth_window": window},
            }
        )
    if period_days(objective) * 86400 not in windows:
        recordings.append(
            {
                "record": f"slo:sli_error:ratio_rate{period}",
                "expr": averaged(period),
                "labels": {**labels, "sloth_window": period},
            }
        )
    budget = _number(error_budget(objective))
    on = "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
    meta: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({_number(objective.target / 100)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector({budget})"},
        {"record": "slo:time_period:days", "expr": f"vector({period_days(objective)})"},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{base}{selector}\n{on}"
            f"slo:error_budget:ratio{selector}",
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{selector}\n{on}"
            f"slo:error_budget:ratio{selector}",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{selector}",
        },
    ]
    for rule in meta:
        rule["labels"] = labels
    meta.append(
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **labels,
                "sloth_mode": "hub",
                "sloth_spec": "openslo/v1",
                "sloth_version": "hub",
                "sloth_objective": _number(objective.target),
            },
        }
    )
    alerts = []
    for level in ("page", "ticket"):
        chosen = [p for p in pairs if severity(p) == level]
        if not chosen:
            continue
        alerts.append(
            {
                "alert": alert_name(source),
                "expr": "\nor ignoring (sloth_window)\n".join(
                    _pair_expr(p, selector, budget) for p in chosen
                ),
                "labels": {"sloth_severity": level},
                "annotations": {
                    "summary": f"{source.service} {source.slo} is burning its error budget "
                    f"too fast (objective {objective.id})",
                    "title": f"({level}) {{{{$labels.sloth_service}}}} "
                    "{{$labels.sloth_slo}} SLO error budget burn rate is too fast.",
                },
            }
        )
    groups = [
        {"name": f"sloth-slo-sli-recordings-{gid}", "rules": recordings},
        {"name": f"sloth-slo-meta-recordings-{gid}", "rules": meta},
    ]
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{gid}", "rules": alerts})
    return groups


def _pair_expr(pair: AlertPair, selector: str, budget: str) -> str:
    rate = _number(pair.rate)

    def over(seconds: int) -> str:
        window = duration(seconds)
        return f"(slo:sli_error:ratio_rate{window}{selector} > ({rate} * {budget}))"

    return (
        f"(\n    {over(pair.short_seconds)}\n    and ignoring (sloth_window)\n"
        f"    {over(pair.long_seconds)}\n)"
    )


def rules_document(
    sources: Iterable[RuleSource], pairs: Sequence[AlertPair] = DEFAULT_ALERT_PAIRS
) -> dict[str, Any]:
    """The rule file (``groups:``) of `sources`, in their order. Two objectives with one
    Sloth id (the same name under one service) keep it as a label; the second's groups
    are named by its objective id, since group names must be unique in a file."""
    groups: list[dict[str, Any]] = []
    seen: set[str] = set()
    for source in sources:
        gid = source.sloth_id
        if gid in seen:
            gid = f"{gid}-{source.objective.id}"
        seen.add(gid)
        groups.extend(rule_groups(source, pairs, group_id=gid))
    return {"groups": groups}


# Every value in a rule file is text, so the file is written here rather than by
# yaml.dump: libyaml's dumper spends 8 s on 2,000 objectives' 34,000 rules (its
# representer is Python), this a fraction of that (docs/benchmarks.md). Scalars that
# are not plain-safe are double-quoted as JSON writes them (valid YAML), or left to
# PyYAML when they hold characters YAML must escape otherwise; tests load the text
# back and compare.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})
# Printable in YAML and left unescaped by json.dumps(ensure_ascii=False).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BREAKS = re.compile("[\r\x85\u2028\u2029]")


# Label values repeat in every rule of an objective: each is quoted once.
@functools.lru_cache(maxsize=4096)
def _scalar(value: str) -> str:
    # "a:" would read as a key; yes/no/on/off as YAML 1.1 booleans.
    if _PLAIN.fullmatch(value) and not value.endswith(":") and value.lower() not in _YAML_WORDS:
        return value
    if _UNSAFE.search(value) or _BREAKS.search(value):
        dumped: str = yaml.safe_dump(value, default_style='"', width=1_000_000_000)
        return dumped.rstrip("\n")
    return json.dumps(value, ensure_ascii=False)


def _block(value: str, indent: str) -> str:
    """A multi-line value as a literal block when it reads back the same, else quoted."""
    lines = value.split("\n")
    if (
        value[:1] in (" ", "\t")
        or value.endswith("\n")
        or any(not line.strip() for line in lines)
        or _UNSAFE.search(value)
        or _BREAKS.search(value)
    ):
        return _scalar(value)
    return "|-\n" + "\n".join(f"{indent}{line}" for line in lines)


def _write_mapping(out: list[str], mapping: dict[str, Any], indent: str, first: str) -> None:
    """`mapping` (text values, or mappings of text) as block YAML; the first key after
    `first` (a list item's dash), the others after `indent`."""
    lead = first
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.append(f"{lead}{key}:")
            for inner_key, inner in value.items():
                out.append(f"{indent}  {inner_key}: {_scalar(inner)}")
        elif "\n" in value:
            out.append(f"{lead}{key}: {_block(value, indent + '  ')}")
        else:
            out.append(f"{lead}{key}: {_scalar(value)}")
        lead = indent


def _dump(document: dict[str, Any]) -> str:
    if not document["groups"]:
        return "groups: []\n"  # a bare `groups:` is null, which Prometheus refuses
    out = ["groups:"]
    for group in document["groups"]:
        out.append(f"- name: {_scalar(group['name'])}")
        out.append("  rules:")
        for rule in group["rules"]:
            _write_mapping(out, rule, "    ", "  - ")
    return "\n".join(out) + "\n"


HEADER = (
    "# Generated by `hub slo rules` from the hub's objectives (Sloth-compatible names).\n"
    "# DO NOT EDIT: regenerate instead.\n"
)


def rules_yaml(
    sources: Iterable[RuleSource], pairs: Sequence[AlertPair] = DEFAULT_ALERT_PAIRS
) -> str:
    """The Prometheus rule file of `sources` as YAML (see `rules_document`)."""
    return HEADER + _dump(rules_document(sources, pairs))
