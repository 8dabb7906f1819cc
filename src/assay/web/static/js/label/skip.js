// Skipping a task: why (a few common reasons and a note), and "broken" for media that does
// not load — the server tags such a task `broken` so its managers find it.

import { css, el } from "/static/js/api.js";
import { askText } from "/static/js/label/common.js";

const REASONS = [
  ["broken", "The media is broken (does not load, blank, or the wrong file)"],
  ["unclear", "The instructions do not cover this case"],
  ["unsure", "I am not sure how to label it"],
  ["other", "Another reason"],
];

// askSkip({broken}) → {reason, broken} or null (cancelled). `broken`: the workspace already
// knows the media is broken (that reason is chosen for the worker).
export async function askSkip({ broken = false } = {}) {
  css("/static/css/label_context.css");
  const choices = REASONS.map(([value, text], i) => el("label", { class: "skip-reason" },
    el("input", { type: "radio", name: "reason", value, checked: broken ? value === "broken" : i === 0 }),
    " ", text));
  const note = await askText({
    title: broken ? "Report a broken task" : "Skip this task",
    label: "Note (optional)",
    submit: broken ? "Report and skip" : "Skip task",
    required: false,
    extra: el("fieldset", { class: "skip-reasons" }, el("legend", {}, "Why?"), ...choices),
  });
  if (note === null) return null;
  const choice = choices.map((c) => c.firstChild).find((input) => input.checked)?.value || "other";
  const label = REASONS.find(([value]) => value === choice)[1];
  const reason = choice === "other" && note ? note : note ? `${label}: ${note}` : label;
  return { reason: reason.slice(0, 2000), broken: choice === "broken" };
}
