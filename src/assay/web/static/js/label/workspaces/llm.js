// LLM conversations: rate each response on rubric criteria (number keys), rank N responses
// (drag, or focus one and Alt+↑/↓), or compare two (A / B / T tie / G both good / X both bad).
// Model names are never shown: raters judge the text, not who wrote it.

import { el } from "/static/js/api.js";
import {
  attributeForm, digitIndex, newId, PinnedComments, pinnedNote, plainKey,
} from "/static/js/label/common.js";
import { numberKeysRow } from "/static/js/label/number_keys.js";

const CHOICES = [
  { value: "a", key: "A", text: "A is better", flag: null },
  { value: "b", key: "B", text: "B is better", flag: null },
  { value: "tie", key: "T", text: "Tie", flag: "allow_tie" },
  { value: "both_good", key: "G", text: "Both good", flag: "allow_both_good" },
  { value: "both_bad", key: "X", text: "Both bad", flag: "allow_both_bad" },
];

function contentOf(item) {
  if (typeof item === "string") return item;
  if (!item || typeof item !== "object") return String(item ?? "");
  for (const key of ["content", "text", "response", "output", "completion"]) {
    if (typeof item[key] === "string") return item[key];
  }
  if (Array.isArray(item.messages)) return item.messages;
  return JSON.stringify(item, null, 2);
}

function renderTurns(turns) {
  return el("div", { class: "conversation" }, turns.map((turn) => {
    const role = String(turn?.role || turn?.author || "user");
    const content = contentOf(turn);
    return el("div", { class: `turn turn-${role.replace(/[^a-z]/gi, "")}` },
      el("div", { class: "turn-role" }, role),
      el("div", { class: "llm-text" }, typeof content === "string" ? content : JSON.stringify(content)));
  }));
}

export function renderContent(item) {
  const content = contentOf(item);
  return Array.isArray(content) ? renderTurns(content) : el("div", { class: "llm-text" }, content);
}

export function renderPrompt(params) {
  const turns = params.messages || params.conversation || params.history;
  const parts = [];
  if (typeof params.system === "string") parts.push(el("div", { class: "turn turn-system" },
    el("div", { class: "turn-role" }, "system"), el("div", { class: "llm-text" }, params.system)));
  if (Array.isArray(turns)) parts.push(renderTurns(turns));
  if (params.prompt != null) {
    parts.push(el("div", { class: "turn turn-user" }, el("div", { class: "turn-role" }, "prompt"),
      el("div", { class: "llm-text" }, typeof params.prompt === "string" ? params.prompt
        : JSON.stringify(params.prompt, null, 2))));
  }
  return parts.length ? el("section", { class: "llm-prompt", "aria-label": "Conversation" }, parts) : null;
}

export function mount(container, ctx) {
  const taxonomy = ctx.project.taxonomy || {};
  const params = ctx.task.params || {};
  const responses = Array.isArray(params.responses) ? params.responses : [];
  const review = ctx.mode === "review";
  const seed = ctx.response || ctx.prelabels || null;
  const fromModel = !ctx.response && Boolean(ctx.prelabels);
  const annotations = seed?.annotations || [];
  const pinned = new PinnedComments(() => render());
  let globals = { ...(seed?.global_attributes || {}) };
  const kind = ctx.task.type;

  const body = el("div", { class: "llm-body" });
  const status = el("p", { class: "llm-status", role: "status", "aria-live": "polite" });
  const globalForm = attributeForm(taxonomy.global_attributes || [], globals, (values) => {
    globals = values;
    ctx.onChange();
  }, { legend: "About the whole conversation" });
  const root = el("div", { class: `ws ws-llm ws-${kind}` },
    renderPrompt(params),
    fromModel ? el("p", { class: "badge suggestion" }, "Prefilled from model suggestions — check each one.") : null,
    body, status, globalForm.element);
  container.append(root);

  // Per-mode state and behaviour; each returns {render, key, response, focus, shortcuts}.
  const mode = kind === "llm_ranking" ? ranking() : kind === "llm_comparison" ? comparison() : rating();

  function single(type) {
    const found = annotations.find((a) => a.type === type || (!a.type && type in a));
    return { id: (ctx.response && found?.id) || newId(), found, attributes: found?.attributes || {} };
  }

  function annotationExtras(holder, title) {
    const parts = [];
    const form = attributeForm(taxonomy.attributes || [], holder.attributes, (values) => {
      holder.attributes = values;
      ctx.onChange();
    }, { legend: title });
    if (form.element) parts.push(form.element);
    const note = pinnedNote(ctx.comments, holder.id);
    if (note) parts.push(note);
    if (review) {
      for (const c of pinned.for(holder.id)) parts.push(el("p", { class: "pinned-comment mine" }, c.text));
      parts.push(el("button", { type: "button", class: "secondary small",
        onclick: () => pinned.add(holder.id, title) }, "Comment"));
    }
    return parts;
  }

  // --- rubric rating ---

  function rating() {
    const criteria = taxonomy.criteria || [];
    const count = Math.max(responses.length, 1);
    const values = new Map(); // "r:criterion" → {id, value}
    for (const a of annotations) {
      if ((a.type || "rating") === "rating" && a.criterion != null) {
        values.set(`${a.response_index ?? 0}:${a.criterion}`, { id: (ctx.response && a.id) || newId(), value: a.value });
      }
    }
    const rows = [];
    for (let r = 0; r < count; r++) for (const c of criteria) rows.push({ r, c, key: `${r}:${c.name}` });
    let current = Math.max(0, rows.findIndex((row) => !values.has(row.key)));

    function set(rowIndex, value) {
      const row = rows[rowIndex];
      const held = values.get(row.key);
      values.set(row.key, { id: held?.id || newId(), value });
      ctx.onChange();
      const next = rows.findIndex((x, i) => i > rowIndex && !values.has(x.key));
      current = next >= 0 ? next : Math.min(rowIndex + 1, rows.length - 1);
      render();
      focusRow(current);
      status.textContent = `${row.c.name} of response ${row.r + 1}: ${value}`;
    }

    function focusRow(index) {
      const group = body.querySelector(`[data-row="${index}"]`);
      (group?.querySelector("input:checked") || group?.querySelector("input"))?.focus();
    }

    return {
      render() {
        const sections = [];
        for (let r = 0; r < count; r++) {
          const groups = rows.map((row, i) => [row, i]).filter(([row]) => row.r === r).map(([row, i]) => {
            const c = row.c;
            const held = values.get(row.key);
            const options = [];
            for (let v = c.min; v <= c.max; v++) {
              const caption = c.labels?.[v - c.min];
              options.push(el("label", { class: "scale-option" },
                el("input", { type: "radio", name: `rate-${ctx.task.id}-${row.key}`, value: v,
                  checked: held?.value === v, "aria-label": caption ? `${v} ${caption}` : String(v),
                  onchange: () => set(i, v) }),
                el("span", {}, String(v)), caption ? el("small", {}, caption) : null));
            }
            const group = el("div", {
              class: `criterion${i === current ? " current" : ""}`, role: "radiogroup",
              "aria-label": `${c.name} of response ${r + 1}`, "data-row": i,
            }, el("div", { class: "criterion-name" }, c.name,
              c.description ? el("small", { class: "muted" }, c.description) : null),
            el("div", { class: "scale" }, options));
            group.addEventListener("focusin", () => {
              if (current !== i) {
                current = i;
                body.querySelectorAll(".criterion.current").forEach((n) => n.classList.remove("current"));
                group.classList.add("current");
              }
            });
            if (held) {
              const note = pinnedNote(ctx.comments, held.id);
              if (note) group.append(note);
            }
            return group;
          });
          const first = values.get(`${r}:${criteria[0]?.name}`);
          const extras = [];
          if (review) {
            const target = first?.id;
            for (const c of target ? pinned.for(target) : []) extras.push(el("p", { class: "pinned-comment mine" }, c.text));
            if (target) extras.push(el("button", { type: "button", class: "secondary small",
              onclick: () => pinned.add(target, `response ${r + 1}`) }, `Comment on response ${r + 1}`));
          }
          sections.push(el("section", { class: "llm-response", "aria-label": `Response ${r + 1}` },
            el("h3", {}, count > 1 ? `Response ${r + 1}` : "Response"),
            responses.length ? renderContent(responses[r]) : null,
            el("div", { class: "criteria" }, groups), extras));
        }
        body.replaceChildren(el("div", { class: `responses count-${Math.min(count, 3)}` }, sections));
      },
      key(event) {
        const index = digitIndex(event);
        const zero = event.key === "0" ? 0 : -1;
        const value = index >= 0 ? index + 1 : zero;
        const row = rows[current];
        if (value < 0 || !row) return false;
        if (value < row.c.min || value > row.c.max) {
          status.textContent = `${row.c.name} takes ${row.c.min}–${row.c.max}`;
          return true;
        }
        set(current, value);
        return true;
      },
      response: () => rows.filter((row) => values.has(row.key)).map((row) => ({
        id: values.get(row.key).id, type: "rating", criterion: row.c.name,
        value: values.get(row.key).value, response_index: row.r,
      })),
      focus: () => focusRow(current),
      shortcuts: [numberKeysRow("Rate the highlighted criterion n, the n-th point of a 1-based scale (then the next)"),
        [["Tab"], "Next criterion"], [["←", "→"], "Change the rating"]],
    };
  }

  // --- ranking ---

  function ranking() {
    const holder = single("ranking");
    const n = responses.length;
    const given = holder.found?.order;
    let order = Array.isArray(given) && given.length === n ? [...given] : [...Array(n).keys()];
    let drag = null;

    function move(position, to) {
      if (to < 0 || to >= n || to === position) return;
      const [item] = order.splice(position, 1);
      order.splice(to, 0, item);
      ctx.onChange();
      render();
      body.querySelector(`[data-index="${item}"]`)?.focus();
      status.textContent = `Response ${item + 1} is now #${to + 1}`;
    }

    function startDrag(event, li) {
      if (event.button !== 0 || event.target.closest("button")) return;
      event.preventDefault();
      drag = { li, moved: false };
      li.classList.add("dragging");
      window.addEventListener("pointermove", dragMove);
      window.addEventListener("pointerup", dragEnd, { once: true });
    }

    function dragMove(event) {
      if (!drag) return;
      const list = body.querySelector(".rank-list");
      const items = [...list.children].filter((x) => x !== drag.li);
      const before = items.find((x) => {
        const box = x.getBoundingClientRect();
        return event.clientY < box.top + box.height / 2;
      });
      if (before !== drag.li.nextSibling || (!before && list.lastChild !== drag.li)) {
        list.insertBefore(drag.li, before || null);
        drag.moved = true;
      }
    }

    function dragEnd() {
      window.removeEventListener("pointermove", dragMove);
      if (!drag) return;
      const list = body.querySelector(".rank-list");
      const next = [...list.children].map((x) => Number(x.dataset.index));
      const item = Number(drag.li.dataset.index);
      drag = null;
      if (next.join() !== order.join()) {
        order = next;
        ctx.onChange();
        status.textContent = `Response ${item + 1} is now #${order.indexOf(item) + 1}`;
      }
      render();
      body.querySelector(`[data-index="${item}"]`)?.focus();
    }

    return {
      render() {
        const items = order.map((index, position) => {
          const li = el("li", { class: "rank-item", tabindex: "0", "data-index": index,
            "aria-label": `Response ${index + 1}, ranked ${position + 1} of ${n}` },
          el("div", { class: "rank-head" },
            el("span", { class: "grip", title: "Drag to reorder", "aria-hidden": "true" }, "⠿"),
            el("span", { class: "rank-pos" }, `#${position + 1}`),
            el("h3", {}, `Response ${index + 1}`),
            el("span", { class: "rank-buttons" },
              el("button", { type: "button", class: "secondary small", disabled: position === 0,
                "aria-label": `Move response ${index + 1} up`, onclick: () => move(position, position - 1) }, "↑"),
              el("button", { type: "button", class: "secondary small", disabled: position === n - 1,
                "aria-label": `Move response ${index + 1} down`, onclick: () => move(position, position + 1) }, "↓"))),
          renderContent(responses[index]));
          li.querySelector(".rank-head").addEventListener("pointerdown", (e) => startDrag(e, li));
          li.addEventListener("keydown", (event) => {
            if (event.target !== li) return;
            const at = order.indexOf(index);
            if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
              event.preventDefault();
              move(at, at + (event.key === "ArrowUp" ? -1 : 1));
            } else if (!event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
              event.preventDefault();
              const sibling = event.key === "ArrowUp" ? li.previousElementSibling : li.nextElementSibling;
              sibling?.focus();
            }
          });
          return li;
        });
        body.replaceChildren(
          el("p", { class: "muted hint" }, "Best first. Drag a response, or focus it and press Alt+↑/↓ (or its number)."),
          el("ol", { class: "rank-list", "aria-label": "Ranking, best first" }, items),
          ...annotationExtras(holder, "Ranking"));
      },
      key(event) {
        const index = digitIndex(event);
        const li = document.activeElement?.closest?.(".rank-item");
        if (index < 0 || !li || index >= n) return false;
        move(order.indexOf(Number(li.dataset.index)), index);
        return true;
      },
      response: () => [{ id: holder.id, type: "ranking", order: [...order], attributes: holder.attributes }],
      focus: () => body.querySelector(".rank-item")?.focus(),
      shortcuts: [[["↑", "↓"], "Focus the previous / next response"],
        [["Alt", "↑/↓"], "Move the focused response up / down"],
        numberKeysRow("Move the focused response to rank n")],
    };
  }

  // --- pairwise comparison ---

  function comparison() {
    const holder = single("comparison");
    const allowed = CHOICES.filter((c) => !c.flag || taxonomy[c.flag] !== false);
    let choice = holder.found?.choice || null;

    function pick(value) {
      choice = value;
      ctx.onChange();
      render();
      body.querySelector(`button[data-choice="${value}"]`)?.focus();
      status.textContent = `Chosen: ${allowed.find((c) => c.value === value)?.text}`;
    }

    return {
      render() {
        const side = (i, name) => el("section", { class: "llm-response", "aria-label": `Response ${name}` },
          el("h3", {}, `Response ${name}`), renderContent(responses[i]));
        body.replaceChildren(
          el("div", { class: "responses count-2" }, side(0, "A"), side(1, "B")),
          el("div", { class: "compare-choices", role: "group", "aria-label": "Which response is better?" },
            allowed.map((c, i) => el("button", {
              type: "button", class: `choice-button${choice === c.value ? " chosen" : ""}`,
              "data-choice": c.value, "aria-pressed": String(choice === c.value),
              "aria-keyshortcuts": `${i + 1} ${c.key}`, onclick: () => pick(c.value),
            }, el("kbd", { "aria-hidden": "true" }, String(i + 1)), el("kbd", { "aria-hidden": "true" }, c.key),
            ` ${c.text}`))),
          ...annotationExtras(holder, "Comparison"));
      },
      key(event) {
        const index = digitIndex(event);
        const found = index >= 0 ? allowed[index] : allowed.find((c) => c.key === event.key.toUpperCase());
        if (!found) return false;
        pick(found.value);
        return true;
      },
      response: () => (choice ? [{ id: holder.id, type: "comparison", choice, attributes: holder.attributes }] : []),
      focus: () => (body.querySelector(".choice-button.chosen") || body.querySelector(".choice-button"))?.focus(),
      shortcuts: [numberKeysRow("Pick the n-th choice"), ...allowed.map((c) => [[c.key], c.text])],
    };
  }

  function render() {
    mode.render();
  }

  function onKey(event) {
    if (!root.isConnected || !plainKey(event)) return;
    if (mode.key(event)) event.preventDefault();
  }
  window.addEventListener("keydown", onKey);
  render();

  return {
    getResponse: () => ({ annotations: mode.response(), global_attributes: globalForm.values() }),
    getComments: () => pinned.list(),
    highlight() {
      mode.focus();
    },
    focus: () => mode.focus(),
    shortcuts: mode.shortcuts,
    destroy() {
      window.removeEventListener("keydown", onKey);
      root.remove();
    },
  };
}
