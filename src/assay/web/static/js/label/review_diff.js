// What the labeler changed against a baseline (the pre-labels, or their previous round's
// response): annotations added, removed and changed, matched by id (by position when the
// baseline has no ids), listed for the reviewer.

import { el } from "/static/js/api.js";
import { describeAnnotation } from "/static/js/label/summary.js";

const IGNORED = new Set(["id", "source", "score"]);

function changedFields(before, after) {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => !IGNORED.has(key)
    && JSON.stringify(before[key] ?? null) !== JSON.stringify(after[key] ?? null));
}

// diff(baseline, response) → {added: [ann], removed: [ann], changed: [{ann, fields}]}
export function diff(baseline, response) {
  const before = baseline?.annotations || [];
  const after = response?.annotations || [];
  const byId = before.every((a) => a.id) && after.some((a) => a.id);
  const key = (ann, i) => (byId ? ann.id : String(i));
  const old = new Map(before.map((ann, i) => [key(ann, i), ann]));
  const result = { added: [], removed: [], changed: [] };
  after.forEach((ann, i) => {
    const was = old.get(key(ann, i));
    if (!was) {
      result.added.push(ann);
      return;
    }
    old.delete(key(ann, i));
    const fields = changedFields(was, ann);
    if (fields.length) result.changed.push({ ann, fields });
  });
  result.removed = [...old.values()];
  return result;
}

export function diffResponses(baseline, response) {
  const { added, removed, changed } = diff(baseline.response, response);
  const against = baseline.kind === "prelabels" ? "the pre-labels" : "the previous round";
  const items = [
    ...added.map((ann) => el("li", { class: "diff-added" }, el("span", { class: "diff-mark" }, "+ added"), " ", describeAnnotation(ann))),
    ...removed.map((ann) => el("li", { class: "diff-removed" }, el("span", { class: "diff-mark" }, "− removed"), " ", describeAnnotation(ann))),
    ...changed.map(({ ann, fields }) => el("li", { class: "diff-changed" }, el("span", { class: "diff-mark" }, "~ changed"), " ",
      describeAnnotation(ann), el("span", { class: "muted" }, ` (${fields.join(", ")})`))),
  ];
  const counts = `${added.length} added, ${removed.length} removed, ${changed.length} changed`;
  return el("details", { class: "review-diff", open: true },
    el("summary", {}, `Compared with ${against}: ${counts}`),
    items.length ? el("ul", {}, items) : el("p", { class: "muted" }, "No change."));
}
