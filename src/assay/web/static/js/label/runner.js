// The labeling runner: next task from the queue → the workspace for its type → submit (or a
// review decision) → the next task, without a page reload. Keeps the lease alive, autosaves
// drafts to the server (and a local copy, so a lost connection or a reload loses nothing),
// shows the instructions in a side panel and the reviewer's comments on reworked tasks.

import { api, css, el, percent, toast } from "/static/js/api.js";
import { fieldWords } from "/static/js/errors.js";
import {
  askText, describe, dialogOpen, imageUrls, isTyping, local, missingRequired, offline, preloadImages,
  showShortcuts,
} from "/static/js/label/common.js";
import { InstructionNote } from "/static/js/label/note.js";
import { NUMBER_KEYS, NUMBER_KEYS_RULE } from "/static/js/label/number_keys.js";
import { ContextBar } from "/static/js/label/context.js";
import { askSkip } from "/static/js/label/skip.js";
import { summarize } from "/static/js/label/summary.js";

const WORKSPACE_FOR = {
  image: "image",
  video: "video",
  categorization: "categorize",
  text_spans: "spans",
  transcription: "text",
  text_collection: "text",
  llm_rating: "llm",
  llm_ranking: "llm",
  llm_comparison: "llm",
  rubric_grading: "rubric",
};
const DRAFT_DELAY_MS = 1500; // autosave this long after the last change…
const DRAFT_MAX_WAIT_MS = 5000; // …but at least this often while changes keep coming
const RETRY_MS = [1000, 2000, 4000, 8000, 15000, 30000];

const modules = new Map();
function workspaceModule(type) {
  const name = WORKSPACE_FOR[type];
  if (!name) return Promise.reject(new Error(`no workspace for task type ${type}`));
  if (!modules.has(name)) modules.set(name, import(`/static/js/label/workspaces/${name}.js`));
  return modules.get(name);
}

const sleepFrame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

let markdown = null;
function renderInstructions(text) {
  markdown ||= import("/static/js/markdown.js").catch(() => null);
  return markdown.then((module) => module ? module.renderMarkdown(text)
    : el("p", { class: "plain" }, text)); // without the renderer, show it as plain text
}

// mountLabeling(view, {projectId, stage, mode, training}) → {destroy()}. mode: "label" |
// "review"; training: work through the project's training course (feedback after each task).
// audit: review completed tasks sampled for audit (mode "review").
export async function mountLabeling(view, {
  projectId, stage = null, mode = "label", training = false, audit = false,
}) {
  css("/static/css/label.css");
  const runner = new Runner(view, projectId, stage, mode === "review" ? "review" : "label");
  runner.training = Boolean(training) && mode !== "review";
  runner.audit = Boolean(audit) && mode === "review";
  await runner.start();
  return runner;
}

// An audit lease in the shape the runner shows (null when nothing waits).
function asLease(audit) {
  if (!audit) return null;
  return {
    audit_id: audit.audit_id,
    lease_token: audit.lease_token,
    expires_at: audit.expires_at,
    task: { ...audit.task, prelabels: null, priority: 0, stage: "audit", round: 0 },
    draft: null,
    previous: audit.response,
    comments: null,
  };
}

class Runner {
  constructor(view, projectId, stage, mode) {
    this.view = view;
    this.projectId = projectId;
    this.stage = stage;
    this.mode = mode;
    this.lease = null;
    this.handle = null;
    this.dirty = false;
    this.edited = false; // review: the reviewer changed the response (a fix)
    this.version = 0;
    this.saving = null;
    this.retries = 0;
    this.timers = {};
    this.busy = false;
    this.onKey = (event) => this.key(event);
    this.onHide = () => { if (document.visibilityState === "hidden") this.flush(true); };
    this.onBlur = () => this.flush(false);
    this.onPageHide = () => this.flush(true);
    this.onOnline = () => { if (this.isOffline) this.retryNow(); };
  }

  // --- lifecycle ---

  async start() {
    local.prune();
    this.renderShell();
    try {
      this.project = await api(`/projects/${encodeURIComponent(this.projectId)}`);
    } catch (error) {
      this.main.replaceChildren(el("section", { class: "lb-empty card", role: "alert" },
        el("h2", {}, "This project cannot be opened"), el("p", {}, describe(error))));
      return;
    }
    if (!this.stage) this.stage = this.defaultStage();
    const kind = (this.project.pipeline?.stages || []).find((s) => s.name === this.stage)?.kind;
    if (kind && !this.audit && kind !== (this.mode === "review" ? "review" : "label")) {
      this.main.replaceChildren(el("section", { class: "lb-empty card", role: "alert" },
        el("h2", {}, `“${this.stage}” is a ${kind} stage`),
        el("p", {}, this.mode === "review" ? "There is nothing to review in it; open it to label."
          : "Its tasks are reviewed, not labeled; open it to review.")));
      return;
    }
    this.title.textContent = this.project.name;
    this.showSubtitle();
    document.title = `${this.project.name} · Assay`;
    renderInstructions(this.project.instructions || "").then((fragment) => {
      this.instructionsBody.replaceChildren(fragment);
    });
    workspaceModule(this.project.task_type).catch(() => {}); // warm the module cache
    window.addEventListener("keydown", this.onKey);
    window.addEventListener("blur", this.onBlur);
    window.addEventListener("pagehide", this.onPageHide);
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onHide);
    await this.next();
  }

  destroy() {
    this.flush(true);
    this.stopTimers();
    this.handle?.destroy();
    this.handle = null;
    window.removeEventListener("keydown", this.onKey);
    window.removeEventListener("blur", this.onBlur);
    window.removeEventListener("pagehide", this.onPageHide);
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onHide);
    this.destroyed = true;
  }

  alive() {
    if (this.destroyed) return false;
    if (this.root.isConnected) return true;
    this.destroy(); // the router moved on without telling us
    return false;
  }

  defaultStage() {
    const stages = this.project.pipeline?.stages || [{ name: "label", kind: "label" }];
    const wanted = this.mode === "review" ? "review" : "label";
    return (stages.find((s) => s.kind === wanted) || stages[0]).name;
  }

  // --- the page ---

  renderShell() {
    const open = localStorage.getItem("assay:instructions-open") !== "0";
    this.title = el("h1", {}, "Loading…");
    this.subtitle = el("span", { class: "muted" });
    this.status = el("span", { class: "lb-status", role: "status", "aria-live": "polite" });
    this.offlineBadge = el("span", { class: "badge offline", hidden: true }, "offline — saving when back");
    this.alert = el("div", { class: "lb-alert", role: "alert" });
    this.rework = el("section", { class: "lb-rework", hidden: true, "aria-label": "Reviewer comments" });
    this.container = el("div", { class: "lb-workspace" });
    // Labelers may leave a note on the instructions with a submission (calibration feedback).
    this.note = this.mode === "review" ? null : new InstructionNote();
    this.main = el("div", { class: "lb-main" }, this.rework, this.container, this.note?.node);
    this.instructionsBody = el("div", { class: "lb-instructions-body markdown" });
    this.instructions = el("aside", { id: "lb-instructions", class: "lb-instructions",
      "aria-label": "Instructions", hidden: !open },
      el("h2", {}, "Instructions"), this.instructionsBody);
    this.toggle = el("button", { type: "button", class: "secondary", "aria-expanded": String(open),
      "aria-controls": "lb-instructions", onclick: () => this.toggleInstructions() }, "Instructions");
    this.buttons = el("div", { class: "lb-actions" });
    this.contextBar = new ContextBar(this);
    this.root = el("section", { class: "labeling", "data-mode": this.mode, "data-state": "loading" },
      el("header", { class: "lb-bar" },
        el("div", { class: "lb-title" }, this.title, this.subtitle),
        el("div", { class: "lb-state" }, this.status, this.offlineBadge),
        this.buttons,
        this.contextBar.element),
      this.alert,
      el("div", { class: "lb-body" }, this.main, this.instructions));
    this.renderButtons();
    this.view.replaceChildren(this.root);
  }

  renderButtons() {
    const button = (text, onclick, attrs = {}) =>
      el("button", { type: "button", ...attrs, onclick: () => onclick() }, text);
    this.actions = {};
    const common = [
      this.toggle,
      button("Shortcuts", () => this.showShortcuts(), { class: "secondary", "aria-keyshortcuts": "?" }),
    ];
    if (this.mode === "review") {
      this.actions.reject = button("Reject…", () => this.review("reject"), { class: "secondary danger" });
      this.actions.fix = button("Submit fix", () => this.review("fix"), { class: "secondary", disabled: true });
      this.actions.accept = button("Accept", () => this.review("accept"),
        { "aria-keyshortcuts": "Control+Enter" });
    } else {
      this.actions.skip = button("Skip…", () => this.skip(), { class: "secondary" });
      this.actions.save = button("Save draft", () => this.save({ force: true }),
        { class: "secondary", "aria-keyshortcuts": "Control+S" });
      this.actions.submit = button("Submit", () => this.submit(), { "aria-keyshortcuts": "Control+Enter" });
    }
    this.buttons.replaceChildren(...common, ...Object.values(this.actions));
  }

  setBusy(busy) {
    this.busy = busy;
    this.root.classList.toggle("busy", busy);
    for (const [name, node] of Object.entries(this.actions)) {
      node.disabled = busy || !this.lease || (name === "fix" && !this.edited)
        || (name === "accept" && this.edited) || (name === "submit" && Boolean(this.broken));
    }
  }

  setStatus(text, kind = "") {
    this.status.textContent = text;
    this.status.className = `lb-status ${kind}`;
  }

  showAlert(text, kind = "error") {
    this.alert.replaceChildren(text ? el("p", { class: kind }, text) : "");
  }

  toggleInstructions() {
    const open = this.instructions.hidden;
    this.instructions.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    localStorage.setItem("assay:instructions-open", open ? "1" : "0");
  }

  // --- tasks ---

  // `given`: a lease that already came back with a submission (submit?next=true; null when
  // the stage has nothing left); otherwise ask the queue.
  async next({ started = null, notice = "", given = undefined } = {}) {
    const asked = performance.now();
    this.setBusy(true);
    const stage = encodeURIComponent(this.stage);
    let lease = given;
    if (lease === undefined) {
      const project = encodeURIComponent(this.projectId);
      try {
        if (this.audit) lease = asLease(await api(`/projects/${project}/audits/next`, { method: "POST" }));
        else lease = await api(this.training ? `/projects/${project}/training/next`
          : `/projects/${project}/queue/next?stage=${stage}`, { method: "POST" });
      } catch (error) {
        if (!this.alive()) return;
        this.setBusy(false);
        this.showOffline(offline(error));
        if (error.code === "training_required") {
          this.showEmpty("Training first", error.message, "Start the training course",
            () => this.switchTraining(true));
        } else if (error.code === "paused") {
          this.showEmpty("You are paused in this project", error.message, "Check again");
        } else {
          this.showEmpty("Could not get a task", describe(error), "Try again");
        }
        return;
      }
    }
    if (!this.alive()) return;
    this.showOffline(false);
    if (!lease && this.training) {
      await this.trainingOver();
      return;
    }
    if (!lease) {
      this.showAlert(notice, "notice");
      this.showEmpty(this.audit ? "Nothing to audit" : this.mode === "review" ? "Nothing to review" : "All done here",
        this.audit ? "No completed task is waiting for an audit in this project."
          : this.mode === "review" ? "No submitted work is waiting for review in this stage."
          : "There are no more tasks for you in this stage right now.", "Check again");
      this.contextBar.explainEmpty(this.container.querySelector(".lb-empty p"));
      return;
    }
    const leased = performance.now();
    let module;
    try {
      [module] = await Promise.all([workspaceModule(lease.task.type),
        preloadImages(imageUrls(lease.task.params))]);
    } catch (error) {
      this.lease = lease;
      this.setBusy(false);
      this.showEmpty("This task cannot be shown", String(error.message || error), "Skip it", () => this.skip());
      return;
    }
    if (!this.alive()) return;
    const loaded = performance.now();
    this.show(lease, module);
    this.showAlert(notice, "notice");
    this.setBusy(false);
    await sleepFrame(); // measure to the frame the next task is painted in
    if (started !== null) {
      const ms = performance.now() - started;
      this.root.dataset.lastSwapMs = ms.toFixed(1);
      // Where the time goes: the submit, the next-task request, the preload, the render.
      (window.assayTimings ||= []).push({
        task: lease.task.id, ms, submit: asked - started, next: leased - asked,
        preload: loaded - leased, paint: performance.now() - loaded,
      });
    }
    window.dispatchEvent(new CustomEvent("assay:task-shown", { detail: { taskId: lease.task.id } }));
  }

  showSubtitle() {
    this.subtitle.textContent = this.audit ? "Audit" : this.mode === "review" ? `Review · ${this.stage}`
      : this.training ? "Training course" : `Labeling · ${this.stage}`;
  }

  switchTraining(on) {
    this.training = on;
    this.showSubtitle();
    const url = new URL(location.href);
    if (on) url.searchParams.set("training", "1");
    else url.searchParams.delete("training");
    history.replaceState(history.state, "", url);
    this.root.dataset.training = on ? "1" : "0";
    this.next();
  }

  // The course has nothing more to serve: passed, or no go left.
  async trainingOver() {
    let state = null;
    try {
      state = await api(`/projects/${encodeURIComponent(this.projectId)}/training`);
    } catch (error) {
      this.showEmpty("Could not read your training results", describe(error), "Try again");
      return;
    }
    const score = state.score === null ? "" : ` Your score: ${percent(state.score)}.`;
    if (state.passed) {
      this.showEmpty("Training passed", `You passed this project's training course.${score} `
        + "Real tasks are next.", "Start labeling", () => this.switchTraining(false));
    } else {
      this.showEmpty("Training not passed", `You did not reach ${percent(state.pass_threshold)}`
        + ` and have no go left.${score} Ask a project manager to re-qualify you.`, "Check again");
    }
  }

  // After each training task: the score and the expected answer, before moving on.
  showFeedback(feedback, then) {
    this.stopTimers();
    this.handle?.destroy();
    this.handle = null;
    this.lease = null;
    this.root.dataset.state = "feedback";
    this.setStatus("");
    const score = percent(feedback.score);
    const button = el("button", { type: "button", class: "primary", onclick: then }, "Next training task");
    this.container.replaceChildren(el("section", { class: "lb-empty card lb-feedback", role: "status" },
      el("h2", {}, feedback.passed ? `Correct — ${score}` : `Not quite — ${score}`),
      el("p", {}, "The expected answer:"),
      el("ul", { class: "lb-expected" }, ...summarize(feedback.expected_response).map((line) => el("li", {}, line))),
      el("details", {}, el("summary", {}, "The expected answer in full"),
        el("pre", {}, JSON.stringify(feedback.expected_response, null, 2))),
      el("p", {}, button)));
    this.setBusy(false);
    button.focus();
  }

  show(lease, module) {
    this.stopTimers();
    this.handle?.destroy();
    this.handle = null;
    this.lease = lease;
    this.dirty = false;
    this.edited = false;
    this.broken = null;
    delete this.root.dataset.broken;
    this.retries = 0;
    const saved = local.read(lease);
    const response = saved?.response ?? lease.draft ?? lease.previous ?? null;
    this.container.replaceChildren();
    this.root.dataset.state = "task";
    this.root.dataset.taskId = lease.task.id;
    this.handle = module.mount(this.container, {
      task: lease.task,
      project: this.project,
      response,
      prelabels: lease.task.prelabels,
      comments: lease.comments || null,
      mode: this.mode,
      onChange: () => this.changed(),
      submit: () => this.primary(),
      onBroken: (message) => this.mediaBroken(lease, message),
      reportBroken: this.mode === "review" || this.audit ? null : () => this.skip({ broken: true }),
    });
    this.renderRework(lease);
    this.contextBar.update(lease);
    if (this.mode === "review" && lease.draft) this.edited = true;
    if (saved && JSON.stringify(saved.response) !== JSON.stringify(lease.draft)) {
      // The local copy is newer than the server's (the connection dropped before it was sent).
      this.dirty = true;
      this.edited = this.mode === "review";
      this.setStatus("Restored your unsaved work");
      this.save();
    } else {
      this.setStatus(lease.draft ? "Draft restored" : "");
    }
    this.startHeartbeat();
    this.handle.focus?.();
  }

  renderRework(lease) {
    const comments = lease.comments || [];
    this.rework.classList.toggle("review-note", this.mode === "review");
    if (this.audit) {
      this.rework.setAttribute("aria-label", "Review");
      this.rework.replaceChildren(el("p", {}, "You are auditing a completed task: accept the ",
        "labeler's response, fix it in place and send the fix (it becomes the task's response), ",
        "or reject it with comments. Audits count in the labeler's quality figures."));
      this.rework.hidden = false;
      return;
    }
    if (this.mode === "review") {
      this.rework.setAttribute("aria-label", "Review");
      this.rework.replaceChildren(el("p", {}, "You are reviewing a labeler's response",
        lease.task.round ? ` (rework round ${lease.task.round})` : "",
        ": accept it, fix it in place and send the fix, or reject it with comments ",
        "(select an annotation and comment on it)."));
      this.rework.hidden = false;
      return;
    }
    this.rework.setAttribute("aria-label", "Reviewer comments");
    if (!comments.length) {
      this.rework.hidden = true;
      this.rework.replaceChildren();
      return;
    }
    const items = comments.map((comment) => {
      const where = comment.annotation_id ? " (pinned)" : "";
      const item = el("li", { class: comment.annotation_id ? "pinned" : "" }, comment.text,
        el("span", { class: "muted" }, where));
      if (comment.annotation_id && this.handle?.highlight) {
        item.append(" ", el("button", { type: "button", class: "link",
          onclick: () => this.handle?.highlight(comment.annotation_id) }, "Show"));
      }
      return item;
    });
    this.rework.replaceChildren(
      el("h2", {}, `Sent back by the reviewer (round ${lease.task.round})`),
      el("p", { class: "muted" }, "Fix what the comments ask for, then submit again."),
      el("ul", { class: "review-comments" }, items));
    this.rework.hidden = false;
  }

  showEmpty(title, text, again, action = null) {
    this.stopTimers();
    this.handle?.destroy();
    this.handle = null;
    this.lease = null;
    this.root.dataset.state = "empty";
    delete this.root.dataset.taskId;
    this.contextBar.clear();
    this.rework.hidden = true;
    this.setStatus("");
    this.setBusy(false);
    const button = el("button", { type: "button", onclick: () => (action ? action() : this.next()) }, again);
    this.container.replaceChildren(el("section", { class: "lb-empty card" },
      el("h2", {}, title), el("p", {}, text),
      el("p", {}, button, " ", el("a", { href: `/projects/${encodeURIComponent(this.projectId)}` },
        "Back to the project"))));
    button.focus();
  }

  // --- drafts ---

  changed() {
    if (!this.lease) return;
    this.dirty = true;
    this.version += 1;
    if (this.mode === "review" && !this.edited) {
      this.edited = true;
      this.setBusy(this.busy);
    }
    this.setStatus(this.isOffline ? "Unsaved — kept on this device" : "Unsaved changes");
    clearTimeout(this.timers.local);
    this.timers.local = setTimeout(() => this.keepLocal(), 250);
    clearTimeout(this.timers.save);
    this.timers.firstChange ||= Date.now();
    const waited = Date.now() - this.timers.firstChange;
    this.timers.save = setTimeout(() => this.save(), Math.max(0, Math.min(DRAFT_DELAY_MS, DRAFT_MAX_WAIT_MS - waited)));
  }

  keepLocal() {
    if (this.lease && this.handle && this.dirty) local.write(this.lease, this.handle.getResponse());
  }

  flush(leaving) {
    if (!this.lease || !this.handle || !this.dirty) return;
    clearTimeout(this.timers.local);
    this.keepLocal();
    this.save({ keepalive: leaving });
  }

  async save({ force = false, keepalive = false } = {}) {
    if (!this.lease || !this.handle) return;
    if (this.audit) { // audits keep no server-side drafts; the local copy stays
      this.keepLocal();
      return;
    }
    if (!this.dirty && !force) return;
    if (this.saving) {
      this.saveAgain = true;
      return this.saving;
    }
    clearTimeout(this.timers.save);
    this.timers.firstChange = 0;
    const lease = this.lease;
    const version = this.version;
    const response = this.handle.getResponse();
    local.write(lease, response);
    this.setStatus("Saving…");
    this.saving = api(`/tasks/${lease.task.id}/draft`, {
      method: "PUT", body: { lease_token: lease.lease_token, response }, keepalive,
    }).then(() => {
      if (this.lease !== lease) return;
      this.retries = 0;
      this.showOffline(false);
      if (this.version === version) {
        this.dirty = false;
        this.setStatus("Draft saved", "ok");
      }
    }, (error) => {
      if (this.lease !== lease) return;
      if (error.status === 409) return this.leaseLost();
      if (!offline(error)) {
        this.setStatus(`Draft not saved: ${describe(error)}`, "error");
        return;
      }
      this.showOffline(true);
      this.setStatus("Unsaved — kept on this device");
      this.scheduleRetry();
    }).finally(() => {
      this.saving = null;
      if (this.saveAgain) {
        this.saveAgain = false;
        if (this.dirty && this.lease === lease && !this.isOffline) this.save();
      }
    });
    return this.saving;
  }

  showOffline(isOffline) {
    this.isOffline = isOffline;
    this.offlineBadge.hidden = !isOffline;
  }

  scheduleRetry() {
    clearTimeout(this.timers.retry);
    const delay = RETRY_MS[Math.min(this.retries, RETRY_MS.length - 1)];
    this.retries += 1;
    this.timers.retry = setTimeout(() => this.retryNow(), delay);
  }

  retryNow() {
    clearTimeout(this.timers.retry);
    if (!this.alive() || !this.lease) return;
    if (this.dirty) this.save();
    else this.heartbeat();
  }

  // --- the lease ---

  startHeartbeat() {
    if (this.audit) return; // an audit lease lasts ten minutes and has no heartbeat
    const lease = this.project.pipeline?.lease_seconds || 300;
    const every = Math.max(3000, (lease * 1000) / 3);
    this.timers.heartbeat = setInterval(() => this.heartbeat(), every);
  }

  async heartbeat() {
    const lease = this.lease;
    if (!lease || !this.alive()) return;
    try {
      const renewed = await api(`/tasks/${lease.task.id}/heartbeat`, {
        method: "POST", body: { lease_token: lease.lease_token },
      });
      if (this.lease === lease) {
        lease.expires_at = renewed.expires_at;
        if (this.isOffline) {
          this.showOffline(false);
          if (this.dirty) this.save();
        }
      }
    } catch (error) {
      if (this.lease !== lease) return;
      if (error.status === 409) return this.leaseLost();
      if (offline(error)) {
        this.showOffline(true);
        this.scheduleRetry();
      }
    }
  }

  leaseLost() {
    const lease = this.lease;
    if (!lease) return;
    local.clear(lease);
    this.lease = null;
    this.stopTimers();
    this.next({ notice: "Your lease on the last task ended (it expired or the task went to someone "
      + "else), so that work could not be kept. Here is the next task." });
  }

  stopTimers() {
    clearInterval(this.timers.heartbeat);
    for (const name of ["save", "local", "retry"]) clearTimeout(this.timers[name]);
    this.timers = {};
  }

  // --- decisions ---

  primary() {
    if (this.mode === "review") return this.review(this.edited ? "fix" : "accept");
    return this.submit();
  }

  finishTask(lease) {
    local.clear(lease);
    this.stopTimers();
    this.lease = null;
    this.dirty = false;
  }

  failed(error, what) {
    this.setBusy(false);
    if (error.status === 409) return this.leaseLost();
    if (offline(error)) {
      this.showOffline(true);
      this.keepLocal();
      this.showAlert(`${what} failed: could not reach the server. Your work is kept on this device; try again.`);
      return;
    }
    const response = this.handle?.getResponse?.();
    this.showAlert(`${what} refused: ${describe(error, { taxonomy: this.project.taxonomy, response })}`);
    this.focusField(error.field, response);
  }

  // Before a submit (or a fix): the first required attribute left empty is named in words
  // and its control focused, and nothing is sent.
  refuseIncomplete(response) {
    const missing = missingRequired(this.project.taxonomy, response);
    if (!missing) return false;
    const subject = fieldWords(missing, { taxonomy: this.project.taxonomy, response });
    this.showAlert(`${subject} is required.`);
    this.setStatus("");
    this.focusField(missing, response);
    return true;
  }

  // Focus the control of a field the server or the check named (an attribute's form row
  // carries data-attribute; an annotation's attributes show once it is selected).
  focusField(field, response) {
    this.handle?.showError?.(field);
    const global = /^response\.global_attributes\.(.+)$/.exec(field || "");
    const own = /^response\.annotations\[(\d+)\]\.attributes\.(.+)$/.exec(field || "");
    if (!global && !own) return;
    const id = own && response?.annotations?.[Number(own[1])]?.id;
    if (id) this.handle?.highlight?.(id);
    const name = global ? global[1] : own[2];
    const globals = new Set((this.project.taxonomy?.global_attributes || []).map((d) => d.name));
    // The task attributes' form holds task attributes only; an annotation's holds others.
    const inTaskForm = (row) => [...(row.closest("fieldset") || row).querySelectorAll("[data-attribute]")]
      .every((r) => globals.has(r.dataset.attribute));
    const focus = () => {
      const rows = [...this.container.querySelectorAll(`[data-attribute="${CSS.escape(name)}"]`)];
      const row = rows.find((r) => inTaskForm(r) === Boolean(global)) || rows[0];
      const control = row?.querySelector("input, select, textarea");
      if (!control) return;
      control.setAttribute("aria-invalid", "true");
      control.addEventListener("change", () => control.removeAttribute("aria-invalid"), { once: true });
      row.scrollIntoView?.({ block: "nearest" });
      control.focus();
    };
    if (id) requestAnimationFrame(focus);
    else focus();
  }

  // The workspace could not show the task's media: nothing can be labeled, so submit stays
  // blocked until the task is reported (a skip with `broken`).
  mediaBroken(lease, message) {
    if (this.lease !== lease) return;
    this.broken = message;
    this.root.dataset.broken = "true";
    this.showAlert(`${message} Submitting is blocked for this task.`);
    this.setBusy(this.busy);
  }

  async submit() {
    if (this.busy || !this.lease || !this.handle) return;
    if (this.broken) {
      this.showAlert(`${this.broken} Submitting is blocked: report the task as broken.`);
      return;
    }
    const started = performance.now();
    const lease = this.lease;
    const response = this.handle.getResponse();
    if (this.refuseIncomplete(response)) return;
    this.setBusy(true);
    this.setStatus("Submitting…");
    let done;
    try {
      // One round trip: the next lease of this stage comes back with the submission.
      const feedback = this.note?.value();
      done = await api(`/tasks/${lease.task.id}/submit?next=true`, {
        method: "POST", body: { lease_token: lease.lease_token, response, ...(feedback ? { feedback } : {}) },
      });
    } catch (error) {
      if (this.lease === lease) this.failed(error, "Submit");
      return;
    }
    this.showAlert("");
    this.note?.clear();
    this.finishTask(lease);
    const given = done && "next" in done ? done.next : undefined;
    if (done?.feedback) {
      this.showFeedback(done.feedback, () => this.next({ given }));
      return;
    }
    await this.next({ started, given });
  }

  async skip({ broken = false } = {}) {
    if (this.busy || !this.lease) return;
    const lease = this.lease;
    const answer = await askSkip({ broken: broken || Boolean(this.broken) });
    if (!answer || this.lease !== lease) return;
    this.setBusy(true);
    try {
      await api(`/tasks/${lease.task.id}/skip`, {
        method: "POST", body: { lease_token: lease.lease_token, ...answer },
      });
    } catch (error) {
      if (this.lease === lease) this.failed(error, "Skip");
      return;
    }
    this.showAlert("");
    this.finishTask(lease);
    delete this.root.dataset.broken;
    toast(answer.broken ? "Reported as broken and skipped" : "Task skipped");
    await this.next({ started: performance.now() });
  }

  async review(decision) {
    if (this.busy || !this.lease || !this.handle) return;
    const lease = this.lease;
    const started = performance.now();
    const body = { lease_token: lease.lease_token, decision };
    if (decision === "fix") {
      body.response = this.handle.getResponse();
      if (this.refuseIncomplete(body.response)) return;
    }
    if (decision === "reject") {
      const comments = await this.rejectComments();
      if (!comments || this.lease !== lease) return;
      body.comments = comments;
    }
    this.setBusy(true);
    this.setStatus(decision === "accept" ? "Accepting…" : decision === "fix" ? "Sending the fix…" : "Rejecting…");
    try {
      if (this.audit) await api(`/audits/${encodeURIComponent(lease.audit_id)}/decision`, { method: "POST", body });
      else await api(`/tasks/${lease.task.id}/review`, { method: "POST", body });
    } catch (error) {
      if (this.lease === lease) this.failed(error, decision === "reject" ? "Reject" : "Review");
      return;
    }
    this.showAlert("");
    this.finishTask(lease);
    await this.next({ started });
  }

  // The pinned comments the reviewer made in the workspace, plus an overall one; at least one.
  async rejectComments() {
    const pinned = this.handle.getComments?.() || [];
    const extra = pinned.length
      ? el("div", {}, el("p", {}, `Pinned comments (${pinned.length}):`),
        el("ul", { class: "review-comments" }, pinned.map((c) => el("li", { class: "pinned" }, c.text))))
      : el("p", { class: "muted" }, "Tip: pin comments to an annotation in the workspace (select it, then Comment).");
    const text = await askText({
      title: "Reject with comments",
      label: pinned.length ? "Overall comment (optional)" : "What should the labeler change?",
      submit: "Reject",
      required: !pinned.length,
      extra,
    });
    if (text === null) return null;
    const comments = pinned.map((c) => ({ ...c }));
    if (text) comments.push({ text });
    return comments.length ? comments : null;
  }

  // --- keyboard ---

  key(event) {
    if (!this.alive()) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key === "Enter") {
      if (dialogOpen()) return;
      event.preventDefault();
      this.primary();
    } else if (mod && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      this.save({ force: true });
    } else if (event.key === "?" && !isTyping(event) && !dialogOpen()) {
      event.preventDefault();
      this.showShortcuts();
    }
  }

  showShortcuts() {
    if (dialogOpen()) return;
    const own = this.handle?.shortcuts || [];
    showShortcuts([
      [["Ctrl", "Enter"], this.mode === "review" ? "Accept (or send your fix)" : "Submit"],
      [["Ctrl", "S"], "Save the draft now"],
      [["?"], "This list"],
      ...(own.some(([keys]) => keys === NUMBER_KEYS) ? [NUMBER_KEYS_RULE] : []),
      ...own,
    ], () => this.handle?.focus?.());
  }
}
