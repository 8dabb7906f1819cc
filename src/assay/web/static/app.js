// The app shell: every byte of data comes from the public JSON API (/api/v1).
// Text is always inserted with textContent, never innerHTML, so task and label text stays inert.

const csrf = () => (document.cookie.match(/(?:^|; )assay_csrf=([^;]*)/) || [])[1] || "";

export async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = csrf();
  const response = await fetch(`/api/v1${path}`, { credentials: "same-origin", ...options, headers });
  if (response.status === 401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    throw new Error("not logged in");
  }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error?.message || response.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

async function renderProjects(view) {
  view.replaceChildren(el("h1", {}, "Projects"));
  let projects = [];
  try {
    projects = (await api("/projects")).items;
  } catch {
    projects = []; // the labeling pillar adds /projects; until then the list is empty
  }
  if (!projects.length) {
    view.append(el("section", { class: "empty card" },
      el("h2", {}, "No projects yet"),
      el("p", {}, "Create one through the API or the Python SDK; see the ",
        el("a", { href: "/api/docs" }, "API docs"), "."),
    ));
    return;
  }
  const list = el("ul", { class: "projects" });
  for (const project of projects) list.append(el("li", { class: "card" }, project.name));
  view.append(list);
}

async function main() {
  const me = await api("/me");
  document.getElementById("who").textContent = `${me.user.name || me.user.email} · ${me.user.role}`;
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf() } });
    location.href = "/login";
  });
  await renderProjects(document.getElementById("view"));
}

main();
