// The projects page: cards with progress for managers, "Start labeling" / "Review" for
// everyone who works in a project, and the "New project" dialog.

import { api, css, el, navigate, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  TASK_TYPES, badge, emptyState, field, fetchAll, formatDate, openDialog, plural, progressBar,
  select, showFieldError, sumCounts, typeName,
} from "/static/js/manager/ui.js";
import { workStages } from "/static/js/manager/roles.js";

const isManager = (me) => ["manager", "admin"].includes(me.user.role);

export async function renderProjects(view, { me }) {
  css("/static/css/manager.css");
  document.title = "Projects · Assay";
  const manager = isManager(me);
  const header = el("div", { class: "page-header" },
    el("div", {}, el("h1", {}, "Projects"),
      el("p", { class: "muted" }, manager
        ? "Every labeling project in this workspace."
        : "The projects you label or review in.")),
    manager ? el("button", { type: "button", class: "primary", onclick: () => createProject() },
      "New project") : null);
  let projects = [];
  try {
    projects = await fetchAll("/projects", 500);
  } catch (error) {
    if (error.status === 401) throw error;
    toast(`Could not load projects: ${humanMessage(error)}`, "error");
  }
  if (!projects.length) {
    view.replaceChildren(header, emptyState("No projects yet",
      manager
        ? "Create a project to define what gets labeled, then upload data and launch a batch."
        : "You are not a member of any project yet; ask a manager to add you.",
      manager ? el("button", { type: "button", class: "primary", onclick: () => createProject() },
        "Create a project") : null,
      el("a", { href: "/api/docs", class: "button secondary" }, "API docs")));
    return;
  }
  const grid = el("ul", { class: "project-grid", "aria-label": "Projects" });
  view.replaceChildren(header, grid);
  for (const project of projects) grid.append(projectCard(project, me, manager));
  if (manager) {
    // Progress is filled in as each project's batches arrive, without holding up the page.
    await Promise.all(projects.map(async (project) => {
      const slot = grid.querySelector(`[data-progress="${CSS.escape(project.id)}"]`);
      try {
        const batches = await fetchAll(`/batches?project_id=${encodeURIComponent(project.id)}`, 300);
        slot?.replaceChildren(...(batches.length
          ? [progressBar(sumCounts(batches), { label: `${project.name} progress` }),
            el("p", { class: "muted small" }, plural(batches.length, "batch", "batches"))]
          : [el("p", { class: "muted small" }, "No batches yet")]));
      } catch {
        slot?.replaceChildren();
      }
    }));
  }
}

function workButtons(project, me) {
  const stages = project.pipeline?.stages || [{ name: "label", kind: "label" }];
  const id = encodeURIComponent(project.id);
  return workStages(me, project).map(({ index, ...stage }) => {
    const label = stage.kind === "label"
      ? (index === 0 ? "Start labeling" : `Label: ${stage.name}`)
      : (stages.filter((s) => s.kind === "review").length > 1 ? `Review: ${stage.name}` : "Review");
    const path = stage.kind === "label" ? "label" : "review";
    return el("a", {
      class: `button ${stage.kind === "label" && index === 0 ? "primary" : "secondary"}`,
      href: `/${path}/${id}?stage=${encodeURIComponent(stage.name)}`,
      "aria-label": `${label} · ${project.name}`,
    }, label);
  });
}

function projectCard(project, me, manager) {
  const href = `/projects/${encodeURIComponent(project.id)}`;
  return el("li", { class: "card project-card" },
    el("div", { class: "project-card-head" },
      manager ? el("a", { href, class: "project-name" }, project.name)
        : el("span", { class: "project-name" }, project.name),
      project.archived ? badge("archived", "muted") : null),
    el("p", { class: "project-meta muted" },
      badge(typeName(project.task_type), "type"), " ",
      el("span", {}, `Created ${formatDate(project.created_at)}`)),
    manager ? el("div", { class: "project-progress", "data-progress": project.id },
      el("div", { class: "progress skeleton", "aria-hidden": "true" })) : null,
    el("div", { class: "actions" },
      manager ? el("a", { class: "button secondary", href, "aria-label": `Open ${project.name}` }, "Open") : null,
      project.archived ? null : workButtons(project, me)));
}

// Starter taxonomies, so a new project is labelable at once; the taxonomy tab refines them.
function starterTaxonomy(taskType, names) {
  if (["llm_ranking", "llm_comparison", "rubric_grading"].includes(taskType)) return {};
  if (taskType === "llm_rating") {
    return { criteria: (names.length ? names : ["Helpfulness", "Accuracy"]).map((name) => ({ name, min: 1, max: 5 })) };
  }
  if (!names.length) return {};
  return { labels: names.map((name) => ({ name })) };
}

function createProject() {
  return openDialog("New project", (close) => {
    const names = el("textarea", {
      name: "labels", "data-field": "taxonomy", rows: 4,
      placeholder: "car\npedestrian\ncyclist",
    });
    const namesHint = el("span", { class: "hint muted" },
      "One per line. Refine labels, attributes and links in the Taxonomy tab.");
    const namesLabel = el("span", { class: "field-label" }, "Labels");
    const typeSelect = select("task_type", TASK_TYPES, "image");
    const syncNames = () => {
      const type = typeSelect.value;
      namesLabel.textContent = type === "llm_rating" ? "Rating criteria" : "Labels";
      names.closest("label").hidden = ["llm_ranking", "llm_comparison", "rubric_grading"].includes(type);
    };
    typeSelect.addEventListener("change", syncNames);
    const form = el("form", { class: "form", novalidate: true },
      field("Name", el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" })),
      field("Task type", typeSelect),
      el("label", { class: "field" }, namesLabel, names, namesHint),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Create project")));
    queueMicrotask(syncNames);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const labelNames = String(data.get("labels") || "").split("\n").map((s) => s.trim()).filter(Boolean);
      const body = {
        name: String(data.get("name") || "").trim(),
        task_type: data.get("task_type"),
        taxonomy: starterTaxonomy(data.get("task_type"), labelNames),
      };
      if (!body.name) {
        showFieldError(form, { field: "name", message: "Give the project a name." });
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const project = await api("/projects", { method: "POST", body });
        close(project);
        toast(`Project “${project.name}” created`);
        navigate(`/projects/${encodeURIComponent(project.id)}`);
      } catch (error) {
        showFieldError(form, error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  });
}
