// Two evaluations side by side (/datasets/{id}/models/compare?base=…&new=…), from
// GET /datasets/{id}/evaluations/compare: the summary numbers of each with the delta
// (new − base), per-class AP of each with the delta (worst first, sortable), and the items
// where the new model does worse (more false positives plus misses), each linking to the
// item in the explorer. Computed on the items both evaluated.

import { api, css, el, navigate } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { plural, select } from "/static/js/manager/ui.js";
import { explorerUrl, quote } from "/static/js/curate/evalqueries.js";
import {
  comparePath, evaluationLabel, evaluationPath, fixed, loadModelsContext, modelsHeader,
} from "/static/js/curate/models.js";

const SUMMARY = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "AR", "AR50", "AR75", "ARs", "ARm", "ARl"];
const ITEMS_SHOWN = 50;

const signed = (x) => (x === null || x === undefined ? "—" : `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x).toFixed(3)}`);
const trend = (x) => (x === null || x === undefined || Math.abs(x) < 5e-4 ? "same" : x > 0 ? "better" : "worse");

export async function renderCompare(view, { id }) {
  css("/static/css/manager.css");
  css("/static/css/curate.css");
  css("/static/css/models.css");
  document.getElementById("view").className = "page page-curate";
  const context = await loadModelsContext(id);
  const { base, dataset } = context;
  const params = new URLSearchParams(location.search);
  const done = context.evaluations.filter((e) => e.status === "done");
  const baseId = params.get("base") || done[1]?.id || "";
  const newId = params.get("new") || done[0]?.id || "";
  document.title = `Compare · Models · ${dataset.name} · Assay`;
  const options = done.map((e) => [e.id, evaluationLabel(context, e, { when: true })]);
  const baseline = select("base", options, baseId, { "aria-label": "Baseline evaluation" });
  const candidate = select("new", options, newId, { "aria-label": "Evaluation to compare" });
  const chooser = el("form", { class: "toolbar compare-form card", "aria-label": "Evaluations compared" },
    el("strong", {}, "Baseline"), baseline, el("strong", {}, "New"), candidate,
    el("button", { type: "submit", class: "secondary" }, "Compare"));
  chooser.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(comparePath(id, baseline.value, candidate.value));
  });
  const body = el("div", { class: "compare-body" });
  view.replaceChildren(...modelsHeader(dataset, { crumbs: ["Compare"], title: "Compare evaluations" }), chooser, body);
  if (!baseId || !newId) {
    body.replaceChildren(el("p", { class: "muted card" }, "Two finished evaluations are needed to compare."));
    return {};
  }
  let compared;
  try {
    const query = new URLSearchParams({ base: baseId, new: newId, limit: String(ITEMS_SHOWN) });
    compared = await api(`${base}/evaluations/compare?${query}`);
  } catch (error) {
    if (error.status === 401) throw error;
    body.replaceChildren(el("p", { class: "error card", role: "alert" }, `Could not compare: ${humanMessage(error)}`));
    return {};
  }
  const name = (side) => el("a", { href: evaluationPath(id, side.id) }, evaluationLabel(context, side));
  body.replaceChildren(
    el("p", { class: "muted compare-scope" },
      compared.same_scope ? `Both evaluated the same ${plural(compared.items_compared, "item")}.`
        : `Compared on the ${plural(compared.items_compared, "item")} both evaluated (their scopes differ); the numbers below are recomputed on those items.`),
    summaryTable(compared, name),
    classesTable(compared),
    itemsSection(compared));
  return {};

  function summaryTable(answer, nameOf) {
    const keys = answer.task && answer.task !== "detection"
      ? [...new Set([...Object.keys(answer.base.summary || {}), ...Object.keys(answer.new.summary || {})])]
      : SUMMARY.filter((key) => key in (answer.new.summary || {}) || key in (answer.base.summary || {}));
    const rows = keys.map((key) => {
      const delta = answer.summary_delta[key];
      return el("tr", { "data-metric": key },
        el("td", { class: "metric-key" }, key),
        el("td", { class: "right num", "data-side": "base" }, fixed(answer.base.summary?.[key])),
        el("td", { class: "right num", "data-side": "new" }, fixed(answer.new.summary?.[key])),
        el("td", { class: `right num delta ${trend(delta)}`, "data-side": "delta" }, signed(delta)));
    });
    return el("section", { class: "card flush compare-summary" },
      el("h2", { class: "card-title section-pad" }, "Summary"),
      el("div", { class: "table-wrap" }, el("table", { class: "table", "aria-label": "Summary compared" },
        el("thead", {}, el("tr", {}, el("th", {}, "Metric"), el("th", { class: "right" }, "Baseline ", nameOf(answer.base)),
          el("th", { class: "right" }, "New ", nameOf(answer.new)), el("th", { class: "right" }, "Δ (new − baseline)"))),
        el("tbody", {}, rows))));
  }

  function classesTable(answer) {
    const rows = [...answer.per_class];
    let key = "delta";
    let descending = false;
    const tbody = el("tbody", {});
    const peak = Math.max(0.001, ...rows.map((r) => Math.abs(r.delta ?? 0)));
    const metric = answer.class_metric || "ap";
    const heading = metric.toUpperCase();
    const columns = [["label", "Label"], [`base_${metric}`, `Baseline ${heading}`], [`new_${metric}`, `New ${heading}`], ["delta", `Δ ${heading}`]];
    const heads = columns.map(([k, text]) => el("th", { class: k === "label" ? "" : "right", "data-key": k, "aria-sort": "none" },
      el("button", { type: "button", class: "sort", onclick: () => { descending = k === key ? !descending : false; key = k; draw(); } }, text)));
    function draw() {
      const direction = descending ? -1 : 1;
      rows.sort((a, b) => {
        const x = a[key];
        const y = b[key];
        if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
        if (y === null || y === undefined) return -1;
        return (typeof x === "string" ? x.localeCompare(y) : x - y) * direction;
      });
      heads.forEach((th) => th.setAttribute("aria-sort", th.dataset.key === key ? (descending ? "descending" : "ascending") : "none"));
      tbody.replaceChildren(...rows.map((row) => {
        const bar = el("span", { class: `delta-bar ${trend(row.delta)}` });
        bar.style.width = `${(50 * Math.abs(row.delta ?? 0)) / peak}%`;
        bar.style[row.delta < 0 ? "right" : "left"] = "50%";
        return el("tr", { "data-label": row.label },
          el("td", {}, row.label),
          el("td", { class: "right num", "data-key": `base_${metric}` }, fixed(row[`base_${metric}`])),
          el("td", { class: "right num", "data-key": `new_${metric}` }, fixed(row[`new_${metric}`])),
          el("td", { class: `right num delta ${trend(row.delta)}`, "data-key": "delta" },
            el("span", { class: "delta-track", "aria-hidden": "true" }, bar), signed(row.delta)));
      }));
    }
    draw();
    return el("section", { class: "card flush compare-classes" },
      el("h2", { class: "card-title section-pad" }, "Per class"),
      el("div", { class: "table-wrap" }, el("table", { class: "table", "aria-label": `Per-class ${heading} compared` },
        el("thead", {}, el("tr", {}, heads)), tbody)));
  }

  function itemsSection(answer) {
    const counts = (side) => `${side.tp} / ${side.fp} / ${side.fn}`;
    const rows = answer.items.map((item) => el("tr", { "data-item": item.item_id },
      el("td", {}, el("a", { href: explorerUrl(id, `item_id = ${quote(item.item_id)}`, "items") }, item.reference_id || item.item_id)),
      el("td", { class: "right num", "data-side": "base" }, counts(item.base)),
      el("td", { class: "right num", "data-side": "new" }, counts(item.new)),
      el("td", { class: "right num delta worse", "data-key": "worse_by" }, `+${item.worse_by}`)));
    const more = answer.items_worse > answer.items.length
      ? el("p", { class: "muted small section-pad" }, `The ${answer.items.length} worst of ${plural(answer.items_worse, "item")}.`) : null;
    return el("section", { class: "card flush compare-items" },
      el("h2", { class: "card-title section-pad" }, "Items where the new model is worse"),
      el("p", { class: "muted small section-pad" },
        `${plural(answer.items_worse, "item")} with more false positives plus misses under the new model; ${plural(answer.items_disagreeing, "item")} where the counts differ at all. TP / FP / FN of each; a click opens the item in the explorer.`),
      rows.length ? el("div", { class: "table-wrap" }, el("table", { class: "table", "aria-label": "Items where the new model is worse" },
        el("thead", {}, el("tr", {}, el("th", {}, "Item"), el("th", { class: "right" }, "Baseline TP / FP / FN"),
          el("th", { class: "right" }, "New TP / FP / FN"), el("th", { class: "right" }, "Worse by"))),
        el("tbody", {}, rows))) : el("p", { class: "section-pad" }, "None: the new model does no worse on any item."),
      more);
  }
}
