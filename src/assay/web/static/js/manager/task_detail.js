// A task's detail for its managers: the media drawn with one version of the answer at a time
// (pre-labels, a draft in progress, each submission, the review fix, the final response, the
// expected answer of a gold task), who did each step and for how long, the notes left on the
// instructions, and "Make gold…": copy the task as an evaluation or training task with an
// expected answer edited as JSON (the server checks it against the taxonomy).
// Image tasks are drawn with the image workspace's own drawing code, read-only.

import { api, css, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { labelColor } from "/static/js/label/common.js";
import { loadShape } from "/static/js/label/image/doc.js";
import { drawShapes } from "/static/js/label/image/draw.js";
import { badge, field, formatDate, openDialog, select, showFieldError } from "/static/js/manager/ui.js";

const MAX_CANVAS = 680;
const STEP_NAMES = {
  submit: "Labeled", skip: "Skipped", accept: "Accepted in review", reject: "Rejected in review",
  fix: "Fixed in review", cancel: "Canceled", audit_accept: "Accepted in audit",
  audit_reject: "Rejected in audit", consensus: "Consensus", requeue: "Re-queued", move: "Moved",
};

export function person(email, name, id) {
  return name || email || (id ? `user ${id.slice(0, 8)}…` : "the system");
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// Every version of the answer the task has, oldest first: [{key, label, response}].
export function versionsOf(detail) {
  const task = detail.task;
  const versions = [];
  if (task.prelabels) versions.push({ key: "prelabels", label: "Pre-labels", response: task.prelabels });
  let submission = 0;
  for (const step of detail.steps) {
    if (!step.response) continue;
    const who = person(step.user_email, step.user_name, step.user_id);
    if (step.action === "submit") {
      submission += 1;
      versions.push({ key: `step-${step.id}`, label: `Submission ${submission} · ${who}`, response: step.response });
    } else if (step.action === "fix" || step.action === "audit_accept" || step.action === "consensus") {
      const name = step.action === "fix" ? "Review fix" : step.action === "consensus" ? "Consensus" : "Audit";
      versions.push({ key: `step-${step.id}`, label: `${name} · ${who}`, response: step.response });
    }
  }
  for (const draft of detail.drafts) {
    versions.push({ key: `draft-${draft.user_id}`, label: `Draft · ${person(draft.user_email, draft.user_name, draft.user_id)}`,
      response: draft.response });
  }
  if (task.response) versions.push({ key: "response", label: "Final response", response: task.response });
  if (task.expected_response) versions.push({ key: "expected", label: "Expected answer", response: task.expected_response });
  return versions;
}

// The media with `response` drawn over it; returns {node, show(response)}.
function viewer(detail, taxonomy) {
  const params = detail.display_params || {};
  const isImage = detail.task.type === "image" && typeof params.attachment === "string";
  const summary = el("ul", { class: "dm-summary" });
  const json = el("pre", { class: "json", "aria-label": "The version as JSON" });
  if (!isImage) {
    const text = params.text ?? params.attachment ?? "";
    const node = el("div", { class: "dm-viewer" },
      text ? el("div", { class: "dm-text" }, String(text)) : null, summary, json);
    return { node, show: (response) => paintText(response) };
  }
  const canvas = el("canvas", { class: "dm-canvas", role: "img", "aria-label": "The task's image with the annotations" });
  const problem = el("p", { class: "field-error", role: "alert", hidden: true });
  const image = new Image();
  let ready = false;
  let current = null;
  image.decoding = "async";
  image.addEventListener("load", () => {
    ready = true;
    paint();
  });
  image.addEventListener("error", () => {
    problem.textContent = "The image could not be loaded; the annotations are listed below.";
    problem.hidden = false;
    canvas.hidden = true;
  });
  image.src = params.attachment;
  function paint() {
    paintText(current);
    if (!ready) return;
    const size = { width: image.naturalWidth, height: image.naturalHeight };
    const scale = Math.min(1, MAX_CANVAS / size.width);
    canvas.width = Math.round(size.width * scale);
    canvas.height = Math.round(size.height * scale);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.drawImage(image, 0, 0);
    const shapes = (current?.annotations || []).map((ann) => loadShape(ann, size)).filter((s) => !s.raw);
    drawShapes(ctx, shapes, { scale, colorOf: (shape) => labelColor(taxonomy, shape.label) });
    canvas.dataset.shapes = String(shapes.length);
    canvas.dataset.painted = String(Number(canvas.dataset.painted || 0) + 1);
  }
  function paintText(response) {
    const annotations = response?.annotations || [];
    summary.replaceChildren(...annotations.slice(0, 50).map((ann) => el("li", {},
      el("strong", {}, ann.label || ann.type || "annotation"),
      ann.type && ann.label ? ` · ${ann.type}` : "",
      ann.text ? ` · “${ann.text}”` : "")));
    if (!annotations.length) summary.append(el("li", { class: "muted" }, "No annotations in this version."));
    json.textContent = response ? JSON.stringify(response, null, 2) : "";
  }
  const node = el("div", { class: "dm-viewer" }, problem, canvas, summary,
    el("details", {}, el("summary", {}, "JSON"), json));
  return {
    node,
    show(response) {
      current = response;
      paint();
    },
  };
}

function stepsTable(detail) {
  if (!detail.steps.length) return el("p", { class: "muted" }, "Nothing happened to this task yet.");
  return el("table", { class: "table dm-steps", "aria-label": "Steps" },
    el("thead", {}, el("tr", {}, ["Step", "Who", "Stage", "When", "Time spent", "Note"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, detail.steps.map((step) => el("tr", { "data-action": step.action },
      el("td", {}, STEP_NAMES[step.action] || step.action),
      el("td", {}, person(step.user_email, step.user_name, step.user_id)),
      el("td", {}, step.stage ? `${step.stage} · round ${step.round}` : "—"),
      el("td", { class: "nowrap" }, formatDate(step.created_at)),
      el("td", { class: "num" }, formatDuration(step.duration_ms)),
      el("td", {}, step.reason || (step.comments || []).map((c) => c.text).join(" · ") || "")))));
}

function notesList(detail) {
  if (!detail.notes.length) return el("p", { class: "muted" }, "No notes on the instructions.");
  return el("ul", { class: "dm-notes" }, detail.notes.map((note) => el("li", {},
    el("strong", {}, person(note.email, null, note.user_id)), ` (${note.stage || "—"}, ${formatDate(note.created_at)}): `,
    note.feedback)));
}

// Copy the task as gold (evaluation) or training with an expected answer; resolves the new task.
export async function makeGold(task, response) {
  return openDialog("Make a gold or training task", (close) => {
    const text = el("textarea", { name: "expected_response", rows: 14, class: "mono", "data-field": "expected_response",
      "aria-label": "Expected answer (JSON)", spellcheck: "false" });
    text.value = JSON.stringify(response || { annotations: [] }, null, 2);
    const form = el("form", { class: "form dm-gold", novalidate: true },
      el("p", { class: "muted small" },
        "A copy of this task becomes an evaluation (gold) task labelers are scored on, or a training task. ",
        "The task itself is left as it is. Labelers never see the expected answer before they submit."),
      field("Kind", select("kind", [["evaluation", "Evaluation (gold)"], ["training", "Training"]], "evaluation")),
      field("Expected answer (JSON)", text, "Starts from the version shown; the server checks it against the taxonomy."),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Create")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let expected;
      try {
        expected = JSON.parse(text.value);
      } catch (error) {
        showFieldError(form, { field: "expected_response", message: `This is not valid JSON: ${error.message}` });
        text.focus();
        return;
      }
      try {
        const made = await api(`/tasks/${encodeURIComponent(task.id)}/make_quality`, {
          method: "POST", body: { kind: new FormData(form).get("kind"), expected_response: expected },
        });
        close(made);
      } catch (error) {
        showFieldError(form, error);
        text.focus();
      }
    });
    return form;
  });
}

export async function openTaskDetail(taskId, { project, batchNames = new Map(), onChange = null } = {}) {
  css("/static/css/data.css");
  const detail = await api(`/tasks/${encodeURIComponent(taskId)}/detail`);
  const task = detail.task;
  const taxonomy = project?.taxonomy || {};
  const versions = versionsOf(detail);
  const view = viewer(detail, taxonomy);
  let chosen = versions.find((v) => v.key === "expected") || versions.at(-1) || null;
  const picker = el("div", { class: "dm-versions", role: "radiogroup", "aria-label": "Version shown" });
  function choose(version) {
    chosen = version;
    for (const button of picker.children) button.setAttribute("aria-checked", String(button.dataset.version === version?.key));
    view.show(version?.response || null);
  }
  for (const version of versions) {
    picker.append(el("button", { type: "button", role: "radio", class: "chip-button", "data-version": version.key,
      "aria-checked": "false", onclick: () => choose(version) }, version.label));
  }
  const gold = el("button", { type: "button", class: "secondary", onclick: async () => {
    const made = await makeGold(task, chosen?.response || task.response || task.prelabels);
    if (made) {
      toast(`${made.kind === "training" ? "Training" : "Evaluation"} task ${made.id} created`);
      onChange?.();
    }
  } }, "Make gold…");
  // A reviewed, completed task can become an evaluation task as it is: its answer expected.
  const reviewed = task.status === "completed" && task.response
    && detail.steps.some((step) => ["accept", "fix", "audit_accept"].includes(step.action));
  const asItIs = reviewed ? el("button", { type: "button", class: "secondary", onclick: async (event) => {
    event.currentTarget.disabled = true;
    try {
      const made = await api(`/tasks/${encodeURIComponent(task.id)}/make_evaluation`, { method: "POST" });
      toast(`Evaluation task ${made.id} created from this task`);
      onChange?.();
    } catch (error) {
      event.target.disabled = false;
      toast(humanMessage(error), "error");
    }
  } }, "Make evaluation task") : null;
  const title = task.unique_id || task.metadata?.filename || task.id;
  const closed = openDialog(`Task ${title}`, () => el("div", { class: "task-detail dm-detail" },
    el("div", { class: "dm-head" },
      el("dl", { class: "props" }, [
        ["ID", task.id], ["Status", task.status], ["Kind", task.kind], ["Stage", task.stage ? `${task.stage} · round ${task.round}` : "—"],
        ["Batch", task.batch_id ? batchNames.get(task.batch_id) || task.batch_id : "—"], ["Priority", task.priority],
        ["Created", formatDate(task.created_at)], ["Completed", formatDate(task.completed_at)],
      ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
      task.kind === "production" ? el("div", { class: "actions" }, asItIs, gold) : badge(task.kind, "info")),
    el("h3", {}, "Annotations"),
    versions.length ? picker : el("p", { class: "muted" }, "No answer yet: nothing labeled, drafted or pre-labeled."),
    view.node,
    el("h3", {}, "Who did what"),
    stepsTable(detail),
    el("h3", {}, "Notes on the instructions"),
    notesList(detail),
    el("details", {}, el("summary", {}, "Params and metadata"),
      el("pre", { class: "json" }, JSON.stringify({ params: task.params, metadata: task.metadata, tags: task.tags }, null, 2)))));
  choose(chosen);
  return closed;
}
