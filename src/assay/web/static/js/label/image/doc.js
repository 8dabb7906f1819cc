// The image workspace's document: shapes, suggestions (pre-labels not yet accepted), links
// and global attributes; the taxonomy lookups it needs; and conversion
// from and to the response JSON of annotations.py. Every edit returns a new document, so
// undo/redo is a stack of references (see History).

import { attributeDefs, effectiveValues, newId } from "/static/js/label/common.js";
import { clampShape, geometryJson } from "/static/js/label/image/geometry.js";
import { maskFromRle, maskToRle } from "/static/js/label/image/mask.js";

export const IMAGE_GEOMETRIES = ["box", "polygon", "line", "point", "keypoints", "ellipse", "cuboid", "mask"];
const HISTORY_LIMIT = 200;

// --- taxonomy ---

// Labels with the geometries each allows (an empty list means every geometry of the task
// type; keypoints only with keypoint names, as the server fills it in).
export function labelsOf(taxonomy, taskGeometries) {
  return (taxonomy?.labels || []).map((label, index) => ({
    name: label.name,
    index,
    color: label.color || null,
    keypoints: label.keypoints || [],
    skeleton: label.skeleton || [],
    geometries: label.geometries?.length
      ? label.geometries.filter((g) => taskGeometries.includes(g))
      : taskGeometries.filter((g) => g !== "keypoints" || (label.keypoints || []).length),
  }));
}

// Attribute definitions ordered so each comes after the attribute its condition names.
export function orderedDefs(defs) {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const placed = new Set();
  const out = [];
  let pending = defs.slice();
  while (pending.length) {
    const before = pending.length;
    pending = pending.filter((def) => {
      const target = def.condition?.attribute;
      if (!target || placed.has(target) || !byName.has(target)) {
        out.push(def);
        placed.add(def.name);
        return false;
      }
      return true;
    });
    if (pending.length === before) return [...out, ...pending];
  }
  return out;
}

export function shapeDefs(taxonomy, labelName) {
  return orderedDefs(attributeDefs(taxonomy, labelName));
}

export function linkDefs(taxonomy, linkName) {
  const link = (taxonomy?.links || []).find((l) => l.name === linkName);
  return orderedDefs(link?.attributes || []);
}

export function globalDefs(taxonomy) {
  return orderedDefs(taxonomy?.global_attributes || []);
}

// Link types that may join a shape labeled `from` to one labeled `to`.
export function linkTypesFor(taxonomy, from, to) {
  return (taxonomy?.links || []).filter(
    (link) => (!link.from_labels?.length || link.from_labels.includes(from))
      && (!link.to_labels?.length || link.to_labels.includes(to)),
  );
}

// --- loading ---

export function loadShape(ann, size) {
  const shape = { ...ann, id: ann.id || newId(), attributes: { ...(ann.attributes || {}) } };
  delete shape.confidence;
  if (ann.type === "mask" && ann.rle?.size && Array.isArray(ann.rle.counts)) {
    delete shape.rle;
    shape.mask = maskFromRle(ann.rle);
    return shape;
  }
  if (!IMAGE_GEOMETRIES.includes(ann.type)) return { ...shape, raw: ann };
  return clampShape(shape, size);
}

export function emptyDoc() {
  return { shapes: [], suggestions: [], links: [], global: {} };
}

// The document a task opens with: the draft or previous response, plus the pre-labels that
// are not in it yet, as suggestions.
export function initialDoc({ response, prelabels, mode }, size) {
  const doc = emptyDoc();
  const annotations = response?.annotations || [];
  doc.shapes = annotations.map((ann) => loadShape(ann, size));
  doc.links = (response?.links || []).map((link) => ({ ...link, attributes: { ...(link.attributes || {}) } }));
  doc.global = { ...(response?.global_attributes || prelabels?.global_attributes || {}) };
  if (mode !== "review" && prelabels?.annotations?.length) {
    const taken = new Set(doc.shapes.map((s) => s.id));
    doc.suggestions = prelabels.annotations
      .map((ann) => ({ ...loadShape(ann, size), confidence: ann.confidence }))
      .filter((s) => !taken.has(s.id) && !s.raw);
  }
  return doc;
}

// --- saving ---

export function shapeJson(shape, taxonomy, size) {
  if (shape.raw) return shape.raw;
  const out = { id: shape.id, type: shape.type, label: shape.label };
  if (shape.type === "mask") out.rle = maskToRle(shape.mask);
  else Object.assign(out, geometryJson(shape, size));
  out.attributes = effectiveValues(shapeDefs(taxonomy, shape.label), shape.attributes);
  return out;
}

export function responseOf(doc, taxonomy, size) {
  return {
    annotations: doc.shapes.map((shape) => shapeJson(shape, taxonomy, size)),
    global_attributes: effectiveValues(globalDefs(taxonomy), doc.global),
    links: doc.links.map((link) => ({
      from: link.from, to: link.to, label: link.label,
      attributes: effectiveValues(linkDefs(taxonomy, link.label), link.attributes),
    })),
  };
}

// --- edits (each returns a new document) ---

const replaceIn = (list, shape) => list.map((s) => (s.id === shape.id ? shape : s));

export function addShape(doc, shape) {
  return { ...doc, shapes: [...doc.shapes, shape] };
}

// Replace a shape by id; editing a suggestion accepts it.
export function replaceShape(doc, shape) {
  if (doc.suggestions.some((s) => s.id === shape.id)) {
    const accepted = { ...shape };
    delete accepted.confidence;
    return {
      ...doc,
      suggestions: doc.suggestions.filter((s) => s.id !== shape.id),
      shapes: [...doc.shapes, accepted],
    };
  }
  return { ...doc, shapes: replaceIn(doc.shapes, shape) };
}

export function replaceShapes(doc, shapes) {
  return shapes.reduce((d, shape) => replaceShape(d, shape), doc);
}

export function removeShapes(doc, ids) {
  const gone = new Set(ids);
  return {
    ...doc,
    shapes: doc.shapes.filter((s) => !gone.has(s.id)),
    suggestions: doc.suggestions.filter((s) => !gone.has(s.id)),
    links: doc.links.filter((l) => !gone.has(l.from) && !gone.has(l.to)),
  };
}

export function acceptSuggestions(doc, ids) {
  const chosen = new Set(ids);
  const accepted = doc.suggestions.filter((s) => chosen.has(s.id)).map((s) => {
    const shape = { ...s };
    delete shape.confidence;
    return shape;
  });
  return {
    ...doc,
    suggestions: doc.suggestions.filter((s) => !chosen.has(s.id)),
    shapes: [...doc.shapes, ...accepted],
  };
}

export function setGlobal(doc, values) {
  return { ...doc, global: { ...values } };
}

export function addLink(doc, link) {
  const exists = doc.links.some((l) => l.from === link.from && l.to === link.to && l.label === link.label);
  return exists ? doc : { ...doc, links: [...doc.links, link] };
}

export function updateLink(doc, index, attributes) {
  return { ...doc, links: doc.links.map((l, i) => (i === index ? { ...l, attributes } : l)) };
}

export function removeLink(doc, index) {
  return { ...doc, links: doc.links.filter((_, i) => i !== index) };
}

export function findShape(doc, id) {
  return doc.shapes.find((s) => s.id === id) || doc.suggestions.find((s) => s.id === id) || null;
}

export function isSuggestion(doc, id) {
  return doc.suggestions.some((s) => s.id === id);
}

// Undo/redo over whole documents (cheap: documents share every unchanged shape).
export class History {
  constructor(doc) {
    this.doc = doc;
    this.past = [];
    this.future = [];
  }

  commit(doc) {
    if (doc === this.doc) return false;
    this.past.push(this.doc);
    if (this.past.length > HISTORY_LIMIT) this.past.shift();
    this.doc = doc;
    this.future = [];
    return true;
  }

  undo() {
    if (!this.past.length) return false;
    this.future.push(this.doc);
    this.doc = this.past.pop();
    return true;
  }

  redo() {
    if (!this.future.length) return false;
    this.past.push(this.doc);
    this.doc = this.future.pop();
    return true;
  }
}
