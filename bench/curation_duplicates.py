"""Near-duplicates and uniqueness at 1,000,000 x 512: `assay.curation.vectors` as the jobs
run them (`curation/measures.py`).

    .venv/bin/python bench/curation_duplicates.py [--n 1000000] [--dim 512] [--planted 5000]

Clustered embeddings (bench/similarity_data.py) with `--planted` near-copies: rows whose
vector is another row's plus a tiny perturbation (cosine distance ~0.0005). The index is
built as the server builds it (faiss IVF above 20,000 vectors), then, as the two jobs do:
the neighbours over the IVF lists (each list against its 4 nearest lists) with k=10 and
the groups at threshold 0.01 (near-duplicates), and with k=3 and the scores (uniqueness).
Checks: the share of planted pairs found in one group, and recall@3 of the neighbours on
1,000 sampled rows against exact search (brute force over all n). Peak RSS is read before
that check (it holds its own products) and includes the benchmark's own 2 GB copy of the data.
Last line: `curation_duplicates: n=… dim=… | duplicates … s (planted pairs found …) |
uniqueness … s (recall@3 …) | build … s | peak RSS … MiB`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from similarity_data import clustered  # noqa: E402

from assay.curation.vectors import (  # noqa: E402
    VectorIndex,
    duplicate_groups,
    nearest_neighbours,
    uniqueness,
)

THRESHOLD = 0.01


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--planted", type=int, default=5_000)
    parser.add_argument("--probes", type=int, default=4, help="neighbouring lists compared")
    args = parser.parse_args()

    start = time.perf_counter()
    base, _, _ = clustered(args.n, args.dim, queries=1)
    rng = np.random.default_rng(7)
    originals = rng.choice(args.n, args.planted, replace=False)
    copies = rng.choice(np.setdiff1d(np.arange(args.n), originals), args.planted, replace=False)
    base[copies] = base[originals] + 0.001 * rng.standard_normal(
        (args.planted, args.dim), dtype=np.float32
    )
    base[copies] /= np.linalg.norm(base[copies], axis=1, keepdims=True)
    print(f"data: {args.n:,} x {args.dim} in {time.perf_counter() - start:.1f} s", flush=True)

    index = VectorIndex(args.dim)
    start = time.perf_counter()
    for chunk in range(0, args.n, 100_000):
        keys = np.arange(chunk, min(args.n, chunk + 100_000), dtype=np.int64)
        index.add(keys, base[chunk : chunk + 100_000])
    build = time.perf_counter() - start
    print(f"build: {build:.1f} s (approximate: {index.approximate})", flush=True)
    del base
    vectors = index.vectors()  # keys were added in order: row = key
    print(f"peak RSS after build (with the data's own copy) {peak_rss_mib():,.0f} MiB", flush=True)

    start = time.perf_counter()
    partition = index.partition()
    lists, centroids = partition if partition is not None else (None, None)
    found, similar = nearest_neighbours(
        vectors, 10, lists=lists, centroids=centroids, probes=args.probes
    )
    group, _ = duplicate_groups(found, similar, THRESHOLD)
    duplicates = time.perf_counter() - start
    together = (group[originals] > 0) & (group[originals] == group[copies])
    found_share = float(together.mean())
    print(
        f"duplicates: {duplicates:.1f} s, {int(group.max(initial=0)):,} groups, "
        f"{int((group > 0).sum()):,} items; planted pairs found {found_share:.4f}",
        flush=True,
    )

    start = time.perf_counter()
    near, similar3 = nearest_neighbours(
        vectors, 3, lists=lists, centroids=centroids, probes=args.probes
    )
    scores = uniqueness(similar3)
    unique = time.perf_counter() - start
    peak = peak_rss_mib()  # before the check below, whose exact products are its own
    sample = rng.choice(args.n, 1_000, replace=False)
    hits = 0
    for part in np.array_split(sample, 20):  # 50 rows x n at a time: bounded memory
        exact = vectors[part] @ vectors.T
        exact[np.arange(len(part)), part] = -np.inf
        truth = np.argpartition(-exact, 3, axis=1)[:, :3]
        hits += sum(len(set(a) & set(b)) for a, b in zip(near[part], truth, strict=True))
    recall = hits / (3 * len(sample))
    print(
        f"uniqueness: {unique:.1f} s, recall@3 {recall:.3f}, "
        f"median score {float(np.median(scores)):.3f}",
        flush=True,
    )
    print(
        f"curation_duplicates: n={args.n} dim={args.dim} | duplicates {duplicates:.1f} s "
        f"(planted pairs found {found_share:.4f}) | uniqueness {unique:.1f} s "
        f"(recall@3 {recall:.3f}) | build {build:.1f} s | peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
