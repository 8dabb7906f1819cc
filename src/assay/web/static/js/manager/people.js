// The People page (admins): add people with a role, reset passwords, issue and revoke API
// keys (a new key is shown once), deactivate and reactivate, end someone's sessions.

import { api, css, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import {
  badge, confirmDialog, emptyState, field, fetchAll, formatDate, openDialog, select,
  showFieldError,
} from "/static/js/manager/ui.js";

const ROLES = [["labeler", "Labeler"], ["reviewer", "Reviewer"], ["manager", "Manager"], ["admin", "Admin"]];
const roleName = (role) => ROLES.find(([r]) => r === role)?.[1] || role;
const userPath = (user) => `/users/${encodeURIComponent(user.id)}`;
const who = (user) => user.name || user.email;

export async function renderPeople(view, { me }) {
  css("/static/css/manager.css");
  document.title = "People · Assay";
  if (me.user.role !== "admin") {
    view.replaceChildren(emptyState("People are managed by admins",
      "Ask an admin to add people, reset a password or issue an API key."));
    return;
  }
  const header = el("div", { class: "page-header" },
    el("div", {}, el("h1", {}, "People"),
      el("p", { class: "muted" }, "Everyone who can sign in or call the API, their role and their keys.")),
    el("button", { type: "button", class: "primary", onclick: async () => {
      if (await addPerson()) await paint();
    } }, "Add person"));

  async function paint() {
    const people = await fetchAll("/users", 5000);
    const rows = people.map((user) => personRow(user, me, paint));
    view.replaceChildren(header,
      el("div", { class: "table-wrap card flush" },
        el("table", { class: "table people-table", "aria-label": "People" },
          el("thead", {}, el("tr", {},
            ["Person", "Role", "Status", "Added", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows))));
  }
  await paint();
}

function personRow(user, me, repaint) {
  const self = user.id === me.user.id;
  const act = (label, handler, extra = {}) => el("button", {
    type: "button", class: "ghost small", "aria-label": `${label} · ${user.email}`,
    onclick: async () => {
      try {
        if (await handler()) await repaint();
      } catch (error) {
        toast(humanMessage(error), "error");
      }
    },
    ...extra,
  }, label);
  const actions = [
    act("API keys", () => manageKeys(user)),
    act("Reset password", () => resetPassword(user)),
    act("End sessions", () => endSessions(user)),
    self ? null : user.is_active
      ? act("Deactivate", () => deactivate(user), { class: "ghost small danger" })
      : act("Reactivate", () => reactivate(user)),
  ];
  return el("tr", { "data-user": user.email },
    el("td", {}, el("div", {}, who(user), self ? el("span", { class: "muted small" }, " (you)") : null),
      el("div", { class: "muted small" }, user.email)),
    el("td", {}, roleName(user.role)),
    el("td", {}, user.is_active ? badge("Active", "ok") : badge("Deactivated", "danger")),
    el("td", { class: "nowrap" }, formatDate(user.created_at)),
    el("td", { class: "right" }, el("div", { class: "actions people-actions" }, actions)));
}

// A random password of 16 characters from the browser's CSPRNG, for "Generate".
function randomPassword() {
  const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

function passwordInput(required) {
  const input = el("input", {
    name: "password", type: "text", minlength: 8, autocomplete: "new-password", required,
    spellcheck: "false",
  });
  const generate = el("button", { type: "button", class: "secondary", onclick: () => {
    input.value = randomPassword();
    input.focus();
    input.select();
  } }, "Generate");
  return { input, control: el("div", { class: "row password-row" }, input, generate) };
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    showFieldError(form, error);
  } finally {
    button.disabled = false;
  }
}

function addPerson() {
  return openDialog("Add a person", (close) => {
    const password = passwordInput(false);
    const form = el("form", { class: "form", novalidate: true },
      field("Email", el("input", { name: "email", type: "email", required: true, autocomplete: "off" })),
      field("Name", el("input", { name: "name", maxlength: 200, autocomplete: "off" })),
      field("Role", select("role", ROLES, "labeler")),
      field("Password", password.control,
        "Give it to them in person; leave it empty for someone who only uses API keys."),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Add person")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const body = {
        email: String(data.get("email") || "").trim(),
        name: String(data.get("name") || "").trim(),
        role: data.get("role"),
        password: String(data.get("password") || "") || null,
      };
      if (!body.email) {
        showFieldError(form, { field: "email", message: "Enter their email address." });
        return;
      }
      submitting(form, async () => {
        const user = await api("/users", { method: "POST", body });
        toast(`${user.email} added as ${roleName(user.role).toLowerCase()}`);
        close(user);
      });
    });
    return form;
  });
}

function resetPassword(user) {
  return openDialog(`Reset the password of ${who(user)}`, (close) => {
    const password = passwordInput(true);
    const form = el("form", { class: "form", novalidate: true },
      el("p", {}, "They are signed out everywhere and sign in again with the new password. ",
        "A sign-in lockout is lifted. Their API keys keep working."),
      field("New password", password.control, "8 characters or more."),
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"),
        el("button", { type: "submit", class: "primary" }, "Set password")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = password.input.value;
      if (value.length < 8) {
        showFieldError(form, { field: "password", message: "Use 8 characters or more." });
        return;
      }
      submitting(form, async () => {
        await api(`${userPath(user)}/password`, { method: "POST", body: { password: value } });
        toast(`New password set for ${user.email}`);
        close(true);
      });
    });
    return form;
  });
}

async function endSessions(user) {
  if (!(await confirmDialog("End sessions",
    `Sign ${user.email} out of every browser? Their API keys keep working.`, "End sessions"))) return false;
  const { ended } = await api(`${userPath(user)}/sessions`, { method: "DELETE" });
  toast(ended === 1 ? "Ended 1 session" : `Ended ${ended} sessions`);
  return false;
}

async function deactivate(user) {
  if (!(await confirmDialog("Deactivate",
    `Deactivate ${user.email}? They are signed out at once and their API keys stop working. ` +
    "Their work stays; you can reactivate them later.", "Deactivate", true))) return false;
  await api(`${userPath(user)}/deactivate`, { method: "POST" });
  toast(`${user.email} deactivated`);
  return true;
}

async function reactivate(user) {
  await api(`${userPath(user)}/reactivate`, { method: "POST" });
  toast(`${user.email} reactivated`);
  return true;
}

// A dialog with the person's keys: issue live or test keys (shown once) and revoke them.
function manageKeys(user) {
  return openDialog(`API keys of ${who(user)}`, (close) => {
    const list = el("div", { class: "keys-list" });
    const revealed = el("div", { class: "key-once", hidden: true });
    const name = el("input", { name: "name", maxlength: 200, placeholder: "What it is for (optional)", autocomplete: "off" });
    const mode = select("mode", [["live", "Live"], ["test", "Test (sandbox)"]], "live", { "aria-label": "Mode" });
    const form = el("form", { class: "inline-form", "aria-label": "Issue an API key" },
      el("div", { class: "row" }, name, mode, el("button", { type: "submit", class: "primary" }, "New key")));

    async function paintKeys() {
      const keys = await fetchAll(`/keys?user_id=${encodeURIComponent(user.id)}`, 1000);
      list.replaceChildren(keys.length
        ? el("table", { class: "table", "aria-label": "Keys" },
          el("thead", {}, el("tr", {}, ["Key", "Mode", "Created", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, keys.map((key) => el("tr", {},
            el("td", {}, el("span", { class: "mono" }, `${key.prefix}…`),
              key.name ? el("div", { class: "muted small" }, key.name) : null),
            el("td", {}, key.mode === "live" ? badge("Live", "info") : badge("Test", "warn")),
            el("td", { class: "nowrap" }, formatDate(key.created_at)),
            el("td", { class: "right" }, key.revoked_at
              ? badge("Revoked", "danger")
              : el("button", {
                type: "button", class: "ghost small danger", "aria-label": `Revoke ${key.prefix}`,
                onclick: async () => {
                  if (!(await confirmDialog("Revoke key",
                    `Revoke ${key.prefix}…? Requests with it are refused from now on.`, "Revoke", true))) return;
                  try {
                    await api(`/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
                    toast("Key revoked");
                    await paintKeys();
                  } catch (error) {
                    toast(humanMessage(error), "error");
                  }
                },
              }, "Revoke"))))))
        : el("p", { class: "muted" }, "No API keys yet."));
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, async () => {
        const created = await api("/keys", {
          method: "POST", body: { user_id: user.id, mode: mode.value, name: name.value.trim() },
        });
        const secret = el("input", { type: "text", readonly: true, value: created.key, class: "mono", "aria-label": "New API key" });
        revealed.replaceChildren(
          el("p", {}, el("strong", {}, "Copy this key now: "), "it is shown only once and cannot be recovered."),
          el("div", { class: "row" }, secret, el("button", { type: "button", class: "secondary", onclick: async () => {
            secret.select();
            try {
              await navigator.clipboard.writeText(created.key);
              toast("Key copied");
            } catch {
              toast("Select the key and copy it", "error");
            }
          } }, "Copy")));
        revealed.hidden = false;
        name.value = "";
        await paintKeys();
      });
    });
    paintKeys().catch((error) => toast(humanMessage(error), "error"));
    return el("div", { class: "form" }, form, revealed, list,
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Done")));
  });
}
