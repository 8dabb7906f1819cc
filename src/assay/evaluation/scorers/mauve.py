"""MAUVE (Pillutla et al.): how close the distribution of a run's responses is to the
distribution of the reference texts, from the `mauve-text` package, on sentence features of
the packaged all-MiniLM-L6-v2 (curation's `minilm` embedder: no model is fetched at run
time; MAUVE's default GPT-2 large featuriser would download 3 GB).

Its dependencies are the optional extra `assay[mauve]`: `mauve-text` (which also pulls
scikit-learn) and the MiniLM package, which needs torch — far too heavy for a server that
only runs exact-match and rubric scorers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core.errors import Invalid, Unavailable
from assay.evaluation.scorers.registry import CorpusScore, scorer
from assay.evaluation.scorers.text import targets_of

EXTRA = "mauve"
MISSING = f"the MAUVE scorer needs the optional extra: pip install 'assay[{EXTRA}]'"


def _mauve() -> Any:
    try:
        import mauve  # type: ignore[import-untyped]
    except ImportError as exc:
        raise Unavailable(f"{MISSING} ({exc})", field="scorer") from exc
    return mauve


def features(texts: Sequence[str]) -> np.ndarray:
    """MiniLM sentence features (unit vectors, 384 wide) of `texts`."""
    from assay.curation.embedders import loaded_embedder

    try:
        return loaded_embedder("minilm").embed_texts(list(texts))
    except ImportError as exc:
        raise Unavailable(f"{MISSING} ({exc})", field="scorer") from exc


@scorer("mauve", kind="corpus")
def mauve_score(
    responses: Sequence[str],
    targets: Sequence[Any],
    *,
    num_buckets: int = 0,
    scaling: float = 5.0,
    seed: int = 25,
) -> CorpusScore:
    """MAUVE of the responses (q) against the references (p, each item's first accepted
    answer); `num_buckets` 0 is MAUVE's own choice (one per ten texts)."""
    module = _mauve()
    references = [refs[0] for refs in map(targets_of, targets) if refs]
    if len(references) < 2 or len(responses) < 2:
        raise Invalid("MAUVE needs at least two responses and two references", field="target")
    found = module.compute_mauve(
        p_features=features(references),
        q_features=features(list(responses)),
        num_buckets=num_buckets or "auto",
        mauve_scaling_factor=scaling,
        seed=seed,
        verbose=False,
    )
    metrics = {"mauve": float(found.mauve), "frontier_integral": float(found.frontier_integral)}
    return CorpusScore(float(found.mauve), metrics, f"MAUVE {found.mauve:.4f}")
