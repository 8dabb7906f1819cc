// The video annotation workspace: a frame view with a scrubber, play/pause and frame
// stepping; tracked boxes drawn on keyframes and interpolated linearly in between; one label
// and one set of attributes per track; global attributes; undo/redo.
// Implements the workspace contract: mount(container, ctx) → {getResponse, focus, destroy}.

import { css, el, toast } from "/static/js/api.js";
import { attributeForm, digitIndex, effectiveValues, isTyping, labelColor } from "/static/js/label/common.js";
import { RELABEL_ROW, numberKeysRow } from "/static/js/label/number_keys.js";
import { ImageAdjust } from "/static/js/label/image/adjust.js";
import { History, globalDefs, labelsOf, setGlobal, shapeDefs } from "/static/js/label/image/doc.js";
import { drawPreview, drawSelected, drawShapes } from "/static/js/label/image/draw.js";
import { FrameSource } from "/static/js/label/image/frames.js";
import { boxFromCorners, clampMove, clampPoint, dragHandle, handleAt, hit, translate } from "/static/js/label/image/geometry.js";
import { showBroken } from "/static/js/label/image/broken.js";
import { Stage } from "/static/js/label/image/stage.js";
import { displayAt, keyAt, makeTrack, removeKey, setKey, shapeAt, span, trackAnnotations, tracksFrom } from "/static/js/label/image/tracks.js";

const TRACK_TYPES = ["box", "point"];
const CLICK_SLOP = 3;

export const SHORTCUTS = [
  [[",", "."], "Previous / next frame (Shift: 10 frames)"],
  [["Space"], "Play / pause"], [["Home", "End"], "First / last frame"],
  numberKeysRow("Pick the n-th label for the next track"), RELABEL_ROW,
  [["B"], "Draw a box track"], [["K"], "Point track"], [["V"], "Select and move"],
  [["F"], "Make this frame a keyframe of the selected track, or remove it"],
  [["Delete"], "Delete the selected track"], [["Esc"], "Clear the selection"],
  [["←", "↑", "→", "↓"], "Nudge the selected box on this frame"],
  [["Ctrl", "Z"], "Undo"], [["Ctrl", "Shift", "Z"], "Redo"],
];

export function mount(container, ctx) {
  css("/static/css/image.css");
  const editor = new VideoEditor(container, ctx);
  return {
    getResponse: () => editor.response(),
    getComments: () => [],
    focus: () => editor.stage.element.focus({ preventScroll: true }),
    destroy: () => editor.destroy(),
    shortcuts: SHORTCUTS,
  };
}

class VideoEditor {
  constructor(container, ctx) {
    this.ctx = ctx;
    this.taxonomy = ctx.project?.taxonomy || {};
    this.labels = labelsOf(this.taxonomy, ["box", "point", "polygon"]).filter((l) => l.geometries.some((g) => TRACK_TYPES.includes(g)));
    this.colors = new Map(this.labels.map((l) => [l.name, labelColor(this.taxonomy, l.name)]));
    this.label = this.labels[0]?.name || null;
    this.tool = "box";
    this.frame = 0;
    this.selected = null;
    this.hidden = new Set();
    this.live = null;
    this.drag = null;
    this.playing = null;
    const params = ctx.task?.params || {};
    const w = Number(params.image_width), h = Number(params.image_height);
    this.size = w > 0 && h > 0 ? { width: w, height: h } : null;
    const annotations = ctx.response?.annotations || (ctx.mode !== "review" ? ctx.prelabels?.annotations : null) || [];
    this.history = new History({
      tracks: tracksFrom(annotations),
      global: { ...(ctx.response?.global_attributes || {}) },
    });
    this.source = new FrameSource(params, {
      onReady: () => this.stage.invalidate(),
      onSize: (natural) => {
        if (!this.size) {
          this.size = natural;
          this.stage.setSize(natural.width, natural.height);
        }
      },
      onError: (message) => this.fail(message),
    });
    this.count = this.source.count;
    this.fps = this.source.fps || 10;
    this.stage = new Stage({
      label: "Video frame to annotate",
      draw: { base: (c, s) => this.drawBase(c, s), overlay: (c, s) => this.drawOverlay(c, s) },
      pointer: (kind, event, p) => this.pointer(kind, event, p),
    });
    this.adjust = new ImageAdjust(() => this.stage.invalidate());
    this.buildDom(container);
    if (this.size) this.stage.setSize(this.size.width, this.size.height);
    else this.stage.setSize(1280, 720);
    this.goTo(0);
    this.renderPanel();
  }

  get doc() {
    return this.history.doc;
  }

  // A frame or the video did not load: the task cannot be labeled (submit is blocked).
  fail(message) {
    if (this.broken || !this.root?.isConnected) return;
    this.broken = message;
    showBroken(this.stage.element, message, this.ctx);
  }

  response() {
    const size = this.size || { width: Infinity, height: Infinity };
    const annotations = trackAnnotations(this.doc.tracks, size,
      (track) => effectiveValues(shapeDefs(this.taxonomy, track.label), track.attributes));
    return { annotations, global_attributes: effectiveValues(globalDefs(this.taxonomy), this.doc.global), links: [] };
  }

  // --- DOM ---

  buildDom(container) {
    const button = (text, attrs, onclick) => el("button", { type: "button", ...attrs, onclick }, text);
    this.toolButtons = {
      select: button("Select", { class: "tool", "aria-keyshortcuts": "V" }, () => this.setTool("select")),
      box: button("Box", { class: "tool", "aria-keyshortcuts": "B" }, () => this.setTool("box")),
      point: button("Point", { class: "tool", "aria-keyshortcuts": "K" }, () => this.setTool("point")),
    };
    const allowed = new Set(this.labels.flatMap((l) => l.geometries));
    if (!allowed.has("point")) this.toolButtons.point.hidden = true;
    if (!allowed.has("box")) {
      this.toolButtons.box.hidden = true;
      this.tool = allowed.has("point") ? "point" : "select";
    }
    this.undoButton = button("Undo", { class: "secondary", "aria-keyshortcuts": "Control+Z" }, () => this.undo());
    this.redoButton = button("Redo", { class: "secondary", "aria-keyshortcuts": "Control+Shift+Z" }, () => this.redo());
    this.keyButton = button("Keyframe", { class: "secondary", "aria-keyshortcuts": "F" }, () => this.toggleKey());
    this.playButton = button("Play", { "aria-keyshortcuts": "Space" }, () => this.togglePlay());
    this.scrubber = el("input", { type: "range", min: 0, max: Math.max(0, this.count - 1), value: 0, step: 1,
      "aria-label": "Frame", oninput: (e) => this.goTo(Number(e.target.value)) });
    this.frameLabel = el("span", { class: "vw-frame", "aria-live": "off" });
    this.keyStrip = el("div", { class: "vw-keys", "aria-hidden": "true" });
    this.hint = el("p", { class: "iw-hint", "aria-live": "polite" },
      "Draw a box on a frame to start a track; move to another frame and adjust it to add a keyframe.");
    this.panel = el("aside", { class: "iw-panel", "aria-label": "Tracks" });
    this.root = el("div", { class: "video-ws" },
      el("div", { class: "iw-toolbar", role: "toolbar", "aria-label": "Video tools" },
        el("div", { class: "iw-group" }, Object.values(this.toolButtons), this.keyButton),
        el("div", { class: "iw-group" }, this.undoButton, this.redoButton,
          button("Zoom in", { class: "secondary" }, () => this.stage.zoomBy(1.25)),
          button("Zoom out", { class: "secondary" }, () => this.stage.zoomBy(0.8)),
          button("Fit", { class: "secondary" }, () => this.stage.fit())),
        this.adjust.element),
      el("div", { class: "iw-body" },
        el("div", { class: "iw-canvas" }, this.stage.element,
          el("div", { class: "vw-transport" },
            button("Previous frame", { class: "secondary", "aria-keyshortcuts": "," }, () => this.step(-1)),
            this.playButton,
            button("Next frame", { class: "secondary", "aria-keyshortcuts": "." }, () => this.step(1)),
            this.scrubber, this.frameLabel),
          this.keyStrip, this.hint),
        this.panel));
    this.onKeyDown = (event) => this.keyDown(event);
    this.root.addEventListener("keydown", this.onKeyDown);
    container.replaceChildren(this.root);
    this.updateTools();
  }

  updateTools() {
    for (const [tool, node] of Object.entries(this.toolButtons)) node.setAttribute("aria-pressed", String(this.tool === tool));
    this.undoButton.setAttribute("aria-disabled", String(!this.history.past.length));
    this.redoButton.setAttribute("aria-disabled", String(!this.history.future.length));
    const track = this.track(this.selected);
    this.keyButton.textContent = track && keyAt(track, this.frame) ? "Remove keyframe" : "Add keyframe";
    this.keyButton.setAttribute("aria-disabled", String(!track));
  }

  // --- frames ---

  goTo(frame) {
    frame = Math.max(0, Math.min(this.count - 1, Math.round(frame)));
    this.frame = frame;
    this.source.show(frame);
    this.scrubber.value = String(frame);
    this.frameLabel.textContent = `Frame ${frame + 1} / ${this.count}`;
    this.root.dataset.frame = String(frame);
    this.stage.invalidate();
    this.updateTools();
    this.renderKeyStrip();
    // Keyframe links mark the frame on screen; leave a form being typed in alone.
    if (this.selected && this.selectedBox && !this.selectedBox.contains(document.activeElement)) this.renderSelected();
  }

  step(delta) {
    this.stopPlay();
    this.goTo(this.frame + delta);
  }

  togglePlay() {
    if (this.playing) {
      this.stopPlay();
      return;
    }
    if (this.frame >= this.count - 1) this.goTo(0);
    this.playButton.textContent = "Pause";
    this.playing = setInterval(() => {
      if (this.frame >= this.count - 1) this.stopPlay();
      else this.goTo(this.frame + 1);
    }, 1000 / this.fps);
  }

  stopPlay() {
    if (!this.playing) return;
    clearInterval(this.playing);
    this.playing = null;
    this.playButton.textContent = "Play";
  }

  // --- tracks ---

  track(id) {
    return this.doc.tracks.find((t) => t.id === id) || null;
  }

  colorOf(track) {
    return this.colors.get(track.label) || "#9e9e9e";
  }

  labelFor(type) {
    const current = this.labels.find((l) => l.name === this.label);
    if (current?.geometries.includes(type)) return current.name;
    return this.labels.find((l) => l.geometries.includes(type))?.name || null;
  }

  commit(doc, { panel = true } = {}) {
    if (!this.history.commit(doc)) return;
    this.afterChange(panel);
  }

  afterChange(panel = true) {
    if (this.selected && !this.track(this.selected)) this.selected = null;
    this.stage.invalidate();
    this.updateTools();
    this.renderKeyStrip();
    if (panel) this.renderPanel();
    else this.renderTrackList();
    this.ctx.onChange?.();
  }

  replaceTrack(track, options) {
    this.commit({ ...this.doc, tracks: this.doc.tracks.map((t) => (t.id === track.id ? track : t)) }, options);
  }

  // Put the selected track's shape on this frame (making it a keyframe).
  keyHere(track, shape) {
    this.replaceTrack(setKey(track, this.frame, shape), { panel: false });
    this.renderSelected();
  }

  toggleKey() {
    const track = this.track(this.selected);
    if (!track) return;
    if (keyAt(track, this.frame)) {
      const rest = removeKey(track, this.frame);
      if (!rest) toast("A track needs at least one keyframe; delete the track instead.", "info");
      else this.replaceTrack(rest);
      return;
    }
    const shape = shapeAt(track, this.frame) || track.keys[track.keys.length - 1].shape;
    this.replaceTrack(setKey(track, this.frame, shape));
  }

  deleteTrack(id) {
    this.commit({ ...this.doc, tracks: this.doc.tracks.filter((t) => t.id !== id) });
  }

  undo() {
    if (this.history.undo()) this.afterChange();
  }

  redo() {
    if (this.history.redo()) this.afterChange();
  }

  select(id) {
    if (this.selected === id) return;
    this.selected = id;
    this.stage.invalidate();
    this.updateTools();
    this.renderKeyStrip();
    this.renderPanel();
  }

  setTool(tool) {
    if (this.toolButtons[tool]?.hidden) return;
    this.tool = tool;
    this.updateTools();
  }

  setLabel(name, relabel) {
    this.label = name;
    const track = this.track(this.selected);
    const info = this.labels.find((l) => l.name === name);
    if (relabel && track && track.label !== name && info?.geometries.includes(track.type)) {
      this.replaceTrack({ ...track, label: name, attributes: {} });
    } else {
      this.renderLabels();
    }
  }

  // --- pointer ---

  visibleAt(frame) {
    const out = [];
    for (const track of this.doc.tracks) {
      if (this.hidden.has(track.id)) continue;
      const shape = track.id === this.live?.id ? this.live.shape : displayAt(track, frame);
      if (shape) out.push({ track, shape: { ...shape, id: track.id, label: track.label } });
    }
    return out;
  }

  pick(p) {
    const tol = 6 / this.stage.scale;
    let best = null;
    for (const item of this.visibleAt(this.frame)) {
      if (!hit(item.shape, p, tol)) continue;
      if (item.track.id === this.selected) return item;
      const area = item.shape.type === "box" ? item.shape.width * item.shape.height : 0;
      if (!best || area <= best.area) best = { ...item, area };
    }
    return best;
  }

  pointer(kind, event, p) {
    const size = this.size || { width: 1, height: 1 };
    if (kind === "down") {
      this.stopPlay();
      const start = { screen: { x: event.clientX, y: event.clientY }, p };
      const track = this.track(this.selected);
      const shape = track && !this.hidden.has(track.id) && displayAt(track, this.frame);
      const handle = shape && handleAt(shape, p, 6 / this.stage.scale, this.stage.scale);
      if (handle && shape.type === "box") {
        this.drag = { kind: "handle", ...start, track, shape, key: handle.key };
        return;
      }
      const picked = this.pick(p);
      if (picked && (this.tool === "select" || !this.toolButtons[this.tool])) {
        this.select(picked.track.id);
        this.drag = { kind: "move", ...start, track: picked.track, shape: displayAt(picked.track, this.frame) };
      } else if (this.tool === "box") {
        this.drag = { kind: "rubber", ...start, origin: clampPoint(p, size), picked };
      } else if (this.tool === "point") {
        this.drag = { kind: "point", ...start, picked };
      } else {
        this.select(null);
        this.drag = { kind: "pan", ...start, last: start.screen };
      }
      return;
    }
    const d = this.drag;
    if (kind === "move" && d) {
      const moved = Math.hypot(event.clientX - d.screen.x, event.clientY - d.screen.y) > CLICK_SLOP;
      if (d.kind === "handle") this.live = { id: d.track.id, shape: dragHandle(d.shape, d.key, p, size) };
      else if (d.kind === "move" && (moved || this.live)) {
        const { dx, dy } = clampMove(d.shape, p.x - d.p.x, p.y - d.p.y, size);
        this.live = { id: d.track.id, shape: translate(d.shape, dx, dy) };
      } else if (d.kind === "rubber") d.current = clampPoint(p, size);
      else if (d.kind === "pan") {
        this.stage.panBy(event.clientX - d.last.x, event.clientY - d.last.y);
        d.last = { x: event.clientX, y: event.clientY };
      }
      this.stage.invalidate();
      return;
    }
    if ((kind === "up" || kind === "cancel") && d) {
      this.drag = null;
      const live = this.live;
      this.live = null;
      const moved = Math.hypot(event.clientX - d.screen.x, event.clientY - d.screen.y) > CLICK_SLOP;
      if (kind === "cancel") {
        this.stage.invalidate();
        return;
      }
      if ((d.kind === "handle" || d.kind === "move") && live) this.keyHere(this.track(d.track.id), live.shape);
      else if (d.kind === "rubber" && d.current && moved) this.newTrack("box", boxFromCorners(d.origin, d.current, size));
      else if ((d.kind === "rubber" || d.kind === "point") && !moved && d.picked) this.select(d.picked.track.id);
      else if (d.kind === "point" && !moved) this.newTrack("point", clampPoint(p, size));
      else if (d.kind === "rubber" && !moved) this.select(null);
      this.stage.invalidate();
    }
  }

  newTrack(type, geometry) {
    const label = this.labelFor(type);
    if (!label) {
      toast(`No label of this project allows a ${type} track.`, "info");
      return;
    }
    const track = makeTrack(type, label, this.frame, geometry);
    this.selected = track.id;
    this.commit({ ...this.doc, tracks: [...this.doc.tracks, track] });
  }

  nudge(dx, dy) {
    const track = this.track(this.selected);
    const shape = track && displayAt(track, this.frame);
    if (!shape) return false;
    ({ dx, dy } = clampMove(shape, dx, dy, this.size));
    this.keyHere(track, translate(shape, dx, dy));
    return true;
  }

  // --- drawing ---

  drawBase(ctx, stage) {
    const size = this.size || { width: 1280, height: 720 };
    ctx.imageSmoothingEnabled = stage.scale < 3;
    if (!this.adjust.draw(ctx, stage, () => this.source.draw(ctx, size))) {
      ctx.fillStyle = "#2a2f3a";
      ctx.fillRect(0, 0, size.width, size.height);
    }
    const items = this.visibleAt(this.frame).filter((i) => i.track.id !== this.selected);
    const colorOf = (s) => this.colors.get(s.label) || "#9e9e9e";
    const kind = (i) => (i.shape.ghost ? "ghost" : i.shape.keyframe === false ? "between" : "key");
    const of = (k) => items.filter((i) => kind(i) === k).map((i) => i.shape);
    drawShapes(ctx, of("key"), { scale: stage.scale, colorOf, width: 2 });
    drawShapes(ctx, of("between"), { scale: stage.scale, colorOf, width: 1 });
    drawShapes(ctx, of("ghost"), { scale: stage.scale, colorOf, width: 1, dash: true, names: false });
  }

  drawOverlay(ctx, stage) {
    const track = this.track(this.selected);
    if (track && !this.hidden.has(track.id)) {
      const shape = this.live?.id === track.id ? this.live.shape : displayAt(track, this.frame);
      if (shape) {
        drawSelected(ctx, { ...shape, label: track.label }, {
          scale: stage.scale, color: this.colorOf(track), withHandles: shape.type === "box",
        });
      }
    }
    const d = this.drag;
    if (d?.kind === "rubber" && d.current) {
      drawPreview(ctx, { kind: "shape", shape: { type: "box", ...boxFromCorners(d.origin, d.current) } },
        stage.scale, this.colors.get(this.labelFor("box")) || "#fff");
    }
  }

  renderKeyStrip() {
    const track = this.track(this.selected);
    const marks = (track?.keys || []).map((k) => el("span", {
      style: `left:calc(${(k.frame / Math.max(1, this.count - 1)) * 100}% - 1px)`,
    }));
    this.keyStrip.replaceChildren(...marks);
  }

  // --- panel ---

  renderPanel() {
    this.labelsBox = el("section", { class: "iw-section" });
    this.selectedBox = el("section", { class: "iw-section", "aria-label": "Selected track" });
    this.globalBox = el("section", { class: "iw-section", "aria-label": "Video attributes" });
    this.listBox = el("section", { class: "iw-section", "aria-label": "Track list" });
    this.panel.replaceChildren(this.labelsBox, this.selectedBox, this.globalBox, this.listBox);
    this.renderLabels();
    this.renderSelected();
    const defs = globalDefs(this.taxonomy);
    const form = defs.length && attributeForm(defs, this.doc.global, (values) => {
      this.commit(setGlobal(this.doc, values), { panel: false });
    }, { legend: "Video attributes" });
    this.globalBox.hidden = !defs.length;
    if (form) this.globalBox.replaceChildren(form.element);
    this.renderTrackList();
  }

  renderLabels() {
    const buttons = this.labels.map((label, i) => el("button", {
      type: "button", class: "iw-label", "aria-pressed": String(label.name === this.label),
      "aria-keyshortcuts": i < 9 ? String(i + 1) : undefined, onclick: () => this.setLabel(label.name, false),
    }, el("span", { class: "swatch", style: `background:${this.colors.get(label.name)}`, "aria-hidden": "true" }),
    i < 9 ? el("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label.name));
    this.labelsBox.replaceChildren(el("h3", {}, "Labels"), el("div", { class: "iw-label-list", role: "group", "aria-label": "Labels" }, buttons));
  }

  renderSelected() {
    const track = this.track(this.selected);
    if (!track) {
      this.selectedBox.replaceChildren(el("h3", {}, "Selection"),
        el("p", { class: "muted" }, "No track selected. Draw a box to start one, or click one."));
      return;
    }
    const n = this.doc.tracks.indexOf(track) + 1;
    const allowed = this.labels.filter((l) => l.geometries.includes(track.type));
    const select = el("select", { id: "vw-track-label", onchange: (e) => this.setLabel(e.target.value, true) },
      allowed.map((l) => el("option", { value: l.name, selected: l.name === track.label }, l.name)));
    const form = attributeForm(shapeDefs(this.taxonomy, track.label), track.attributes, (values) => {
      this.replaceTrack({ ...this.track(track.id), attributes: values }, { panel: false });
    }, { legend: "Track attributes" });
    const keys = track.keys.map((k) => el("button", { type: "button", class: "link",
      "aria-current": k.frame === this.frame ? "true" : undefined, onclick: () => this.goTo(k.frame) }, String(k.frame + 1)));
    const { first, last } = span(track);
    this.selectedBox.replaceChildren(
      el("h3", {}, `Track ${n}: ${track.label} ${track.type}`),
      el("label", { class: "attr", for: "vw-track-label" }, el("span", { class: "attr-name" }, "Label"), select),
      form.element || "",
      el("p", { class: "vw-track-frames" }, `Frames ${first + 1}–${last + 1}; keyframes: `, keys),
      el("div", { class: "iw-actions" },
        el("button", { type: "button", class: "danger small", onclick: () => this.deleteTrack(track.id) }, "Delete track")));
  }

  renderTrackList() {
    const rows = this.doc.tracks.map((track, i) => {
      const { first, last } = span(track);
      const name = `${track.label} ${track.type} track ${i + 1}`;
      const hidden = this.hidden.has(track.id);
      return el("li", { class: `iw-row${track.id === this.selected ? " selected" : ""}` },
        el("span", { class: "swatch", style: `background:${this.colorOf(track)}`, "aria-hidden": "true" }),
        el("button", { type: "button", class: "iw-name", "aria-pressed": String(track.id === this.selected),
          onclick: () => {
            this.select(track.id);
            if (this.frame < first || this.frame > last) this.goTo(first);
          } }, `${name} (${first + 1}–${last + 1})`),
        el("button", { type: "button", class: "link", "aria-label": `Hide ${name}`, "aria-pressed": String(hidden),
          onclick: () => {
            if (hidden) this.hidden.delete(track.id); else this.hidden.add(track.id);
            this.stage.invalidate();
            this.renderTrackList();
          } }, hidden ? "Show" : "Hide"),
        el("button", { type: "button", class: "link danger", "aria-label": `Delete ${name}`,
          onclick: () => this.deleteTrack(track.id) }, "Delete"));
    });
    this.listBox.replaceChildren(el("h3", {}, `Tracks (${this.doc.tracks.length})`),
      el("ol", { class: "iw-shapes", "aria-label": "Tracks" }, rows));
  }

  // --- keyboard ---

  keyDown(event) {
    const key = event.key;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && /^[zZyY]$/.test(key) && !isTyping(event)) {
      event.preventDefault();
      if (key === "y" || key === "Y" || event.shiftKey) this.redo();
      else this.undo();
      return;
    }
    if (mod || event.altKey || isTyping(event) || event.defaultPrevented) return;
    const onButton = event.target instanceof Element && event.target.closest("button, a, summary, input, select");
    if (this.handleKey(event, key, onButton)) event.preventDefault();
  }

  handleKey(event, key, onButton) {
    const digit = digitIndex(event);
    if (digit >= 0) {
      if (this.labels[digit]) this.setLabel(this.labels[digit].name, event.shiftKey);
      return true;
    }
    const lower = key.length === 1 ? key.toLowerCase() : key;
    if (key === "," || key === "<") this.step(key === "<" || event.shiftKey ? -10 : -1);
    else if (key === "." || key === ">") this.step(key === ">" || event.shiftKey ? 10 : 1);
    else if (key === "Home") this.step(-this.count);
    else if (key === "End") this.step(this.count);
    else if (key === " " && !onButton) this.togglePlay();
    else if (lower === "b") this.setTool("box");
    else if (lower === "k") this.setTool("point");
    else if (lower === "v") this.setTool("select");
    else if (lower === "f") this.toggleKey();
    else if ((key === "Delete" || key === "Backspace") && this.selected) this.deleteTrack(this.selected);
    else if (key === "Escape" && this.selected) this.select(null);
    else if (key === "+" || key === "=") this.stage.zoomBy(1.25);
    else if (key === "-") this.stage.zoomBy(0.8);
    else if (key === "0") this.stage.fit();
    else if (key.startsWith("Arrow") && !onButton) {
      const step = event.shiftKey ? 10 : 1;
      const dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
      const dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
      if (!this.nudge(dx, dy)) this.stage.panBy(-dx * 10, -dy * 10);
    } else return false;
    return true;
  }

  destroy() {
    this.stopPlay();
    this.stage.destroy();
    this.root.removeEventListener("keydown", this.onKeyDown);
    this.root.remove();
  }
}
