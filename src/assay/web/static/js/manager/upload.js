// Data tab: drop files (images, videos, documents, text) → each is uploaded to /blobs with a
// progress bar (XMLHttpRequest upload progress), then one bulk request creates a task per file;
// or drop a JSONL/CSV file of tasks (URLs) → it is uploaded and imported by a background job
// whose progress is polled.

import { api, csrf, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { fetchAll, plural, select } from "/static/js/manager/ui.js";

const PARALLEL = 3;
const BULK = 1000;
const TASK_FILE = /\.(jsonl|ndjson|csv)$/i;
const TEXT_TYPES = new Set(["text_spans", "text_collection", "categorization"]);

// POST one file to /api/v1/blobs; onProgress(loadedBytes). Resolves to the Blob body.
export function uploadBlob(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/blobs");
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => onProgress?.(event.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(file.size);
        resolve(xhr.response);
      } else {
        reject(new Error(xhr.response?.error?.message || `upload failed (HTTP ${xhr.status})`));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network error during upload")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

// Why an uploaded file cannot be a task of this type (the server checks it too, by the type it
// detected from the bytes, not the name), or null.
function unfitMedia(taskType, blob) {
  const wanted = { image: ["image"], video: ["video", "image"] }[taskType];
  if (!wanted || wanted.includes(blob.content_type.split("/")[0])) return null;
  return `not added: this file is ${blob.content_type}, not ${wanted.map((k) => (k === "image" ? "an image" : "a video")).join(" or ")}`;
}

// Image size, so the image workspace and geometry checks know the canvas before loading it.
async function imageSize(file) {
  if (!file.type.startsWith("image/") || typeof createImageBitmap !== "function") return null;
  try {
    const bitmap = await createImageBitmap(file);
    const size = { image_width: bitmap.width, image_height: bitmap.height };
    bitmap.close();
    return size;
  } catch {
    return null;
  }
}

export async function render(panel, ctx) {
  const project = ctx.project;
  const pid = encodeURIComponent(project.id);
  const batches = (await fetchAll(`/batches?project_id=${pid}`, 1000)).filter((b) => b.status !== "completed");
  const wanted = ctx.params.get("batch") || batches.find((b) => b.status === "staging")?.id || "";
  const batch = select("batch", [["", "No batch: queue the tasks at once"],
    ...batches.map((b) => [b.id, `${b.name} (${b.status === "staging" ? "staging" : "in progress"})`])],
  wanted, { "aria-label": "Add the tasks to" });

  const progress = el("progress", { max: 1, value: 0, "aria-label": "Upload progress" });
  const progressText = el("span", { class: "muted small", "aria-live": "polite" });
  const fileList = el("ul", { class: "file-list", "aria-label": "Files" });
  const result = el("div", { "aria-live": "polite" });
  const input = el("input", { type: "file", multiple: true, class: "visually-hidden", id: "data-files", "aria-label": "Files to upload" });
  const zone = el("div", { class: "dropzone", tabindex: "0", role: "button", "aria-describedby": "drop-help" },
    el("div", { class: "dropzone-icon", "aria-hidden": "true" }, "⇪"),
    el("p", {}, el("strong", {}, "Drop files here"), " or ", el("label", { for: "data-files", class: "link" }, "choose files")),
    el("p", { class: "muted small", id: "drop-help" }, dropHelp(project.task_type)),
    input);
  let busy = false;

  async function handle(files) {
    if (busy || !files.length) return;
    busy = true;
    result.replaceChildren();
    try {
      const taskFiles = files.filter((f) => TASK_FILE.test(f.name));
      const media = files.filter((f) => !TASK_FILE.test(f.name));
      if (media.length) await uploadMedia(media);
      for (const file of taskFiles) await importFile(file);
    } finally {
      busy = false;
      input.value = "";
    }
  }

  async function uploadMedia(files) {
    const total = files.reduce((sum, f) => sum + f.size, 0) || 1;
    const loaded = new Array(files.length).fill(0);
    const rows = files.map((file) => {
      const state = el("span", { class: "muted small" }, "waiting");
      fileList.append(el("li", {}, el("span", { class: "file-name" }, thumbnail(file), file.name),
        el("span", { class: "muted small" }, formatBytes(file.size)), state));
      return state;
    });
    const paint = () => {
      const sum = loaded.reduce((a, b) => a + b, 0);
      progress.value = Math.min(1, sum / total);
      progressText.textContent = `Uploading ${plural(files.length, "file")}: ${Math.round(progress.value * 100)}%`;
    };
    paint();
    const tasks = new Array(files.length);
    let next = 0;
    let failed = 0;
    async function worker() {
      while (next < files.length) {
        const i = next++;
        const file = files[i];
        rows[i].textContent = "uploading…";
        try {
          const blob = await uploadBlob(file, (bytes) => { loaded[i] = bytes; paint(); });
          const unfit = unfitMedia(project.task_type, blob);
          if (unfit) throw new Error(unfit);
          const params = { attachment: `blob:${blob.sha256}` };
          if (TEXT_TYPES.has(project.task_type) && (file.type.startsWith("text/") || /\.(txt|md)$/i.test(file.name))) {
            delete params.attachment;
            params.text = await file.text();
          }
          Object.assign(params, (await imageSize(file)) || {});
          tasks[i] = { params, metadata: { filename: file.name } };
          rows[i].textContent = "uploaded";
          rows[i].className = "ok small";
        } catch (error) {
          failed++;
          loaded[i] = file.size;
          rows[i].textContent = humanMessage(error);
          rows[i].className = "error small";
          paint();
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
    const ready = tasks.filter(Boolean);
    if (!ready.length) {
      progressText.textContent = "Nothing was uploaded.";
      return;
    }
    progressText.textContent = `Creating ${plural(ready.length, "task")}…`;
    let created = 0;
    try {
      for (let start = 0; start < ready.length; start += BULK) {
        const body = { tasks: ready.slice(start, start + BULK) };
        if (batch.value) body.batch = batch.value;
        created += (await api(`/projects/${pid}/tasks/bulk`, { method: "POST", body })).count;
      }
    } catch (error) {
      result.replaceChildren(el("p", { class: "field-error", role: "alert" },
        humanMessage(error)));
      progressText.textContent = `${plural(created, "task")} created before the error`;
      return;
    }
    progress.value = 1;
    progressText.textContent = `Done: ${plural(created, "task")} created${failed ? `, ${failed} file(s) failed` : ""}.`;
    result.replaceChildren(doneNote(created, batch, ctx));
    toast(`${plural(created, "task")} created`);
  }

  async function importFile(file) {
    fileList.append(el("li", {}, el("span", { class: "file-name" }, file.name),
      el("span", { class: "muted small" }, formatBytes(file.size)), el("span", { class: "muted small" }, "task file")));
    progress.value = 0;
    progressText.textContent = `Uploading ${file.name}…`;
    let job;
    try {
      const blob = await uploadBlob(file, (bytes) => {
        progress.value = 0.3 * Math.min(1, bytes / (file.size || 1));
      });
      const body = { blob: blob.sha256 };
      if (batch.value) body.batch = batch.value;
      job = await api(`/projects/${pid}/imports`, { method: "POST", body });
    } catch (error) {
      result.replaceChildren(el("p", { class: "field-error", role: "alert" }, humanMessage(error)));
      progressText.textContent = "Import failed.";
      return;
    }
    progressText.textContent = "Import queued…";
    while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (!panel.isConnected) return; // left the tab: stop polling
      job = await api(`/jobs/${encodeURIComponent(job.id)}`);
      progress.value = 0.3 + 0.7 * (job.progress || 0);
      progressText.textContent = job.progress_message || `Importing… ${Math.round((job.progress || 0) * 100)}%`;
    }
    progress.value = 1;
    const logs = (await api(`/jobs/${encodeURIComponent(job.id)}/logs?limit=50`)).items
      .filter((log) => log.level !== "info");
    if (job.status === "succeeded") {
      const created = job.result?.created ?? 0;
      progressText.textContent = `Imported: ${job.progress_message || plural(created, "task")}`;
      result.replaceChildren(doneNote(created, batch, ctx));
    } else {
      progressText.textContent = `Import ${job.status}: ${job.error || ""}`;
    }
    if (logs.length) {
      result.append(el("details", { class: "card", open: true },
        el("summary", {}, `${plural(logs.length, "problem")} in the file`),
        el("ul", { class: "log" }, logs.map((log) => el("li", { class: log.level }, log.message)))));
    }
  }

  zone.addEventListener("click", (event) => {
    if (event.target !== input && !event.target.closest("label")) input.click();
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    handle([...(event.dataTransfer?.files || [])]);
  });
  input.addEventListener("change", () => handle([...input.files]));

  panel.replaceChildren(
    el("div", { class: "card" },
      el("h2", { class: "card-title" }, "Upload data"),
      el("label", { class: "field inline-field" }, el("span", { class: "field-label" }, "Add the tasks to"), batch),
      zone,
      el("div", { class: "upload-progress" }, progress, progressText),
      fileList,
      result),
    el("div", { class: "card muted small help" },
      el("h3", {}, "Task files"),
      el("p", {}, "A ", el("code", {}, ".jsonl"), " file has one task per line, e.g. ",
        el("code", {}, '{"params": {"attachment": "https://…/1.jpg"}, "metadata": {"camera": "front"}}'), "."),
      el("p", {}, "A ", el("code", {}, ".csv"), " file has the columns ", el("code", {}, "attachment"), ", ",
        el("code", {}, "text"), ", ", el("code", {}, "unique_id"), ", ", el("code", {}, "priority"), ", ",
        el("code", {}, "tags"), ", ", el("code", {}, "metadata.<key>"), " and ", el("code", {}, "params.<key>"), ".")));
}

function dropHelp(taskType) {
  const kinds = {
    image: "Images (PNG, JPEG, WebP …)", video: "Videos", transcription: "Audio, images or documents",
    categorization: "Images, documents or .txt files", text_spans: ".txt files",
    text_collection: ".txt files or attachments",
  }[taskType] || "Files";
  return `${kinds}: one task per file. Or a .jsonl / .csv file of tasks (URLs), imported in the background.`;
}

function doneNote(count, batch, ctx) {
  const staging = batch.value && batch.selectedOptions[0]?.textContent.includes("(staging)");
  return el("div", { class: "notice ok" },
    el("span", {}, `${plural(count, "task")} added${staging ? " to a staging batch: finalize it to queue them." : "."}`),
    el("button", { type: "button", class: "link", onclick: () => ctx.show("tasks", { batch: batch.value }) }, "View tasks"),
    staging ? el("button", { type: "button", class: "link", onclick: () => ctx.show("overview") }, "Go to batches") : null);
}

// A small preview of an image file (an object URL: the bytes never leave the browser for it).
function thumbnail(file) {
  if (!file.type.startsWith("image/")) return el("span", { class: "thumb", "aria-hidden": "true" });
  const img = el("img", { class: "thumb", alt: "" });
  img.src = URL.createObjectURL(file);
  img.addEventListener("load", () => URL.revokeObjectURL(img.src), { once: true });
  return img;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
