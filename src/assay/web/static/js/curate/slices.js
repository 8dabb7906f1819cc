// Slices in the explorer's sidebar: the dataset's slices (a click filters to one), a new slice
// from the selected items or from the query (frozen now, or dynamic, following the data), and
// "Send to labeling" — a batch in a labeling project, a model's predictions as pre-labels —
// with what each send sent and what came back.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  clearFieldErrors, confirmDialog, fetchAll, field, formatDate, openDialog, plural, requiredError, select, showFieldError,
} from "/static/js/manager/ui.js";

const KIND_WORDS = { static: "static", dynamic: "dynamic" };

// slicesPanel(datasetId, {query() → text, selection() → [reference ids], onFilter(slice)})
export function slicesPanel(datasetId, { query, selection, onFilter }) {
  const base = `/datasets/${encodeURIComponent(datasetId)}`;
  const list = el("ul", { class: "slice-list", "aria-label": "Slices" });
  const links = el("ul", { class: "link-list", "aria-label": "Sent to labeling" });
  const element = el("div", { class: "slices" },
    el("section", { class: "facet-section" },
      el("div", { class: "facet-section-head" }, el("h3", {}, "Slices"),
        el("button", { type: "button", class: "small secondary", onclick: () => createSlice() }, "New slice")),
      list),
    el("section", { class: "facet-section" }, el("h3", {}, "Sent to labeling"), links));

  async function reload() {
    try {
      const [slices, sent] = await Promise.all([fetchAll(`${base}/slices`, 500), fetchAll(`${base}/labeling`, 200)]);
      list.replaceChildren(...(slices.length ? slices.map(sliceRow)
        : [el("li", { class: "muted small" }, "No slices yet: select items or write a query, then New slice.")]));
      links.replaceChildren(...(sent.length ? sent.map(linkRow) : [el("li", { class: "muted small" }, "Nothing sent yet.")]));
    } catch (error) {
      if (error.status === 401) throw error;
      list.replaceChildren(el("li", { class: "error small" }, humanMessage(error)));
    }
  }

  function sliceRow(slice) {
    return el("li", { class: "slice", "data-slice": slice.id },
      el("button", { type: "button", class: "facet", title: "Show its items", onclick: () => onFilter(slice) },
        el("span", { class: "facet-name" }, slice.name),
        el("span", { class: "badge" }, KIND_WORDS[slice.kind] || slice.kind)),
      el("button", {
        type: "button", class: "small ghost", "aria-label": `Send ${slice.name} to labeling`,
        onclick: () => sendSlice(slice),
      }, "Send…"),
      el("button", {
        type: "button", class: "small ghost danger icon", "aria-label": `Delete ${slice.name}`, title: "Delete the slice",
        onclick: () => deleteSlice(slice),
      }, "×"));
  }

  async function deleteSlice(slice) {
    const sure = await confirmDialog("Delete slice",
      `Delete the slice “${slice.name}”? Its items stay in the dataset.`, "Delete", true);
    if (!sure) return;
    try {
      await api(`${base}/slices/${encodeURIComponent(slice.id)}`, { method: "DELETE" });
      toast(`Slice “${slice.name}” deleted`);
    } catch (error) {
      toast(`Could not delete the slice: ${humanMessage(error)}`, "error");
    }
    await reload();
  }

  function linkRow(link) {
    const name = el("a", { href: `/projects/${encodeURIComponent(link.project_id)}` }, `Batch ${link.batch_id.slice(-6)}`);
    // The batch's own name, when it can be read (it may have been deleted since).
    api(`/batches/${encodeURIComponent(link.batch_id)}`).then((batch) => { name.textContent = batch.name; }, () => {});
    return el("li", { class: "link", "data-link": link.id },
      name,
      el("span", { class: "small", "data-sent": link.sent, "data-returned": link.returned },
        ` sent ${link.sent.toLocaleString()} · returned ${link.returned.toLocaleString()}`),
      link.done ? el("span", { class: "badge ok" }, "done") : null,
      el("span", { class: "muted small block" }, formatDate(link.created_at)));
  }

  async function createSlice() {
    const chosen = selection();
    const text = query();
    const created = await openDialog("New slice", (close) => {
      const source = select("source", [
        ["selection", `The ${plural(chosen.length, "selected item")}`],
        ["frozen", "The items the query matches now (static)"],
        ["dynamic", "The query, following the data (dynamic)"],
      ], chosen.length ? "selection" : "frozen");
      if (!chosen.length) source.querySelector('option[value="selection"]').disabled = true;
      const form = el("form", { class: "form", novalidate: true },
        field("Name", el("input", { name: "name", required: true, maxlength: 200, autocomplete: "off" })),
        field("Items", source, text ? `Query: ${text}` : "No query: every item of the dataset."),
        el("input", { type: "hidden", name: "query", "data-field": "query" }),
        el("input", { type: "hidden", name: "reference_ids", "data-field": "reference_ids" }),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary" }, "Create slice")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearFieldErrors(form);
        const name = String(new FormData(form).get("name") || "").trim();
        if (!name) {
          showFieldError(form, requiredError("name"));
          return;
        }
        const body = { name };
        if (source.value === "selection") Object.assign(body, { kind: "static", reference_ids: chosen });
        else Object.assign(body, { kind: source.value === "dynamic" ? "dynamic" : "static", query: text });
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          close(await api(`${base}/slices`, { method: "POST", body }));
        } catch (error) {
          showFieldError(form, error);
        } finally {
          button.disabled = false;
        }
      });
      return form;
    });
    if (created) {
      toast(`Slice “${created.name}” created with ${plural(created.item_count ?? 0, "item")}`);
      await reload();
    }
  }

  async function sendSlice(slice) {
    let projects = [];
    try {
      projects = (await fetchAll("/projects", 500)).filter((project) => !project.archived);
    } catch (error) {
      toast(`Could not load projects: ${humanMessage(error)}`, "error");
      return;
    }
    const link = await openDialog(`Send “${slice.name}” to labeling`, (close) => {
      const form = el("form", { class: "form", novalidate: true },
        projects.length
          ? field("Project", select("project_id", projects.map((p) => [p.id, p.name]), projects[0].id))
          : el("p", { class: "error" }, "There is no project to send to: create a labeling project first."),
        field("Batch name", el("input", {
          name: "batch_name", required: true, maxlength: 200, autocomplete: "off", value: `${slice.name}`,
        })),
        field("Model (optional)", el("input", { name: "model_id", maxlength: 24, autocomplete: "off", placeholder: "model id" }),
          "Its predictions become the tasks' pre-labels."),
        el("div", { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
          el("button", { type: "submit", class: "primary", disabled: !projects.length }, "Send")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const body = {
          project_id: data.get("project_id"),
          batch_name: String(data.get("batch_name") || "").trim(),
          model_id: String(data.get("model_id") || "").trim() || null,
        };
        if (!body.batch_name) {
          showFieldError(form, requiredError("batch_name"));
          return;
        }
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          close(await api(`${base}/slices/${encodeURIComponent(slice.id)}/send`, { method: "POST", body }));
        } catch (error) {
          showFieldError(form, error);
        } finally {
          button.disabled = false;
        }
      });
      return form;
    });
    if (link) {
      toast(`Sent ${plural(link.sent, "item")} to labeling`);
      await reload();
    }
  }

  return { element, reload, createSlice };
}
