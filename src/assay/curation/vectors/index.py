"""`VectorIndex`: embeddings under the caller's int64 keys, exact or approximate search.

Keys are the caller's stable, non-negative ids (the dataset's dense item numbers): the
index keeps a slot per key in an array indexed by key, so memory grows with the largest
key (4 bytes a key), and a restriction arrives as a bool mask indexed by key — the same
bitmap faiss filters with, without translation.

Policy (why the numbers are what they are: docs/benchmarks.md, "Curation: similarity"):
- below `ann_min_rows` live vectors every search is exact (a BLAS matvec over <= 40 MB);
- at `ann_min_rows` an IVF index is trained on a sample and every vector added to it; adds,
  upserts and removes then go to both the exact store and the IVF index;
- the IVF index is retrained when the count grows past GROWTH x (or shrinks below
  1/GROWTH x) the count it was trained on: its list count (~2 sqrt(n)) is then off by
  sqrt(2) or more — lists too long (slower: at 1M trained at 500k, p50 doubled) or too
  short (worse recall); a bulk load pays about twice one training; below ann_min_rows / 2
  the index is dropped;
- a search probes `probes` lists, or more until ~MIN_SCANNED eligible vectors are in
  them (small indexes have short lists; a mask leaves only its share of each list);
- a restricted search whose mask allows at most `exact_max_rows` keys runs exact over just
  those rows; larger masks go to faiss as a bitmap; a query the index answers short is
  answered exactly instead;
- approximate candidates (the IVF codes are 8-bit) are re-scored against the float32 store,
  so every score returned is exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from assay.core.errors import Invalid
from assay.curation.vectors import files, ivf
from assay.curation.vectors.exact import exact_search, top_k

METRICS = ("cosine", "dot")
MAX_KEY = 2**31 - 2  # slots are int32 in an array indexed by key
GROWTH = 2
RERANK = 2  # approximate candidates fetched per result, re-scored exactly
MIN_SCANNED = 4_000  # eligible vectors a search should look at (see search)


class VectorIndex:
    """Upsertable vectors of one dimension under int64 keys; cosine by default.

    Searches may run from many threads at once; writes (add, remove, rebuild) must not run
    alongside anything else — the caller serialises them, or builds a new index and swaps.
    """

    def __init__(
        self,
        dim: int,
        *,
        metric: str = "cosine",
        ann_min_rows: int = 20_000,
        exact_max_rows: int = 5_000,
        probes: int = 16,
    ) -> None:
        if metric not in METRICS:
            raise Invalid(f"metric must be one of {', '.join(METRICS)}", field="metric")
        if dim < 1:
            raise Invalid("dimension must be positive", field="embedding")
        self.dim, self.metric = int(dim), metric
        self.ann_min_rows, self.exact_max_rows, self.probes = ann_min_rows, exact_max_rows, probes
        self.revision = 0
        self._count = 0
        self._vectors = np.zeros((0, self.dim), dtype=np.float32)  # slot-major, live first
        self._keys = np.zeros(0, dtype=np.int64)  # key of each slot
        self._slot_of_key = np.zeros(0, dtype=np.int32)  # -1: key absent
        self._ann: ivf.IvfIndex | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def approximate(self) -> bool:
        """Whether an IVF index is in use (above `ann_min_rows`)."""
        return self._ann is not None

    def keys(self) -> np.ndarray:
        """The live keys, in storage order."""
        return self._keys[: self._count].copy()

    def vectors(self) -> np.ndarray:
        """The stored (for cosine: normalised) vectors, a read-only view in `keys()` order."""
        view = self._vectors[: self._count]
        view.flags.writeable = False
        return view

    def partition(self) -> tuple[list[np.ndarray], np.ndarray] | None:
        """The IVF index's lists as positions into `keys()` / `vectors()`, with their
        centroids; None while every search is exact (no IVF index)."""
        if self._ann is None:
            return None
        lists = [self._slot_of_key[keys].astype(np.int64) for keys in self._ann.members()]
        return lists, self._ann.centroids

    def __contains__(self, key: int) -> bool:
        return 0 <= key < len(self._slot_of_key) and self._slot_of_key[key] >= 0

    # --- writes -------------------------------------------------------------------------

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace the vectors of `keys` (one row each, no key twice)."""
        keys = self._checked_keys(keys)
        vectors = self._checked_vectors(vectors, len(keys))
        if len(np.unique(keys)) != len(keys):
            raise Invalid("a key appears twice in one add", field="key")
        self._grow_keys(int(keys.max(initial=-1)) + 1)
        slots = self._slot_of_key[keys].astype(np.int64)
        present = slots >= 0
        self._vectors[slots[present]] = vectors[present]
        fresh = ~present
        added = int(fresh.sum())
        self._grow_slots(self._count + added)
        new_slots = np.arange(self._count, self._count + added, dtype=np.int64)
        self._vectors[new_slots] = vectors[fresh]
        self._keys[new_slots] = keys[fresh]
        self._slot_of_key[keys[fresh]] = new_slots
        self._count += added
        if self._ann is not None:
            self._ann.remove(keys[present])
            self._ann.add(keys, vectors)
        self._maintain()

    def remove(self, keys: np.ndarray) -> int:
        """Drop `keys` (absent ones are ignored); returns how many were present."""
        keys = np.unique(self._checked_keys(keys))
        keys = keys[keys < len(self._slot_of_key)]
        slots = self._slot_of_key[keys].astype(np.int64)
        keys, slots = keys[slots >= 0], slots[slots >= 0]
        if not len(keys):
            return 0
        # Fill the holes below the new end with the live slots above it: storage stays dense.
        end = self._count - len(slots)
        tail = np.arange(end, self._count, dtype=np.int64)
        movers = tail[~np.isin(tail, slots)]
        holes = slots[slots < end]
        self._vectors[holes] = self._vectors[movers]
        self._keys[holes] = self._keys[movers]
        self._slot_of_key[self._keys[holes]] = holes
        self._slot_of_key[keys] = -1
        self._count = end
        if self._ann is not None:
            self._ann.remove(keys)
        self._maintain()
        return len(keys)

    def rebuild(self) -> None:
        """Retrain the IVF index now (if the count calls for one at all)."""
        self._ann = None
        self._maintain()

    def _maintain(self) -> None:
        n = self._count
        if self._ann is None:
            if n >= self.ann_min_rows and ivf.available():
                self._ann = ivf.IvfIndex.train(self._vectors[:n], self._keys[:n])
            return
        if n < self.ann_min_rows // 2:
            self._ann = None
        elif n > GROWTH * self._ann.trained_on or n * GROWTH < self._ann.trained_on:
            self._ann = ivf.IvfIndex.train(self._vectors[:n], self._keys[:n])

    # --- reads --------------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        metric: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best keys per query and their scores (cosine similarity or dot product).

        `queries`: one vector or a (q, dim) matrix. `allowed`: a bool mask indexed by key
        (keys past its end are not allowed). Answers are (q, min(k, len)) arrays, best
        first; a query with fewer allowed keys is padded with key -1 and score -inf.
        """
        queries, k, allowed = self._checked_request(queries, k, allowed, metric)
        rows = None
        if allowed is not None:
            candidates = np.count_nonzero(allowed)
            if self._ann is None or candidates <= self.exact_max_rows:
                rows = self._rows_allowed(allowed)
        if self._ann is None or rows is not None:
            return self._exact(queries, k, rows)
        # Probe enough lists to see ~MIN_SCANNED vectors the query may return: a 1-in-m
        # mask leaves 1/m of each list, and small lists (small n) hold few vectors each.
        eligible = self._count if allowed is None else min(self._count, candidates)
        wanted_lists = math.ceil(MIN_SCANNED * self._ann.lists / max(1, eligible))
        probes = max(self.probes, wanted_lists)
        bits = None if allowed is None else np.packbits(allowed, bitorder="little")
        found = self._ann.search(queries, RERANK * k, probes=probes, allowed_bits=bits)
        keys, scores = self._rescored(queries, found, k)
        wanted = min(k, self._count if allowed is None else candidates)
        short = np.flatnonzero((keys >= 0).sum(axis=1) < wanted)
        if len(short):
            rows = None if allowed is None else self._rows_allowed(allowed)
            keys[short], scores[short] = self._exact(queries[short], k, rows)
        return keys, scores

    def exact_search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        metric: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`search` by brute force over every stored vector: the reference answer."""
        queries, k, allowed = self._checked_request(queries, k, allowed, metric)
        rows = None if allowed is None else self._rows_allowed(allowed)
        return self._exact(queries, k, rows)

    def _exact(self, queries, k, rows):
        positions, scores = exact_search(self._vectors[: self._count], queries, k, rows)
        return self._padded(self._keys[positions], scores, queries, k)

    def _padded(self, keys, scores, queries, k):
        width = min(k, self._count)
        out_keys = np.full((len(queries), width), -1, dtype=np.int64)
        out_scores = np.full((len(queries), width), -np.inf, dtype=np.float32)
        out_keys[:, : keys.shape[1]] = keys
        out_scores[:, : scores.shape[1]] = scores
        return out_keys, out_scores

    def _rescored(self, queries, found, k):
        """Exact scores of the approximate candidates, the best k kept."""
        valid = found >= 0
        slots = self._slot_of_key[np.where(valid, found, 0)].astype(np.int64)
        scores = np.einsum("qcd,qd->qc", self._vectors[slots], queries)
        scores[~valid] = -np.inf
        picked, best = top_k(scores, k)
        keys = np.take_along_axis(np.where(valid, found, -1), picked, axis=1)
        best[keys < 0] = -np.inf
        return self._padded(keys, best, queries, k)

    def _rows_allowed(self, allowed: np.ndarray) -> np.ndarray:
        """Storage rows of the live keys the mask allows."""
        keys = np.flatnonzero(allowed[: len(self._slot_of_key)])
        slots = self._slot_of_key[keys]
        return slots[slots >= 0].astype(np.int64)

    # --- persistence --------------------------------------------------------------------

    def save(self, path: str | Path, *, revision: int) -> None:
        """Write the index atomically, stamped with the caller's `revision`."""
        self.revision = int(revision)
        ann = None
        if self._ann is not None:
            ann = (self._ann.to_bytes(), self._ann.trained_on)
        files.write(
            Path(path),
            dim=self.dim,
            metric=self.metric,
            revision=self.revision,
            keys=self._keys[: self._count],
            vectors=self._vectors[: self._count],
            ann=ann,
            settings={
                "ann_min_rows": self.ann_min_rows,
                "exact_max_rows": self.exact_max_rows,
                "probes": self.probes,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> VectorIndex:
        """Read an index `save` wrote; its `revision` says which changes it covers."""
        stored = files.read(Path(path))
        index = cls(stored.dim, metric=stored.metric, **stored.settings)
        index.revision = stored.revision
        count = len(stored.keys)
        index._vectors, index._keys = stored.vectors, stored.keys  # adopted, not copied
        index._grow_keys(int(stored.keys.max(initial=-1)) + 1)
        index._slot_of_key[stored.keys] = np.arange(count, dtype=np.int32)
        index._count = count
        if stored.ann is not None and ivf.available():
            index._ann = ivf.IvfIndex.from_bytes(*stored.ann)
        index._maintain()
        return index

    # --- checks and growth --------------------------------------------------------------

    def _checked_keys(self, keys) -> np.ndarray:
        keys = np.asarray(keys)
        if keys.ndim != 1 or (keys.size and keys.dtype.kind not in "iu"):
            raise Invalid("keys must be a 1-D array of integers", field="key")
        keys = keys.astype(np.int64, copy=False)
        if keys.size and (keys.min() < 0 or keys.max() > MAX_KEY):
            raise Invalid(f"keys must lie in 0..{MAX_KEY}", field="key")
        return keys

    def _checked_vectors(self, vectors, count: int) -> np.ndarray:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            shape = "x".join(map(str, vectors.shape))
            raise Invalid(
                f"expected {count} x {self.dim} embeddings, got {shape}", field="embedding"
            )
        if len(vectors) != count:
            raise Invalid(f"{count} keys but {len(vectors)} embeddings", field="embedding")
        vectors = np.array(vectors, dtype=np.float32, order="C", copy=True)
        if not np.isfinite(vectors).all():
            raise Invalid("embeddings must be finite numbers", field="embedding")
        return self._normalised(vectors)

    def _checked_request(self, queries, k, allowed, metric):
        return (
            self._checked_queries(queries, metric),
            self._checked_k(k),
            self._checked_mask(allowed),
        )

    def _checked_queries(self, queries, metric) -> np.ndarray:
        if metric is not None and metric != self.metric:
            raise Invalid(f"this index compares by {self.metric}", field="metric")
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries[None]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise Invalid(f"queries must have dimension {self.dim}", field="embedding")
        if not np.isfinite(queries).all():
            raise Invalid("queries must be finite numbers", field="embedding")
        return self._normalised(np.array(queries, dtype=np.float32, order="C", copy=True))

    def _normalised(self, vectors: np.ndarray) -> np.ndarray:
        if self.metric != "cosine":
            return vectors
        norms = np.linalg.norm(vectors, axis=1)
        if (norms == 0).any():
            raise Invalid("a zero vector has no direction to compare", field="embedding")
        vectors /= norms[:, None]
        return vectors

    @staticmethod
    def _checked_k(k: int) -> int:
        if not isinstance(k, int | np.integer) or k < 1:
            raise Invalid("k must be a positive integer", field="k")
        return int(k)

    @staticmethod
    def _checked_mask(allowed) -> np.ndarray | None:
        if allowed is None:
            return None
        allowed = np.asarray(allowed)
        if allowed.dtype != np.bool_ or allowed.ndim != 1:
            raise Invalid("allowed must be a 1-D bool mask indexed by key", field="allowed")
        return allowed

    def _grow_slots(self, needed: int) -> None:
        if needed <= len(self._vectors):
            return
        capacity = max(needed, len(self._vectors) * 5 // 4, 1024)
        vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        vectors[: self._count] = self._vectors[: self._count]
        keys = np.full(capacity, -1, dtype=np.int64)
        keys[: self._count] = self._keys[: self._count]
        self._vectors, self._keys = vectors, keys

    def _grow_keys(self, needed: int) -> None:
        if needed <= len(self._slot_of_key):
            return
        capacity = max(needed, 2 * len(self._slot_of_key), 1024)
        slot_of_key = np.full(capacity, -1, dtype=np.int32)
        slot_of_key[: len(self._slot_of_key)] = self._slot_of_key
        self._slot_of_key = slot_of_key
