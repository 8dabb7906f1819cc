// The drawing surface shared by the image and video workspaces: two stacked canvases, a
// view transform (zoom and pan) and a requestAnimationFrame render loop.
//
// The base canvas holds the media and every shape that is not being edited; it is redrawn
// only when something in it changes. The overlay holds the selection, handles and the shape
// being drawn, and is redrawn each frame something moves, so dragging one handle among
// 1,000 boxes repaints one shape.

import { el } from "/static/js/api.js";

const MIN_SCALE = 0.02;
const MAX_SCALE = 64;

export class Stage {
  // draw: {base(ctx, stage), overlay(ctx, stage)}; pointer(kind, event, point) gets
  // "down" | "move" | "up" | "cancel" | "dblclick" | "hover" with image coordinates.
  constructor({ label, draw, pointer }) {
    this.draw = draw;
    this.pointer = pointer;
    this.size = { width: 1, height: 1 };
    this.view = { scale: 1, tx: 0, ty: 0 };
    this.dpr = window.devicePixelRatio || 1;
    this.baseDirty = true;
    this.frame = 0;
    this.fitted = false;
    this.userView = false; // zoomed or panned by hand: a resize keeps the view
    this.spaceHeld = false;
    this.pan = null;
    this.base = el("canvas", { class: "iw-stage-base", "aria-hidden": "true" });
    this.overlay = el("canvas", { class: "iw-stage-overlay", "aria-hidden": "true" });
    this.element = el("div", {
      class: "iw-stage", tabindex: "0", role: "application", "aria-label": label,
      "aria-roledescription": "annotation canvas",
    }, this.base, this.overlay);
    this.baseCtx = this.base.getContext("2d");
    this.overlayCtx = this.overlay.getContext("2d");
    this.listen();
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.element);
  }

  get scale() {
    return this.view.scale;
  }

  listen() {
    const target = this.element;
    target.addEventListener("wheel", (event) => {
      event.preventDefault();
      const rect = target.getBoundingClientRect();
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
      this.zoomAt(factor, event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
    target.addEventListener("pointerdown", (event) => {
      target.focus({ preventScroll: true });
      if (event.button === 1 || (event.button === 0 && this.spaceHeld)) {
        event.preventDefault();
        this.startPan(event);
        return;
      }
      if (event.button !== 0) return;
      target.setPointerCapture(event.pointerId);
      this.pointer("down", event, this.toImage(event));
    });
    target.addEventListener("pointermove", (event) => {
      if (this.pan) {
        this.movePan(event);
        return;
      }
      this.pointer(event.buttons & 1 ? "move" : "hover", event, this.toImage(event));
    });
    const end = (kind) => (event) => {
      if (this.pan) {
        this.pan = null;
        target.classList.remove("panning");
        return;
      }
      if (target.hasPointerCapture(event.pointerId)) target.releasePointerCapture(event.pointerId);
      this.pointer(kind, event, this.toImage(event));
    };
    target.addEventListener("pointerup", end("up"));
    target.addEventListener("pointercancel", end("cancel"));
    target.addEventListener("dblclick", (event) => this.pointer("dblclick", event, this.toImage(event)));
    target.addEventListener("auxclick", (event) => event.button === 1 && event.preventDefault());
    target.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  startPan(event) {
    this.pan = { x: event.clientX, y: event.clientY, tx: this.view.tx, ty: this.view.ty };
    this.element.setPointerCapture(event.pointerId);
    this.element.classList.add("panning");
  }

  movePan(event) {
    this.view.tx = this.pan.tx + event.clientX - this.pan.x;
    this.view.ty = this.pan.ty + event.clientY - this.pan.y;
    this.userView = true;
    this.invalidate();
  }

  // Space held: the next drag pans. Called by the workspace's key handler.
  setSpace(held) {
    this.spaceHeld = held;
    this.element.classList.toggle("pan-ready", held);
  }

  toImage(event) {
    const rect = this.element.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left - this.view.tx) / this.view.scale,
      y: (event.clientY - rect.top - this.view.ty) / this.view.scale,
    };
  }

  toScreen(p) {
    return { x: p.x * this.view.scale + this.view.tx, y: p.y * this.view.scale + this.view.ty };
  }

  setSize(width, height) {
    const changed = width !== this.size.width || height !== this.size.height;
    this.size = { width, height };
    if (changed || !this.fitted) this.fit();
  }

  fit() {
    const w = this.element.clientWidth, h = this.element.clientHeight;
    if (!w || !h) return;
    const scale = Math.min(w / this.size.width, h / this.size.height) * 0.96;
    this.view = {
      scale,
      tx: (w - this.size.width * scale) / 2,
      ty: (h - this.size.height * scale) / 2,
    };
    this.fitted = true;
    this.userView = false;
    this.invalidate();
  }

  zoomAt(factor, sx, sy) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.view.scale * factor));
    const k = scale / this.view.scale;
    this.view = { scale, tx: sx - (sx - this.view.tx) * k, ty: sy - (sy - this.view.ty) * k };
    this.userView = true;
    this.invalidate();
  }

  zoomBy(factor) {
    this.zoomAt(factor, this.element.clientWidth / 2, this.element.clientHeight / 2);
  }

  panBy(dx, dy) {
    this.view.tx += dx;
    this.view.ty += dy;
    this.userView = true;
    this.invalidate();
  }

  resize() {
    const w = this.element.clientWidth, h = this.element.clientHeight;
    this.dpr = window.devicePixelRatio || 1;
    for (const canvas of [this.base, this.overlay]) {
      canvas.width = Math.max(1, Math.round(w * this.dpr));
      canvas.height = Math.max(1, Math.round(h * this.dpr));
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    if (!this.userView) this.fit();
    this.invalidate();
  }

  // Redraw everything on the next frame (the view or the shapes in the base changed).
  invalidate() {
    this.baseDirty = true;
    this.request();
  }

  // Redraw the overlay on the next frame.
  request() {
    if (this.frame || this.destroyed) return;
    this.frame = requestAnimationFrame(() => this.render());
  }

  imageTransform(ctx) {
    const { scale, tx, ty } = this.view;
    const d = this.dpr;
    ctx.setTransform(d * scale, 0, 0, d * scale, d * tx, d * ty);
  }

  render() {
    this.frame = 0;
    const started = performance.now();
    if (this.baseDirty) {
      this.baseDirty = false;
      const ctx = this.baseCtx;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.base.width, this.base.height);
      this.imageTransform(ctx);
      this.draw.base(ctx, this);
      // The view for tests and tools that map image pixels to the screen: "scale tx ty".
      this.element.dataset.view = `${this.view.scale} ${this.view.tx} ${this.view.ty}`;
    }
    const ctx = this.overlayCtx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    this.imageTransform(ctx);
    this.draw.overlay(ctx, this);
    // Benchmarks (bench/ui_image.py) read render times from here when they ask for them.
    globalThis.__assayRenderTimes?.push(performance.now() - started);
  }

  destroy() {
    this.destroyed = true;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.resizer.disconnect();
  }
}
