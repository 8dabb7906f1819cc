// The explorer's query bar: the query language of docs/query.md as text, with field names
// completed as you type (from what the dataset has: its facets' labels, models, tags and
// metadata columns) and the server's error shown under the bar with a caret at the column
// it names.

import { el } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";

const FIELD_CHARS = /[A-Za-z0-9_."-]/;
const MAX_SUGGESTIONS = 8;

// A field segment as the language writes it: bare words as they are, anything else quoted.
export const segment = (name) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : JSON.stringify(String(name)));

// queryBar({onSubmit(text), fields() → [names]}) → {element, value, set(text), error(e), clear()}
export function queryBar({ onSubmit, fields }) {
  const input = el("input", {
    type: "text", name: "query", class: "qb-input", autocomplete: "off", spellcheck: "false",
    placeholder: 'annotations.car > 2 AND metadata.weather = "rain"',
    "aria-label": "Query", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": "qb-suggestions",
  });
  const list = el("ul", { class: "qb-suggest", id: "qb-suggestions", role: "listbox", "aria-label": "Fields", hidden: true });
  const caret = el("pre", { class: "qb-caret", "aria-hidden": "true", hidden: true });
  const message = el("p", { class: "qb-error field-error", role: "alert", hidden: true });
  const form = el("form", { class: "qb", role: "search", novalidate: true },
    el("div", { class: "qb-row" },
      el("div", { class: "qb-field" }, input, caret, list),
      el("button", { type: "submit", class: "primary" }, "Run"),
      el("button", { type: "button", class: "secondary", onclick: () => { set(""); submit(); } }, "Clear")),
    message);
  let options = [];
  let active = -1;

  function tokenAtCaret() {
    const end = input.selectionStart ?? input.value.length;
    let start = end;
    while (start > 0 && FIELD_CHARS.test(input.value[start - 1])) start -= 1;
    return { start, end, text: input.value.slice(start, end) };
  }

  function closeList() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    options = [];
    active = -1;
  }

  function suggest() {
    const { text } = tokenAtCaret();
    if (!text || /^["\d-]/.test(text)) return closeList();
    const lower = text.toLowerCase();
    options = fields().filter((name) => name.toLowerCase().startsWith(lower) && name !== text).slice(0, MAX_SUGGESTIONS);
    if (!options.length) return closeList();
    active = -1;
    list.replaceChildren(...options.map((name, i) => el("li", {
      id: `qb-option-${i}`, role: "option", class: "qb-option", "aria-selected": "false",
      onmousedown: (event) => { event.preventDefault(); accept(i); },
    }, name)));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    return undefined;
  }

  function highlight(i) {
    active = i;
    list.querySelectorAll("[role=option]").forEach((node, n) => node.setAttribute("aria-selected", String(n === i)));
    if (i >= 0) input.setAttribute("aria-activedescendant", `qb-option-${i}`);
  }

  function accept(i) {
    const name = options[i];
    if (!name) return;
    const { start, end } = tokenAtCaret();
    const after = input.value.slice(end);
    const value = `${input.value.slice(0, start)}${name} ${after.replace(/^\s+/, "")}`;
    input.value = value;
    const at = start + name.length + 1;
    input.setSelectionRange(at, at);
    closeList();
    clear();
  }

  function submit() {
    closeList();
    onSubmit(input.value.trim());
  }

  function set(text) {
    input.value = text;
    clear();
  }

  function clear() {
    message.hidden = true;
    caret.hidden = true;
    input.removeAttribute("aria-invalid");
  }

  // The server's 422 for a query: its message, and a caret under the column it names.
  function error(problem) {
    const text = humanMessage(problem, { subject: "Query" });
    message.textContent = text;
    message.hidden = false;
    input.setAttribute("aria-invalid", "true");
    const column = Number(/column (\d+)/.exec(problem?.message || "")?.[1] || 0);
    if (column > 0) {
      caret.textContent = `${" ".repeat(column - 1)}^`;
      caret.dataset.column = String(column);
      caret.hidden = false;
      const token = /"([^"]+)"/.exec(problem.message)?.[1];
      const length = token && input.value.slice(column - 1, column - 1 + token.length) === token ? token.length : 1;
      input.focus();
      input.setSelectionRange(column - 1, Math.min(input.value.length, column - 1 + length));
    } else {
      caret.hidden = true;
    }
  }

  input.addEventListener("input", () => {
    clear();
    suggest();
  });
  input.addEventListener("blur", () => setTimeout(closeList, 100));
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + options.length) % options.length);
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      event.preventDefault();
      accept(active);
    } else if (event.key === "Tab" && options.length === 1) {
      event.preventDefault();
      accept(0);
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeList();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  return {
    element: form,
    get value() {
      return input.value.trim();
    },
    set,
    error,
    clear,
  };
}

// Add a condition to a query with AND (a query with OR at its top is kept whole in parentheses).
export function andQuery(current, condition) {
  const text = String(current || "").trim();
  if (!text) return condition;
  return /\bOR\b/i.test(text) ? `(${text}) AND ${condition}` : `${text} AND ${condition}`;
}
