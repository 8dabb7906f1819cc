// "← Previous task": the worker's last submitted task in the project, with their response, to
// look at again. Read-only: once submitted the task has moved on in the pipeline (to review or
// completed), so a change goes through a reviewer or a manager, not through the labeler.

import { api, el, toast } from "/static/js/api.js";
import { describe } from "/static/js/label/common.js";
import { summarize } from "/static/js/label/summary.js";

export async function openPrevious(projectId) {
  let previous;
  try {
    previous = await api(`/projects/${encodeURIComponent(projectId)}/queue/previous`);
  } catch (error) {
    toast(describe(error), "error");
    return;
  }
  if (!previous) {
    toast("You have not submitted a task in this project yet.");
    return;
  }
  const attachment = previous.task.params?.attachment;
  const image = ["image", "video"].includes(previous.task.type) && attachment
    ? el("img", { class: "previous-media", src: attachment, alt: previous.file_name || "The task's image" })
    : null;
  const text = previous.task.params?.text
    ? el("blockquote", { class: "previous-text" }, String(previous.task.params.text).slice(0, 600)) : null;
  const close = el("button", { type: "button", onclick: () => dialog.close() }, "Close");
  const dialog = el("dialog", { class: "ask previous-task", "aria-labelledby": "previous-title" },
    el("h2", { id: "previous-title" }, "Your previous task"),
    el("p", { class: "muted" },
      previous.file_name ? el("span", { class: "mono" }, previous.file_name) : "",
      previous.file_name ? " · " : "",
      `submitted ${new Date(previous.submitted_at).toLocaleString()}`),
    image, text,
    el("h3", {}, "Your answer"),
    el("ul", { class: "previous-answer" }, summarize(previous.response).map((line) => el("li", {}, line))),
    el("p", { class: "muted small" }, "Read-only: the task has moved on (to review or completed). "
      + "If it needs a change, tell a reviewer or a manager."),
    el("div", { class: "actions" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
