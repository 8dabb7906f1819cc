// A virtualised grid of fixed-size cells: a scroller holding a spacer as tall as every row,
// and absolutely positioned cells for the visible rows (plus a few) only, so a million items
// cost what fifty do. Past the height a browser can lay out, the spacer stays at a fixed
// height and scrolling maps onto the rows proportionally.
//
// virtualGrid({cellWidth, cellHeight, gap, label, render(index) → Node, need(first, last)}):
// `render` builds cell `index` (a placeholder until its data has arrived); `need` is told the
// indexes on screen (with the overscan) after each layout, so the caller fetches the pages
// there as the user scrolls or jumps (last < first: nothing on screen).

import { el } from "/static/js/api.js";

const MAX_SPACER = 8_000_000; // px: under every engine's layout limit
const OVERSCAN = 2; // rows above and below the visible ones

export function virtualGrid({ cellWidth, cellHeight, gap = 10, label, render, need }) {
  const spacer = el("div", { class: "vgrid-spacer" });
  const scroller = el("div", { class: "vgrid", role: "list", "aria-label": label, tabindex: "0" }, spacer);
  const cells = new Map(); // index → {node, ready}
  let count = 0;
  let frame = 0;
  let columns = 1;

  const rowHeight = cellHeight + gap;

  function geometry() {
    const width = scroller.clientWidth - gap;
    columns = Math.max(1, Math.floor((width + gap) / (cellWidth + gap)));
    const rows = Math.ceil(count / columns);
    const total = rows * rowHeight + gap;
    const view = scroller.clientHeight;
    const height = Math.min(total, MAX_SPACER);
    // Scroll position → the offset into the full height of the rows.
    const ratio = total > height && height > view ? (total - view) / (height - view) : 1;
    return { rows, total, height, view, ratio };
  }

  function layout() {
    frame = 0;
    const { rows, height, view, ratio } = geometry();
    spacer.style.height = `${height}px`;
    const top = scroller.scrollTop;
    const virtualTop = top * ratio;
    const first = Math.max(0, Math.floor(virtualTop / rowHeight) - OVERSCAN);
    const last = Math.min(rows - 1, Math.ceil((virtualTop + view) / rowHeight) + OVERSCAN);
    const start = first * columns;
    const end = Math.min(count, (last + 1) * columns);
    for (const [index, cell] of cells) {
      if (index < start || index >= end) {
        cell.node.remove();
        cells.delete(index);
      }
    }
    const margin = Math.max(0, Math.floor((scroller.clientWidth - gap - columns * (cellWidth + gap) + gap) / 2));
    for (let index = start; index < end; index += 1) {
      let cell = cells.get(index);
      if (!cell) {
        const node = render(index);
        node.classList.add("vgrid-cell");
        node.dataset.index = String(index);
        node.setAttribute("role", "listitem");
        cell = { node, ready: node.dataset.ready === "1" };
        cells.set(index, cell);
        spacer.append(node);
      }
      const row = Math.floor(index / columns);
      const column = index % columns;
      const style = cell.node.style;
      style.width = `${cellWidth}px`;
      style.height = `${cellHeight}px`;
      style.left = `${margin + gap + column * (cellWidth + gap)}px`;
      style.top = `${top + gap + row * rowHeight - virtualTop}px`;
    }
    need(start, end - 1);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(layout);
  }

  scroller.addEventListener("scroll", schedule, { passive: true });
  const resize = new ResizeObserver(schedule);
  resize.observe(scroller);

  return {
    element: scroller,
    get columns() {
      return columns;
    },
    // A new result: `n` cells, scrolled back to the top.
    reset(n) {
      count = n;
      for (const cell of cells.values()) cell.node.remove();
      cells.clear();
      scroller.scrollTop = 0;
      schedule();
    },
    // Pages arrived (or selection changed): rebuild the cells on screen that need it.
    refresh({ all = false } = {}) {
      for (const [index, cell] of cells) {
        if (all || !cell.ready) {
          cell.node.remove();
          cells.delete(index);
        }
      }
      schedule();
    },
    // Cells currently in the DOM (for tests and focus handling).
    rendered: () => cells.size,
    destroy() {
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
