// What every page module shares: the JSON API client and safe DOM building.
// Text is always inserted with textContent (via el()), never innerHTML, so task, label and
// instruction text stays inert.

export const csrf = () => (document.cookie.match(/(?:^|; )assay_csrf=([^;]*)/) || [])[1] || "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

// fetch() against /api/v1 with the session cookie and the CSRF header on writes.
// Resolves to the parsed JSON body (null for 204); rejects with ApiError on 4xx/5xx.
export async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  let body = options.body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf();
  const response = await fetch(`/api/v1${path}`, {
    credentials: "same-origin",
    ...options,
    body,
    headers,
  });
  if (response.status === 401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    throw new ApiError(401, null);
  }
  const json = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json;
}

// el("button", {class: "primary", onclick: fn}, "Text", childNode): attributes, event
// handlers (on*) and children; strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Load a module's stylesheet once.
export function css(href) {
  if (document.querySelector(`link[rel=stylesheet][href="${href}"]`)) return;
  document.head.append(el("link", { rel: "stylesheet", href }));
}

// A short message in the page's status region (role=status), cleared after a while.
export function toast(message, kind = "info") {
  let region = document.getElementById("toasts");
  if (!region) {
    region = el("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(region);
  }
  const item = el("div", { class: `toast ${kind}` }, message);
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 3000);
}

// Every rate and share in the UI, one unit: 0.853 → "85.3%" (null → "—").
export const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`);

// Client-side navigation: push the URL and let the router (static/app.js) render it, so
// moving between pages keeps the page (and its module state) loaded.
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event("assay:navigate"));
}
