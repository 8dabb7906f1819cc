// An item's detail, opened from the grid: the image large with its shapes (ground truth and
// the chosen models' predictions), its metadata as a table, its tags and the list of its
// annotations and predictions.

import { api, el } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { openDialog } from "/static/js/manager/ui.js";
import { layersOf } from "/static/js/curate/cells.js";
import { metadataPaths } from "/static/js/curate/facets.js";
import { colorOf, geometryText, mediaSrc, overlay, sizeOverlay } from "/static/js/curate/shapes.js";

function valueAt(metadata, path) {
  return path.split(".").slice(1).reduce((value, key) => (value == null ? undefined : value[key]), metadata);
}

function metadataTable(metadata) {
  const paths = [...metadataPaths(metadata)].sort();
  if (!paths.length) return el("p", { class: "muted small" }, "No metadata.");
  return el("table", { class: "table compact", "aria-label": "Metadata" },
    el("tbody", {}, paths.map((path) => {
      const value = valueAt(metadata, path);
      return el("tr", {}, el("th", { scope: "row" }, path.slice("metadata.".length)),
        el("td", { class: "mono" }, typeof value === "string" ? value : JSON.stringify(value)));
    })));
}

function shapeList(layers) {
  const rows = layers.flatMap(({ source, shapes }) => shapes.map((shape) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colorOf(shape.label);
    return el("li", { "data-source": source },
      swatch, el("strong", {}, shape.label || shape.type), " ",
      el("span", { class: "muted small" }, geometryText(shape)), " ",
      source === "gt" ? el("span", { class: "badge" }, "GT")
        : el("span", { class: "badge info" }, `${source}${shape.confidence != null ? ` ${shape.confidence.toFixed(2)}` : ""}`));
  }));
  if (!rows.length) return el("p", { class: "muted small" }, "No annotations.");
  return el("ul", { class: "shape-list", "aria-label": "Annotations" }, rows);
}

// Open the detail of `row` (a grid item, or an object's item by id) of `datasetId`;
// `actions` ([{label, run(item)}]) are buttons that close the detail and act on the item.
export async function openItem(datasetId, row, { models, actions = [] }) {
  let item;
  try {
    item = await api(`/datasets/${encodeURIComponent(datasetId)}/items/${encodeURIComponent(row.id || row.item_id)}`);
  } catch (error) {
    item = null;
    row = { ...row, error: humanMessage(error) };
  }
  const shown = item ? { ...item, predictions: row.predictions || {} } : null;
  return openDialog(row.reference_id, (close) => {
    if (!shown) return el("div", {}, el("p", { class: "error", role: "alert" }, row.error));
    const layers = layersOf(shown, models);
    const svg = overlay(layers, { width: shown.width || 1, height: shown.height || 1, stroke: 2 });
    const img = el("img", { alt: shown.reference_id, class: "detail-image" });
    img.addEventListener("load", () => {
      if (!shown.width || !shown.height) sizeOverlay(svg, img.naturalWidth, img.naturalHeight);
    });
    const stage = el("div", { class: "detail-stage" }, img, svg);
    mediaSrc(shown.media).then((src) => { if (src) img.src = src; else stage.classList.add("broken"); },
      () => stage.classList.add("broken"));
    const body = el("div", { class: "item-detail" },
      shown.kind === "text" ? el("div", { class: "detail-text" }, shown.text || "") : stage,
      el("div", { class: "detail-side" },
        el("p", { class: "muted small" }, `${shown.kind}${shown.width ? ` · ${shown.width}×${shown.height}` : ""}`),
        actions.length ? el("div", { class: "detail-actions" }, actions.map((action) => el("button", {
          type: "button", class: "small secondary", onclick: () => { close(null); action.run(shown); },
        }, action.label))) : null,
        el("h3", {}, "Tags"),
        shown.tags.length ? el("p", { class: "tags" }, shown.tags.map((tag) => el("span", { class: "chip" }, tag)))
          : el("p", { class: "muted small" }, "No tags."),
        el("h3", {}, "Metadata"), metadataTable(shown.metadata),
        el("h3", {}, "Annotations"), shapeList(layers)));
    queueMicrotask(() => body.closest("dialog")?.classList.add("detail-dialog"));
    return body;
  });
}
