// Taxonomy tab: a visual editor (labels with geometries and colors; attributes on labels, on
// every annotation, on the whole task and on links, with types and conditions; links; LLM
// criteria and options) side by side with the JSON it edits. Both views edit one object;
// every edit is checked at once (taxonomy_check.js) and the server checks it again on save,
// its field-named errors shown on the control they name.

import { api, el, toast } from "/static/js/api.js";
import { fieldWords, humanMessage } from "/static/js/errors.js";
import {
  attributeList, bindValue, checkbox, control, edgeList, textList,
} from "/static/js/manager/taxonomy_attrs.js";
import { GEOMETRIES, LINKABLE, LLM, UNLABELED, checkTaxonomy } from "/static/js/manager/taxonomy_check.js";
import { guardUnsaved } from "/static/js/manager/unsaved.js";
import { colorAt } from "/static/js/palette.js";

const clone = (value) => JSON.parse(JSON.stringify(value ?? {}));

export function render(panel, ctx) {
  const taskType = ctx.project.task_type;
  let saved = clone(ctx.project.taxonomy);
  let state = clone(saved);
  let jsonBroken = null;
  let serverProblem = null;

  const visual = el("div", { class: "tx-visual" });
  const json = el("textarea", { class: "tx-json mono", spellcheck: "false", "aria-label": "Taxonomy JSON" });
  const jsonError = el("p", { class: "field-error", role: "alert", hidden: true });
  const summary = el("div", { class: "tx-summary", "aria-live": "polite" });
  const save = el("button", { type: "button", class: "primary" }, "Save taxonomy");
  const revert = el("button", { type: "button", class: "secondary" }, "Revert");

  // Every visual edit calls this; `rebuild` repaints the visual editor (structure changed).
  function changed({ rebuild = false, fromJson = false } = {}) {
    serverProblem = null;
    if (rebuild) paintVisual();
    if (!fromJson) {
      json.value = JSON.stringify(state, null, 2);
      jsonBroken = null;
      jsonError.hidden = true;
    }
    validate();
  }

  // A problem in words: "Choices of task attribute “scene”: …", never a JSON path.
  function said(problem) {
    if (problem.server) return problem.message;
    const subject = fieldWords(problem.field, { taxonomy: state });
    return subject ? `${subject}: ${problem.message}` : problem.message;
  }

  function validate() {
    const problems = jsonBroken ? [] : checkTaxonomy(state, taskType);
    if (serverProblem) problems.unshift({ ...serverProblem, server: true });
    visual.querySelectorAll(".field-error").forEach((node) => node.remove());
    visual.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    for (const problem of problems) {
      const target = controlFor(visual, problem.field);
      if (!target) continue;
      target.setAttribute("aria-invalid", "true");
      (target.closest(".field, .tx-check-group") || target).after(
        el("p", { class: "field-error", role: problem.server ? "alert" : null }, said(problem)));
    }
    const dirty = JSON.stringify(state) !== JSON.stringify(saved);
    const blocking = jsonBroken || problems.some((p) => !p.server);
    save.disabled = !dirty || Boolean(blocking);
    revert.disabled = !dirty;
    if (jsonBroken) {
      summary.replaceChildren(el("span", { class: "badge danger" }, "JSON error"), " Fix the JSON to continue.");
    } else if (problems.length) {
      summary.replaceChildren(
        el("span", { class: "badge danger" }, `${problems.length} problem${problems.length === 1 ? "" : "s"}`),
        el("ul", { class: "tx-problem-list" }, problems.slice(0, 6).map((p) => el("li", {},
          el("button", {
            type: "button", class: "link",
            onclick: () => controlFor(visual, p.field)?.focus(),
          }, said(p))))));
    } else {
      summary.replaceChildren(el("span", { class: "badge ok" }, "Valid"),
        el("span", { class: "muted small" }, dirty ? " Unsaved changes" : " Saved"));
    }
  }

  json.addEventListener("input", () => {
    try {
      const parsed = JSON.parse(json.value);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the taxonomy must be a JSON object");
      state = parsed;
      jsonBroken = null;
      jsonError.hidden = true;
      json.removeAttribute("aria-invalid");
      changed({ rebuild: true, fromJson: true });
    } catch (error) {
      jsonBroken = error.message;
      jsonError.textContent = `JSON: ${error.message}`;
      jsonError.hidden = false;
      json.setAttribute("aria-invalid", "true");
      validate();
    }
  });

  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      const project = await api(`/projects/${encodeURIComponent(ctx.project.id)}`, { method: "PATCH", body: { taxonomy: state } });
      ctx.setProject(project);
      saved = clone(project.taxonomy);
      state = clone(project.taxonomy); // the server fills defaults (e.g. geometries)
      changed({ rebuild: true });
      toast("Taxonomy saved");
    } catch (error) {
      serverProblem = { field: error.field || "taxonomy", message: humanMessage(error, { taxonomy: state }) };
      validate();
      controlFor(visual, serverProblem.field)?.focus();
    }
  });
  revert.addEventListener("click", () => {
    state = clone(saved);
    changed({ rebuild: true });
  });

  function paintVisual() {
    const sections = [];
    if (!UNLABELED.has(taskType)) sections.push(labelsSection());
    sections.push(section("Attributes on every annotation", "Asked for each annotation, whatever its label.",
      attributeList(state, "attributes", "taxonomy.attributes", () => [], changed)));
    sections.push(section("Task attributes", "Asked once per task (global attributes).",
      attributeList(state, "global_attributes", "taxonomy.global_attributes", () => [], changed)));
    if (LINKABLE.has(taskType)) sections.push(linksSection());
    if (taskType === "llm_rating") sections.push(criteriaSection());
    const options = optionsSection();
    if (options) sections.push(options);
    visual.replaceChildren(...sections);
  }

  function labelsSection() {
    const labels = state.labels || [];
    const allowed = GEOMETRIES[taskType] || [];
    const cards = labels.map((label, i) => {
      const path = `taxonomy.labels[${i}]`;
      const name = control("input", `${path}.name`, `Label ${i + 1} name`, { value: label.name ?? "", class: "tx-name" });
      let previous = label.name;
      name.addEventListener("input", () => {
        label.name = name.value;
        renameInLinks(previous, name.value);
        previous = name.value;
        changed();
      });
      const color = control("input", `${path}.color`, `Label ${i + 1} color`, {
        type: "color", value: colorAt(labels, i), // the workspaces' colour for it (js/palette.js)
      });
      color.addEventListener("input", () => { label.color = color.value; changed(); });
      const geometry = allowed.length > 1 ? el("fieldset", { class: "tx-check-group", "data-field": `${path}.geometries` },
        el("legend", {}, "Geometries ", el("span", { class: "muted small" }, "(none checked: all but keypoints)")),
        allowed.map((g) => checkbox(g, (label.geometries || []).includes(g), (on) => {
          const set = new Set(label.geometries || []);
          if (on) set.add(g);
          else set.delete(g);
          label.geometries = allowed.filter((x) => set.has(x));
          if (!label.geometries.length) delete label.geometries;
          changed({ rebuild: g === "keypoints" });
        }, `Label ${i + 1} geometry ${g}`))) : null;
      const hasKeypoints = (label.geometries || []).includes("keypoints");
      const keypoints = hasKeypoints
        ? textList(label, "keypoints", `${path}.keypoints`, `Label ${i + 1} keypoints`, "Keypoint names, one per line", changed)
        : null;
      const skeleton = hasKeypoints
        ? edgeList(label, `${path}.skeleton`, `Label ${i + 1} skeleton`, "Skeleton: edges “name - name”, one per line", changed)
        : null;
      return el("li", { class: "tx-card" },
        el("div", { class: "tx-card-head" }, color, el("label", { class: "field grow" },
          el("span", { class: "field-label" }, "Name"), name),
        moveButtons(labels, i, `label ${i + 1}`)),
        geometry, keypoints, skeleton,
        bindValue(label, "description", `${path}.description`, `Label ${i + 1} description`, "Description", changed),
        el("details", { class: "tx-sub", open: (label.attributes || []).length > 0 },
          el("summary", {}, `Attributes of this label (${(label.attributes || []).length})`),
          attributeList(label, "attributes", `${path}.attributes`, () => state.attributes || [], changed)));
    });
    return section("Labels", labelHelp(taskType), el("ol", { class: "tx-list", "data-field": "taxonomy.labels" }, cards),
      el("button", {
        type: "button", class: "secondary",
        onclick: () => {
          const labels = (state.labels ||= []);
          // No colour of its own: it takes the palette's by position, as in the workspaces.
          labels.push({ name: `label ${labels.length + 1}` });
          changed({ rebuild: true });
          visual.querySelector(`[data-field="taxonomy.labels[${labels.length - 1}].name"]`)?.select();
        },
      }, "Add label"));
  }

  function renameInLinks(before, after) {
    for (const link of state.links || []) {
      for (const side of ["from_labels", "to_labels"]) {
        if (Array.isArray(link[side])) link[side] = link[side].map((n) => (n === before ? after : n));
      }
    }
  }

  function moveButtons(items, i, what) {
    const move = (delta) => {
      const j = i + delta;
      if (j < 0 || j >= items.length) return;
      [items[i], items[j]] = [items[j], items[i]];
      changed({ rebuild: true });
    };
    return el("div", { class: "tx-card-actions" },
      el("button", { type: "button", class: "ghost icon", "aria-label": `Move ${what} up`, disabled: i === 0, onclick: () => move(-1) }, "↑"),
      el("button", { type: "button", class: "ghost icon", "aria-label": `Move ${what} down`, disabled: i === items.length - 1, onclick: () => move(1) }, "↓"),
      el("button", {
        type: "button", class: "ghost icon danger", "aria-label": `Remove ${what}`,
        onclick: () => { items.splice(i, 1); changed({ rebuild: true }); },
      }, "×"));
  }

  function linksSection() {
    const links = state.links || [];
    const labelNames = (state.labels || []).map((l) => l.name).filter(Boolean);
    const cards = links.map((link, i) => {
      const path = `taxonomy.links[${i}]`;
      const ends = (side, title) => el("fieldset", { class: "tx-check-group", "data-field": `${path}.${side}` },
        el("legend", {}, title, " ", el("span", { class: "muted small" }, "(none: any label)")),
        labelNames.map((name) => checkbox(name, (link[side] || []).includes(name), (on) => {
          const set = new Set(link[side] || []);
          if (on) set.add(name);
          else set.delete(name);
          link[side] = labelNames.filter((n) => set.has(n));
          if (!link[side].length) delete link[side];
          changed();
        }, `Link ${i + 1} ${side === "from_labels" ? "from" : "to"} ${name}`)));
      return el("li", { class: "tx-card" },
        el("div", { class: "tx-card-head" },
          bindValue(link, "name", `${path}.name`, `Link ${i + 1} name`, "Name", changed, { required: true }),
          moveButtons(links, i, `link ${i + 1}`)),
        el("div", { class: "grid-2" }, ends("from_labels", "From"), ends("to_labels", "To")),
        bindValue(link, "description", `${path}.description`, `Link ${i + 1} description`, "Description", changed),
        el("details", { class: "tx-sub", open: (link.attributes || []).length > 0 },
          el("summary", {}, `Attributes of this link (${(link.attributes || []).length})`),
          attributeList(link, "attributes", `${path}.attributes`, () => [], changed)));
    });
    return section("Links", "Relations between two annotations (e.g. “rides” from person to bike).",
      el("ol", { class: "tx-list", "data-field": "taxonomy.links" }, cards),
      el("button", {
        type: "button", class: "secondary",
        onclick: () => { (state.links ||= []).push({ name: `link ${(state.links || []).length + 1}` }); changed({ rebuild: true }); },
      }, "Add link"));
  }

  function criteriaSection() {
    const criteria = state.criteria || [];
    const cards = criteria.map((criterion, i) => {
      const path = `taxonomy.criteria[${i}]`;
      return el("li", { class: "tx-card" },
        el("div", { class: "tx-card-head" },
          bindValue(criterion, "name", `${path}.name`, `Criterion ${i + 1} name`, "Name", changed, { required: true }),
          moveButtons(criteria, i, `criterion ${i + 1}`)),
        el("div", { class: "grid-3" },
          bindValue(criterion, "min", `${path}.min`, `Criterion ${i + 1} min`, "Min", changed, { type: "number", placeholder: "1" }),
          bindValue(criterion, "max", `${path}.max`, `Criterion ${i + 1} max`, "Max", changed, { type: "number", placeholder: "5" })),
        bindValue(criterion, "description", `${path}.description`, `Criterion ${i + 1} description`, "Description", changed),
        textList(criterion, "labels", `${path}.labels`, `Criterion ${i + 1} captions`, "Captions, one per scale point (min first)", changed));
    });
    return section("Rating criteria", "Each response is rated on every criterion.",
      el("ol", { class: "tx-list", "data-field": "taxonomy.criteria" }, cards),
      el("button", {
        type: "button", class: "secondary",
        onclick: () => { const criteria = (state.criteria ||= []); criteria.push({ name: `criterion ${criteria.length + 1}`, min: 1, max: 5 }); changed({ rebuild: true }); },
      }, "Add criterion"));
  }

  function optionsSection() {
    const items = [];
    const flag = (key, text, fallback) => checkbox(text, state[key] ?? fallback, (on) => {
      state[key] = on;
      changed();
    }, text, `taxonomy.${key}`);
    if (taskType === "categorization") items.push(flag("multi_select", "Several categories per task (multi-select)", false));
    if (taskType === "llm_comparison") {
      items.push(flag("allow_tie", "Allow “tie”", true), flag("allow_both_good", "Allow “both good”", true),
        flag("allow_both_bad", "Allow “both bad”", true));
    }
    if (LLM.has(taskType)) {
      items.push(el("div", { class: "grid-3" },
        bindValue(state, "min_responses", "taxonomy.min_responses", "Fewest responses", "Fewest responses", changed, { type: "number" }),
        bindValue(state, "max_responses", "taxonomy.max_responses", "Most responses", "Most responses", changed, { type: "number" })));
    }
    return items.length ? section("Options", null, ...items) : null;
  }

  panel.replaceChildren(
    el("div", { class: "toolbar sticky" }, summary, el("span", { class: "grow" }), revert, save),
    el("div", { class: "tx-layout" },
      visual,
      el("div", { class: "tx-json-pane card" },
        el("div", { class: "pane-title" }, "JSON"),
        el("p", { class: "muted small" }, "Edit either side; the other follows."),
        json, jsonError)));
  changed({ rebuild: true });
  const guard = guardUnsaved(panel, () => Boolean(jsonBroken) || JSON.stringify(state) !== JSON.stringify(saved),
    { what: "taxonomy changes" });
  return { destroy: () => guard.release() };
}

function section(title, help, ...content) {
  return el("section", { class: "card tx-section" },
    el("h2", { class: "card-title" }, title), help ? el("p", { class: "muted small" }, help) : null, ...content);
}

function labelHelp(taskType) {
  return {
    categorization: "The categories to choose from (number keys pick them in the workspace).",
    text_spans: "The entity types spans are tagged with.",
    transcription: "Optional: labels a transcription can carry.",
    text_collection: "Optional: labels a text answer can carry.",
  }[taskType] || "What gets annotated, and with which shapes.";
}

// The control a field path names: the exact one, else the closest enclosing one.
function controlFor(root, field) {
  let path = field;
  while (path) {
    const node = root.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (node) return node.matches("input, select, textarea, button") ? node
      : node.querySelector("input, select, textarea, button") || node;
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    path = cut > 0 ? path.slice(0, cut) : "";
  }
  return null;
}
