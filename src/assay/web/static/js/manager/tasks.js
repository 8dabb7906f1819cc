// Tasks tab: the project's tasks in a table with status / batch / stage filters, a metadata
// search (key=value pairs or a JSON object; equality on top-level keys, done by the server),
// cursor pagination ("Load more") and a detail dialog with the response and history.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { badge, fetchAll, formatDate, openDialog, select } from "/static/js/manager/ui.js";

const PAGE = 50;
const STATUS_KIND = { pending: "info", completed: "ok", canceled: "muted", error: "danger" };

// "camera=c1, night=true" or '{"camera": "c1"}' → {camera: "c1", night: true}.
export function parseMetadataQuery(text) {
  const source = text.trim();
  if (!source) return null;
  if (source.startsWith("{")) {
    const value = JSON.parse(source);
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
    return value;
  }
  const query = {};
  for (const part of source.split(/[,;]\s*|\s+(?=[^\s=]+=)/)) {
    if (!part.trim()) continue;
    const eq = part.indexOf("=");
    if (eq < 1) throw new Error(`“${part}” is not key=value`);
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    let value = raw;
    // Numbers, booleans and null are JSON; quote a value ("5") to match it as text.
    if (/^(-?\d+(\.\d+)?|true|false|null|".*")$/.test(raw)) value = JSON.parse(raw);
    query[key] = value;
  }
  return query;
}

export async function render(panel, ctx) {
  const project = ctx.project;
  const batches = await fetchAll(`/batches?project_id=${encodeURIComponent(project.id)}`, 1000);
  const batchNames = new Map(batches.map((b) => [b.id, b.name]));
  const stages = project.pipeline?.stages || [];
  const initialBatch = ctx.params.get("batch") || "";

  const status = select("status", [["", "Any status"], ["pending", "Pending"], ["completed", "Completed"],
    ["canceled", "Canceled"], ["error", "Error"]], "", { "aria-label": "Status" });
  const batch = select("batch", [["", "Any batch"], ...batches.map((b) => [b.id, b.name])], initialBatch,
    { "aria-label": "Batch" });
  const stage = select("stage", [["", "Any stage"], ...stages.map((s) => [s.name, `${s.name} (${s.kind})`])], "",
    { "aria-label": "Stage" });
  const metadata = el("input", {
    type: "search", name: "metadata", "aria-label": "Search metadata",
    placeholder: "Metadata: camera=front, night=true", class: "grow",
  });
  const uniqueId = el("input", { type: "search", name: "unique_id", "aria-label": "Unique ID", placeholder: "Unique ID" });
  const filters = el("form", { class: "filters", role: "search", "aria-label": "Filter tasks" },
    status, batch, stage, metadata, uniqueId,
    el("button", { type: "submit", class: "secondary" }, "Filter"));
  const summary = el("p", { class: "muted small", "aria-live": "polite" });
  const body = el("tbody");
  const table = el("table", { class: "table", "aria-label": "Tasks" },
    el("thead", {}, el("tr", {},
      ["Task", "Status", "Stage", "Batch", "Type", "Metadata", "Updated"].map((h) => el("th", { scope: "col" }, h)))),
    body);
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const problem = el("p", { class: "field-error", role: "alert", hidden: true });
  panel.replaceChildren(filters, problem, el("div", { class: "table-wrap card flush" }, table), el("div", { class: "table-foot" }, summary, more));

  let cursor = null;
  let shown = 0;
  let token = 0;

  function query() {
    const params = new URLSearchParams({ project_id: project.id, limit: String(PAGE) });
    for (const control of [status, batch, stage, uniqueId]) {
      if (control.value.trim()) params.set(control.name === "batch" ? "batch_id" : control.name, control.value.trim());
    }
    const meta = parseMetadataQuery(metadata.value);
    if (meta) params.set("metadata", JSON.stringify(meta));
    return params;
  }

  async function load(reset) {
    const mine = ++token;
    let params;
    try {
      params = query();
      problem.hidden = true;
      metadata.removeAttribute("aria-invalid");
    } catch (error) {
      problem.textContent = `Metadata search: ${humanMessage(error)} Use key=value pairs or a JSON object.`;
      problem.hidden = false;
      metadata.setAttribute("aria-invalid", "true");
      return;
    }
    if (!reset && cursor) params.set("cursor", cursor);
    more.disabled = true;
    try {
      const page = await api(`/tasks?${params}`);
      if (mine !== token) return;
      if (reset) {
        body.replaceChildren();
        shown = 0;
      }
      for (const task of page.items) body.append(row(task));
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!shown) {
        body.append(el("tr", {}, el("td", { colspan: 7, class: "empty-cell muted" },
          "No tasks match. Upload data in the Data tab, or change the filters.")));
      }
      summary.textContent = cursor ? `${shown} tasks shown; more available` : `${shown} ${shown === 1 ? "task" : "tasks"}`;
    } catch (error) {
      if (mine !== token) return;
      problem.textContent = humanMessage(error);
      problem.hidden = false;
    } finally {
      more.disabled = false;
    }
  }

  function row(task) {
    const title = task.unique_id || (typeof task.metadata?.filename === "string" && task.metadata.filename)
      || task.params?.text?.slice?.(0, 60) || fileName(task.params?.attachment) || task.id;
    const open = el("button", { type: "button", class: "link", onclick: () => showTask(task, batchNames) }, title);
    return el("tr", { "data-task": task.id },
      el("td", {}, open, el("div", { class: "mono small muted" }, task.id)),
      el("td", {}, badge(task.status, STATUS_KIND[task.status] || "")),
      el("td", {}, task.stage ? `${task.stage}${task.round ? ` · round ${task.round}` : ""}` : "—"),
      el("td", {}, task.batch_id ? batchNames.get(task.batch_id) || task.batch_id : "—"),
      el("td", {}, task.type),
      el("td", { class: "meta-cell" }, metadataChips(task.metadata)),
      el("td", { class: "nowrap" }, formatDate(task.updated_at)));
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  for (const control of [status, batch, stage]) control.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  await load(true);
}

function fileName(attachment) {
  if (typeof attachment !== "string") return "";
  if (attachment.startsWith("blob:")) return `blob ${attachment.slice(5, 17)}…`;
  try {
    return decodeURIComponent(new URL(attachment).pathname.split("/").pop() || attachment);
  } catch {
    return attachment;
  }
}

function metadataChips(metadata) {
  const entries = Object.entries(metadata || {});
  if (!entries.length) return el("span", { class: "muted" }, "—");
  const chips = entries.slice(0, 4).map(([key, value]) =>
    el("span", { class: "chip" }, `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`));
  if (entries.length > 4) chips.push(el("span", { class: "muted small" }, `+${entries.length - 4}`));
  return chips;
}

async function showTask(task, batchNames) {
  let history = [];
  try {
    history = (await api(`/tasks/${encodeURIComponent(task.id)}/history`)).items;
  } catch (error) {
    toast(humanMessage(error), "error");
  }
  // A reviewed, completed task can become an evaluation (gold) task with its answer expected.
  const reviewed = task.status === "completed" && task.response
    && history.some((event) => ["accept", "fix", "audit_accept"].includes(event.action));
  const makeGold = reviewed ? el("button", {
    type: "button", class: "secondary",
    onclick: async (event) => {
      event.target.disabled = true;
      try {
        const made = await api(`/tasks/${encodeURIComponent(task.id)}/make_evaluation`, { method: "POST" });
        toast(`Evaluation task ${made.id} created from this task`);
      } catch (error) {
        event.target.disabled = false;
        toast(humanMessage(error), "error");
      }
    },
  }, "Make evaluation task") : null;
  await openDialog(`Task ${task.unique_id || task.id}`, () => el("div", { class: "task-detail" },
    makeGold ? el("p", {}, makeGold) : null,
    el("dl", { class: "props" }, [
      ["ID", task.id], ["Status", task.status], ["Stage", task.stage || "—"], ["Round", task.round],
      ["Batch", task.batch_id ? batchNames.get(task.batch_id) || task.batch_id : "—"],
      ["Priority", task.priority], ["Tags", (task.tags || []).join(", ") || "—"],
      ["Created", formatDate(task.created_at)], ["Completed", formatDate(task.completed_at)],
    ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
    el("h3", {}, "Params"), el("pre", { class: "json" }, JSON.stringify(task.params, null, 2)),
    el("h3", {}, "Metadata"), el("pre", { class: "json" }, JSON.stringify(task.metadata, null, 2)),
    task.response ? [el("h3", {}, "Response"), el("pre", { class: "json" }, JSON.stringify(task.response, null, 2))] : null,
    el("h3", {}, "History"),
    history.length
      ? el("ol", { class: "history" }, history.map((event) => el("li", {},
        el("strong", {}, event.action), ` · ${event.stage} round ${event.round} · ${formatDate(event.created_at)}`,
        event.reason ? ` · “${event.reason}”` : "")))
      : el("p", { class: "muted" }, "Nothing happened to this task yet.")));
}
