// Pointer interaction on the image: drawing each geometry, selecting, moving shapes, dragging
// handles and vertices, inserting vertices on an edge, and painting masks. Everything a drag
// changes lives in `editor.live` (id → shape) until the pointer is released; then it is
// committed to the document once, as one undoable edit.

import {
  area, boxFromCorners, clamp, clampMove, clampPoint, cuboidFromFront, dragHandle, handleAt, hit,
  insertVertex, translate,
} from "/static/js/label/image/geometry.js";
import { copyMask, createMask, maskCanvas, maskIsEmpty, paintStroke } from "/static/js/label/image/mask.js";
import { RELABEL_ROW, numberKeysRow } from "/static/js/label/number_keys.js";

const CLICK_SLOP = 3; // screen pixels a press may move and still count as a click
const CLOSE_DISTANCE = 8; // screen pixels from the first vertex that close a polygon

const CURSORS = {
  nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize",
  n: "ns-resize", s: "ns-resize", e: "ew-resize", w: "ew-resize",
};

export const TOOLS = [
  { tool: "select", key: "v", name: "Select" },
  { tool: "box", key: "b", name: "Box" },
  { tool: "polygon", key: "p", name: "Polygon" },
  { tool: "line", key: "l", name: "Line" },
  { tool: "point", key: "k", name: "Point" },
  { tool: "keypoints", key: "k", name: "Keypoints" },
  { tool: "ellipse", key: "e", name: "Ellipse" },
  { tool: "cuboid", key: "c", name: "Cuboid" },
  { tool: "mask", key: "m", name: "Mask" },
];

export const SHORTCUTS = [
  numberKeysRow("Pick the n-th label for the next shape"),
  RELABEL_ROW,
  [["V"], "Select and move"],
  [["B"], "Box"], [["P"], "Polygon"], [["L"], "Line"], [["K"], "Point / keypoints"],
  [["E"], "Ellipse"], [["C"], "Cuboid"], [["M"], "Brush mask"], [["X"], "Eraser on/off (mask)"],
  [["[", "]"], "Brush size"],
  [["Enter"], "Finish the polygon, line or keypoints"],
  [["Esc"], "Cancel drawing / clear the selection"],
  [["Delete"], "Delete the selected vertex or shape"],
  [["A"], "Accept the selected suggestion (Shift+A: all)"],
  [["H"], "Hide or show the selected shape"], [["Shift", "L"], "Lock or unlock it"],
  [["←", "↑", "→", "↓"], "Nudge the selected shape (Shift: 10 px) or pan"],
  [["+", "-", "0"], "Zoom in, out, fit"],
  [["Space", "drag"], "Pan (or drag with the middle button)"],
  [["Ctrl", "Z"], "Undo"], [["Ctrl", "Shift", "Z"], "Redo"],
];

export const TOOL_HINTS = {
  select: "Click a shape to select it (Shift+click adds to the selection), drag to move it; drag its handles to resize.",
  box: "Drag to draw a box. Click a shape to select it.",
  polygon: "Click to add points; click the first point, press Enter or double-click to close. Backspace removes the last point.",
  line: "Click to add points; Enter or double-click to finish. Backspace removes the last point.",
  point: "Click to place a point.",
  keypoints: "Click to place each named point in turn (Shift+click: hidden). N skips a point, Enter finishes.",
  ellipse: "Drag to draw an ellipse; the yellow handle rotates it.",
  cuboid: "Drag to draw the front face; then adjust the back face by its handles.",
  mask: "Paint into the selected mask, or a new one when none is selected (Esc deselects). [ and ] size the brush; X or Shift+drag erases.",
};

export class Interaction {
  constructor(editor) {
    this.editor = editor;
    this.drag = null;
    this.drawing = null; // polygon/line/keypoints in progress
    this.cursor = null; // last pointer position (image pixels)
  }

  get stage() {
    return this.editor.stage;
  }

  tol() {
    return 6 / this.stage.scale;
  }

  // The shape under p: the selected one if it is hit, else the innermost visible one.
  pick(p) {
    const editor = this.editor;
    const tol = this.tol();
    const doc = editor.doc;
    for (const id of editor.selected) {
      const shape = editor.shapeById(id);
      if (shape && !editor.hidden.has(id) && hit(shape, p, tol)) return shape;
    }
    let best = null;
    let bestArea = Infinity;
    for (const list of [doc.shapes, doc.suggestions]) {
      for (const shape of list) {
        if (editor.hidden.has(shape.id) || !hit(shape, p, tol)) continue;
        const a = area(shape);
        if (a <= bestArea) {
          best = shape;
          bestArea = a;
        }
      }
    }
    return best;
  }

  handleUnder(p) {
    const editor = this.editor;
    if (editor.selected.length !== 1) return null;
    const id = editor.selected[0];
    const shape = editor.shapeById(id);
    if (!shape || editor.locked.has(id) || editor.hidden.has(id) || !editor.editable) return null;
    const handle = handleAt(shape, p, this.tol(), this.stage.scale);
    return handle ? { shape, handle } : null;
  }

  // --- pointer events from the stage ---

  on(kind, event, p) {
    this.cursor = p;
    if (kind === "down") this.down(event, p);
    else if (kind === "move") this.move(event, p);
    else if (kind === "up") this.up(event, p);
    else if (kind === "cancel") this.cancelDrag();
    else if (kind === "hover") this.hover(event, p);
    else if (kind === "dblclick") this.finish();
  }

  down(event, p) {
    const editor = this.editor;
    const tool = editor.tool;
    const start = { p, screen: { x: event.clientX, y: event.clientY } };
    if (this.drawing) {
      this.addPoint(event, p);
      return;
    }
    if (tool === "mask" && editor.editable) {
      this.startPaint(event, p);
      return;
    }
    const grabbed = tool !== "point" ? this.handleUnder(p) : null;
    if (grabbed) {
      let { shape, handle } = grabbed;
      let key = handle.key;
      if (handle.midpoint) {
        // Dragging an edge's midpoint inserts a vertex there.
        const segment = Number(key.slice(2));
        shape = insertVertex(shape, segment, { x: handle.x, y: handle.y });
        key = `v:${segment + 1}`;
        editor.live.set(shape.id, shape);
      }
      this.drag = { kind: "handle", ...start, shape, key, inserted: handle.midpoint };
      editor.activeHandle = key;
      editor.requestOverlay();
      return;
    }
    if (tool === "select") {
      const shape = this.pick(p);
      if (!shape) {
        if (!event.shiftKey) editor.select([]);
        this.drag = { kind: "pan", ...start, last: start.screen };
        return;
      }
      if (event.shiftKey) {
        editor.toggleSelected(shape.id);
        return;
      }
      if (!editor.selected.includes(shape.id)) editor.select([shape.id]);
      this.drag = { kind: "move", ...start, shapes: this.movable() };
      return;
    }
    if (!editor.editable) return;
    if (tool === "box" || tool === "ellipse" || tool === "cuboid") {
      this.drag = { kind: "rubber", ...start, origin: clampPoint(p, editor.size) };
      return;
    }
    if (tool === "polygon" || tool === "line" || tool === "keypoints") {
      this.startPath(tool, event, p);
      return;
    }
    if (tool === "point") {
      this.drag = { kind: "click-point", ...start };
    }
  }

  movable() {
    const editor = this.editor;
    return editor.selected
      .map((id) => editor.shapeById(id))
      .filter((s) => s && !editor.locked.has(s.id) && s.type !== "mask");
  }

  moved(event, d = this.drag) {
    return Math.hypot(event.clientX - d.screen.x, event.clientY - d.screen.y) > CLICK_SLOP;
  }

  move(event, p) {
    const editor = this.editor;
    const d = this.drag;
    if (!d) {
      this.hover(event, p);
      return;
    }
    if (d.kind === "pan") {
      this.stage.panBy(event.clientX - d.last.x, event.clientY - d.last.y);
      d.last = { x: event.clientX, y: event.clientY };
      return;
    }
    if (d.kind === "handle") {
      editor.live.set(d.shape.id, dragHandle(d.shape, d.key, p, editor.size));
      d.changed = true;
    } else if (d.kind === "move") {
      if (!d.changed && !this.moved(event)) return;
      let dx = p.x - d.p.x, dy = p.y - d.p.y;
      for (const shape of d.shapes) ({ dx, dy } = clampMove(shape, dx, dy, editor.size));
      for (const shape of d.shapes) editor.live.set(shape.id, translate(shape, dx, dy));
      d.changed = true;
    } else if (d.kind === "rubber") {
      d.current = clampPoint(p, editor.size);
      d.changed = d.changed || this.moved(event);
    } else if (d.kind === "paint") {
      this.paint(d, p, event);
    }
    editor.requestOverlay();
  }

  up(event, p) {
    const editor = this.editor;
    const d = this.drag;
    this.drag = null;
    editor.activeHandle = null;
    if (!d) return;
    if (d.kind === "handle") {
      const live = editor.live.get(d.shape.id);
      editor.live.clear();
      if (d.changed || d.inserted) editor.commitShapes([live || d.shape]);
      else editor.selectVertex(d.shape.id, d.key);
    } else if (d.kind === "move") {
      const moved = d.shapes.map((s) => editor.live.get(s.id)).filter(Boolean);
      editor.live.clear();
      if (d.changed && moved.length) editor.commitShapes(moved);
    } else if (d.kind === "rubber") {
      if (!d.changed) {
        this.clickSelect(event, p);
      } else {
        this.finishRubber(d);
      }
    } else if (d.kind === "click-point") {
      if (!this.moved(event, d)) editor.create("point", clampPoint(p, editor.size));
    } else if (d.kind === "paint") {
      this.finishPaint(d);
    } else if (d.kind === "pan") {
      if (!this.moved(event, d) && editor.selected.length) editor.select([]);
    }
    editor.requestOverlay();
  }

  clickSelect(event, p) {
    const shape = this.pick(p);
    const editor = this.editor;
    if (!shape) editor.select([]);
    else if (event.shiftKey) editor.toggleSelected(shape.id);
    else editor.select([shape.id]);
  }

  finishRubber(d) {
    const editor = this.editor;
    const box = boxFromCorners(d.origin, d.current, editor.size);
    if (editor.tool === "box") editor.create("box", box);
    else if (editor.tool === "ellipse") {
      editor.create("ellipse", {
        cx: box.x + box.width / 2, cy: box.y + box.height / 2,
        rx: box.width / 2, ry: box.height / 2, rotation: 0,
      });
    } else if (editor.tool === "cuboid") {
      editor.create("cuboid", cuboidFromFront(box, editor.size));
    }
  }

  cancelDrag() {
    this.drag = null;
    this.editor.live.clear();
    this.editor.activeHandle = null;
    this.editor.requestOverlay();
  }

  hover(event, p) {
    const editor = this.editor;
    let cursor = "";
    if (editor.tool === "mask" || this.drawing) {
      cursor = "crosshair";
    } else {
      const grabbed = this.handleUnder(p);
      if (grabbed) {
        const key = grabbed.handle.key.replace(/^[fb]:/, "");
        cursor = CURSORS[key] || (grabbed.handle.midpoint ? "copy" : "move");
      } else if (editor.tool === "select") {
        cursor = this.pick(p) ? "move" : "";
      } else {
        cursor = "crosshair";
      }
    }
    if (this.stage.element.style.cursor !== cursor) this.stage.element.style.cursor = cursor;
    if (editor.tool === "mask" || this.drawing) editor.requestOverlay();
  }

  // --- polygons, lines and keypoints: one click per point ---

  startPath(tool, event, p) {
    const editor = this.editor;
    if (tool === "keypoints") {
      const names = editor.keypointNames();
      if (!names.length) return;
      this.drawing = { kind: "keypoints", names, next: 0, placed: [] };
    } else {
      this.drawing = { kind: tool, points: [] };
    }
    this.addPoint(event, p);
  }

  addPoint(event, p) {
    const editor = this.editor;
    const drawing = this.drawing;
    p = clampPoint(p, editor.size);
    if (drawing.kind === "keypoints") {
      drawing.placed.push({ name: drawing.names[drawing.next], x: p.x, y: p.y, visible: !event.shiftKey });
      drawing.next += 1;
      if (drawing.next >= drawing.names.length) this.finish();
      else editor.setHint(`Place "${drawing.names[drawing.next]}" (Shift+click if hidden; N skips it; Enter finishes).`);
      editor.requestOverlay();
      return;
    }
    const points = drawing.points;
    const first = points[0];
    if (drawing.kind === "polygon" && points.length >= 3) {
      const d = Math.hypot(p.x - first.x, p.y - first.y) * this.stage.scale;
      if (d <= CLOSE_DISTANCE) {
        this.finish();
        return;
      }
    }
    // A double-click sends two clicks first; don't add the same point twice.
    const last = points[points.length - 1];
    if (last && Math.hypot(p.x - last.x, p.y - last.y) * this.stage.scale < 2) return;
    points.push(p);
    editor.requestOverlay();
  }

  skipKeypoint() {
    const drawing = this.drawing;
    if (drawing?.kind !== "keypoints") return false;
    drawing.next += 1;
    if (drawing.next >= drawing.names.length) this.finish();
    else this.editor.setHint(`Place "${drawing.names[drawing.next]}" (Shift+click if hidden; N skips it; Enter finishes).`);
    this.editor.requestOverlay();
    return true;
  }

  removeLastPoint() {
    const drawing = this.drawing;
    if (!drawing) return false;
    if (drawing.kind === "keypoints") {
      if (drawing.placed.pop()) drawing.next -= 1;
    } else {
      drawing.points.pop();
    }
    if (!(drawing.points || drawing.placed).length) this.drawing = null;
    this.editor.requestOverlay();
    return true;
  }

  // Enter or double-click: close the polygon, end the line or the keypoints.
  finish() {
    const drawing = this.drawing;
    if (!drawing) return false;
    this.drawing = null;
    const editor = this.editor;
    editor.setHint(null);
    if (drawing.kind === "keypoints") {
      if (drawing.placed.length) editor.create("keypoints", { points: drawing.placed });
    } else {
      const minimum = drawing.kind === "polygon" ? 3 : 2;
      if (drawing.points.length >= minimum) editor.create(drawing.kind, { vertices: drawing.points });
      else editor.toast(`A ${drawing.kind} needs at least ${minimum} points.`);
    }
    editor.requestOverlay();
    return true;
  }

  cancel() {
    if (this.drawing) {
      this.drawing = null;
      this.editor.setHint(null);
      this.editor.requestOverlay();
      return true;
    }
    if (this.drag) {
      this.cancelDrag();
      return true;
    }
    return false;
  }

  // What the overlay draws for the drawing in progress.
  preview() {
    const d = this.drag;
    if (d?.kind === "rubber" && d.current) {
      const box = boxFromCorners(d.origin, d.current);
      const tool = this.editor.tool;
      let shape = { type: "box", ...box };
      if (tool === "ellipse") {
        shape = { type: "ellipse", cx: box.x + box.width / 2, cy: box.y + box.height / 2, rx: box.width / 2, ry: box.height / 2, rotation: 0 };
      }
      return { kind: "shape", shape };
    }
    const drawing = this.drawing;
    if (!drawing) return null;
    if (drawing.kind === "keypoints") {
      return { kind: "points", keypoints: drawing.placed, skeleton: this.editor.skeletonOf({ label: this.editor.labelFor("keypoints") }) };
    }
    return {
      kind: "path",
      points: drawing.kind === "polygon" && drawing.points.length >= 3 ? [...drawing.points] : drawing.points,
      cursor: this.cursor ? clampPoint(this.cursor, this.editor.size) : null,
      closable: drawing.kind === "polygon" && drawing.points.length >= 3,
    };
  }

  // --- masks ---

  startPaint(event, p) {
    const editor = this.editor;
    const erase = editor.erasing || event.shiftKey;
    let target = editor.maskTarget();
    if (!target && erase) {
      editor.toast("Select a mask to erase from.");
      return;
    }
    const size = editor.maskSize();
    if (!size) {
      editor.toast("Masks need an image whose size is a whole number of pixels.");
      return;
    }
    let created = false;
    if (!target) {
      target = editor.newShape("mask", { mask: createMask(size.width, size.height) });
      if (!target) return;
      created = true;
    }
    const shape = { ...target, mask: copyMask(target.mask) };
    const d = { kind: "paint", screen: { x: event.clientX, y: event.clientY }, p, shape, created, erase, last: p };
    this.drag = d;
    this.paint(d, p, event);
    editor.live.set(shape.id, shape);
    if (created) editor.previewNew(shape);
    editor.requestOverlay();
  }

  paint(d, p, _event) {
    const editor = this.editor;
    const radius = editor.brushRadius;
    const dirty = paintStroke(d.shape.mask, d.last, p, radius, d.erase ? 0 : 1);
    d.last = p;
    if (dirty) maskCanvas(d.shape.mask, editor.colorOf(d.shape), dirty);
  }

  finishPaint(d) {
    const editor = this.editor;
    editor.live.clear();
    editor.previewNew(null);
    const empty = maskIsEmpty(d.shape.mask);
    if (d.created) {
      if (!empty) editor.commitNew(d.shape);
      else editor.select([]);
    } else if (empty) {
      editor.removeIds([d.shape.id]);
    } else {
      editor.commitShapes([d.shape]);
    }
  }
}

export function brushLimits(size) {
  return { min: 1, max: Math.max(2, Math.round(Math.max(size.width, size.height) / 4)) };
}

export function nextBrush(radius, grow, size) {
  const { min, max } = brushLimits(size);
  return clamp(Math.round(grow ? radius * 1.25 + 1 : radius / 1.25 - 1), min, max);
}
