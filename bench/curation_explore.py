"""The explorer's reads through the API, against a real `assay serve` over a dataset that
`bench/curation_ingest.py` filled (a million items by default).

    python bench/curation_ingest.py --items 1000000            # prints where its database is
    python bench/curation_explore.py --database-url sqlite:////tmp/assay-bench-…/assay.db

Times, over HTTP: the first query after the server starts (the process builds its snapshot
of the dataset), then p50 / p95 of — the first page (50 items, with their media and ground
truth) of a selective query (~1 % of the items); count plus the sidebar's facets for a query
matching ~10 %; an annotation-count query; the object view sorted by area; and the first
page after an append of 1,000 items (the snapshot catching up). Last line: the summary.
Goals (issue 16): first page p50 ≤ 10 ms, count + facets p50 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from _server import Server, machine

QUERIES = {
    "first page, 1 %": {"query": 'metadata.city = "city-7" AND metadata.weather = "rain"'},
    "count + facets, 10 %": {
        "query": 'metadata.weather = "rain" AND metadata.night = false',
        "facets": True,
        "limit": 1,
    },
    "annotation counts": {"query": 'annotations.car > 2 AND metadata.weather = "fog"'},
    "objects by area": {"query": 'object.label = "bus"', "view": "objects", "order_by": "-area"},
}


def timed(http: httpx.Client, url: str, body: dict, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = http.post(url, json=body)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def open_dataset(api: httpx.Client) -> tuple[dict, str, float]:
    """The dataset curation_ingest.py filled, its query URL, and the first query's seconds
    (the server builds its snapshot of the dataset)."""
    dataset = next(d for d in api.get("/datasets").json()["items"] if d["name"] == "ingest-bench")
    url = f"/datasets/{dataset['id']}/query"
    started = time.perf_counter()
    api.post(url, json={"query": "", "limit": 1}).raise_for_status()
    return dataset, url, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds between the first query and the timed ones",
    )
    parser.add_argument(
        "--data-dir",
        help="the server's data directory, kept between runs: its saved snapshot spares a "
        "rerun the cold build (the first query's time is then a load, not a build)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    server = Server(
        args.database_url, **({"ASSAY_DATA_DIR": args.data_dir} if args.data_dir else {})
    )
    try:
        api = server.api()
        dataset, url, cold = open_dataset(api)
        print(f"  first query (snapshot of {dataset['item_count']:,} items built): {cold:.1f} s")
        # A snapshot loaded and caught up is saved again by a background thread (Parquet of
        # the million rows, seconds of CPU): the reads are timed once it is done.
        time.sleep(args.settle)
        results = {}
        for name, body in QUERIES.items():
            times = timed(api, url, body, args.repeats)
            count = api.post(url, json=body).json()["count"]
            results[name] = times
            print(
                f"  {name}: p50 {statistics.median(times):.1f} ms, "
                f"p95 {sorted(times)[int(0.95 * len(times))]:.1f} ms ({count:,} matched)"
            )
        items = [
            {
                "reference_id": f"late-{n}",
                "media": f"https://m.test/{n}.jpg",
                "metadata": {"weather": "rain"},
            }
            for n in range(1000)
        ]
        api.post(f"/datasets/{dataset['id']}/items", json={"items": items}).raise_for_status()
        started = time.perf_counter()
        api.post(url, json=QUERIES["first page, 1 %"]).raise_for_status()
        catch_up = (time.perf_counter() - started) * 1000
        print(
            f"curation_explore ({dataset['item_count']:,} items, {dataset['annotation_count']:,} "
            f"objects): cold snapshot {cold:.1f} s; first page p50 "
            f"{statistics.median(results['first page, 1 %']):.1f} ms; count + facets p50 "
            f"{statistics.median(results['count + facets, 10 %']):.1f} ms; annotation counts p50 "
            f"{statistics.median(results['annotation counts']):.1f} ms; objects by area p50 "
            f"{statistics.median(results['objects by area']):.1f} ms; "
            f"first page after a 1,000-item append {catch_up:.0f} ms"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
