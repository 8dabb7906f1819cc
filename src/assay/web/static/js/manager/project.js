// A project's page: a header with the work buttons and tabs (Overview, Tasks, Data, Taxonomy,
// Instructions, Pipeline, Members). The tab is kept in the URL (?tab=) so a reload or a shared
// link lands on it; tabs follow the WAI-ARIA pattern (arrow keys move between them).

import { api, css, el } from "/static/js/api.js";
import { workStages } from "/static/js/manager/roles.js";
import { badge, typeName } from "/static/js/manager/ui.js";

const TABS = [
  ["overview", "Overview", "/static/js/manager/overview.js"],
  ["tasks", "Tasks", "/static/js/manager/tasks.js"],
  ["data", "Data", "/static/js/manager/upload.js"],
  ["taxonomy", "Taxonomy", "/static/js/manager/taxonomy.js"],
  ["instructions", "Instructions", "/static/js/manager/instructions.js"],
  ["pipeline", "Pipeline", "/static/js/manager/pipeline.js"],
  ["members", "Members", "/static/js/manager/members.js"],
  ["quality", "Quality", "/static/js/manager/quality.js"],
  ["exports", "Exports", "/static/js/manager/exports.js"],
];
// What someone who works in the project but does not manage it sees (Quality: their own).
const WORKER_TABS = ["overview", "instructions", "quality"];

export async function renderProject(view, { me, id }) {
  css("/static/css/manager.css");
  let project = await api(`/projects/${encodeURIComponent(id)}`);
  // The callback secret is only sent to the project's managers: it doubles as the role check.
  const manages = project.callback_secret !== null && project.callback_secret !== undefined;
  const tabs = TABS.filter(([key]) => manages || WORKER_TABS.includes(key));
  let active = null;
  let handle = null;
  let renderToken = 0;

  const title = el("h1", {}, project.name);
  const meta = el("p", { class: "muted project-meta" });
  const work = el("div", { class: "actions" });
  const tabList = el("div", { class: "tabs", role: "tablist", "aria-label": "Project sections" });
  const panel = el("section", { class: "tab-panel", role: "tabpanel", tabindex: "-1" });

  function paintHeader() {
    document.title = `${project.name} · Assay`;
    title.textContent = project.name;
    meta.replaceChildren(...[badge(typeName(project.task_type), "type"),
      project.archived ? badge("archived", "muted") : null,
      el("span", { class: "mono small" }, project.id)].filter(Boolean));
    const pid = encodeURIComponent(project.id);
    work.replaceChildren(...(project.archived ? [] : workStages(me, project).map(({ index, ...stage }) => el("a", {
      class: `button ${index === 0 ? "primary" : "secondary"}`,
      href: `/${stage.kind === "review" ? "review" : "label"}/${pid}?stage=${encodeURIComponent(stage.name)}`,
    }, stage.kind === "review" ? `Review (${stage.name})` : index === 0 ? "Start labeling" : `Label (${stage.name})`))));
    if (manages) {
      work.append(el("button", { type: "button", class: "secondary", onclick: async () => {
        const { exportDialog } = await import("/static/js/manager/exports.js");
        await exportDialog(ctx);
      } }, "Export"));
    }
  }

  const ctx = {
    me,
    manages,
    get project() {
      return project;
    },
    // Tabs that change the project (taxonomy, pipeline …) hand back the server's version.
    setProject(next) {
      project = next;
      paintHeader();
    },
    show: (key, options) => show(key, options, true),
  };

  async function show(key, options = {}, push = true) {
    if (!tabs.some(([k]) => k === key)) key = "overview";
    const token = ++renderToken;
    active = key;
    for (const button of tabList.children) {
      const selected = button.dataset.tab === key;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${key}`);
    if (push) {
      const url = new URL(location.href);
      url.searchParams.set("tab", key);
      for (const name of [...url.searchParams.keys()]) if (name !== "tab") url.searchParams.delete(name);
      for (const [name, value] of Object.entries(options)) if (value) url.searchParams.set(name, value);
      if (url.href !== location.href) history.pushState(null, "", url);
    }
    try {
      handle?.destroy?.();
    } catch (error) {
      console.error(error);
    }
    handle = null;
    panel.replaceChildren(el("p", { class: "muted loading" }, "Loading…"));
    const module = await import(tabs.find(([k]) => k === key)[2]);
    if (token !== renderToken) return;
    const params = new URLSearchParams(location.search);
    // Object.create keeps ctx.project a live getter (a spread would freeze today's value).
    handle = (await module.render(panel, Object.assign(Object.create(ctx), { params }))) || null;
    if (token !== renderToken) handle?.destroy?.();
  }

  for (const [key, label] of tabs) {
    tabList.append(el("button", {
      type: "button", role: "tab", id: `tab-${key}`, "data-tab": key, "aria-selected": "false",
      "aria-controls": "project-panel", onclick: () => show(key),
    }, label));
  }
  panel.id = "project-panel";
  tabList.addEventListener("keydown", (event) => {
    const keys = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
    if (!(event.key in keys)) return;
    event.preventDefault();
    const buttons = [...tabList.children];
    const index = buttons.findIndex((b) => b.dataset.tab === active);
    const step = keys[event.key];
    const next = step === -Infinity ? 0 : step === Infinity ? buttons.length - 1
      : (index + step + buttons.length) % buttons.length;
    buttons[next].focus();
    show(buttons[next].dataset.tab);
  });

  paintHeader();
  view.replaceChildren(
    el("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
      el("a", { href: "/projects" }, "Projects"), el("span", { "aria-hidden": "true" }, " / "),
      el("span", { "aria-current": "page" }, project.name)),
    el("div", { class: "page-header" }, el("div", {}, title, meta), work),
    tabList,
    panel,
  );
  await show(new URLSearchParams(location.search).get("tab") || "overview", {}, false);
  return {
    destroy() {
      renderToken++;
      handle?.destroy?.();
    },
  };
}
