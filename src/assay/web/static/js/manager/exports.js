// Exports: the dialog that starts one (a project, a batch or the task table's selection; the
// formats the project's task type allows) and the Exports tab: the project's export jobs,
// newest first, with progress bars polled from the jobs API while any runs, and a download
// link (a short-lived signed URL of the file's blob) when done.

import { api, css, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { badge, emptyState, field, formatDate, openDialog, select, showFieldError } from "/static/js/manager/ui.js";

const POLL_MS = 1000;
// [format, label, task types it holds (null: every type)] — the server checks it too.
export const EXPORT_FORMATS = [
  ["jsonl", "JSONL (native responses, one task a line)", null],
  ["coco", "COCO (JSON)", ["image"]],
  ["yolo", "YOLO (zip of label files)", ["image"]],
  ["csv", "CSV (one row a task)", ["categorization"]],
  ["conll", "CoNLL (tokens and tags)", ["text_spans"]],
];
const STATUSES = [["completed", "Completed tasks"], ["all", "Every task"], ["pending", "Pending tasks"],
  ["canceled", "Canceled tasks"], ["error", "Failed tasks"]];
const JOB_KIND = { queued: "muted", running: "info", succeeded: "ok", failed: "danger", cancelled: "muted" };

export function formatsFor(taskType) {
  return EXPORT_FORMATS.filter(([, , types]) => !types || types.includes(taskType));
}

// Start an export; resolves the job (or null if the dialog was closed).
export async function exportDialog(ctx, { batch = null, taskIds = null } = {}) {
  const scope = taskIds ? `${taskIds.length} selected task${taskIds.length === 1 ? "" : "s"}`
    : batch ? `batch “${batch.name}”` : `project “${ctx.project.name}”`;
  const job = await openDialog(`Export ${scope}`, (close) => {
    const options = formatsFor(ctx.project.task_type);
    const form = el("form", { class: "form", novalidate: true },
      field("Format", select("format", options.map(([value, label]) => [value, label]), options[1]?.[0] || "jsonl"),
        "The file is made in the background; the Exports tab shows its progress and the download."),
      field("Tasks", select("status", STATUSES, taskIds ? "all" : "completed")),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Export")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { format: data.get("format"), status: data.get("status") };
      if (batch) body.batch_id = batch.id;
      if (taskIds) body.task_ids = taskIds;
      try {
        close(await api(`/projects/${encodeURIComponent(ctx.project.id)}/exports`, { method: "POST", body }));
      } catch (error) {
        showFieldError(form, error);
      }
    });
    return form;
  });
  if (job) {
    toast(`Export of ${scope} started`);
    ctx.show("exports");
  }
  return job;
}

export async function render(panel, ctx) {
  css("/static/css/data.css");
  const pid = encodeURIComponent(ctx.project.id);
  const batches = new Map();
  let timer = null;
  let alive = true;
  const links = new Map(); // job id → signed download URL (asked once per job)
  const body = el("tbody");
  const table = el("table", { class: "table dm-exports", "aria-label": "Exports" },
    el("thead", {}, el("tr", {}, ["Started", "Format", "Tasks", "Status", "Progress", ""].map((h) => el("th", { scope: "col" }, h)))),
    body);
  const start = el("button", { type: "button", class: "primary", onclick: () => exportDialog(ctx) }, "Export project…");
  const holder = el("div");
  panel.replaceChildren(el("div", { class: "section-header" },
    el("div", {}, el("h2", {}, "Exports"), el("p", { class: "muted small" },
      "Files of the project's results. Start one here, from a batch on the Overview, or from a selection in Tasks.")),
    start), holder);

  async function download(job) {
    if (!links.has(job.id)) {
      const signed = await api(`/blobs/${encodeURIComponent(job.result.blob)}/url`, { method: "POST" });
      links.set(job.id, signed.url);
    }
    return links.get(job.id);
  }

  function scopeOf(job) {
    const p = job.payload || {};
    const status = STATUSES.find(([value]) => value === (p.status || "completed"))?.[1].toLowerCase() || p.status;
    if (p.task_ids) return `${p.task_ids.length} selected (${status})`;
    if (p.batch_id) return `batch ${batches.get(p.batch_id) || p.batch_id} (${status})`;
    return `whole project (${status})`;
  }

  async function row(job) {
    const percent = Math.round((job.progress || 0) * 100);
    const bar = el("progress", { max: 100, value: percent, "aria-label": `Export ${job.id} progress` });
    let action = null;
    if (job.status === "succeeded" && job.result?.blob) {
      const url = await download(job).catch(() => null);
      action = url ? el("a", { class: "button secondary small", href: url, download: job.result.filename || "",
        "data-download": job.id }, "Download") : el("span", { class: "muted small" }, "File unavailable");
    } else if (job.status === "queued" || job.status === "running") {
      action = el("button", { type: "button", class: "ghost small", onclick: async () => {
        try {
          await api(`/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
          refresh();
        } catch (error) {
          toast(humanMessage(error), "error");
        }
      } }, "Cancel");
    }
    const detail = job.status === "succeeded" && job.result
      ? `${job.result.count ?? "?"} tasks · ${job.result.filename || ""}`
      : job.error || job.progress_message || "";
    return el("tr", { "data-job": job.id, "data-status": job.status },
      el("td", { class: "nowrap" }, formatDate(job.created_at)),
      el("td", {}, (job.payload?.format || "").toUpperCase()),
      el("td", {}, scopeOf(job)),
      el("td", {}, badge(job.status, JOB_KIND[job.status] || "")),
      el("td", { class: "dm-progress" }, bar, el("span", { class: "muted small" }, `${percent}% ${detail}`)),
      el("td", { class: "right" }, action));
  }

  async function refresh() {
    if (!alive) return;
    clearTimeout(timer);
    try {
      const page = await api(`/projects/${pid}/exports?limit=50`);
      if (!alive) return;
      if (!page.items.length) {
        holder.replaceChildren(emptyState("No exports yet", "Export the project, a batch or a selection of tasks.",
          el("button", { type: "button", class: "primary", onclick: () => exportDialog(ctx) }, "Export project…")));
      } else {
        const rows = await Promise.all(page.items.map(row));
        if (!alive) return;
        body.replaceChildren(...rows);
        if (!holder.contains(table)) holder.replaceChildren(el("div", { class: "table-wrap card flush" }, table));
      }
      if (page.items.some((job) => job.status === "queued" || job.status === "running")) {
        timer = setTimeout(refresh, POLL_MS);
      }
    } catch (error) {
      if (alive) toast(humanMessage(error), "error");
    }
  }

  try {
    for (const b of (await api(`/batches?project_id=${pid}&limit=100`)).items) batches.set(b.id, b.name);
  } catch {
    // names are a nicety: ids are shown instead
  }
  await refresh();
  return {
    destroy() {
      alive = false;
      clearTimeout(timer);
    },
  };
}
