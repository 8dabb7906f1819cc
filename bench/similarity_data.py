"""Clustered synthetic embeddings for the similarity benchmarks (not uniform noise).

A Gaussian mixture of `centres` clusters with lognormal sizes in a 64-dimensional latent
space, lifted into `dim` dimensions by a random orthonormal map, plus small isotropic noise
in all `dim` dimensions, then L2-normalised: neighbourhoods have a low intrinsic dimension
as real image and text embeddings do, so ANN recall is neither flattered (uniform noise
has no near neighbours to miss) nor ruined (nor does it have any structure to exploit).
"""

from __future__ import annotations

import numpy as np

LATENT = 64


class Mixture:
    """Draws points, in chunks, from one fixed mixture."""

    def __init__(self, dim: int, *, centres: int = 4000, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.centres = rng.standard_normal((centres, LATENT)).astype(np.float32)
        weights = rng.lognormal(0.0, 1.0, centres)
        self.weights = weights / weights.sum()
        basis, _ = np.linalg.qr(rng.standard_normal((dim, LATENT)))
        self.lift = np.ascontiguousarray(basis.T, dtype=np.float32)  # LATENT x dim
        self.spread = 0.45  # within-cluster std in the latent space (centres: std 1)
        self.noise = 0.02  # isotropic std per dimension in the full space

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n unit vectors (float32, n x dim) and the cluster each came from."""
        labels = rng.choice(len(self.centres), size=n, p=self.weights)
        latent = self.centres[labels]
        latent += self.spread * rng.standard_normal(latent.shape, dtype=np.float32)
        points = latent @ self.lift
        points += self.noise * rng.standard_normal(points.shape, dtype=np.float32)
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        return points, labels


def clustered(
    n: int, dim: int, *, queries: int = 200, seed: int = 0, chunk: int = 100_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base n x dim, labels, held-out queries) from one mixture, built chunk by chunk."""
    mixture = Mixture(dim, seed=seed)
    rng = np.random.default_rng(seed + 1)
    base = np.empty((n, dim), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        base[start:stop], labels[start:stop] = mixture.sample(stop - start, rng)
    held_out, _ = mixture.sample(queries, rng)
    return base, labels, held_out


def exact_top(base: np.ndarray, queries: np.ndarray, k: int, allowed=None, chunk=250_000):
    """Exact inner-product top-k row indices per query (the ground truth), chunked."""
    rows = np.arange(len(base)) if allowed is None else np.flatnonzero(allowed)
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        block = base[part] if allowed is not None else base[start : start + chunk]
        scores = queries @ block.T
        scores = np.concatenate([best_scores, scores], axis=1)
        cand = np.concatenate([best_rows, np.broadcast_to(part, (len(queries), len(part)))], 1)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(scores, top, 1)
        best_rows = np.take_along_axis(cand, top, 1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best_rows, order, 1)


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the true top-k found among the first k results."""
    hits = [
        len(set(f[:k].tolist()) & set(t[:k].tolist())) for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits)) / k
