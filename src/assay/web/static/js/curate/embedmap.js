// The 2D embedding map: the current query's matches placed by POST /datasets/{id}/map,
// drawn on a canvas. Dragging draws a lasso (a free-hand polygon); on release the points
// inside it are selected. The wheel zooms about the pointer; Shift+drag pans.
//
// embeddingMap({onLasso(points), onOpen(point), controls}) →
//   {element, set(points), select(refs), colour(colours, legend), destroy()}

import { el } from "/static/js/api.js";

const RADIUS = 4;
const PAD = 24;

// Whether (x, y) is inside `polygon` ([[x, y], …]): the even-odd ray crossing rule.
export function pointInPolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function embeddingMap({ onLasso, onOpen, controls = null }) {
  const canvas = el("canvas", {
    class: "map-canvas", tabindex: "0", role: "img",
    "aria-label": "Embedding map: drag to draw a lasso around points; wheel to zoom; Shift+drag to pan",
  });
  const legend = el("p", { class: "map-legend muted small" });
  const key = el("ul", { class: "map-key", "aria-label": "Colours" });
  const element = el("div", { class: "map-box" }, el("div", { class: "map-head" }, controls, key), canvas, legend);
  const ctx = canvas.getContext("2d");
  let points = [];
  let selected = new Set();
  let colours = null; // reference id → css colour, when coloured by a field
  let lasso = null; // [[x, y], …] in CSS pixels while drawing
  let pan = null;
  let view = { scale: 1, dx: 0, dy: 0 }; // zoom/pan over the fitted layout
  let bounds = { x0: 0, x1: 1, y0: 0, y1: 1 };
  let frame = 0;

  // Data → canvas CSS pixels (fit the bounds, y up), then the zoom/pan.
  function toScreen(point) {
    const w = canvas.clientWidth - 2 * PAD;
    const h = canvas.clientHeight - 2 * PAD;
    const sx = w / Math.max(1e-12, bounds.x1 - bounds.x0);
    const sy = h / Math.max(1e-12, bounds.y1 - bounds.y0);
    const s = Math.min(sx, sy);
    const ox = PAD + (w - s * (bounds.x1 - bounds.x0)) / 2;
    const oy = PAD + (h - s * (bounds.y1 - bounds.y0)) / 2;
    const x = ox + s * (point.x - bounds.x0);
    const y = canvas.clientHeight - (oy + s * (point.y - bounds.y0));
    return [x * view.scale + view.dx, y * view.scale + view.dy];
  }

  function draw() {
    frame = 0;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    for (const pass of [false, true]) {
      for (const point of points) {
        if (selected.has(point.reference_id) !== pass) continue;
        const [x, y] = toScreen(point);
        ctx.beginPath();
        ctx.arc(x, y, pass ? RADIUS + 1 : RADIUS, 0, 2 * Math.PI);
        if (colours) {
          ctx.fillStyle = colours.get(point.reference_id) || "#ced4da";
          ctx.fill();
          if (pass) {
            ctx.strokeStyle = "#e8590c";
            ctx.lineWidth = 2.5;
            ctx.stroke();
          }
        } else {
          ctx.fillStyle = pass ? "#e8590c" : "rgba(59, 91, 219, 0.65)";
          ctx.fill();
        }
      }
    }
    if (lasso && lasso.length > 1) {
      ctx.strokeStyle = "#e8590c";
      ctx.fillStyle = "rgba(232, 89, 12, 0.08)";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(...lasso[0]);
      for (const p of lasso.slice(1)) ctx.lineTo(...p);
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
    }
    legend.textContent = `${points.length.toLocaleString()} points${selected.size ? ` · ${selected.size.toLocaleString()} selected` : ""}`
      + " · drag to lasso, wheel to zoom, Shift+drag to pan";
  }

  const schedule = () => { if (!frame) frame = requestAnimationFrame(draw); };

  function at(event) {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  function nearest([x, y]) {
    let best = null;
    let distance = (RADIUS + 3) ** 2;
    for (const point of points) {
      const [px, py] = toScreen(point);
      const d = (px - x) ** 2 + (py - y) ** 2;
      if (d <= distance) { distance = d; best = point; }
    }
    return best;
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    if (event.shiftKey) pan = { from: at(event), dx: view.dx, dy: view.dy };
    else lasso = [at(event)];
  });
  canvas.addEventListener("pointermove", (event) => {
    if (pan) {
      const [x, y] = at(event);
      view.dx = pan.dx + x - pan.from[0];
      view.dy = pan.dy + y - pan.from[1];
      schedule();
    } else if (lasso) {
      lasso.push(at(event));
      schedule();
    }
  });
  canvas.addEventListener("pointerup", (event) => {
    if (pan) { pan = null; return; }
    if (!lasso) return;
    const polygon = lasso;
    lasso = null;
    const [x0, y0] = polygon[0];
    const [x1, y1] = at(event);
    if (polygon.length < 3 || Math.hypot(x1 - x0, y1 - y0) + polygon.length < 6) {
      // A click, not a lasso: open the point under it.
      const point = nearest(at(event));
      schedule();
      if (point) onOpen(point);
      return;
    }
    const inside = points.filter((point) => pointInPolygon(...toScreen(point), polygon));
    onLasso(inside);
  });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = at(event);
    const factor = Math.exp(-event.deltaY * 0.0015);
    const scale = Math.min(40, Math.max(0.5, view.scale * factor));
    const k = scale / view.scale;
    view = { scale, dx: x - k * (x - view.dx), dy: y - k * (y - view.dy) };
    schedule();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { view = { scale: 1, dx: 0, dy: 0 }; schedule(); });

  // Where a point is drawn, in page coordinates (a hook for tests and tooltips).
  canvas.pointPosition = (referenceId) => {
    const point = points.find((p) => p.reference_id === referenceId);
    if (!point) return null;
    const rect = canvas.getBoundingClientRect();
    const [x, y] = toScreen(point);
    return { x: rect.left + x, y: rect.top + y };
  };

  const resize = new ResizeObserver(schedule);
  resize.observe(canvas);

  return {
    element,
    set(next) {
      points = next;
      bounds = { x0: Infinity, x1: -Infinity, y0: Infinity, y1: -Infinity };
      for (const { x, y } of points) {
        bounds = { x0: Math.min(bounds.x0, x), x1: Math.max(bounds.x1, x), y0: Math.min(bounds.y0, y), y1: Math.max(bounds.y1, y) };
      }
      if (!points.length) bounds = { x0: 0, x1: 1, y0: 0, y1: 1 };
      view = { scale: 1, dx: 0, dy: 0 };
      canvas.dataset.points = String(points.length);
      schedule();
    },
    colour(next, entries = []) {
      colours = next;
      key.replaceChildren(...entries.map(([text, colour]) => {
        const swatch = el("span", { class: "swatch" });
        swatch.style.background = colour;
        return el("li", {}, swatch, text);
      }));
      schedule();
    },
    select(refs) {
      selected = new Set(refs);
      canvas.dataset.selected = String(points.filter((p) => selected.has(p.reference_id)).length);
      schedule();
    },
    destroy() {
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
