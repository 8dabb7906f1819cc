// Media that did not load (image, frame or video): an error state over the canvas that the
// tool hints cannot overwrite, with the way out — report the task as broken.

import { el } from "/static/js/api.js";

// showBroken(stageElement, message, ctx): the notice after the stage, and the runner told
// (ctx.onBroken blocks submit; ctx.reportBroken skips the task as broken).
export function showBroken(stageElement, message, ctx) {
  stageElement.closest(".image-ws, .video-ws")?.setAttribute("data-broken", "true");
  stageElement.after(el("div", { class: "iw-broken", role: "alert" },
    el("strong", {}, message),
    el("p", {}, "Nothing can be labeled on it, so submitting is blocked. Report it as broken: "
      + "the task is set aside for a manager and you get the next one."),
    ctx.reportBroken
      ? el("button", { type: "button", class: "danger", onclick: () => ctx.reportBroken() }, "Report broken task")
      : null));
  ctx.onBroken?.(message);
}
