// Brightness and contrast of the image or video frame being labeled: a CSS filter applied
// while the media is drawn on the canvas (the shapes keep their colours). The setting lasts
// for the browser session (sessionStorage), across tasks, and never reaches the server.

import { el } from "/static/js/api.js";

const STORE = "assay:image-adjust";
const NEUTRAL = { brightness: 100, contrast: 100 };
const RANGE = { min: 20, max: 300, step: 5 };

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
    const ok = (v) => Number.isFinite(v) && v >= RANGE.min && v <= RANGE.max;
    if (saved && ok(saved.brightness) && ok(saved.contrast)) return saved;
  } catch { /* storage disabled: start neutral */ }
  return { ...NEUTRAL };
}

export class ImageAdjust {
  // onChange(): the media must be redrawn.
  constructor(onChange) {
    this.values = load();
    this.onChange = onChange;
    this.inputs = {};
    const slider = (key, label) => {
      const input = el("input", { type: "range", ...RANGE, value: this.values[key], "aria-label": label,
        "aria-valuetext": `${this.values[key]}%`, oninput: () => this.set(key, Number(input.value)) });
      this.inputs[key] = input;
      return el("label", { class: "iw-adjust-control" }, label, " ", input);
    };
    this.resetButton = el("button", { type: "button", class: "secondary small", onclick: () => this.reset() }, "Reset image");
    this.element = el("div", { class: "iw-group iw-adjust", role: "group", "aria-label": "Image brightness and contrast" },
      slider("brightness", "Brightness"), slider("contrast", "Contrast"), this.resetButton);
    this.sync();
  }

  // The CSS filter for the media ("none" when neutral).
  get filter() {
    const { brightness, contrast } = this.values;
    return brightness === 100 && contrast === 100 ? "none" : `brightness(${brightness}%) contrast(${contrast}%)`;
  }

  set(key, value) {
    this.values = { ...this.values, [key]: value };
    try {
      sessionStorage.setItem(STORE, JSON.stringify(this.values));
    } catch { /* the setting just won't outlive the page */ }
    this.sync();
    this.onChange();
  }

  reset() {
    this.set("brightness", NEUTRAL.brightness);
    this.set("contrast", NEUTRAL.contrast);
  }

  sync() {
    for (const [key, input] of Object.entries(this.inputs)) {
      input.value = String(this.values[key]);
      input.setAttribute("aria-valuetext", `${this.values[key]}%`);
    }
    this.resetButton.setAttribute("aria-disabled", String(this.filter === "none"));
  }

  // Draw the media through the filter; `stage` (its element) publishes the filter for tests
  // and screenshots, as the stage publishes its view.
  draw(ctx, stage, drawMedia) {
    const before = ctx.filter;
    ctx.filter = this.filter;
    try {
      return drawMedia();
    } finally {
      ctx.filter = before;
      stage.element.dataset.filter = this.filter;
    }
  }
}
