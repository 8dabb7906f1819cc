// Tasks tab: the project's data manager. A table of tasks with status / batch / stage filters,
// a metadata search (key=value pairs or a JSON object; equality on top-level keys, done by the
// server), sortable columns (creation, priority, completion — keyset cursors on the server,
// so "Load more" stays correct in any order), row selection (a checkbox per row, the page at
// once, Shift+click for a range) with bulk actions — cancel, re-queue, set priority, move to
// another batch, make gold, export — each one request for every selected task, all or
// nothing; and a task's detail (js/manager/task_detail.js).

import { api, css, el, toast } from "/static/js/api.js";
import { exportDialog } from "/static/js/manager/exports.js";
import { openTaskDetail } from "/static/js/manager/task_detail.js";
import {
  badge, confirmDialog, fetchAll, field, formatDate, openDialog, select, showFieldError,
} from "/static/js/manager/ui.js";
import { humanMessage } from "/static/js/errors.js";

const PAGE = 50;
const STATUS_KIND = { pending: "info", completed: "ok", canceled: "muted", error: "danger" };
// Sortable columns: header → the server's sort name; the first click sorts descending.
const SORTABLE = { Priority: "priority", Created: "created", Completed: "completed" };

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
  css("/static/css/data.css");
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
  const pageBox = el("input", { type: "checkbox", "aria-label": "Select every task shown" });
  const headers = el("tr", {}, el("th", { scope: "col", class: "dm-check" }, pageBox),
    ["Task", "Status", "Stage", "Batch", "Priority", "Metadata", "Created", "Completed"].map(header));
  const table = el("table", { class: "table dm-table", "aria-label": "Tasks" }, el("thead", {}, headers), body);
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const problem = el("p", { class: "field-error", role: "alert", hidden: true });
  const count = el("strong", { "aria-live": "polite" });
  const bar = el("div", { class: "dm-bulk card", role: "toolbar", "aria-label": "Selected tasks", hidden: true },
    count,
    action("Cancel", () => bulk("cancel", {}, {
      confirm: ["Cancel the selected tasks?", "They leave the queue; their batches may complete."],
    })),
    action("Re-queue", () => bulk("requeue", {}, {
      confirm: ["Re-queue the selected tasks?",
        "Canceled and failed tasks start over in the first stage; pending ones are freed for anyone to take."],
    })),
    action("Set priority…", setPriority),
    action("Move to batch…", moveToBatch),
    action("Make gold…", makeGold),
    action("Export…", () => exportDialog(ctx, { taskIds: [...selected] })),
    el("button", { type: "button", class: "ghost small", onclick: () => clearSelection() }, "Clear selection"));
  panel.replaceChildren(filters, problem, bar, el("div", { class: "table-wrap card flush" }, table),
    el("div", { class: "table-foot" }, summary, more));

  let cursor = null;
  let shown = 0;
  let token = 0;
  let sort = "-created";
  let anchor = null; // the last row clicked without Shift: where a Shift+click range starts
  const selected = new Set();
  const loaded = []; // task ids in table order

  function header(name) {
    const key = SORTABLE[name];
    if (!key) return el("th", { scope: "col" }, name);
    const th = el("th", { scope: "col", "data-sort": key });
    th.append(el("button", { type: "button", class: "dm-sort", onclick: () => {
      sort = sort === `-${key}` ? key : `-${key}`;
      load(true);
    } }, name));
    return th;
  }

  function paintSort() {
    for (const th of headers.querySelectorAll("th[data-sort]")) {
      const key = th.dataset.sort;
      const state = sort === `-${key}` ? "descending" : sort === key ? "ascending" : null;
      if (state) th.setAttribute("aria-sort", state);
      else th.removeAttribute("aria-sort");
      th.querySelector("button").dataset.arrow = state === "descending" ? "↓" : state === "ascending" ? "↑" : "";
    }
  }

  function action(label, run) {
    return el("button", { type: "button", class: "secondary small", onclick: run }, label);
  }

  function paintSelection() {
    for (const box of body.querySelectorAll("input[data-select]")) {
      const on = selected.has(box.dataset.select);
      box.checked = on;
      box.closest("tr").classList.toggle("selected", on);
    }
    const onPage = loaded.filter((id) => selected.has(id)).length;
    pageBox.checked = loaded.length > 0 && onPage === loaded.length;
    pageBox.indeterminate = onPage > 0 && onPage < loaded.length;
    bar.hidden = selected.size === 0;
    count.textContent = `${selected.size} selected`;
  }

  function clearSelection() {
    selected.clear();
    anchor = null;
    paintSelection();
  }

  pageBox.addEventListener("change", () => {
    for (const id of loaded) {
      if (pageBox.checked) selected.add(id);
      else selected.delete(id);
    }
    paintSelection();
  });

  function toggle(id, event) {
    const on = event.target.checked;
    if (event.shiftKey && anchor !== null && loaded.includes(anchor)) {
      const [a, b] = [loaded.indexOf(anchor), loaded.indexOf(id)].sort((x, y) => x - y);
      for (const each of loaded.slice(a, b + 1)) {
        if (on) selected.add(each);
        else selected.delete(each);
      }
    } else if (on) {
      selected.add(id);
    } else {
      selected.delete(id);
    }
    anchor = id;
    paintSelection();
  }

  // One request for every selected task: the server changes all of them or none.
  async function bulk(name, extra = {}, { confirm = null, done = null } = {}) {
    const ids = [...selected];
    if (!ids.length) return null;
    if (confirm && !(await confirmDialog(confirm[0], `${ids.length} selected. ${confirm[1]}`, "Go ahead"))) return null;
    try {
      const result = await api(`/projects/${encodeURIComponent(project.id)}/tasks/actions`, {
        method: "POST", body: { action: name, task_ids: ids, ...extra },
      });
      toast(done ? done(result) : `${result.count} ${result.count === 1 ? "task" : "tasks"} changed`);
      clearSelection();
      await load(true);
      return result;
    } catch (error) {
      // The message names the task that did not fit; nothing was changed.
      problem.textContent = `Nothing was changed: ${humanMessage(error)}`;
      problem.hidden = false;
      const bad = error.field?.match(/^task_ids\[(\d+)\]$/);
      if (bad) body.querySelector(`tr[data-task="${CSS.escape(ids[Number(bad[1])])}"]`)?.classList.add("dm-bad");
      toast(humanMessage(error), "error");
      return null;
    }
  }

  async function setPriority() {
    const value = await openDialog("Set the priority", (close) => {
      const input = el("input", { name: "priority", type: "number", step: 1, value: 0, required: true });
      const form = el("form", { class: "form" }, field("Priority", input, "Higher is served first."),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Set priority")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (input.value.trim() === "" || !Number.isInteger(Number(input.value))) {
          showFieldError(form, { field: "priority", message: "A whole number, e.g. 10." });
          input.focus();
          return;
        }
        close(Number(input.value));
      });
      return form;
    });
    if (value !== null) await bulk("set_priority", { priority: value });
  }

  async function moveToBatch() {
    const open = batches.filter((b) => b.status !== "completed");
    if (!open.length) {
      toast("Every batch is completed: launch a batch on the Overview first", "error");
      return;
    }
    const target = await openDialog("Move to another batch", (close) => {
      const choice = select("batch_id", open.map((b) => [b.id, `${b.name} (${b.status.replace("_", " ")})`]), open[0].id);
      const form = el("form", { class: "form" },
        field("Batch", choice, "A staging batch holds the tasks out of the queue until it is finalized."),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Move")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        close(choice.value);
      });
      return form;
    });
    if (target) await bulk("move", { batch_id: target }, { done: (r) => `${r.count} tasks moved to ${batchNames.get(target)}` });
  }

  async function makeGold() {
    const kind = await openDialog("Make gold tasks", (close) => {
      const choice = select("kind", [["evaluation", "Evaluation (gold)"], ["training", "Training"]], "evaluation");
      const form = el("form", { class: "form" },
        el("p", {}, "Each selected task's final response becomes the expected answer of a new evaluation or training ",
          "task; the tasks themselves stay as they are. Only completed tasks accepted in review or audit qualify — ",
          "for any other task, open it and give the expected answer yourself."),
        field("Kind", choice),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Make gold")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        close(choice.value);
      });
      return form;
    });
    if (kind) {
      await bulk("make_gold", { kind }, {
        done: (r) => `${r.count} ${kind} ${r.count === 1 ? "task" : "tasks"} created (see the Quality tab)`,
      });
    }
  }

  function query() {
    const params = new URLSearchParams({ project_id: project.id, limit: String(PAGE) });
    for (const control of [status, batch, stage, uniqueId]) {
      if (control.value.trim()) params.set(control.name === "batch" ? "batch_id" : control.name, control.value.trim());
    }
    const meta = parseMetadataQuery(metadata.value);
    if (meta) params.set("metadata", JSON.stringify(meta));
    if (sort !== "-created") params.set("sort", sort);
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
    paintSort();
    if (!reset && cursor) params.set("cursor", cursor);
    more.disabled = true;
    try {
      const page = await api(`/tasks?${params}`);
      if (mine !== token) return;
      if (reset) {
        body.replaceChildren();
        loaded.length = 0;
        shown = 0;
      }
      for (const task of page.items) {
        body.append(row(task));
        loaded.push(task.id);
      }
      shown += page.items.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!shown) {
        body.append(el("tr", {}, el("td", { colspan: 9, class: "empty-cell muted" },
          sort.endsWith("completed") ? "No finished tasks match. Sorting by completion lists finished tasks only."
            : "No tasks match. Upload data in the Data tab, or change the filters.")));
      }
      summary.textContent = cursor ? `${shown} tasks shown; more available` : `${shown} ${shown === 1 ? "task" : "tasks"}`;
      paintSelection();
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
    const open = el("button", { type: "button", class: "link", onclick: () => openTaskDetail(task.id,
      { project, batchNames, onChange: () => load(true) }).catch((error) => toast(humanMessage(error), "error")) }, title);
    const box = el("input", { type: "checkbox", "data-select": task.id, "aria-label": `Select ${title}` });
    box.addEventListener("click", (event) => toggle(task.id, event));
    return el("tr", { "data-task": task.id },
      el("td", { class: "dm-check" }, box),
      el("td", {}, open, el("div", { class: "mono small muted" }, task.id)),
      el("td", {}, badge(task.status, STATUS_KIND[task.status] || ""),
        (task.tags || []).includes("broken") ? [" ", badge("reported broken", "danger")] : null),
      el("td", {}, task.stage ? `${task.stage}${task.round ? ` · round ${task.round}` : ""}` : "—"),
      el("td", {}, task.batch_id ? batchNames.get(task.batch_id) || task.batch_id : "—"),
      el("td", { class: "num" }, String(task.priority)),
      el("td", { class: "meta-cell" }, metadataChips(task.metadata)),
      el("td", { class: "nowrap" }, formatDate(task.created_at)),
      el("td", { class: "nowrap" }, formatDate(task.completed_at)));
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
