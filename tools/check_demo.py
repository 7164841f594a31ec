#!/usr/bin/env python3
"""Validate the demo enterprise dataset and compute its SLA gap report.

Usage:
    python tools/check_demo.py [PATH] [--chain SLA_KEY] [--json] [--quiet]

PATH defaults to hub/demo/enterprise.yaml (relative to the repository root).

What it does (stdlib + PyYAML only, independent of the hub's own code):

1. Validates the bundle: known top-level keys, required fields, enums, ID
   uniqueness, every reference (owner teams, dependency endpoints, agreement
   parties, covers, underpins), objective field rules, 2026 effective dates.
2. Prints counts: services, CIs, customers per region, teams, vendors,
   agreements by kind and status.
3. Finds diamonds (A->B, A->C, B->D, C->D) and dependency cycles.
4. Computes the gap report for every ACTIVE SLA with a plain-Python reference
   implementation of the rules below, and prints which SLAs are fully covered
   and which gap kinds occur.
5. Checks the robustness of the report: it is recomputed (a) counting only
   OLA/UCs that explicitly underpin the SLA, (b) with strict instead of
   inclusive comparisons, (c) raising TIMELINE_MISMATCH only when every
   strong-enough cover of the component is late (the reading documented in
   docs/coverage-gaps.md) instead of when any one is. Any difference is
   reported as a warning, because it means
   the expected result depends on an implementation detail.
6. Checks the dataset requirements (sizes, shapes, gap kinds present).

Gap rules (per ACTIVE SLA):
  chain          = the components the SLA covers + everything they transitively
                   depend on (dependencies point from dependant to dependency).
  cover          = ACTIVE OLA/UC agreements whose `covers` lists the component
                   (DRAFT / PENDING_APPROVAL agreements never count).
  UNCOVERED      = a chain component with no cover.
  WEAKER_TARGET  = a covered component where, for an SLA objective with
                   indicator I (and priority P if the SLA objective has one),
                   no covering objective of indicator I (priority P or none)
                   is at least as strong:
                     AVAILABILITY / ERROR_RATE: target >= SLA target
                     LATENCY / RESPONSE_TIME / RESOLUTION_TIME / HANDOFF_TIME:
                       threshold <= SLA threshold and target >= SLA target
  TIMELINE_MISMATCH = for an SLA RESPONSE_TIME / RESOLUTION_TIME objective
                   (threshold T, priority P), a covering agreement that has a
                   strong-enough objective of that indicator but whose
                   HANDOFF_TIME threshold (priority P or none; 0 if absent)
                   plus that objective's threshold exceeds T (the agreement's
                   strongest matching objective and lowest hand-off are used).
  INFEASIBLE_TARGET = for an SLA AVAILABILITY objective, the product over the
                   chain of the best covering AVAILABILITY target (as a
                   fraction; 1.0 when a component has none) is below the SLA
                   target.

Gap counting units used in the printed counts:
  UNCOVERED: one per component; WEAKER_TARGET and TIMELINE_MISMATCH: one per
  (component, SLA objective); INFEASIBLE_TARGET: one per SLA AVAILABILITY
  objective (the same units as docs/coverage-gaps.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("PyYAML is required (pip install pyyaml)")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "hub" / "demo" / "enterprise.yaml"

TOP_KEYS = {
    "source",
    "teams",
    "vendors",
    "customers",
    "services",
    "configurationItems",
    "dependencies",
    "agreements",
}
TIERS = {"TIER_1", "TIER_2", "TIER_3", "TIER_4"}
REGIONS = {"eu", "us", "apac"}
ENVIRONMENTS = {"prod", "staging"}
KINDS = {"SLA", "OLA", "UC"}
STATUSES = {"ACTIVE", "DRAFT", "PENDING_APPROVAL"}
INDICATORS = {
    "AVAILABILITY",
    "LATENCY",
    "ERROR_RATE",
    "RESPONSE_TIME",
    "RESOLUTION_TIME",
    "HANDOFF_TIME",
}
RATIO_INDICATORS = {"AVAILABILITY", "ERROR_RATE"}
THRESHOLD_INDICATORS = {"LATENCY", "RESPONSE_TIME", "RESOLUTION_TIME", "HANDOFF_TIME"}
TICKET_INDICATORS = {"RESPONSE_TIME", "RESOLUTION_TIME", "HANDOFF_TIME"}
TIMELINE_INDICATORS = {"RESPONSE_TIME", "RESOLUTION_TIME"}
WINDOW_KINDS = {"ROLLING", "CALENDAR_MONTH", "CALENDAR_QUARTER"}
PRIORITIES = {"P1", "P2", "P3", "P4"}
GAP_KINDS = ("UNCOVERED", "WEAKER_TARGET", "TIMELINE_MISMATCH", "INFEASIBLE_TARGET")

# ServiceNow CMDB classes accepted in the demo (all exist in a base instance or
# the standard cloud / Kubernetes class models).
CI_CLASSES = {
    "cmdb_ci_appl",
    "cmdb_ci_appl_rabbitmq",
    "cmdb_ci_appl_rabbitmq_cluster",
    "cmdb_ci_app_server",
    "cmdb_ci_app_server_tomcat",
    "cmdb_ci_app_server_java",
    "cmdb_ci_app_server_jboss",
    "cmdb_ci_nginx_web_server",
    "cmdb_ci_db_instance",
    "cmdb_ci_db_postgresql_instance",
    "cmdb_ci_db_mssql_instance",
    "cmdb_ci_db_ora_instance",
    "cmdb_ci_db_mysql_instance",
    "cmdb_ci_db_mongodb_instance",
    "cmdb_ci_server",
    "cmdb_ci_linux_server",
    "cmdb_ci_win_server",
    "cmdb_ci_esx_server",
    "cmdb_ci_vm_instance",
    "cmdb_ci_vcenter",
    "cmdb_ci_lb",
    "cmdb_ci_lb_bigip",
    "cmdb_ci_ip_router",
    "cmdb_ci_ip_switch",
    "cmdb_ci_ip_firewall",
    "cmdb_ci_dns_name",
    "cmdb_ci_cloud_database",
    "cmdb_ci_cloud_load_balancer",
    "cmdb_ci_cloud_object_storage",
    "cmdb_ci_network",
    "cmdb_ci_kubernetes_cluster",
    "cmdb_ci_storage_device",
    "cmdb_ci_email_server",
}

REQUIRED = {
    "teams": ({"externalId", "name"}, set()),
    "vendors": ({"externalId", "name"}, set()),
    "customers": ({"externalId", "name", "businessUnit", "region", "external"}, set()),
    "services": ({"externalId", "name", "tier", "businessUnit", "region", "ownerTeam"}, set()),
    "configurationItems": ({"externalId", "name", "ciClass", "environment", "location"}, set()),
}
AGREEMENT_KEYS = {
    "key",
    "kind",
    "name",
    "status",
    "customer",
    "providerTeam",
    "vendor",
    "covers",
    "underpins",
    "effectiveFrom",
    "objectives",
    "creditPolicy",  # service-level terms: no bearing on coverage gaps
}
# `name` and `metric` say how an objective is measured: no bearing on coverage gaps.
OBJECTIVE_KEYS = {
    "indicator",
    "target",
    "threshold",
    "windowKind",
    "windowDays",
    "priority",
    "name",
    "metric",
}


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def validate(data: dict, rep: Report) -> None:
    if not isinstance(data, dict):
        rep.error("top level must be a mapping")
        return
    for k in data:
        if k not in TOP_KEYS:
            rep.error(f"unknown top-level key {k!r}")
    if data.get("source") != "demo":
        rep.error("source must be 'demo'")

    ids_by_section: dict[str, set[str]] = {}
    all_ids: Counter[str] = Counter()
    for section, (required, optional) in REQUIRED.items():
        items = data.get(section) or []
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"{section}[{i}]"
            if not isinstance(item, dict):
                rep.error(f"{where}: not a mapping")
                continue
            missing = required - item.keys()
            extra = item.keys() - required - optional
            if missing:
                rep.error(f"{where}: missing {sorted(missing)}")
            if extra:
                rep.error(f"{where}: unknown fields {sorted(extra)}")
            xid = item.get("externalId")
            if not isinstance(xid, str) or not xid:
                rep.error(f"{where}: externalId must be a non-empty string")
                continue
            if xid in seen:
                rep.error(f"{where}: duplicate externalId {xid}")
            seen.add(xid)
            all_ids[xid] += 1
            if not isinstance(item.get("name"), str) or not item.get("name"):
                rep.error(f"{where} ({xid}): name must be a non-empty string")
        ids_by_section[section] = seen
    for xid, n in all_ids.items():
        if n > 1:
            rep.error(f"externalId {xid} is used in more than one section")

    teams = ids_by_section["teams"]
    for c in data.get("customers") or []:
        if c.get("region") not in REGIONS:
            rep.error(
                f"customer {c.get('externalId')}: region {c.get('region')!r} "
                f"not in {sorted(REGIONS)}"
            )
        if not isinstance(c.get("external"), bool):
            rep.error(f"customer {c.get('externalId')}: external must be a boolean")
        if not isinstance(c.get("businessUnit"), str) or not c.get("businessUnit"):
            rep.error(f"customer {c.get('externalId')}: businessUnit required")
    for s in data.get("services") or []:
        xid = s.get("externalId")
        if s.get("tier") not in TIERS:
            rep.error(f"service {xid}: tier {s.get('tier')!r} not in TIER_1..TIER_4")
        if s.get("ownerTeam") not in teams:
            rep.error(f"service {xid}: ownerTeam {s.get('ownerTeam')!r} is not a team")
        if s.get("region") not in REGIONS:
            rep.warn(f"service {xid}: region {s.get('region')!r} not in {sorted(REGIONS)}")
    for ci in data.get("configurationItems") or []:
        xid = ci.get("externalId")
        if ci.get("ciClass") not in CI_CLASSES:
            rep.error(
                f"CI {xid}: ciClass {ci.get('ciClass')!r} "
                "is not in the accepted ServiceNow class list"
            )
        if ci.get("environment") not in ENVIRONMENTS:
            rep.error(
                f"CI {xid}: environment {ci.get('environment')!r} not in {sorted(ENVIRONMENTS)}"
            )
        if not isinstance(ci.get("location"), str) or not ci.get("location"):
            rep.error(f"CI {xid}: location required")

    services = ids_by_section["services"]
    cis = ids_by_section["configurationItems"]
    nodes = services | cis
    env = {ci["externalId"]: ci.get("environment") for ci in data.get("configurationItems") or []}
    seen_edges: set[tuple[str, str]] = set()
    for i, d in enumerate(data.get("dependencies") or []):
        where = f"dependencies[{i}]"
        if not isinstance(d, dict) or set(d) != {"from", "to"}:
            rep.error(f"{where}: must be exactly {{from, to}}: {d!r}")
            continue
        f, t = d["from"], d["to"]
        for end in (f, t):
            if end not in nodes:
                rep.error(f"{where}: unknown component {end!r}")
        if f == t:
            rep.error(f"{where}: self-dependency on {f}")
        if (f, t) in seen_edges:
            rep.error(f"{where}: duplicate dependency {f} -> {t}")
        seen_edges.add((f, t))
        if f in cis and t in services:
            rep.error(f"{where}: CI -> service dependency {f} -> {t} is not allowed")
        if env.get(f) == "prod" and env.get(t) == "staging":
            rep.warn(f"{where}: prod CI {f} depends on staging CI {t}")

    customers = ids_by_section["customers"]
    vendors = ids_by_section["vendors"]
    agreements = data.get("agreements") or []
    keys: set[str] = set()
    sla_keys = {a.get("key") for a in agreements if isinstance(a, dict) and a.get("kind") == "SLA"}
    for i, a in enumerate(agreements):
        where = f"agreements[{i}]"
        if not isinstance(a, dict):
            rep.error(f"{where}: not a mapping")
            continue
        key = a.get("key")
        where = f"agreement {key or i}"
        extra = a.keys() - AGREEMENT_KEYS
        if extra:
            rep.error(f"{where}: unknown fields {sorted(extra)}")
        if not isinstance(key, str) or not key:
            rep.error(f"{where}: key required")
        elif key in keys:
            rep.error(f"{where}: duplicate key")
        keys.add(key)
        kind = a.get("kind")
        if kind not in KINDS:
            rep.error(f"{where}: kind {kind!r} not in {sorted(KINDS)}")
        if a.get("status") not in STATUSES:
            rep.error(f"{where}: status {a.get('status')!r} not in {sorted(STATUSES)}")
        if not isinstance(a.get("name"), str) or not a.get("name"):
            rep.error(f"{where}: name required")
        party = {
            "SLA": ("customer", customers),
            "OLA": ("providerTeam", teams),
            "UC": ("vendor", vendors),
        }
        for k2, (field, pool) in party.items():
            if kind == k2:
                if a.get(field) not in pool:
                    rep.error(f"{where}: {field} {a.get(field)!r} is unknown")
            elif field in a:
                rep.error(f"{where}: {field} is only allowed on {k2}")
        covers = a.get("covers")
        if not isinstance(covers, list) or not covers:
            rep.error(f"{where}: covers must be a non-empty list")
        else:
            if len(set(covers)) != len(covers):
                rep.error(f"{where}: duplicate entries in covers")
            for c in covers:
                if c not in nodes:
                    rep.error(f"{where}: covers unknown component {c!r}")
        if "underpins" in a:
            if kind == "SLA":
                rep.error(f"{where}: an SLA cannot underpin")
            up = a["underpins"]
            if not isinstance(up, list):
                rep.error(f"{where}: underpins must be a list")
            else:
                for u in up:
                    if u not in sla_keys:
                        rep.error(f"{where}: underpins unknown SLA {u!r}")
        ef = a.get("effectiveFrom")
        try:
            when = dt.datetime.fromisoformat(str(ef).replace("Z", "+00:00"))
            if when.year != 2026 or when.tzinfo is None:
                rep.error(f"{where}: effectiveFrom {ef!r} must be a 2026 UTC timestamp")
        except ValueError:
            rep.error(f"{where}: effectiveFrom {ef!r} is not ISO 8601")
        objectives = a.get("objectives")
        if not isinstance(objectives, list) or not objectives:
            rep.error(f"{where}: objectives must be a non-empty list")
            continue
        seen_obj: set[tuple] = set()
        for j, o in enumerate(objectives):
            validate_objective(o, f"{where} objective[{j}]", kind, rep)
            if isinstance(o, dict):
                sig = (o.get("indicator"), o.get("priority"))
                if sig in seen_obj:
                    rep.error(f"{where}: two objectives for {sig}")
                seen_obj.add(sig)


def validate_objective(o, where: str, kind, rep: Report) -> None:
    if not isinstance(o, dict):
        rep.error(f"{where}: not a mapping")
        return
    extra = o.keys() - OBJECTIVE_KEYS
    if extra:
        rep.error(f"{where}: unknown fields {sorted(extra)}")
    ind = o.get("indicator")
    if ind not in INDICATORS:
        rep.error(f"{where}: indicator {ind!r} unknown")
        return
    tgt = o.get("target")
    if not is_number(tgt) or not (0 < tgt <= 100):
        rep.error(f"{where}: target {tgt!r} must be in (0, 100]")
    if ind in THRESHOLD_INDICATORS:
        thr = o.get("threshold")
        if not is_number(thr) or thr < 0:
            rep.error(f"{where}: {ind} needs threshold seconds >= 0")
    elif "threshold" in o:
        rep.error(f"{where}: {ind} must not have a threshold")
    wk = o.get("windowKind")
    if wk not in WINDOW_KINDS:
        rep.error(f"{where}: windowKind {wk!r} unknown")
    elif wk == "ROLLING":
        wd = o.get("windowDays")
        if not isinstance(wd, int) or isinstance(wd, bool) or not (1 <= wd <= 366):
            rep.error(f"{where}: ROLLING needs windowDays 1..366")
    elif "windowDays" in o:
        rep.error(f"{where}: {wk} must not have windowDays")
    if "priority" in o:
        if o["priority"] not in PRIORITIES:
            rep.error(f"{where}: priority {o['priority']!r} not in P1..P4")
        if ind not in TICKET_INDICATORS:
            rep.warn(f"{where}: priority on non-ticket indicator {ind}")
    elif kind == "SLA" and ind in TICKET_INDICATORS:
        rep.warn(f"{where}: SLA ticket objective without priority (ambiguous matching)")
    if kind == "SLA" and ind == "HANDOFF_TIME":
        rep.warn(f"{where}: HANDOFF_TIME on an SLA has no meaning for the gap rules")


# --------------------------------------------------------------------------
# graph
# --------------------------------------------------------------------------


def build_graph(data: dict) -> dict[str, list[str]]:
    g: dict[str, list[str]] = defaultdict(list)
    for d in data.get("dependencies") or []:
        g[d["from"]].append(d["to"])
    return g


def reachable(g: dict[str, list[str]], starts) -> set[str]:
    seen = set()
    stack = list(starts)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(g.get(n, ()))
    return seen


def find_diamonds(g: dict[str, list[str]]) -> list[tuple[str, str, str, str]]:
    """Strict 2-step diamonds A->B, A->C, B->D, C->D with four distinct nodes."""
    out = []
    for a, succ in g.items():
        succ = sorted(set(succ))
        for i, b in enumerate(succ):
            for c in succ[i + 1 :]:
                common = set(g.get(b, ())) & set(g.get(c, ()))
                for d in sorted(common - {a, b, c}):
                    out.append((a, b, c, d))
    return out


def strongly_connected(g: dict[str, list[str]], nodes) -> list[list[str]]:
    """Tarjan (iterative); returns SCCs with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(g.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(g.get(w, ()))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def a_cycle(g: dict[str, list[str]], scc: list[str]) -> list[str]:
    """One explicit cycle inside an SCC (shortest path back to the start)."""
    members = set(scc)
    start = scc[0]
    prev = {start: None}
    queue = [start]
    while queue:
        nxt = []
        for v in queue:
            for w in g.get(v, ()):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        queue = nxt
    return []


# --------------------------------------------------------------------------
# gap computation (reference implementation)
# --------------------------------------------------------------------------


def applies(cover_obj: dict, sla_obj: dict) -> bool:
    """A covering objective applies to an SLA objective of the same indicator
    when the covering one has no priority (it covers every priority) or has the
    SLA objective's priority."""
    if cover_obj["indicator"] != sla_obj["indicator"]:
        return False
    sp, cp = sla_obj.get("priority"), cover_obj.get("priority")
    return cp is None or sp == cp


def at_least_as_strong(cover_obj: dict, sla_obj: dict, strict: bool) -> bool:
    ge = (lambda x, y: x > y) if strict else (lambda x, y: x >= y)
    le = (lambda x, y: x < y) if strict else (lambda x, y: x <= y)
    if sla_obj["indicator"] in RATIO_INDICATORS:
        return ge(cover_obj["target"], sla_obj["target"])
    return le(cover_obj["threshold"], sla_obj["threshold"]) and ge(
        cover_obj["target"], sla_obj["target"]
    )


def handoff_for(agreement: dict, priority) -> list[float]:
    return [
        o["threshold"]
        for o in agreement["objectives"]
        if o["indicator"] == "HANDOFF_TIME"
        and (o.get("priority") is None or o.get("priority") == priority)
    ]


def describe(o: dict) -> str:
    s = o["indicator"]
    if o.get("priority"):
        s += f"/{o['priority']}"
    if "threshold" in o:
        s += f" <={o['threshold']}s"
    return s + f" @{o['target']}%"


def compute_gaps(
    data: dict,
    g,
    *,
    underpin_only=False,
    strict=False,
    timeline_every=False,
    notes: list[str] | None = None,
) -> dict[str, dict]:
    agreements = data.get("agreements") or []
    slas = [a for a in agreements if a["kind"] == "SLA" and a["status"] == "ACTIVE"]
    covering = [a for a in agreements if a["kind"] in ("OLA", "UC") and a["status"] == "ACTIVE"]
    result: dict[str, dict] = {}
    for sla in slas:
        pool = [
            a for a in covering if not underpin_only or sla["key"] in (a.get("underpins") or [])
        ]
        by_comp: dict[str, list[dict]] = defaultdict(list)
        for a in pool:
            for c in a["covers"]:
                by_comp[c].append(a)
        chain = sorted(reachable(g, sla["covers"]))
        gaps: list[dict] = []
        for comp in chain:
            covers = by_comp.get(comp, [])
            if not covers:
                gaps.append({"kind": "UNCOVERED", "component": comp})
                continue
            for so in sla["objectives"]:
                strong_by_agreement = []
                for a in covers:
                    cand = [o for o in a["objectives"] if applies(o, so)]
                    strong = [o for o in cand if at_least_as_strong(o, so, strict)]
                    if strong:
                        strong_by_agreement.append((a, strong))
                if not strong_by_agreement:
                    gaps.append(
                        {"kind": "WEAKER_TARGET", "component": comp, "objective": describe(so)}
                    )
                    continue
                if so["indicator"] not in TIMELINE_INDICATORS:
                    continue
                totals = {}
                for a, strong in strong_by_agreement:
                    hs = handoff_for(a, so.get("priority"))
                    if len(hs) > 1 and notes is not None:
                        notes.append(
                            f"{a['key']}: several HANDOFF_TIME objectives "
                            f"apply to {so.get('priority')}"
                        )
                    # the agreement's strongest matching objective, plus its lowest hand-off
                    totals[a["key"]] = (min(hs) if hs else 0) + min(o["threshold"] for o in strong)

                limit = so["threshold"]
                late = sorted(k for k, t in totals.items() if (t >= limit if strict else t > limit))
                if late and (len(late) == len(totals) or not timeline_every):
                    gaps.append(
                        {
                            "kind": "TIMELINE_MISMATCH",
                            "component": comp,
                            "objective": describe(so),
                            "agreement": ", ".join(late),
                            "total": min(totals[k] for k in late),
                        }
                    )
        for so in sla["objectives"]:
            if so["indicator"] != "AVAILABILITY":
                continue
            product = 1.0
            for comp in chain:
                targets = [
                    o["target"]
                    for a in by_comp.get(comp, [])
                    for o in a["objectives"]
                    if o["indicator"] == "AVAILABILITY"
                ]
                if targets:
                    product *= max(targets) / 100.0
            composed = product * 100.0
            below = composed <= so["target"] if strict else composed < so["target"] - 1e-12
            if below:
                gaps.append(
                    {
                        "kind": "INFEASIBLE_TARGET",
                        "objective": describe(so),
                        "composed": round(composed, 4),
                    }
                )
            result.setdefault(sla["key"], {})["composedAvailability"] = round(composed, 4)
        entry = result.setdefault(sla["key"], {})
        entry.update(
            {"chain": chain, "gaps": gaps, "counts": dict(Counter(x["kind"] for x in gaps))}
        )
    return result


def signature(res: dict[str, dict]) -> dict[str, dict]:
    return {k: v["counts"] for k, v in res.items()}


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path", nargs="?", default=str(DEFAULT_PATH))
    ap.add_argument("--chain", metavar="SLA_KEY", help="print the chain of this SLA with its cover")
    ap.add_argument("--json", action="store_true", help="print the gap report as JSON")
    ap.add_argument("--quiet", action="store_true", help="only print problems and the verdict")
    args = ap.parse_args(argv)

    with open(args.path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    rep = Report()
    validate(data, rep)
    if rep.errors:
        for e in rep.errors:
            print("ERROR:", e)
        print(f"{len(rep.errors)} validation error(s)")
        return 1

    out = (lambda *a, **k: None) if (args.quiet or args.json) else print
    services = data["services"]
    cis = data["configurationItems"]
    customers = data["customers"]
    agreements = data["agreements"]
    svc_ids = {s["externalId"] for s in services}
    g = build_graph(data)

    # ---- counts
    out("== counts")
    out(f"services: {len(services)}")
    env_counts = Counter(c["environment"] for c in cis)
    out(
        f"configuration items: {len(cis)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(env_counts.items()))})"
    )
    cls = Counter(c["ciClass"] for c in cis)
    out("  by class: " + ", ".join(f"{k} {v}" for k, v in sorted(cls.items())))
    out(f"customers: {len(customers)}")
    for region in sorted(REGIONS):
        names = [
            c["externalId"] + (" (external)" if c["external"] else "")
            for c in customers
            if c["region"] == region
        ]
        out(f"  {region}: {len(names)}  {', '.join(names)}")
    out(f"  business units: {sorted({c['businessUnit'] for c in customers})}")
    out(f"teams: {len(data['teams'])}")
    out(f"vendors: {len(data['vendors'])}")
    out(f"dependencies: {len(data['dependencies'])}")
    by_ks = Counter((a["kind"], a["status"]) for a in agreements)
    out(f"agreements: {len(agreements)}")
    for kind in ("SLA", "OLA", "UC"):
        parts = [
            f"{st} {by_ks[(kind, st)]}"
            for st in ("ACTIVE", "PENDING_APPROVAL", "DRAFT")
            if by_ks[(kind, st)]
        ]
        out(f"  {kind}: {sum(by_ks[(kind, st)] for st in STATUSES)} ({', '.join(parts)})")

    # ---- shapes
    diamonds = find_diamonds(g)
    svc_diamonds = [d for d in diamonds if all(x in svc_ids for x in d)]
    sccs = strongly_connected(g, svc_ids | {c["externalId"] for c in cis})
    out("\n== graph shapes")
    out(
        f"diamonds (A->B, A->C, B->D, C->D): {len(diamonds)} total, "
        f"{len(svc_diamonds)} service-level"
    )
    for d in (svc_diamonds or diamonds)[:5]:
        out("  A={} B={} C={} D={}".format(*d))
    out(f"dependency cycles (strongly connected components > 1 node): {len(sccs)}")
    for scc in sccs:
        out(f"  {scc}: cycle {' -> '.join(a_cycle(g, scc))}")
    dependants = defaultdict(set)
    for s in svc_ids:
        for n in reachable(g, [s]) - {s}:
            dependants[n].add(s)
    shared = sorted(dependants.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:8]
    out("most shared components (number of business services depending on them):")
    for n, deps in shared:
        out(f"  {n}: {len(deps)}")

    # chain depth: the hub walks at most 15 hops by default (25 for coverage gaps)
    def depth_from(root):
        depth, frontier, seen = 0, {root}, {root}
        while frontier:
            nxt = {w for v in frontier for w in g.get(v, ()) if w not in seen}
            if not nxt:
                return depth
            seen |= nxt
            frontier = nxt
            depth += 1
        return depth

    max_depth = max(depth_from(c) for a in agreements if a["kind"] == "SLA" for c in a["covers"])
    out(f"deepest SLA chain: {max_depth} hops")

    # ---- consistency of underpins with chains
    active_slas = [a for a in agreements if a["kind"] == "SLA" and a["status"] == "ACTIVE"]
    chains = {s["key"]: reachable(g, s["covers"]) for s in active_slas}
    for a in agreements:
        if a["kind"] == "SLA":
            continue
        touching = {k for k, ch in chains.items() if ch & set(a["covers"])}
        declared = set(a.get("underpins") or [])
        declared_active = declared & set(chains)
        if a["status"] == "ACTIVE" and touching != declared_active:
            rep.warn(
                f"{a['key']}: underpins {sorted(declared_active)} "
                f"but its covers touch chains of {sorted(touching)}"
            )
        if declared - touching:
            rep.warn(
                f"{a['key']}: underpins {sorted(declared - touching)} "
                "without covering anything on their chain"
            )
    # SLA customer business unit vs covered services
    bu = {c["externalId"]: c["businessUnit"] for c in customers}
    svc_bu = {s["externalId"]: s["businessUnit"] for s in services}
    for s in (a for a in agreements if a["kind"] == "SLA"):
        for c in s["covers"]:
            if c in svc_bu and svc_bu[c] != bu[s["customer"]]:
                rep.warn(
                    f"{s['key']}: customer BU {bu[s['customer']]} != service {c} BU {svc_bu[c]}"
                )

    # ---- gaps
    notes: list[str] = []
    res = compute_gaps(data, g, notes=notes)
    variants = {
        "underpinning agreements only": compute_gaps(data, g, underpin_only=True),
        "strict comparisons": compute_gaps(data, g, strict=True),
        "timeline only when every strong cover is late (hub docs)": compute_gaps(
            data, g, timeline_every=True
        ),
    }
    for label, other in variants.items():
        if signature(other) != signature(res):
            diff = {
                k: (res[k]["counts"], other[k]["counts"])
                for k in res
                if res[k]["counts"] != other[k]["counts"]
            }
            rep.warn(f"gap report changes with '{label}': {diff}")
    for n in sorted(set(notes)):
        rep.warn(n)

    names = {a["key"]: a for a in agreements}
    out("\n== gap report (ACTIVE SLAs)")
    for key, r in res.items():
        sla = names[key]
        counts = r["counts"]
        verdict = (
            "FULLY COVERED"
            if not r["gaps"]
            else ", ".join(f"{k} x{counts[k]}" for k in GAP_KINDS if k in counts)
        )
        say = out if not args.quiet else print
        say(
            f"{key}  [{sla['customer']}] chain={len(r['chain'])} "
            f"composedAvailability={r.get('composedAvailability')}%"
        )
        say(f"    -> {verdict}")
        if not args.quiet:
            for k in GAP_KINDS:
                items = [x for x in r["gaps"] if x["kind"] == k]
                if not items:
                    continue
                if k == "UNCOVERED":
                    out(f"       UNCOVERED: {', '.join(x['component'] for x in items)}")
                elif k == "INFEASIBLE_TARGET":
                    for x in items:
                        out(f"       INFEASIBLE_TARGET: {x['objective']} composed {x['composed']}%")
                else:
                    grouped = defaultdict(list)
                    for x in items:
                        grouped[(x["objective"], x.get("agreement"))].append(x["component"])
                    for (obj, ag), comps in grouped.items():
                        extra = f" via {ag}" if ag else ""
                        out(f"       {k}: {obj}{extra}: {', '.join(comps)}")
    non_active = [a["key"] for a in agreements if a["kind"] == "SLA" and a["status"] != "ACTIVE"]
    out(f"not evaluated (SLA not ACTIVE): {non_active}")

    fully = [k for k, r in res.items() if not r["gaps"]]
    kinds_present = sorted(
        {x["kind"] for r in res.values() for x in r["gaps"]}, key=GAP_KINDS.index
    )
    out(f"\nfully covered SLAs: {fully}")
    out(f"gap kinds present: {kinds_present}")

    if args.chain:
        sla = names.get(args.chain)
        if not sla or args.chain not in res:
            print(f"no ACTIVE SLA {args.chain!r}")
            return 2
        by_comp = defaultdict(list)
        for a in agreements:
            if a["kind"] != "SLA" and a["status"] == "ACTIVE":
                for c in a["covers"]:
                    by_comp[c].append(a["key"])
        print(f"\n== chain of {args.chain} ({len(res[args.chain]['chain'])} components)")
        for c in res[args.chain]["chain"]:
            print(f"  {c:28s} covered by {', '.join(by_comp.get(c, [])) or '-'}")

    # ---- requirements
    req = []
    regions = Counter(c["region"] for c in customers)
    slas_all = [a for a in agreements if a["kind"] == "SLA"]
    req.append(("~12 services", 11 <= len(services) <= 14))
    req.append(("~150 CIs", 140 <= len(cis) <= 160))
    req.append(("6 customers in 3 regions", len(customers) == 6 and set(regions) == REGIONS))
    req.append((">=3 business units", len({c["businessUnit"] for c in customers}) >= 3))
    req.append((">=2 external customers", sum(c["external"] for c in customers) >= 2))
    req.append(("8 teams", len(data["teams"]) == 8))
    req.append(("4 vendors", len(data["vendors"]) == 4))
    req.append(("~8 SLAs", 7 <= len(slas_all) <= 10))
    req.append(("a diamond", bool(diamonds)))
    req.append(("a dependency cycle", bool(sccs)))
    req.append(("SLA chains within 15 hops", max_depth <= 15))
    req.append(
        (
            "a service->service->service path",
            any(
                t in svc_ids and any(u in svc_ids for u in g.get(t, ()))
                for s in svc_ids
                for t in g.get(s, ())
            ),
        )
    )
    req.append((">=2 fully covered SLAs", len(fully) >= 2))
    for k in GAP_KINDS:
        req.append((f"gap kind {k} present", k in kinds_present))
    req.append(("an OLA in DRAFT", by_ks[("OLA", "DRAFT")] >= 1))
    req.append(("an OLA in PENDING_APPROVAL", by_ks[("OLA", "PENDING_APPROVAL")] >= 1))
    req.append(("an SLA in DRAFT", by_ks[("SLA", "DRAFT")] >= 1))
    req.append(
        ("OLAs and UCs present", by_ks[("OLA", "ACTIVE")] >= 1 and by_ks[("UC", "ACTIVE")] >= 1)
    )

    if args.json:
        print(
            json.dumps(
                {
                    "fullyCovered": fully,
                    "gapKinds": kinds_present,
                    "slas": {
                        k: {
                            "counts": v["counts"],
                            "chainSize": len(v["chain"]),
                            "composedAvailability": v.get("composedAvailability"),
                            "gaps": v["gaps"],
                        }
                        for k, v in res.items()
                    },
                    "diamonds": diamonds[:20],
                    "cycles": sccs,
                },
                indent=2,
            )
        )

    failed = [name for name, ok in req if not ok]
    if not args.json:
        print("\n== requirements")
        for name, ok in req:
            if not args.quiet or not ok:
                print(f"  [{'ok' if ok else 'FAIL'}] {name}")
        for w in rep.warnings:
            print("WARNING:", w)
        print(
            "RESULT:",
            "OK"
            if not failed and not rep.warnings
            else f"{len(failed)} requirement(s) failed, {len(rep.warnings)} warning(s)",
        )
    return 1 if failed or rep.warnings else 0


if __name__ == "__main__":
    sys.exit(main())
