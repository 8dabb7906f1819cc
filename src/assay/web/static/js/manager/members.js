// Members tab: who works in the project and in which role (manager, reviewer, labeler):
// add, change the role, remove.

import { api, el, toast } from "/static/js/api.js";
import { humanMessage } from "/static/js/errors.js";
import { confirmDialog, emptyState, fetchAll, formatDate, select, showFieldError } from "/static/js/manager/ui.js";

const ROLES = [["labeler", "Labeler"], ["reviewer", "Reviewer"], ["manager", "Manager"]];

export async function render(panel, ctx) {
  const base = `/projects/${encodeURIComponent(ctx.project.id)}/members`;
  let users = null; // listing users needs the global manager role; project managers type an id
  try {
    users = await fetchAll("/users", 2000);
  } catch {
    users = null;
  }
  const byId = new Map((users || []).map((u) => [u.id, u]));

  async function paint() {
    const members = await fetchAll(base, 2000);
    const memberIds = new Set(members.map((m) => m.user_id));
    const candidates = (users || []).filter((u) => !memberIds.has(u.id) && u.is_active);
    const who = users
      ? select("user_id", [["", "Choose a user…"],
        ...candidates.map((u) => [u.id, `${u.name || u.email} · ${u.email}`])], "", { "aria-label": "User", required: true })
      : el("input", { name: "user_id", "aria-label": "User ID", placeholder: "User ID (usr_…)", required: true });
    const form = el("form", { class: "inline-form card", "aria-label": "Add a member" },
      el("h2", { class: "card-title" }, "Add a member"),
      el("div", { class: "row" }, who,
        select("role", ROLES, "labeler", { "aria-label": "Role" }),
        el("button", { type: "submit", class: "primary" }, "Add member")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const userId = String(data.get("user_id") || "").trim();
      if (!userId) {
        showFieldError(form, { field: "user_id", message: "Choose who to add." });
        return;
      }
      try {
        await api(`${base}/${encodeURIComponent(userId)}`, { method: "PUT", body: { role: data.get("role") } });
        toast("Member added");
        await paint();
      } catch (error) {
        showFieldError(form, error);
      }
    });

    const rows = members.map((member) => {
      const user = byId.get(member.user_id);
      const role = select("role", ROLES, member.role, { "aria-label": `Role of ${user?.email || member.user_id}` });
      role.addEventListener("change", async () => {
        try {
          await api(`${base}/${encodeURIComponent(member.user_id)}`, { method: "PUT", body: { role: role.value } });
          toast(`Role changed to ${role.value}`);
        } catch (error) {
          toast(humanMessage(error), "error");
          role.value = member.role;
        }
      });
      const remove = el("button", {
        type: "button", class: "ghost danger", "aria-label": `Remove ${user?.email || member.user_id}`,
        onclick: async () => {
          const who = user?.email || member.user_id;
          if (!(await confirmDialog("Remove member", `Remove ${who} from the project? Their submitted work stays.`, "Remove", true))) return;
          try {
            await api(`${base}/${encodeURIComponent(member.user_id)}`, { method: "DELETE" });
            toast("Member removed");
            await paint();
          } catch (error) {
            toast(humanMessage(error), "error");
          }
        },
      }, "Remove");
      return el("tr", {},
        el("td", {}, el("div", {}, user?.name || user?.email || member.user_id),
          el("div", { class: "muted small" }, user ? user.email : "")),
        el("td", { class: "mono small" }, member.user_id),
        el("td", {}, role),
        el("td", { class: "nowrap" }, formatDate(member.created_at)),
        el("td", { class: "right" }, remove));
    });
    panel.replaceChildren(form,
      members.length
        ? el("div", { class: "table-wrap card flush" }, el("table", { class: "table", "aria-label": "Members" },
          el("thead", {}, el("tr", {}, ["Member", "User ID", "Role", "Added", ""].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows)))
        : emptyState("No members yet", "Global managers and admins see every project; add labelers and reviewers here."));
  }
  await paint();
}
