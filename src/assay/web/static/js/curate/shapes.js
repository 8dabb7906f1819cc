// What the explorer draws: an item's media as an <img> (a `blob:<sha>` through a signed media
// URL, asked once per blob and reused until it nears expiry; http(s) URLs as they are) and its
// shapes — ground truth solid, each model's predictions dashed — as SVG in the image's own
// pixel coordinates, so they line up at any size. Labels colour by the one palette.

import { api } from "/static/js/api.js";
import { paletteColor } from "/static/js/palette.js";

const SVG = "http://www.w3.org/2000/svg";
const signed = new Map(); // sha → {url, expires (ms)} or a pending promise

// The src for an item's media, or null (no media, or a scheme the browser should not load).
export async function mediaSrc(media) {
  if (!media) return null;
  if (media.startsWith("blob:")) {
    const sha = media.slice(5);
    const known = signed.get(sha);
    if (known && !(known instanceof Promise) && known.expires - Date.now() > 60_000) return known.url;
    if (known instanceof Promise) return known;
    const pending = api(`/blobs/${encodeURIComponent(sha)}/url`, { method: "POST" }).then((answer) => {
      signed.set(sha, { url: answer.url, expires: Date.parse(answer.expires_at) || Date.now() + 300_000 });
      return answer.url;
    }, (error) => {
      signed.delete(sha);
      throw error;
    });
    signed.set(sha, pending);
    return pending;
  }
  return /^https?:\/\//i.test(media) ? media : null;
}

// One colour per label, the same everywhere in the explorer: labels take palette slots in the
// order they are first seen (the sidebar's facets see them first).
const slots = new Map();
export function colorOf(label) {
  const key = String(label ?? "");
  if (!slots.has(key)) slots.set(key, slots.size);
  return paletteColor(slots.get(key));
}

function svgNode(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  return node;
}

const points = (vertices) => (vertices || []).map((v) => `${v.x},${v.y}`).join(" ");

// The extent of a shape in image pixels ({x, y, width, height}), or null for shapes without
// one (a category, a span, text).
export function extent(shape) {
  if (!shape) return null;
  if (shape.type === "box") return { x: shape.x, y: shape.y, width: shape.width, height: shape.height };
  if (shape.type === "ellipse") {
    const r = Math.max(shape.rx, shape.ry);
    return { x: shape.cx - r, y: shape.cy - r, width: 2 * r, height: 2 * r };
  }
  if (shape.type === "cuboid" && shape.front) {
    const faces = [shape.front, shape.back].filter(Boolean);
    const x0 = Math.min(...faces.map((f) => f.x));
    const y0 = Math.min(...faces.map((f) => f.y));
    const x1 = Math.max(...faces.map((f) => f.x + f.width));
    const y1 = Math.max(...faces.map((f) => f.y + f.height));
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }
  const vertices = shape.vertices || shape.points || (shape.type === "point" ? [shape] : null);
  if (!vertices?.length) return null;
  const xs = vertices.map((v) => v.x);
  const ys = vertices.map((v) => v.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

// One shape as SVG, or null for shapes with nothing to draw on an image.
function shapeNode(shape, { source, stroke }) {
  const color = colorOf(shape.label);
  const common = {
    stroke: color, fill: color, "fill-opacity": source === "gt" ? 0.12 : 0.04,
    "stroke-width": stroke, "vector-effect": "non-scaling-stroke",
    "stroke-dasharray": source === "gt" ? null : "5 3",
    "data-source": source, "data-label": shape.label, "data-type": shape.type,
  };
  let node = null;
  if (shape.type === "box") {
    node = svgNode("rect", { ...common, x: shape.x, y: shape.y, width: shape.width, height: shape.height });
  } else if (shape.type === "polygon") {
    node = svgNode("polygon", { ...common, points: points(shape.vertices) });
  } else if (shape.type === "line") {
    node = svgNode("polyline", { ...common, fill: "none", points: points(shape.vertices) });
  } else if (shape.type === "ellipse") {
    node = svgNode("ellipse", {
      ...common, cx: shape.cx, cy: shape.cy, rx: shape.rx, ry: shape.ry,
      transform: shape.rotation ? `rotate(${(shape.rotation * 180) / Math.PI} ${shape.cx} ${shape.cy})` : null,
    });
  } else if (shape.type === "point" || shape.type === "keypoints") {
    node = svgNode("g", { "data-source": source, "data-label": shape.label, "data-type": shape.type });
    const dots = shape.type === "point" ? [shape] : shape.points.filter((p) => p.visible !== false);
    for (const [a, b] of shape.skeleton || []) {
      const p = shape.points[a];
      const q = shape.points[b];
      if (p && q) node.append(svgNode("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: color, "stroke-width": stroke, "vector-effect": "non-scaling-stroke" }));
    }
    for (const dot of dots) {
      node.append(svgNode("circle", { cx: dot.x, cy: dot.y, r: 3, fill: color, stroke: "#fff", "stroke-width": 1, "vector-effect": "non-scaling-stroke" }));
    }
  } else if (shape.type === "cuboid" && shape.front) {
    node = svgNode("g", { "data-source": source, "data-label": shape.label, "data-type": shape.type });
    for (const face of [shape.front, shape.back].filter(Boolean)) {
      node.append(svgNode("rect", { ...common, x: face.x, y: face.y, width: face.width, height: face.height }));
    }
  }
  if (node) {
    const title = svgNode("title");
    title.textContent = source === "gt" ? shape.label : `${shape.label} · ${source}${shape.confidence != null ? ` ${shape.confidence.toFixed(2)}` : ""}`;
    node.append(title);
  }
  return node;
}

// An SVG overlay of `layers` ([{source, shapes}]) over an image `width`×`height` pixels (the
// viewBox; `view` narrows it to a region, for crops). It scales with its box like the image
// under it (object-fit: contain ↔ xMidYMid meet).
export function overlay(layers, { width, height, view = null, stroke = 1.5 } = {}) {
  const box = view || { x: 0, y: 0, width, height };
  const svg = svgNode("svg", {
    class: "shapes", viewBox: `${box.x} ${box.y} ${box.width} ${box.height}`,
    preserveAspectRatio: "xMidYMid meet", "aria-hidden": "true",
  });
  for (const { source, shapes } of layers) {
    for (const shape of shapes || []) {
      const node = shapeNode(shape, { source, stroke });
      if (node) svg.append(node);
    }
  }
  return svg;
}

// Set an overlay's viewBox once an image's size is known (items stored without width/height).
export function sizeOverlay(svg, width, height) {
  if (width && height) svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
}

// A short description of a shape's geometry for lists: "box 120×80 at (10, 20)".
export function geometryText(shape) {
  const round = (n) => Math.round(Number(n) * 10) / 10;
  if (shape.type === "box") return `box ${round(shape.width)}×${round(shape.height)} at (${round(shape.x)}, ${round(shape.y)})`;
  if (shape.type === "polygon" || shape.type === "line") return `${shape.type}, ${shape.vertices.length} points`;
  if (shape.type === "keypoints") return `keypoints, ${shape.points.length}`;
  if (shape.type === "point") return `point (${round(shape.x)}, ${round(shape.y)})`;
  if (shape.type === "span") return `span ${shape.start}–${shape.end}`;
  if (shape.type === "text") return `text “${String(shape.text).slice(0, 60)}”`;
  return shape.type;
}
