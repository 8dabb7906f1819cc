// The taxonomy editor's form pieces: bound inputs, checkbox groups, one-per-line lists and
// the attribute list editor (types choice / multi_choice / number / text / linear_scale,
// choices, ranges, default, required, and the "only when" condition).

import { el } from "/static/js/api.js";
import { ATTRIBUTE_TYPES } from "/static/js/manager/taxonomy_check.js";

// An input/select/textarea tagged with the field path the checks and the server report.
export function control(tag, field, ariaLabel, attrs = {}) {
  const { value, ...rest } = attrs;
  const node = el(tag, { "data-field": field, "aria-label": ariaLabel, ...rest });
  if (value !== undefined) node.value = value;
  return node;
}

// A labeled input bound to obj[key]; empty optional values are removed from the object.
export function bindValue(obj, key, field, ariaLabel, labelText, changed, options = {}) {
  const { type = "text", required = false, placeholder, parse } = options;
  const current = obj[key];
  const input = control("input", field, ariaLabel, {
    type, placeholder, step: type === "number" ? "any" : undefined,
    value: current === undefined || current === null ? "" : String(current),
  });
  input.addEventListener("input", () => {
    const raw = input.value;
    let value = parse ? parse(raw) : type === "number" ? (raw.trim() === "" ? undefined : Number(raw)) : raw;
    if (type !== "number" && !required && raw === "") value = undefined;
    if (value === undefined) delete obj[key];
    else obj[key] = value;
    changed();
  });
  return el("label", { class: `field${type === "number" ? " narrow" : ""}` },
    el("span", { class: "field-label" }, labelText), input);
}

export function checkbox(text, checked, onChange, ariaLabel, field) {
  const box = el("input", { type: "checkbox", checked, "aria-label": ariaLabel, "data-field": field });
  box.addEventListener("change", () => onChange(box.checked));
  return el("label", { class: "check" }, box, el("span", {}, text));
}

// A list of strings edited one per line (choices, keypoints, captions).
export function textList(obj, key, field, ariaLabel, labelText, changed) {
  const area = control("textarea", field, ariaLabel, {
    rows: Math.min(6, Math.max(2, (obj[key] || []).length)), value: (obj[key] || []).join("\n"),
  });
  area.addEventListener("input", () => {
    const items = area.value.split("\n").map((s) => s.trim()).filter(Boolean);
    if (items.length) obj[key] = items;
    else delete obj[key];
    changed();
  });
  return el("label", { class: "field" }, el("span", { class: "field-label" }, labelText), area);
}

// Keypoint skeleton edges, one "a - b" per line, bound to obj.skeleton as [[a, b], …].
export function edgeList(obj, field, ariaLabel, labelText, changed) {
  const area = control("textarea", field, ariaLabel, {
    rows: Math.min(6, Math.max(2, (obj.skeleton || []).length)), placeholder: "head - neck",
    value: (obj.skeleton || []).map((edge) => (Array.isArray(edge) ? edge.join(" - ") : String(edge))).join("\n"),
  });
  area.addEventListener("input", () => {
    const edges = area.value.split("\n").map((line) => line.trim()).filter(Boolean)
      .map((line) => line.split(/\s+-\s+|\s*[–—]\s*/).map((s) => s.trim()));
    if (edges.length) obj.skeleton = edges;
    else delete obj.skeleton;
    changed();
  });
  return el("label", { class: "field" }, el("span", { class: "field-label" }, labelText), area);
}

// "taxonomy.labels[0].attributes[1]" → "Label 1 attribute 2", for accessible names.
export function humanName(path) {
  const n = (text) => Number(text) + 1;
  let m = path.match(/^taxonomy\.labels\[(\d+)\]\.attributes\[(\d+)\]$/);
  if (m) return `Label ${n(m[1])} attribute ${n(m[2])}`;
  m = path.match(/^taxonomy\.links\[(\d+)\]\.attributes\[(\d+)\]$/);
  if (m) return `Link ${n(m[1])} attribute ${n(m[2])}`;
  m = path.match(/^taxonomy\.global_attributes\[(\d+)\]$/);
  if (m) return `Task attribute ${n(m[1])}`;
  m = path.match(/^taxonomy\.attributes\[(\d+)\]$/);
  if (m) return `Annotation attribute ${n(m[1])}`;
  return path;
}

// Parse a typed value for a default or a condition value of an attribute of `type`.
function typedValue(type, raw) {
  const text = raw.trim();
  if (type === "number" || type === "linear_scale") return text === "" ? undefined : Number(text);
  return text;
}

function valuesText(values) {
  return (values || []).map((v) => String(v)).join(", ");
}

// The editor of obj[key] (a list of attribute definitions) at `path`; `outerScope()` gives the
// attributes a condition may also refer to (a label's attributes see every annotation's).
export function attributeList(obj, key, path, outerScope, changed) {
  const wrap = el("div", { class: "tx-attrs" });
  const paint = () => {
    const attrs = obj[key] || [];
    wrap.replaceChildren(
      attrs.length ? el("ol", { class: "tx-attr-list", "data-field": path },
        attrs.map((attr, i) => attributeRow(obj, key, attrs, attr, i, `${path}[${i}]`, outerScope, rebuild, changed)))
        : el("p", { class: "muted small", "data-field": path }, "No attributes."),
      el("button", {
        type: "button", class: "secondary small",
        onclick: () => {
          (obj[key] ||= []).push({ name: `attribute ${attrs.length + 1}`, type: "choice", choices: ["yes", "no"] });
          rebuild();
          wrap.querySelector(`[data-field="${path}[${obj[key].length - 1}].name"]`)?.select();
        },
      }, "Add attribute"));
  };
  // Structure changed: repaint this list, then report the change (JSON view, checks).
  const rebuild = () => {
    paint();
    changed();
  };
  paint();
  return wrap;
}

function attributeRow(owner, key, attrs, attr, i, path, outerScope, rebuild, changed) {
  const name = humanName(path);
  const typeSelect = control("select", `${path}.type`, `${name} type`);
  typeSelect.append(...ATTRIBUTE_TYPES.map(([value, text]) => el("option", { value, selected: value === attr.type }, text)));
  typeSelect.addEventListener("change", () => {
    attr.type = typeSelect.value;
    // Keep only what the new type understands.
    if (!["choice", "multi_choice"].includes(attr.type)) delete attr.choices;
    else if (!attr.choices?.length) attr.choices = ["yes", "no"];
    if (!["number", "linear_scale"].includes(attr.type)) {
      delete attr.min;
      delete attr.max;
    }
    if (attr.type === "linear_scale") {
      attr.min = Number.isInteger(attr.min) ? attr.min : 1;
      attr.max = Number.isInteger(attr.max) ? attr.max : 5;
    }
    if (attr.type !== "number") delete attr.step;
    delete attr.default;
    rebuild();
  });
  // Value edits report the change without repainting (which would steal the focus).
  const nameInput = bindValue(attr, "name", `${path}.name`, `${name} name`, "Name", changed, { required: true });
  const required = el("label", { class: "check" },
    el("input", {
      type: "checkbox", checked: Boolean(attr.required), "aria-label": `${name} required`, "data-field": `${path}.required`,
      onchange: (event) => {
        if (event.target.checked) attr.required = true;
        else delete attr.required;
        changed();
      },
    }), el("span", {}, "Required"));
  const remove = el("button", {
    type: "button", class: "ghost icon danger", "aria-label": `Remove ${name}`,
    onclick: () => {
      attrs.splice(i, 1);
      if (!attrs.length) delete owner[key];
      rebuild();
    },
  }, "×");
  const details = [];
  if (attr.type === "choice" || attr.type === "multi_choice") {
    details.push(textList(attr, "choices", `${path}.choices`, `${name} choices`, "Choices, one per line", changed));
  }
  if (attr.type === "number" || attr.type === "linear_scale") {
    const numbers = [
      bindValue(attr, "min", `${path}.min`, `${name} min`, "Min", changed, { type: "number" }),
      bindValue(attr, "max", `${path}.max`, `${name} max`, "Max", changed, { type: "number" }),
    ];
    if (attr.type === "number") numbers.push(bindValue(attr, "step", `${path}.step`, `${name} step`, "Step", changed, { type: "number" }));
    details.push(el("div", { class: "grid-3" }, numbers));
  }
  details.push(el("div", { class: "grid-2" },
    bindValue(attr, "default", `${path}.default`, `${name} default`, "Default", changed, {
      parse: (raw) => {
        if (raw.trim() === "") return undefined;
        if (attr.type === "multi_choice") return raw.split(",").map((s) => s.trim()).filter(Boolean);
        return typedValue(attr.type, raw);
      },
      placeholder: attr.type === "multi_choice" ? "a, b" : "",
    }),
    bindValue(attr, "description", `${path}.description`, `${name} description`, "Description", changed)));
  details.push(conditionEditor(attr, path, name, [...outerScope(), ...attrs], rebuild, changed));
  return el("li", { class: "tx-attr" },
    el("div", { class: "tx-attr-head" },
      nameInput,
      el("label", { class: "field" }, el("span", { class: "field-label" }, "Type"), typeSelect),
      required, remove),
    details);
}

function conditionEditor(attr, path, name, scope, rebuild, changed) {
  const candidates = scope.filter((a) => a !== attr && a?.name && a.type !== "text");
  const on = Boolean(attr.condition);
  const toggle = el("label", { class: "check" },
    el("input", {
      type: "checkbox", checked: on, "aria-label": `${name} has a condition`,
      onchange: (event) => {
        if (event.target.checked) attr.condition = { attribute: candidates[0]?.name || "", in: [] };
        else delete attr.condition;
        rebuild();
      },
    }), el("span", {}, "Only ask when another attribute has certain values"));
  if (!on) return el("div", { class: "tx-condition" }, toggle);
  const target = control("select", `${path}.condition.attribute`, `${name} condition attribute`);
  const names = candidates.map((a) => a.name);
  if (attr.condition.attribute && !names.includes(attr.condition.attribute)) names.unshift(attr.condition.attribute);
  target.append(el("option", { value: "" }, "Choose…"),
    ...names.map((n) => el("option", { value: n, selected: n === attr.condition.attribute }, n)));
  const targetType = () => scope.find((a) => a?.name === attr.condition.attribute)?.type;
  target.addEventListener("change", () => {
    attr.condition.attribute = target.value;
    attr.condition.in = [];
    rebuild();
  });
  const choices = scope.find((a) => a?.name === attr.condition.attribute)?.choices;
  const values = control("input", `${path}.condition.in`, `${name} condition values`, {
    value: valuesText(attr.condition.in), placeholder: choices?.length ? choices.join(", ") : "values, comma separated",
  });
  values.addEventListener("input", () => {
    const type = targetType();
    attr.condition.in = values.value.split(",").map((s) => s.trim()).filter(Boolean)
      .map((s) => (type === "number" || type === "linear_scale" ? Number(s) : s));
    changed();
  });
  return el("div", { class: "tx-condition" }, toggle,
    el("div", { class: "grid-2" },
      el("label", { class: "field" }, el("span", { class: "field-label" }, "When"), target),
      el("label", { class: "field" }, el("span", { class: "field-label" }, "Is one of"), values)));
}
