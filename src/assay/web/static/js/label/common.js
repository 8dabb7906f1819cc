// What the labeling runner and the workspaces share: ids, label colours, attribute forms,
// media rendering, text offsets, small dialogs and keyboard helpers.
// All task, label and comment text goes in through el() (text nodes), never innerHTML.

import { ApiError, el } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";

// Label colours live in one module for the whole UI (js/palette.js).
export { PALETTE, labelColor } from "/static/js/palette.js";

// A 32-hex-digit annotation id (what the server generates too).
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The attributes that apply to an annotation of `label`: every annotation's, then the label's.
export function attributeDefs(taxonomy, labelName) {
  const label = (taxonomy?.labels || []).find((l) => l.name === labelName);
  return [...(taxonomy?.attributes || []), ...(label?.attributes || [])];
}

function conditionHolds(def, values) {
  const condition = def.condition;
  if (!condition) return true;
  const current = values[condition.attribute];
  if (current === undefined || current === null) return false;
  const wanted = condition.in || condition.values || [];
  return Array.isArray(current) ? current.some((v) => wanted.includes(v)) : wanted.includes(current);
}

// Values with defaults applied and the attributes whose condition fails left out.
export function effectiveValues(defs, values) {
  const out = {};
  for (const def of defs) {
    if (!conditionHolds(def, out)) continue;
    let value = values?.[def.name];
    if ((value === undefined || value === null) && def.default !== undefined && def.default !== null) {
      value = def.default;
    }
    if (value === undefined || value === null || value === "") continue;
    out[def.name] = value;
  }
  return out;
}

function emptyValue(value) {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length);
}

function firstMissing(defs, values, path) {
  const seen = {};
  for (const def of defs || []) {
    if (!conditionHolds(def, seen)) continue;
    const value = values?.[def.name] ?? def.default;
    if (!emptyValue(value)) seen[def.name] = value;
    else if (def.required) return `${path}.${def.name}`;
  }
  return null;
}

// The field path of the first required attribute a response leaves empty, as the server
// would name it, or null. Checked in the browser so a labeler is told before any request.
export function missingRequired(taxonomy, response) {
  const global = firstMissing(taxonomy?.global_attributes, response?.global_attributes,
    "response.global_attributes");
  if (global) return global;
  const annotations = response?.annotations || [];
  for (let i = 0; i < annotations.length; i++) {
    const { label, attributes } = annotations[i];
    const missing = firstMissing(attributeDefs(taxonomy, label), attributes,
      `response.annotations[${i}].attributes`);
    if (missing) return missing;
  }
  return null;
}

let formCount = 0;

// A form for attribute values: choice (select), multi_choice (checkboxes), number, text,
// linear_scale (radios). Conditional attributes appear when their condition holds.
// Returns {element, values()}; onChange(values) after each edit.
export function attributeForm(defs, initial, onChange, { legend = "Attributes", readOnly = false } = {}) {
  const values = { ...(initial || {}) };
  const prefix = `attr${++formCount}`;
  const element = el("fieldset", { class: "attributes" });
  if (!defs.length) return { element: null, values: () => ({}) };

  const changed = () => {
    render();
    onChange?.(effectiveValues(defs, values));
  };

  function control(def, id) {
    const current = values[def.name] ?? def.default ?? null;
    if (def.type === "choice") {
      const select = el("select", { id, disabled: readOnly, onchange: (e) => {
        values[def.name] = e.target.value || null;
        changed();
      } }, el("option", { value: "" }, "—"));
      for (const choice of def.choices) {
        select.append(el("option", { value: choice, selected: current === choice }, choice));
      }
      return select;
    }
    if (def.type === "multi_choice") {
      const chosen = new Set(Array.isArray(current) ? current : []);
      return el("div", { class: "choices", role: "group", "aria-labelledby": `${id}-name` },
        def.choices.map((choice) => el("label", { class: "inline" },
          el("input", { type: "checkbox", checked: chosen.has(choice), disabled: readOnly,
            onchange: (e) => {
              if (e.target.checked) chosen.add(choice); else chosen.delete(choice);
              values[def.name] = def.choices.filter((c) => chosen.has(c));
              changed();
            } }), ` ${choice}`)));
    }
    if (def.type === "linear_scale") {
      const group = el("div", { class: "scale", role: "radiogroup", "aria-labelledby": `${id}-name` });
      for (let v = def.min; v <= def.max; v++) {
        group.append(el("label", { class: "inline" }, el("input", {
          type: "radio", name: id, value: v, checked: current === v, disabled: readOnly,
          onchange: () => { values[def.name] = v; changed(); },
        }), ` ${v}`));
      }
      return group;
    }
    const numeric = def.type === "number";
    const input = el("input", {
      id, type: numeric ? "number" : "text", value: current ?? "", disabled: readOnly,
      min: def.min, max: def.max, step: def.step ?? (numeric ? "any" : undefined),
    });
    // "change", not "input": re-rendering on each keystroke would drop the focus.
    input.addEventListener("change", () => {
      const raw = input.value.trim();
      values[def.name] = raw === "" ? null : numeric ? Number(raw) : input.value;
      changed();
    });
    return input;
  }

  function render() {
    const focused = document.activeElement && element.contains(document.activeElement)
      ? document.activeElement.id || document.activeElement.name : null;
    element.replaceChildren(el("legend", {}, legend));
    defs.forEach((def, i) => {
      if (!conditionHolds(def, effectiveValues(defs.slice(0, i), values))) return;
      const id = `${prefix}-${i}`;
      const grouped = def.type === "multi_choice" || def.type === "linear_scale";
      const name = el("span", { class: "attr-name", id: `${id}-name` }, def.name,
        def.required ? el("span", { class: "required", "aria-hidden": "true" }, " *") : null);
      // data-attribute: how a refused submit finds the control to focus (runner.js).
      const row = grouped
        ? el("div", { class: "attr", "data-attribute": def.name }, name, control(def, id))
        : el("label", { class: "attr", for: id, "data-attribute": def.name }, name, control(def, id));
      if (def.description) row.append(el("small", { class: "muted" }, def.description));
      element.append(row);
    });
    if (focused) (element.querySelector(`[id="${focused}"]`) || element.querySelector(`[name="${focused}"]`))?.focus();
  }

  render();
  return { element, values: () => effectiveValues(defs, values) };
}

// --- text offsets: the server counts code points (Python), the DOM counts UTF-16 units ---

export function offsetMaps(text) {
  const toUnit = [0];
  const toPoint = new Int32Array(text.length + 1);
  let unit = 0;
  let point = 0;
  for (const char of text) {
    toPoint[unit] = point;
    if (char.length === 2) toPoint[unit + 1] = point; // inside a surrogate pair: round down
    unit += char.length;
    point += 1;
    toUnit.push(unit);
  }
  toPoint[unit] = point;
  return { toUnit: (p) => toUnit[p], toPoint: (u) => toPoint[u] };
}

// --- media ---

const IMAGE_EXT = /\.(png|jpe?g|gif|webp|bmp|svg|avif|tiff?)(\?|#|$)/i;
const AUDIO_EXT = /\.(mp3|wav|ogg|oga|flac|m4a|aac)(\?|#|$)/i;
const VIDEO_EXT = /\.(mp4|webm|mov|m4v|ogv)(\?|#|$)/i;
const DOC_EXT = /\.(pdf|txt|html?)(\?|#|$)/i;

export function mediaKind(params) {
  const declared = String(params?.attachment_type || "").toLowerCase();
  const url = params?.attachment;
  if (!url) return params?.text != null ? "text" : null;
  if (["image", "audio", "video", "text"].includes(declared)) return declared;
  if (declared === "pdf" || declared === "document" || declared === "website") return "document";
  if (AUDIO_EXT.test(url)) return "audio";
  if (VIDEO_EXT.test(url)) return "video";
  if (DOC_EXT.test(url)) return "document";
  return "image"; // signed /media/ URLs carry no extension; images are by far the common case
}

// Image URLs a task will show, for preloading the next task before it is swapped in.
export function imageUrls(params) {
  if (!params) return [];
  const urls = [];
  if (params.attachment && mediaKind(params) === "image") urls.push(params.attachment);
  for (const item of params.attachments || []) {
    const url = typeof item === "string" ? item : item?.url;
    if (typeof url === "string" && IMAGE_EXT.test(url)) urls.push(url);
  }
  return urls;
}

// The thing being labeled: an image, audio, video, document or inline text.
export function renderMedia(params, { alt = "Task attachment" } = {}) {
  const kind = mediaKind(params);
  const url = params?.attachment;
  const box = el("div", { class: `media media-${kind || "none"}` });
  if (kind === "text") {
    box.append(el("div", { class: "task-text", tabindex: "0", "aria-label": "Task text" },
      String(params.text)));
  } else if (kind === "image") {
    const img = el("img", { src: url, alt, decoding: "async" });
    img.addEventListener("error", () => img.replaceWith(documentFrame(url)));
    box.append(img);
  } else if (kind === "audio") {
    box.append(el("audio", { src: url, controls: true, preload: "auto" }));
  } else if (kind === "video") {
    box.append(el("video", { src: url, controls: true, preload: "auto" }));
  } else if (kind === "document") {
    box.append(documentFrame(url));
  }
  if (kind && kind !== "text" && params?.text != null) {
    box.append(el("div", { class: "task-text" }, String(params.text)));
  }
  return box;
}

function documentFrame(url) {
  // An empty sandbox: the document cannot run scripts or reach this page.
  return el("div", { class: "document" },
    el("iframe", { src: url, sandbox: "", title: "Task document", loading: "lazy" }),
    el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "Open the attachment"));
}

// --- keyboard ---

// Whether a key event belongs to a text field (workspace shortcuts must leave it alone).
export function isTyping(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
  if (target.tagName !== "INPUT") return false;
  return !["checkbox", "radio", "button", "submit", "range"].includes(target.type);
}

export function dialogOpen() {
  return Boolean(document.querySelector("dialog[open]"));
}

// A plain key for a workspace shortcut: no Ctrl/Meta/Alt, not typing, no dialog open.
export function plainKey(event) {
  return !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event) && !dialogOpen()
    && !event.defaultPrevented;
}

// 1–9 → 0–8, otherwise -1.
export function digitIndex(event) {
  const match = /^Digit([1-9])$/.exec(event.code) || /^Numpad([1-9])$/.exec(event.code);
  if (match) return Number(match[1]) - 1;
  return /^[1-9]$/.test(event.key) ? Number(event.key) - 1 : -1;
}

// --- dialogs ---

// A modal asking for a line of text; resolves to the text, or null when cancelled.
export function askText({ title, label, submit = "Save", required = true, multiline = true, extra = null }) {
  return new Promise((resolve) => {
    const field = multiline ? el("textarea", { rows: "3", required }) : el("input", { required });
    const error = el("p", { class: "error", role: "alert", hidden: true });
    const form = el("form", { method: "dialog" },
      el("h2", {}, title),
      extra,
      el("label", {}, label, field),
      error,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", value: "cancel",
          onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit" }, submit)));
    const dialog = el("dialog", { class: "ask" }, form);
    let done = false;
    const close = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = field.value.trim();
      if (required && !value) {
        error.textContent = "Please write something.";
        error.hidden = false;
        return;
      }
      close(value);
    });
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey || !multiline)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); close(null); });
    document.body.append(dialog);
    dialog.showModal();
    field.focus();
  });
}

// --- review comments ---

// Comments of a rejection pinned to one annotation (by id).
export function commentsFor(comments, annotationId) {
  return (comments || []).filter((c) => c.annotation_id && c.annotation_id === annotationId);
}

// A small note with the comments pinned to an annotation, or null.
export function pinnedNote(comments, annotationId) {
  const mine = commentsFor(comments, annotationId);
  if (!mine.length) return null;
  return el("div", { class: "pinned-comment", role: "note" },
    mine.map((c) => el("p", {}, el("span", { "aria-hidden": "true" }, "💬 "), c.text)));
}

// Review mode: comments the reviewer pins to annotations, kept by the workspace.
export class PinnedComments {
  constructor(onChange) {
    this.items = [];
    this.onChange = onChange;
  }

  async add(annotationId, what, extra = {}) {
    const text = await askText({ title: "Comment", label: `Comment on ${what}`, submit: "Add comment" });
    if (!text) return;
    this.items.push({ text, annotation_id: annotationId, ...extra });
    this.onChange?.();
  }

  remove(index) {
    this.items.splice(index, 1);
    this.onChange?.();
  }

  for(annotationId) {
    return this.items.filter((c) => c.annotation_id === annotationId);
  }

  list() {
    return this.items.map((c) => ({ ...c }));
  }
}

// A modal table of keyboard shortcuts: rows of [keys[], what they do].
export function showShortcuts(rows, onClose) {
  const close = el("button", { type: "button", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "shortcuts", "aria-label": "Keyboard shortcuts" },
    el("h2", {}, "Keyboard shortcuts"),
    el("table", {}, el("tbody", {}, rows.map(([keys, what]) => el("tr", {},
      el("th", { scope: "row" }, keys.map((k) => el("kbd", {}, k))), el("td", {}, what))))),
    el("div", { class: "actions" }, close));
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClose?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

// --- the runner's plumbing: preloading, error kinds, local draft copies ---

const PRELOAD_CAP_MS = 1500; // a slow image must not hold the next task back longer
const LOCAL_PREFIX = "assay:draft:";
const LOCAL_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

// Fetch and decode the images of the next task before it is swapped in (capped).
export function preloadImages(urls) {
  if (!urls.length) return Promise.resolve();
  const loads = urls.map((url) => new Promise((resolve) => {
    const image = new Image();
    image.decoding = "async";
    image.src = url;
    image.decode().then(resolve, resolve);
  }));
  return Promise.race([Promise.all(loads), new Promise((r) => setTimeout(r, PRELOAD_CAP_MS))]);
}

// Network failures and 5xx are worth retrying; 4xx are answers.
export function offline(error) {
  return !(error instanceof ApiError) || error.status >= 500;
}

// An error in words for the person labeling (no JSON paths, no API routes): errors.js.
export function describe(error, context = {}) {
  return humanMessage(error, context);
}

// Local copies of drafts, keyed by task and lease token, for reloads and lost connections.
export const local = {
  key: (lease) => `${LOCAL_PREFIX}${lease.task.id}:${lease.lease_token}`,
  read(lease) {
    try {
      return JSON.parse(localStorage.getItem(this.key(lease)) || "null");
    } catch {
      return null;
    }
  },
  write(lease, response) {
    try {
      localStorage.setItem(this.key(lease), JSON.stringify({ response, at: Date.now() }));
    } catch {
      // storage full or disabled: the server copy still works
    }
  },
  clear(lease) {
    try { localStorage.removeItem(this.key(lease)); } catch { /* nothing to clear */ }
  },
  prune() {
    try {
      for (const key of Object.keys(localStorage)) {
        if (!key.startsWith(LOCAL_PREFIX)) continue;
        const at = JSON.parse(localStorage.getItem(key) || "{}").at || 0;
        if (Date.now() - at > LOCAL_MAX_AGE_MS) localStorage.removeItem(key);
      }
    } catch { /* best effort */ }
  },
};
