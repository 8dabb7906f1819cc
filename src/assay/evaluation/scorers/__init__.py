"""Programmatic scorers: item scorers grade one response, corpus scorers a whole run.

Built-ins and plugins register alike (`@scorer("name")`, or an entry point in the group
`assay.scorers`); `get_scorer(name).bind(options)` is what a run holds. See `registry.py`.
"""

from __future__ import annotations

from assay.evaluation.scorers import (  # noqa: F401  (importing registers the built-ins)
    classification,
    extraction,
    json_schema,
    mauve,
    overlap,
    plugins,
    text,
)
from assay.evaluation.scorers.registry import (
    ENTRY_POINTS,
    Bound,
    CorpusScore,
    Score,
    ScorerSpec,
    get_scorer,
    list_scorers,
    register_scorer,
    scorer,
)

__all__ = [
    "ENTRY_POINTS",
    "Bound",
    "CorpusScore",
    "Score",
    "ScorerSpec",
    "get_scorer",
    "list_scorers",
    "register_scorer",
    "scorer",
]
