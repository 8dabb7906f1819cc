"""Submit → next task on screen, in Chromium against a real `assay serve` on loopback.

    python bench/ui_queue.py [--tasks 50] [--size 640x480]

A labeler logs in, opens a categorization project over distinct images and labels every task
with the keyboard and the Submit button. The page measures, per task, the time from the
Submit click to the frame the next task (its image decoded) is painted in: the submit and the
next-task request are two round trips, the image is preloaded before the swap, the page never
reloads. Last line: `ui_queue: median <ms> ms p95 <ms> ms submit→next task (...)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import zlib

from _server import Server, logged_in_page, machine

WARMUP = 3  # the first swaps load the workspace module and warm the server's caches


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: incompressible, so its size is like a photograph's."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def seed(server: Server, tasks: int, width: int, height: int) -> tuple[str, str, str]:
    """A categorization project over `tasks` distinct images and a labeler with a password."""
    password = "bench-labeler-password"
    with server.api() as http:
        labeler = (
            http.post(
                "/users",
                json={
                    "email": "labeler@bench.test",
                    "name": "Bench",
                    "role": "labeler",
                    "password": password,
                },
            )
            .raise_for_status()
            .json()
        )
        project = (
            http.post(
                "/projects",
                json={
                    "name": "ui bench",
                    "task_type": "categorization",
                    "taxonomy": {"labels": [{"name": n} for n in ("cat", "dog", "bird", "other")]},
                },
            )
            .raise_for_status()
            .json()
        )
        http.put(
            f"/projects/{project['id']}/members/{labeler['id']}", json={"role": "labeler"}
        ).raise_for_status()
        params = []
        for i in range(tasks):
            blob = (
                http.post(
                    "/blobs", files={"file": (f"{i}.png", noise_png(width, height), "image/png")}
                )
                .raise_for_status()
                .json()
            )
            params.append(
                {
                    "attachment": f"blob:{blob['sha256']}",
                    "image_width": width,
                    "image_height": height,
                }
            )
        http.post(
            f"/projects/{project['id']}/tasks/bulk",
            json={"tasks": [{"params": p} for p in params]},
        ).raise_for_status()
    return project["id"], labeler["email"], password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--size", default="640x480", help="image size, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    from playwright.sync_api import sync_playwright

    server = Server()
    try:
        project_id, email, password = seed(server, args.tasks + WARMUP, width, height)
        with sync_playwright() as playwright:
            browser, page = logged_in_page(
                playwright,
                f"{server.url}/label/{project_id}?stage=label",
                email,
                password,
                height=800,
            )
            page.wait_for_selector(".labeling[data-task-id] .ws-media img")
            page.evaluate("window.__samePage = true")
            seen = set()
            for i in range(args.tasks + WARMUP):
                task_id = page.get_attribute(".labeling", "data-task-id")
                assert task_id and task_id not in seen, "the same task came back"
                seen.add(task_id)
                page.keyboard.press(str(i % 4 + 1))
                page.click("button:text-is('Submit')")
                if i + 1 < args.tasks + WARMUP:
                    page.wait_for_function(
                        "id => document.querySelector('.labeling').dataset.taskId !== id",
                        arg=task_id,
                    )
                else:
                    page.wait_for_selector(".lb-empty")
            records = page.evaluate("window.assayTimings")
            same_page = page.evaluate("window.__samePage === true")
            navigations = page.evaluate("performance.getEntriesByType('navigation').length")
            browser.close()
        completed = 0
        with server.api() as http:
            query = {"project_id": project_id, "status": "completed", "limit": 100}
            while True:
                page_body = http.get("/tasks", params=query).raise_for_status().json()
                completed += len(page_body["items"])
                if not page_body["next_cursor"]:
                    break
                query["cursor"] = page_body["next_cursor"]
    finally:
        server.stop()
    # The last submit shows the end page, not a task.
    kept = records[WARMUP : WARMUP + args.tasks - 1]
    measured = [r["ms"] for r in kept]
    phases = {
        k: statistics.median(r[k] for r in kept) for k in ("submit", "next", "preload", "paint")
    }
    if not same_page or navigations != 1:
        raise SystemExit("the page reloaded between tasks")
    if completed != len(seen):
        raise SystemExit(f"{len(seen)} tasks submitted but {completed} completed")
    median = statistics.median(measured)
    p95 = statistics.quantiles(measured, n=20)[18]
    print(f"machine: {machine()}")
    print(f"tasks labeled in the browser: {len(seen)}; completed per the API: {completed}")
    print(
        f"submit → next task painted: median {median:.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(measured):.1f} ms over {len(measured)} tasks "
        f"({width}x{height} PNGs of random pixels)"
    )
    print("median per phase: " + ", ".join(f"{k} {v:.1f} ms" for k, v in phases.items()))
    print(
        f"ui_queue: median {median:.0f} ms p95 {p95:.0f} ms submit→next task "
        f"(categorization over {width}x{height} images, sqlite, Chromium headless)"
    )


if __name__ == "__main__":
    main()
