// Rubric grading: read the conversation and the response, then say for each criterion
// whether the response meets it (1 / Y met, 2 / N not met — number keys pick the n-th
// choice as in every workspace; ↑/↓ or J/K move between criteria; C comments). The rater sees each criterion's text and category only:
// never its points, never a judge's verdict.

import { el } from "/static/js/api.js";
import { digitIndex, newId, PinnedComments, pinnedNote, plainKey } from "/static/js/label/common.js";
import { numberKeysRow } from "/static/js/label/number_keys.js";
import { renderContent, renderPrompt } from "/static/js/label/workspaces/llm.js";

const MET_KEYS = new Set(["y", "m"]);
const NOT_MET_KEYS = new Set(["n"]);

export function mount(container, ctx) {
  const params = ctx.task.params || {};
  const criteria = Array.isArray(params.criteria) ? params.criteria : [];
  const response = Array.isArray(params.responses) ? params.responses[0] : null;
  const review = ctx.mode === "review";
  const seed = ctx.response || ctx.prelabels || null;
  const pinned = new PinnedComments(() => render());
  // criterion id → {id, met, comment}
  const verdicts = new Map();
  for (const a of seed?.annotations || []) {
    if ((a.type || "verdict") === "verdict" && typeof a.met === "boolean") {
      verdicts.set(a.criterion, {
        id: (ctx.response && a.id) || newId(), met: a.met, comment: a.comment || "",
      });
    }
  }
  let current = Math.max(0, criteria.findIndex((c) => !verdicts.has(c.id)));

  const list = el("ol", { class: "rubric-criteria", "aria-label": "Criteria" });
  const status = el("p", { class: "llm-status", role: "status", "aria-live": "polite" });
  const progress = el("p", { class: "muted rubric-progress" });
  const root = el("div", { class: "ws ws-llm ws-rubric_grading" },
    renderPrompt(params),
    el("section", { class: "llm-response", "aria-label": "Response under review" },
      el("h3", {}, "Response"), response ? renderContent(response) : null),
    el("section", { class: "rubric", "aria-label": "Rubric" },
      el("h3", {}, "Does the response meet each criterion?"),
      el("p", { class: "muted hint" },
        "Judge each criterion on its own. 1 or Y met · 2 or N not met · ↑/↓ move · C comment."),
      progress, list),
    status);
  container.append(root);

  function set(index, met) {
    const criterion = criteria[index];
    if (!criterion) return;
    const held = verdicts.get(criterion.id);
    verdicts.set(criterion.id, { id: held?.id || newId(), met, comment: held?.comment || "" });
    ctx.onChange();
    const next = criteria.findIndex((c, i) => i > index && !verdicts.has(c.id));
    current = next >= 0 ? next : Math.min(index + 1, criteria.length - 1);
    render();
    focusRow(current);
    status.textContent = `${criterion.text}: ${met ? "met" : "not met"}`;
  }

  function comment(index) {
    const criterion = criteria[index];
    const held = criterion && verdicts.get(criterion.id);
    const box = list.querySelector(`[data-row="${index}"] textarea`);
    if (!held) {
      status.textContent = "Say met or not met first, then comment.";
      return;
    }
    box?.focus();
  }

  function focusRow(index) {
    const row = list.querySelector(`[data-row="${index}"]`);
    (row?.querySelector("button[aria-pressed='true']") || row?.querySelector("button"))?.focus();
  }

  function render() {
    const done = criteria.filter((c) => verdicts.has(c.id)).length;
    progress.textContent = `${done} of ${criteria.length} graded`;
    list.replaceChildren(...criteria.map((c, i) => {
      const held = verdicts.get(c.id);
      const button = (met, digit, key, text) => el("button", {
        type: "button",
        class: `choice-button${held?.met === met ? " chosen" : ""}`,
        "data-met": String(met),
        "aria-pressed": String(held?.met === met),
        "aria-keyshortcuts": `${digit} ${key}`,
        onclick: () => set(i, met),
      }, el("kbd", { "aria-hidden": "true" }, digit), el("kbd", { "aria-hidden": "true" }, key),
      ` ${text}`);
      const note = el("textarea", {
        rows: 1, class: "rubric-comment", placeholder: "Comment (optional)",
        "aria-label": `Comment on: ${c.text}`, hidden: !held,
      });
      note.value = held?.comment || "";
      note.addEventListener("input", () => {
        const kept = verdicts.get(c.id);
        if (kept) {
          kept.comment = note.value;
          ctx.onChange();
        }
      });
      const row = el("li", {
        class: `criterion rubric-criterion${i === current ? " current" : ""}`,
        "data-row": i, "data-criterion": c.id,
      },
      el("div", { class: "criterion-name" }, c.text,
        c.category ? el("small", { class: "badge" }, c.category) : null),
      el("div", { class: "rubric-choices", role: "group", "aria-label": c.text },
        button(true, "1", "Y", "Met"), button(false, "2", "N", "Not met")),
      note);
      row.addEventListener("focusin", () => {
        if (current === i) return;
        current = i;
        list.querySelectorAll(".criterion.current").forEach((n) => n.classList.remove("current"));
        row.classList.add("current");
      });
      if (held) {
        const pinnedText = pinnedNote(ctx.comments, held.id);
        if (pinnedText) row.append(pinnedText);
        if (review) {
          for (const p of pinned.for(held.id)) row.append(el("p", { class: "pinned-comment mine" }, p.text));
          row.append(el("button", { type: "button", class: "secondary small",
            onclick: () => pinned.add(held.id, c.text) }, "Comment for the labeler"));
        }
      }
      return row;
    }));
  }

  function onKey(event) {
    if (!root.isConnected || !plainKey(event)) return;
    const key = event.key.toLowerCase();
    const digit = digitIndex(event);
    let handled = true;
    if (MET_KEYS.has(key) || digit === 0) set(current, true);
    else if (NOT_MET_KEYS.has(key) || digit === 1) set(current, false);
    else if (key === "arrowdown" || key === "j") {
      current = Math.min(current + 1, criteria.length - 1);
      render();
      focusRow(current);
    } else if (key === "arrowup" || key === "k") {
      current = Math.max(current - 1, 0);
      render();
      focusRow(current);
    } else if (key === "c") comment(current);
    else handled = false;
    if (handled) event.preventDefault();
  }
  window.addEventListener("keydown", onKey);
  render();

  return {
    getResponse: () => ({
      annotations: criteria.filter((c) => verdicts.has(c.id)).map((c) => {
        const held = verdicts.get(c.id);
        const out = { id: held.id, type: "verdict", criterion: c.id, met: held.met };
        if (held.comment.trim()) out.comment = held.comment.trim();
        return out;
      }),
    }),
    getComments: () => pinned.list(),
    highlight: () => focusRow(current),
    focus: () => focusRow(current),
    shortcuts: [numberKeysRow("1 met, 2 not met (the current criterion)"), [["Y"], "Met"],
      [["N"], "Not met"], [["↑", "↓"], "Previous / next criterion"],
      [["C"], "Comment on the current criterion"]],
    destroy() {
      window.removeEventListener("keydown", onKey);
      root.remove();
    },
  };
}
