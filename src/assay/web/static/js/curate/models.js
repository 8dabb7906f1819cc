// A dataset's Models page (/datasets/{id}/models): its evaluations — model, name, scope,
// status (a progress bar from /jobs/{id} while one runs), AP / AP50 / AR100, when — with
// "Evaluate a model" (a model from /models, optionally a slice) and a comparison of two.
// An evaluation opens in js/curate/evaluation.js, a comparison in js/curate/compare.js.

import { api, css, el, navigate, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  badge, emptyState, fetchAll, field, formatDate, openDialog, requiredError, select, showFieldError,
} from "/static/js/manager/ui.js";
import { followJob } from "/static/js/curate/measures.js";
import { datasetTabs } from "/static/js/curate/tabs.js";

export const fixed = (x, digits = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));
export const modelsPath = (datasetId) => `/datasets/${encodeURIComponent(datasetId)}/models`;
export const evaluationPath = (datasetId, evaluationId) => `${modelsPath(datasetId)}/${encodeURIComponent(evaluationId)}`;
export const comparePath = (datasetId, base, next) =>
  `${modelsPath(datasetId)}/compare?${new URLSearchParams({ base, new: next })}`;
// The list's number columns per task: [summary key, heading].
const LIST_METRICS = {
  detection: [["AP", "AP"], ["AP50", "AP50"], ["AR100", "AR100"]],
  classification: [["accuracy", "Accuracy"], ["macro_f1", "Macro F1"], ["top_5_accuracy", "Top-5"]],
  segmentation: [["miou", "mIoU"], ["pixel_accuracy", "Pixel accuracy"], ["mean_dice", "Mean Dice"]],
  spans: [["precision", "Precision"], ["recall", "Recall"], ["f1", "F1"]],
};
// Tasks whose evaluations compare item by item (two of the same task).
const COMPARABLE = ["detection", "classification", "spans"];
const STATUS = { queued: ["queued", "info"], running: ["running", "info"], done: ["done", "ok"], failed: ["failed", "danger"] };

// The dataset, its evaluations and every model's name, which the Models pages all need.
export async function loadModelsContext(datasetId) {
  const base = `/datasets/${encodeURIComponent(datasetId)}`;
  const [dataset, evaluations, models] = await Promise.all([
    api(base), api(`${base}/evaluations`), fetchAll("/models", 1000).catch(() => []),
  ]);
  return { base, dataset, evaluations: evaluations.items, models: new Map(models.map((m) => [m.id, m])) };
}

export const modelName = (context, modelId) => context.models.get(modelId)?.name || modelId;

// An evaluation in words: its model, its name when it has one of its own, and (in choices) when.
export function evaluationLabel(context, evaluation, { when = false } = {}) {
  const model = modelName(context, evaluation.model_id);
  const words = evaluation.name && evaluation.name !== model ? `${model} · ${evaluation.name}` : model;
  return when ? `${words} · ${formatDate(evaluation.created_at)}` : words;
}

// The page's top: breadcrumb, the dataset's name and sections, and the page's own title.
export function modelsHeader(dataset, { crumbs = [], title = null, actions = [] } = {}) {
  const here = [el("a", { href: `/datasets/${encodeURIComponent(dataset.id)}` }, dataset.name), " / ",
    crumbs.length ? el("a", { href: modelsPath(dataset.id) }, "Models") : "Models"];
  for (const crumb of crumbs) here.push(" / ", crumb);
  return [
    el("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, el("a", { href: "/datasets" }, "Datasets"), " / ", ...here),
    el("div", { class: "page-header models-header" },
      el("div", {}, el("h1", {}, title || dataset.name)),
      actions.length ? el("div", { class: "actions" }, actions) : null),
    datasetTabs(dataset.id, "models"),
  ];
}

// An evaluation's task; the list's briefs leave it out, their summary tells.
export const taskOf = (evaluation) => evaluation.task
  || ("accuracy" in (evaluation.summary || {}) ? "classification" : "detection");

export function scopeText(evaluation, slices = new Map()) {
  const scope = evaluation.scope || {};
  if (scope.slice_id) return `slice ${slices.get(scope.slice_id)?.name || scope.slice_id}`;
  if (scope.query !== undefined) return typeof scope.query === "string" ? `items matching ${scope.query}` : "items matching a query";
  return "whole dataset";
}

export async function renderModels(view, { id }) {
  css("/static/css/manager.css");
  css("/static/css/curate.css");
  css("/static/css/models.css");
  document.getElementById("view").className = "page page-curate";
  const context = await loadModelsContext(id);
  const { dataset, base } = context;
  document.title = `Models · ${dataset.name} · Assay`;
  let alive = true;
  let slices = new Map();
  const following = new Map(); // evaluation id → its progress bar and text
  const body = el("div", { class: "models-body" });
  view.replaceChildren(...modelsHeader(dataset, {
    actions: [el("button", { type: "button", class: "primary", onclick: () => evaluate() }, "Evaluate a model")],
  }), body);

  async function reload() {
    try {
      const [page, sliceList] = await Promise.all([api(`${base}/evaluations`), fetchAll(`${base}/slices`, 500)]);
      context.evaluations = page.items;
      slices = new Map(sliceList.map((s) => [s.id, s]));
    } catch (error) {
      if (error.status === 401) throw error;
      toast(`Could not load the evaluations: ${humanMessage(error)}`, "error");
    }
    if (alive) render();
  }

  function render() {
    const evaluations = context.evaluations;
    if (!evaluations.length) {
      body.replaceChildren(emptyState("No evaluations yet",
        "Evaluate a model's predictions against the dataset's ground truth — boxes by COCO's AP and AR with PR curves, or each item's category by accuracy and F1 — per class, with the confusion matrix, and every prediction marked true or false positive in the explorer.",
        el("button", { type: "button", class: "primary", onclick: () => evaluate() }, "Evaluate a model")));
      return;
    }
    // The number columns of the tasks listed (a task's evaluations show "—" in the other's).
    const tasks = Object.keys(LIST_METRICS).filter((task) => evaluations.some((e) => taskOf(e) === task));
    const metrics = (tasks.length ? tasks : ["detection"]).flatMap((task) => LIST_METRICS[task]);
    const rows = evaluations.map((evaluation) => row(evaluation, metrics));
    body.replaceChildren(...[
      compareForm(evaluations.filter((e) => e.status === "done" && COMPARABLE.includes(taskOf(e)))),
      el("div", { class: "card flush table-wrap" },
        el("table", { class: "table evaluations-table", "aria-label": "Evaluations" },
          el("thead", {}, el("tr", {},
            el("th", {}, "Model"), el("th", {}, "Name"), el("th", {}, "Scope"), el("th", {}, "Status"),
            metrics.map(([key, heading]) => el("th", { class: "right", "data-metric": key }, heading)),
            el("th", {}, "Started"))),
          el("tbody", {}, rows))),
    ].filter(Boolean));
  }

  function row(evaluation, metrics) {
    const open = evaluationPath(id, evaluation.id);
    const summary = evaluation.summary || {};
    const [word, kind] = STATUS[evaluation.status] || [evaluation.status, ""];
    const status = el("td", { class: "evaluation-status", "data-status": evaluation.status }, badge(word, kind));
    if (evaluation.status === "queued" || evaluation.status === "running") follow(evaluation, status);
    if (evaluation.status === "failed" && evaluation.error) status.title = evaluation.error;
    return el("tr", { "data-evaluation": evaluation.id },
      el("td", {}, el("a", { href: open, class: "dataset-name" }, modelName(context, evaluation.model_id))),
      el("td", {}, evaluation.name || "—"),
      el("td", { class: "muted" }, scopeText(evaluation, slices)),
      status,
      ...metrics.map(([key]) => el("td", { class: "right num", "data-metric": key }, fixed(summary[key]))),
      el("td", { class: "muted nowrap", title: evaluation.finished_at ? `finished ${formatDate(evaluation.finished_at)}` : "" },
        formatDate(evaluation.created_at)));
  }

  // A running evaluation's progress bar, from its job: one follower per evaluation, its bar
  // moved into each new rendering of the row; the list reloads when the job ends.
  function follow(evaluation, cell) {
    let shown = following.get(evaluation.id);
    if (!shown) {
      shown = {
        progress: el("progress", { max: 1, value: 0, "aria-label": `Progress of ${evaluation.name || "the evaluation"}` }),
        text: el("span", { class: "muted small block" }),
      };
      following.set(evaluation.id, shown);
      track(evaluation, shown);
    }
    cell.append(shown.progress, shown.text);
  }

  async function track(evaluation, { progress, text }) {
    const full = await api(`${base}/evaluations/${encodeURIComponent(evaluation.id)}`).catch(() => null);
    const job = full?.job_id
      ? await followJob({ id: full.job_id, status: "queued" }, { progress, text, label: "Evaluation", alive: () => alive })
      : null;
    following.delete(evaluation.id);
    if (!alive) return;
    if (job?.status === "failed") toast(`The evaluation failed: ${job.error || "see its job"}`, "error");
    await reload();
  }

  function compareForm(done) {
    // The newest evaluation that has an older one of its task, and that one.
    const next = done.find((e, k) => done.slice(k + 1).some((o) => taskOf(o) === taskOf(e)));
    if (!next) return null;
    const previous = done.slice(done.indexOf(next) + 1).find((o) => taskOf(o) === taskOf(next));
    const options = done.map((e) => [e.id, evaluationLabel(context, e, { when: true })]);
    const baseline = select("base", options, previous.id, { "aria-label": "Baseline evaluation" });
    const candidate = select("new", options, next.id, { "aria-label": "Evaluation to compare" });
    const form = el("form", { class: "toolbar compare-form card", "aria-label": "Compare two evaluations" },
      el("strong", {}, "Compare"), baseline, el("span", { class: "muted" }, "with"), candidate,
      el("button", { type: "submit", class: "secondary" }, "Compare"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const task = (which) => taskOf(done.find((e) => e.id === which.value));
      if (task(baseline) !== task(candidate)) {
        toast(`A ${task(candidate)} evaluation is not compared with a ${task(baseline)} one.`, "error");
        return;
      }
      navigate(comparePath(id, baseline.value, candidate.value));
    });
    return form;
  }

  async function evaluate() {
    const models = [...context.models.values()];
    const created = await openDialog("Evaluate a model", (close) => {
      if (!models.length) {
        return el("div", { class: "form" },
          el("p", {}, "No models yet: create one and upload its predictions with the API or the Python SDK (client.models.create, then dataset.upload_predictions)."),
          el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Close")));
      }
      const iou = field("Match at IoU", select("iou_threshold", [["0.5", "0.50 (COCO's AP50)"], ["0.75", "0.75 (AP75)"]], "0.5"),
        "Where predictions count as true or false positives: the per-class counts, the confusion matrix and the explorer's prediction.match. AP averages 0.50–0.95 either way.");
      const form = el("form", { class: "form", novalidate: true },
        field("Model", select("model_id", [["", "Choose a model…"], ...models.map((m) => [m.id, m.name])], "", { required: true })),
        field("Task", select("task", [["detection", "Detection: boxes (COCO's AP)"], ["classification", "Classification: each item's category"]], "detection")),
        field("Items", select("slice_id", [["", "The whole dataset"], ...[...slices.values()].map((s) => [s.id, `Slice ${s.name}`])], ""),
          "A static slice is its items; a dynamic slice, the items its query matches now."),
        field("Name", el("input", { name: "name", maxlength: 200, autocomplete: "off", placeholder: "The model's name" })),
        iou,
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Evaluate")));
      form.elements.task.addEventListener("change", () => { iou.hidden = form.elements.task.value !== "detection"; });
      // One key per dialog: a double submit or a retry starts one evaluation, not two.
      const key = crypto.randomUUID();
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const chosen = String(data.get("model_id") || "");
        if (!chosen) {
          showFieldError(form, requiredError("model_id"));
          return;
        }
        const task = String(data.get("task") || "detection");
        const request = { model_id: chosen, task };
        if (task === "detection") request.params = { iou_threshold: Number(data.get("iou_threshold")) };
        if (data.get("slice_id")) request.slice_id = String(data.get("slice_id"));
        if (String(data.get("name") || "").trim()) request.name = String(data.get("name")).trim();
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          close(await api(`${base}/evaluations`, { method: "POST", body: request, headers: { "Idempotency-Key": key } }));
        } catch (error) {
          showFieldError(form, error);
        } finally {
          button.disabled = false;
        }
      });
      return form;
    });
    if (!created) return;
    toast(`Evaluating ${modelName(context, created.model_id)}…`);
    await reload();
  }

  await reload();
  return { destroy: () => { alive = false; } };
}
