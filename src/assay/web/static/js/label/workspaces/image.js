// The image annotation workspace: boxes, polygons, lines, points and keypoints, ellipses,
// 2D cuboids and brush masks on a zoomable canvas, with per-shape, global and link
// attributes, pre-labels as suggestions, undo/redo and review comments pinned to shapes.
// Implements the workspace contract: mount(container, ctx) → {getResponse, getComments,
// focus, destroy}.

import { css, el, toast } from "/static/js/api.js";
import { digitIndex, isTyping, labelColor, newId } from "/static/js/label/common.js";
import {
  History, IMAGE_GEOMETRIES, acceptSuggestions, addShape, findShape, initialDoc, isSuggestion,
  labelsOf, removeShapes, replaceShapes, responseOf,
} from "/static/js/label/image/doc.js";
import { drawBrush, drawLink, drawPin, drawPreview, drawSelected, drawShapes } from "/static/js/label/image/draw.js";
import { center, clampMove, removeVertex, translate } from "/static/js/label/image/geometry.js";
import { ImageAdjust } from "/static/js/label/image/adjust.js";
import { Panel } from "/static/js/label/image/panel.js";
import { showBroken } from "/static/js/label/image/broken.js";
import { Stage } from "/static/js/label/image/stage.js";
import { Interaction, SHORTCUTS, TOOLS, TOOL_HINTS, nextBrush } from "/static/js/label/image/tools.js";

export function mount(container, ctx) {
  css("/static/css/image.css");
  const editor = new ImageEditor(container, ctx);
  return {
    getResponse: () => editor.response(),
    getComments: () => editor.comments.map((c) => ({ ...c })),
    focus: () => editor.stage.element.focus({ preventScroll: true }),
    highlight: (id) => editor.highlight(id),
    destroy: () => editor.destroy(),
    shortcuts: SHORTCUTS,
  };
}

function sizeFromParams(params) {
  const w = Number(params?.image_width), h = Number(params?.image_height);
  return w > 0 && h > 0 ? { width: w, height: h } : null;
}

class ImageEditor {
  constructor(container, ctx) {
    this.ctx = ctx;
    this.taxonomy = ctx.project?.taxonomy || {};
    this.mode = ctx.mode || "label";
    this.editable = !ctx.readOnly;
    this.labels = labelsOf(this.taxonomy, IMAGE_GEOMETRIES);
    this.reviewComments = ctx.comments || [];
    this.comments = []; // review mode: what the reviewer pins
    this.selected = [];
    this.hidden = new Set();
    this.locked = new Set();
    this.live = new Map();
    this.pending = null; // a mask being painted that is not in the document yet
    this.activeHandle = null;
    this.selectedVertex = null;
    this.brushRadius = 12;
    this.erasing = false;
    this.label = this.labels[0]?.name || null;
    this.tool = this.labels[0]?.geometries[0] || "box";
    if (this.tool === "keypoints" && !this.labels[0]?.keypoints.length) this.tool = "point";
    this.colors = new Map(this.labels.map((l) => [l.name, labelColor(this.taxonomy, l.name)]));
    this.image = null;
    this.size = sizeFromParams(ctx.task?.params);
    this.history = null;

    this.stage = new Stage({
      label: "Image to annotate",
      draw: { base: (c, s) => this.drawBase(c, s), overlay: (c, s) => this.drawOverlay(c, s) },
      pointer: (kind, event, p) => this.history && this.tools.on(kind, event, p),
    });
    this.tools = new Interaction(this);
    this.adjust = new ImageAdjust(() => this.stage.invalidate());
    this.hint = el("p", { class: "iw-hint", "aria-live": "polite" });
    this.toolbar = el("div", { class: "iw-toolbar", role: "toolbar", "aria-label": "Image tools" });
    this.panel = new Panel(this);
    this.root = el("div", { class: "image-ws", "data-mode": this.mode },
      this.toolbar,
      el("div", { class: "iw-body" },
        el("div", { class: "iw-canvas" }, this.stage.element, this.hint),
        this.panel.element));
    this.onKeyDown = (event) => this.keyDown(event);
    this.onKeyUp = (event) => event.code === "Space" && this.stage.setSpace(false);
    this.root.addEventListener("keydown", this.onKeyDown);
    this.root.addEventListener("keyup", this.onKeyUp);
    // A Space released elsewhere must not leave the next click panning.
    this.root.addEventListener("focusout", () => this.stage.setSpace(false));
    container.replaceChildren(this.root);
    this.renderToolbar();
    if (this.size) this.start();
    this.loadImage(ctx.task?.params?.attachment);
  }

  // --- loading ---

  loadImage(url) {
    if (!url) {
      if (!this.size) this.fail("This task has no image.");
      return;
    }
    const image = new Image();
    image.decoding = "async";
    image.addEventListener("load", () => {
      if (this.destroyed) return;
      this.image = image;
      if (!this.size) this.size = { width: image.naturalWidth, height: image.naturalHeight };
      if (!this.history) this.start();
      this.stage.invalidate();
    });
    image.addEventListener("error", () => this.fail("The image could not be loaded."));
    image.src = url;
  }

  // The media is broken: an error state over the canvas that the tool hints cannot
  // overwrite, and the runner is told (it blocks submit and offers to report the task).
  fail(message) {
    if (this.destroyed) return;
    this.broken = message;
    showBroken(this.stage.element, message, this.ctx);
    if (!this.size) {
      this.size = { width: 1000, height: 750 };
      this.start();
    }
  }

  start() {
    this.history = new History(initialDoc(this.ctx, this.size));
    this.stage.setSize(this.size.width, this.size.height);
    this.root.dataset.ready = "true";
    this.panel.update({ force: true });
    this.renderToolbar();
    this.stage.invalidate();
  }

  get doc() {
    return this.history.doc;
  }

  response() {
    if (!this.history) return this.ctx.response || { annotations: [], global_attributes: {}, links: [] };
    return responseOf(this.doc, this.taxonomy, this.size);
  }

  // --- lookups ---

  shapeById(id) {
    return this.live.get(id) || findShape(this.doc, id) || (this.pending?.id === id ? this.pending : null);
  }

  colorOf(shape) {
    return this.colors.get(shape.label) || "#9e9e9e";
  }

  // The skeleton edges (pairs of keypoint names) the taxonomy gives a shape's label.
  skeletonOf(shape) {
    return this.labelInfo(shape.label)?.skeleton || [];
  }

  labelInfo(name) {
    return this.labels.find((l) => l.name === name) || null;
  }

  // The label for a new shape of `type`: the current one if it allows the type.
  labelFor(type) {
    const current = this.labelInfo(this.label);
    if (current?.geometries.includes(type)) return current.name;
    return this.labels.find((l) => l.geometries.includes(type))?.name || null;
  }

  keypointNames() {
    const name = this.labelFor("keypoints");
    return this.labelInfo(name)?.keypoints || [];
  }

  maskSize() {
    const { width, height } = this.size;
    return Number.isInteger(width) && Number.isInteger(height) ? { width, height } : null;
  }

  maskTarget() {
    if (this.selected.length !== 1) return null;
    const shape = this.shapeById(this.selected[0]);
    if (shape?.type !== "mask" || this.locked.has(shape.id) || isSuggestion(this.doc, shape.id)) return null;
    return shape;
  }

  // --- edits ---

  commit(doc, { selectionChanged = false } = {}) {
    if (!this.history.commit(doc)) return;
    this.afterChange(selectionChanged);
  }

  afterChange(force = false) {
    const existing = new Set(this.selected.filter((id) => findShape(this.doc, id)));
    if (existing.size !== this.selected.length) this.selected = [...existing];
    this.stage.invalidate();
    this.panel.update({ force });
    this.updateHistoryButtons();
    this.ctx.onChange?.();
  }

  newShape(type, geometry) {
    const label = this.labelFor(type);
    if (!label) {
      this.toast(`No label of this project allows a ${type}.`);
      return null;
    }
    return { id: newId(), type, label, attributes: {}, ...geometry };
  }

  create(type, geometry) {
    const shape = this.newShape(type, geometry);
    if (shape) this.commitNew(shape);
  }

  commitNew(shape) {
    this.selected = [shape.id];
    this.selectedVertex = null;
    this.commit(addShape(this.doc, shape), { selectionChanged: true });
  }

  previewNew(shape) {
    this.pending = shape;
    if (shape) this.selected = [shape.id];
    this.stage.invalidate();
  }

  commitShapes(shapes) {
    const accepted = shapes.some((s) => isSuggestion(this.doc, s.id));
    this.commit(replaceShapes(this.doc, shapes), { selectionChanged: accepted });
  }

  removeIds(ids) {
    if (!ids.length) return;
    this.selected = this.selected.filter((id) => !ids.includes(id));
    this.selectedVertex = null;
    this.commit(removeShapes(this.doc, ids), { selectionChanged: true });
  }

  deleteSelection() {
    const v = this.selectedVertex;
    if (v && this.selected.length === 1 && this.selected[0] === v.id && !this.locked.has(v.id)) {
      const shape = this.shapeById(v.id);
      const smaller = shape && removeVertex(shape, v.key);
      this.selectedVertex = null;
      if (smaller) {
        this.commitShapes([smaller]);
        return;
      }
    }
    const ids = this.selected.filter((id) => !this.locked.has(id));
    if (ids.length < this.selected.length) this.toast("Locked shapes are not deleted.");
    this.removeIds(ids);
  }

  accept(ids) {
    const wanted = ids.filter((id) => isSuggestion(this.doc, id));
    if (!wanted.length) return false;
    this.commit(acceptSuggestions(this.doc, wanted), { selectionChanged: true });
    return true;
  }

  acceptSelectedOrAll(all) {
    const ids = all ? this.doc.suggestions.map((s) => s.id) : this.selected;
    if (!this.accept(ids) && !all) this.toast("Select a suggestion to accept it (Shift+A accepts all).");
  }

  relabel(name) {
    const shapes = this.selected.map((id) => this.shapeById(id)).filter(Boolean);
    const info = this.labelInfo(name);
    const changed = shapes.filter((s) => s.label !== name && info?.geometries.includes(s.type));
    if (shapes.length && changed.length < shapes.length) {
      this.toast(`Label "${name}" does not allow every selected shape's geometry.`);
    }
    if (changed.length) {
      // Attributes of the old label that the new one lacks would be refused by the server.
      this.commitShapes(changed.map((s) => ({ ...s, label: name, attributes: {} })));
      this.panel.update({ force: true });
    }
  }

  setAttributes(id, attributes) {
    const shape = findShape(this.doc, id);
    if (shape) this.commitShapes([{ ...shape, attributes }]);
  }

  setKeypointVisible(id, index, visible) {
    const shape = findShape(this.doc, id);
    if (!shape) return;
    const points = shape.points.map((k, i) => (i === index ? { ...k, visible } : k));
    this.commitShapes([{ ...shape, points }]);
  }

  nudge(dx, dy) {
    const shapes = this.selected.map((id) => this.shapeById(id)).filter((s) => s && !this.locked.has(s.id));
    if (!shapes.length) return false;
    for (const shape of shapes) ({ dx, dy } = clampMove(shape, dx, dy, this.size));
    if (dx || dy) this.commitShapes(shapes.map((s) => translate(s, dx, dy)));
    return true;
  }

  undo() {
    this.tools.cancel();
    if (this.history.undo()) this.afterChange(true);
  }

  redo() {
    this.tools.cancel();
    if (this.history.redo()) this.afterChange(true);
  }

  // --- selection and view state (not undoable) ---

  select(ids) {
    const same = ids.length === this.selected.length && ids.every((id, i) => id === this.selected[i]);
    this.selectedVertex = null;
    if (same) return;
    this.selected = ids;
    this.stage.invalidate();
    this.panel.update({ force: true });
  }

  toggleSelected(id) {
    this.select(this.selected.includes(id) ? this.selected.filter((x) => x !== id) : [...this.selected, id]);
  }

  selectVertex(id, key) {
    this.selectedVertex = key.startsWith("v:") || key.startsWith("k:") ? { id, key } : null;
    this.requestOverlay();
  }

  toggleHidden(id) {
    if (this.hidden.has(id)) this.hidden.delete(id);
    else {
      this.hidden.add(id);
      this.selected = this.selected.filter((x) => x !== id);
    }
    this.stage.invalidate();
    this.panel.update({ force: true });
  }

  toggleLocked(id) {
    if (this.locked.has(id)) this.locked.delete(id);
    else this.locked.add(id);
    this.stage.invalidate();
    this.panel.update({ force: true });
  }

  highlight(id) {
    const shape = findShape(this.doc, id);
    if (!shape) {
      this.toast("That shape is no longer in the response.");
      return;
    }
    this.hidden.delete(id);
    this.select([id]);
    const c = center(shape);
    const s = this.stage.toScreen(c);
    this.stage.panBy(this.stage.element.clientWidth / 2 - s.x, this.stage.element.clientHeight / 2 - s.y);
    this.stage.element.focus({ preventScroll: true });
  }

  setTool(tool) {
    if (!this.availableTools().includes(tool)) {
      this.toast(`No label of this project allows ${tool === "select" ? "that" : `a ${tool}`}.`);
      return;
    }
    this.tools.cancel();
    this.tool = tool;
    const info = this.labelInfo(this.label);
    if (tool !== "select" && !info?.geometries.includes(tool)) this.label = this.labelFor(tool);
    this.setHint(null);
    this.renderToolbar();
    this.panel.update({ labels: true });
    this.requestOverlay();
  }

  setLabel(name, { relabel = false } = {}) {
    const info = this.labelInfo(name);
    if (!info) return;
    this.label = name;
    if (this.tool !== "select" && !info.geometries.includes(this.tool)) {
      this.tool = info.geometries[0] || "select";
      if (this.tool === "keypoints" && !info.keypoints.length) this.tool = "point";
    }
    this.tools.cancel();
    if (relabel && this.selected.length) this.relabel(name);
    this.renderToolbar();
    this.panel.update({ labels: true });
  }

  availableTools() {
    const allowed = new Set(this.labels.flatMap((l) => l.geometries));
    return TOOLS.map((t) => t.tool).filter((t) => t === "select" || allowed.has(t));
  }

  setHint(text) {
    this.hint.textContent = text ?? TOOL_HINTS[this.tool] ?? "";
    this.hint.classList.remove("error");
  }

  toast(message) {
    toast(message, "info");
  }

  requestOverlay() {
    this.stage.request();
  }

  // --- toolbar ---

  buildToolbar() {
    const button = (label, attrs, onclick) => el("button", { type: "button", ...attrs, onclick }, label);
    this.toolButtons = new Map(TOOLS.map((t) => [t.tool, button(t.name, {
      class: "tool", "aria-pressed": "false", "aria-keyshortcuts": t.key.toUpperCase(),
      title: `${t.name} (${t.key.toUpperCase()})`,
    }, () => this.setTool(t.tool))]));
    this.eraserButton = button("Eraser", { "aria-pressed": "false", "aria-keyshortcuts": "X", class: "tool" },
      () => this.toggleEraser());
    this.brushInput = el("input", {
      type: "range", min: 1, max: 100, value: this.brushRadius, "aria-label": "Brush size",
      oninput: (e) => { this.brushRadius = Number(e.target.value); this.requestOverlay(); },
    });
    this.maskControls = el("span", { class: "iw-group" }, this.eraserButton,
      el("label", { class: "iw-brush" }, "Brush ", this.brushInput));
    this.undoButton = button("Undo", { "aria-keyshortcuts": "Control+Z", class: "secondary" }, () => this.undo());
    this.redoButton = button("Redo", { "aria-keyshortcuts": "Control+Shift+Z", class: "secondary" }, () => this.redo());
    this.toolbar.replaceChildren(
      el("div", { class: "iw-group", role: "group", "aria-label": "Tools" }, [...this.toolButtons.values()], this.maskControls),
      el("div", { class: "iw-group", role: "group", "aria-label": "History and view" },
        this.undoButton, this.redoButton,
        button("Zoom in", { "aria-keyshortcuts": "+", class: "secondary" }, () => this.stage.zoomBy(1.25)),
        button("Zoom out", { "aria-keyshortcuts": "-", class: "secondary" }, () => this.stage.zoomBy(0.8)),
        button("Fit", { "aria-keyshortcuts": "0", class: "secondary" }, () => this.stage.fit())),
      this.adjust.element);
  }

  // Updated in place: a toolbar button that has the focus keeps it.
  renderToolbar() {
    if (!this.toolButtons) this.buildToolbar();
    const available = this.availableTools();
    for (const [tool, node] of this.toolButtons) {
      node.hidden = !available.includes(tool);
      node.setAttribute("aria-pressed", String(this.tool === tool));
    }
    this.maskControls.hidden = this.tool !== "mask";
    this.eraserButton.setAttribute("aria-pressed", String(this.erasing));
    this.brushInput.value = String(this.brushRadius);
    this.updateHistoryButtons();
    if (!this.tools.drawing) this.setHint(null);
  }

  updateHistoryButtons() {
    // aria-disabled rather than disabled: a button that has the focus keeps it.
    this.undoButton?.setAttribute("aria-disabled", String(!this.history?.past.length));
    this.redoButton?.setAttribute("aria-disabled", String(!this.history?.future.length));
  }

  toggleEraser() {
    this.erasing = !this.erasing;
    this.renderToolbar();
    this.requestOverlay();
  }

  // --- drawing ---

  drawBase(ctx, stage) {
    const scale = stage.scale;
    ctx.imageSmoothingEnabled = scale < 3;
    if (this.image) this.adjust.draw(ctx, stage, () => ctx.drawImage(this.image, 0, 0, this.size.width, this.size.height));
    else {
      ctx.fillStyle = "#2a2f3a";
      ctx.fillRect(0, 0, this.size?.width || 0, this.size?.height || 0);
    }
    if (!this.history) return;
    const selected = new Set(this.selected);
    const visible = (s) => !selected.has(s.id) && !this.hidden.has(s.id);
    const colorOf = (s) => this.colorOf(s);
    const skeletonOf = (s) => this.skeletonOf(s);
    drawShapes(ctx, this.doc.shapes.filter(visible), { scale, colorOf, skeletonOf });
    drawShapes(ctx, this.doc.suggestions.filter(visible), { scale, colorOf, skeletonOf, dashed: true });
  }

  drawOverlay(ctx, stage) {
    if (!this.history) return;
    const scale = stage.scale;
    const doc = this.doc;
    for (const link of doc.links) {
      const a = this.shapeById(link.from), b = this.shapeById(link.to);
      if (a && b && !this.hidden.has(a.id) && !this.hidden.has(b.id)) {
        drawLink(ctx, center(a), center(b), link.label, scale);
      }
    }
    for (const id of this.selected) {
      const shape = this.shapeById(id);
      if (!shape || this.hidden.has(id)) continue;
      drawSelected(ctx, shape, {
        scale, color: this.colorOf(shape), suggestion: isSuggestion(doc, id), skeleton: this.skeletonOf(shape),
        locked: this.locked.has(id), withHandles: this.selected.length === 1 && this.editable,
        activeHandle: this.activeHandle ?? (this.selectedVertex?.id === id ? this.selectedVertex.key : null),
      });
    }
    this.drawPins(ctx, scale);
    const preview = this.tools.preview();
    if (preview) drawPreview(ctx, preview, scale, this.colors.get(this.labelFor(this.tool === "keypoints" ? "keypoints" : this.tool)) || "#fff");
    const cursor = this.tools.cursor;
    if (this.tool === "mask" && cursor) drawBrush(ctx, cursor, this.brushRadius, scale, this.erasing);
  }

  drawPins(ctx, scale) {
    const groups = [[this.reviewComments, "#d81b60"], [this.comments, "#6a1b9a"]];
    for (const [comments, color] of groups) {
      comments.forEach((comment, i) => {
        const shape = comment.annotation_id && this.shapeById(comment.annotation_id);
        if (shape && !this.hidden.has(shape.id)) drawPin(ctx, shape, i + 1, scale, color);
      });
    }
  }

  // --- keyboard ---

  keyDown(event) {
    if (!this.history) return;
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (key === "z" || key === "Z" || key === "y" || key === "Y")) {
      if (isTyping(event)) return;
      event.preventDefault();
      if (key === "y" || key === "Y" || event.shiftKey) this.redo();
      else this.undo();
      return;
    }
    if (mod || event.altKey || isTyping(event) || event.defaultPrevented) return;
    // Space and Enter belong to a focused control (a button, a checkbox) rather than the canvas.
    const onButton = event.target instanceof Element && event.target.closest("button, a, summary, input, select");
    if (this.handleKey(event, key, onButton)) event.preventDefault();
  }

  handleKey(event, key, onButton) {
    const lower = key.length === 1 ? key.toLowerCase() : key;
    const digit = digitIndex(event);
    if (digit >= 0 && key !== "0") {
      // A digit picks the label for the next shape; with Shift it also relabels the selection.
      if (this.labels[digit]) this.setLabel(this.labels[digit].name, { relabel: event.shiftKey });
      return true;
    }
    if (key === " " && !onButton) {
      this.stage.setSpace(true);
      return true;
    }
    if (key === "Enter" && !onButton) return this.tools.finish();
    if (key === "Escape") {
      if (this.tools.cancel()) return true;
      if (this.selected.length) {
        this.select([]);
        return true;
      }
      return false;
    }
    if (key === "Delete" || key === "Backspace") {
      if (this.tools.drawing) return this.tools.removeLastPoint();
      if (!this.selected.length) return false;
      this.deleteSelection();
      return true;
    }
    if (key.startsWith("Arrow")) return !onButton && this.arrow(key, event.shiftKey);
    if (key === "+" || key === "=") this.stage.zoomBy(1.25);
    else if (key === "-" || key === "_") this.stage.zoomBy(0.8);
    else if (key === "0") this.stage.fit();
    else if (key === "[" || key === "]") {
      this.brushRadius = nextBrush(this.brushRadius, key === "]", this.size);
      this.renderToolbar();
      this.requestOverlay();
    } else if (lower === "l" && event.shiftKey) {
      for (const id of this.selected) this.toggleLocked(id);
    } else if (lower === "a") this.acceptSelectedOrAll(event.shiftKey);
    else if (lower === "h") {
      for (const id of this.selected.slice()) this.toggleHidden(id);
    } else if (lower === "x") this.toggleEraser();
    else if (lower === "n" && this.tools.drawing) this.tools.skipKeypoint();
    else if (lower === "k") this.setTool(this.pointTool());
    else {
      const tool = TOOLS.find((t) => t.key === lower && t.tool !== "keypoints");
      if (!tool || event.shiftKey) return false;
      this.setTool(tool.tool);
    }
    return true;
  }

  // K: the point geometry the current label allows; pressed again, the other one if it
  // allows both; another label's when it allows neither.
  pointTool() {
    const info = this.labelInfo(this.label);
    const allows = (g) => Boolean(info?.geometries.includes(g));
    if (allows("keypoints") && allows("point")) return this.tool === "keypoints" ? "point" : "keypoints";
    if (allows("keypoints")) return "keypoints";
    if (allows("point")) return "point";
    return this.availableTools().includes("point") ? "point" : "keypoints";
  }

  arrow(key, big) {
    const step = big ? 10 : 1;
    const dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
    const dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
    if (this.nudge(dx, dy)) return true;
    this.stage.panBy(-dx * 10, -dy * 10);
    return true;
  }

  destroy() {
    this.destroyed = true;
    this.stage.destroy();
    this.root.removeEventListener("keydown", this.onKeyDown);
    this.root.removeEventListener("keyup", this.onKeyUp);
    this.root.remove();
  }
}
