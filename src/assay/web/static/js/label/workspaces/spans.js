// Text spans (named entities): select text with the mouse, or with the keyboard (focus the
// text, move the caret with the arrows, extend with Shift), then pick a label (1–9).
// Overlapping spans stack their underlines; relations join two spans (select one, press R,
// pick the other). The server counts offsets in code points, the DOM in UTF-16 units: spans
// are kept in units here and converted at the edges.

import { el } from "/static/js/api.js";
import {
  attributeDefs, attributeForm, digitIndex, labelColor, newId, offsetMaps,
  PinnedComments, pinnedNote, plainKey,
} from "/static/js/label/common.js";
import { RELABEL_ROW, numberKeysRow } from "/static/js/label/number_keys.js";
import { RelationArrows } from "/static/js/label/relation_arrows.js";

const BAND_PX = 3;

export function mount(container, ctx) {
  const taxonomy = ctx.project.taxonomy || {};
  const labels = taxonomy.labels || [];
  const linkTypes = taxonomy.links || [];
  const review = ctx.mode === "review";
  const text = String(ctx.task.params?.text ?? "");
  const maps = offsetMaps(text);
  const commented = new Set((ctx.comments || []).map((c) => c.annotation_id).filter(Boolean));

  const fromResponse = (ann) => ({
    id: ann.id || newId(),
    label: ann.label,
    start: maps.toUnit(ann.start),
    end: maps.toUnit(ann.end),
    attributes: ann.attributes || {},
    confidence: ann.confidence,
  });
  const isSpan = (ann) => (!ann.type || ann.type === "span") && Number.isInteger(ann.start)
    && Number.isInteger(ann.end) && ann.end <= [...text].length;
  let spans = (ctx.response?.annotations || []).filter(isSpan).map(fromResponse);
  let links = (ctx.response?.links || []).map((l) => ({ ...l, attributes: l.attributes || {} }));
  let suggestions = ctx.response ? [] : (ctx.prelabels?.annotations || []).filter(isSpan).map(fromResponse);
  let globals = { ...(ctx.response?.global_attributes || {}) };
  let activeLabel = 0;
  let selectedId = null;
  let relationFrom = null; // span id while picking a relation's target
  let relationChoice = null; // {from, to, types} while choosing among several link types
  let caret = { anchor: 0, focus: 0 };
  let message = "";
  const pinned = new PinnedComments(() => renderPanel());

  const textBox = el("div", {
    class: "spans-text", tabindex: "0", role: "textbox", "aria-readonly": "true",
    "aria-multiline": "true", "aria-label": "Text to annotate",
  });
  const caretMark = el("div", { class: "caret", "aria-hidden": "true", hidden: true });
  const textWrap = el("div", { class: `spans-text-wrap${linkTypes.length ? " with-relations" : ""}` }, textBox, caretMark);
  const arrows = new RelationArrows(textWrap, textBox);
  const status = el("p", { class: "spans-status", role: "status", "aria-live": "polite" });
  const labelPicker = el("div", { role: "radiogroup", "aria-label": "Label", class: "label-picker" });
  const panel = el("div", { class: "spans-panel" });
  const globalForm = attributeForm(taxonomy.global_attributes || [], globals, (values) => {
    globals = values;
    ctx.onChange();
  }, { legend: "About the whole text" });

  const root = el("div", { class: "ws ws-spans" },
    el("div", { class: "ws-media" },
      el("p", { class: "muted hint" },
        "Select text with the mouse, or focus the text and use Shift+arrows; 1–9 pick the label."),
      textWrap, status),
    el("div", { class: "ws-panel" }, el("h2", { class: "ws-heading" }, "Labels"), labelPicker,
      panel, globalForm.element));
  container.append(root);

  const byId = (id) => spans.find((s) => s.id === id) || suggestions.find((s) => s.id === id);
  const snippet = (s) => {
    const part = text.slice(s.start, s.end);
    return part.length > 40 ? `${part.slice(0, 37)}…` : part;
  };

  // --- editing ---

  function changed() {
    render();
    ctx.onChange();
  }

  function addSpan(start, end, labelIndex = activeLabel) {
    while (start < end && /\s/.test(text[start])) start++;
    while (end > start && /\s/.test(text[end - 1])) end--;
    // Never split a surrogate pair: round outwards to whole characters.
    start = maps.toUnit(maps.toPoint(start));
    if (maps.toUnit(maps.toPoint(end)) !== end) end = maps.toUnit(maps.toPoint(end) + 1);
    const label = labels[labelIndex];
    if (!label || start >= end) return null;
    const same = spans.find((s) => s.start === start && s.end === end && s.label === label.name);
    if (same) {
      selectedId = same.id;
      render();
      return same;
    }
    const span = { id: newId(), label: label.name, start, end, attributes: {} };
    spans.push(span);
    selectedId = span.id;
    message = `Added ${label.name}: “${snippet(span)}”`;
    caret = { anchor: end, focus: end };
    changed();
    return span;
  }

  function deleteSpan(id) {
    const span = byId(id);
    if (!span) return;
    spans = spans.filter((s) => s.id !== id);
    suggestions = suggestions.filter((s) => s.id !== id);
    links = links.filter((l) => l.from !== id && l.to !== id);
    if (selectedId === id) selectedId = null;
    message = `Deleted “${snippet(span)}”`;
    changed();
    textBox.focus();
  }

  function relabel(id, labelIndex) {
    const span = spans.find((s) => s.id === id);
    if (!span || !labels[labelIndex]) return;
    span.label = labels[labelIndex].name;
    const allowed = new Set(attributeDefs(taxonomy, span.label).map((d) => d.name));
    span.attributes = Object.fromEntries(Object.entries(span.attributes).filter(([k]) => allowed.has(k)));
    links = links.filter((l) => linkAllowed(l.label, byId(l.from)?.label, byId(l.to)?.label));
    changed();
  }

  function acceptSuggestion(id) {
    const suggestion = suggestions.find((s) => s.id === id);
    if (!suggestion) return;
    suggestions = suggestions.filter((s) => s.id !== id);
    spans.push({ ...suggestion, id: newId(), confidence: undefined });
    selectedId = spans[spans.length - 1].id;
    changed();
  }

  function linkAllowed(name, fromLabel, toLabel) {
    const type = linkTypes.find((t) => t.name === name);
    return Boolean(type)
      && (!type.from_labels?.length || type.from_labels.includes(fromLabel))
      && (!type.to_labels?.length || type.to_labels.includes(toLabel));
  }

  function startRelation() {
    const span = spans.find((s) => s.id === selectedId);
    if (!span) return;
    if (!linkTypes.length) {
      message = "This taxonomy defines no relations.";
      render();
      return;
    }
    relationFrom = span.id;
    message = `Relation from “${snippet(span)}”: pick the target span (click it, or [ ] then Enter). Esc cancels.`;
    render();
  }

  function finishRelation(toId) {
    const from = byId(relationFrom);
    const to = spans.find((s) => s.id === toId);
    relationFrom = null;
    if (!from || !to || from.id === to.id) {
      message = "A relation joins two different spans.";
      render();
      return;
    }
    const types = linkTypes.filter((t) => linkAllowed(t.name, from.label, to.label));
    if (!types.length) {
      message = `No relation type joins ${from.label} to ${to.label}.`;
      render();
    } else if (types.length === 1) {
      addLink(from.id, to.id, types[0].name);
    } else {
      relationChoice = { from: from.id, to: to.id, types };
      message = "Choose the relation type (1–9).";
      render();
    }
  }

  function addLink(from, to, name) {
    relationChoice = null;
    if (!links.some((l) => l.from === from && l.to === to && l.label === name)) {
      links.push({ from, to, label: name, attributes: {} });
    }
    message = `Added relation ${name}: “${snippet(byId(from))}” → “${snippet(byId(to))}”`;
    changed();
  }

  function select(id) {
    selectedId = id;
    if (relationFrom && id && id !== relationFrom) {
      finishRelation(id);
      return;
    }
    render();
  }

  // --- text offsets <-> DOM ---

  function segments() {
    return [...textBox.querySelectorAll(".seg")];
  }

  function offsetOf(node, offset) {
    if (node === textBox) {
      const child = textBox.childNodes[offset];
      if (!child) return text.length;
      return Number(child.dataset?.start ?? child.dataset?.at ?? text.length);
    }
    const element = node.nodeType === Node.TEXT_NODE ? node.parentElement : node;
    const chip = element?.closest?.(".chip");
    if (chip) return Number(chip.dataset.at);
    const seg = element?.closest?.(".seg");
    if (!seg || !textBox.contains(seg)) return null;
    const start = Number(seg.dataset.start);
    if (node.nodeType === Node.TEXT_NODE) return start + offset;
    return offset === 0 ? start : start + seg.textContent.length;
  }

  function domPoint(offset) {
    const segs = segments();
    for (const seg of segs) {
      const start = Number(seg.dataset.start);
      const length = seg.textContent.length;
      if (offset >= start && offset < start + length) return [seg.firstChild, offset - start];
    }
    const last = segs[segs.length - 1];
    return last ? [last.firstChild, last.textContent.length] : [textBox, 0];
  }

  function showKeyboardSelection() {
    const selection = window.getSelection();
    if (caret.anchor === caret.focus) {
      selection.removeAllRanges();
    } else {
      selection.setBaseAndExtent(...domPoint(caret.anchor), ...domPoint(caret.focus));
    }
    placeCaret();
  }

  function placeCaret() {
    if (document.activeElement !== textBox || !text.length) {
      caretMark.hidden = true;
      return;
    }
    const range = document.createRange();
    const [node, offset] = domPoint(caret.focus);
    range.setStart(node, offset);
    range.collapse(true);
    let rect = range.getClientRects()[0];
    if (!rect && node.nodeType === Node.TEXT_NODE && offset > 0) {
      range.setStart(node, offset - 1);
      range.setEnd(node, offset);
      const r = range.getBoundingClientRect();
      rect = { left: r.right, top: r.top, height: r.height };
    }
    if (!rect) return;
    const base = textWrap.getBoundingClientRect();
    caretMark.style.left = `${rect.left - base.left}px`;
    caretMark.style.top = `${rect.top - base.top}px`;
    caretMark.style.height = `${rect.height}px`;
    caretMark.hidden = false;
  }

  function step(offset, direction, byWord) {
    let point = maps.toPoint(offset);
    const chars = [...text];
    if (!byWord) return maps.toUnit(Math.max(0, Math.min(chars.length, point + direction)));
    const word = (c) => /[\p{L}\p{N}_]/u.test(c || "");
    if (direction > 0) {
      while (point < chars.length && !word(chars[point])) point++;
      while (point < chars.length && word(chars[point])) point++;
    } else {
      while (point > 0 && !word(chars[point - 1])) point--;
      while (point > 0 && word(chars[point - 1])) point--;
    }
    return maps.toUnit(point);
  }

  function lineEdge(offset, direction) {
    if (direction < 0) return text.lastIndexOf("\n", offset - 1) + 1;
    const next = text.indexOf("\n", offset);
    return next < 0 ? text.length : next;
  }

  // --- rendering ---

  function render() {
    renderText();
    arrows.update(links);
    renderPanel();
    status.textContent = message;
    showKeyboardSelection();
  }

  function renderText() {
    const all = [...spans, ...suggestions];
    const cuts = new Set([0, text.length]);
    for (const s of all) cuts.add(s.start).add(s.end);
    const points = [...cuts].sort((a, b) => a - b);
    const ends = new Map(); // offset → spans ending there, for their label chips
    for (const s of spans) ends.set(s.end, [...(ends.get(s.end) || []), s]);
    const nodes = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const covering = all.filter((s) => s.start <= a && s.end >= b)
        .sort((x, y) => (x.end - x.start) - (y.end - y.start)); // innermost first
      const seg = el("span", { class: "seg", "data-start": a }, text.slice(a, b));
      if (covering.length) {
        const real = covering.filter((s) => !suggestions.includes(s));
        seg.classList.add("marked");
        if (real.length < covering.length) seg.classList.add("suggested");
        if (covering.some((s) => s.id === selectedId)) seg.classList.add("selected");
        if (covering.some((s) => s.id === relationFrom)) seg.classList.add("relation-from");
        if (covering.some((s) => commented.has(s.id))) seg.classList.add("commented");
        const colors = covering.map((s) => labelColor(taxonomy, s.label));
        seg.style.boxShadow = colors.map((c, k) => `inset 0 -${BAND_PX * (k + 1)}px 0 0 ${c}`).join(", ");
        seg.style.paddingBottom = `${BAND_PX * covering.length}px`;
        seg.style.backgroundColor = `${colors[0]}22`;
        seg.dataset.spans = covering.map((s) => s.id).join(" ");
        seg.title = covering.map((s) => s.label).join(" › ");
      }
      nodes.push(seg);
      for (const s of (ends.get(b) || []).sort((x, y) => y.start - x.start)) {
        nodes.push(el("span", {
          class: `chip${s.id === selectedId ? " selected" : ""}`, "data-at": b, "data-id": s.id,
          contenteditable: "false", "aria-hidden": "true",
          style: `background:${labelColor(taxonomy, s.label)}`,
        }, s.label));
      }
    }
    textBox.replaceChildren(...nodes);
  }

  function renderPanel() {
    labelPicker.replaceChildren(...labels.map((label, i) => el("label", { class: "label-option" },
      el("input", {
        type: "radio", name: `span-label-${ctx.task.id}`, checked: i === activeLabel,
        "aria-label": label.name,
        onchange: () => pickLabel(i),
      }),
      i < 9 ? el("kbd", { "aria-hidden": "true" }, String(i + 1)) : null,
      el("span", { class: "swatch", style: `background:${labelColor(taxonomy, label.name)}`, "aria-hidden": "true" }),
      ` ${label.name}`)));

    const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
    const list = el("ol", { class: "span-list", "aria-label": "Spans" }, sorted.map((s) => spanItem(s)));
    const parts = [el("h3", {}, `Spans (${spans.length})`), spans.length ? list
      : el("p", { class: "muted" }, "No spans yet.")];
    if (suggestions.length) {
      parts.push(el("h3", {}, "Suggestions"), el("ol", { class: "span-list suggestions" },
        suggestions.map((s) => el("li", { class: s.id === selectedId ? "selected" : "" },
          el("span", { class: "swatch", style: `background:${labelColor(taxonomy, s.label)}` }),
          ` ${s.label}: “${snippet(s)}” `,
          el("button", { type: "button", class: "secondary small", onclick: () => acceptSuggestion(s.id) }, "Accept"),
          el("button", { type: "button", class: "link", onclick: () => deleteSpan(s.id) }, "Dismiss")))));
    }
    if (linkTypes.length) {
      parts.push(el("h3", {}, `Relations (${links.length})`));
      if (relationChoice) {
        parts.push(el("div", { class: "relation-choice", role: "group", "aria-label": "Relation type" },
          relationChoice.types.map((t, i) => el("button", { type: "button", class: "secondary small",
            onclick: () => addLink(relationChoice.from, relationChoice.to, t.name) }, `${i + 1} ${t.name}`))));
      }
      parts.push(links.length ? el("ul", { class: "link-list", "aria-label": "Relations" },
        links.map((l, i) => el("li", {},
          `“${snippet(byId(l.from) || { start: 0, end: 0 })}” —${l.label}→ “${snippet(byId(l.to) || { start: 0, end: 0 })}” `,
          el("button", { type: "button", class: "link", "aria-label": `Delete relation ${l.label}`,
            onclick: () => { links.splice(i, 1); changed(); } }, "Delete"))))
        : el("p", { class: "muted" }, "Select a span and press R to relate it to another."));
    }
    const selected = spans.find((s) => s.id === selectedId);
    if (selected) {
      const form = attributeForm(attributeDefs(taxonomy, selected.label), selected.attributes, (values) => {
        selected.attributes = values;
        ctx.onChange();
      }, { legend: `Attributes of “${snippet(selected)}”` });
      if (form.element) parts.push(form.element);
    }
    panel.replaceChildren(...parts);
  }

  function spanItem(s) {
    const classes = [s.id === selectedId && "selected", commented.has(s.id) && "commented"];
    const item = el("li", { class: classes.filter(Boolean).join(" ") || undefined },
      el("button", { type: "button", class: "span-pick", "aria-pressed": String(s.id === selectedId),
        onclick: () => select(s.id) },
        el("span", { class: "swatch", style: `background:${labelColor(taxonomy, s.label)}`, "aria-hidden": "true" }),
        ` ${s.label}: “${snippet(s)}”`),
      " ",
      el("button", { type: "button", class: "link", "aria-label": `Delete span ${snippet(s)}`,
        onclick: () => deleteSpan(s.id) }, "Delete"));
    const note = pinnedNote(ctx.comments, s.id);
    if (note) item.append(note);
    if (review) {
      for (const c of pinned.for(s.id)) {
        item.append(el("p", { class: "pinned-comment mine" }, c.text, " ",
          el("button", { type: "button", class: "link", onclick: () => pinned.remove(pinned.items.indexOf(c)) }, "Remove")));
      }
      item.append(el("button", { type: "button", class: "secondary small",
        onclick: () => comment(s.id) }, "Comment"));
    }
    return item;
  }

  function comment(id) {
    const s = spans.find((x) => x.id === id);
    if (!s) return;
    pinned.add(s.id, `“${snippet(s)}”`, { start: maps.toPoint(s.start), end: maps.toPoint(s.end) });
  }

  function pickLabel(i) {
    activeLabel = i;
    renderPanel();
  }

  // --- input ---

  let dragged = false; // the click that ends a drag selection must not deselect its span
  textBox.addEventListener("mouseup", () => {
    const selection = window.getSelection();
    dragged = false;
    if (!selection.rangeCount || selection.isCollapsed) return;
    const a = offsetOf(selection.anchorNode, selection.anchorOffset);
    const b = offsetOf(selection.focusNode, selection.focusOffset);
    if (a === null || b === null || a === b) return;
    dragged = true;
    selection.removeAllRanges();
    addSpan(Math.min(a, b), Math.max(a, b));
  });

  textBox.addEventListener("click", (event) => {
    if (dragged) {
      dragged = false;
      return;
    }
    if (!window.getSelection().isCollapsed) return;
    const target = event.target.closest?.(".chip, .seg");
    const ids = target?.classList.contains("chip") ? [target.dataset.id] : (target?.dataset.spans || "").split(" ").filter(Boolean);
    const offset = target?.classList.contains("seg")
      ? offsetOf(window.getSelection().focusNode || target, window.getSelection().focusOffset || 0) : null;
    if (offset !== null && offset !== undefined) caret = { anchor: offset, focus: offset };
    select(ids[0] || null);
  });

  textBox.addEventListener("focus", placeCaret);
  textBox.addEventListener("blur", () => { caretMark.hidden = true; });

  function textKey(event) {
    const extend = event.shiftKey;
    const byWord = event.ctrlKey || event.altKey;
    let focus = null;
    if (event.key === "ArrowRight") focus = step(caret.focus, 1, byWord);
    else if (event.key === "ArrowLeft") focus = step(caret.focus, -1, byWord);
    else if (event.key === "Home") focus = event.ctrlKey ? 0 : lineEdge(caret.focus, -1);
    else if (event.key === "End") focus = event.ctrlKey ? text.length : lineEdge(caret.focus, 1);
    if (focus === null) return false;
    caret = { anchor: extend ? caret.anchor : focus, focus };
    showKeyboardSelection();
    return true;
  }

  function onKey(event) {
    if (!root.isConnected) return;
    if (document.activeElement === textBox && !event.metaKey && textKey(event)) {
      event.preventDefault();
      return;
    }
    if (!plainKey(event)) return;
    const index = digitIndex(event);
    const hasSelection = caret.anchor !== caret.focus && document.activeElement === textBox;
    if (index >= 0) {
      if (relationChoice) {
        const type = relationChoice.types[index];
        if (type) addLink(relationChoice.from, relationChoice.to, type.name);
      } else if (index < labels.length) {
        // As in the image and video workspaces: a digit picks the label (and labels the
        // text selected); Shift+digit gives the selected span that label.
        if (event.shiftKey && selectedId && spans.some((s) => s.id === selectedId)) {
          relabel(selectedId, index);
        } else if (hasSelection) {
          activeLabel = index;
          addSpan(Math.min(caret.anchor, caret.focus), Math.max(caret.anchor, caret.focus), index);
        } else {
          pickLabel(index);
        }
      }
      event.preventDefault();
      return;
    }
    const key = event.key;
    if (key === "Enter" && document.activeElement === textBox) {
      event.preventDefault();
      if (hasSelection) addSpan(Math.min(caret.anchor, caret.focus), Math.max(caret.anchor, caret.focus));
      else if (relationFrom && selectedId && selectedId !== relationFrom) finishRelation(selectedId);
      else ctx.submit?.();
    } else if ((key === "Delete" || key === "Backspace") && selectedId) {
      event.preventDefault();
      deleteSpan(selectedId);
    } else if ((key === "r" || key === "R") && selectedId) {
      event.preventDefault();
      startRelation();
    } else if (key === "Escape") {
      relationFrom = null;
      relationChoice = null;
      selectedId = null;
      caret = { anchor: caret.focus, focus: caret.focus };
      message = "";
      render();
    } else if (key === "[" || key === "]") {
      event.preventDefault();
      const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
      if (!sorted.length) return;
      const at = sorted.findIndex((s) => s.id === selectedId);
      const next = key === "]" ? (at + 1) % sorted.length : (at <= 0 ? sorted.length - 1 : at - 1);
      selectedId = sorted[next].id;
      caret = { anchor: sorted[next].start, focus: sorted[next].start };
      render();
      textBox.focus();
    } else if ((key === "a" || key === "A") && suggestions.length) {
      event.preventDefault();
      const target = suggestions.find((s) => s.id === selectedId) || suggestions[0];
      acceptSuggestion(target.id);
    } else if ((key === "c" || key === "C") && review && selectedId) {
      event.preventDefault();
      comment(selectedId);
    }
  }
  window.addEventListener("keydown", onKey);
  render();

  return {
    getResponse() {
      const annotations = [...spans].sort((a, b) => a.start - b.start || a.end - b.end).map((s) => ({
        id: s.id, type: "span", label: s.label, start: maps.toPoint(s.start), end: maps.toPoint(s.end),
        attributes: s.attributes,
      }));
      const ids = new Set(spans.map((s) => s.id));
      return {
        annotations,
        links: links.filter((l) => ids.has(l.from) && ids.has(l.to)),
        global_attributes: globalForm.values(),
      };
    },
    getComments: () => pinned.list(),
    highlight(annotationId) {
      if (!byId(annotationId)) return;
      selectedId = annotationId;
      render();
      textBox.querySelector(".seg.selected")?.scrollIntoView({ block: "center" });
      textBox.focus();
    },
    showError(field) {
      const match = /annotations\[(\d+)\]/.exec(field || "");
      if (match) {
        const sorted = [...spans].sort((a, b) => a.start - b.start || a.end - b.end);
        if (sorted[Number(match[1])]) this.highlight(sorted[Number(match[1])].id);
      }
    },
    focus: () => textBox.focus(),
    shortcuts: [
      [["Shift", "←/→"], "Select text from the caret (Ctrl: by word)"],
      numberKeysRow("Pick the n-th label (and label the selected text with it)"),
      RELABEL_ROW,
      [["Enter"], "Label the selection with the current label"],
      [["[", "]"], "Select the previous / next span"],
      [["R"], "Relate the selected span to another"],
      [["Delete"], "Delete the selected span"],
      [["A"], "Accept a suggestion"],
      ...(review ? [[["C"], "Comment on the selected span"]] : []),
      [["Esc"], "Cancel"],
    ],
    destroy() {
      window.removeEventListener("keydown", onKey);
      arrows.destroy();
      root.remove();
    },
  };
}
