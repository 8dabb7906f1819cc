// Unsaved-changes guard for an editor (taxonomy, instructions): while it is dirty, closing or
// reloading the page asks the browser's question (beforeunload), and leaving it inside the app
// — a link, another project tab (by click or arrow key), log out, the browser's Back — asks
// first in a dialog; a yes carries on with what was asked.

import { confirmDialog } from "/static/js/manager/ui.js";

// What leaves an editor: links, the project's tabs, logging out. Clicks inside the editor
// itself (its outline links, its buttons) are its own business.
const LEAVING = 'a[href], [role="tab"], #logout';
const TAB_KEYS = new Set(["ArrowLeft", "ArrowRight", "Home", "End"]);

// isDirty() → whether there is something to lose; root: the editor's element.
// Returns {release()} to call when the editor goes away.
export function guardUnsaved(root, isDirty, { what = "changes" } = {}) {
  const here = location.href;
  const active = () => root.isConnected && isDirty();
  const askToLeave = () => confirmDialog("Leave without saving?",
    `You have unsaved ${what}. If you leave now they are lost.`, "Leave without saving", true);

  // Stop the event, ask, and on a yes stop guarding and run `proceed`.
  function intercept(event, proceed) {
    event.preventDefault();
    event.stopImmediatePropagation();
    askToLeave().then((leave) => {
      if (!leave) return;
      release();
      proceed();
    });
  }

  function onBeforeUnload(event) {
    if (!active()) return;
    event.preventDefault();
    event.returnValue = ""; // older browsers want this set to ask
  }

  function onClick(event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target.closest?.(LEAVING);
    if (!target || root.contains(target) || !active()) return;
    if (target.matches("a[href]") && (target.target === "_blank" || target.hasAttribute("download"))) return;
    if (target.getAttribute("aria-selected") === "true") return;
    intercept(event, () => target.click()); // unguarded now: the app routes it as usual
  }

  function onKeyDown(event) {
    const tab = event.target.closest?.('[role="tab"]');
    if (!tab || !TAB_KEYS.has(event.key) || !active()) return;
    intercept(event, () => tab.dispatchEvent(new KeyboardEvent("keydown", { key: event.key, bubbles: true })));
  }

  // Back or Forward: the router asks before it renders (static/app.js).
  function onLeaving(event) {
    if (!active()) return;
    event.preventDefault();
    history.pushState(null, "", here); // stay (the address bar too) until answered
    askToLeave().then((leave) => {
      if (!leave) return;
      release();
      history.back();
    });
  }

  function release() {
    window.removeEventListener("beforeunload", onBeforeUnload);
    window.removeEventListener("assay:leaving", onLeaving);
    document.removeEventListener("click", onClick, true);
    document.removeEventListener("keydown", onKeyDown, true);
  }

  window.addEventListener("beforeunload", onBeforeUnload);
  window.addEventListener("assay:leaving", onLeaving);
  document.addEventListener("click", onClick, true);
  document.addEventListener("keydown", onKeyDown, true);
  return { release };
}
