// Quality tab. Managers: every labeler's numbers (status, accuracy, throughput, time per task,
// review pass rate) with pause / re-qualify, the evaluation tasks with their pass rates (retire,
// recycle, mass retire by pass rate), and the project's quality settings. Everyone else: their
// own dashboard (js/dashboard.js).

import { api, css, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { decimal, duration, mountDashboard, percent, stat } from "/static/js/dashboard.js";
import { badge, clearFieldErrors, confirmDialog, emptyState, field, openDialog, showFieldError } from "/static/js/manager/ui.js";

const WINDOWS = [["", "All time"], ["7", "Last 7 days"], ["30", "Last 30 days"]];

export async function render(panel, ctx) {
  css("/static/css/quality.css");
  if (!ctx.manages) {
    return mountDashboard(panel, { projectId: ctx.project.id, userId: ctx.me.user.id, me: ctx.me, embedded: true });
  }
  const pid = encodeURIComponent(ctx.project.id);
  let windowDays = ctx.params.get("window") || "";

  async function paint() {
    const since = windowDays ? new Date(Date.now() - Number(windowDays) * 86400e3).toISOString() : null;
    const overview = await api(`/projects/${pid}/quality/overview${since ? `?since=${encodeURIComponent(since)}` : ""}`);
    const period = el("select", { "aria-label": "Period" },
      WINDOWS.map(([value, text]) => el("option", { value, selected: value === windowDays }, text)));
    period.addEventListener("change", () => {
      windowDays = period.value;
      paint().catch((error) => toast(humanMessage(error), "error"));
    });
    const t = overview.totals;
    panel.replaceChildren(
      el("div", { class: "toolbar" }, el("h2", { class: "grow" }, "Labelers"),
        el("a", { class: "button secondary", href: `/review/${pid}?audit=1` }, "Audit queue"), period),
      el("div", { class: "stats quality-stats" },
        stat("Tasks submitted", t.submitted.toLocaleString(), t.active_hours ? `${t.active_hours} active hours` : null),
        stat("Tasks per active hour", decimal(t.throughput_per_hour)),
        stat("Time per task", duration(t.median_time_ms), t.mean_time_ms ? `mean ${duration(t.mean_time_ms)}` : null),
        stat("Evaluation accuracy", percent(t.evaluation_accuracy), t.evaluated ? `${t.evaluated} evaluated` : null),
        stat("Review pass rate", percent(t.review_pass_rate), t.reviewed ? `${t.reviewed} reviewed` : null),
        stat("Audit accept rate", percent(t.audit_accept_rate), t.audited ? `${t.audited} audited` : null)),
      labelersTable(overview.labelers, ctx, paint),
      evaluationSection(overview.evaluation, ctx, paint),
      settingsForm(ctx),
    );
  }

  await paint();
  return {};
}

function labelersTable(labelers, ctx, refresh) {
  if (!labelers.length) {
    return emptyState("No labelers yet", "Add labelers in the Members tab; their numbers show here once they work.");
  }
  const pid = encodeURIComponent(ctx.project.id);
  const rows = labelers.map((row) => {
    const who = row.name || row.email;
    const status = row.status === "paused"
      ? el("div", {}, badge("paused", "warn"), row.reason ? el("div", { class: "muted small reason" }, row.reason) : null)
      : badge("active", "ok");
    const action = row.status === "paused"
      ? el("button", { type: "button", class: "secondary small", "aria-label": `Re-qualify ${row.email}`, onclick: () => requalify(ctx, row, refresh) }, "Re-qualify")
      : el("button", { type: "button", class: "ghost danger small", "aria-label": `Pause ${row.email}`, onclick: () => pause(ctx, row, refresh) }, "Pause");
    return el("tr", { "data-user": row.user_id },
      el("td", {}, el("a", { href: `/dashboard/${pid}?user=${encodeURIComponent(row.user_id)}` }, who),
        el("div", { class: "muted small" }, row.email, row.role && row.role !== "labeler" ? ` · ${row.role}` : "")),
      el("td", { "data-col": "status" }, status),
      el("td", { class: "num", "data-col": "submitted" }, row.submitted.toLocaleString()),
      el("td", { class: "num", "data-col": "throughput" }, decimal(row.throughput_per_hour)),
      el("td", { class: "num", "data-col": "time" }, duration(row.median_time_ms)),
      el("td", { class: "num", "data-col": "accuracy" }, percent(row.evaluation_accuracy),
        row.evaluated ? el("div", { class: "muted small" }, `${row.evaluated} evaluated`) : null),
      el("td", { class: "num", "data-col": "review" }, percent(row.review_pass_rate),
        row.reviewed ? el("div", { class: "muted small" }, `${row.reviewed} reviewed`) : null),
      el("td", { class: "num", "data-col": "audit" }, percent(row.audit_accept_rate),
        row.audited ? el("div", { class: "muted small" }, `${row.audited} audited`) : null),
      el("td", { class: "right" }, action));
  });
  const heads = [["Labeler"], ["Status"], ["Submitted"], ["Tasks/h", "Tasks per active hour"],
    ["Time/task", "Median time per task"], ["Accuracy", "Evaluation accuracy"],
    ["Review pass", "Review pass rate"], ["Audit accept", "Audit accept rate"], [""]];
  return el("div", { class: "table-wrap card flush" },
    el("table", { class: "table quality-table", "aria-label": "Labelers" },
      el("thead", {}, el("tr", {}, heads.map(([short, long]) => el("th", { scope: "col", title: long },
        long ? el("abbr", { title: long }, short) : short)))),
      el("tbody", {}, rows)));
}

async function pause(ctx, row, refresh) {
  const reason = await openDialog(`Pause ${row.name || row.email}`, (close) => {
    const text = el("textarea", { name: "reason", rows: 3, required: true, maxlength: 2000 });
    const form = el("form", { class: "form" },
      el("p", {}, "They get no more real work in this project until re-qualified, and see this reason."),
      field("Reason", text),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "danger-fill" }, "Pause")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (text.value.trim()) close(text.value.trim());
    });
    return form;
  });
  if (!reason) return;
  await act(`/projects/${encodeURIComponent(ctx.project.id)}/workers/${encodeURIComponent(row.user_id)}/pause`,
    { reason }, `${row.email} paused`, refresh);
}

async function requalify(ctx, row, refresh) {
  const retrain = await openDialog(`Re-qualify ${row.name || row.email}`, (close) => {
    const box = el("input", { type: "checkbox", name: "retrain", checked: true });
    const form = el("form", { class: "form" },
      el("p", {}, "They go back to work with a fresh accuracy window."),
      el("label", { class: "check" }, box, "Take the training course again first"),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Re-qualify")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      close({ retrain: box.checked });
    });
    return form;
  });
  if (!retrain) return;
  await act(`/projects/${encodeURIComponent(ctx.project.id)}/workers/${encodeURIComponent(row.user_id)}/requalify`,
    retrain, `${row.email} re-qualified`, refresh);
}

async function act(path, body, done, refresh) {
  try {
    await api(path, { method: "POST", body });
    toast(done);
    await refresh();
  } catch (error) {
    toast(humanMessage(error), "error");
  }
}

function evaluationSection(evaluation, ctx, refresh) {
  const base = `/projects/${encodeURIComponent(ctx.project.id)}/quality_tasks`;
  const massRetire = el("button", { type: "button", class: "secondary", onclick: () => retireByRate(base, refresh) },
    "Retire by pass rate…");
  const header = el("div", { class: "section-header" },
    el("div", {}, el("h2", {}, "Evaluation tasks"),
      el("p", { class: "muted small" },
        `${evaluation.tasks} tasks · ${evaluation.retired} retired · ${evaluation.attempts} attempts · pass rate ${percent(evaluation.pass_rate)}`)),
    evaluation.tasks ? massRetire : null);
  if (!evaluation.items.length) {
    return el("section", { "aria-label": "Evaluation tasks" }, header,
      emptyState("No evaluation tasks", "Create them with POST /api/v1/projects/{id}/evaluation_tasks, or turn a reviewed task into one."));
  }
  const rows = evaluation.items.map((item) => {
    const retired = Boolean(item.retired_at);
    const button = retired
      ? el("button", { type: "button", class: "secondary small", "aria-label": `Recycle ${item.task_id}`,
        onclick: () => act(`${base}/recycle`, { task_ids: [item.task_id] }, "Evaluation task served again", refresh) }, "Recycle")
      : el("button", { type: "button", class: "ghost danger small", "aria-label": `Retire ${item.task_id}`,
        onclick: () => act(`${base}/retire`, { task_ids: [item.task_id] }, "Evaluation task retired", refresh) }, "Retire");
    return el("tr", { "data-task": item.task_id },
      el("td", { class: "mono small" }, item.task_id),
      el("td", {}, item.type),
      el("td", { class: "num" }, item.attempts.toLocaleString()),
      el("td", { class: "num" }, percent(item.pass_rate)),
      el("td", { class: "num" }, percent(item.mean_score)),
      el("td", {}, retired ? badge("retired", "muted") : badge("active", "ok")),
      el("td", { class: "right nowrap" }, expectedButton(item.task_id, ctx), " ", button));
  });
  return el("section", { "aria-label": "Evaluation tasks" }, header,
    el("div", { class: "table-wrap card flush" },
      el("table", { class: "table quality-table", "aria-label": "Evaluation tasks" },
        el("thead", {}, el("tr", {}, ["Task", "Type", "Attempts", "Pass rate", "Mean score", "Status", ""]
          .map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows))),
    evaluation.truncated ? el("p", { class: "muted small" }, "The hardest tasks are listed; more exist.") : null);
}

// The gold content: the task drawn with its expected answer (managers only; never labelers).
function expectedButton(taskId, ctx) {
  return el("button", {
    type: "button", class: "secondary small", "aria-label": `Expected answer of ${taskId}`,
    onclick: () => import("/static/js/manager/task_detail.js")
      .then((m) => m.openTaskDetail(taskId, { project: ctx.project }))
      .catch((error) => toast(humanMessage(error), "error")),
  }, "Expected answer");
}

async function retireByRate(base, refresh) {
  const body = await openDialog("Retire evaluation tasks by pass rate", (close) => {
    const form = el("form", { class: "form" },
      el("p", {}, "Retire tasks almost everyone passes (too easy) or fails (too hard or ambiguous)."),
      el("div", { class: "grid-3" },
        field("Pass rate from (%)", el("input", { name: "min_pass_rate", type: "number", min: 0, max: 100, step: 1, placeholder: "0" })),
        field("Pass rate to (%)", el("input", { name: "max_pass_rate", type: "number", min: 0, max: 100, step: 1, placeholder: "100" })),
        field("At least attempts", el("input", { name: "min_attempts", type: "number", min: 0, step: 1, value: 5 }))),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "danger-fill" }, "Retire")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const rate = (name) => (data.get(name) === "" ? null : Number(data.get(name)) / 100);
      close({ min_pass_rate: rate("min_pass_rate"), max_pass_rate: rate("max_pass_rate"),
        min_attempts: Number(data.get("min_attempts") || 0) });
    });
    return form;
  });
  if (!body) return;
  if (body.min_pass_rate === null && body.max_pass_rate === null
    && !(await confirmDialog("Retire every task?", "No pass-rate range given: every evaluation task with enough attempts is retired.", "Retire all", true))) return;
  try {
    const result = await api(`${base}/retire`, { method: "POST", body });
    toast(`${result.retired} evaluation task${result.retired === 1 ? "" : "s"} retired`);
    await refresh();
  } catch (error) {
    toast(humanMessage(error), "error");
  }
}

// [path in the quality JSON, label, kind, hint]; kind "percent" edits a 0..1 share or score
// as % (every rate in the UI is a percent); "?": blank means none.
const SETTINGS = [
  ["evaluation_rate", "Evaluation rate (%)", "percent", "Share of served tasks that are evaluation tasks."],
  ["pass_threshold", "Evaluation pass score (%)", "percent", "Score at which an evaluation task is passed."],
  ["rolling_window", "Rolling window", "int", "Evaluation tasks the rolling accuracy is taken over."],
  ["pause_below", "Pause below accuracy (%)", "percent?", "Blank: never pause automatically."],
  ["pause_min_attempts", "Pause after at least", "int", "Evaluation tasks scored before a pause can happen."],
  ["recycle_after_hours", "Serve an evaluation task again after (hours)", "number?", "Blank: never."],
  ["training.required", "Training course required", "bool", "Before any real work (when the course has tasks)."],
  ["training.pass_threshold", "Training pass score (%)", "percent", "Mean score that passes the course."],
  ["training.max_rounds", "Goes at the course", "int", ""],
  ["consensus.labelers", "Labelers per task", "int", "Consensus: distinct labelers per task."],
  ["consensus.agreement_threshold", "Agreement threshold (%)", "percent", "Tasks agreed on less go to review."],
  ["audit_rate", "Audit rate (%)", "percent", "Share of completed tasks sampled for audit."],
];

function settingsForm(ctx) {
  const read = (quality, path) => path.split(".").reduce((node, key) => node?.[key], quality);
  const controls = SETTINGS.map(([path, label, kind, hint]) => {
    const value = read(ctx.project.quality || {}, path);
    const name = `quality.${path}`;
    if (kind === "bool") {
      return el("label", { class: "check setting", "data-field": name },
        el("input", { type: "checkbox", name, checked: value !== false }), label);
    }
    const attrs = { name, type: "number", "data-field": name, "data-kind": kind };
    if (kind.startsWith("percent")) {
      const blank = kind.endsWith("?") ? "" : 0;
      Object.assign(attrs, { min: 0, max: 100, step: "any", value: value == null ? blank : round(value * 100) });
    }
    else if (kind === "int") Object.assign(attrs, { min: 0, step: 1, value: value ?? "" });
    else Object.assign(attrs, { min: 0, step: "any", value: value ?? "" });
    return field(label, el("input", attrs), hint);
  });
  const form = el("form", { class: "form card quality-settings", "aria-label": "Quality settings" },
    el("h2", { class: "card-title" }, "Quality settings"),
    el("div", { class: "grid-3" }, controls),
    el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary" }, "Save quality settings")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    // Start from the stored settings so keys this form does not show are kept.
    const quality = structuredClone(ctx.project.quality || {});
    for (const control of form.querySelectorAll("input[name^='quality.']")) {
      const path = control.name.slice("quality.".length).split(".");
      const kind = control.dataset.kind;
      let value;
      if (control.type === "checkbox") value = control.checked;
      else if (control.value === "") value = kind?.endsWith("?") ? null : undefined;
      else value = kind.startsWith("percent") ? round(Number(control.value) / 100) : Number(control.value);
      if (value === undefined) continue;
      const parent = path.slice(0, -1).reduce((node, key) => (node[key] ??= {}), quality);
      parent[path.at(-1)] = value;
    }
    try {
      const updated = await api(`/projects/${encodeURIComponent(ctx.project.id)}`, { method: "PATCH", body: { quality } });
      ctx.setProject(updated);
      toast("Quality settings saved");
    } catch (error) {
      showFieldError(form, error);
    }
  });
  return form;
}

const round = (x) => Math.round(x * 1e6) / 1e6;
