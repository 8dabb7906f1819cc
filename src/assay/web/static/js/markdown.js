// Markdown → sanitized DOM. Instructions, task text and label descriptions are untrusted:
// marked turns them into HTML, DOMPurify strips scripts, event handlers, javascript: URLs,
// styles and forms, and the result comes back as a DocumentFragment (never an HTML string,
// so callers cannot accidentally innerHTML it).

import { Marked } from "/static/vendor/marked/marked.esm.js";
import DOMPurify from "/static/vendor/dompurify/purify.es.mjs";

const marked = new Marked({ gfm: true, breaks: false, async: false });

const PURIFY_OPTIONS = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object",
    "embed", "svg", "math", "base", "meta", "link"],
  FORBID_ATTR: ["style", "id", "name", "srcset", "action", "formaction"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

let hooked = false;
function installHooks() {
  if (hooked) return;
  hooked = true;
  // Links leave the app in a new tab without handing it window.opener.
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A" && node.getAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    if (node.tagName === "IMG") node.setAttribute("loading", "lazy");
  });
}

// Slug for a heading's anchor; headings get ids so an outline can link to them.
export function slugify(text) {
  return String(text).toLowerCase().trim().replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "") || "section";
}

// Headings of a markdown text: [{level, text, id}], in order, ids unique within the text.
export function headings(text) {
  const seen = new Map();
  const out = [];
  for (const token of marked.lexer(String(text ?? ""))) {
    if (token.type !== "heading") continue;
    const plain = token.text.replace(/[*_`~[\]()]/g, "").trim();
    let id = slugify(plain);
    const count = seen.get(id) || 0;
    seen.set(id, count + 1);
    if (count) id = `${id}-${count}`;
    out.push({ level: token.depth, text: plain, id: `md-${id}` });
  }
  return out;
}

// renderMarkdown(text) → DocumentFragment with sanitized HTML.
export function renderMarkdown(text) {
  installHooks();
  const source = String(text ?? "");
  const html = marked.parse(source);
  const fragment = DOMPurify.sanitize(html, PURIFY_OPTIONS);
  // Give headings stable ids (set after sanitizing; they come from our slugify, not the input).
  const ids = headings(source);
  fragment.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach((heading, index) => {
    if (ids[index]) heading.id = ids[index].id;
  });
  return fragment;
}

// Plain-text inline markdown (bold/italic/code/links) for short strings such as label
// descriptions, as a DocumentFragment.
export function renderInline(text) {
  installHooks();
  const html = marked.parseInline(String(text ?? ""));
  return DOMPurify.sanitize(html, PURIFY_OPTIONS);
}
