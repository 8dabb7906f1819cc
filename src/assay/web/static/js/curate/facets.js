// The explorer's sidebar facets for the current query's matches: label counts per source
// (ground truth and each model), tags, a histogram per numeric metadata column and autotag,
// and each model's confidence. Clicking one adds its condition to the query.

import { el } from "/static/js/api.js";
import { colorOf } from "/static/js/curate/shapes.js";
import { segment } from "/static/js/curate/querybar.js";

const fmt = (n) => Number(n).toLocaleString();
const edge = (x) => String(Math.round(Number(x) * 1000) / 1000);
const quote = (text) => JSON.stringify(String(text));

// The field path as the query language writes it: ["metadata", "lens-type"] → metadata."lens-type".
export const fieldPath = (column) => column.split(".").map(segment).join(".");

function facetRow(name, count, condition, onFilter, swatch = null) {
  return el("li", {},
    el("button", {
      type: "button", class: "facet", title: `Filter: ${condition}`, "data-condition": condition,
      onclick: () => onFilter(condition),
    },
    swatch ? el("span", { class: "swatch", "data-color": swatch }) : null,
    el("span", { class: "facet-name" }, name),
    el("span", { class: "facet-count" }, fmt(count))));
}

function paintSwatches(root) {
  root.querySelectorAll(".swatch[data-color]").forEach((node) => { node.style.background = node.dataset.color; });
}

// A label's condition: in the item view, items with such an object (a count); in the object
// view, the objects with that label from that source.
function labelCondition(source, label, view) {
  if (view === "objects") {
    const prefix = source === "gt" ? "annotation" : `prediction.${segment(source)}`;
    return `${prefix}.label = ${quote(label)}`;
  }
  const prefix = source === "gt" ? "annotations" : `predictions.${segment(source)}`;
  return `${prefix}.${segment(label)} > 0`;
}

function labelGroups(labels, onFilter, view) {
  const sources = Object.keys(labels || {}).sort((a, b) => (a === "gt" ? -1 : b === "gt" ? 1 : a.localeCompare(b)));
  return sources.map((source) => {
    const entries = Object.entries(labels[source]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return el("div", { class: "facet-group", "data-source": source },
      el("h4", {}, source === "gt" ? "Ground truth" : `Model ${source}`),
      el("ul", { class: "facet-list" }, entries.map(([label, n]) =>
        facetRow(label, n, labelCondition(source, label, view), onFilter, colorOf(label)))));
  });
}

// A 20-bin histogram whose bars filter to their bin (the last bin includes its upper edge).
function histogram(title, field, { edges, counts }, onFilter) {
  const peak = Math.max(1, ...counts);
  const bars = counts.map((n, i) => {
    const lo = edges[i];
    const hi = edges[i + 1];
    const upper = i === counts.length - 1 ? "<=" : "<";
    const condition = `${field} >= ${edge(lo)} AND ${field} ${upper} ${edge(hi)}`;
    const bar = el("button", {
      type: "button", class: "bar", title: `${edge(lo)} – ${edge(hi)}: ${fmt(n)}`,
      "aria-label": `${title} ${edge(lo)} to ${edge(hi)}: ${fmt(n)}`, "data-condition": condition,
      disabled: n === 0, onclick: () => onFilter(condition),
    }, el("span", { class: "bar-fill", "data-height": String(Math.round((100 * n) / peak)) }));
    return bar;
  });
  const node = el("div", { class: "histogram", "data-field": field },
    el("h4", {}, title),
    el("div", { class: "bars" }, bars),
    el("div", { class: "histogram-axis muted small" }, el("span", {}, edge(edges[0])), el("span", {}, edge(edges[edges.length - 1]))));
  node.querySelectorAll(".bar-fill").forEach((fill) => { fill.style.height = `${fill.dataset.height}%`; });
  return node;
}

function section(title, ...children) {
  const body = children.flat().filter(Boolean);
  if (!body.length) return null;
  return el("section", { class: "facet-section" }, el("h3", {}, title), body);
}

// The sidebar's facets from a query answer's `facets`.
export function renderFacets(facets, { onFilter, view = "items" }) {
  if (!facets) return el("p", { class: "muted small" }, "No facets.");
  const tags = Object.entries(facets.tags || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const numbers = Object.entries(facets.histograms || {}).sort((a, b) => a[0].localeCompare(b[0]));
  const confidences = Object.entries(facets.confidence || {}).sort((a, b) => a[0].localeCompare(b[0]));
  const root = el("div", { class: "facets" },
    el("p", { class: "facet-totals muted small" },
      `${fmt(facets.items)} items · ${fmt(facets.objects)} objects`),
    section("Labels", labelGroups(facets.labels, onFilter, view)),
    section("Tags", tags.length ? el("ul", { class: "facet-list" },
      tags.map(([tag, n]) => facetRow(tag, n, `${quote(tag)} IN tags`, onFilter))) : null),
    section("Metadata", numbers.map(([column, hist]) => histogram(column, fieldPath(column), hist, onFilter))),
    section("Confidence", confidences.map(([model, hist]) => histogram(model,
      `prediction.${segment(model)}.confidence`, hist, onFilter))));
  paintSwatches(root);
  return root;
}

// Field names the query bar completes: item fields, counts per label and model, metadata
// and autotag columns (from the facets, and from the metadata of items seen so far).
export function knownFields(facets, seenMetadata) {
  const names = new Set(["reference_id", "item_id", "kind", "width", "height", "tags", "slices",
    "annotations.count", "predictions.count"]);
  for (const what of ["label", "type", "area", "width", "height", "aspect", "source", "confidence", "iou"]) {
    names.add(`annotation.${what}`);
    names.add(`prediction.${what}`);
    names.add(`object.${what}`);
  }
  for (const [source, labels] of Object.entries(facets?.labels || {})) {
    const prefix = source === "gt" ? "annotations" : `predictions.${segment(source)}`;
    if (source !== "gt") {
      names.add(prefix);
      names.add(`prediction.${segment(source)}.confidence`);
    }
    for (const label of Object.keys(labels)) names.add(`${prefix}.${segment(label)}`);
  }
  for (const column of Object.keys(facets?.histograms || {})) names.add(fieldPath(column));
  for (const column of seenMetadata) names.add(fieldPath(column));
  return [...names].sort();
}

// Flattened metadata paths of an item's metadata: {camera: {id: 1}} → ["metadata.camera.id"].
export function metadataPaths(metadata, prefix = "metadata", out = new Set()) {
  for (const [key, value] of Object.entries(metadata || {})) {
    const path = `${prefix}.${key}`;
    if (value && typeof value === "object" && !Array.isArray(value)) metadataPaths(value, path, out);
    else out.add(path);
  }
  return out;
}
