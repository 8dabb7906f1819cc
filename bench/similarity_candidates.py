"""Vector libraries side by side on clustered data (how `assay.curation.vectors` was chosen).

    /path/to/venv/bin/python bench/similarity_candidates.py [--n 1000000] [--dim 512]
        [--only ivf,sq8,hnsw,usearch,hnswlib]

Needs faiss-cpu (and usearch / hnswlib for those rows) in the running environment; keep the
candidates out of the project's venv. Per candidate: build seconds, resident memory added,
single-query k=50 latency p50, recall@10 against exact search on 200 held-out queries, and
the same restricted to a random 10 % of the items (a bitmap per query, where the library
takes one). Last line: `candidates: <name> p50 <ms> recall <r> ...`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity_data import clustered, exact_top, recall_at

K = 50


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def timed_queries(queries, search_one):
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        keys = search_one(query)
        times.append(time.perf_counter() - start)
        found.append(np.asarray(keys)[:K])
    return statistics.median(times) * 1000, np.percentile(times, 95) * 1000, found


def report(name, build_s, mem, rows):
    for label, p50, p95, recall in rows:
        print(
            f"{name:24s} {label:22s} build {build_s:7.1f}s mem +{mem:6.0f} MiB "
            f"p50 {p50:7.2f} ms p95 {p95:7.2f} ms recall@10 {recall:.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--only", default="ivf,sq8,hnsw,usearch,hnswlib")
    args = parser.parse_args()
    only = set(args.only.split(","))

    import faiss

    faiss.omp_set_num_threads(2)
    start = time.perf_counter()
    base, _, queries = clustered(args.n, args.dim)
    print(f"data {args.n} x {args.dim} in {time.perf_counter() - start:.1f}s", flush=True)
    mask = np.random.default_rng(7).random(args.n) < 0.10
    truth = exact_top(base, queries, 10)
    truth_masked = exact_top(base, queries, 10, allowed=mask)
    ids = np.arange(args.n, dtype=np.int64)

    # exact baseline: one query against everything with BLAS
    p50, p95, _ = timed_queries(queries[:20], lambda q: np.argpartition(-(base @ q), K)[:K])
    report("numpy exact", 0, 0, [("all", p50, p95, 1.0)])
    rows = np.flatnonzero(mask)
    p50, p95, _ = timed_queries(
        queries[:20], lambda q: rows[np.argpartition(-(base[rows] @ q), K)[:K]]
    )
    report("numpy exact", 0, 0, [("10% gather+matmul", p50, p95, 1.0)])

    for name, factory in (("ivf", "IVF{nlist},Flat"), ("sq8", "IVF{nlist},SQ8")):
        if name not in only:
            continue
        for nlist in (2048, 4096):
            before, start = rss_mib(), time.perf_counter()
            index = faiss.index_factory(
                args.dim, factory.format(nlist=nlist), faiss.METRIC_INNER_PRODUCT
            )
            sample = base[
                np.random.default_rng(3).choice(args.n, min(args.n, 40 * nlist), replace=False)
            ]
            index.train(sample)
            train_s = time.perf_counter() - start
            index.add_with_ids(base, ids)
            build_s = time.perf_counter() - start
            mem = rss_mib() - before
            results = []
            faiss.omp_set_num_threads(1)
            for nprobe in (8, 16, 32, 64):
                params = faiss.SearchParametersIVF(nprobe=nprobe)
                p50, p95, found = timed_queries(
                    queries, lambda q, p=params, ix=index: ix.search(q[None], K, params=p)[1][0]
                )
                results.append(
                    (f"nlist {nlist} nprobe {nprobe}", p50, p95, recall_at(found, truth))
                )
            for nprobe in (16, 32, 64, 128):

                def one(q, p=nprobe, index=index):
                    bits = np.packbits(mask, bitorder="little")  # per query, as it arrives
                    sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
                    return index.search(
                        q[None], K, params=faiss.SearchParametersIVF(nprobe=p, sel=sel)
                    )[1][0]

                p50, p95, found = timed_queries(queries, one)
                results.append((f"10% nprobe {nprobe}", p50, p95, recall_at(found, truth_masked)))
            faiss.omp_set_num_threads(2)
            print(f"  (train {train_s:.1f}s of {build_s:.1f}s)")
            report(f"faiss {factory.format(nlist=nlist)}", build_s, mem, results)
            del index

    if "hnsw" in only:
        before, start = rss_mib(), time.perf_counter()
        index = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        index.add(base)
        build_s, mem = time.perf_counter() - start, rss_mib() - before
        results = []
        faiss.omp_set_num_threads(1)
        for ef in (32, 64, 128):
            params = faiss.SearchParametersHNSW(efSearch=max(ef, K))
            p50, p95, found = timed_queries(
                queries, lambda q, p=params: index.search(q[None], K, params=p)[1][0]
            )
            results.append((f"ef {max(ef, K)}", p50, p95, recall_at(found, truth)))
        for ef in (64, 128, 256):

            def one(q, ef=ef):
                bits = np.packbits(mask, bitorder="little")
                sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
                return index.search(
                    q[None], K, params=faiss.SearchParametersHNSW(efSearch=ef, sel=sel)
                )[1][0]

            p50, p95, found = timed_queries(queries, one)
            results.append((f"10% ef {ef}", p50, p95, recall_at(found, truth_masked)))
        faiss.omp_set_num_threads(2)
        report("faiss HNSW32 efC40", build_s, mem, results)
        del index

    if "usearch" in only:
        from usearch.index import Index

        before, start = rss_mib(), time.perf_counter()
        index = Index(ndim=args.dim, metric="ip", dtype="f32", connectivity=16, expansion_add=128)
        index.add(ids, base, threads=2)
        build_s, mem = time.perf_counter() - start, rss_mib() - before
        results = []
        for ef in (64, 128):
            index.expansion_search = ef
            p50, p95, found = timed_queries(queries, lambda q: index.search(q, K, threads=1).keys)
            results.append((f"ef {ef}", p50, p95, recall_at(found, truth)))
        # no per-query filter in the Python API: over-fetch 20x and keep allowed keys
        index.expansion_search = 1000

        def post(q):
            keys = index.search(q, 20 * K, threads=1).keys
            return keys[mask[keys]]

        p50, p95, found = timed_queries(queries, post)
        results.append(("10% post-filter 20k", p50, p95, recall_at(found, truth_masked)))
        report("usearch HNSW16 f32", build_s, mem, results)
        del index

    if "hnswlib" in only:
        import hnswlib

        before, start = rss_mib(), time.perf_counter()
        index = hnswlib.Index(space="ip", dim=args.dim)
        index.init_index(max_elements=args.n, M=16, ef_construction=100)
        index.set_num_threads(2)
        index.add_items(base, ids)
        build_s, mem = time.perf_counter() - start, rss_mib() - before
        index.set_num_threads(1)
        results = []
        for ef in (64, 128):
            index.set_ef(ef)
            p50, p95, found = timed_queries(queries, lambda q: index.knn_query(q, K)[0][0])
            results.append((f"ef {ef}", p50, p95, recall_at(found, truth)))
        index.set_ef(128)
        p50, p95, found = timed_queries(
            queries, lambda q: index.knn_query(q, K, filter=lambda i: bool(mask[i]))[0][0]
        )
        results.append(("10% python filter", p50, p95, recall_at(found, truth_masked)))
        report("hnswlib M16 efC100", build_s, mem, results)
    print("candidates: done")


if __name__ == "__main__":
    main()
