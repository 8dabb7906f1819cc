// The explorer queries behind the Models page's numbers: a confusion cell, a PR-curve point,
// a histogram bar, a per-class count. They use the outcomes an evaluation writes back to the
// objects (`prediction.<model>.match`, `annotation.match`: tp / fp / fn — for boxes at the
// evaluation's IoU threshold, labels compared unless it was class-agnostic; for categories,
// an item's prediction right or wrong). Where a number cannot be asked for exactly — a box
// evaluation's confusion matrix matches predictions whatever their labels — the query is the
// closest superset the language can say, and `note` says in words what it shows.

import { segment } from "/static/js/curate/querybar.js";

// A string literal of the query language: only `"` and `\` are escaped there.
export const quote = (text) => `"${String(text).replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;

// The explorer's object view on `query` (the explorer reads q and view from the URL).
export function explorerUrl(datasetId, query, view = "objects") {
  const params = new URLSearchParams({ q: query });
  if (view === "objects") params.set("view", "objects");
  return `/datasets/${encodeURIComponent(datasetId)}?${params}`;
}

const prediction = (model) => `prediction.${segment(model)}`;

// Every count of the summary and the per-class table as a query of its objects.
export function outcomeQuery(model, outcome, label = null) {
  const labelled = (prefix) => (label === null ? "" : `${prefix}.label = ${quote(label)} AND `);
  if (outcome === "fn") return `${labelled("annotation")}annotation.match = fn`;
  if (outcome === "gt") return `annotation.label = ${quote(label)}`;
  if (outcome === "predictions") return `${prediction(model)}.label = ${quote(label)}`;
  return `${labelled(prediction(model))}${prediction(model)}.match = ${outcome}`;
}

// A confusion-matrix cell (row: ground truth, column: prediction; the last of each is
// "(none)") → {kind, query, exact, note}, or null for the empty corner. `task` and
// `classAgnostic` are the evaluation's: they decide what the written-back outcomes mean.
export function cellQuery(model, labels, row, column, { task = "detection", classAgnostic = false } = {}) {
  const n = labels.length;
  if (row === n && column === n) return null;
  const truth = labels[row];
  const predicted = labels[column];
  const kind = column === n ? "missed" : row === n ? "spurious" : row === column ? "hit" : "confused";
  const cell = task === "classification" ? classificationCell(model, kind, truth, predicted)
    : classAgnostic ? agnosticCell(model, kind, truth, predicted) : detectionCell(model, kind, truth, predicted);
  return { kind, ...cell };
}

// Boxes matched within their label (COCO): a prediction on another label's object is a false
// positive, and its object a miss, so the off-diagonal cells are not outcomes of their own.
function detectionCell(model, kind, truth, predicted) {
  const p = prediction(model);
  if (kind === "missed") {
    return {
      query: outcomeQuery(model, "fn", truth), exact: false,
      note: `ground-truth ${truth} objects no ${truth} prediction matched: the ones missed here, plus those predicted as another label (row ${truth}'s other cells).`,
    };
  }
  if (kind === "spurious") {
    return {
      query: outcomeQuery(model, "fp", predicted), exact: false,
      note: `false-positive ${predicted} predictions: the ones that matched nothing, plus those on another label's objects (column ${predicted}'s other cells).`,
    };
  }
  if (kind === "hit") {
    return {
      query: outcomeQuery(model, "tp", predicted), exact: false,
      note: `true-positive ${predicted} predictions. The matrix matches whatever the labels, the explorer's outcomes within a label, so the two counts can differ slightly.`,
    };
  }
  return {
    query: `${p}.label = ${quote(predicted)} AND ${p}.match = fp AND annotations.${segment(truth)} > 0`, exact: false,
    note: `false-positive ${predicted} predictions on items with ground-truth ${truth}: the ones on a ${truth} here, plus other ${predicted} false positives on those items (the query language cannot say which object a false positive overlaps).`,
  };
}

// Boxes matched whatever their labels: missed and spurious are the outcomes themselves.
function agnosticCell(model, kind, truth, predicted) {
  const p = prediction(model);
  if (kind === "missed") {
    return { query: outcomeQuery(model, "fn", truth), exact: true, note: `ground-truth ${truth} objects nothing matched.` };
  }
  if (kind === "spurious") {
    return { query: outcomeQuery(model, "fp", predicted), exact: true, note: `${predicted} predictions that matched nothing.` };
  }
  return {
    query: `${p}.label = ${quote(predicted)} AND ${p}.match = tp AND annotations.${segment(truth)} > 0`, exact: false,
    note: `${predicted} predictions that matched an object, on items with ground-truth ${truth}: the ones on a ${truth} here, plus those on other objects of those items (the query language cannot say which label the matched object has).`,
  };
}

// One category per item, one prediction (the model's most confident category) per item:
// every cell is a set of items, and its query says which.
function classificationCell(model, kind, truth, predicted) {
  const p = prediction(model);
  const category = (label) => `ANY(annotation.label = ${quote(label)} AND annotation.type = "category")`;
  if (kind === "hit") {
    return { query: outcomeQuery(model, "tp", predicted), exact: true, note: `items of ${predicted} predicted ${predicted}.` };
  }
  if (kind === "confused") {
    return {
      query: `${p}.label = ${quote(predicted)} AND ${p}.match = fp AND ${category(truth)}`, exact: true,
      note: `${predicted} predictions on items of ${truth} (the cell's items, when an item has one ground-truth category).`,
    };
  }
  if (kind === "missed") {
    return {
      query: `${outcomeQuery(model, "fn", truth)} AND NOT ANY(${p}.type = "category")`, exact: true,
      note: `items of ${truth} the model made no prediction on.`,
    };
  }
  return {
    query: `${outcomeQuery(model, "fp", predicted)} AND NOT ANY(annotation.type = "category")`, exact: true,
    note: `${predicted} predictions on items without a ground-truth category.`,
  };
}

// A point of a class's PR curve: the false positives the model makes down to that confidence.
export function pointQuery(model, label, score) {
  const p = prediction(model);
  return `${p}.label = ${quote(label)} AND ${p}.match = fp AND ${p}.confidence >= ${score}`;
}

// A histogram bar: the true or false positives in the bin (the last bin holds its top edge).
// The edges go in as stored (0.15000000000000002), so the bin's objects are exactly these.
export function binQuery(model, outcome, lo, hi, last) {
  const p = prediction(model);
  return `${p}.match = ${outcome} AND ${p}.confidence >= ${lo} AND ${p}.confidence ${last ? "<=" : "<"} ${hi}`;
}

// Why the explorer may show other outcomes than this evaluation's: it joins each model's
// latest finished evaluation to its predictions and the latest of all to the ground truth.
export function outcomesCaveats(evaluation, evaluations) {
  const done = evaluations.filter((e) => e.status === "done")
    .sort((a, b) => String(b.finished_at).localeCompare(String(a.finished_at)));
  const latestOfModel = done.find((e) => e.model_id === evaluation.model_id);
  const latest = done[0];
  const notes = [];
  if (latestOfModel && latestOfModel.id !== evaluation.id) {
    notes.push(`The explorer shows this model's predictions with the outcomes of its latest evaluation (“${latestOfModel.name}”), not this one's.`);
  }
  if (latest && latest.id !== evaluation.id) {
    notes.push(`Ground truth in the explorer (missed objects) carries the outcomes of the latest evaluation on the dataset (“${latest.name}”).`);
  }
  return notes;
}
