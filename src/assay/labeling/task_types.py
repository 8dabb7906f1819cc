"""Native task types, the annotation geometries each allows, and Scale's type names."""

from __future__ import annotations

from assay.core.errors import Invalid

TASK_TYPES = (
    "image",
    "video",
    "categorization",
    "text_spans",
    "transcription",
    "text_collection",
    "llm_rating",
    "llm_ranking",
    "llm_comparison",
    "rubric_grading",
)

GEOMETRIES: dict[str, tuple[str, ...]] = {
    "image": ("box", "polygon", "line", "point", "keypoints", "ellipse", "cuboid", "mask"),
    "video": ("box", "point", "polygon"),
    "categorization": ("category",),
    "text_spans": ("span",),
    "transcription": ("text",),
    "text_collection": ("text",),
    "llm_rating": ("rating",),
    "llm_ranking": ("ranking",),
    "llm_comparison": ("comparison",),
    "rubric_grading": ("verdict",),
}

# Geometries whose annotations must name a taxonomy label; `text` may (see annotations.py).
LABELED_GEOMETRIES = frozenset(
    (
        "box",
        "polygon",
        "line",
        "point",
        "keypoints",
        "ellipse",
        "cuboid",
        "mask",
        "category",
        "span",
    )
)

# Task types whose annotations can be joined by links (relations between two shapes/spans).
LINKABLE_TASK_TYPES = frozenset(("image", "video", "text_spans"))

# Task types that cannot be labeled without at least one taxonomy label.
LABELS_REQUIRED = frozenset(("image", "video", "categorization", "text_spans"))

# Task types that do not use taxonomy labels at all.
UNLABELED_TASK_TYPES = frozenset(("llm_rating", "llm_ranking", "llm_comparison", "rubric_grading"))

LLM_TASK_TYPES = frozenset(("llm_rating", "llm_ranking", "llm_comparison"))

COMPARISON_CHOICES = ("a", "b", "tie", "both_good", "both_bad")

# A rubric_grading task: params.criteria is a list of {id, text, category}; nothing else may
# ride along (never the points, never a judge's verdict: the labeler sees every param).
RUBRIC_CRITERION_KEYS = frozenset(("id", "text", "category"))
MAX_RUBRIC_CRITERIA = 100

SCALE_TYPES: dict[str, str] = {
    "imageannotation": "image",
    "annotation": "image",
    "polygonannotation": "image",
    "lineannotation": "image",
    "pointannotation": "image",
    "cuboidannotation": "image",
    "segmentannotation": "image",
    "categorization": "categorization",
    "namedentityrecognition": "text_spans",
    "transcription": "transcription",
    "documenttranscription": "transcription",
    "textcollection": "text_collection",
    "datacollection": "text_collection",
    "videoannotation": "video",
    "videoboxannotation": "video",
    "videoplaybackannotation": "video",
    "chat": "llm_rating",
    "chatlite": "llm_rating",
    "multichat": "llm_rating",
    "chatexperimental": "llm_rating",
    "comparison": "llm_comparison",
}


def native_type(name: str) -> str:
    """Return the native task type for a native or Scale task type name."""
    if isinstance(name, str):
        key = name.strip().lower()
        if key in GEOMETRIES:
            return key
        if key in SCALE_TYPES:
            return SCALE_TYPES[key]
    raise Invalid(
        f"unknown task type {name!r}; allowed: {', '.join(TASK_TYPES)} "
        f"or a Scale type ({', '.join(SCALE_TYPES)})",
        field="type",
    )
