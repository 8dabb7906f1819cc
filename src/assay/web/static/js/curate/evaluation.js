// One evaluation (/datasets/{id}/models/{evaluation}): COCO's summary numbers, the per-class
// table (sortable), PR curves per class and over all classes, the confusion matrix with its
// missed column and spurious row, and the confidence histogram of true and false positives.
// Counts, cells, curve points and bars open the explorer's object view on their objects
// (js/curate/evalqueries.js says which query each is, and where it is not exact, why).

import { api, css, el, navigate } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { fetchAll, formatDate, plural, select } from "/static/js/manager/ui.js";
import { paletteColor } from "/static/js/palette.js";
import { confusionChart, histogramChart, prChart } from "/static/js/curate/evalcharts.js";
import {
  binQuery, cellQuery, explorerUrl, outcomeQuery, outcomesCaveats, pointQuery,
} from "/static/js/curate/evalqueries.js";
import { followJob } from "/static/js/curate/measures.js";
import {
  comparePath, evaluationLabel, fixed, loadModelsContext, modelName, modelsHeader, scopeText, taskOf,
} from "/static/js/curate/models.js";

// What each task shows: its summary tiles [key, name, words] by row, its per-class columns
// [key, heading, the outcome a count opens], the words of its totals.
const TASKS = {
  detection: {
    summary: (summary) => [
      [["AP", "AP", "IoU .50:.05:.95"], ["AP50", "AP50", "IoU .50"], ["AP75", "AP75", "IoU .75"], ["APs", "APs", "small"], ["APm", "APm", "medium"], ["APl", "APl", "large"]],
      [["AR1", "AR1", "1 detection"], ["AR10", "AR10", "10 detections"], ["AR100", "AR100", "100 detections"],
        // Keypoints (OKS): recall at 20 detections, by IoU.
        ["AR", "AR", "IoU .50:.05:.95"], ["AR50", "AR50", "IoU .50"], ["AR75", "AR75", "IoU .75"],
        ["ARs", "ARs", "small"], ["ARm", "ARm", "medium"], ["ARl", "ARl", "large"]],
    ].map((row) => row.filter(([key]) => key in summary)),
    columns: [
      ["label", "Label"], ["ground_truth", "Ground truth", "gt"], ["predictions", "Predictions", "predictions"],
      ["ap", "AP"], ["ap_at_threshold", "AP@IoU"], ["tp", "TP", "tp"], ["fp", "FP", "fp"], ["fn", "FN", "fn"],
      ["precision", "Precision"], ["recall", "Recall"],
    ],
    totals: (metrics) => [`At IoU ${metrics.iou_threshold}: `, "tp", " true positives, ", "fp", " false positives, ", "fn", " missed objects."],
  },
  classification: {
    summary: (summary) => [
      [["accuracy", "Accuracy", "items right"], ["micro_f1", "Micro F1", "over all items"], ["macro_f1", "Macro F1", "mean of the classes"],
        ["weighted_f1", "Weighted F1", "by support"], ["cohen_kappa", "Cohen's κ", "agreement beyond chance"]],
      Object.keys(summary).filter((key) => /^top_\d+_accuracy$/.test(key))
        .map((key) => [key, `Top-${key.split("_")[1]}`, "truth among the k likeliest"]),
    ].map((row) => row.filter(([key]) => key in summary)),
    columns: [
      ["label", "Label"], ["support", "Ground truth", "gt"], ["predicted", "Predicted", "predictions"],
      ["precision", "Precision"], ["recall", "Recall"], ["f1", "F1"], ["tp", "Right", "tp"], ["fp", "Wrong predictions", "fp"],
      ["fn", "Missed or mistaken", "fn"],
    ],
    totals: () => ["", "tp", " items predicted right, ", "fp", " wrong predictions, ", "fn", " items whose category was missed or mistaken."],
  },
};
TASKS.segmentation = {
  summary: (summary) => [
    [["miou", "mIoU", "mean IoU of the classes"], ["pixel_accuracy", "Pixel accuracy", "labelled pixels right"],
      ["mean_class_accuracy", "Mean class accuracy", "mean recall"], ["fw_iou", "FW IoU", "by the classes' pixels"], ["mean_dice", "Mean Dice", "of the classes"]],
  ].map((row) => row.filter(([key]) => key in summary)),
  columns: [
    ["label", "Label"], ["pixels", "Ground-truth pixels"], ["predicted", "Predicted pixels"], ["iou", "IoU"], ["accuracy", "Accuracy"], ["dice", "Dice"],
  ],
  totals: () => [],
};
TASKS.spans = {
  summary: (summary) => [
    [["precision", "Precision", "predicted spans right"], ["recall", "Recall", "ground-truth spans found"], ["f1", "F1", "micro, over all spans"],
      ["macro_f1", "Macro F1", "mean of the labels"], ["weighted_f1", "Weighted F1", "by support"]],
  ].map((row) => row.filter(([key]) => key in summary)),
  columns: [
    ["label", "Label"], ["support", "Ground truth", "gt"], ["predicted", "Predicted", "predictions"], ["tp", "Found", "tp"],
    ["fp", "Spurious", "fp"], ["fn", "Missed", "fn"], ["precision", "Precision"], ["recall", "Recall"], ["f1", "F1"],
  ],
  totals: () => ["", "tp", " spans found, ", "fp", " spurious predictions, ", "fn", " spans missed."],
};
const MANY_CLASSES = 10;

export async function renderEvaluation(view, { id, sub: evaluationId }) {
  css("/static/css/manager.css");
  css("/static/css/curate.css");
  css("/static/css/models.css");
  document.getElementById("view").className = "page page-curate";
  const context = await loadModelsContext(id);
  const { base, dataset } = context;
  let evaluation = await api(`${base}/evaluations/${encodeURIComponent(evaluationId)}`);
  const model = modelName(context, evaluation.model_id);
  const task = TASKS[evaluation.task] ? evaluation.task : "detection";
  const shape = TASKS[task];
  const matching = { task, classAgnostic: Boolean(evaluation.params?.class_agnostic) };
  let alive = true;
  document.title = `${evaluation.name || model} · Models · ${dataset.name} · Assay`;
  let slices = new Map();
  if (evaluation.scope?.slice_id) {
    slices = new Map((await fetchAll(`${base}/slices`, 500).catch(() => [])).map((s) => [s.id, s]));
  }
  const report = `/api/v1${base}/evaluations/${encodeURIComponent(evaluation.id)}/report`;
  const body = el("div", { class: "evaluation-body" });
  const facts = el("p", { class: "muted evaluation-facts" });
  view.replaceChildren(...modelsHeader(dataset, {
    crumbs: [evaluation.name || model],
    title: evaluation.name || model,
    actions: [
      el("a", { class: "button secondary", href: report, target: "_blank", rel: "noopener" }, "Report"),
      el("a", { class: "button secondary", href: `${report}?download=true`, download: "" }, "Download report"),
    ],
  }), facts, body);

  function describe() {
    const metrics = evaluation.metrics || {};
    const parts = [`Model ${model}`, scopeText(evaluation, slices)];
    if (metrics.items !== undefined) parts.push(plural(metrics.items, "item"));
    if (metrics.objects) parts.push(`${plural(metrics.objects.ground_truth, "object")} · ${plural(metrics.objects.predictions, "prediction")}`);
    if (task === "detection") {
      const kind = { segm: "mask ", keypoints: "OKS " }[evaluation.params?.iou_type] || "";
      parts.push(`matched at ${kind}IoU ${evaluation.params?.iou_threshold ?? 0.5}${matching.classAgnostic ? " whatever the labels" : ""}`);
    } else if (task === "segmentation") {
      parts.push(`${plural(metrics.pixels || 0, "labelled pixel")}, pixel by pixel`);
    } else if (task === "spans") {
      parts.push(metrics.mode === "partial" ? `spans matched at overlap IoU ${metrics.min_iou}` : "spans matched exactly");
    } else {
      parts.push("each item's category");
    }
    parts.push(evaluation.finished_at ? `evaluated ${formatDate(evaluation.finished_at)}` : `started ${formatDate(evaluation.created_at)}`);
    facts.replaceChildren(parts.join(" · "));
  }
  describe();

  if (evaluation.status !== "done") {
    const progress = el("progress", { max: 1, value: 0, "aria-label": "Evaluation progress" });
    const text = el("p", { class: "muted" });
    body.replaceChildren(el("section", { class: "card evaluation-pending" },
      el("h2", {}, evaluation.status === "failed" ? "This evaluation failed" : "Evaluating…"),
      evaluation.status === "failed" ? el("p", { class: "error" }, evaluation.error || "The job failed.") : progress, text));
    if (evaluation.status !== "failed" && evaluation.job_id) {
      followJob({ id: evaluation.job_id, status: "queued" }, { progress, text, label: "Evaluation", alive: () => alive })
        .then(async () => {
          if (!alive) return;
          evaluation = await api(`${base}/evaluations/${encodeURIComponent(evaluation.id)}`);
          context.evaluations = (await api(`${base}/evaluations`)).items;
          describe();
          if (evaluation.status === "done") show();
          else body.replaceChildren(el("section", { class: "card" }, el("p", { class: "error" }, evaluation.error || `The evaluation is ${evaluation.status}.`)));
        }, (error) => { text.textContent = humanMessage(error); });
    }
  } else {
    show();
  }

  function open(query) {
    navigate(explorerUrl(id, query));
  }

  // A count that opens its objects in the explorer.
  function countLink(count, query, title) {
    if (!count) return el("span", {}, (count ?? 0).toLocaleString());
    return el("a", { href: explorerUrl(id, query), title: title || `Open in the explorer: ${query}`, "data-query": query }, count.toLocaleString());
  }

  function show() {
    const metrics = evaluation.metrics;
    const caveats = outcomesCaveats(evaluation, context.evaluations);
    body.replaceChildren(...[
      summarySection(metrics),
      caveats.length ? el("p", { class: "note warn-note", role: "note" }, caveats.join(" ")) : null,
      classesSection(metrics),
      metrics.pr_curves || metrics.confidence
        ? el("div", { class: "evaluation-charts" }, metrics.pr_curves ? prSection(metrics) : null, metrics.confidence ? histogramSection(metrics) : null)
        : null,
      metrics.confusion && task !== "segmentation" ? confusionSection(metrics) : null,
      compareSection(),
    ].filter(Boolean));
  }

  function summarySection(metrics) {
    const summary = metrics.summary || {};
    const totals = metrics.totals || {};
    const tile = ([key, name, words]) => el("div", { class: "metric", "data-metric": key, title: words },
      el("span", { class: "metric-name" }, name), el("span", { class: "metric-value" }, fixed(summary[key])),
      el("span", { class: "metric-words muted" }, words));
    const sentence = shape.totals(metrics).map((part) => (["tp", "fp", "fn"].includes(part)
      ? el("span", { "data-total": part }, countLink(totals[part], outcomeQuery(model, part))) : part));
    return el("section", { class: "card evaluation-summary", "aria-label": "Summary" },
      ...shape.summary(summary).filter((row) => row.length).map((row) => el("div", { class: "metric-row" }, row.map(tile))),
      el("p", { class: "totals" }, sentence));
  }

  function classesSection(metrics) {
    const colourOf = (label) => paletteColor((metrics.labels || []).indexOf(label));
    const rows = [...(metrics.per_class || [])];
    let sortKey = "label";
    let descending = false;
    const tbody = el("tbody", {});
    const heads = shape.columns.map(([key, text]) => {
      const button = el("button", { type: "button", class: "sort", onclick: () => sortBy(key) },
        key === "ap_at_threshold" ? `AP@${metrics.iou_threshold}` : text);
      return el("th", { class: key === "label" ? "" : "right", "data-key": key, "aria-sort": "none" }, button);
    });
    const table = el("table", { class: "table per-class", "aria-label": "Per class" },
      el("thead", {}, el("tr", {}, heads)), tbody);

    function sortBy(key) {
      descending = key === sortKey ? !descending : key !== "label";
      sortKey = key;
      draw();
    }
    function draw() {
      const direction = descending ? -1 : 1;
      rows.sort((a, b) => {
        const x = a[sortKey];
        const y = b[sortKey];
        if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
        if (y === null || y === undefined) return -1;
        return (typeof x === "string" ? x.localeCompare(y) : x - y) * direction;
      });
      heads.forEach((th) => th.setAttribute("aria-sort", th.dataset.key === sortKey ? (descending ? "descending" : "ascending") : "none"));
      tbody.replaceChildren(...rows.map((row) => el("tr", { "data-label": row.label },
        ...shape.columns.map(([key, , outcome]) => {
          if (key === "label") return el("td", { class: "label-cell" }, el("span", { class: "swatch", "data-color": colourOf(row.label) }), row.label);
          const value = row[key];
          const content = outcome ? countLink(value, outcomeQuery(model, outcome, row.label)) : fixed(value);
          return el("td", { class: "right num", "data-key": key }, content);
        }))));
      tbody.querySelectorAll(".swatch[data-color]").forEach((node) => { node.style.background = node.dataset.color; });
    }
    draw();
    return el("section", { class: "card flush evaluation-classes" },
      el("h2", { class: "card-title section-pad" }, "Per class"),
      el("div", { class: "table-wrap" }, table));
  }

  function prSection(metrics) {
    const labels = (metrics.labels || []).filter((label) => metrics.pr_curves?.classes?.[label]);
    const byGroundTruth = [...(metrics.per_class || [])].sort((a, b) => b.ground_truth - a.ground_truth).map((c) => c.label);
    const initial = new Set(["all", ...(labels.length <= MANY_CLASSES ? labels : byGroundTruth.filter((l) => labels.includes(l)).slice(0, 5))]);
    const chart = prChart(metrics, {
      shown: initial,
      onPoint: (point) => open(pointQuery(model, point.label, point.score)),
    });
    const chosen = new Set(initial);
    const box = (label, text) => {
      const input = el("input", { type: "checkbox", checked: chosen.has(label), "data-label": label });
      input.addEventListener("change", () => {
        if (input.checked) chosen.add(label);
        else chosen.delete(label);
        chart.show(chosen);
      });
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = chart.colour(label);
      return el("label", { class: "check small" }, input, swatch, text);
    };
    return el("section", { class: "card evaluation-pr", "aria-labelledby": "pr-title" },
      el("h2", { class: "card-title", id: "pr-title" }, "Precision–recall"),
      chart.element,
      el("fieldset", { class: "pr-classes" }, el("legend", {}, "Curves"),
        box("all", "All classes (mean)"), ...labels.map((label) => box(label, label))),
      el("p", { class: "muted small" },
        `COCO's 101 recall points at IoU ${metrics.iou_threshold}. Hover for a point's precision and the confidence it is reached at; click a class's point for its false positives from that confidence up (predictions without a confidence count as 1 here, and have none to query).`));
  }

  function histogramSection(metrics) {
    const chart = histogramChart(metrics.confidence || {}, {
      onBar: ({ outcome, lo, hi, last }) => open(binQuery(model, outcome, lo, hi, last)),
    });
    return el("section", { class: "card evaluation-confidence", "aria-labelledby": "confidence-title" },
      el("h2", { class: "card-title", id: "confidence-title" }, "Confidence"),
      chart.element,
      el("p", { class: "legend small" }, el("span", { class: "key tp" }), "true positives ", el("span", { class: "key fp" }), "false positives"),
      el("p", { class: "muted small" }, "Every class's predictions at the evaluation's IoU. Click a bar for its objects."));
  }

  function confusionSection(metrics) {
    const confusion = metrics.confusion || { labels: [], matrix: [] };
    const labels = confusion.labels.slice(0, -1);
    const chart = confusionChart(confusion, {
      describe: (row, column) => cellQuery(model, labels, row, column, matching),
      onCell: (row, column) => open(cellQuery(model, labels, row, column, matching).query),
    });
    const intro = task === "classification"
      ? "Rows: each item's ground-truth category; columns: the model's (its most confident category on the item). The last column counts the items the model made no prediction on (missed), the last row its predictions on items without a category (spurious). Shade: the cell's share of its row."
      : `Rows: ground truth; columns: predictions, matched to the ground truth whatever their labels (greedily by confidence, at IoU ${confusion.iou_threshold ?? metrics.iou_threshold}). The last column counts the objects no prediction matched (missed), the last row the predictions that matched nothing (spurious). Shade: the cell's share of its row.`;
    // What each kind of cell opens, in the words of its query (labels A and B standing in).
    const example = (row, column) => cellQuery(model, ["A", "B"], row, column, matching);
    const kinds = [["Diagonal: ", example(0, 0)], ["Ground truth A predicted as B: ", example(0, 1)],
      ["Missed: ", example(0, 2)], ["Spurious: ", example(2, 1)]];
    return el("section", { class: "card evaluation-confusion", "aria-labelledby": "confusion-title" },
      el("h2", { class: "card-title", id: "confusion-title" }, "Confusion matrix"),
      el("p", { class: "muted small" }, intro),
      chart.element,
      el("details", { class: "cell-queries" }, el("summary", {}, "What a click on a cell opens"),
        el("ul", { class: "small" }, kinds.map(([name, cell]) => el("li", { "data-kind": cell.kind },
          el("strong", {}, name), cell.note, cell.exact ? "" : " (not exactly the cell)")))));
  }

  function compareSection() {
    // Comparisons are of two evaluations of one task (GET …/evaluations/compare).
    if (task === "segmentation") return null;
    const others = context.evaluations.filter((e) => e.status === "done" && e.id !== evaluation.id && taskOf(e) === task);
    if (!others.length) return null;
    const other = select("base", others.map((e) => [e.id, evaluationLabel(context, e, { when: true })]),
      others[0].id, { "aria-label": "Evaluation to compare with" });
    const form = el("form", { class: "toolbar compare-form card", "aria-label": "Compare with another evaluation" },
      el("strong", {}, "Compare with"), other, el("button", { type: "submit", class: "secondary" }, "Compare"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      navigate(comparePath(id, other.value, evaluation.id));
    });
    return form;
  }

  return { destroy: () => { alive = false; } };
}
