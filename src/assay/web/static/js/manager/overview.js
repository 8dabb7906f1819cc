// Overview tab: totals, batches with progress bars (from their status counts), launching a
// self-label, calibration or production batch, and finalizing a staging batch.

import { api, el, percent, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  BATCH_KINDS, badge, emptyState, field, fetchAll, formatDate, kindName, openDialog, plural,
  progressBar, select, showFieldError, sumCounts,
} from "/static/js/manager/ui.js";
import { progressCard } from "/static/js/manager/progress.js";
import { renderMarkdown } from "/static/js/markdown.js";

const KIND_HELP = {
  self_label: "Label a handful of tasks yourself to test the taxonomy and instructions.",
  calibration: "A small batch with known answers to check labelers before production.",
  production: "The real work, queued to every labeler of the project.",
};

export async function render(panel, ctx) {
  if (!ctx.manages) return renderForWorker(panel, ctx);
  const project = ctx.project;
  const batches = await fetchAll(`/batches?project_id=${encodeURIComponent(project.id)}`, 1000);
  const totals = sumCounts(batches);
  const total = Object.values(totals).reduce((a, b) => a + b, 0);
  const stats = el("div", { class: "stats" },
    stat("Tasks in batches", total),
    stat("Completed", totals.completed),
    stat("Pending", totals.pending),
    stat("Batches", batches.length));
  const launch = el("button", { type: "button", class: "primary", onclick: () => launchBatch(ctx) },
    "Launch batch");
  const list = batches.length
    ? el("ul", { class: "batch-list", "aria-label": "Batches" }, batches.map((b) => batchRow(b, ctx)))
    : emptyState("No batches yet",
      "Start with a self-label batch to try the taxonomy, then calibrate, then produce.",
      el("button", { type: "button", class: "primary", onclick: () => launchBatch(ctx) }, "Launch batch"));
  panel.replaceChildren(...[
    stats,
    progressCard(project),
    total ? el("div", { class: "card" }, el("h2", { class: "card-title" }, "Overall progress"),
      progressBar(totals, { label: "Overall progress" })) : null,
    el("div", { class: "section-header" }, el("h2", {}, "Batches"), batches.length ? launch : null),
    list,
  ].filter(Boolean));
}

function stat(label, value) {
  return el("div", { class: "stat card" }, el("span", { class: "stat-value" }, value.toLocaleString()),
    el("span", { class: "stat-label muted" }, label));
}

function batchRow(batch, ctx) {
  const statusKind = { staging: "warn", in_progress: "info", completed: "ok" }[batch.status] || "";
  const total = Object.values(batch.counts || {}).reduce((a, b) => a + b, 0);
  const actions = el("div", { class: "actions" });
  if (batch.status === "staging") {
    actions.append(
      el("button", {
        type: "button", class: "secondary",
        onclick: () => ctx.show("data", { batch: batch.id }),
        "aria-label": `Add data to ${batch.name}`,
      }, "Add data"),
      el("button", {
        type: "button", class: "primary", "aria-label": `Finalize ${batch.name}`,
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          try {
            await api(`/batches/${encodeURIComponent(batch.id)}/finalize`, { method: "POST" });
            toast(`Batch “${batch.name}” finalized: its tasks are queued`);
            ctx.show("overview");
          } catch (error) {
            toast(humanMessage(error), "error");
            event.currentTarget.disabled = false;
          }
        },
      }, "Finalize"));
  }
  if (batch.kind === "calibration" && batch.status !== "staging") {
    actions.append(el("button", {
      type: "button", class: "secondary", "aria-label": `Calibration report of ${batch.name}`,
      onclick: () => calibrationReport(batch).catch((error) => toast(humanMessage(error), "error")),
    }, "Calibration report"));
  }
  if (total) {
    actions.append(el("button", {
      type: "button", class: "secondary", "aria-label": `Export ${batch.name}`,
      onclick: () => import("/static/js/manager/exports.js").then((m) => m.exportDialog(ctx, { batch })),
    }, "Export"));
  }
  actions.append(el("button", {
    type: "button", class: "secondary", "aria-label": `Tasks of ${batch.name}`,
    onclick: () => ctx.show("tasks", { batch: batch.id }),
  }, "View tasks"));
  return el("li", { class: "card batch" },
    el("div", { class: "batch-head" },
      el("div", {},
        el("h3", {}, batch.name),
        el("p", { class: "muted small" },
          badge(kindName(batch.kind), `kind-${batch.kind}`), " ",
          badge(batch.status.replace("_", " "), statusKind), " ",
          `${plural(total, "task")} · created ${formatDate(batch.created_at)}`,
          batch.priority ? ` · priority ${batch.priority}` : "")),
      actions),
    total ? progressBar(batch.counts, { label: `${batch.name} progress` })
      : el("p", { class: "muted small" }, batch.status === "staging"
        ? "Empty: add data, then finalize to queue the tasks." : "No tasks."));
}

// Labels of a response, for a one-line comparison with the expected answer.
function labelsOf(response) {
  const labels = (response?.annotations || []).map((a) => a.label || a.text || a.type).filter(Boolean);
  return labels.length ? labels.join(", ") : "—";
}

// Where labelers disagreed with the calibration batch's expected answers, and their notes.
async function calibrationReport(batch) {
  const report = await api(`/batches/${encodeURIComponent(batch.id)}/calibration_report`);
  await openDialog(`Calibration report: ${batch.name}`, () => el("div", { class: "calibration" },
    report.labelers.length
      ? el("table", { class: "table", "aria-label": "Scores by labeler" },
        el("thead", {}, el("tr", {}, el("th", {}, "Labeler"), el("th", {}, "Tasks"), el("th", {}, "Score"))),
        el("tbody", {}, report.labelers.map((row) => el("tr", {},
          el("td", {}, row.email), el("td", {}, String(row.tasks)), el("td", {}, percent(row.score))))))
      : el("p", { class: "muted" }, "Nobody has answered a task of this batch with a known answer yet."),
    el("h3", {}, `Disagreements (${report.disagreements.length})`),
    report.disagreements.length
      ? el("table", { class: "table", "aria-label": "Disagreements" },
        el("thead", {}, el("tr", {}, el("th", {}, "Task"), el("th", {}, "Labeler"),
          el("th", {}, "Expected"), el("th", {}, "Given"), el("th", {}, "Score"))),
        el("tbody", {}, report.disagreements.map((row) => el("tr", {},
          el("td", { class: "mono small" }, row.task_id), el("td", {}, row.email),
          el("td", {}, labelsOf(row.expected_response)), el("td", {}, labelsOf(row.response)),
          el("td", {}, percent(row.score || 0))))))
      : el("p", { class: "muted" }, "No disagreement with the expected answers."),
    el("h3", {}, `Feedback on the instructions (${report.feedback.length})`),
    report.feedback.length
      ? el("ul", {}, report.feedback.map((row) => el("li", {}, el("strong", {}, row.email), ": ", row.feedback)))
      : el("p", { class: "muted" }, "No notes from labelers.")));
}

async function launchBatch(ctx) {
  const created = await openDialog("Launch a batch", (close) => {
    const help = el("p", { class: "hint muted" }, KIND_HELP.self_label);
    const kind = select("kind", BATCH_KINDS, "self_label");
    kind.addEventListener("change", () => { help.textContent = KIND_HELP[kind.value]; });
    const stamp = new Date().toISOString().slice(0, 16).replace("T", " ");
    const form = el("form", { class: "form", novalidate: true },
      field("Kind", kind), help,
      field("Name", el("input", { name: "name", required: true, maxlength: 200, value: `${ctx.project.name} · ${stamp}` }),
        "Batch names are unique across the workspace."),
      field("Priority", el("input", { name: "priority", type: "number", value: 0, step: 1 }),
        "Higher batches are served first."),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Create batch")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        const batch = await api(`/projects/${encodeURIComponent(ctx.project.id)}/batches`, {
          method: "POST",
          body: { name: String(data.get("name")).trim(), kind: data.get("kind"), priority: Number(data.get("priority") || 0) },
        });
        close(batch);
      } catch (error) {
        showFieldError(form, error);
      }
    });
    return form;
  });
  if (created) {
    toast(`Batch “${created.name}” created: add data, then finalize it`);
    ctx.show("data", { batch: created.id });
  }
}

// Labelers and reviewers: what to do here and the current instructions.
async function renderForWorker(panel, ctx) {
  const project = ctx.project;
  const doc = el("article", { class: "card markdown" });
  doc.append(renderMarkdown(project.instructions || ""));
  panel.replaceChildren(el("p", { class: "muted" },
    "Use the buttons above to start labeling or reviewing. The instructions:"), doc);
}
