// Shape math in image pixels: bounds, hit tests, handles, moves and clamping to the image.
// A shape is an annotation in Assay's JSON form (annotations.py), except masks, which hold a
// bitmap (see mask.js) until the response is built. Functions return new objects: shapes
// are never mutated, so undo history can keep references to old ones.

import { maskBounds, maskHit } from "/static/js/label/image/mask.js";

const BOX_HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
export const MIN_SIZE = 1; // image pixels: the smallest box side or radius a drag can make

export const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

export function clampPoint(p, size) {
  return { x: clamp(p.x, 0, size.width), y: clamp(p.y, 0, size.height) };
}

function rad(degrees) {
  return (degrees * Math.PI) / 180;
}

// --- bounds and area ---

export function boxBounds(b) {
  return { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height };
}

function pointsBounds(points) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of points) {
    if (p.x < x0) x0 = p.x;
    if (p.x > x1) x1 = p.x;
    if (p.y < y0) y0 = p.y;
    if (p.y > y1) y1 = p.y;
  }
  return { x0, y0, x1, y1 };
}

function ellipseExtent(e) {
  const t = rad(e.rotation || 0);
  const c = Math.cos(t), s = Math.sin(t);
  return {
    hx: Math.sqrt(e.rx * e.rx * c * c + e.ry * e.ry * s * s),
    hy: Math.sqrt(e.rx * e.rx * s * s + e.ry * e.ry * c * c),
  };
}

export function bounds(shape) {
  switch (shape.type) {
    case "box":
      return boxBounds(shape);
    case "polygon":
    case "line":
      return pointsBounds(shape.vertices);
    case "point":
      return { x0: shape.x, y0: shape.y, x1: shape.x, y1: shape.y };
    case "keypoints":
      return pointsBounds(shape.points);
    case "ellipse": {
      const { hx, hy } = ellipseExtent(shape);
      return { x0: shape.cx - hx, y0: shape.cy - hy, x1: shape.cx + hx, y1: shape.cy + hy };
    }
    case "cuboid": {
      const f = boxBounds(shape.front), b = boxBounds(shape.back);
      return {
        x0: Math.min(f.x0, b.x0), y0: Math.min(f.y0, b.y0),
        x1: Math.max(f.x1, b.x1), y1: Math.max(f.y1, b.y1),
      };
    }
    case "mask":
      return maskBounds(shape.mask);
    default:
      return { x0: 0, y0: 0, x1: 0, y1: 0 };
  }
}

function polygonArea(vertices) {
  let sum = 0;
  for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
    sum += (vertices[j].x + vertices[i].x) * (vertices[j].y - vertices[i].y);
  }
  return Math.abs(sum) / 2;
}

// For picking the innermost of overlapping shapes: lines and points count as tiny.
export function area(shape) {
  if (shape.type === "polygon") return polygonArea(shape.vertices);
  if (shape.type === "ellipse") return Math.PI * shape.rx * shape.ry;
  if (shape.type === "point" || shape.type === "line" || shape.type === "keypoints") return 0;
  const b = bounds(shape);
  return (b.x1 - b.x0) * (b.y1 - b.y0);
}

export function center(shape) {
  if (shape.type === "ellipse") return { x: shape.cx, y: shape.cy };
  const b = bounds(shape);
  return { x: (b.x0 + b.x1) / 2, y: (b.y0 + b.y1) / 2 };
}

// --- hit tests (tolerance `tol` in image pixels) ---

function distanceToSegment(p, a, b) {
  const dx = b.x - a.x, dy = b.y - a.y;
  const length2 = dx * dx + dy * dy;
  let t = length2 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / length2 : 0;
  t = clamp(t, 0, 1);
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

function insidePolygon(p, vertices) {
  let inside = false;
  for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
    const a = vertices[i], b = vertices[j];
    if ((a.y > p.y) !== (b.y > p.y) && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) {
      inside = !inside;
    }
  }
  return inside;
}

function nearPolyline(p, vertices, closed, tol) {
  const n = vertices.length;
  for (let i = 0; i < (closed ? n : n - 1); i++) {
    if (distanceToSegment(p, vertices[i], vertices[(i + 1) % n]) <= tol) return true;
  }
  return false;
}

function insideBox(p, b, tol = 0) {
  return p.x >= b.x - tol && p.x <= b.x + b.width + tol && p.y >= b.y - tol && p.y <= b.y + b.height + tol;
}

function insideEllipse(p, e, tol) {
  const t = rad(-(e.rotation || 0));
  const dx = p.x - e.cx, dy = p.y - e.cy;
  const u = dx * Math.cos(t) - dy * Math.sin(t);
  const v = dx * Math.sin(t) + dy * Math.cos(t);
  const rx = e.rx + tol, ry = e.ry + tol;
  return (u * u) / (rx * rx) + (v * v) / (ry * ry) <= 1;
}

export function hit(shape, p, tol) {
  const b = bounds(shape);
  if (p.x < b.x0 - tol || p.x > b.x1 + tol || p.y < b.y0 - tol || p.y > b.y1 + tol) return false;
  switch (shape.type) {
    case "box":
      return insideBox(p, shape, tol);
    case "polygon":
      return insidePolygon(p, shape.vertices) || nearPolyline(p, shape.vertices, true, tol);
    case "line":
      return nearPolyline(p, shape.vertices, false, tol);
    case "point":
      return Math.hypot(p.x - shape.x, p.y - shape.y) <= tol * 1.5;
    case "keypoints":
      return shape.points.some((k) => Math.hypot(p.x - k.x, p.y - k.y) <= tol * 1.5);
    case "ellipse":
      return insideEllipse(p, shape, tol);
    case "cuboid":
      return insideBox(p, shape.front, tol) || insideBox(p, shape.back, tol);
    case "mask":
      return maskHit(shape.mask, p);
    default:
      return false;
  }
}

// --- handles ---

function boxHandlePoints(b, prefix = "") {
  const { x0, y0, x1, y1 } = boxBounds(b);
  const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
  const at = { nw: [x0, y0], n: [mx, y0], ne: [x1, y0], e: [x1, my], se: [x1, y1], s: [mx, y1], sw: [x0, y1], w: [x0, my] };
  return BOX_HANDLES.map((key) => ({ key: prefix + key, x: at[key][0], y: at[key][1] }));
}

// Draggable points of a selected shape. `scale` (screen px per image px) places the rotation
// handle a fixed distance off the ellipse on screen. Midpoints ("m:i") insert a vertex.
export function handles(shape, scale = 1) {
  switch (shape.type) {
    case "box":
      return boxHandlePoints(shape);
    case "polygon":
    case "line": {
      const vs = shape.vertices;
      const out = vs.map((v, i) => ({ key: `v:${i}`, x: v.x, y: v.y }));
      const segments = shape.type === "polygon" ? vs.length : vs.length - 1;
      for (let i = 0; i < segments; i++) {
        const a = vs[i], b = vs[(i + 1) % vs.length];
        out.push({ key: `m:${i}`, x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, midpoint: true });
      }
      return out;
    }
    case "point":
      return [{ key: "p", x: shape.x, y: shape.y }];
    case "keypoints":
      return shape.points.map((k, i) => ({ key: `k:${i}`, x: k.x, y: k.y }));
    case "ellipse": {
      const t = rad(shape.rotation || 0);
      const ux = { x: Math.cos(t), y: Math.sin(t) }, uy = { x: -Math.sin(t), y: Math.cos(t) };
      const at = (u, r) => ({ x: shape.cx + u.x * r, y: shape.cy + u.y * r });
      const off = shape.ry + 24 / scale;
      return [
        { key: "rx+", ...at(ux, shape.rx) },
        { key: "rx-", ...at(ux, -shape.rx) },
        { key: "ry+", ...at(uy, shape.ry) },
        { key: "ry-", ...at(uy, -shape.ry) },
        { key: "rot", ...at(uy, -off), rotation: true },
      ];
    }
    case "cuboid": {
      const back = shape.back;
      return [
        ...boxHandlePoints(shape.front, "f:"),
        ...boxHandlePoints(back, "b:"),
        { key: "b:c", x: back.x + back.width / 2, y: back.y + back.height / 2, move: true },
      ];
    }
    default:
      return [];
  }
}

export function handleAt(shape, p, tol, scale) {
  // A vertex wins over a midpoint (which inserts a vertex) when both are in reach.
  let best = null;
  let bestDistance = Infinity;
  for (const h of handles(shape, scale)) {
    const d = Math.hypot(h.x - p.x, h.y - p.y) + (h.midpoint ? tol : 0);
    if (d <= (h.midpoint ? tol * 1.8 : tol) && d < bestDistance) {
      best = h;
      bestDistance = d;
    }
  }
  return best;
}

// --- edits ---

// Resize a box by one of its 8 handles to point p (already clamped to the image).
export function resizeBox(b, key, p) {
  let { x0, y0, x1, y1 } = boxBounds(b);
  if (key.includes("w")) x0 = p.x;
  if (key.includes("e")) x1 = p.x;
  if (key.includes("n")) y0 = p.y;
  if (key.includes("s")) y1 = p.y;
  return boxFromCorners({ x: x0, y: y0 }, { x: x1, y: y1 });
}

// The box spanned by two corners in any order, at least MIN_SIZE on each side.
export function boxFromCorners(a, b, size = null) {
  let x0 = Math.min(a.x, b.x), x1 = Math.max(a.x, b.x);
  let y0 = Math.min(a.y, b.y), y1 = Math.max(a.y, b.y);
  if (x1 - x0 < MIN_SIZE) x1 = x0 + MIN_SIZE;
  if (y1 - y0 < MIN_SIZE) y1 = y0 + MIN_SIZE;
  if (size) {
    if (x1 > size.width) [x0, x1] = [size.width - (x1 - x0), size.width];
    if (y1 > size.height) [y0, y1] = [size.height - (y1 - y0), size.height];
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function moveBox(b, dx, dy) {
  return { ...b, x: b.x + dx, y: b.y + dy };
}

const movePoint = (v, dx, dy) => ({ ...v, x: v.x + dx, y: v.y + dy });

export function translate(shape, dx, dy) {
  switch (shape.type) {
    case "box":
      return moveBox(shape, dx, dy);
    case "polygon":
    case "line":
      return { ...shape, vertices: shape.vertices.map((v) => movePoint(v, dx, dy)) };
    case "point":
      return movePoint(shape, dx, dy);
    case "keypoints":
      return { ...shape, points: shape.points.map((k) => movePoint(k, dx, dy)) };
    case "ellipse":
      return { ...shape, cx: shape.cx + dx, cy: shape.cy + dy };
    case "cuboid":
      return { ...shape, front: moveBox(shape.front, dx, dy), back: moveBox(shape.back, dx, dy) };
    default:
      return shape; // masks are edited with the brush, not moved
  }
}

// The part of a move (dx, dy) that keeps the shape inside the image. Ellipses keep their
// centre inside (what the server checks); everything else keeps its whole extent inside.
export function clampMove(shape, dx, dy, size) {
  if (shape.type === "mask") return { dx: 0, dy: 0 };
  let b = bounds(shape);
  if (shape.type === "ellipse") b = { x0: shape.cx, y0: shape.cy, x1: shape.cx, y1: shape.cy };
  return {
    dx: clamp(dx, -b.x0, size.width - b.x1),
    dy: clamp(dy, -b.y0, size.height - b.y1),
  };
}

// Drag handle `key` of `shape` to image point p (clamped here).
export function dragHandle(shape, key, p, size) {
  p = clampPoint(p, size);
  switch (shape.type) {
    case "box":
      return { ...shape, ...resizeBox(shape, key, p) };
    case "polygon":
    case "line": {
      const index = Number(key.slice(2));
      const vertices = shape.vertices.slice();
      vertices[index] = { x: p.x, y: p.y };
      return { ...shape, vertices };
    }
    case "point":
      return { ...shape, x: p.x, y: p.y };
    case "keypoints": {
      const index = Number(key.slice(2));
      const points = shape.points.slice();
      points[index] = { ...points[index], x: p.x, y: p.y };
      return { ...shape, points };
    }
    case "ellipse":
      return dragEllipse(shape, key, p, size);
    case "cuboid": {
      const face = key[0] === "f" ? "front" : "back";
      const sub = key.slice(2);
      if (sub === "c") {
        const b = shape.back;
        const dx = clamp(p.x - b.width / 2, 0, size.width - b.width) - b.x;
        const dy = clamp(p.y - b.height / 2, 0, size.height - b.height) - b.y;
        return { ...shape, back: moveBox(b, dx, dy) };
      }
      return { ...shape, [face]: resizeBox(shape[face], sub, p) };
    }
    default:
      return shape;
  }
}

function dragEllipse(e, key, p, size) {
  const dx = p.x - e.cx, dy = p.y - e.cy;
  if (key === "rot") {
    let degrees = (Math.atan2(dy, dx) * 180) / Math.PI + 90;
    degrees = ((degrees % 360) + 360) % 360;
    return { ...e, rotation: Math.round(degrees * 10) / 10 };
  }
  const t = rad(e.rotation || 0);
  const along = key.startsWith("rx")
    ? dx * Math.cos(t) + dy * Math.sin(t)
    : -dx * Math.sin(t) + dy * Math.cos(t);
  const limit = Math.max(size.width, size.height);
  const radius = clamp(Math.abs(along), MIN_SIZE, limit);
  return key.startsWith("rx") ? { ...e, rx: radius } : { ...e, ry: radius };
}

export function insertVertex(shape, segment, p) {
  const vertices = shape.vertices.slice();
  vertices.splice(segment + 1, 0, { x: p.x, y: p.y });
  return { ...shape, vertices };
}

// Remove vertex or keypoint `key`; null when the shape would fall below its minimum.
export function removeVertex(shape, key) {
  const index = Number(key.slice(2));
  if (shape.type === "polygon" || shape.type === "line") {
    const minimum = shape.type === "polygon" ? 3 : 2;
    if (shape.vertices.length <= minimum) return null;
    return { ...shape, vertices: shape.vertices.filter((_, i) => i !== index) };
  }
  if (shape.type === "keypoints") {
    if (shape.points.length <= 1) return null;
    return { ...shape, points: shape.points.filter((_, i) => i !== index) };
  }
  return null;
}

// A new cuboid from its drawn front face: the back face smaller, up and to the side, inside.
export function cuboidFromFront(front, size) {
  const w = front.width * 0.8, h = front.height * 0.8;
  const shiftX = front.width * 0.3, shiftY = front.height * 0.3;
  let x = front.x + front.width * 0.1 + shiftX;
  if (x + w > size.width) x = front.x + front.width * 0.1 - shiftX;
  let y = front.y + front.height * 0.1 - shiftY;
  if (y < 0) y = front.y + front.height * 0.1 + shiftY;
  x = clamp(x, 0, size.width - w);
  y = clamp(y, 0, size.height - h);
  return { front, back: { x, y, width: w, height: h } };
}

// --- loading and saving ---

function clampBox(b, size) {
  const x0 = clamp(b.x, 0, size.width), y0 = clamp(b.y, 0, size.height);
  const x1 = clamp(b.x + b.width, 0, size.width), y1 = clamp(b.y + b.height, 0, size.height);
  return boxFromCorners({ x: x0, y: y0 }, { x: x1, y: y1 }, size);
}

// Bring a loaded shape (a draft, a previous response, a pre-label) inside the image.
export function clampShape(shape, size) {
  const cp = (v) => ({ ...v, ...clampPoint(v, size) });
  switch (shape.type) {
    case "box":
      return { ...shape, ...clampBox(shape, size) };
    case "polygon":
    case "line":
      return { ...shape, vertices: shape.vertices.map(cp) };
    case "point":
      return { ...shape, ...clampPoint(shape, size) };
    case "keypoints":
      return { ...shape, points: shape.points.map(cp) };
    case "ellipse": {
      const c = clampPoint({ x: shape.cx, y: shape.cy }, size);
      return { ...shape, cx: c.x, cy: c.y };
    }
    case "cuboid":
      return { ...shape, front: clampBox(shape.front, size), back: clampBox(shape.back, size) };
    default:
      return shape;
  }
}

const round = (v) => Math.round(v * 1000) / 1000;

function roundedBox(b, size) {
  const x = clamp(round(b.x), 0, size.width), y = clamp(round(b.y), 0, size.height);
  let width = Math.min(round(b.width), size.width - x);
  let height = Math.min(round(b.height), size.height - y);
  // Rounding must not leave a zero side (the server wants width, height > 0).
  if (width <= 0) width = Math.min(0.001, size.width - x) || 0.001;
  if (height <= 0) height = Math.min(0.001, size.height - y) || 0.001;
  return { x, y, width, height };
}

// The geometry fields of a shape, rounded to a thousandth of a pixel and kept inside.
export function geometryJson(shape, size) {
  const rp = (v) => ({ x: clamp(round(v.x), 0, size.width), y: clamp(round(v.y), 0, size.height) });
  switch (shape.type) {
    case "box":
      return roundedBox(shape, size);
    case "polygon":
    case "line":
      return { vertices: shape.vertices.map(rp) };
    case "point":
      return rp(shape);
    case "keypoints":
      return { points: shape.points.map((k) => ({ name: k.name, ...rp(k), visible: k.visible !== false })) };
    case "ellipse": {
      const c = rp({ x: shape.cx, y: shape.cy });
      return {
        cx: c.x, cy: c.y, rx: Math.max(round(shape.rx), 0.001), ry: Math.max(round(shape.ry), 0.001),
        rotation: round(shape.rotation || 0),
      };
    }
    case "cuboid":
      return { front: roundedBox(shape.front, size), back: roundedBox(shape.back, size) };
    default:
      return {};
  }
}
