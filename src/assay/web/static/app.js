// The app shell and router: path → page module. Every byte of data comes from the public JSON
// API (/api/v1); text is inserted with textContent (js/api.js el()), markdown goes through
// js/markdown.js, so task, label and instruction text stays inert.

import { api, csrf, el, navigate, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";

const view = document.getElementById("view");
let me = null;
let current = null; // the mounted page's handle ({destroy?}) so leaving it can clean up
let renderId = 0;

// [pattern, nav section, load(match, params) → handle|undefined]
const ROUTES = [
  [/^\/(?:projects\/?)?$/, "projects", () => page("/static/js/manager/projects.js", "renderProjects")],
  [/^\/projects\/([^/]+)\/?$/, "projects", (m) =>
    page("/static/js/manager/project.js", "renderProject", decodeURIComponent(m[1]))],
  [/^\/label\/([^/]+)\/?$/, "label", (m, q) => labeling(decodeURIComponent(m[1]), q, "label")],
  [/^\/review\/([^/]+)\/?$/, "label", (m, q) => labeling(decodeURIComponent(m[1]), q, "review")],
  [/^\/dashboard\/([^/]+)\/?$/, "projects", (m) =>
    page("/static/js/dashboard.js", "renderDashboard", decodeURIComponent(m[1]))],
  [/^\/people\/?$/, "people", () => page("/static/js/manager/people.js", "renderPeople")],
  [/^\/datasets\/?$/, "datasets", () => page("/static/js/curate/datasets.js", "renderDatasets")],
  [/^\/datasets\/([^/]+)\/?$/, "datasets", (m) =>
    page("/static/js/curate/explorer.js", "renderExplorer", decodeURIComponent(m[1]))],
  [/^\/datasets\/([^/]+)\/models\/?$/, "datasets", (m) =>
    page("/static/js/curate/models.js", "renderModels", decodeURIComponent(m[1]))],
  [/^\/datasets\/([^/]+)\/models\/compare\/?$/, "datasets", (m) =>
    page("/static/js/curate/compare.js", "renderCompare", decodeURIComponent(m[1]))],
  [/^\/datasets\/([^/]+)\/models\/([^/]+)\/?$/, "datasets", (m) =>
    page("/static/js/curate/evaluation.js", "renderEvaluation", decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
];

// Each navigation renders into a mount of its own (display: contents), taken before the first
// await: a slower render of a page already left then fills a detached mount, never the view.
let mount = view;

async function page(module, exportName, ...args) {
  const into = mount;
  view.className = "page";
  const mod = await import(module);
  return mod[exportName](into, { me, ...(args.length ? { id: args[0] } : {}), ...(args.length > 1 ? { sub: args[1] } : {}) });
}

// The labeling and review workspaces belong to js/label/runner.js; the shell only mounts it.
async function labeling(projectId, query, mode) {
  const into = mount;
  view.className = "page page-wide";
  let stage = query.get("stage");
  if (!stage) {
    const project = await api(`/projects/${encodeURIComponent(projectId)}`);
    const kind = mode === "review" ? "review" : "label";
    stage = project.pipeline?.stages?.find((s) => s.kind === kind)?.name || null;
  }
  let runner;
  try {
    runner = await import("/static/js/label/runner.js");
  } catch (error) {
    into.replaceChildren(el("section", { class: "card empty", role: "alert" },
      el("h1", {}, "The labeling workspace could not be loaded"),
      el("p", {}, String(error?.message || error)),
      el("p", {}, el("a", { href: "/projects" }, "Back to projects"))));
    return undefined;
  }
  return runner.mountLabeling(into, {
    projectId, stage, mode, training: query.get("training") === "1", audit: query.get("audit") === "1",
  });
}

async function render() {
  const id = ++renderId;
  try {
    current?.destroy?.();
  } catch (error) {
    console.error(error);
  }
  current = null;
  const { pathname, search } = location;
  const query = new URLSearchParams(search);
  const route = ROUTES.find(([pattern]) => pattern.test(pathname));
  markNav(route ? route[1] : null);
  mount = el("div", { class: "view-mount" }, el("p", { class: "muted loading" }, "Loading…"));
  view.replaceChildren(mount);
  if (!route) {
    view.replaceChildren(el("section", { class: "card empty" },
      el("h1", {}, "Page not found"), el("p", {}, el("a", { href: "/projects" }, "Go to projects"))));
    return;
  }
  try {
    const handle = await route[2](pathname.match(route[0]), query);
    if (id !== renderId) handle?.destroy?.(); // a newer navigation won the race
    else current = handle || null;
  } catch (error) {
    if (id !== renderId || error?.status === 401) return;
    console.error(error);
    view.replaceChildren(el("section", { class: "card empty", role: "alert" },
      el("h1", {}, error?.status === 404 ? "Not found" : "Something went wrong"),
      el("p", {}, humanMessage(error)),
      el("p", {}, el("a", { href: "/projects" }, "Back to projects"))));
  }
}

function markNav(section) {
  for (const link of document.querySelectorAll(".topbar nav a[data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Same-origin links to app pages navigate without a reload; anything else is left alone.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest?.("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin) return;
  if (!ROUTES.some(([pattern]) => pattern.test(url.pathname))) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) {
    if (url.hash !== location.hash) history.replaceState(null, "", url.hash || url.pathname);
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});
// Back and Forward: a page with unsaved work may cancel "assay:leaving" (js/manager/unsaved.js).
window.addEventListener("popstate", () => {
  if (window.dispatchEvent(new Event("assay:leaving", { cancelable: true }))) render();
});
window.addEventListener("assay:navigate", render);

async function main() {
  try {
    me = await api("/me");
  } catch (error) {
    if (error?.status !== 401) toast(`Could not load your account: ${humanMessage(error)}`, "error");
    return;
  }
  document.getElementById("who").textContent =
    `${me.user.name || me.user.email} · ${me.user.role}`;
  if (me.user.role === "admin") document.querySelector('nav a[data-section="people"]')?.removeAttribute("hidden");
  if (["manager", "admin"].includes(me.user.role)) {
    document.querySelector('nav a[data-section="datasets"]')?.removeAttribute("hidden");
  }
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf() } });
    location.href = "/login";
  });
  await render();
}

main();
