"""FiftyOne's `sort_by_similarity` k=50 on the same clustered embeddings, for side by side.

    /work/envs/fiftyone/bin/python bench/fiftyone_similarity.py [--n 100000] [--dim 512]

Run it in FiftyOne's own virtualenv (`python -m venv /work/envs/fiftyone &&
/work/envs/fiftyone/bin/pip install fiftyone`), never the project's. Its `mongod` is
bench/_fiftyone.py's (FiftyOne 1.22's own downloads one on first use). Makes a dataset of
--n samples with the embeddings of bench/similarity_data.py, indexes them with
`fiftyone.brain.compute_similarity` (the default sklearn backend, as the issue's anchor was
measured), and times `sort_by_similarity(vector, k=50)` materialised to ids over 30
held-out queries. bench/fiftyone_anchor.py does the same on its curation dataset.
Compare with `bench/curation_similarity.py --n 100000`.
Last line: `fiftyone_similarity: n=… p50 … ms recall@10 …`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _fiftyone import environment, running_mongod
from similarity_data import clustered, exact_top, recall_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    with running_mongod() as uri:
        os.environ.update(environment(uri))
        measure(args)


def measure(args) -> None:
    import fiftyone as fo
    import fiftyone.brain as fob

    base, _, queries = clustered(args.n, args.dim, queries=args.queries)
    truth = exact_top(base, queries, 10)
    name = f"assay-bench-{args.n}"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    start = time.perf_counter()
    samples = [fo.Sample(filepath=f"/nonexistent/{i}.jpg", row=i) for i in range(args.n)]
    dataset.add_samples(samples, progress=False)
    print(f"fiftyone: {args.n:,} samples added in {time.perf_counter() - start:.1f} s", flush=True)
    rows = np.array(dataset.values("row"))
    start = time.perf_counter()
    fob.compute_similarity(dataset, embeddings=base[rows], brain_key="sim", progress=False)
    print(f"fiftyone: compute_similarity {time.perf_counter() - start:.1f} s", flush=True)
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = dataset.sort_by_similarity(query, k=50, brain_key="sim").values("row")
        times.append(time.perf_counter() - start)
        found.append(np.array(hits))
    p50 = statistics.median(times) * 1e3
    version = fo.__version__
    fo.delete_dataset(name)
    print(
        f"fiftyone_similarity: fiftyone {version} n={args.n} k=50 p50 {p50:.1f} ms "
        f"p95 {np.percentile(times, 95) * 1e3:.1f} ms recall@10 {recall_at(found, truth):.3f}"
    )


if __name__ == "__main__":
    main()
