// The explorer's grid cells: an item's thumbnail with its ground truth and the chosen models'
// predictions drawn over it, and an object's crop (the object's region of its item's image,
// scaled into the cell, with its shape over it).

import { el } from "/static/js/api.js";
import { extent, mediaSrc, overlay, sizeOverlay } from "/static/js/curate/shapes.js";

export const ITEM_CELL = { width: 184, height: 204 };
export const OBJECT_CELL = { width: 150, height: 184 };
const CROP = { width: 150, height: 140 };

const round = (n, digits = 2) => (n === null || n === undefined ? "—" : String(Math.round(n * 10 ** digits) / 10 ** digits));

// An <img> for `media`, its src filled in once signed; `onSize(w, h)` when it has loaded.
function image(media, alt, onSize) {
  const img = el("img", { alt, decoding: "async", loading: "lazy", draggable: "false" });
  img.addEventListener("load", () => onSize?.(img.naturalWidth, img.naturalHeight));
  img.addEventListener("error", () => img.closest(".thumb, .crop")?.classList.add("broken"));
  mediaSrc(media).then((src) => {
    if (src) img.src = src;
    else img.closest(".thumb, .crop")?.classList.add("broken");
  }, () => img.closest(".thumb, .crop")?.classList.add("broken"));
  return img;
}

// The layers an item shows: its ground truth, then each enabled model's predictions.
export function layersOf(item, models) {
  const layers = [{ source: "gt", shapes: item.annotations || [] }];
  for (const [model, shapes] of Object.entries(item.predictions || {})) {
    if (models.has(model)) layers.push({ source: model, shapes });
  }
  return layers;
}

// A placeholder while the cell's page is on its way.
export function pendingCell() {
  return el("div", { class: "cell pending", "aria-busy": "true" }, el("div", { class: "thumb skeleton" }));
}

// `score` (a similarity, or the measure sorted by: `scoreTitle`, `scoreDigits` decimals) is
// shown in the caption;
// `onSimilar` adds a Find similar action.
export function itemCell(item, { models, selected, onOpen, onSelect, score = null, scoreTitle = "Similarity", scoreDigits = 3, onSimilar = null }) {
  const svg = overlay(layersOf(item, models), { width: item.width || 1, height: item.height || 1 });
  const thumb = el("button", {
    type: "button", class: "thumb", "aria-label": `Open ${item.reference_id}`, onclick: () => onOpen(item),
  });
  if (item.kind === "text" || (!item.media && item.text)) {
    thumb.append(el("span", { class: "thumb-text" }, String(item.text || "").slice(0, 300)));
  } else {
    thumb.append(image(item.media, item.reference_id, (w, h) => {
      if (!item.width || !item.height) sizeOverlay(svg, w, h);
    }), svg);
  }
  const check = el("input", {
    type: "checkbox", class: "cell-check", checked: selected, "aria-label": `Select ${item.reference_id}`,
    onclick: (event) => onSelect(event),
  });
  const gt = (item.annotations || []).length;
  const predicted = Object.entries(item.predictions || {})
    .reduce((n, [model, shapes]) => n + (models.has(model) ? shapes.length : 0), 0);
  return el("div", {
    class: `cell item-cell${selected ? " selected" : ""}`, "data-ready": "1", "data-reference": item.reference_id,
  },
  thumb, check,
  onSimilar ? el("button", {
    type: "button", class: "cell-similar small", title: "Find similar items",
    "aria-label": `Find similar to ${item.reference_id}`, onclick: () => onSimilar(item),
  }, "≈") : null,
  el("div", { class: "cell-caption" },
    el("span", { class: "cell-name", title: item.reference_id }, item.reference_id),
    score === null
      ? el("span", { class: "cell-counts muted", title: "Ground-truth annotations · predictions shown" },
        `${gt} GT${predicted ? ` · ${predicted} pred` : ""}`)
      : el("span", { class: "cell-score", title: scoreTitle, "data-score": score },
        score.toFixed(scoreDigits))));
}

// Position `img` (the whole image, w×h) so that `region` fills the crop box, centred.
function placeCrop(img, svg, shapeBox, w, h) {
  const pad = Math.max(4, 0.15 * Math.max(shapeBox.width, shapeBox.height));
  const x0 = Math.max(0, shapeBox.x - pad);
  const y0 = Math.max(0, shapeBox.y - pad);
  const region = {
    x: x0, y: y0,
    width: Math.max(1, Math.min(w, shapeBox.x + shapeBox.width + pad) - x0),
    height: Math.max(1, Math.min(h, shapeBox.y + shapeBox.height + pad) - y0),
  };
  const scale = Math.min(CROP.width / region.width, CROP.height / region.height);
  img.style.width = `${w * scale}px`;
  img.style.height = `${h * scale}px`;
  img.style.left = `${(CROP.width - region.width * scale) / 2 - region.x * scale}px`;
  img.style.top = `${(CROP.height - region.height * scale) / 2 - region.y * scale}px`;
  svg.setAttribute("viewBox", `${region.x} ${region.y} ${region.width} ${region.height}`);
}

// `onSimilar` adds a Find similar objects action (where the dataset has object embeddings);
// `score` (a pinned search's similarity) replaces the source in the caption.
export function objectCell(object, { onOpen, onSimilar = null, score = null }) {
  const shapeBox = extent(object.shape);
  const source = object.source === "gt" ? "gt" : object.source;
  const svg = overlay([{ source, shapes: object.shape ? [object.shape] : [] }], { width: 1, height: 1, stroke: 2 });
  const crop = el("button", {
    type: "button", class: "crop", "aria-label": `Open ${object.reference_id}: ${object.label}`,
    onclick: () => onOpen(object),
  });
  const img = image(object.media, `${object.label} in ${object.reference_id}`, (w, h) => {
    if (shapeBox) placeCrop(img, svg, shapeBox, object.item_width || w, object.item_height || h);
  });
  img.classList.add("crop-image");
  crop.append(img, svg);
  if (shapeBox && object.item_width && object.item_height) {
    placeCrop(img, svg, shapeBox, object.item_width, object.item_height);
  }
  const facts = [
    object.confidence !== null && object.confidence !== undefined ? `conf ${round(object.confidence)}` : null,
    object.area !== null && object.area !== undefined ? `area ${round(object.area, 0)}` : null,
  ].filter(Boolean).join(" · ");
  return el("div", {
    class: "cell object-cell", "data-ready": "1", "data-reference": object.reference_id,
    "data-object": object.object_id, "data-area": object.area ?? "", "data-confidence": object.confidence ?? "",
  },
  crop,
  onSimilar ? el("button", {
    type: "button", class: "cell-similar small", title: "Find similar objects",
    "aria-label": `Find similar objects to ${object.label} in ${object.reference_id}`,
    onclick: () => onSimilar(object),
  }, "≈") : null,
  el("div", { class: "cell-caption" },
    el("span", { class: "cell-name", title: `${object.label} (${source})` }, object.label),
    score === null
      ? el("span", { class: "cell-counts muted" }, source === "gt" ? "GT" : source)
      : el("span", { class: "cell-score", title: "Similarity", "data-score": score }, score.toFixed(3))),
  el("div", { class: "cell-facts muted small" }, facts));
}
