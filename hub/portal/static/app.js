// The portal's router: hash routes, one view function each (views.js).

import { ApiError, session } from "./api.js";
import { h } from "./dom.js";
import * as views from "./views.js";

const main = document.getElementById("main");
const live = document.getElementById("announcements");
const nav = document.getElementById("nav");

const ROUTES = [
  [/^#\/?$/, views.units, "home"],
  [/^#\/unit\/([^/]+)$/, views.unit, "home"],
  [/^#\/objective\/([^/]+)\/([^/]+)$/, views.objective, "home"],
  [/^#\/violations$/, views.violations, "violations"],
  [/^#\/services$/, views.services, "services"],
  [/^#\/service\/([^/]+)$/, views.service, "services"],
  [/^#\/impact\/([^/]+)$/, views.impact, "services"],
  [/^#\/reports$/, views.reports, "reports"],
  [/^#\/changes$/, views.changes, "changes"],
];

let leaving = [];
let generation = 0;

const ctx = {
  go(hash, replace = false) {
    if (replace) history.replaceState(null, "", hash);
    if (replace || location.hash === hash) render();
    else location.hash = hash;
    return null;
  },
  refresh: () => render(),
  announce(message) {
    live.textContent = message;
  },
  onRendered: (callback) => pending.push(callback),
  onLeave: (callback) => leaving.push(callback),
};
let pending = [];

function markNav(section) {
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render() {
  const mine = ++generation;
  leaving.forEach((stop) => stop());
  leaving = [];
  pending = [];
  const signedIn = Boolean(session.token());
  document.body.dataset.signedIn = String(signedIn);
  nav.hidden = !signedIn;
  const [path, query] = location.hash.split("?");
  const params = new URLSearchParams(query || "");
  main.setAttribute("aria-busy", "true");
  document.body.dataset.ready = "false";
  let content;
  if (!signedIn) {
    content = views.signIn(ctx);
    markNav(null);
  } else {
    const route = ROUTES.find(([pattern]) => pattern.test(path || "#/"));
    if (!route) {
      content = [views.heading("Not found"), views.notice("There is no such page in the portal.", "info")];
    } else {
      const [pattern, view, section] = route;
      markNav(section);
      const args = (path || "#/").match(pattern).slice(1).map(decodeURIComponent);
      try {
        content = await view(ctx, ...args, params);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) content = views.signIn(ctx, error.message);
        else content = [views.heading("Something went wrong"), views.notice(error.message)];
      }
    }
  }
  if (mine !== generation || content === null) return; // a newer navigation won
  main.replaceChildren(...[content].flat(Infinity).filter(Boolean));
  main.removeAttribute("aria-busy");
  const title = main.querySelector("h1");
  document.title = `${title ? title.textContent : "Portal"} · Service Agreements Hub`;
  if (title) title.focus({ preventScroll: true });
  pending.forEach((callback) => callback());
  pending = [];
  document.body.dataset.ready = "true";
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  ctx.go("#/");
});
window.addEventListener("hashchange", render);
render();

export { h };
