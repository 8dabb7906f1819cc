// Instructions tab: a markdown editor with the document's outline (new projects start from the
// outline the server generates from the taxonomy, TODOs included), a live sanitized preview,
// publishing a new version, and earlier versions to look at or restore.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { confirmDialog, fetchAll, formatDate } from "/static/js/manager/ui.js";
import { guardUnsaved } from "/static/js/manager/unsaved.js";
import { headings, renderMarkdown } from "/static/js/markdown.js";

export async function render(panel, ctx) {
  const project = ctx.project;
  const base = `/projects/${encodeURIComponent(project.id)}/instructions`;
  if (!ctx.manages) {
    const doc = el("article", { class: "card markdown" });
    doc.append(renderMarkdown(project.instructions || ""));
    panel.replaceChildren(doc);
    return undefined;
  }
  let versions = await fetchAll(base, 200);
  let published = project.instructions || "";

  const editor = el("textarea", {
    class: "md-editor", spellcheck: "true", "aria-label": "Instructions (markdown)",
  });
  editor.value = published;
  const preview = el("article", { class: "markdown md-preview", "aria-label": "Preview" });
  const outline = el("nav", { class: "md-outline", "aria-label": "Outline" });
  const status = el("span", { class: "muted small", "aria-live": "polite" });
  const versionSelect = el("select", { "aria-label": "Version" });
  const publish = el("button", { type: "button", class: "primary" }, "Publish new version");
  const discard = el("button", { type: "button", class: "secondary" }, "Discard changes");

  function paintVersions() {
    versionSelect.replaceChildren(...versions.map((v) => el("option", { value: String(v.version) },
      `v${v.version} · ${formatDate(v.created_at)}${v.version === ctx.project.instructions_version ? " (current)" : ""}`)));
    versionSelect.value = String(ctx.project.instructions_version);
  }

  let timer = null;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(paintPreview, 120);
    const dirty = editor.value !== published;
    publish.disabled = !dirty;
    discard.disabled = !dirty;
    const todos = (editor.value.match(/\bTODO\b/g) || []).length;
    status.textContent = `${dirty ? "Unpublished changes" : `Published as v${ctx.project.instructions_version}`}`
      + (todos ? ` · ${todos} TODO${todos === 1 ? "" : "s"} left` : "");
  }

  function paintPreview() {
    preview.replaceChildren(renderMarkdown(editor.value));
    const items = headings(editor.value);
    outline.replaceChildren(el("h3", {}, "Outline"), items.length
      ? el("ul", {}, items.map((h) => el("li", { class: `level-${h.level}` },
        el("a", {
          href: `#${h.id}`,
          onclick: (event) => {
            event.preventDefault();
            preview.querySelector(`#${CSS.escape(h.id)}`)?.scrollIntoView({ block: "start", behavior: "smooth" });
            jumpToHeading(editor, h);
          },
        }, h.text))))
      : el("p", { class: "muted small" }, "Add # headings to build the outline."));
  }

  editor.addEventListener("input", refresh);
  editor.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      if (!publish.disabled) publish.click();
    }
  });
  discard.addEventListener("click", () => {
    editor.value = published;
    refresh();
  });
  publish.addEventListener("click", async () => {
    publish.disabled = true;
    try {
      const version = await api(base, { method: "PUT", body: { body: editor.value } });
      published = version.body;
      ctx.setProject({ ...ctx.project, instructions: version.body, instructions_version: version.version });
      versions = [version, ...versions];
      paintVersions();
      toast(`Instructions v${version.version} published`);
    } catch (error) {
      toast(humanMessage(error), "error");
    }
    refresh();
  });
  versionSelect.addEventListener("change", async () => {
    const version = versions.find((v) => String(v.version) === versionSelect.value);
    if (!version) return;
    if (editor.value !== published && !(await confirmDialog("Discard changes?",
      `Replace your unpublished changes with v${version.version}?`, "Replace"))) {
      versionSelect.value = String(ctx.project.instructions_version);
      return;
    }
    editor.value = version.body;
    refresh();
    toast(version.version === ctx.project.instructions_version
      ? "Showing the current version"
      : `Loaded v${version.version} into the editor: publish to restore it`);
  });

  paintVersions();
  panel.replaceChildren(
    el("div", { class: "toolbar" },
      el("label", { class: "inline" }, el("span", { class: "muted small" }, "Versions"), versionSelect),
      status, el("span", { class: "grow" }), discard, publish),
    el("div", { class: "md-layout" },
      outline,
      el("div", { class: "md-pane" }, el("div", { class: "pane-title" }, "Markdown"), editor),
      el("div", { class: "md-pane" }, el("div", { class: "pane-title" }, "Preview"), preview)));
  paintPreview();
  refresh();
  const guard = guardUnsaved(panel, () => editor.value !== published, { what: "instruction changes" });
  return {
    destroy: () => {
      clearTimeout(timer);
      guard.release();
    },
  };
}

// Put the caret on the heading's line in the editor and scroll it into view.
function jumpToHeading(editor, heading) {
  const lines = editor.value.split("\n");
  let offset = 0;
  for (const line of lines) {
    const match = line.match(/^(#{1,6})\s+(.*)$/);
    if (match && match[1].length === heading.level && match[2].replace(/[*_`~[\]()]/g, "").trim() === heading.text) {
      editor.focus();
      editor.setSelectionRange(offset, offset + line.length);
      const ratio = offset / Math.max(1, editor.value.length);
      editor.scrollTop = ratio * editor.scrollHeight - 40;
      return;
    }
    offset += line.length + 1;
  }
}
