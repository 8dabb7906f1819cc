// "Note on the instructions": a labeler's remark about the instructions, sent with the
// submission (`feedback`), kept with the task and read in the batch's calibration report.
// Text only; it never changes the answer.

import { css, el } from "/static/js/api.js";

export class InstructionNote {
  constructor() {
    css("/static/css/note.css");
    this.text = el("textarea", {
      name: "instruction_note", maxlength: 10000, rows: 2,
      placeholder: "Unclear or missing in the instructions? Say so here; it goes with your submission.",
    });
    this.node = el("details", { class: "lb-note" },
      el("summary", {}, "Note on the instructions"),
      el("label", { class: "field" }, el("span", { class: "visually-hidden" }, "Note on the instructions"), this.text));
  }

  // The note to send with the submission, or null.
  value() {
    const text = this.text.value.trim();
    return text ? text : null;
  }

  clear() {
    this.text.value = "";
    this.node.open = false;
  }
}
