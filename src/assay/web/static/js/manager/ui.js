// Small building blocks the manager pages share: progress bars, badges, dialogs, field
// errors, paginated fetches. All text goes through el() (textContent), never innerHTML.

import { ApiError, api, el } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";

export const TASK_TYPES = [
  ["image", "Image annotation"],
  ["video", "Video annotation"],
  ["categorization", "Categorization"],
  ["text_spans", "Text spans / NER"],
  ["transcription", "Transcription"],
  ["text_collection", "Text collection"],
  ["llm_rating", "LLM rating (rubric)"],
  ["llm_ranking", "LLM ranking"],
  ["llm_comparison", "LLM pairwise comparison"],
  ["rubric_grading", "Rubric grading (met / not met)"],
];
export const typeName = (type) => TASK_TYPES.find(([t]) => t === type)?.[1] || type;

export const BATCH_KINDS = [
  ["self_label", "Self-label"],
  ["calibration", "Calibration"],
  ["production", "Production"],
];
export const kindName = (kind) => BATCH_KINDS.find(([k]) => k === kind)?.[1] || kind;

// Every item of a paginated list endpoint (stops after `max` items).
export async function fetchAll(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export function formatDate(value) {
  if (!value) return "—";
  const date = new Date(value);
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function badge(text, kind = "") {
  return el("span", { class: `badge ${kind}` }, text);
}

// A stacked progress bar of task counts by status: done (completed), pending, failed.
export function progressBar(counts, { label = "Progress" } = {}) {
  const completed = counts.completed || 0;
  const pending = counts.pending || 0;
  const error = counts.error || 0;
  const canceled = counts.canceled || 0;
  const total = completed + pending + error + canceled;
  const done = completed + canceled;
  const pct = (n) => (total ? (100 * n) / total : 0);
  const percent = Math.round(pct(done));
  const bar = el("div", {
    class: "progress",
    role: "progressbar",
    "aria-label": label,
    "aria-valuemin": 0,
    "aria-valuemax": total || 1,
    "aria-valuenow": done,
    "aria-valuetext": `${completed} of ${total} completed`,
  },
  segment("completed", pct(completed)), segment("canceled", pct(canceled)),
  segment("error", pct(error)));
  const legend = el("div", { class: "progress-legend muted" },
    el("span", {}, `${completed} / ${total} completed`),
    pending ? el("span", {}, `${pending} pending`) : null,
    error ? el("span", { class: "error" }, `${error} failed`) : null,
    canceled ? el("span", {}, `${canceled} canceled`) : null,
    el("span", { class: "pct" }, `${percent}%`));
  return el("div", { class: "progress-wrap" }, bar, legend);
}

// Widths through the CSSOM, not style attributes, so a strict CSP keeps working.
function segment(kind, percent) {
  const node = el("span", { class: `seg ${kind}` });
  node.style.width = `${percent}%`;
  return node;
}

export function sumCounts(batches) {
  const total = { pending: 0, completed: 0, canceled: 0, error: 0 };
  for (const batch of batches) {
    for (const key of Object.keys(total)) total[key] += batch.counts?.[key] || 0;
  }
  return total;
}

// A modal <dialog>: focus is trapped by the browser, Escape closes it.
// `build(close)` returns the body; resolves with what close(value) was given.
export function openDialog(title, build) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "dialog", "aria-label": title });
    const close = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(null);
    });
    dialog.append(
      el("header", {},
        el("h2", {}, title),
        el("button", { type: "button", class: "icon ghost", "aria-label": "Close", onclick: () => close(null) }, "×")),
      build(close),
    );
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector("input, select, textarea")?.focus();
  });
}

// Show an API error next to the control whose data-field (or name) matches error.field,
// else at the form's top. Returns the element holding the message.
export function showFieldError(form, error) {
  clearFieldErrors(form);
  const field = error?.field || "";
  let target = null;
  if (field) {
    const candidates = [...form.querySelectorAll("[data-field], [name]")];
    // The most specific control whose field path is a prefix of the error's path.
    let best = -1;
    for (const node of candidates) {
      const path = node.dataset.field || node.getAttribute("name");
      if (path && (field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`))) {
        if (path.length > best) {
          best = path.length;
          target = node;
        }
      }
    }
  }
  // The field in the words its control is labelled with, else in errors.js's words.
  const shown = target?.closest("label, .field")?.querySelector(".field-label")?.textContent;
  const subject = shown?.replace(/\s*\([^)]*\)\s*$/, "").trim();
  const note = el("p", { class: "field-error", role: "alert" },
    humanMessage(error, subject ? { subject } : {}));
  if (target) {
    target.setAttribute("aria-invalid", "true");
    const holder = target.closest("label, .field") || target;
    holder.after(note);
  } else {
    form.prepend(note);
  }
  return note;
}

// The error of a required control left empty, worded as the server would (for showFieldError).
export const requiredError = (name) => new ApiError(422, { error: { field: name, message: "is required" } });

export function clearFieldErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

export function field(labelText, control, hint) {
  return el("label", { class: "field" },
    el("span", { class: "field-label" }, labelText), control,
    hint ? el("span", { class: "hint muted" }, hint) : null);
}

export function select(name, options, value, attrs = {}) {
  return el("select", { name, ...attrs },
    options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)));
}

export function emptyState(title, text, ...actions) {
  return el("section", { class: "empty card" }, el("h2", {}, title),
    text ? el("p", {}, text) : null, actions.length ? el("div", { class: "actions" }, actions) : null);
}

export function plural(n, word, many = `${word}s`) {
  return `${n.toLocaleString()} ${n === 1 ? word : many}`;
}

// An in-page confirmation (not window.confirm): resolves true when confirmed.
export async function confirmDialog(title, message, confirmText = "Confirm", danger = false) {
  const answer = await openDialog(title, (close) => el("div", { class: "form" },
    el("p", {}, message),
    el("div", { class: "dialog-actions" },
      el("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
      el("button", { type: "button", class: danger ? "danger-fill" : "primary", autofocus: true, onclick: () => close(true) },
        confirmText))));
  return answer === true;
}
