"""Vector search for curation: `VectorIndex` (exact below a size, faiss IVF above it) and
the autotag refinement kernel. Pure over arrays; the services own storage and SQL."""

from assay.curation.vectors.autotag import refine_autotag
from assay.curation.vectors.exact import exact_search
from assay.curation.vectors.index import VectorIndex
from assay.curation.vectors.neighbours import (
    duplicate_groups,
    nearest_neighbours,
    restrict_lists,
    uniqueness,
)

__all__ = [
    "VectorIndex",
    "duplicate_groups",
    "exact_search",
    "nearest_neighbours",
    "refine_autotag",
    "restrict_lists",
    "uniqueness",
]
