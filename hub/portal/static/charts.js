// Inline SVG charts and the dependency graph, drawn from GraphQL answers. Each figure
// has a text alternative (role="img" with a label, and a table beside it in the view).

import { s } from "./dom.js";

const W = 640;
const H = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

// Error budget remaining (a fraction of the budget, 1 = untouched) at each instant.
export function budgetChart(points, label) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const values = points.map((p) => p.value).filter((v) => v !== null);
  // An overspent budget can be many times the budget below zero: the axis stops at
  // -100 % and such points sit on it, marked (their value is in their tooltip).
  const FLOOR = -1;
  const low = Math.max(FLOOR, Math.min(0, ...values));
  const high = 1;
  const x = (i) => PAD.left + (points.length < 2 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (v) => PAD.top + ((high - Math.min(high, Math.max(low, v))) * plotH) / (high - low || 1);
  const ticks = [low, 0, 0.5, 1].filter((v, i, all) => all.indexOf(v) === i && v >= low && v <= high);
  const known = points.map((p, i) => [p, i]).filter(([p]) => p.value !== null);
  const path = known.map(([p, i], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart budget-chart", role: "img", "aria-label": label },
    s("title", {}, label),
    ticks.map((v) => [
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: v === 0 ? "axis zero" : "grid" }),
      s("text", { x: PAD.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, `${Math.round(v * 100)}%`),
    ]),
    points.map((p, i) => (i % Math.ceil(points.length / 6) === 0 || i === points.length - 1)
      ? s("text", { x: x(i), y: H - 12, class: "tick", "text-anchor": "middle" }, p.label) : null),
    s("path", { d: path, class: "line" }),
    known.map(([p, i]) => s("circle", { cx: x(i), cy: y(p.value), r: 3, class: p.value < 0 ? "dot bad" : "dot" },
      s("title", {}, `${p.label}: ${(p.value * 100).toFixed(1)} % of the budget left`))),
  );
}

const windowLabel = (seconds) =>
  seconds % 86400 === 0 ? `${seconds / 86400} d` : seconds % 3600 === 0 ? `${seconds / 3600} h` : `${seconds / 60} min`;

// Burn rates per look-back window; 1.0 spends the whole budget over the objective's window.
export function burnChart(rates, label) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const high = Math.max(2, ...rates.map((r) => r.rate)) * 1.1;
  const band = plotW / Math.max(1, rates.length);
  const y = (v) => PAD.top + plotH - (v * plotH) / high;
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart burn-chart", role: "img", "aria-label": label },
    s("title", {}, label),
    s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: "axis" }),
    s("line", { x1: PAD.left, x2: W - PAD.right, y1: y(1), y2: y(1), class: "axis one" }),
    s("text", { x: PAD.left - 6, y: y(1) + 4, class: "tick", "text-anchor": "end" }, "1.0x"),
    rates.map((r, i) => [
      s("rect", {
        x: PAD.left + i * band + band * 0.2, width: band * 0.6, y: y(r.rate), height: Math.max(0, y(0) - y(r.rate)),
        class: r.rate > 1 ? "bar hot" : "bar", "data-window": r.windowSeconds,
      }, s("title", {}, `${windowLabel(r.windowSeconds)}: ${r.rate.toFixed(2)}x`)),
      s("text", { x: PAD.left + (i + 0.5) * band, y: H - 12, class: "tick", "text-anchor": "middle" }, windowLabel(r.windowSeconds)),
      s("text", { x: PAD.left + (i + 0.5) * band, y: y(r.rate) - 4, class: "value", "text-anchor": "middle" }, r.rate.toFixed(2)),
    ]),
  );
}

// A layered drawing of a dependency chain: one column per depth (the root at 0),
// edges from a component to what it depends on, components with coverage gaps marked.
export function dependencyGraph(chain, gapsByComponent, label) {
  const layers = new Map();
  for (const { depth, component } of [{ depth: 0, component: chain.root }, ...chain.components]) {
    if (!layers.has(depth)) layers.set(depth, []);
    if (!layers.get(depth).some((c) => c.id === component.id)) layers.get(depth).push(component);
  }
  const depths = [...layers.keys()].sort((a, b) => a - b);
  const colW = 220;
  const rowH = 64;
  const nodeW = 180;
  const nodeH = 40;
  const tallest = Math.max(...depths.map((d) => layers.get(d).length));
  const width = depths.length * colW + 20;
  const height = tallest * rowH + 40;
  const at = new Map();
  depths.forEach((depth, column) => {
    const layer = layers.get(depth).sort((a, b) => a.name.localeCompare(b.name));
    const offset = 0; // top-aligned: the service itself sits at the top left
    layer.forEach((c, row) => at.set(c.id, { x: 10 + column * colW, y: 20 + offset + row * rowH, c, depth }));
  });
  const edges = chain.edges.filter((e) => at.has(e.from.id) && at.has(e.to.id)).map((e) => {
    const a = at.get(e.from.id);
    const b = at.get(e.to.id);
    const [x1, y1, x2, y2] = [a.x + nodeW, a.y + nodeH / 2, b.x, b.y + nodeH / 2];
    const back = x2 <= x1;
    const d = back
      ? `M${a.x + nodeW / 2},${a.y + nodeH} C${a.x + nodeW / 2},${a.y + nodeH + 30} ${b.x + nodeW / 2},${b.y + nodeH + 30} ${b.x + nodeW / 2},${b.y + nodeH}`
      : `M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}`;
    return s("path", { d, class: "edge", "marker-end": "url(#arrow)" });
  });
  const nodes = [...at.values()].map(({ x, y, c, depth }) => {
    const gaps = gapsByComponent.get(c.id) || [];
    const kind = c.__typename === "Service" ? "service" : "ci";
    const title = `${c.name} (${c.__typename === "Service" ? "service" : "configuration item"}, depth ${depth})` +
      (gaps.length ? `: coverage gap ${gaps.map((g) => g.kind.toLowerCase().replaceAll("_", " ")).join(", ")}` : "");
    return s("a", { href: `#/impact/${encodeURIComponent(c.id)}`, class: "node-link", "aria-label": `${title}; open its impact` },
      s("g", { class: `node ${kind}${gaps.length ? " gap" : ""}`, "data-id": c.id, "data-depth": depth, "data-gap": gaps.length ? "true" : null },
        s("title", {}, title),
        s("rect", { x, y, width: nodeW, height: nodeH, rx: 6 }),
        s("text", { x: x + 10, y: y + 25, class: "label" }, c.name.length > 22 ? `${c.name.slice(0, 21)}…` : c.name),
        gaps.length ? s("text", { x: x + nodeW - 8, y: y + 25, class: "gap-mark", "text-anchor": "end" }, "⚠") : null));
  });
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "graph", role: "group", "aria-label": label },
    s("title", {}, label),
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }))),
    edges, nodes);
}
