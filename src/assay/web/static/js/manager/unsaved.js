// Unsaved-changes guard for an editor (taxonomy, instructions): while it is dirty, closing or
// reloading the page asks the browser's question (beforeunload), and leaving it inside the app
// (a link, another project tab, log out) asks first in a dialog; a yes replays the click.

import { confirmDialog } from "/static/js/manager/ui.js";

// What leaves an editor: links, the project's tabs, logging out. Clicks inside the editor
// itself (its outline links, its buttons) are its own business.
const LEAVING = 'a[href], [role="tab"], #logout';

// isDirty() → whether there is something to lose; root: the editor's element.
// Returns {release()} to call when the editor goes away.
export function guardUnsaved(root, isDirty, { what = "changes" } = {}) {
  function onBeforeUnload(event) {
    if (!isDirty()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers want this set to ask
  }

  async function onClick(event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target.closest?.(LEAVING);
    if (!target || root.contains(target) || !root.isConnected) return;
    if (target.matches("a[href]") && (target.target === "_blank" || target.hasAttribute("download"))) return;
    if (target.getAttribute("aria-selected") === "true" || !isDirty()) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const leave = await confirmDialog("Leave without saving?",
      `You have unsaved ${what}. If you leave now they are lost.`, "Leave without saving", true);
    if (!leave) return;
    release();
    target.click(); // unguarded now: the app routes it as usual
  }

  function release() {
    window.removeEventListener("beforeunload", onBeforeUnload);
    document.removeEventListener("click", onClick, true);
  }

  window.addEventListener("beforeunload", onBeforeUnload);
  document.addEventListener("click", onClick, true);
  return { release };
}
