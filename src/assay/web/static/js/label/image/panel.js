// The image workspace's side panel: labels, the selected shape (label, attributes, keypoint
// visibility, suggestion accept/delete, review comment), links between two shapes, global
// attributes, review comments and the list of shapes with hide/lock/delete.
//
// Sections rebuild only when what they show changed: an attribute form that commits an edit
// records the object it produced, so its own edits do not rebuild it (and steal the focus)
// while an undo, which brings back an older object, does. The shape list is updated row by
// row, so 1,000 shapes cost nothing after the first paint.

import { el, percent } from "/static/js/api.js";
import { attributeForm } from "/static/js/label/common.js";
import {
  addLink, globalDefs, isSuggestion, linkDefs, linkTypesFor, removeLink, setGlobal, shapeDefs,
  updateLink,
} from "/static/js/label/image/doc.js";

// The list shows this many rows at first (and this many more per click): with 1,000 shapes,
// laying out every row would cost more than the canvas that draws them all.
const LIST_PAGE = 200;

const TYPE_NAMES = {
  box: "box", polygon: "polygon", line: "line", point: "point", keypoints: "keypoints",
  ellipse: "ellipse", cuboid: "cuboid", mask: "mask",
};

export class Panel {
  constructor(editor) {
    this.editor = editor;
    this.rows = new Map();
    this.rowOrder = [];
    this.seen = {};
    this.labelButtons = [];
    const section = (cls, label) => el("section", { class: `iw-section ${cls}`, "aria-label": label });
    this.labelsSection = section("iw-labels", "Labels");
    this.selectedSection = section("iw-selected", "Selected shape");
    this.globalSection = section("iw-global", "Image attributes");
    this.linksSection = section("iw-links", "Links");
    this.commentsSection = section("iw-comments", "Comments");
    this.shapeList = el("ol", { class: "iw-shapes", "aria-label": "Shapes" });
    this.shapesHeading = el("h3", {}, "Shapes");
    this.acceptAll = el("button", { type: "button", class: "secondary small", hidden: true,
      "aria-keyshortcuts": "Shift+A", onclick: () => editor.acceptSelectedOrAll(true) }, "Accept all suggestions");
    this.listLimit = LIST_PAGE;
    this.more = el("button", { type: "button", class: "secondary small iw-more", hidden: true, onclick: () => {
      this.listLimit += LIST_PAGE;
      this.renderList();
    } });
    this.shapesSection = el("section", { class: "iw-section iw-list", "aria-label": "Shape list" },
      el("div", { class: "iw-list-head" }, this.shapesHeading, this.acceptAll), this.shapeList, this.more);
    this.element = el("aside", { class: "iw-panel", "aria-label": "Annotations" },
      this.labelsSection, this.selectedSection, this.commentsSection, this.linksSection,
      this.globalSection, this.shapesSection);
    this.renderLabels();
  }

  // force: the selection or the whole document changed (undo, redo, selection).
  update({ force = false, labels = false } = {}) {
    const editor = this.editor;
    this.updateLabels();
    if (labels && !force) return;
    if (!editor.history || this.muted) return;
    const doc = editor.doc;
    const focused = document.activeElement;
    const hadFocus = this.element.contains(focused);
    this.updateSelected(force);
    if (doc.global !== this.seen.global) this.renderGlobal();
    if (doc.links !== this.seen.links || force) this.renderLinks();
    if (force || !this.commentsRendered) this.renderComments();
    this.renderList();
    if (hadFocus && !focused.isConnected) {
      // The control went with its section: keep the keyboard in the workspace.
      editor.stage.element.focus({ preventScroll: true });
    } else if (hadFocus && document.activeElement !== focused) {
      focused.focus({ preventScroll: true }); // a list row moved
    }
  }

  // Run an edit made by one of the panel's own forms without rebuilding that form.
  quietly(edit) {
    this.muted = true;
    try {
      edit();
    } finally {
      this.muted = false;
    }
    const editor = this.editor;
    const shapes = editor.selected.map((id) => editor.shapeById(id)).filter(Boolean);
    if (shapes.length === 1) this.seen.selectedAttrs = shapes[0].attributes;
    this.seen.global = editor.doc.global;
    this.seen.links = editor.doc.links;
    this.update();
  }

  // --- labels ---

  renderLabels() {
    const editor = this.editor;
    if (!editor.labels.length) {
      this.labelsSection.replaceChildren(el("p", { class: "muted" }, "This project has no labels."));
      return;
    }
    this.labelButtons = editor.labels.map((label, i) => el("button", {
      type: "button", class: "iw-label", "aria-pressed": "false",
      "aria-keyshortcuts": i < 9 ? String(i + 1) : undefined,
      onclick: () => editor.setLabel(label.name),
    }, el("span", { class: "swatch", style: `background:${editor.colors.get(label.name)}`, "aria-hidden": "true" }),
    i < 9 ? el("kbd", { "aria-hidden": "true" }, String(i + 1)) : null, label.name));
    this.labelsSection.replaceChildren(el("h3", {}, "Labels"),
      el("div", { class: "iw-label-list", role: "group", "aria-label": "Labels" }, this.labelButtons));
  }

  updateLabels() {
    this.editor.labels.forEach((label, i) => {
      this.labelButtons[i]?.setAttribute("aria-pressed", String(label.name === this.editor.label));
    });
  }

  // --- the selected shape(s) ---

  updateSelected(force) {
    const editor = this.editor;
    const shapes = editor.selected.map((id) => editor.shapeById(id)).filter(Boolean);
    const key = shapes.map((s) => `${s.id}|${s.label}|${s.type}|${isSuggestion(editor.doc, s.id)}`).join(",");
    const attrs = shapes.length === 1 ? shapes[0].attributes : null;
    if (!force && key === this.seen.selectedKey && attrs === this.seen.selectedAttrs) return;
    this.seen.selectedKey = key;
    this.seen.selectedAttrs = attrs;
    if (!shapes.length) {
      this.selectedSection.replaceChildren(el("h3", {}, "Selection"),
        el("p", { class: "muted" }, "Nothing selected. Draw a shape, or click one (V selects)."));
    } else if (shapes.length === 1) {
      this.renderOne(shapes[0]);
    } else if (shapes.length === 2) {
      this.renderPair(shapes);
    } else {
      this.selectedSection.replaceChildren(el("h3", {}, `${shapes.length} shapes selected`),
        el("button", { type: "button", class: "danger small", onclick: () => editor.deleteSelection() }, "Delete them"));
    }
  }

  describe(shape) {
    const doc = this.editor.doc;
    const index = doc.shapes.findIndex((s) => s.id === shape.id);
    const suggested = index < 0;
    const n = suggested ? doc.suggestions.findIndex((s) => s.id === shape.id) + 1 : index + 1;
    return `${suggested ? "suggested " : ""}${shape.label || "?"} ${TYPE_NAMES[shape.type] || shape.type} ${n}`;
  }

  renderOne(shape) {
    const editor = this.editor;
    const suggestion = isSuggestion(editor.doc, shape.id);
    const locked = editor.locked.has(shape.id);
    const parts = [el("h3", {}, "Selected: ", this.describe(shape))];
    if (suggestion) {
      const confidence = typeof shape.confidence === "number" ? ` (confidence ${percent(shape.confidence)})` : "";
      parts.push(el("p", { class: "iw-suggestion-note" }, `A pre-label suggestion${confidence}. Accept it, edit it, or delete it.`),
        el("div", { class: "iw-actions" },
          el("button", { type: "button", "aria-keyshortcuts": "A", onclick: () => editor.accept([shape.id]) }, "Accept suggestion"),
          el("button", { type: "button", class: "danger", onclick: () => editor.removeIds([shape.id]) }, "Delete suggestion")));
    }
    const allowed = editor.labels.filter((l) => l.geometries.includes(shape.type));
    const select = el("select", { id: "iw-shape-label", disabled: locked || !editor.editable,
      onchange: (e) => {
        editor.select([shape.id]);
        editor.relabel(e.target.value);
      } }, allowed.map((l) => el("option", { value: l.name, selected: l.name === shape.label }, l.name)));
    parts.push(el("label", { class: "attr", for: "iw-shape-label" }, el("span", { class: "attr-name" }, "Label"), select));
    const form = attributeForm(shapeDefs(editor.taxonomy, shape.label), shape.attributes,
      (values) => this.quietly(() => editor.setAttributes(shape.id, values)),
      { legend: "Attributes", readOnly: locked || !editor.editable });
    if (form.element) parts.push(form.element);
    if (shape.type === "keypoints") parts.push(this.keypointList(shape, locked));
    if (shape.type === "polygon" || shape.type === "line") {
      parts.push(el("p", { class: "muted small" },
        "Drag a vertex to move it; drag the dot in the middle of an edge to add a vertex; click a vertex, then Delete, to remove it."));
    }
    parts.push(el("div", { class: "iw-actions" },
      el("button", { type: "button", class: "secondary small", "aria-keyshortcuts": "H", onclick: () => editor.toggleHidden(shape.id) }, "Hide"),
      el("button", { type: "button", class: "secondary small", "aria-pressed": String(locked), "aria-keyshortcuts": "Shift+L",
        onclick: () => editor.toggleLocked(shape.id) }, locked ? "Unlock" : "Lock"),
      suggestion ? null : el("button", { type: "button", class: "danger small", disabled: locked,
        "aria-keyshortcuts": "Delete", onclick: () => editor.removeIds([shape.id]) }, "Delete shape")));
    const pinned = editor.reviewComments.filter((c) => c.annotation_id === shape.id);
    if (pinned.length) {
      parts.push(el("div", { class: "pinned-comment", role: "note" },
        el("strong", {}, "Reviewer: "), pinned.map((c) => el("p", {}, c.text))));
    }
    if (editor.mode === "review") parts.push(this.commentBox(shape));
    this.selectedSection.replaceChildren(...parts);
  }

  keypointList(shape, locked) {
    const editor = this.editor;
    return el("fieldset", { class: "attributes" }, el("legend", {}, "Keypoints"),
      shape.points.map((k, i) => el("label", { class: "inline" },
        el("input", { type: "checkbox", checked: k.visible !== false, disabled: locked,
          onchange: (e) => editor.setKeypointVisible(shape.id, i, e.target.checked) }),
        ` ${k.name} visible`)));
  }

  commentBox(shape) {
    const editor = this.editor;
    const text = el("textarea", { id: "iw-pin-text", rows: "2" });
    const add = () => {
      const value = text.value.trim();
      if (!value) return;
      editor.comments.push({ text: value, annotation_id: shape.id });
      text.value = "";
      editor.requestOverlay();
      this.renderComments();
    };
    text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        add();
      }
    });
    return el("div", { class: "iw-pin" },
      el("label", { for: "iw-pin-text" }, "Comment on this shape"), text,
      el("button", { type: "button", onclick: add }, "Pin comment"));
  }

  renderPair([a, b]) {
    const editor = this.editor;
    const parts = [el("h3", {}, "2 shapes selected")];
    const types = linkTypesFor(editor.taxonomy, a.label, b.label);
    if (!(editor.taxonomy.links || []).length) {
      parts.push(el("p", { class: "muted" }, "This project defines no links."));
    } else if (!types.length) {
      parts.push(el("p", { class: "muted" }, `No link type goes from ${a.label} to ${b.label}.`));
    } else if (isSuggestion(editor.doc, a.id) || isSuggestion(editor.doc, b.id)) {
      parts.push(el("p", { class: "muted" }, "Accept the suggestions before linking them."));
    } else {
      const select = el("select", { id: "iw-link-type" }, types.map((t) => el("option", { value: t.name }, t.name)));
      parts.push(el("p", {}, `From ${this.describe(a)} to ${this.describe(b)}`),
        el("label", { class: "attr", for: "iw-link-type" }, el("span", { class: "attr-name" }, "Link type"), select),
        el("div", { class: "iw-actions" },
          el("button", { type: "button", onclick: () => {
            editor.commit(addLink(editor.doc, { from: a.id, to: b.id, label: select.value, attributes: {} }));
          } }, "Link"),
          el("button", { type: "button", class: "secondary", onclick: () => editor.select([b.id, a.id]) }, "Swap direction")));
    }
    parts.push(el("button", { type: "button", class: "danger small", onclick: () => editor.deleteSelection() }, "Delete both"));
    this.selectedSection.replaceChildren(...parts);
  }

  // --- links, global attributes, comments ---

  renderLinks() {
    const editor = this.editor;
    const doc = editor.doc;
    this.seen.links = doc.links;
    if (!(editor.taxonomy.links || []).length) {
      this.linksSection.hidden = true;
      return;
    }
    this.linksSection.hidden = false;
    const name = (id) => {
      const shape = editor.shapeById(id);
      return shape ? this.describe(shape) : "?";
    };
    const items = doc.links.map((link, i) => {
      const form = attributeForm(linkDefs(editor.taxonomy, link.label), link.attributes,
        (values) => this.quietly(() => editor.commit(updateLink(editor.doc, i, values))),
        { legend: `${link.label} attributes` });
      return el("li", {},
        el("span", {}, `${name(link.from)} → ${name(link.to)} `, el("strong", {}, link.label)), " ",
        el("button", { type: "button", class: "link", "aria-label": `Delete link ${link.label} ${i + 1}`,
          onclick: () => editor.commit(removeLink(editor.doc, i)) }, "Delete"),
        form.element);
    });
    this.linksSection.replaceChildren(el("h3", {}, "Links"),
      items.length ? el("ul", { class: "iw-link-list" }, items)
        : el("p", { class: "muted small" }, "Select two shapes (Shift+click) to link them."));
  }

  renderGlobal() {
    const editor = this.editor;
    this.seen.global = editor.doc.global;
    const defs = globalDefs(editor.taxonomy);
    if (!defs.length) {
      this.globalSection.hidden = true;
      return;
    }
    const form = attributeForm(defs, editor.doc.global,
      (values) => this.quietly(() => editor.commit(setGlobal(editor.doc, values))),
      { legend: "Image attributes", readOnly: !editor.editable });
    this.globalSection.hidden = false;
    this.globalSection.replaceChildren(form.element);
  }

  renderComments() {
    const editor = this.editor;
    this.commentsRendered = true;
    const parts = [];
    const item = (comment, i, remove) => el("li", {},
      el("span", { class: "pin-number", "aria-hidden": "true" }, String(i + 1)), " ", comment.text,
      comment.annotation_id ? [" ", el("button", { type: "button", class: "link",
        onclick: () => editor.highlight(comment.annotation_id) }, "Show")] : null,
      remove ? [" ", el("button", { type: "button", class: "link", "aria-label": `Remove comment ${i + 1}`,
        onclick: remove }, "Remove")] : null);
    if (editor.reviewComments.length) {
      parts.push(el("h3", {}, "Reviewer comments"),
        el("ol", { class: "iw-comment-list" }, editor.reviewComments.map((c, i) => item(c, i))));
    }
    if (editor.mode === "review") {
      parts.push(el("h3", {}, "Your comments"));
      parts.push(editor.comments.length
        ? el("ol", { class: "iw-comment-list mine" }, editor.comments.map((c, i) => item(c, i, () => {
          editor.comments.splice(i, 1);
          editor.requestOverlay();
          this.renderComments();
        })))
        : el("p", { class: "muted small" }, "Select a shape to pin a comment to it."));
    }
    this.commentsSection.hidden = !parts.length;
    this.commentsSection.replaceChildren(...parts);
  }

  // --- the shape list ---

  renderList() {
    const editor = this.editor;
    const doc = editor.doc;
    const selected = new Set(editor.selected);
    const order = [];
    const entries = [
      ...doc.shapes.map((s, i) => [s, i + 1, false]),
      ...doc.suggestions.map((s, i) => [s, i + 1, true]),
    ];
    const shown = entries.slice(0, this.listLimit);
    const rest = entries.length - shown.length;
    this.more.hidden = rest <= 0;
    this.more.textContent = `Show ${Math.min(rest, LIST_PAGE)} more (${rest} not listed)`;
    for (const [shape, n, suggestion] of shown) {
      const sig = `${shape.label}|${shape.type}|${n}|${suggestion}|${selected.has(shape.id)}|${editor.hidden.has(shape.id)}|${editor.locked.has(shape.id)}`;
      let entry = this.rows.get(shape.id);
      if (!entry) {
        entry = this.row(shape.id);
        this.rows.set(shape.id, entry);
      }
      if (entry.sig !== sig) {
        // Updated in place, so a focused button in the row keeps the focus.
        this.fillRow(entry, shape, n, suggestion, selected.has(shape.id));
        entry.sig = sig;
      }
      order.push(entry.li);
    }
    const live = new Set(shown.map(([s]) => s.id));
    for (const id of this.rows.keys()) if (!live.has(id)) this.rows.delete(id);
    const changed = order.length !== this.rowOrder.length || order.some((li, i) => li !== this.rowOrder[i]);
    if (changed) {
      this.shapeList.replaceChildren(...order);
      this.rowOrder = order;
    }
    this.shapesHeading.textContent = `Shapes (${doc.shapes.length})`
      + (doc.suggestions.length ? ` · ${doc.suggestions.length} suggested` : "");
    this.acceptAll.hidden = !doc.suggestions.length;
  }

  row(id) {
    const editor = this.editor;
    const button = (cls, onclick) => el("button", { type: "button", class: cls, onclick });
    const entry = {
      swatch: el("span", { class: "swatch", "aria-hidden": "true" }),
      name: button("iw-name", () => {
        if (editor.hidden.has(id)) editor.toggleHidden(id);
        editor.select([id]);
      }),
      accept: button("link", () => editor.accept([id])),
      hide: button("link", () => editor.toggleHidden(id)),
      lock: button("link", () => editor.toggleLocked(id)),
      remove: button("link danger", () => editor.removeIds([id])),
    };
    entry.accept.textContent = "Accept";
    entry.remove.textContent = "Delete";
    entry.li = el("li", { class: "iw-row" }, entry.swatch, entry.name, entry.accept, entry.hide, entry.lock, entry.remove);
    return entry;
  }

  fillRow(entry, shape, n, suggestion, selected) {
    const editor = this.editor;
    const name = `${suggestion ? "suggested " : ""}${shape.label || "?"} ${TYPE_NAMES[shape.type] || shape.type} ${n}`;
    const hidden = editor.hidden.has(shape.id), locked = editor.locked.has(shape.id);
    entry.li.className = `iw-row${selected ? " selected" : ""}${suggestion ? " suggestion" : ""}`;
    entry.swatch.style.background = editor.colorOf(shape);
    entry.name.textContent = name;
    entry.name.setAttribute("aria-pressed", String(selected));
    entry.accept.hidden = !suggestion;
    entry.accept.setAttribute("aria-label", `Accept ${name}`);
    entry.hide.textContent = hidden ? "Show" : "Hide";
    entry.hide.setAttribute("aria-pressed", String(hidden));
    entry.hide.setAttribute("aria-label", `Hide ${name}`);
    entry.lock.textContent = locked ? "Unlock" : "Lock";
    entry.lock.setAttribute("aria-pressed", String(locked));
    entry.lock.setAttribute("aria-label", `Lock ${name}`);
    entry.remove.disabled = locked;
    entry.remove.setAttribute("aria-label", `Delete ${name}`);
  }
}
