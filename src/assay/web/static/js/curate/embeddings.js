// Embedding spaces in the explorer: the space the similarity tools use (a choice when the
// dataset has several), computing one when it has none (a job with the tiny-image embedder,
// its progress bar fed from /jobs/{id}), and the items most similar to some items.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { clearFieldErrors, field, openDialog, requiredError, select, showFieldError } from "/static/js/manager/ui.js";

export const SIMILAR_K = 50;
const POLL_MS = 400;
const DONE = new Set(["succeeded", "failed", "cancelled"]);

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
    progress.value = 0;
    progressText.textContent = "Embedding queued…";
    render();
    let current = job;
    try {
      while (!DONE.has(current.status)) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (!element.isConnected) return;
        current = await api(`/jobs/${encodeURIComponent(job.id)}`);
        progress.value = current.progress || 0;
        progressText.textContent = current.progress_message || `Embedding… ${Math.round((current.progress || 0) * 100)}%`;
      }
    } catch (error) {
      current = { status: "failed", error: humanMessage(error) };
    }
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
