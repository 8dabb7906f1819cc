// The Models page's charts, drawn as SVG from an evaluation's metrics: PR curves (classes to
// choose, a hover readout of recall / precision / score, a click on a class's point),
// the confusion matrix as a heat map with its "missed" column and "spurious" row (a click on
// a cell), and the confidence histogram of true and false positives (a click on a bar).
// Every mark carries its data in data-* attributes; labels are text nodes, never markup.

import { el } from "/static/js/api.js";
import { paletteColor } from "/static/js/palette.js";

const NS = "http://www.w3.org/2000/svg";
const fixed = (x, digits = 3) => (x === null || x === undefined ? "—" : Number(x).toFixed(digits));

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A plot area inside a viewBox: x and y map fractions (0..1) to pixels.
function frame(width, height, { left = 44, top = 12, right = 12, bottom = 36 } = {}) {
  const w = width - left - right;
  const h = height - top - bottom;
  return {
    width, height, left, top, w, h,
    x: (f) => Math.round((left + f * w) * 100) / 100,
    y: (f) => Math.round((top + (1 - f) * h) * 100) / 100,
  };
}

// A tooltip over a chart: lines of text placed at a point of its wrapper.
function tooltip(wrapper) {
  const tip = el("div", { class: "chart-tip", role: "status", hidden: true });
  wrapper.append(tip);
  return {
    show(event, lines) {
      tip.replaceChildren(...lines.map((line, i) => el(i ? "span" : "strong", { class: "block" }, line)));
      tip.hidden = false;
      const box = wrapper.getBoundingClientRect();
      const x = event.clientX - box.left;
      const y = event.clientY - box.top;
      tip.style.left = `${Math.min(x + 14, box.width - tip.offsetWidth - 4)}px`;
      tip.style.top = `${Math.max(y - tip.offsetHeight - 10, 0)}px`;
    },
    hide() { tip.hidden = true; },
  };
}

// The svg's own coordinates of a pointer event (the chart scales with its container).
function pointer(root, event) {
  const point = root.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  return point.matrixTransform(root.getScreenCTM().inverse());
}

function axes(f, { xLabel, yLabel, yTicks = [0, 0.2, 0.4, 0.6, 0.8, 1], yText = (t) => t.toFixed(1) }) {
  const parts = [];
  for (const t of yTicks) {
    parts.push(svg("line", { class: "grid", x1: f.left, x2: f.left + f.w, y1: f.y(t), y2: f.y(t) }),
      svg("text", { x: f.left - 6, y: f.y(t) + 4, "text-anchor": "end" }, yText(t)));
  }
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    parts.push(svg("text", { x: f.x(t), y: f.top + f.h + 16, "text-anchor": "middle" }, t.toFixed(1)));
  }
  parts.push(svg("line", { class: "axis", x1: f.left, x2: f.left, y1: f.top, y2: f.top + f.h }),
    svg("line", { class: "axis", x1: f.left, x2: f.left + f.w, y1: f.top + f.h, y2: f.top + f.h }),
    svg("text", { class: "axis-title", x: f.left + f.w / 2, y: f.height - 4, "text-anchor": "middle" }, xLabel));
  if (yLabel) {
    const cy = f.top + f.h / 2;
    parts.push(svg("text", { class: "axis-title", x: 12, y: cy, "text-anchor": "middle", transform: `rotate(-90 12 ${cy})` }, yLabel));
  }
  return parts;
}

// prChart(metrics, {shown: Set of labels and "all", onPoint({label, recall, precision, score})})
// → {element, show(Set)}
export function prChart(metrics, { shown, onPoint }) {
  const curves = metrics.pr_curves || { recall: [], classes: {}, all: [] };
  const labels = metrics.labels || [];
  const f = frame(520, 330);
  const colour = (label) => (label === "all" ? "#1d2230" : paletteColor(labels.indexOf(label)));
  const lines = svg("g", { class: "pr-lines" });
  const marker = svg("circle", { class: "pr-marker", r: 4.5, visibility: "hidden" });
  const area = svg("rect", { class: "plot-area", x: f.left, y: f.top, width: f.w, height: f.h, fill: "transparent" });
  const root = svg("svg", {
    class: "chart pr-chart", viewBox: `0 0 ${f.width} ${f.height}`, role: "img",
    "aria-label": "Precision-recall curves",
  }, axes(f, { xLabel: "recall", yLabel: "precision" }), lines, marker, area);
  const wrapper = el("div", { class: "chart-wrap" }, root);
  const tip = tooltip(wrapper);
  let visible = new Set(shown);

  const precisionOf = (label) => (label === "all" ? curves.all : curves.classes[label]?.precision) || [];
  function draw() {
    const order = [...labels.filter((label) => visible.has(label) && curves.classes[label]), ...(visible.has("all") ? ["all"] : [])];
    lines.replaceChildren(...order.map((label) => {
      const precision = precisionOf(label);
      const points = curves.recall.map((r, i) => `${f.x(r)},${f.y(Math.max(precision[i], 0))}`).join(" ");
      return svg("polyline", {
        class: label === "all" ? "pr-line all" : "pr-line", "data-label": label, "data-points": precision.length,
        fill: "none", stroke: colour(label), points,
      });
    }));
  }

  // The shown curve nearest the pointer at the recall point under it.
  function nearest(event) {
    const at = pointer(root, event);
    const n = curves.recall.length;
    if (!n) return null;
    const i = Math.min(n - 1, Math.max(0, Math.round(((at.x - f.left) / f.w) * (n - 1))));
    let best = null;
    for (const label of visible) {
      const precision = precisionOf(label);
      if (!precision.length) continue;
      const distance = Math.abs(f.y(Math.max(precision[i], 0)) - at.y);
      if (!best || distance < best.distance) best = { label, i, distance };
    }
    if (!best) return null;
    const precision = precisionOf(best.label)[best.i];
    const score = best.label === "all" ? null : curves.classes[best.label].score[best.i];
    return { label: best.label, recall: curves.recall[best.i], precision, score, reached: precision > 0 };
  }

  area.addEventListener("mousemove", (event) => {
    const point = nearest(event);
    if (!point) return;
    marker.setAttribute("cx", f.x(point.recall));
    marker.setAttribute("cy", f.y(Math.max(point.precision, 0)));
    marker.setAttribute("stroke", colour(point.label));
    marker.setAttribute("visibility", "visible");
    const name = point.label === "all" ? "all classes (mean)" : point.label;
    const lines = [name, `recall ${fixed(point.recall, 2)} · precision ${fixed(point.precision)}`];
    if (point.label !== "all" && point.reached) {
      lines.push(`confidence ≥ ${fixed(point.score)}`, "Click: its false positives from this confidence up");
    } else if (point.label !== "all") {
      lines.push("This recall is never reached.");
    }
    root.style.cursor = point.label !== "all" && point.reached ? "pointer" : "default";
    tip.show(event, lines);
  });
  area.addEventListener("mouseleave", () => { marker.setAttribute("visibility", "hidden"); tip.hide(); });
  area.addEventListener("click", (event) => {
    const point = nearest(event);
    if (point && point.label !== "all" && point.reached) onPoint(point);
  });
  draw();
  return {
    element: wrapper,
    show(next) { visible = new Set(next); draw(); },
    colour,
  };
}

// White to a hue by a share (0..1): the diagonal in the accent's blue, errors in red.
function shade(share, error) {
  const [r, g, b] = error ? [0xc6, 0x28, 0x28] : [0x3d, 0x5a, 0xfe];
  const mix = (c) => Math.round(255 + (c - 255) * Math.min(Math.max(share, 0), 1) * 0.9);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

// confusionChart(confusion, {describe(row, column) → {note} | null, onCell(row, column)})
export function confusionChart(confusion, { describe, onCell }) {
  const names = confusion.labels || [];
  const n = names.length; // the labels and "(none)"
  const rows = [...names.slice(0, -1), "spurious"];
  const columns = [...names.slice(0, -1), "missed"];
  const cell = Math.max(18, Math.min(56, Math.floor(600 / Math.max(n, 1))));
  const longest = Math.max(8, ...rows.map((name) => name.length), ...columns.map((name) => name.length));
  const left = Math.min(Math.max(Math.round(longest * 6.8) + 34, 70), 190);
  const top = Math.min(Math.max(Math.round(longest * 4.8) + 34, 60), 150);
  const width = left + n * cell + 8;
  const height = top + n * cell + 8;
  const root = svg("svg", {
    class: "chart confusion-chart", viewBox: `0 0 ${width} ${height}`, width, role: "group",
    "aria-label": "Confusion matrix",
  });
  const wrapper = el("div", { class: "chart-wrap confusion-wrap" }, root);
  const tip = tooltip(wrapper);
  root.append(
    svg("text", { class: "axis-title", x: left + (n * cell) / 2, y: 12, "text-anchor": "middle" }, "predicted →"),
    svg("text", { class: "axis-title", x: 12, y: top + (n * cell) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${top + (n * cell) / 2})` }, "ground truth →"));
  columns.forEach((name, c) => {
    const x = left + c * cell + cell / 2;
    root.append(svg("text", { class: c === n - 1 ? "cm-none" : "", x, y: top - 6, transform: `rotate(-45 ${x} ${top - 6})` }, name));
  });
  rows.forEach((name, r) => {
    root.append(svg("text", { class: r === n - 1 ? "cm-none" : "", x: left - 6, y: top + r * cell + cell / 2 + 4, "text-anchor": "end" }, name));
  });
  (confusion.matrix || []).forEach((counts, r) => {
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    counts.forEach((count, c) => {
      const share = count / total;
      const what = describe(r, c);
      const clickable = Boolean(what) && count > 0;
      const words = `ground truth ${rows[r]}, predicted ${columns[c]}: ${count.toLocaleString()}`;
      const group = svg("g", {
        class: `cm-cell${clickable ? " clickable" : ""}`, "data-row": r, "data-column": c,
        "data-truth": rows[r], "data-predicted": columns[c], "data-count": count, "data-kind": what?.kind || "none",
        tabindex: clickable ? 0 : null, role: clickable ? "link" : null,
        "aria-label": clickable ? `${words}. Opens ${what.note}` : words,
      },
      svg("rect", { x: left + c * cell, y: top + r * cell, width: cell, height: cell, fill: shade(share, r !== c) }),
      count && cell >= 22 ? svg("text", {
        x: left + c * cell + cell / 2, y: top + r * cell + cell / 2 + 4, "text-anchor": "middle",
        class: share > 0.55 ? "on-dark" : "",
      }, count.toLocaleString()) : null);
      if (clickable) {
        group.addEventListener("click", () => onCell(r, c));
        group.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); onCell(r, c); }
        });
      }
      group.addEventListener("mousemove", (event) => tip.show(event, [words, ...(clickable ? [`Click: ${what.note}`] : [])]));
      group.addEventListener("mouseleave", () => tip.hide());
      root.append(group);
    });
  });
  const edgeX = left + (n - 1) * cell;
  const edgeY = top + (n - 1) * cell;
  root.append(svg("line", { class: "cm-edge", x1: edgeX, x2: edgeX, y1: top, y2: top + n * cell }),
    svg("line", { class: "cm-edge", x1: left, x2: left + n * cell, y1: edgeY, y2: edgeY }));
  return { element: wrapper };
}

// histogramChart(confidence, {onBar({outcome, lo, hi, last, count})})
export function histogramChart(confidence, { onBar }) {
  const edges = confidence.bins || [];
  const counts = { tp: confidence.tp || [], fp: confidence.fp || [] };
  const peak = Math.max(1, ...counts.tp, ...counts.fp);
  const f = frame(520, 250);
  const bins = counts.tp.length || 1;
  const slot = f.w / bins;
  const root = svg("svg", {
    class: "chart histogram-chart", viewBox: `0 0 ${f.width} ${f.height}`, role: "group",
    "aria-label": "Confidence of true and false positives",
  }, axes(f, { xLabel: "confidence", yTicks: [0, Math.round(peak / 2) / peak, 1], yText: (t) => String(Math.round(t * peak)) }));
  const wrapper = el("div", { class: "chart-wrap" }, root);
  const tip = tooltip(wrapper);
  ["tp", "fp"].forEach((outcome, side) => {
    counts[outcome].forEach((count, i) => {
      const lo = edges[i];
      const hi = edges[i + 1];
      const last = i === bins - 1;
      const height = (f.h * count) / peak;
      const words = `${count.toLocaleString()} ${outcome === "tp" ? "true" : "false"} positives at confidence ${fixed(lo, 2)}–${fixed(hi, 2)}`;
      const bar = svg("rect", {
        class: `hist-bar ${outcome}${count ? " clickable" : ""}`, "data-outcome": outcome, "data-bin": i,
        "data-lo": lo, "data-hi": hi, "data-count": count,
        x: Math.round((f.left + i * slot + 1 + (side * (slot - 2)) / 2) * 100) / 100,
        y: Math.round((f.top + f.h - height) * 100) / 100,
        width: Math.round(((slot - 2) / 2) * 100) / 100, height: Math.round(height * 100) / 100,
        tabindex: count ? 0 : null, role: count ? "link" : null, "aria-label": words,
      });
      if (count) {
        const open = () => onBar({ outcome, lo, hi, last, count });
        bar.addEventListener("click", open);
        bar.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") { event.preventDefault(); open(); }
        });
      }
      bar.addEventListener("mousemove", (event) => tip.show(event, [words, ...(count ? ["Click: these objects in the explorer"] : [])]));
      bar.addEventListener("mouseleave", () => tip.hide());
      root.append(bar);
    });
  });
  return { element: wrapper };
}
