// Transcription, free text and text collection: the media (or text) on one side, answer
// boxes on the other. One box per field when the params name fields (Scale's `fields`),
// labeled entries when the taxonomy has labels, else a single answer.

import { el } from "/static/js/api.js";
import {
  attributeDefs, attributeForm, newId, PinnedComments, pinnedNote, renderMedia,
} from "/static/js/label/common.js";

// [{key, title, description}] from params.fields: a list of specs or a {key: description} map.
function fieldSpecs(params) {
  const fields = params?.fields;
  if (Array.isArray(fields)) {
    return fields.filter((f) => f && typeof f === "object" && (f.type === undefined
      || ["text", "textarea", "string", "number", "email", "url"].includes(f.type)) && f.field_id)
      .map((f) => ({ key: String(f.field_id), title: String(f.title || f.field_id),
        description: f.description ? String(f.description) : "" }));
  }
  if (fields && typeof fields === "object") {
    return Object.entries(fields).map(([key, value]) => ({
      key, title: key, description: typeof value === "string" ? value : "",
    }));
  }
  return [];
}

export function mount(container, ctx) {
  const taxonomy = ctx.project.taxonomy || {};
  const labels = taxonomy.labels || [];
  const review = ctx.mode === "review";
  const fields = fieldSpecs(ctx.task.params);
  const existing = (ctx.response?.annotations || []).filter((a) => !a.type || a.type === "text");
  let globals = { ...(ctx.response?.global_attributes || {}) };
  const pinned = new PinnedComments(() => renderEntries());

  // One entry per answer box: {id, field?, label?, text, attributes}.
  let entries;
  if (labels.length) {
    entries = existing.map((a) => ({ id: a.id || newId(), label: a.label, field: a.field,
      text: a.text || "", attributes: a.attributes || {} }));
    if (!entries.length) {
      const suggested = (ctx.prelabels?.annotations || []).filter((a) => typeof a.text === "string");
      entries = suggested.length
        ? suggested.map((a) => ({ id: newId(), label: a.label || labels[0].name, field: a.field,
          text: a.text, attributes: a.attributes || {}, suggested: true }))
        : [{ id: newId(), label: labels[0].name, text: "", attributes: {} }];
    }
  } else {
    const keys = fields.length ? fields.map((f) => f.key) : [null];
    const seed = ctx.response ? existing : (ctx.prelabels?.annotations || []);
    entries = keys.map((key) => {
      const found = seed.find((a) => (a.field ?? null) === key)
        || (key === null ? seed.find((a) => typeof a.text === "string") : null);
      return { id: (ctx.response && found?.id) || newId(), field: key ?? undefined,
        text: found?.text || "", attributes: found?.attributes || {},
        suggested: Boolean(found && !ctx.response) };
    });
  }

  const list = el("div", { class: "text-entries" });
  const globalForm = attributeForm(taxonomy.global_attributes || [], globals, (values) => {
    globals = values;
    ctx.onChange();
  }, { legend: "About the whole task" });
  const params = ctx.task.params || {};
  const heading = ctx.task.type === "transcription" ? "Transcription" : "Your answer";
  const prompt = params.instruction || params.prompt;
  const root = el("div", { class: "ws ws-text" },
    params.attachment || params.text != null
      ? el("div", { class: "ws-media" }, renderMedia(params)) : null,
    el("div", { class: "ws-panel" },
      el("h2", { class: "ws-heading" }, heading),
      prompt ? el("p", { class: "task-prompt" }, String(prompt)) : null,
      list, globalForm.element));
  container.append(root);

  function renderEntries() {
    const nodes = entries.map((entry, i) => {
      const field = fields.find((f) => f.key === entry.field);
      const title = field?.title || (labels.length ? `Entry ${i + 1}` : heading);
      const id = `text-${entry.id}`;
      const area = el("textarea", { id, rows: fields.length > 1 ? "3" : "8", spellcheck: "true" });
      area.value = entry.text;
      area.addEventListener("input", () => {
        entry.text = area.value;
        entry.suggested = false;
        ctx.onChange();
      });
      const box = el("div", { class: `text-entry${entry.suggested ? " suggested" : ""}` },
        el("label", { for: id, class: "entry-title" }, title,
          entry.suggested ? el("span", { class: "badge suggestion" }, "suggested") : null),
        field?.description ? el("small", { class: "muted" }, field.description) : null);
      if (labels.length) {
        const select = el("select", { "aria-label": `Label of ${title}`, onchange: (e) => {
          entry.label = e.target.value;
          ctx.onChange();
          renderEntries();
        } }, labels.map((l) => el("option", { value: l.name, selected: l.name === entry.label }, l.name)));
        box.append(select);
      }
      box.append(area);
      const defs = labels.length ? attributeDefs(taxonomy, entry.label) : taxonomy.attributes || [];
      const form = attributeForm(defs, entry.attributes, (values) => {
        entry.attributes = values;
        ctx.onChange();
      }, { legend: `${title}: attributes` });
      if (form.element) box.append(form.element);
      const note = pinnedNote(ctx.comments, entry.id);
      if (note) {
        box.classList.add("commented");
        box.append(note);
      }
      if (labels.length && entries.length > 1) {
        box.append(el("button", { type: "button", class: "link", onclick: () => {
          entries.splice(i, 1);
          ctx.onChange();
          renderEntries();
        } }, `Remove ${title}`));
      }
      if (review) {
        for (const c of pinned.for(entry.id)) box.append(el("p", { class: "pinned-comment mine" }, c.text));
        box.append(el("button", { type: "button", class: "secondary small",
          onclick: () => pinned.add(entry.id, title) }, `Comment on ${title}`));
      }
      return box;
    });
    if (labels.length) {
      nodes.push(el("button", { type: "button", class: "secondary", onclick: () => {
        entries.push({ id: newId(), label: labels[0].name, text: "", attributes: {} });
        ctx.onChange();
        renderEntries();
        list.querySelector(".text-entry:last-of-type textarea")?.focus();
      } }, "Add entry"));
    }
    list.replaceChildren(...nodes);
  }
  renderEntries();

  return {
    getResponse() {
      const annotations = entries.filter((e) => e.text !== "").map((e) => {
        const ann = { id: e.id, type: "text", text: e.text, attributes: e.attributes };
        if (e.field) ann.field = e.field;
        if (labels.length) ann.label = e.label;
        return ann;
      });
      return { annotations, global_attributes: globalForm.values() };
    },
    getComments: () => pinned.list(),
    highlight(annotationId) {
      document.getElementById(`text-${annotationId}`)?.focus();
    },
    focus() {
      list.querySelector("textarea")?.focus();
    },
    shortcuts: [[["Tab"], "Next answer box"]],
    destroy() {
      root.remove();
    },
  };
}
