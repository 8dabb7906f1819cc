"""Find-similar and autotag at 1,000,000 x 512: `assay.curation.vectors` as the server runs it.

    .venv/bin/python bench/curation_similarity.py [--n 1000000] [--dim 512] [--queries 200]

Clustered embeddings (bench/similarity_data.py: a Gaussian mixture of 4,000 centres in a
64-dimensional latent space, lifted to --dim with noise, normalised) under keys 0..n-1;
200 held-out queries. Measures: building the index (adds in chunks of 100,000, as a bulk
append job would), peak RSS, k=50 single-query latency unrestricted and restricted to a
random 10 % mask (a bool array indexed by key, made per query), recall@10 of both against
exact search, and one autotag refinement round (20 positives, 20 negatives, top 20,000).
Last line: `curation_similarity: n=… p50 … ms recall@10 … | 10% p50 … ms recall@10 … |
autotag … s | build … s | peak RSS … MiB`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from similarity_data import clustered, recall_at  # noqa: E402

from assay.curation.vectors import VectorIndex, refine_autotag  # noqa: E402

K = 50


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def latencies(queries, search_one) -> tuple[float, float, list[np.ndarray]]:
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        found.append(search_one(query))
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, float(np.percentile(times, 95)) * 1e3, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--share", type=float, default=0.10, help="restricted: share allowed")
    parser.add_argument("--probes", type=int, help="IVF lists probed (default: the index's)")
    parser.add_argument("--save", help="also time save/load to this path")
    args = parser.parse_args()

    start = time.perf_counter()
    base, labels, queries = clustered(args.n, args.dim, queries=args.queries)
    print(f"data: {args.n:,} x {args.dim} in {time.perf_counter() - start:.1f} s", flush=True)
    keys = np.arange(args.n, dtype=np.int64)

    index = VectorIndex(args.dim, **({"probes": args.probes} if args.probes else {}))
    start = time.perf_counter()
    for chunk in range(0, args.n, 100_000):
        index.add(keys[chunk : chunk + 100_000], base[chunk : chunk + 100_000])
    build = time.perf_counter() - start
    print(f"build: {build:.1f} s (approximate: {index.approximate})", flush=True)
    del base  # the index holds its own copy; what stays is what a server holds
    held = rss_mib()
    print(f"resident after build: {held:,.0f} MiB", flush=True)

    truth, _ = index.exact_search(queries, 10)
    p50, p95, found = latencies(queries, lambda q: index.search(q, K)[0][0])
    recall = recall_at(found, truth)
    print(f"k={K} unrestricted: p50 {p50:.2f} ms p95 {p95:.2f} ms recall@10 {recall:.3f}")

    rng = np.random.default_rng(11)
    masks = [rng.random(args.n) < args.share for _ in range(8)]
    truth_masked = [
        index.exact_search(q, 10, allowed=masks[i % 8])[0][0] for i, q in enumerate(queries)
    ]
    counter = iter(range(len(queries)))
    p50_r, p95_r, found_r = latencies(
        queries, lambda q: index.search(q, K, allowed=masks[next(counter) % 8])[0][0]
    )
    recall_r = recall_at(found_r, np.array(truth_masked))
    leaks = sum(int((~masks[i % 8][f]).sum()) for i, f in enumerate(found_r))
    print(
        f"k={K} {args.share:.0%} mask: p50 {p50_r:.2f} ms p95 {p95_r:.2f} ms "
        f"recall@10 {recall_r:.3f} disallowed returned {leaks}"
    )

    vectors = index.vectors()  # storage order == key order here (keys added in order)
    planted = np.flatnonzero(labels == np.bincount(labels).argmax())
    positive = rng.choice(planted, 20, replace=False)
    negative = rng.choice(np.flatnonzero(labels != labels[positive[0]]), 20, replace=False)
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        rows, _scores = refine_autotag(vectors, positive, negative, top_k=20_000)
        rounds.append(time.perf_counter() - start)
    autotag = statistics.median(rounds)
    top = rows[: len(planted)]
    precision = len(np.intersect1d(top, planted)) / len(top)
    print(
        f"autotag round: {autotag:.3f} s (median of 3), precision on the planted cluster "
        f"({len(planted):,} items) {precision:.3f}"
    )

    if args.save:
        start = time.perf_counter()
        index.save(args.save, revision=1)
        saved = time.perf_counter() - start
        start = time.perf_counter()
        loaded = VectorIndex.load(args.save)
        print(
            f"save {saved:.1f} s, load {time.perf_counter() - start:.1f} s "
            f"({Path(args.save).stat().st_size / 2**20:,.0f} MiB), revision {loaded.revision}"
        )

    print(
        f"curation_similarity: n={args.n} dim={args.dim} p50 {p50:.2f} ms recall@10 "
        f"{recall:.3f} | {args.share:.0%} p50 {p50_r:.2f} ms recall@10 {recall_r:.3f} | "
        f"autotag {autotag:.3f} s | build {build:.1f} s | peak RSS {peak_rss_mib():,.0f} MiB"
    )


if __name__ == "__main__":
    main()
