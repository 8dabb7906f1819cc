// Number keys mean one thing in every workspace: 1–9 pick the n-th label, category or choice,
// in the order the workspace numbers them on screen; Shift+1–9 gives the selected annotation
// the n-th label. The `?` list states the rule first, then what a workspace does with it.

export const NUMBER_KEYS = ["1", "…", "9"];

export const NUMBER_KEYS_RULE = [NUMBER_KEYS,
  "The n-th label, category or choice, as numbered on screen (the same in every workspace)"];

export const RELABEL_ROW = [["Shift", ...NUMBER_KEYS], "Give the selected annotation the n-th label"];

// This workspace's use of the rule, for its shortcut list.
export function numberKeysRow(what) {
  return [NUMBER_KEYS, what];
}
