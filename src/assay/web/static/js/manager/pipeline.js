// Pipeline tab: the stages every task goes through (label, then review stages with a sample
// rate), the rework rounds a rejection allows and the lease length. Saved with PATCH; the
// server's field errors (pipeline.stages[1].name …) are shown on the control they name.

import { api, el, toast } from "/static/js/api.js";
import { clearFieldErrors, field, select, showFieldError } from "/static/js/manager/ui.js";

export function render(panel, ctx) {
  const original = ctx.project.pipeline || {};
  const state = {
    stages: (original.stages || [{ name: "label", kind: "label", sample_rate: 1 }]).map((s) => ({ sample_rate: 1, ...s })),
    max_rework_rounds: original.max_rework_rounds ?? 2,
    lease_seconds: original.lease_seconds ?? 300,
  };
  const list = el("ol", { class: "stage-list", "aria-label": "Stages" });
  const form = el("form", { class: "form card", novalidate: true, "aria-label": "Pipeline" });

  function paintStages() {
    list.replaceChildren(...state.stages.map((stage, i) => {
      const name = el("input", {
        value: stage.name, "data-field": `pipeline.stages[${i}].name`, "aria-label": `Stage ${i + 1} name`,
        pattern: "[a-z][a-z0-9_]*", maxlength: 32,
        oninput: (e) => { stage.name = e.target.value; },
      });
      const kind = select(`kind-${i}`, [["label", "Label"], ["review", "Review"]], stage.kind,
        { "data-field": `pipeline.stages[${i}].kind`, "aria-label": `Stage ${i + 1} kind`, disabled: i === 0 });
      kind.addEventListener("change", () => { stage.kind = kind.value; paintStages(); });
      const rate = el("input", {
        type: "number", min: 0, max: 100, step: 1, value: Math.round((stage.sample_rate ?? 1) * 100),
        "data-field": `pipeline.stages[${i}].sample_rate`, "aria-label": `Stage ${i + 1} review sample rate (%)`,
        oninput: (e) => { stage.sample_rate = Number(e.target.value) / 100; },
      });
      const move = (delta) => {
        const j = i + delta;
        if (j < 1 || j >= state.stages.length || i === 0) return;
        [state.stages[i], state.stages[j]] = [state.stages[j], state.stages[i]];
        paintStages();
      };
      return el("li", { class: "stage" },
        el("span", { class: "stage-index", "aria-hidden": "true" }, String(i + 1)),
        el("label", { class: "field" }, el("span", { class: "field-label" }, "Name"), name),
        el("label", { class: "field" }, el("span", { class: "field-label" }, "Kind"), kind),
        stage.kind === "review"
          ? el("label", { class: "field narrow" }, el("span", { class: "field-label" }, "Sample rate %"), rate)
          : el("span", { class: "field narrow muted small" }, i === 0 ? "Every task starts here" : "Every task"),
        el("div", { class: "stage-actions" },
          el("button", { type: "button", class: "ghost icon", "aria-label": `Move stage ${i + 1} up`, disabled: i < 2, onclick: () => move(-1) }, "↑"),
          el("button", { type: "button", class: "ghost icon", "aria-label": `Move stage ${i + 1} down`, disabled: i === 0 || i === state.stages.length - 1, onclick: () => move(1) }, "↓"),
          el("button", {
            type: "button", class: "ghost icon danger", "aria-label": `Remove stage ${i + 1}`, disabled: i === 0,
            onclick: () => { state.stages.splice(i, 1); paintStages(); },
          }, "×")));
    }));
  }

  const rounds = el("input", { type: "number", name: "pipeline.max_rework_rounds", min: 0, max: 10, value: state.max_rework_rounds });
  const lease = el("input", { type: "number", name: "pipeline.lease_seconds", min: 10, max: 21600, value: state.lease_seconds });
  form.append(
    el("h2", { class: "card-title" }, "Stages"),
    el("p", { class: "muted" }, "Tasks go through the stages in order. The first is always a label stage; review stages check a share of the work and can send it back."),
    el("div", { "data-field": "pipeline.stages" }, list),
    el("button", {
      type: "button", class: "secondary",
      onclick: () => {
        const taken = new Set(state.stages.map((s) => s.name));
        let n = state.stages.filter((s) => s.kind === "review").length + 1;
        let name = n === 1 ? "review" : `review_${n}`;
        while (taken.has(name)) name = `review_${++n}`;
        state.stages.push({ name, kind: "review", sample_rate: 1 });
        paintStages();
      },
    }, "Add review stage"),
    el("div", { class: "grid-2" },
      field("Max rework rounds", rounds, "How often rejected work goes back to its labeler (0–10)."),
      field("Lease seconds", lease, "How long a task stays reserved for one person without a heartbeat.")),
    el("div", { class: "form-actions" }, el("button", { type: "submit", class: "primary" }, "Save pipeline")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const pipeline = {
      stages: state.stages.map((s) => (s.kind === "review"
        ? { name: s.name.trim(), kind: s.kind, sample_rate: s.sample_rate }
        : { name: s.name.trim(), kind: s.kind })),
      max_rework_rounds: Number(rounds.value),
      lease_seconds: Number(lease.value),
    };
    try {
      const project = await api(`/projects/${encodeURIComponent(ctx.project.id)}`, { method: "PATCH", body: { pipeline } });
      ctx.setProject(project);
      toast("Pipeline saved");
    } catch (error) {
      showFieldError(form, error);
    }
  });
  paintStages();
  panel.replaceChildren(form);
}
