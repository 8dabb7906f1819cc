// A dataset's sections, as links under its header: the explorer and the Models page.

import { el } from "/static/js/api.js";

export function datasetTabs(datasetId, current) {
  const base = `/datasets/${encodeURIComponent(datasetId)}`;
  const link = (key, href, text) => el("a", { href, "data-tab": key, "aria-current": key === current ? "page" : null }, text);
  return el("nav", { class: "dataset-tabs", "aria-label": "Dataset sections" },
    link("explore", base, "Explore"), link("models", `${base}/models`, "Models"));
}
