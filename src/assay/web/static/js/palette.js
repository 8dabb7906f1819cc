// The one label colour palette of the UI: every workspace and manager page colours a label by
// its index in the project's taxonomy (or by the colour the taxonomy gives it), so a label
// looks the same everywhere. Okabe–Ito's colour-blind-safe set first, then Paul Tol's muted
// colours; a taxonomy with more labels than colours reuses them in the same order.

export const PALETTE = [
  "#0072b2", // blue
  "#e69f00", // orange
  "#009e73", // bluish green
  "#cc79a7", // reddish purple
  "#56b4e9", // sky blue
  "#d55e00", // vermillion
  "#f0e442", // yellow
  "#882255", // wine
  "#44aa99", // teal
  "#999933", // olive
  "#aa4499", // purple
  "#332288", // indigo
];

export const UNKNOWN_LABEL_COLOR = "#888888";

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

// The default colour of the label at `index` in a taxonomy.
export function paletteColor(index) {
  return index < 0 ? UNKNOWN_LABEL_COLOR : PALETTE[index % PALETTE.length];
}

// A label's colour as #rrggbb (callers append an alpha): the taxonomy's own for it when it
// sets one, else its palette colour.
export function labelColor(taxonomy, name) {
  const labels = taxonomy?.labels || [];
  return colorAt(labels, labels.findIndex((label) => label.name === name));
}

// The colour of labels[index] (the taxonomy editor asks by position: names may repeat there).
export function colorAt(labels, index) {
  if (index < 0 || index >= labels.length) return UNKNOWN_LABEL_COLOR;
  const own = labels[index]?.color;
  if (typeof own !== "string" || !HEX.test(own)) return paletteColor(index);
  return own.length === 4 ? `#${[...own.slice(1)].map((c) => c + c).join("")}` : own.toLowerCase();
}
