"""The approximate path: a faiss inverted-file index keyed by the caller's int64 keys.

faiss (faiss-cpu) was chosen by measurement (docs/benchmarks.md, "Curation: similarity"):
an IVF index trains on a sample (about a minute at 1M x 512 here; a graph index takes many
minutes) and takes a per-query bitmap of allowed keys (`IDSelectorBitmap`), so a restricted
search scans fewer vectors rather than returning fewer results.

The heavy matrix products (k-means on the sample, assigning every vector to its list) run
in numpy rather than inside faiss: the faiss-cpu wheels bundle an older OpenBLAS that falls
back to its generic kernels on CPUs newer than it knows (5-8x slower on this project's
machines), while numpy's is current. faiss then only scans lists (its own SIMD code);
queries go to it in groups below its BLAS threshold for the same reason.
"""

from __future__ import annotations

import math

import numpy as np

try:  # a core dependency; the guard keeps exact search working where no wheel exists
    import faiss
except ImportError:  # pragma: no cover - exercised only on platforms without faiss wheels
    faiss = None

# Inverted lists: ~4 sqrt(n) (a power of two) with enough sample rows to train each, at
# most 2,048 (1M: ~490 vectors a list; more lists make training and assignment dearer).
MIN_LISTS, MAX_LISTS = 8, 2048
SAMPLE_PER_LIST, KMEANS_ROUNDS = 32, 8
ASSIGN_BLOCK = 16_384  # rows per matmul when assigning vectors to lists
QUERY_GROUP = 16  # faiss's flat quantizer switches to its (bundled) BLAS at 20 queries


def available() -> bool:
    return faiss is not None


def list_count(n: int) -> int:
    wanted = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    trainable = 2 ** math.floor(math.log2(max(1, n // SAMPLE_PER_LIST)))
    return int(max(MIN_LISTS, min(MAX_LISTS, wanted, trainable)))


def nearest_list(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The centroid with the largest inner product, per row (int64), block by block."""
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), ASSIGN_BLOCK):
        block = vectors[start : start + ASSIGN_BLOCK]
        out[start : start + len(block)] = np.argmax(block @ centroids.T, axis=1)
    return out


def spherical_kmeans(sample: np.ndarray, lists: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-norm centroids by Lloyd's rounds under inner product; empty lists are reseeded."""
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        assign = nearest_list(sample, centroids)
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=lists)
        starts = np.cumsum(counts) - counts
        filled = counts > 0
        sums = np.add.reduceat(sample[order], starts[filled], axis=0)
        centroids[filled] = sums
        empty = np.flatnonzero(~filled)
        centroids[empty] = sample[rng.choice(len(sample), len(empty), replace=False)]
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        centroids /= np.maximum(norms, 1e-12)
    return centroids


class IvfIndex:
    """IVF with 8-bit scalar codes under inner product; ids are the caller's keys.

    8-bit codes are a quarter of float32's memory and scan faster; the caller re-scores the
    candidates against its float32 vectors, so no approximation reaches a returned score.
    """

    def __init__(self, index, centroids: np.ndarray, trained_on: int) -> None:
        self.index = index
        self.centroids = centroids
        self.trained_on = trained_on

    @classmethod
    def train(cls, vectors: np.ndarray, keys: np.ndarray, *, seed: int = 0) -> IvfIndex:
        """Cluster a sample of `vectors`, then add all of them under `keys`."""
        n, dim = vectors.shape
        lists = list_count(n)
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(n, min(n, SAMPLE_PER_LIST * lists), replace=False))
        sample = vectors[picked]
        centroids = spherical_kmeans(sample, lists, rng)
        quantizer = faiss.IndexFlatIP(dim)
        quantizer.add(centroids)  # a full quantizer: faiss skips its own clustering
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        index.by_residual = False  # codes of the vectors themselves: no per-list offsets
        index.train(sample)  # the code ranges only
        built = cls(index, centroids, n)
        built.add(keys, vectors)
        return built

    @property
    def lists(self) -> int:
        return self.index.nlist

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        for start in range(0, len(keys), 262_144):
            part = np.ascontiguousarray(vectors[start : start + 262_144])
            ids = np.ascontiguousarray(keys[start : start + 262_144], dtype=np.int64)
            assign = nearest_list(part, self.centroids)
            self.index.add_core(
                len(part), faiss.swig_ptr(part), faiss.swig_ptr(ids), faiss.swig_ptr(assign)
            )

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(keys, np.int64)))

    def search(
        self, queries: np.ndarray, k: int, *, probes: int, allowed_bits: np.ndarray | None
    ) -> np.ndarray:
        """Candidate keys (-1 where fewer than k were found), best first by the codes."""
        selector = None
        if allowed_bits is not None:
            selector = faiss.IDSelectorBitmap(len(allowed_bits), faiss.swig_ptr(allowed_bits))
        params = faiss.SearchParametersIVF(nprobe=min(probes, self.lists), sel=selector)
        found = np.empty((len(queries), k), dtype=np.int64)
        # One thread: a small group gains nothing from OpenMP, and on a busy machine its
        # barriers wait for descheduled threads. The setting is this thread's own.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            for start in range(0, len(queries), QUERY_GROUP):
                group = np.ascontiguousarray(queries[start : start + QUERY_GROUP])
                found[start : start + len(group)] = self.index.search(group, k, params=params)[1]
        finally:
            faiss.omp_set_num_threads(threads)
        return found

    def members(self) -> list[np.ndarray]:
        """The keys in each inverted list (int64), list by list."""
        lists = self.index.invlists
        out = []
        for number in range(self.lists):
            size = lists.list_size(number)
            ids = faiss.rev_swig_ptr(lists.get_ids(number), size) if size else ()
            out.append(np.array(ids, dtype=np.int64))
        return out

    def to_bytes(self) -> np.ndarray:
        return faiss.serialize_index(self.index)

    @classmethod
    def from_bytes(cls, blob: np.ndarray, trained_on: int) -> IvfIndex:
        index = faiss.deserialize_index(blob)
        centroids = index.quantizer.reconstruct_n(0, index.nlist)
        return cls(index, centroids, trained_on)
