// The labeling page's context, fetched after a task is on screen (the queue's next and submit
// stay one request each): "task 7 of 19 · batch · 12 done today · file name", the previous
// task to look at again, and — in review — who labeled the task, how long they took, the round
// and what changed against the pre-labels or the previous round. When a stage has nothing for
// the caller, it says why.

import { api, css, el } from "/static/js/api.js";
import { describe } from "/static/js/label/common.js";
import { openPrevious } from "/static/js/label/previous.js";
import { diffResponses } from "/static/js/label/review_diff.js";

// The caller's local midnight: "done today" is their day, not the server's.
function localMidnight() {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

function duration(ms) {
  if (ms === null || ms === undefined) return "unknown";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${seconds % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export class ContextBar {
  // runner: the labeling Runner (projectId, mode, stage, audit, training, rework section).
  constructor(runner) {
    css("/static/css/label_context.css");
    this.runner = runner;
    this.text = el("span", { class: "lb-context-text", "aria-live": "polite" });
    this.previousButton = el("button", { type: "button", class: "link lb-previous",
      onclick: () => openPrevious(runner.projectId) }, "← Previous task");
    this.element = el("div", { class: "lb-context" }, this.text, this.previousButton);
    this.previousButton.hidden = runner.mode === "review";
    this.asked = 0;
  }

  clear() {
    this.asked += 1;
    this.text.replaceChildren();
  }

  // After a task is shown: its context line (and the review facts under the review note).
  async update(lease) {
    const asked = ++this.asked;
    this.text.replaceChildren();
    this.previousButton.hidden = this.runner.mode === "review" || this.runner.training || this.runner.audit;
    if (this.runner.audit || this.runner.training || lease.audit_id) return;
    let context;
    try {
      context = await api(`/tasks/${encodeURIComponent(lease.task.id)}/context?since=${encodeURIComponent(localMidnight())}`);
    } catch {
      return; // context is a help, never in the way of the work
    }
    if (asked !== this.asked || this.runner.lease !== lease) return;
    const parts = [];
    if (context.position && context.total) parts.push(`task ${context.position} of ${context.total}`);
    if (context.batch) parts.push(context.batch.name);
    parts.push(`${context.done_today} done today`);
    // replaceChildren writes a null child as the text "null": leave it out instead.
    this.text.replaceChildren(parts.join(" · "),
      ...(context.file_name || context.unique_id
        ? [el("span", { class: "lb-file mono", title: "The task's file (and unique id)" },
          [context.file_name, context.unique_id].filter(Boolean).join(" · "))]
        : []));
    this.element.dataset.position = context.position ?? "";
    if (this.runner.mode === "review") this.showReview(context, lease);
  }

  showReview(context, lease) {
    const facts = el("p", { class: "lb-review-facts" },
      el("span", {}, "Labeled by ", context.labeler
        ? [el("strong", {}, context.labeler.name || context.labeler.email),
          context.labeler.name ? el("span", { class: "muted" }, ` (${context.labeler.email})`) : null]
        : "someone no longer here"),
      el("span", {}, `Time spent: ${duration(context.labeled_ms)}`),
      el("span", {}, context.round ? `Rework round ${context.round}` : "First round"));
    const nodes = [facts];
    if (context.baseline) nodes.push(diffResponses(context.baseline, lease.previous));
    this.runner.rework.querySelector(".lb-review-context")?.remove();
    this.runner.rework.append(el("div", { class: "lb-review-context" }, nodes));
  }

  // Nothing served: say why, from the stage's queue as the caller sees it.
  async explainEmpty(paragraph) {
    const runner = this.runner;
    if (runner.audit || runner.training) return;
    let summary;
    try {
      summary = await api(`/projects/${encodeURIComponent(runner.projectId)}/queue/summary?stage=${encodeURIComponent(runner.stage)}&since=${encodeURIComponent(localMidnight())}`);
    } catch (error) {
      paragraph.append(" ", el("span", { class: "muted" }, describe(error)));
      return;
    }
    if (!paragraph.isConnected) return;
    const tasks = (n) => `${n.toLocaleString()} task${n === 1 ? "" : "s"}`;
    const lines = [];
    if (summary.kind === "review" && summary.waiting) {
      if (summary.yours === summary.waiting) {
        lines.push(`${tasks(summary.waiting)} ${summary.waiting === 1 ? "awaits" : "await"} review, but you labeled `
          + `${summary.waiting === 1 ? "it" : "them"}: someone else has to review ${summary.waiting === 1 ? "it" : "them"}.`);
      } else {
        const others = summary.waiting - summary.yours;
        lines.push(`${tasks(summary.waiting)} ${summary.waiting === 1 ? "awaits" : "await"} review`
          + (summary.yours ? `; you labeled ${summary.yours} of them` : "")
          + `. ${others === 1 ? "The other is" : `The other ${others} are`} assigned to someone else or already seen by you.`);
      }
    } else if (summary.waiting) {
      lines.push(`${tasks(summary.waiting)} ${summary.waiting === 1 ? "waits" : "wait"} in this stage, assigned to `
        + "someone else or already seen by you.");
    }
    if (summary.leased) lines.push(`${tasks(summary.leased)} ${summary.leased === 1 ? "is" : "are"} being worked on right now.`);
    lines.push(`You did ${tasks(summary.done_today)} here today.`);
    if (summary.waiting) paragraph.replaceChildren(lines.join(" "));
    else paragraph.append(" ", lines.join(" "));
    paragraph.dataset.explained = "true";
  }
}
