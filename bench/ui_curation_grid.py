"""Scrolling the explorer's grid over a million items, in Chromium against a real `assay serve`.

    python bench/curation_ingest.py --items 1000000            # prints where its database is
    python bench/ui_curation_grid.py --database-url sqlite:////tmp/assay-bench-…/assay.db

A user logs in and opens the dataset `bench/curation_ingest.py` filled. The page then scrolls
the grid a screenful at a time (`--screens` times) and measures, in the browser, the time from
the scroll to the frame in which every cell on screen shows its item (reference, overlays; no
placeholder left) — the cells are laid out on the next frame and the pages they need are
fetched as the grid asks for them. Then it jumps to random places in the million (`--jumps`):
a jump past the pages fetched so far reads the page at that offset. Goal (issue 16): a screenful
≤ 100 ms. Last line: the summary.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _server import Server, logged_in_page, machine

# Scroll the grid by `delta` px (or to `to`, a fraction of its height) and resolve with the
# milliseconds until a frame shows every cell on screen with its item.
SCROLL = """async ([delta, to]) => {
  const grid = document.querySelector('.vgrid');
  const settled = () => {
    const box = grid.getBoundingClientRect();
    const cells = [...grid.querySelectorAll('.vgrid-cell')].filter((c) => {
      const r = c.getBoundingClientRect();
      return r.bottom > box.top && r.top < box.bottom;
    });
    return cells.length > 0 && cells.every((c) => !c.classList.contains('pending'));
  };
  const started = performance.now();
  const room = grid.scrollHeight - grid.clientHeight;
  if (to === null) grid.scrollTop += delta; else grid.scrollTop = to * room;
  await new Promise((resolve) => requestAnimationFrame(resolve));
  while (!settled()) {
    if (performance.now() - started > 30000) throw new Error('cells never arrived');
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return performance.now() - started;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--screens", type=int, default=40)
    parser.add_argument("--jumps", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"machine: {machine()}")
    server = Server(args.database_url)
    try:
        with server.api() as http:
            dataset = next(
                d for d in http.get("/datasets").json()["items"] if d["name"] == "ingest-bench"
            )
            email, password = f"grid-{time.time_ns()}@bench.test", "bench-grid-password"
            http.post(
                "/users",
                json={"email": email, "name": "Grid", "role": "admin", "password": password},
            ).raise_for_status()
            started = time.perf_counter()
            http.post(
                f"/datasets/{dataset['id']}/query", json={"query": "", "limit": 1}
            ).raise_for_status()
            built = time.perf_counter() - started
            print(f"  snapshot of {dataset['item_count']:,} items: {built:.1f} s")
        with sync_playwright() as playwright:
            browser, page = logged_in_page(
                playwright, f"{server.url}/datasets/{dataset['id']}", email, password, height=900
            )
            page.wait_for_selector(".vgrid .item-cell")
            shown = page.inner_text(".explore-count")
            screen = page.evaluate("document.querySelector('.vgrid').clientHeight")
            for _ in range(3):  # warm: the first pages and the cell code
                page.evaluate(SCROLL, [screen, None])
            screens = [page.evaluate(SCROLL, [screen, None]) for _ in range(args.screens)]
            rng = random.Random(16)
            jumps = [page.evaluate(SCROLL, [0, rng.random()]) for _ in range(args.jumps)]
            browser.close()
    finally:
        server.stop()
    p50, p95 = statistics.median(screens), sorted(screens)[int(0.95 * len(screens))]
    jump50 = statistics.median(jumps)
    print(f"  grid shows: {shown}; a screen is {screen} px")
    print(f"  a screenful down: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(screens):.1f} ms")
    print(f"  a jump to a random place: p50 {jump50:.1f} ms, max {max(jumps):.1f} ms")
    print(
        f"ui_curation_grid ({dataset['item_count']:,} items, Chromium headless): a screenful "
        f"p50 {p50:.0f} ms p95 {p95:.0f} ms; a random jump p50 {jump50:.0f} ms"
    )


if __name__ == "__main__":
    main()
