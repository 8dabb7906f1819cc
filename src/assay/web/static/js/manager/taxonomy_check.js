// Client-side checks of a taxonomy while it is edited: the common mistakes, reported with the
// same field paths the server uses (taxonomy.labels[0].name …). The server (PATCH of the
// project) stays the authority and checks everything else on save.

export const GEOMETRIES = {
  image: ["box", "polygon", "line", "point", "keypoints", "ellipse", "cuboid", "mask"],
  video: ["box", "point", "polygon"],
  categorization: ["category"],
  text_spans: ["span"],
  transcription: ["text"],
  text_collection: ["text"],
  llm_rating: ["rating"],
  llm_ranking: ["ranking"],
  llm_comparison: ["comparison"],
  rubric_grading: ["verdict"],
};
export const ATTRIBUTE_TYPES = [
  ["choice", "Choice"],
  ["multi_choice", "Multiple choice"],
  ["number", "Number"],
  ["text", "Text"],
  ["linear_scale", "Linear scale"],
];
export const LABELS_REQUIRED = new Set(["image", "video", "categorization", "text_spans"]);
export const UNLABELED = new Set(["llm_rating", "llm_ranking", "llm_comparison", "rubric_grading"]);
export const LINKABLE = new Set(["image", "video", "text_spans"]);
export const LLM = new Set(["llm_rating", "llm_ranking", "llm_comparison"]); // min / max responses
const COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

// → [{field, message}], in document order; empty when nothing obvious is wrong.
export function checkTaxonomy(taxonomy, taskType) {
  const problems = [];
  const fail = (field, message) => problems.push({ field, message });
  if (!taxonomy || typeof taxonomy !== "object" || Array.isArray(taxonomy)) {
    fail("taxonomy", "the taxonomy must be a JSON object");
    return problems;
  }
  const labels = list(taxonomy.labels);
  const criteria = list(taxonomy.criteria);
  if (LABELS_REQUIRED.has(taskType) && !labels.length) {
    fail("taxonomy.labels", `a ${taskType} taxonomy needs at least one label`);
  }
  if (UNLABELED.has(taskType) && labels.length) {
    fail("taxonomy.labels", `${taskType} tasks do not use labels`);
  }
  if (taskType === "llm_rating" && !criteria.length) {
    fail("taxonomy.criteria", "an llm_rating taxonomy needs at least one criterion");
  }
  if (!LINKABLE.has(taskType) && list(taxonomy.links).length) {
    fail("taxonomy.links", `links do not apply to ${taskType} tasks`);
  }
  const shared = list(taxonomy.attributes);
  checkAttributes(shared, "taxonomy.attributes", [], fail);
  checkAttributes(list(taxonomy.global_attributes), "taxonomy.global_attributes", [], fail);
  const allowed = GEOMETRIES[taskType] || [];
  const names = new Map();
  labels.forEach((label, i) => {
    const path = `taxonomy.labels[${i}]`;
    checkName(label?.name, `${path}.name`, "label", names, fail);
    const geometries = list(label?.geometries);
    geometries.forEach((g, j) => {
      if (!allowed.includes(g)) fail(`${path}.geometries[${j}]`, `geometry “${g}” is not allowed for ${taskType} tasks`);
    });
    if (geometries.includes("keypoints") && !list(label?.keypoints).length) {
      fail(`${path}.keypoints`, "a label with the keypoints geometry needs keypoint names");
    }
    if (list(label?.keypoints).length && !geometries.includes("keypoints")) {
      fail(`${path}.keypoints`, "keypoint names apply only to labels with the keypoints geometry");
    }
    const keypoints = list(label?.keypoints);
    list(label?.skeleton).forEach((edge, j) => {
      const ends = list(edge);
      if (ends.length !== 2) fail(`${path}.skeleton[${j}]`, "an edge joins two keypoint names, like head - neck");
      else if (!keypoints.length) fail(`${path}.skeleton`, "a skeleton joins keypoints: this label has no keypoint names");
      else {
        const unknown = ends.findIndex((name) => !keypoints.includes(name));
        if (unknown >= 0) fail(`${path}.skeleton[${j}][${unknown}]`, `keypoint “${ends[unknown]}” is not one of this label's keypoints`);
        else if (ends[0] === ends[1]) fail(`${path}.skeleton[${j}]`, "an edge joins two different keypoints");
      }
    });
    if (label?.color !== undefined && label?.color !== null && !COLOR.test(String(label.color))) {
      fail(`${path}.color`, `color “${label.color}” is not a hex color like #ff8800`);
    }
    checkAttributes(list(label?.attributes), `${path}.attributes`, shared, fail);
  });
  const linkNames = new Map();
  list(taxonomy.links).forEach((link, i) => {
    const path = `taxonomy.links[${i}]`;
    checkName(link?.name, `${path}.name`, "link", linkNames, fail);
    for (const side of ["from_labels", "to_labels"]) {
      list(link?.[side]).forEach((name, j) => {
        if (!names.has(name)) fail(`${path}.${side}[${j}]`, `label “${name}” is not in the taxonomy`);
      });
    }
    checkAttributes(list(link?.attributes), `${path}.attributes`, [], fail);
  });
  const criterionNames = new Map();
  criteria.forEach((criterion, i) => {
    const path = `taxonomy.criteria[${i}]`;
    checkName(criterion?.name, `${path}.name`, "criterion", criterionNames, fail);
    const min = criterion?.min ?? 1;
    const max = criterion?.max ?? 5;
    if (!Number.isInteger(min)) fail(`${path}.min`, "min must be a whole number");
    else if (!Number.isInteger(max)) fail(`${path}.max`, "max must be a whole number");
    else if (min >= max) fail(`${path}.min`, `min (${min}) must be less than max (${max})`);
    else if (list(criterion?.labels).length && list(criterion.labels).length !== max - min + 1) {
      fail(`${path}.labels`, `one caption per scale point: ${max - min + 1} for ${min}..${max}`);
    }
  });
  const low = taxonomy.min_responses;
  const high = taxonomy.max_responses;
  if (low != null && low < 1) fail("taxonomy.min_responses", "min_responses must be at least 1");
  if (high != null && high < 1) fail("taxonomy.max_responses", "max_responses must be at least 1");
  if (low != null && high != null && low > high) {
    fail("taxonomy.min_responses", `min_responses (${low}) is greater than max_responses (${high})`);
  }
  return problems;
}

function list(value) {
  return Array.isArray(value) ? value : [];
}

function checkName(name, field, what, seen, fail) {
  if (typeof name !== "string" || !name.trim()) {
    fail(field, `the ${what} needs a name`);
    return;
  }
  if (name !== name.trim()) fail(field, `name “${name}” has leading or trailing spaces`);
  if (/[\x00-\x1f\x7f]/.test(name)) fail(field, "names cannot contain line breaks or control characters");
  if (seen.has(name)) fail(field, `duplicate ${what} name “${name}”`);
  seen.set(name, field);
}

function checkAttributes(attrs, path, outer, fail) {
  const outerNames = new Set(outer.map((a) => a?.name));
  const seen = new Map();
  const scope = new Map([...outer, ...attrs].map((a) => [a?.name, a]));
  attrs.forEach((attr, i) => {
    const item = `${path}[${i}]`;
    checkName(attr?.name, `${item}.name`, "attribute", seen, fail);
    if (outerNames.has(attr?.name)) {
      fail(`${item}.name`, `attribute “${attr.name}” is already defined for every annotation`);
    }
    const type = attr?.type;
    if (!ATTRIBUTE_TYPES.some(([t]) => t === type)) {
      fail(`${item}.type`, "choose a type: choice, multi_choice, number, text or linear_scale");
      return;
    }
    const choices = list(attr.choices);
    if ((type === "choice" || type === "multi_choice")) {
      if (!choices.length) fail(`${item}.choices`, `a ${type} attribute needs at least one choice`);
      const unique = new Set();
      choices.forEach((choice, j) => {
        if (typeof choice !== "string" || !choice.trim()) fail(`${item}.choices[${j}]`, "choices cannot be empty");
        else if (unique.has(choice)) fail(`${item}.choices[${j}]`, `choice “${choice}” is listed twice`);
        unique.add(choice);
      });
    } else if (choices.length) {
      fail(`${item}.choices`, `choices apply only to choice and multi_choice attributes, not ${type}`);
    }
    if (type === "linear_scale") {
      if (!Number.isInteger(attr.min)) fail(`${item}.min`, "a linear scale needs a whole-number min");
      else if (!Number.isInteger(attr.max)) fail(`${item}.max`, "a linear scale needs a whole-number max");
      else if (attr.min >= attr.max) fail(`${item}.min`, `min (${attr.min}) must be less than max (${attr.max})`);
    } else if (type === "number") {
      if (attr.min != null && attr.max != null && attr.min > attr.max) {
        fail(`${item}.min`, `min (${attr.min}) is greater than max (${attr.max})`);
      }
      if (attr.step != null && !(attr.step > 0)) fail(`${item}.step`, "step must be greater than 0");
    }
    const condition = attr.condition;
    if (condition) {
      const target = scope.get(condition.attribute);
      if (!target || target === attr) {
        fail(`${item}.condition.attribute`, `condition refers to unknown attribute “${condition.attribute ?? ""}”`);
      } else if (target.type === "text") {
        fail(`${item}.condition.attribute`, `a condition cannot refer to text attribute “${target.name}”`);
      }
      if (!list(condition.in).length) fail(`${item}.condition.in`, "give at least one value the condition matches");
    }
  });
}
