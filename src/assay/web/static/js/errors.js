// Errors in the words of the people who read them. The API names a field by its JSON path
// (`response.global_attributes.scene`, `taxonomy.labels[2].attributes[0].choices`); labelers
// and managers see "Scene (task attribute)" and "Choices of attribute “occluded” of label
// “car”" instead, and never a path or an API route. Every page goes through this module.

import { ApiError } from "/static/js/api.js";

// "image_width" → "Image width"
export function words(name) {
  const text = String(name ?? "").replace(/[_-]+/g, " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

const quoted = (name) => `“${name}”`;
// "label 2 “car”": the position the editor shows, and the name when there is one.
const nth = (kind, i, item) => `${kind} ${i + 1}${item?.name ? ` ${quoted(item.name)}` : ""}`;

// Field names of the API's bodies in words; anything else is humanised by words().
const FIELD_WORDS = {
  lease_token: "Your hold on this task",
  response: "Your answer",
  taxonomy: "The taxonomy",
  instructions: "The instructions",
  name: "Name",
  email: "Email",
  password: "Password",
  role: "Role",
  metadata: "Metadata",
  params: "Task parameters",
  body: "The request",
  cursor: "The page position",
  reason: "The reason",
  comments: "The comments",
  attachment: "Attachment",
  unique_id: "Unique id",
};

function taxonomyWords(path, taxonomy) {
  // taxonomy.labels[i](.attributes[j])(.rest) and friends, named by what they are called.
  const labels = taxonomy?.labels || [];
  let m = path.match(/^taxonomy\.labels\[(\d+)\]\.attributes\[(\d+)\](?:\.(\w+))?/);
  if (m) {
    const label = labels[Number(m[1])];
    const attr = label?.attributes?.[Number(m[2])];
    const what = `${nth("attribute", Number(m[2]), attr)} of ${nth("label", Number(m[1]), label)}`;
    return m[3] ? `${words(m[3])} of ${what}` : words(what);
  }
  m = path.match(/^taxonomy\.(global_attributes|attributes|links|criteria)\[(\d+)\](?:\.(\w+))?/);
  if (m) {
    const item = taxonomy?.[m[1]]?.[Number(m[2])];
    const kind = { global_attributes: "task attribute", attributes: "attribute on every annotation",
      links: "relation", criteria: "criterion" }[m[1]];
    const what = nth(kind, Number(m[2]), item);
    return m[3] ? `${words(m[3])} of ${what}` : words(what);
  }
  m = path.match(/^taxonomy\.labels\[(\d+)\](?:\.(\w+))?/);
  if (m) {
    const label = labels[Number(m[1])];
    const what = nth("label", Number(m[1]), label);
    return m[2] ? `${words(m[2])} of ${what}` : words(what);
  }
  m = path.match(/^taxonomy\.(\w+)/);
  return m ? `${words(m[1])} (taxonomy)` : "The taxonomy";
}

function responseWords(path, response) {
  let m = path.match(/^response\.global_attributes\.(.+)$/);
  if (m) return `${words(m[1])} (task attribute)`;
  m = path.match(/^response\.annotations\[(\d+)\](?:\.(\w+))?(?:\.(.+))?/);
  if (m) {
    const i = Number(m[1]);
    const label = response?.annotations?.[i]?.label;
    const which = `${label ? quoted(label) : "annotation"} ${i + 1}`;
    if (m[2] === "attributes" && m[3]) return `${words(m[3])} (attribute of ${which})`;
    return m[2] && m[2] !== "attributes" ? `${words(m[2])} of ${which}` : words(which);
  }
  m = path.match(/^response\.links\[(\d+)\]/);
  if (m) return `Relation ${Number(m[1]) + 1}`;
  if (path === "response.annotations") return "The annotations";
  return "Your answer";
}

// The words for a field path, or "" when there is none.
export function fieldWords(field, { taxonomy = null, response = null } = {}) {
  if (!field) return "";
  const path = String(field);
  if (path.startsWith("response")) return responseWords(path, response);
  if (path.startsWith("taxonomy")) return taxonomyWords(path, taxonomy);
  const m = path.match(/^tasks\[(\d+)\](?:\.(.+))?/);
  if (m) return `Task ${Number(m[1]) + 1}${m[2] ? `: ${fieldWords(m[2]).toLowerCase()}` : ""}`;
  if (FIELD_WORDS[path]) return FIELD_WORDS[path];
  // The last named part: `quality.evaluation_rate` → "Evaluation rate".
  const last = path.split(/[.[\]]+/).filter((part) => part && !/^\d+$/.test(part)).pop();
  return FIELD_WORDS[last] || words(last);
}

// Paths and API routes taken out of a server message.
function plain(message, field) {
  let text = String(message || "").trim();
  if (field && text.startsWith(`${field}:`)) text = text.slice(field.length + 1).trim();
  const pointer = String.raw`(?:[,;]?\s*\(?(?:see|use|call|with|via)\s+)?`;
  text = text.replace(new RegExp(`${pointer}\\b(?:GET|POST|PUT|PATCH|DELETE)\\s+\\/[^\\s)]+\\)?`, "g"), "");
  text = text.replace(new RegExp(`${pointer}(?:https?:\\/\\/[^\\s/]+)?\\/(?:api\\/)?v\\d\\/[^\\s)]*\\)?`, "g"), "");
  // Any dotted JSON path left in the text (`response.annotations[2].x`) becomes its words —
  // except in a query's errors, where `metadata.speed` is a field of the query language,
  // written as the person wrote it.
  if (field === "query") return text.replace(/\s{2,}/g, " ").trim();
  text = text.replace(/\b(?:response|taxonomy|tasks|params|metadata)(?:\[\d+\])?(?:\.[\w]+(?:\[\d+\])?)+/g,
    (path) => fieldWords(path).toLowerCase());
  return text.replace(/\s{2,}/g, " ").replace(/\s+([.,;:])/g, "$1").trim();
}

// "attribute 'scene' is required" with field response.global_attributes.scene →
// "Scene (task attribute) is required."
export function humanMessage(error, context = {}) {
  if (typeof error === "string") return error;
  if (!(error instanceof ApiError)) {
    // fetch() rejects with a TypeError ("Failed to fetch") when the server cannot be reached.
    const unreachable = !(error instanceof Error)
      || (error instanceof TypeError && /fetch|network|load failed/i.test(error.message));
    return unreachable ? "Could not reach the server." : error.message;
  }
  if (error.status >= 500) {
    const id = /request id (\w+)/.exec(error.message || "")?.[1];
    return `Something went wrong on the server${id ? ` (request id ${id})` : ""}. `
      + "Try again; if it keeps happening, tell an administrator.";
  }
  // context.subject: the words a page already shows for the field (its control's label).
  const subject = context.subject || fieldWords(error.field, context);
  let text = plain(error.message, error.field);
  if (subject) {
    // The server's own wording starts with what it is about; say it once, in words.
    text = text.replace(/^(?:the\s+)?(?:attribute|field|value)\s+(['"“])[^'"”]+\1\s*/i, "")
      .replace(/^(?:the\s+)?(?:attribute|field|value)\s*/i, "");
    text = /^(?:is|are|must|should|has|have|was|cannot|can't|needs?)\b/i.test(text)
      ? `${subject} ${text}` : `${subject}: ${text}`;
  }
  text = text.trim();
  if (!text) return subject ? `${subject} is not valid.` : "The server refused this.";
  text = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
