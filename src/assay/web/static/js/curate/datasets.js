// The datasets page (managers and admins): every dataset with its item, annotation and
// prediction counts, and the "New dataset" dialog. A dataset opens in the explorer.

import { api, css, el, navigate, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  emptyState, fetchAll, field, formatDate, openDialog, requiredError, showFieldError,
} from "/static/js/manager/ui.js";

const count = (n) => Number(n || 0).toLocaleString();

export async function renderDatasets(view) {
  css("/static/css/manager.css");
  css("/static/css/curate.css");
  document.title = "Datasets · Assay";
  const header = el("div", { class: "page-header" },
    el("div", {}, el("h1", {}, "Datasets"),
      el("p", { class: "muted" }, "Items with their ground truth and model predictions, to explore, slice and send to labeling.")),
    el("button", { type: "button", class: "primary", onclick: () => createDataset() }, "New dataset"));
  let datasets = [];
  try {
    datasets = await fetchAll("/datasets", 1000);
  } catch (error) {
    if (error.status === 401) throw error;
    toast(`Could not load datasets: ${humanMessage(error)}`, "error");
  }
  if (!datasets.length) {
    view.replaceChildren(header, emptyState("No datasets yet",
      "Create a dataset, then append items to it with the API or the Python SDK.",
      el("button", { type: "button", class: "primary", onclick: () => createDataset() }, "Create a dataset"),
      el("a", { href: "/api/docs", class: "button secondary" }, "API docs")));
    return;
  }
  const rows = datasets.map((dataset) => el("tr", {},
    el("td", {}, el("a", { href: `/datasets/${encodeURIComponent(dataset.id)}`, class: "dataset-name" }, dataset.name),
      dataset.is_scene ? el("span", { class: "badge info" }, "scenes") : null),
    el("td", { class: "right", "data-count": "items" }, count(dataset.item_count)),
    el("td", { class: "right", "data-count": "annotations" }, count(dataset.annotation_count)),
    el("td", { class: "right", "data-count": "predictions" }, count(dataset.prediction_count)),
    el("td", { class: "muted nowrap" }, formatDate(dataset.created_at))));
  view.replaceChildren(header, el("div", { class: "card flush table-wrap" },
    el("table", { class: "table", "aria-label": "Datasets" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Name"), el("th", { class: "right" }, "Items"),
        el("th", { class: "right" }, "Annotations"), el("th", { class: "right" }, "Predictions"),
        el("th", {}, "Created"))),
      el("tbody", {}, rows))));
}

function createDataset() {
  return openDialog("New dataset", (close) => {
    const form = el("form", { class: "form", novalidate: true },
      field("Name", el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" })),
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "is_scene" }),
        "Holds scenes (video, LiDAR) of frames"),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Create dataset")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = { name: String(data.get("name") || "").trim(), is_scene: data.get("is_scene") === "on" };
      if (!body.name) {
        showFieldError(form, requiredError("name"));
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const dataset = await api("/datasets", { method: "POST", body });
        close(dataset);
        toast(`Dataset “${dataset.name}” created`);
        navigate(`/datasets/${encodeURIComponent(dataset.id)}`);
      } catch (error) {
        showFieldError(form, error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  });
}
