// Near-duplicates, uniqueness and text search in the explorer. "Duplicates…" starts the job
// (POST /datasets/{id}/duplicates, a threshold asked first) and "Uniqueness" its own
// (…/uniqueness); both show their progress from /jobs/{id}, then hand the explorer a query
// and a sort: near-duplicates side by side (`duplicates.count > 1`, by `duplicates.group`),
// or the most unique first (`-uniqueness`). Text search (…/similar with `text`) shows where
// the space's embedder has a text tower.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { clearFieldErrors, field, openDialog, showFieldError } from "/static/js/manager/ui.js";

export const MEASURE_FIELDS = ["uniqueness", "duplicates.group", "duplicates.count"];
const POLL_MS = 400;
const DONE = new Set(["succeeded", "failed", "cancelled"]);

// Follow `job` until it ends, feeding `progress` (a <progress>) and `text`; → the last state.
export async function followJob(job, { progress, text, label, alive = () => true }) {
  let current = job;
  progress.value = 0;
  text.textContent = `${label} queued…`;
  try {
    while (!DONE.has(current.status)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (!alive()) return current;
      current = await api(`/jobs/${encodeURIComponent(job.id)}`);
      progress.value = current.progress || 0;
      text.textContent = current.progress_message || `${label}… ${Math.round((current.progress || 0) * 100)}%`;
    }
  } catch (error) {
    current = { status: "failed", error: humanMessage(error) };
  }
  return current;
}

async function askThreshold() {
  return openDialog("Find near-duplicates", (close) => {
    const form = el("form", { class: "form", novalidate: true },
      field("Threshold", el("input", { name: "threshold", type: "number", value: "0.05", min: "0", max: "1", step: "0.01", required: true }),
        "The largest cosine distance between two items that count as near-duplicates (0: identical)."),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Find")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearFieldErrors(form);
      const value = Number(new FormData(form).get("threshold"));
      if (!Number.isFinite(value) || value < 0 || value > 1) {
        showFieldError(form, { field: "threshold", message: "a cosine distance between 0 and 1" });
        return;
      }
      close(value);
    });
    return form;
  });
}

// measureTools(base, {space: () => name, onDone({query, sort})}) → {element, render()}
export function measureTools(base, { space, onDone }) {
  const element = el("div", { class: "measure-tools", role: "group", "aria-label": "Dataset analyses" });
  const progress = el("progress", { max: 1, value: 0, "aria-label": "Analysis progress" });
  const progressText = el("span", { class: "muted small", role: "status" });
  let running = false;

  async function start(kind) {
    const body = { space: space() };
    if (kind === "duplicates") {
      const threshold = await askThreshold();
      if (threshold === null || threshold === undefined) return;
      body.threshold = threshold;
    }
    let job;
    try {
      job = await api(`${base}/${kind}`, { method: "POST", body });
    } catch (error) {
      toast(humanMessage(error), "error");
      return;
    }
    running = true;
    render();
    const label = kind === "duplicates" ? "Finding near-duplicates" : "Scoring uniqueness";
    const done = await followJob(job, { progress, text: progressText, label, alive: () => element.isConnected });
    running = false;
    render();
    if (done.status !== "succeeded") {
      toast(`${label} ${done.status}: ${done.error || ""}`, "error");
      return;
    }
    if (kind === "duplicates") {
      const { groups, duplicated_items: items } = done.result;
      toast(`${groups.toLocaleString()} groups of near-duplicates (${items.toLocaleString()} items)`);
      onDone({ query: "duplicates.count > 1", sort: "duplicates.group" });
    } else {
      toast(`Uniqueness scored for ${done.result.items.toLocaleString()} items`);
      onDone({ query: "", sort: "-uniqueness" });
    }
  }

  function render() {
    if (running) element.replaceChildren(progress, progressText);
    else if (!space()) element.replaceChildren();
    else {
      element.replaceChildren(
        el("button", { type: "button", class: "small secondary", onclick: () => start("duplicates") }, "Duplicates…"),
        el("button", { type: "button", class: "small secondary", onclick: () => start("uniqueness") }, "Uniqueness"));
    }
  }

  render();
  return { element, render };
}

// textSearch(base, {dataset, space: () => name, query: () => text, onFound(text, matches), onQueryError})
// → {element, render(dataset)}: an input shown when the space's embedder has a text tower.
export function textSearch(base, { space, query, onFound, onQueryError, k = 50 }) {
  const input = el("input", { type: "search", name: "text", placeholder: "Search by text…", "aria-label": "Search by text", maxlength: 2000 });
  const element = el("form", { class: "text-search", role: "search", "aria-label": "Text search", hidden: true },
    input, el("button", { type: "submit", class: "small secondary" }, "Search"));
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      const answer = await api(`${base}/similar`, {
        method: "POST", body: { space: space(), text, k, query: query() || null },
      });
      onFound(text, answer.items);
    } catch (error) {
      if (error.field === "query") onQueryError(error);
      else toast(`Could not search by text: ${humanMessage(error)}`, "error");
    }
  });
  return {
    element,
    render(dataset) {
      element.hidden = !dataset.embedding_spaces?.[space()]?.text_search;
    },
  };
}
