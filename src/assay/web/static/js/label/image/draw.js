// Canvas drawing of shapes, handles, links and comment pins. The context is already in image
// coordinates (see Stage.imageTransform); widths are divided by the scale to stay constant
// on screen. Label text goes through fillText only: it is never parsed as markup.

import { bounds, handles } from "/static/js/label/image/geometry.js";
import { maskCanvas } from "/static/js/label/image/mask.js";

export const SUGGESTION_COLOR = "#ff9800";
const SELECTED_COLOR = "#ffffff";
const LABEL_FONT_PX = 12;
// With more shapes than this on screen, names are left off: 1,000 fillText calls per frame
// cost more than the shapes themselves, and the boxes would be unreadable anyway.
const MAX_NAMED_SHAPES = 300;

function addBoxPath(ctx, b) {
  ctx.rect(b.x, b.y, b.width, b.height);
}

function addPolyPath(ctx, vertices, closed) {
  if (!vertices.length) return;
  ctx.moveTo(vertices[0].x, vertices[0].y);
  for (let i = 1; i < vertices.length; i++) ctx.lineTo(vertices[i].x, vertices[i].y);
  if (closed) ctx.closePath();
}

function addEllipsePath(ctx, e) {
  const t = ((e.rotation || 0) * Math.PI) / 180;
  ctx.moveTo(e.cx + e.rx * Math.cos(t), e.cy + e.rx * Math.sin(t));
  ctx.ellipse(e.cx, e.cy, e.rx, e.ry, t, 0, Math.PI * 2);
}

function addCuboidPath(ctx, c) {
  addBoxPath(ctx, c.front);
  addBoxPath(ctx, c.back);
  const f = c.front, b = c.back;
  const corners = (r) => [[r.x, r.y], [r.x + r.width, r.y], [r.x + r.width, r.y + r.height], [r.x, r.y + r.height]];
  const fc = corners(f), bc = corners(b);
  for (let i = 0; i < 4; i++) {
    ctx.moveTo(fc[i][0], fc[i][1]);
    ctx.lineTo(bc[i][0], bc[i][1]);
  }
}

// Outline (and fillable area) of one shape as part of the current path.
function addOutline(ctx, shape) {
  switch (shape.type) {
    case "box":
      addBoxPath(ctx, shape);
      break;
    case "polygon":
      addPolyPath(ctx, shape.vertices, true);
      break;
    case "line":
      addPolyPath(ctx, shape.vertices, false);
      break;
    case "ellipse":
      addEllipsePath(ctx, shape);
      break;
    case "cuboid":
      addCuboidPath(ctx, shape);
      break;
    default:
  }
}

// A keypoints shape's skeleton: a segment for each edge of its label's skeleton (pairs of
// keypoint names, from the taxonomy) whose two points are both placed.
function addSkeleton(ctx, points, edges) {
  if (!edges?.length) return;
  const at = new Map(points.map((p) => [p.name, p]));
  for (const [a, b] of edges) {
    const p = at.get(a), q = at.get(b);
    if (!p || !q) continue;
    ctx.moveTo(p.x, p.y);
    ctx.lineTo(q.x, q.y);
  }
}

function addDots(ctx, shape, radius) {
  const points = shape.type === "point" ? [shape] : shape.type === "keypoints" ? shape.points : [];
  for (const p of points) {
    ctx.moveTo(p.x + radius, p.y);
    ctx.arc(p.x, p.y, radius, 0, Math.PI * 2);
  }
}

// Many shapes at once: one path per colour, so 1,000 boxes are a handful of draw calls.
// skeletonOf(shape) → the skeleton edges of a keypoints shape's label.
export function drawShapes(ctx, shapes, {
  scale, colorOf, dashed = false, width = 1.5, names = true, dash = false, skeletonOf = null,
}) {
  const groups = new Map();
  for (const shape of shapes) {
    const color = dashed ? SUGGESTION_COLOR : colorOf(shape);
    let group = groups.get(color);
    if (!group) groups.set(color, (group = []));
    group.push(shape);
  }
  ctx.lineWidth = width / scale;
  ctx.setLineDash(dashed || dash ? [6 / scale, 4 / scale] : []);
  for (const [color, group] of groups) {
    for (const shape of group) {
      if (shape.type === "mask") drawMask(ctx, shape, color);
    }
    ctx.beginPath();
    for (const shape of group) {
      addOutline(ctx, shape);
      if (shape.type === "keypoints" && skeletonOf) addSkeleton(ctx, shape.points, skeletonOf(shape));
    }
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.globalAlpha = 0.08;
    ctx.fillStyle = color;
    ctx.beginPath();
    for (const shape of group) if (shape.type !== "line" && shape.type !== "cuboid") addOutline(ctx, shape);
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.beginPath();
    for (const shape of group) addDots(ctx, shape, 4 / scale);
    ctx.fill();
    drawInvisibleKeypoints(ctx, group, scale);
  }
  ctx.setLineDash([]);
  if (names && shapes.length <= MAX_NAMED_SHAPES) {
    for (const shape of shapes) drawName(ctx, shape, scale, dashed ? SUGGESTION_COLOR : colorOf(shape), dashed);
  }
}

function drawInvisibleKeypoints(ctx, shapes, scale) {
  // Hidden (occluded) keypoints: a hollow ring over the filled dot.
  ctx.beginPath();
  for (const shape of shapes) {
    if (shape.type !== "keypoints") continue;
    for (const k of shape.points) {
      if (k.visible !== false) continue;
      ctx.moveTo(k.x + 2.5 / scale, k.y);
      ctx.arc(k.x, k.y, 2.5 / scale, 0, Math.PI * 2);
    }
  }
  ctx.fillStyle = "#000";
  ctx.fill();
}

function drawMask(ctx, shape, color) {
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = 0.45;
  ctx.drawImage(maskCanvas(shape.mask, color), 0, 0);
  ctx.restore();
}

function drawName(ctx, shape, scale, color, suggestion) {
  const b = bounds(shape);
  const text = (suggestion ? "suggested: " : "") + (shape.label || shape.type);
  const size = LABEL_FONT_PX / scale;
  ctx.font = `${size}px system-ui, sans-serif`;
  const width = ctx.measureText(text).width + 6 / scale;
  const x = b.x0, y = Math.max(b.y0 - size - 4 / scale, 0);
  ctx.fillStyle = color;
  ctx.globalAlpha = 0.85;
  ctx.fillRect(x, y, width, size + 4 / scale);
  ctx.globalAlpha = 1;
  ctx.fillStyle = "#fff";
  ctx.textBaseline = "top";
  ctx.fillText(text, x + 3 / scale, y + 2 / scale);
}

// The selected shape: thicker outline, keypoint names, and its handles.
export function drawSelected(ctx, shape, { scale, color, suggestion, locked, withHandles, activeHandle, skeleton = null }) {
  ctx.lineWidth = 2.5 / scale;
  ctx.setLineDash(suggestion ? [6 / scale, 4 / scale] : []);
  ctx.strokeStyle = suggestion ? SUGGESTION_COLOR : color;
  if (shape.type === "mask") {
    drawMask(ctx, shape, color);
    const b = bounds(shape);
    ctx.setLineDash([4 / scale, 3 / scale]);
    ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
  }
  ctx.beginPath();
  addOutline(ctx, shape);
  if (shape.type === "keypoints") addSkeleton(ctx, shape.points, skeleton);
  ctx.stroke();
  ctx.globalAlpha = 0.15;
  ctx.fillStyle = color;
  if (!["line", "cuboid", "mask", "keypoints"].includes(shape.type)) ctx.fill();
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
  ctx.beginPath();
  addDots(ctx, shape, 5 / scale);
  ctx.fillStyle = color;
  ctx.fill();
  drawInvisibleKeypoints(ctx, [shape], scale);
  if (shape.type === "keypoints") drawKeypointNames(ctx, shape, scale);
  drawName(ctx, shape, scale, suggestion ? SUGGESTION_COLOR : color, suggestion);
  if (withHandles && !locked) drawHandles(ctx, shape, scale, activeHandle);
  if (locked) drawLockBadge(ctx, shape, scale);
}

function drawKeypointNames(ctx, shape, scale) {
  ctx.font = `${11 / scale}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  for (const k of shape.points) {
    ctx.lineWidth = 3 / scale;
    ctx.strokeStyle = "rgba(0,0,0,.7)";
    ctx.strokeText(k.name, k.x + 7 / scale, k.y);
    ctx.fillStyle = "#fff";
    ctx.fillText(k.name, k.x + 7 / scale, k.y);
  }
}

function drawHandles(ctx, shape, scale, activeHandle) {
  const half = 4 / scale;
  for (const h of handles(shape, scale)) {
    ctx.beginPath();
    if (h.midpoint) {
      ctx.arc(h.x, h.y, half * 0.8, 0, Math.PI * 2);
      ctx.fillStyle = "rgba(255,255,255,.6)";
    } else if (h.rotation || h.move) {
      ctx.arc(h.x, h.y, half * 1.1, 0, Math.PI * 2);
      ctx.fillStyle = "#ffeb3b";
    } else {
      ctx.rect(h.x - half, h.y - half, half * 2, half * 2);
      ctx.fillStyle = h.key === activeHandle ? "#ffeb3b" : SELECTED_COLOR;
    }
    ctx.fill();
    ctx.lineWidth = 1 / scale;
    ctx.strokeStyle = "#111";
    ctx.stroke();
  }
}

function drawLockBadge(ctx, shape, scale) {
  const b = bounds(shape);
  ctx.font = `${14 / scale}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  ctx.fillStyle = "#fff";
  ctx.fillText("🔒", b.x1 - 14 / scale, b.y0);
}

// A line between the centres of two linked shapes, with the link's name.
export function drawLink(ctx, a, b, name, scale) {
  ctx.lineWidth = 1.5 / scale;
  ctx.setLineDash([3 / scale, 3 / scale]);
  ctx.strokeStyle = "#00e5ff";
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  ctx.setLineDash([]);
  const angle = Math.atan2(b.y - a.y, b.x - a.x);
  const tip = 9 / scale;
  ctx.beginPath();
  ctx.moveTo(b.x, b.y);
  ctx.lineTo(b.x - tip * Math.cos(angle - 0.4), b.y - tip * Math.sin(angle - 0.4));
  ctx.lineTo(b.x - tip * Math.cos(angle + 0.4), b.y - tip * Math.sin(angle + 0.4));
  ctx.closePath();
  ctx.fillStyle = "#00e5ff";
  ctx.fill();
  ctx.font = `${11 / scale}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  ctx.fillText(name, (a.x + b.x) / 2 + 4 / scale, (a.y + b.y) / 2 - 2 / scale);
}

// A numbered comment marker at a shape's top-right corner.
export function drawPin(ctx, shape, number, scale, color = "#d81b60") {
  const b = bounds(shape);
  const r = 9 / scale;
  const x = b.x1, y = b.y0;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 1.5 / scale;
  ctx.strokeStyle = "#fff";
  ctx.stroke();
  ctx.fillStyle = "#fff";
  ctx.font = `bold ${11 / scale}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(String(number), x, y + 0.5 / scale);
  ctx.textAlign = "start";
}

// In-progress drawing: a rubber-band polyline or a dragged box/ellipse.
export function drawPreview(ctx, preview, scale, color) {
  ctx.lineWidth = 2 / scale;
  ctx.strokeStyle = color;
  ctx.setLineDash([5 / scale, 3 / scale]);
  ctx.beginPath();
  if (preview.kind === "path") {
    addPolyPath(ctx, [...preview.points, preview.cursor].filter(Boolean), false);
  } else if (preview.shape) {
    addOutline(ctx, preview.shape);
  } else if (preview.keypoints) {
    addSkeleton(ctx, preview.keypoints, preview.skeleton);
  }
  ctx.stroke();
  ctx.setLineDash([]);
  const points = preview.kind === "path" ? preview.points : preview.keypoints || [];
  ctx.fillStyle = color;
  for (const [i, p] of points.entries()) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, (i === 0 && preview.closable ? 6 : 4) / scale, 0, Math.PI * 2);
    ctx.fill();
  }
}

export function drawBrush(ctx, p, radius, scale, erasing) {
  ctx.lineWidth = 1.5 / scale;
  ctx.strokeStyle = erasing ? "#ff5252" : "#ffffff";
  ctx.setLineDash(erasing ? [3 / scale, 3 / scale] : []);
  ctx.beginPath();
  ctx.arc(p.x, p.y, radius, 0, Math.PI * 2);
  ctx.stroke();
  ctx.setLineDash([]);
}
