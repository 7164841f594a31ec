// One function per page. Each asks the hub what it shows in ONE GraphQL request (the
// landing page of a unit too, however many SLAs it has) and renders only what came back.

import { ApiError, download, gql, session, subscribe } from "./api.js";
import { budgetChart, burnChart, dependencyGraph } from "./charts.js";
import { badge, date, day, enumText, share, h, percent, STATE_LABELS, table } from "./dom.js";

const enc = encodeURIComponent;
const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);

export function heading(text, sub) {
  return [h("h1", { tabindex: -1, id: "page-title" }, text), sub ? h("p", { class: "lede" }, sub) : null];
}

export function notice(message, kind = "error") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

function warnings(errors) {
  return errors.length ? notice(`Some parts could not be read: ${errors.join("; ")}`, "warning") : null;
}

// ---- sign in ---------------------------------------------------------------------

export function signIn(ctx, message) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false", "aria-describedby": "token-help" });
  const form = h("form", { class: "card sign-in", "aria-labelledby": "page-title" },
    h("label", { for: "token" }, "API token"),
    input,
    h("p", { id: "token-help", class: "help" }, "A token from `hub token create`. It stays in this tab only (sessionStorage) and is sent to the hub's GraphQL API, nowhere else."),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.signIn(input.value);
    try {
      await gql("{ __typename }");
      ctx.go("#/");
    } catch (error) {
      session.signOut();
      form.prepend(notice(error.message));
    }
  });
  return [heading("Sign in", "The service agreements portal: SLA status, violations, dependencies, reports and change requests."),
    message ? notice(message) : null, form];
}

// ---- business units --------------------------------------------------------------

const UNITS = `query PortalUnits { customers(first: 500) { edges { node { businessUnit } } } }`;

export async function units(ctx) {
  const { data, errors } = await gql(UNITS);
  const names = [...new Set(data.customers.edges.map((e) => e.node.businessUnit).filter(Boolean))].sort();
  if (names.length === 1) return ctx.go(`#/unit/${enc(names[0])}`, true);
  return [heading("Business units", "Pick a business unit to see its SLAs and how they are doing."), warnings(errors),
    names.length
      ? h("ul", { class: "tiles" }, names.map((n) => h("li", {}, link(`#/unit/${enc(n)}`, n, { class: "tile" }))))
      : notice("Your token reads no customer with a business unit.", "info")];
}

const UNIT = `query PortalUnit($unit: String!) {
  agreements(kind: [SLA], status: [ACTIVE], businessUnit: $unit, first: 500) {
    pageInfo { hasNextPage }
    edges { node { id name region
      ... on ServiceLevelAgreement {
        customer { id name }
        covers { id name }
        effectiveObjectives { id name indicator target status { compliance budgetRemaining state } }
      } } }
  }
}`;

function objectiveCells(o) {
  const st = o.status;
  return [
    h("td", { class: "state" }, badge(st.state)),
    h("td", { class: "num compliance" }, percent(st.compliance)),
    h("td", { class: "num budget" }, share(st.budgetRemaining)),
  ];
}

export async function unit(ctx, name) {
  const started = performance.now();
  performance.mark("portal:unit:start");
  const { data, errors } = await gql(UNIT, { unit: name });
  const slas = data.agreements.edges.map((e) => e.node);
  const counts = { HEALTHY: 0, AT_RISK: 0, EXHAUSTED: 0, NO_DATA: 0 };
  const rows = [];
  for (const sla of slas) {
    const objectives = sla.effectiveObjectives || [];
    for (const o of objectives) counts[o.status.state] = (counts[o.status.state] || 0) + 1;
    const services = (sla.covers || []).map((c, i) => [i ? ", " : "", link(`#/service/${enc(c.id)}`, c.name)]);
    objectives.forEach((o, i) => {
      rows.push(h("tr", { "data-objective": o.id, "data-sla": sla.id },
        i === 0 ? h("th", { scope: "rowgroup", rowspan: objectives.length, class: "sla" },
          h("span", { class: "sla-name" }, sla.name), h("br"), h("small", {}, sla.customer ? sla.customer.name : "", sla.region ? ` · ${sla.region}` : "")) : null,
        i === 0 ? h("td", { rowspan: objectives.length }, services) : null,
        h("td", {}, link(`#/objective/${enc(sla.id)}/${enc(o.id)}`, o.name || enumText(o.indicator))),
        h("td", { class: "num" }, percent(o.target)),
        objectiveCells(o)));
    });
    if (!objectives.length) rows.push(h("tr", { "data-sla": sla.id }, h("th", { scope: "row" }, sla.name), h("td", { colspan: 6 }, "No objectives.")));
  }
  const summary = h("ul", { class: "summary", "aria-label": "Objectives by budget state" },
    Object.entries(counts).map(([state, n]) => h("li", { class: `state-${state.toLowerCase()}` }, h("strong", {}, n), ` ${STATE_LABELS[state]}`)));
  const live = h("p", { class: "live-state", id: "live-state" }, "Live updates: connecting…");
  const view = [heading(`${name}: service levels`, `${slas.length} SLA${slas.length === 1 ? "" : "s"} in force; compliance and error budget over each objective's current window.`),
    warnings(errors), summary, live,
    data.agreements.pageInfo.hasNextPage ? notice("More than 500 SLAs: the first 500 are shown.", "warning") : null,
    slas.length
      ? table(`SLAs of ${name}`, ["SLA", "Services", "Objective", "Target", "State", "Compliance", "Budget left"], rows, { class: "slas" })
      : notice("No SLA in force that your token may read in this unit.", "info")];
  ctx.onRendered(() => {
    performance.mark("portal:unit:rendered");
    performance.measure("portal:unit", "portal:unit:start", "portal:unit:rendered");
    document.body.dataset.renderMs = String(Math.round(performance.now() - started));
    const stop = subscribe(
      `subscription PortalStatus($unit: String) { objectiveStatusChanged(businessUnit: $unit, minIntervalSeconds: 1) {
        objective { id name indicator } agreement { id name } status { compliance budgetRemaining state } } }`,
      { unit: name },
      ({ objectiveStatusChanged: event }) => {
        const row = document.querySelector(`tr[data-objective="${CSS.escape(event.objective.id)}"]`);
        if (!row) return;
        row.querySelector(".state").replaceChildren(badge(event.status.state));
        row.querySelector(".compliance").textContent = percent(event.status.compliance);
        row.querySelector(".budget").textContent = share(event.status.budgetRemaining);
        row.classList.add("updated");
        ctx.announce(`${event.agreement ? event.agreement.name : ""} ${event.objective.name || enumText(event.objective.indicator)}: ${STATE_LABELS[event.status.state]}, compliance ${percent(event.status.compliance)}.`);
      },
      (state) => {
        document.body.dataset.live = state;
        live.textContent = state === "live" ? "Live updates: on (changes appear here without reloading)." : `Live updates: ${state.startsWith("closed") ? "off" : state}.`;
      });
    ctx.onLeave(stop);
  });
  return view;
}

// ---- objective detail: error budget and burn rates -------------------------------

const HISTORY = 14; // points, two days apart

function objectiveQuery() {
  const vars = Array.from({ length: HISTORY }, (_, i) => `$t${i}: DateTime!`).join(", ");
  const aliases = Array.from({ length: HISTORY }, (_, i) => `h${i}: status(at: $t${i}) { budgetRemaining compliance }`).join("\n");
  return `query PortalObjective($sla: ID!, ${vars}) { node(id: $sla) { ... on ServiceLevelAgreement { id name customer { name }
    effectiveObjectives { id name indicator target windowKind windowDays
      status { windowStart windowEnd good total compliance dataCoverage budgetRemaining state exhaustionForecast burnRates { windowSeconds rate } }
      ${aliases} } } } }`;
}

export async function objective(ctx, slaId, objectiveId) {
  const now = Date.now();
  const times = Array.from({ length: HISTORY }, (_, i) => new Date(now - (HISTORY - 1 - i) * 2 * 86400_000));
  const variables = { sla: slaId };
  times.forEach((t, i) => { variables[`t${i}`] = t.toISOString(); });
  const { data, errors } = await gql(objectiveQuery(), variables);
  const sla = data.node;
  const o = sla && (sla.effectiveObjectives || []).find((x) => x.id === objectiveId);
  if (!o) return [heading("Objective not found"), notice("No such objective that your token may read.", "info")];
  const title = o.name || enumText(o.indicator);
  const st = o.status;
  const points = times.map((t, i) => ({ label: day(t).slice(5), value: o[`h${i}`].budgetRemaining === null ? null : o[`h${i}`].budgetRemaining / 100, compliance: o[`h${i}`].compliance }));
  const facts = h("dl", { class: "facts" },
    [["State", badge(st.state)], ["Compliance", percent(st.compliance)], ["Target", percent(o.target)],
      ["Error budget left", share(st.budgetRemaining)], ["Window", `${date(st.windowStart)} – ${date(st.windowEnd)}`],
      ["Data coverage", share(st.dataCoverage)], ["Budget exhausted by (forecast)", st.exhaustionForecast ? date(st.exhaustionForecast) : "not forecast"]]
      .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { "data-fact": k }, v))));
  return [heading(title, `${sla.name}${sla.customer ? ` (customer: ${sla.customer.name})` : ""}`), warnings(errors), facts,
    h("div", { class: "charts" }, h("section", { "aria-labelledby": "budget-h" }, h("h2", { id: "budget-h" }, "Error budget over the last four weeks"),
      h("figure", {}, budgetChart(points, `Error budget left of ${title}, every two days over four weeks`),
        h("figcaption", {}, "Share of the error budget left in the objective's window at each day; below 0 the budget is exhausted.")),
      h("details", {}, h("summary", {}, "The numbers"),
        table("Error budget by day", ["Day", "Budget left", "Compliance"],
          points.map((p, i) => h("tr", {}, h("th", { scope: "row" }, day(times[i])), h("td", { class: "num" }, share(p.value === null ? null : 100 * p.value)), h("td", { class: "num" }, percent(p.compliance))))))),
    h("section", { "aria-labelledby": "burn-h" }, h("h2", { id: "burn-h" }, "Burn rates"),
      st.burnRates.length
        ? [h("figure", {}, burnChart(st.burnRates, `Burn rates of ${title} per look-back window`),
            h("figcaption", {}, "How fast the budget burns over each look-back window: 1.0x spends exactly the whole budget over the objective's window.")),
          table("Burn rate by window", ["Window (seconds)", "Rate"], st.burnRates.map((r) => h("tr", {}, h("th", { scope: "row" }, r.windowSeconds), h("td", { class: "num" }, `${r.rate.toFixed(2)}x`))))]
        : notice("No burn rates yet (no data in the window).", "info")))];
}

// ---- violations and their remediation --------------------------------------------

const VIOLATIONS = `query PortalViolations($status: [ViolationStatus!]) {
  violationsOf(status: $status, first: 100) { edges { node {
    id periodStart periodEnd measured target severity status detectedAt rcaDueAt rootCauseSummary
    agreement { id kind name businessUnit }
    objective { name indicator }
    actions { id kind description owner dueAt status doneAt }
    credit { status amount currency percent }
  } } }
}`;

export async function violations(ctx, params) {
  const status = params.get("status");
  const { data, errors } = await gql(VIOLATIONS, { status: status ? [status] : null });
  const items = data.violationsOf.edges.map((e) => e.node);
  const filter = h("form", { class: "filters", "aria-label": "Filter violations" },
    h("label", { for: "status-filter" }, "Remediation state"),
    h("select", { id: "status-filter", name: "status", onchange: (ev) => ctx.go(`#/violations${ev.target.value ? `?status=${ev.target.value}` : ""}`) },
      [["", "All"], ["OPEN", "Open"], ["ACTIONS_OPEN", "Actions open"], ["CLOSED", "Closed"], ["VOID", "Void"]]
        .map(([v, t]) => h("option", { value: v, selected: v === (status || "") }, t))));
  const rows = items.map((v) => h("tr", { "data-violation": v.id },
    h("th", { scope: "row" }, v.agreement.name, h("br"), h("small", {}, `${v.agreement.kind}${v.agreement.businessUnit ? ` · ${v.agreement.businessUnit}` : ""}`)),
    h("td", {}, v.objective.name || enumText(v.objective.indicator)),
    h("td", {}, `${day(v.periodStart)} – ${day(v.periodEnd)}`),
    h("td", { class: "num" }, `${percent(v.measured)} < ${percent(v.target)}`),
    h("td", {}, enumText(v.severity)),
    h("td", { class: `status status-${v.status.toLowerCase()}` }, enumText(v.status)),
    h("td", {}, day(v.rcaDueAt), v.rootCauseSummary ? [h("br"), h("small", {}, v.rootCauseSummary)] : null),
    h("td", {}, v.actions.length
      ? h("ul", { class: "plain" }, v.actions.map((a) => h("li", {}, `${enumText(a.status)}: ${a.description} (${a.owner}, due ${day(a.dueAt)})`)))
      : "none"),
    h("td", {}, v.credit ? `${v.credit.amount.toFixed(2)} ${v.credit.currency} (${enumText(v.credit.status)})` : "none")));
  return [heading("Violations", "Breached objectives and where their remediation stands."), warnings(errors), filter,
    items.length
      ? table("Violations with their remediation", ["Agreement", "Objective", "Period", "Measured", "Severity", "State", "RCA due", "Actions", "Credit"], rows, { class: "violations" })
      : notice("No violations that your token may read.", "info")];
}

// ---- services, dependency graph, impact -------------------------------------------

const SERVICES = `query PortalServices { services(first: 500) { edges { node { id name tier businessUnit region } } } }`;

export async function services(ctx) {
  const { data, errors } = await gql(SERVICES);
  const rows = data.services.edges.map(({ node: s }) => h("tr", {},
    h("th", { scope: "row" }, link(`#/service/${enc(s.id)}`, s.name)),
    h("td", {}, enumText(s.tier)), h("td", {}, s.businessUnit || ""), h("td", {}, s.region || ""),
    h("td", {}, link(`#/impact/${enc(s.id)}`, "impact", { "aria-label": `Impact of ${s.name}` }))));
  return [heading("Services", "Open a service to see what it depends on, and where its agreements leave gaps."), warnings(errors),
    table("Services", ["Service", "Tier", "Business unit", "Region", "Impact"], rows)];
}

const GRAPH = `query PortalGraph($id: ID!) {
  node(id: $id) { ... on Service { id name businessUnit
    slas(status: [ACTIVE]) { id name coverageGaps { kind indicator required provided detail component { id name } } } } }
  dependencyChain(id: $id) { truncated root { __typename id name }
    components { depth component { __typename id name } } edges { from { id } to { id } } }
}`;

export async function service(ctx, id) {
  const { data, errors } = await gql(GRAPH, { id });
  const svc = data.node;
  const chain = data.dependencyChain;
  const gaps = (svc && svc.slas ? svc.slas : []).flatMap((sla) => (sla.coverageGaps || []).map((g) => ({ ...g, sla })));
  const onChain = new Set([chain.root.id, ...chain.components.map((c) => c.component.id)]);
  const byComponent = new Map();
  for (const g of gaps) {
    // A gap of a component off the drawn chain (or of none) is marked on the service.
    const key = g.component && onChain.has(g.component.id) ? g.component.id : chain.root.id;
    if (!byComponent.has(key)) byComponent.set(key, []);
    byComponent.get(key).push(g);
  }
  const name = chain.root.name;
  return [heading(`${name}: dependencies`, `What ${name} depends on, by depth. Components marked ⚠ have coverage gaps; open a component for its impact.`),
    warnings(errors),
    chain.truncated ? notice("The chain is longer than shown (truncated at the depth limit).", "warning") : null,
    h("figure", { class: "graph-wrap" },
      h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": `Dependency graph of ${name}` },
        dependencyGraph(chain, byComponent, `Dependency graph of ${name}: ${chain.components.length} components`)),
      h("figcaption", {}, h("span", { class: "key service" }, "service"), " ", h("span", { class: "key ci" }, "configuration item"), " ",
        h("span", { class: "key gap" }, "⚠ coverage gap"), " — arrows point to what a component depends on.")),
    h("section", { "aria-labelledby": "gaps-h" }, h("h2", { id: "gaps-h" }, "Coverage gaps"),
      gaps.length
        ? table("Coverage gaps of the SLAs covering this service", ["SLA", "Component", "Kind", "Required", "Provided", "Detail"],
          gaps.map((g) => h("tr", { "data-gap-component": g.component ? g.component.id : "" },
            h("th", { scope: "row" }, g.sla.name), h("td", {}, g.component ? g.component.name : "—"), h("td", {}, enumText(g.kind)),
            h("td", { class: "num" }, g.required ?? ""), h("td", { class: "num" }, g.provided ?? ""), h("td", {}, g.detail))), { class: "gaps" })
        : h("p", {}, "No coverage gaps shown.")),
    h("section", { "aria-labelledby": "chain-h" }, h("h2", { id: "chain-h" }, "Components"),
      table("Components on the chain", ["Component", "Kind", "Depth"],
        chain.components.map(({ depth, component: c }) => h("tr", {},
          h("th", { scope: "row" }, link(`#/impact/${enc(c.id)}`, c.name)), h("td", {}, c.__typename === "Service" ? "service" : "configuration item"), h("td", { class: "num" }, depth)))))];
}

const IMPACT = `query PortalImpact($id: ID!) {
  impact(id: $id) { root { __typename id name }
    components { depth component { __typename id name } }
    agreements { id kind name businessUnit status }
    customers { id name region businessUnit } }
}`;

export async function impact(ctx, id) {
  const { data, errors } = await gql(IMPACT, { id });
  const imp = data.impact;
  return [heading(`Impact of ${imp.root.name}`, "Everything that depends on it, and the agreements and customers exposed if it fails."), warnings(errors),
    h("ul", { class: "summary" }, h("li", {}, h("strong", {}, imp.components.length), " components"), h("li", {}, h("strong", {}, imp.agreements.length), " agreements"), h("li", {}, h("strong", {}, imp.customers.length), " customers")),
    h("section", { "aria-labelledby": "imp-c" }, h("h2", { id: "imp-c" }, "Components that depend on it"),
      table("Dependent components", ["Component", "Kind", "Depth"], imp.components.map(({ depth, component: c }) => h("tr", {},
        h("th", { scope: "row" }, c.__typename === "Service" ? link(`#/service/${enc(c.id)}`, c.name) : c.name),
        h("td", {}, c.__typename === "Service" ? "service" : "configuration item"), h("td", { class: "num" }, depth))))),
    h("section", { "aria-labelledby": "imp-a" }, h("h2", { id: "imp-a" }, "Agreements exposed"),
      table("Agreements exposed", ["Agreement", "Kind", "Business unit", "Status"], imp.agreements.map((a) => h("tr", {},
        h("th", { scope: "row" }, a.name), h("td", {}, a.kind), h("td", {}, a.businessUnit || ""), h("td", {}, enumText(a.status)))))),
    h("section", { "aria-labelledby": "imp-cu" }, h("h2", { id: "imp-cu" }, "Customers exposed"),
      table("Customers exposed", ["Customer", "Business unit", "Region"], imp.customers.map((c) => h("tr", {},
        h("th", { scope: "row" }, c.name), h("td", {}, c.businessUnit || ""), h("td", {}, c.region || "")))))];
}

// ---- reports -----------------------------------------------------------------------

const REPORT_HOME = `query PortalReports { reportTemplates
  reportSnapshots(first: 20) { id publishedAt publishedBy hash report { template from to } files { format url sha256 bytes } } }`;

const ROW = "level label month good total compliance target met violations creditAmount comments { visibility author text }";
const REPORT = `query PortalReport($template: String!, $from: DateTime!, $to: DateTime!) {
  complianceReport(template: $template, from: $from, to: $to) { template audience from to generatedAt
    rows { ${ROW} children { ${ROW} children { ${ROW} children { ${ROW} children { ${ROW} } } } } } } }`;

function monthStart(offset) {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
}

function reportRows(row, depth, parentKey, out) {
  const key = `${parentKey}/${row.label}`;
  const hasChildren = row.children && row.children.length > 0;
  const toggle = hasChildren
    ? h("button", { type: "button", class: "toggle", "aria-expanded": depth === 0 ? "true" : "false", "aria-label": `Show the rows of ${row.label}`, "data-key": key }, depth === 0 ? "−" : "+")
    : null;
  out.push(h("tr", { "data-key": key, "data-parent": parentKey, "data-level": row.level, class: `level-${row.level.toLowerCase()}`, hidden: depth > 1 },
    h("th", { scope: "row", class: `indent-${depth}` }, toggle, " ", row.label),
    h("td", {}, enumText(row.level)),
    h("td", { class: "num" }, percent(row.compliance)),
    h("td", { class: "num" }, row.target === null ? "" : percent(row.target)),
    h("td", {}, row.met === null ? "" : row.met ? "met" : "missed"),
    h("td", { class: "num" }, row.violations),
    h("td", { class: "num" }, row.creditAmount.toFixed(2)),
    h("td", {}, row.comments.map((c) => h("p", { class: `comment ${c.visibility.toLowerCase()}` }, `${c.author}: ${c.text}`)))));
  for (const child of row.children || []) reportRows(child, depth + 1, key, out);
}

function drillDown(event) {
  const button = event.target.closest("button.toggle");
  if (!button) return;
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  button.textContent = open ? "−" : "+";
  const key = button.dataset.key;
  const tbody = button.closest("tbody");
  const hide = (parent) => {
    for (const tr of tbody.querySelectorAll(`tr[data-parent="${CSS.escape(parent)}"]`)) {
      tr.hidden = true;
      const inner = tr.querySelector("button.toggle");
      if (inner) { inner.setAttribute("aria-expanded", "false"); inner.textContent = "+"; }
      hide(tr.dataset.key);
    }
  };
  if (open) for (const tr of tbody.querySelectorAll(`tr[data-parent="${CSS.escape(key)}"]`)) tr.hidden = false;
  else hide(key);
}

export async function reports(ctx, params) {
  const { data, errors } = await gql(REPORT_HOME);
  const template = params.get("template") || data.reportTemplates[0];
  const from = params.get("from") || monthStart(-3).toISOString().slice(0, 7);
  const to = params.get("to") || monthStart(0).toISOString().slice(0, 7);
  const form = h("form", { class: "filters", "aria-label": "Report" },
    h("label", { for: "template" }, "Template"),
    h("select", { id: "template", name: "template" }, data.reportTemplates.map((t) => h("option", { value: t, selected: t === template }, t))),
    h("label", { for: "from" }, "From month"), h("input", { id: "from", name: "from", type: "month", value: from, required: true }),
    h("label", { for: "to" }, "To month (excluded)"), h("input", { id: "to", name: "to", type: "month", value: to, required: true }),
    h("button", { type: "submit" }, "Show report"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    ctx.go(`#/reports?template=${enc(f.get("template"))}&from=${f.get("from")}&to=${f.get("to")}`);
  });
  const body = [];
  if (params.get("template")) {
    const report = (await gql(REPORT, { template, from: `${from}-01T00:00:00Z`, to: `${to}-01T00:00:00Z` })).data.complianceReport;
    const roots = report.rows.some((r) => r.level === "TOTAL") ? report.rows.filter((r) => r.level === "TOTAL") : report.rows;
    const out = [];
    roots.forEach((r) => reportRows(r, 0, "", out));
    const t = table(`Compliance report (${report.template}, ${enumText(report.audience)}), ${day(report.from)} to ${day(report.to)}`,
      ["Row", "Level", "Compliance", "Target", "Met", "Violations", "Credits", "Comments"], out, { class: "report" });
    t.addEventListener("click", drillDown);
    body.push(h("section", { "aria-labelledby": "report-h" }, h("h2", { id: "report-h" }, "Report"),
      h("p", { class: "help" }, "Open a row (+) to drill down: business unit, region, service, objective and month."), t));
  }
  const status = h("p", { class: "help", role: "status" });
  const snapshots = data.reportSnapshots.map((snap) => h("tr", { "data-snapshot": snap.id },
    h("th", { scope: "row" }, `${snap.report.template}, ${day(snap.report.from)} – ${day(snap.report.to)}`),
    h("td", {}, date(snap.publishedAt)), h("td", {}, snap.publishedBy),
    h("td", {}, snap.files.map((file) => h("button", {
      type: "button", class: "download", "data-format": file.format,
      "aria-label": `Download ${file.format} of ${snap.report.template} published ${date(snap.publishedAt)}`,
      onclick: async () => {
        const name = `${snap.id}.${file.format.toLowerCase()}`;
        try {
          const bytes = await download(file.url, name);
          status.textContent = `Downloaded ${name} (${bytes} bytes; SHA-256 ${file.sha256.slice(0, 12)}…).`;
        } catch (error) { status.textContent = error.message; }
      },
    }, file.format)))));
  return [heading("Reports", "Compliance reports to read, with drill-down, and published snapshots to download."), warnings(errors), form, body,
    h("section", { "aria-labelledby": "snap-h" }, h("h2", { id: "snap-h" }, "Published reports"),
      snapshots.length ? table("Published report snapshots", ["Report", "Published", "By", "Download"], snapshots, { class: "snapshots" })
        : h("p", {}, "No published report that your token may read."), status)];
}

// ---- change requests -----------------------------------------------------------------

const CHANGES = `query PortalChanges {
  changeRequests { id requestedBy at summary status decidedBy reason agreement { id name kind } revision { id version status } }
  agreements(kind: [SLA], status: [ACTIVE], first: 500) { edges { node { id name } } } }`;

const SUBMIT = `mutation PortalSubmit($agreementId: ID!, $summary: String!) { submitChangeRequest(agreementId: $agreementId, summary: $summary) { id status } }`;
const ACCEPT = `mutation PortalAccept($id: ID!, $note: String) { acceptChangeRequest(id: $id, note: $note) { id status revision { id version status } } }`;
const DECLINE = `mutation PortalDecline($id: ID!, $reason: String!) { declineChangeRequest(id: $id, reason: $reason) { id status } }`;

export async function changes(ctx) {
  const { data, errors } = await gql(CHANGES);
  const status = h("p", { class: "help", role: "status", id: "change-status" });
  const act = async (query, variables, done) => {
    try {
      await gql(query, variables);
      ctx.announce(done);
      ctx.refresh();
    } catch (error) {
      status.textContent = error.message;
    }
  };
  const form = h("form", { class: "card", "aria-labelledby": "submit-h" },
    h("h2", { id: "submit-h" }, "Ask for a change"),
    h("label", { for: "cr-agreement" }, "Agreement"),
    h("select", { id: "cr-agreement", name: "agreementId", required: true }, data.agreements.edges.map(({ node: a }) => h("option", { value: a.id }, a.name))),
    h("label", { for: "cr-summary" }, "What should change, and why"),
    h("textarea", { id: "cr-summary", name: "summary", rows: 3, required: true, maxlength: 2000 }),
    h("button", { type: "submit" }, "Submit change request"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    act(SUBMIT, { agreementId: f.get("agreementId"), summary: f.get("summary") }, "Change request submitted.");
  });
  const rows = data.changeRequests.map((r) => h("tr", { "data-request": r.id, "data-status": r.status },
    h("th", { scope: "row" }, r.summary), h("td", {}, r.agreement.name), h("td", {}, r.requestedBy), h("td", {}, date(r.at)),
    h("td", { class: `cr-status cr-${r.status.toLowerCase()}` }, enumText(r.status),
      r.decidedBy ? h("small", {}, ` by ${r.decidedBy}`) : null, r.reason ? h("small", {}, `: ${r.reason}`) : null,
      r.revision ? h("small", {}, ` (draft version ${r.revision.version}, ${enumText(r.revision.status)})`) : null),
    h("td", {}, r.status === "SUBMITTED" ? [
      h("button", { type: "button", class: "accept", "aria-label": `Accept: ${r.summary}`, onclick: () => act(ACCEPT, { id: r.id, note: "accepted in the portal" }, "Change request accepted.") }, "Accept"),
      " ",
      h("button", { type: "button", class: "decline secondary", "aria-label": `Decline: ${r.summary}`, onclick: () => {
        const reason = prompt("Why is it declined? The requester is shown this reason.");
        if (reason) act(DECLINE, { id: r.id, reason }, "Change request declined.");
      } }, "Decline")] : "")));
  return [heading("Change requests", "Ask for a change of an agreement and follow what becomes of it. Editors accept or decline."),
    warnings(errors), form, status,
    h("section", { "aria-labelledby": "cr-h" }, h("h2", { id: "cr-h" }, "Requests"),
      rows.length ? table("Change requests, newest first", ["Summary", "Agreement", "Requested by", "At", "Status", "Decide"], rows, { class: "changes" })
        : h("p", {}, "No change requests yet."))];
}

export { ApiError };
