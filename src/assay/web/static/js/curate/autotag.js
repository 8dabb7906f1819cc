// The autotag refinement loop: name an autotag and its space, seeded with the selection
// (or an item) as positive examples; each round (POST /datasets/{id}/autotags) shows the
// best items with their probability, the user marks each positive or negative (a click
// cycles; keys P / N / 0 on a focused tile, arrows move), Refine runs the next round with
// the marks, and Commit stores the scores (…/autotags/{name}/commit) as `autotag.<name>`.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { clearFieldErrors, field, openDialog, plural, requiredError, select, showFieldError } from "/static/js/manager/ui.js";
import { mediaSrc } from "/static/js/curate/shapes.js";

const MARK_TEXT = { positive: "Positive", negative: "Negative", "": "Unmarked" };
const NEXT_MARK = { "": "positive", positive: "negative", negative: "" };
const KEY_MARK = { p: "positive", y: "positive", 1: "positive", n: "negative", 2: "negative", 0: "", Backspace: "" };

// The items of `refs` as the query answers them (for their media), by reference id.
async function itemsOf(base, refs) {
  if (!refs.length) return new Map();
  const answer = await api(`${base}/query`, {
    method: "POST", body: { query: `reference_id IN ${JSON.stringify(refs)}`, view: "items", limit: refs.length },
  });
  return new Map(answer.items.map((item) => [item.reference_id, item]));
}

function tile(match, item, mark, onMark) {
  const img = el("img", { alt: "", loading: "lazy", draggable: "false" });
  const thumb = el("span", { class: "at-thumb" }, item?.kind === "text" ? el("span", { class: "thumb-text" }, String(item.text || "").slice(0, 120)) : img);
  if (item?.media) mediaSrc(item.media).then((src) => { if (src) img.src = src; }, () => {});
  const node = el("button", {
    type: "button", class: `at-tile${mark ? ` ${mark}` : ""}`, "data-reference": match.reference_id, "data-mark": mark,
    "aria-label": `${match.reference_id}, probability ${match.score.toFixed(2)}: ${MARK_TEXT[mark]}`,
    title: "Click: positive → negative → unmarked. Keys: P positive, N negative, 0 clear",
    onclick: () => onMark(NEXT_MARK[mark]),
  }, thumb,
  el("span", { class: "at-caption" }, el("span", { class: "cell-name" }, match.reference_id),
    el("span", { class: "at-score", "data-score": match.score }, match.score.toFixed(2))));
  node.addEventListener("keydown", (event) => {
    if (event.key in KEY_MARK) {
      event.preventDefault();
      onMark(KEY_MARK[event.key], { advance: true });
    }
  });
  return node;
}

// autotagLoop(base, {spaces, space, seeds}) → the committed {autotag, scored}, or null.
export async function autotagLoop(base, { spaces, space, seeds }) {
  return openDialog("Autotag", (close) => {
    const root = el("div", { class: "autotag" });
    const state = { name: "", space, positive: new Set(seeds), negative: new Set(), marks: new Map(), round: null, items: new Map() };

    const nameInput = el("input", { name: "name", maxlength: 100, autocomplete: "off", required: true, placeholder: "e.g. blue_cars", pattern: "[a-z0-9_]+" });
    const spaceChoice = select("space", spaces.map((s) => [s, s]), space);
    const start = el("form", { class: "form", novalidate: true },
      field("Name", nameInput, "Lower-case letters, digits and _; the scores become autotag.<name>."),
      spaces.length > 1 ? field("Space", spaceChoice) : null,
      el("p", { class: "muted small" }, `Starts from ${plural(seeds.length, "positive example")}: ${seeds.slice(0, 5).join(", ")}${seeds.length > 5 ? ", …" : ""}`),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Find candidates")));
    start.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearFieldErrors(start);
      state.name = nameInput.value.trim();
      state.space = spaceChoice.value || space;
      if (!state.name) {
        showFieldError(start, requiredError("name"));
        return;
      }
      await runRound(start);
    });
    root.append(start);

    // Fold the marks into the examples and run a round; `form` shows a refused round's error.
    async function runRound(form) {
      for (const [ref, mark] of state.marks) {
        state.positive.delete(ref);
        state.negative.delete(ref);
        if (mark === "positive") state.positive.add(ref);
        if (mark === "negative") state.negative.add(ref);
      }
      const buttons = [...root.querySelectorAll("button")];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        state.round = await api(`${base}/autotags`, {
          method: "POST",
          body: { name: state.name, space: state.space, positive: [...state.positive], negative: [...state.negative] },
        });
        const missing = state.round.items.map((m) => m.reference_id).filter((ref) => !state.items.has(ref));
        for (const [ref, item] of await itemsOf(base, missing)) state.items.set(ref, item);
      } catch (error) {
        buttons.forEach((b) => { b.disabled = false; });
        if (form) showFieldError(form, error);
        else toast(humanMessage(error), "error");
        return;
      }
      state.marks = new Map();
      for (const ref of state.positive) state.marks.set(ref, "positive");
      for (const ref of state.negative) state.marks.set(ref, "negative");
      renderRound();
    }

    function renderRound() {
      const { autotag, items } = state.round;
      const tiles = el("div", { class: "at-grid", role: "group", "aria-label": "Candidates" });
      const counts = el("p", { class: "at-counts muted small", role: "status" });
      const countText = () => {
        const marks = [...state.marks.values()];
        return `${plural(marks.filter((m) => m === "positive").length, "positive")} · ${plural(marks.filter((m) => m === "negative").length, "negative")} marked`;
      };
      const paint = (index, focus) => {
        const match = items[index];
        const node = tile(match, state.items.get(match.reference_id), state.marks.get(match.reference_id) || "", (mark, { advance } = {}) => {
          if (mark) state.marks.set(match.reference_id, mark);
          else state.marks.delete(match.reference_id);
          paint(index, true);
          counts.textContent = countText();
          if (advance && index + 1 < items.length) tiles.children[index + 1].focus();
        });
        node.addEventListener("keydown", (event) => {
          const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (step) tiles.children[Math.max(0, Math.min(items.length - 1, index + step))]?.focus();
        });
        if (tiles.children[index]) tiles.children[index].replaceWith(node);
        else tiles.append(node);
        if (focus) node.focus();
      };
      items.forEach((_, index) => paint(index, false));
      counts.textContent = countText();
      const commit = async () => {
        try {
          close(await api(`${base}/autotags/${encodeURIComponent(state.name)}/commit`, { method: "POST" }));
        } catch (error) {
          toast(humanMessage(error), "error");
        }
      };
      root.replaceChildren(
        el("p", {}, el("strong", {}, `autotag.${autotag.name}`), ` · round ${autotag.rounds} · space ${autotag.space} · `,
          `${plural(autotag.positive.length, "positive example")}, ${plural(autotag.negative.length, "negative example")}`),
        el("p", { class: "muted small" }, `The ${plural(items.length, "best item")} now, most likely first, with the probability. Mark them, then Refine.`),
        tiles, counts,
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Close"),
          el("button", { type: "button", class: "secondary", onclick: () => runRound(null) }, "Refine"),
          el("button", { type: "button", class: "primary", onclick: commit }, "Commit")));
      queueMicrotask(() => root.closest("dialog")?.classList.add("autotag-dialog"));
    }

    return root;
  });
}
