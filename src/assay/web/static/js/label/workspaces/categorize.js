// Categorization of an image, a text or a document: one category (radios) or several
// (checkboxes, when the taxonomy sets multi_select). Keys: 1–9 pick, Enter submits.

import { el } from "/static/js/api.js";
import {
  attributeDefs, attributeForm, digitIndex, labelColor, newId, PinnedComments, pinnedNote,
  plainKey, renderMedia,
} from "/static/js/label/common.js";
import { numberKeysRow } from "/static/js/label/number_keys.js";

export function mount(container, ctx) {
  const taxonomy = ctx.project.taxonomy || {};
  const labels = taxonomy.labels || [];
  const multi = Boolean(taxonomy.multi_select);
  const review = ctx.mode === "review";
  const chosen = new Map(); // label name → {id, attributes}
  for (const ann of ctx.response?.annotations || []) {
    if (ann.label && (!ann.type || ann.type === "category")) {
      chosen.set(ann.label, { id: ann.id || newId(), attributes: ann.attributes || {} });
    }
  }
  const suggested = new Map(); // label → confidence, while nothing is chosen yet
  if (!ctx.response) {
    for (const ann of ctx.prelabels?.annotations || []) {
      if (ann.label) suggested.set(ann.label, ann.confidence);
    }
  }
  let globals = { ...(ctx.response?.global_attributes || {}) };
  const pinned = new PinnedComments(() => renderChoices());

  const choices = el("div", { class: "choices-list" });
  const group = el(multi ? "div" : "div", {
    role: multi ? "group" : "radiogroup",
    "aria-label": multi ? "Categories" : "Category",
    class: "choice-group",
  });
  const suggestionBar = el("div", { class: "suggestions" });
  const globalForm = attributeForm(taxonomy.global_attributes || [], globals, (values) => {
    globals = values;
    ctx.onChange();
  }, { legend: "About the whole task" });

  const root = el("div", { class: "ws ws-categorize" },
    el("div", { class: "ws-media" }, renderMedia(ctx.task.params)),
    el("div", { class: "ws-panel" },
      el("h2", { class: "ws-heading" }, multi ? "Choose every category that applies" : "Choose a category"),
      el("p", { class: "muted hint" }, `Keys 1–${Math.min(labels.length, 9)} pick; Enter submits.`),
      suggestionBar, choices, globalForm.element));
  container.append(root);

  function choose(name, on) {
    if (on) {
      if (!multi) chosen.clear();
      if (!chosen.has(name)) chosen.set(name, { id: newId(), attributes: {} });
    } else {
      chosen.delete(name);
    }
    suggested.clear();
    renderChoices();
    ctx.onChange();
  }

  function renderChoices() {
    group.replaceChildren();
    labels.forEach((label, i) => {
      const on = chosen.has(label.name);
      const input = el("input", {
        type: multi ? "checkbox" : "radio",
        name: `category-${ctx.task.id}`,
        value: label.name,
        checked: on,
        "aria-label": label.name,
        onchange: (event) => choose(label.name, event.target.checked),
      });
      const row = el("div", { class: `choice${on ? " chosen" : ""}`, "data-label": label.name },
        el("label", {},
          i < 9 ? el("kbd", { "aria-hidden": "true" }, String(i + 1)) : el("span", { class: "kbd-space" }),
          input,
          el("span", { class: "swatch", style: `background:${labelColor(taxonomy, label.name)}`, "aria-hidden": "true" }),
          el("span", { class: "choice-name" }, label.name),
          suggested.has(label.name) ? el("span", { class: "badge suggestion" }, suggestionText(suggested.get(label.name))) : null),
        label.description ? el("small", { class: "muted" }, label.description) : null);
      if (on) {
        const picked = chosen.get(label.name);
        const note = pinnedNote(ctx.comments, picked.id);
        if (note) {
          row.classList.add("commented");
          row.append(note);
        }
        const form = attributeForm(attributeDefs(taxonomy, label.name), picked.attributes, (values) => {
          picked.attributes = values;
          ctx.onChange();
        }, { legend: `${label.name}: attributes` });
        if (form.element) row.append(form.element);
        if (review) row.append(commentControls(picked.id, label.name));
      }
      group.append(row);
    });
    choices.replaceChildren(group);
    renderSuggestions();
  }

  function commentControls(annotationId, name) {
    const mine = pinned.for(annotationId);
    return el("div", { class: "comment-controls" },
      mine.map((c) => el("p", { class: "pinned-comment mine" }, c.text, " ",
        el("button", { type: "button", class: "link", onclick: () => pinned.remove(pinned.items.indexOf(c)) },
          "Remove"))),
      el("button", { type: "button", class: "secondary small",
        onclick: () => pinned.add(annotationId, `“${name}”`) }, `Comment on ${name}`));
  }

  function suggestionText(confidence) {
    return typeof confidence === "number" ? `suggested ${Math.round(confidence * 100)}%` : "suggested";
  }

  function renderSuggestions() {
    if (!suggested.size) {
      suggestionBar.replaceChildren();
      return;
    }
    suggestionBar.replaceChildren(el("p", {}, "A model suggests: ", [...suggested.keys()].join(", "), " ",
      el("button", { type: "button", class: "secondary small", onclick: acceptSuggestions },
        "Accept suggestion")));
  }

  function acceptSuggestions() {
    const names = [...suggested.keys()].filter((n) => labels.some((l) => l.name === n));
    for (const name of multi ? names : names.slice(0, 1)) {
      const source = (ctx.prelabels?.annotations || []).find((a) => a.label === name);
      chosen.set(name, { id: newId(), attributes: source?.attributes || {} });
    }
    suggested.clear();
    renderChoices();
    ctx.onChange();
    focusInput();
  }

  function focusInput(name) {
    const target = name ? group.querySelector(`input[value="${CSS.escape(name)}"]`)
      : group.querySelector("input:checked") || group.querySelector("input");
    target?.focus();
  }

  function onKey(event) {
    if (!root.isConnected || !plainKey(event)) return;
    const index = digitIndex(event);
    if (index >= 0 && index < labels.length) {
      event.preventDefault();
      const name = labels[index].name;
      choose(name, multi ? !chosen.has(name) : true);
      focusInput(name);
    } else if (event.key === "Enter") {
      const tag = event.target?.tagName;
      if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY") return;
      event.preventDefault();
      ctx.submit?.();
    } else if ((event.key === "a" || event.key === "A") && suggested.size) {
      event.preventDefault();
      acceptSuggestions();
    }
  }
  window.addEventListener("keydown", onKey);
  renderChoices();

  return {
    getResponse() {
      const annotations = labels.filter((l) => chosen.has(l.name)).map((l) => ({
        id: chosen.get(l.name).id, type: "category", label: l.name,
        attributes: chosen.get(l.name).attributes,
      }));
      return { annotations, global_attributes: globalForm.values() };
    },
    getComments: () => pinned.list(),
    highlight(annotationId) {
      const name = [...chosen].find(([, a]) => a.id === annotationId)?.[0];
      if (name) focusInput(name);
    },
    focus: () => focusInput(),
    shortcuts: [
      numberKeysRow(multi ? "Toggle the n-th category" : "Choose the n-th category"),
      [["Enter"], "Submit"],
      [["A"], "Accept the suggested category"],
    ],
    destroy() {
      window.removeEventListener("keydown", onKey);
      root.remove();
    },
  };
}
