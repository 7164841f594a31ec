// Building the page from data without ever parsing data as HTML: every value is a
// text node or an attribute.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

// A table with a caption and column headers. On a phone its rows stack as cards: each
// cell is labelled with its column (data-label), counting cells spanned from above.
export function table(caption, headings, rows, attrs = {}) {
  const spanned = new Array(headings.length).fill(0);
  for (const row of rows.flat(Infinity)) {
    let column = 0;
    for (const cell of row.children) {
      while (spanned[column] > 0) { spanned[column] -= 1; column += 1; }
      cell.dataset.label = headings[column] || "";
      spanned[column] = Math.max(0, (Number(cell.getAttribute("rowspan")) || 1) - 1);
      column += Number(cell.getAttribute("colspan")) || 1;
    }
    for (; column < headings.length; column += 1) if (spanned[column] > 0) spanned[column] -= 1;
  }
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", { ...attrs, class: `${attrs.class || ""} stack`.trim() },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows)));
}

export const percent = (value, digits = 3) =>
  value === null || value === undefined ? "no data" : `${Number(value).toFixed(digits)} %`;

// A percent the hub already computed (budget left, data coverage), one decimal.
export const share = (value) =>
  value === null || value === undefined ? "no data" : `${Number(value).toFixed(1)} %`;

export const date = (value) => (value ? new Date(value).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "");

export const day = (value) => (value ? new Date(value).toISOString().slice(0, 10) : "");

export const STATE_LABELS = { HEALTHY: "Healthy", AT_RISK: "At risk", EXHAUSTED: "Exhausted", NO_DATA: "No data" };

export const badge = (state) => h("span", { class: `badge state-${(state || "NO_DATA").toLowerCase()}` }, STATE_LABELS[state] || state);

export const enumText = (value) => (value || "").toLowerCase().replaceAll("_", " ");
