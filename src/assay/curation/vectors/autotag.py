"""Autotag refinement: a logistic regression on the embeddings, then every row scored.

One round: fit on the marked positives and negatives plus a random sample of the other
rows as background negatives (a few seeds alone would leave the model unanchored), with
the two sides weighted equally; then one float32 matvec over all n rows and a partial sort.
L-BFGS on the small training set takes tens of milliseconds; the cost of a round is the
matvec (about 0.1-0.3 s at 1,000,000 x 512).
"""

from __future__ import annotations

import numpy as np

from assay.core.errors import Invalid

MAX_STEPS = 200


def refine_autotag(
    vectors: np.ndarray,
    positive: np.ndarray,
    negative: np.ndarray,
    *,
    top_k: int = 20_000,
    background: int = 1_000,
    penalty: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `vectors` most like `positive` and unlike `negative`, with probabilities.

    `positive` / `negative`: row positions. Returns the top_k rows by the model's score,
    best first, and their probabilities of being positive (0..1) as float32.
    """
    n = len(vectors)
    positive = np.unique(np.asarray(positive, dtype=np.int64))
    negative = np.setdiff1d(np.asarray(negative, dtype=np.int64), positive)
    if not len(positive):
        raise Invalid("autotag needs at least one positive example", field="positive")
    for name, rows in (("positive", positive), ("negative", negative)):
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            raise Invalid(f"{name} rows must lie in 0..{n - 1}", field=name)
    rng = np.random.default_rng(seed)
    sampled = rng.choice(n, size=min(n, background), replace=False)
    sampled = np.setdiff1d(sampled, np.concatenate([positive, negative]))
    negatives = np.concatenate([negative, sampled])
    rows = np.concatenate([positive, negatives])
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negatives))])
    weights = np.where(labels == 1, 0.5 / len(positive), 0.5 / max(1, len(negatives)))
    weights *= len(rows)
    coef, bias = fit_logistic(vectors[rows].astype(np.float32), labels, weights, penalty)
    logits = vectors @ coef.astype(vectors.dtype)  # the one pass over all n rows
    k = min(top_k, n)
    best = np.argpartition(-logits, k - 1)[:k] if k < n else np.arange(n)
    best = best[np.argsort(-logits[best], kind="stable")]
    scores = 1.0 / (1.0 + np.exp(-(logits[best].astype(np.float64) + bias)))
    return best, scores.astype(np.float32)


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, weights: np.ndarray, penalty: float
) -> tuple[np.ndarray, float]:
    """Weighted L2-penalised logistic regression by L-BFGS: (coefficients, bias).

    The training set is small (seeds plus the background sample): each step is two small
    products, in float32 through einsum (BLAS's thread wake-ups would cost more than the
    arithmetic), summed in float64. The bias is not penalised. Newton's method was slower
    here: its Gram product per step outweighs the steps it saves.
    """
    # Imported here: scipy.optimize costs every server start most of a second, and only an
    # autotag refinement needs it.
    import scipy.optimize
    import scipy.special

    m, d = features.shape
    design = np.hstack([features, np.ones((m, 1), dtype=features.dtype)])
    ridge = np.full(d + 1, penalty)
    ridge[-1] = 0.0
    signs = 2.0 * labels - 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        margins = signs * np.einsum("ij,j->i", design, theta.astype(design.dtype))
        value = weights @ np.logaddexp(0.0, -margins) + 0.5 * ridge @ theta**2
        slopes = (-weights * signs * scipy.special.expit(-margins)).astype(design.dtype)
        return float(value), np.einsum("ij,i->j", design, slopes) + ridge * theta

    result = scipy.optimize.minimize(
        loss,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_STEPS, "ftol": 1e-7, "gtol": 1e-5},
    )
    return result.x[:-1], float(result.x[-1])
