"""Wire schemas of the curation pillar: datasets, items and what an append answers.

Pydantic only (no database imports): the SDK reuses these for what it returns. Bulk request
bodies (appends, predictions) are `curation/wire.py`'s msgspec shapes, decoded in one pass;
their JSON Schema for OpenAPI is generated from those shapes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, StringConstraints

from assay.core.schemas import Page, Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_METADATA = AliasChoices("metadata_", "metadata")


class DatasetCreate(Schema):
    name: Name
    is_scene: bool = Field(False, description="Holds scenes (video, LiDAR) of frames.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class DatasetUpdate(Schema):
    name: Name | None = None
    metadata: dict[str, Any] | None = None


class Dataset(Schema):
    id: str
    name: str
    mode: str
    is_scene: bool
    metadata: dict[str, Any] = Field(validation_alias=_METADATA)
    taxonomies: dict[str, Any]
    item_count: int
    annotation_count: int
    prediction_count: int
    embedding_spaces: dict[str, Any] = Field(
        default_factory=dict,
        description="Its embedding spaces: {space: {dim, metric, embedder, text_search}} "
        "(embedder and text_search for spaces computed by a registered embedder).",
    )
    object_embedding_spaces: dict[str, Any] = Field(
        default_factory=dict,
        description="Its object embedding spaces (vectors per annotation or prediction): "
        "{space: {dim, metric, embedder}}.",
    )
    revision: int
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class DatasetPage(Page[Dataset]):
    pass


class Item(Schema):
    id: str
    dataset_id: str
    reference_id: str
    kind: str
    media: str | None
    text: str | None = Field(validation_alias=AliasChoices("text_", "text"))
    width: int | None
    height: int | None
    metadata: dict[str, Any] = Field(validation_alias=_METADATA)
    tags: list[str]
    scene_id: str | None
    frame_index: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    annotations: list[dict[str, Any]] | None = Field(
        None, description="Its ground truth, when asked for (`annotations=true`)."
    )


class ItemPage(Page[Item]):
    pass


class AppendResult(Schema):
    new: int = Field(description="Items added.")
    updated: int = Field(description="Items whose reference id was there, updated.")
    ignored: int = Field(
        description="Items whose reference id was there, left alone (update false)."
    )
    annotations: int = Field(description="Ground-truth annotations written.")
    revision: int = Field(description="The dataset's revision after this append.")


class TasksIngest(Schema):
    """Labeled tasks into the dataset: these tasks, or a project's (its `last` newest)."""

    task_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        None, min_length=1, max_length=10_000
    )
    project_id: str | None = Field(None, min_length=1, max_length=64)
    last: int | None = Field(None, ge=1, le=10_000, description="With project_id: the newest N.")


class TasksIngested(Schema):
    ingested: list[str] = Field(description="Tasks written as items with their ground truth.")
    ignored: list[str] = Field(description="Completed tasks without media or without shapes.")
    pending: list[str] = Field(description="Tasks not completed yet.")


class ItemsDelete(Schema):
    reference_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        min_length=1, max_length=50_000
    )


class ItemsDeleted(Schema):
    deleted: int


class QueryRequest(Schema):
    query: str | None = Field(
        None,
        max_length=10_000,
        description='The query bar\'s text: `annotations.car > 2 AND metadata.weather = "rain"`.',
    )
    plan: dict[str, Any] | None = Field(
        None, description="The same query as the SDK's JSON plan (`assay.sdk.F`); not with `query`."
    )
    view: Literal["items", "objects"] = "items"
    limit: int = Field(50, ge=1, le=1000)
    cursor: str | None = Field(None, max_length=64)
    offset: int = Field(
        0,
        ge=0,
        le=100_000_000,
        description="Skip this many matches (not with `cursor`): the grid jumps to a place.",
    )
    order_by: str | None = Field(
        None, max_length=300, description='A field to sort by; a leading "-" sorts descending.'
    )
    facets: bool = Field(False, description="Also count labels and tags and bin numbers.")
    predictions: bool = Field(False, description="Items view: each item's predictions by model.")


class QueryAnswer(Schema):
    revision: int = Field(description="The dataset's revision the answer reflects.")
    count: int = Field(description="Items (or objects) matched.")
    items: list[dict[str, Any]]
    next_cursor: str | None
    facets: dict[str, Any] | None = None


class SliceCreate(Schema):
    name: Name
    kind: Literal["static", "dynamic", "object"] = "static"
    reference_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] | None = (
        Field(None, max_length=100_000, description="A static slice's items.")
    )
    query: str | dict[str, Any] | None = Field(
        None,
        description="A dynamic slice's query (text or plan); for a static slice, its items "
        "are what the query matches now.",
    )
    object_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=600)]] | None = (
        Field(
            None,
            max_length=10_000,
            description="An object slice's objects, as the query's objects view names them "
            '(`object_id`, "<item>:<source>:<place>"); kept by their shapes\' own ids (or '
            "a digest of the shape), so later changes to the item do not move them.",
        )
    )


class Slice(Schema):
    id: str
    dataset_id: str
    name: str
    kind: str
    query: Any | None
    created_by: str | None
    created_at: dt.datetime
    item_count: int | None = None


class SlicePage(Page[Slice]):
    pass


class SliceMembers(Schema):
    reference_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        min_length=1, max_length=100_000
    )


class SliceMembersChanged(Schema):
    changed: int


class SliceItems(Schema):
    count: int
    item_ids: list[str]
    next_cursor: str | None


class SliceSend(Schema):
    project_id: str = Field(min_length=1, max_length=24)
    batch_name: Name
    model_id: str | None = Field(
        None, max_length=24, description="Its predictions become the tasks' pre-labels."
    )
    finalize: bool = Field(True, description="Queue the batch at once.")


class LabelingLink(Schema):
    id: str
    dataset_id: str
    slice_id: str | None
    project_id: str
    batch_id: str
    model_id: str | None
    sent: int
    returned: int
    done: bool
    created_at: dt.datetime


class LabelingLinkPage(Page[LabelingLink]):
    pass


class EmbeddingsWritten(Schema):
    written: int


class SimilarRequest(Schema):
    space: str = Field(min_length=1, max_length=64)
    reference_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] | None = (
        Field(None, max_length=1000, description="Find items like these (their mean).")
    )
    vector: list[float] | None = Field(None, max_length=4096, description="Or like this vector.")
    text: str | None = Field(
        None,
        max_length=2000,
        description="Or like this text, embedded by the space's embedder's text tower.",
    )
    k: int = Field(50, ge=1, le=1000)
    query: str | dict[str, Any] | None = Field(
        None, description="Only among the items this query matches."
    )


class Match(Schema):
    item_id: str
    reference_id: str
    score: float


class Matches(Schema):
    items: list[Match]


class AutotagRound(Schema):
    name: str = Field(min_length=1, max_length=100)
    space: str = Field(min_length=1, max_length=64)
    positive: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        min_length=1, max_length=10_000
    )
    negative: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = Field(
        default_factory=list, max_length=10_000
    )
    top_k: int = Field(20_000, ge=1, le=1_000_000)


class Autotag(Schema):
    id: str
    dataset_id: str
    name: str
    space: str
    positive: list[str]
    negative: list[str]
    top_k: int
    rounds: int
    committed_at: dt.datetime | None
    created_at: dt.datetime


class AutotagRefined(Schema):
    autotag: Autotag
    items: list[Match] = Field(description="The best items of this round, most likely first.")


class AutotagCommitted(Schema):
    autotag: Autotag
    scored: int


class AutotagPage(Page[Autotag]):
    pass


class RunnerIn(Schema):
    """How Assay runs a hosted model: a registered Python callable (`python`, by `name`) or
    an OpenAI-compatible chat-completions endpoint (`openai`) asked for one category."""

    type: Literal["python", "openai"]
    name: str | None = Field(None, max_length=200, description="python: the registered name.")
    base_url: str | None = Field(
        None, max_length=2000, description="openai: e.g. https://api.openai.com/v1."
    )
    model: str | None = Field(None, max_length=200, description="openai: the model to ask.")
    prompt: str | None = Field(
        None,
        max_length=20_000,
        description="openai: the instruction; {text}, {reference_id}, {metadata} and {labels} "
        "are filled in (a text item's text is appended when there is no {text}).",
    )
    labels: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=1000, description="openai: the answers allowed."
    )
    api_key: SecretStr | None = Field(None, description="openai: stored encrypted; never returned.")


class ModelCreate(Schema):
    name: Name
    reference_id: str = Field(min_length=1, max_length=512, description="Your id for it.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    runner: RunnerIn | None = Field(
        None, description="Makes a hosted model that Assay runs over a dataset's items."
    )


class MlModel(Schema):
    """A model (`MlModel`: the schema name says which kind of model)."""

    id: str
    name: str
    reference_id: str
    kind: str = Field(description="shell (predictions uploaded) or hosted (Assay runs it).")
    metadata: dict[str, Any] = Field(validation_alias=_METADATA)
    runner: dict[str, Any] | None = Field(None, description="A hosted model's runner, no key.")
    has_api_key: Annotated[bool, BeforeValidator(lambda v: bool(v))] = Field(
        False, validation_alias=AliasChoices("api_key", "has_api_key")
    )
    created_by: str | None
    created_at: dt.datetime


class ModelRunCreate(Schema):
    dataset_id: str = Field(min_length=1, max_length=64)
    slice_id: str | None = Field(None, max_length=64, description="Only the slice's items.")
    query: str | dict[str, Any] | None = Field(None, description="Only the items it matches.")
    name: str | None = Field(None, max_length=200, description="The run's name.")


class ModelPage(Page[MlModel]):
    pass


class PredictionsWritten(Schema):
    written: int = Field(description="Predictions added or replaced.")
    ignored: int = Field(description="Predictions whose id the item had, left (update false).")


class EmbeddingsCompute(Schema):
    space: str = Field(min_length=1, max_length=64)
    embedder: str = Field(
        "tiny-image", min_length=1, max_length=64, description="A registered embedder."
    )
    query: str | dict[str, Any] | None = Field(None, description="Only the items it matches.")


class DuplicatesCompute(Schema):
    space: str = Field(min_length=1, max_length=64)
    threshold: float = Field(
        0.05, ge=0, le=1, description="Largest cosine distance between near-duplicates."
    )


class UniquenessCompute(Schema):
    space: str = Field(min_length=1, max_length=64)
    k: int = Field(3, ge=1, le=100, description="Nearest neighbours averaged per item.")


class DuplicateItem(Schema):
    item_id: str
    reference_id: str


class DuplicateGroup(Schema):
    group: int = Field(description="The group's number: `duplicates.group` in queries.")
    count: int = Field(description="Its live items.")
    items: list[DuplicateItem]


class DuplicateGroups(Schema):
    space: str
    threshold: float | None
    computed_at: dt.datetime
    groups: list[DuplicateGroup]
    next_cursor: str | None


class MapRequest(Schema):
    space: str = Field(min_length=1, max_length=64)
    query: str | dict[str, Any] | None = None
    method: Literal["pca", "umap"] = "pca"


class MapPoint(Schema):
    item_id: str
    reference_id: str
    x: float
    y: float


class EmbeddingMap(Schema):
    points: list[MapPoint]


class DatasetImportCreate(Schema):
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="The uploaded file (POST /blobs)."
    )
    path: str | None = Field(
        None,
        max_length=4096,
        description="Instead of a file, for images and yolo: a folder relative to the "
        "server's import root (ASSAY_IMPORT_ROOT; refused when it is not set).",
    )
    format: Literal["jsonl", "csv", "coco", "yolo", "images"] = Field(
        description="jsonl, csv, coco: a text file; images, yolo: a zip or tar(.gz) archive."
    )


class EvaluationCreate(Schema):
    model_id: str = Field(min_length=1, max_length=64, description="The model to evaluate.")
    task: Literal["detection", "classification", "segmentation", "spans"] = Field(
        "detection",
        description="detection: boxes, polygons, masks or keypoints, COCO protocol; "
        "classification: each item's category; segmentation: masks and polygons as label "
        "maps, pixel by pixel; spans: text spans (named entities).",
    )
    slice_id: str | None = Field(None, max_length=64, description="Only the slice's items.")
    query: str | dict[str, Any] | None = Field(None, description="Only the items it matches.")
    name: str | None = Field(None, max_length=200)
    params: dict[str, Any] | None = Field(
        None,
        description="Detection: iou_type (bbox: boxes, polygons by their box; segm: polygons, "
        "masks and boxes as pixels), iou_thresholds (COCO's 0.5:0.95), "
        "iou_threshold (the one matches are written back at, 0.5), max_detections "
        "([1, 10, 100]), class_agnostic (false), allowed_label_matches ([{ground_truth_label, "
        "model_prediction_label}]: a prediction may match an object of the paired label, one "
        "way; its TP counts for the object's label), keypoint_sigmas ({name: sigma}). "
        "Classification: top_k ([1, 5]). Spans: mode (strict or partial), min_iou (0.5).",
    )


class Evaluation(Schema):
    id: str
    dataset_id: str
    model_id: str
    name: str | None
    task: str
    params: dict[str, Any]
    scope: dict[str, Any]
    status: str = Field(description="queued, running, done or failed.")
    job_id: str | None
    error: str | None = None
    metrics: dict[str, Any] | None = Field(
        None,
        description="summary (COCO's twelve numbers), per_class, pr_curves, confusion, "
        "confidence histograms, totals (TP/FP/FN at iou_threshold).",
    )
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class EvaluationBrief(Schema):
    """An evaluation without its curves and matrices (for lists)."""

    id: str
    dataset_id: str
    model_id: str
    name: str | None
    task: str = "detection"
    status: str
    summary: dict[str, Any] | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class EvaluationPage(Page[EvaluationBrief]):
    pass


class EvaluationSliceMetrics(Schema):
    items: int
    summary: dict[str, Any]
    per_class: list[dict[str, Any]]
    totals: dict[str, int] | None = Field(None, description="Spans: TP / FP / FN.")


class EvaluationMatch(Schema):
    object_id: str
    item_id: str
    prediction: bool
    match: str | None = Field(description="tp, fp, fn or ignored; null: not evaluated.")
    iou: float | None
    matched_id: str | None
    iou_threshold: float


class EvaluationMatchPage(Page[EvaluationMatch]):
    pass


class EvaluationComparison(Schema):
    task: str = "detection"
    class_metric: str = Field(
        "ap", description="The per-class number compared: ap (detection) or f1."
    )
    base: dict[str, Any] = Field(description="id, model_id, name, summary.")
    new: dict[str, Any]
    items_compared: int = Field(description="Items both evaluations evaluated.")
    same_scope: bool
    summary_delta: dict[str, float | None] = Field(description="new - base.")
    per_class: list[dict[str, Any]]
    items_worse: int
    items_disagreeing: int = Field(description="Items whose TP/FP/FN counts differ.")
    items: list[dict[str, Any]] = Field(
        description="Items where the new model does worse (more FP + FN), worst first."
    )


# --- object embeddings (`object_embeddings.py`, `object_similarity.py`) -----------------


class ObjectRefIn(Schema):
    """An object by its item's reference id and its annotation id (with `model_id` for a
    model's prediction), or by the objects view's `object_id`."""

    reference_id: str | None = Field(None, min_length=1, max_length=512)
    annotation_id: str | None = Field(None, min_length=1, max_length=512)
    model_id: str | None = Field(None, min_length=1, max_length=24)
    object_id: str | None = Field(None, min_length=1, max_length=600)


class SimilarObjectsRequest(Schema):
    space: str = Field(min_length=1, max_length=64, description="An object embedding space.")
    objects: list[ObjectRefIn] | None = Field(
        None, max_length=1000, description="Find objects like these (their mean)."
    )
    vector: list[float] | None = Field(None, max_length=4096, description="Or like this vector.")
    k: int = Field(50, ge=1, le=1000)
    query: str | dict[str, Any] | None = Field(
        None, description="Only among the objects this query matches (the objects view)."
    )


class ObjectMatch(Schema):
    object_id: str
    item_id: str
    reference_id: str
    source_id: str = Field(description='"" for ground truth, else the model\'s id.')
    annotation_id: str | None
    label: str | None
    type: str | None
    score: float


class ObjectMatches(Schema):
    objects: list[ObjectMatch]


class ObjectEmbeddingsCompute(Schema):
    embedder: str = Field(
        "tiny-image", min_length=1, max_length=64, description="A registered image embedder."
    )
    space: str | None = Field(
        None, min_length=1, max_length=64, description="The object space; the embedder's name."
    )
    model_id: str | None = Field(
        None,
        min_length=1,
        max_length=24,
        description="This model's predictions; else ground truth.",
    )
    missing_only: bool = Field(True, description="Leave objects already embedded alone.")
