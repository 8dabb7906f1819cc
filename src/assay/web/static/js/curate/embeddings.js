// Embedding spaces in the explorer: the space the similarity tools use (a choice when the
// dataset has several), computing one when it has none (a job with the tiny-image embedder,
// its progress bar fed from /jobs/{id}), and the items most similar to some items.

import { api, el, toast } from "/static/js/api.js";
import { clearFieldErrors, field, openDialog, requiredError, select, showFieldError } from "/static/js/manager/ui.js";
import { colorOf } from "/static/js/curate/shapes.js";
import { followJob } from "/static/js/curate/measures.js";

export const SIMILAR_K = 50;
export const MAX_COLOURED = 20_000; // the map colours up to this many points by a field
const MAX_CATEGORIES = 12;

// spacePicker(base, dataset, {onChange(space)}) → {element, space, spaces, compute()}
export function spacePicker(base, dataset, { onChange }) {
  let spaces = Object.keys(dataset.embedding_spaces || {}).sort();
  let space = spaces[0] || "";
  const element = el("div", { class: "space-picker" });
  const progress = el("progress", { max: 1, value: 0, "aria-label": "Computing embeddings" });
  const progressText = el("span", { class: "muted small", role: "status" });
  let running = false;

  function render() {
    if (running) {
      element.replaceChildren(progress, progressText);
    } else if (!spaces.length) {
      element.replaceChildren(el("button", { type: "button", class: "small secondary", onclick: () => compute() }, "Compute embeddings"));
    } else if (spaces.length === 1) {
      element.replaceChildren(el("span", { class: "muted small", title: "Embedding space" }, `Space ${space}`));
    } else {
      const choice = select("space", spaces.map((name) => [name, name]), space, { "aria-label": "Embedding space" });
      choice.addEventListener("change", () => { space = choice.value; onChange(space); });
      element.replaceChildren(el("label", { class: "inline" }, el("span", { class: "muted small" }, "Space"), choice));
    }
  }

  // Ask for a space name, start the job, follow it; the new space is chosen when it is done.
  async function compute() {
    const job = await openDialog("Compute embeddings", (close) => {
      const form = el("form", { class: "form", novalidate: true },
        field("Space", el("input", { name: "space", value: "tiny", maxlength: 64, autocomplete: "off", required: true }),
          "A name for the vectors; the similarity tools, the map and autotags use it."),
        field("Embedder", select("embedder", [["tiny-image", "tiny-image (colour, edges; no model download)"]], "tiny-image")),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Compute")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearFieldErrors(form);
        const data = new FormData(form);
        const name = String(data.get("space") || "").trim();
        if (!name) {
          showFieldError(form, requiredError("space"));
          return;
        }
        try {
          close(await api(`${base}/embeddings/compute`, { method: "POST", body: { space: name, embedder: data.get("embedder") } }));
        } catch (error) {
          showFieldError(form, error);
        }
      });
      return form;
    });
    if (!job) return;
    running = true;
    render();
    const current = await followJob(job, {
      progress, text: progressText, label: "Embedding", alive: () => element.isConnected,
    });
    if (!element.isConnected) return;
    running = false;
    if (current.status !== "succeeded") {
      render();
      toast(`Computing embeddings ${current.status}: ${current.error || ""}`, "error");
      return;
    }
    const fresh = await api(base);
    spaces = Object.keys(fresh.embedding_spaces || {}).sort();
    space = spaces.includes(job.payload?.space) ? job.payload.space : spaces[0] || "";
    render();
    toast(`Embeddings computed: space ${space}`);
    onChange(space);
  }

  render();
  return {
    element,
    compute,
    get space() { return space; },
    get spaces() { return spaces; },
  };
}

// The k items most similar to `referenceIds` (within `query` when set), best first.
export async function findSimilar(base, { space, referenceIds, query, k = SIMILAR_K }) {
  const answer = await api(`${base}/similar`, {
    method: "POST", body: { space, reference_ids: referenceIds, k, query: query || null },
  });
  return answer.items;
}

const valueAt = (row, path) => (path === "tags" ? row.tags?.[0]
  : path.split(".").slice(1).reduce((value, key) => (value == null ? undefined : value[key]), row.metadata));

// Colours for the map's points by `path` (a metadata column, or "tags": the first tag) over
// the matches of `query` (up to MAX_COLOURED): a palette colour per value, or a blue→orange
// ramp for numbers with many values. → {colours: Map(reference id → css), legend: [[text, css]]}
export async function pointColours(base, { query, path }) {
  const values = new Map();
  let cursor = null;
  do {
    const answer = await api(`${base}/query`, {
      method: "POST", body: { query: query || null, view: "items", limit: 1000, cursor },
    });
    for (const row of answer.items) values.set(row.reference_id, valueAt(row, path));
    cursor = answer.next_cursor;
  } while (cursor && values.size < MAX_COLOURED);
  const distinct = [...new Set([...values.values()].filter((v) => v !== undefined && v !== null))];
  const colours = new Map();
  if (distinct.length > MAX_CATEGORIES && distinct.every((v) => typeof v === "number")) {
    const lo = Math.min(...distinct);
    const hi = Math.max(...distinct);
    const ramp = (v) => `hsl(${220 - 190 * ((v - lo) / (hi - lo || 1))}, 75%, 50%)`;
    for (const [ref, v] of values) if (typeof v === "number") colours.set(ref, ramp(v));
    return { colours, legend: [[String(lo), ramp(lo)], [String(hi), ramp(hi)]] };
  }
  const shown = distinct.slice(0, MAX_CATEGORIES).map(String);
  for (const [ref, v] of values) {
    if (v !== undefined && v !== null) colours.set(ref, shown.includes(String(v)) ? colorOf(String(v)) : "#868e96");
  }
  const legend = shown.map((text) => [text, colorOf(text)]);
  if (distinct.length > shown.length) legend.push([`${distinct.length - shown.length} more`, "#868e96"]);
  return { colours, legend };
}
