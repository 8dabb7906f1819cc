"""Tables of the curation pillar: datasets, their items, ground truth and predictions.

The tables are the source of truth; queries, facets and similarity run on per-process
columnar snapshots kept in step through `revision` (`curation/frames.py`):

- every write to a dataset takes the next `datasets.revision` (the row is locked for the
  transaction, so revisions are handed out in commit order) and stamps the items it touched
  with it — an item whose annotations change is stamped too;
- a deleted item leaves a row in `dataset_tombstones` with the revision that deleted it.

So a snapshot at revision R catches up by reading the items stamped after R (with their
annotations) and the tombstones after R.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assay.core.db import Base, JSONType, JSONWhole, UTCDateTime, utcnow
from assay.core.db import created_column as _created
from assay.core.db import id_column as _id

ITEM_KINDS = ("image", "video_frame", "pointcloud", "text", "document", "conversation")
# Ground truth has no model: its `source_id` is "" (a NOT NULL key, so uniqueness holds).
GROUND_TRUTH = ""
BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_mode", "mode", "id"),)

    id: Mapped[str] = _id()
    # Names are not unique: Scale's Nucleus lets a team make two datasets of one name.
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    # A scene dataset holds scenes (video, LiDAR) whose frames are its items.
    is_scene: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    # Label sets by name: {"name": {"type": "category", "labels": [...]}} (Nucleus taxonomies).
    taxonomies: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    item_count: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    annotation_count: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    prediction_count: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    revision: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    # Items numbered so far: an item's `seq` is its dense key in vector indexes.
    item_seq: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0, server_default="0")
    # Embedding spaces: {"clip": {"dim": 512, "metric": "cosine"}}, fixed by the first upload.
    embedding_spaces: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict, server_default="{}"
    )
    # Object embedding spaces (vectors per annotation / prediction), kept apart from the
    # item spaces above: the same entries, read by `curation/object_embeddings.py` only.
    object_embedding_spaces: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict, server_default="{}"
    )
    # Objects numbered so far: an embedded object's `seq` is its key in vector indexes.
    object_seq: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0, server_default="0")
    # Tombstones at or below this revision were forgotten: an older snapshot reloads whole.
    tombstone_floor: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0)
    # Being deleted by a job: invisible, refuses writes.
    deleting: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Item(Base):
    """One image, video frame, point cloud, text, document or conversation of a dataset."""

    __tablename__ = "dataset_items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "reference_id"),
        Index("ix_dataset_items_page", "dataset_id", "id"),
        Index("ix_dataset_items_revision", "dataset_id", "revision"),
    )

    id: Mapped[str] = _id()
    # No foreign key on PostgreSQL (its per-row check was most of a bulk append's database
    # time): the code keeps the reference — migration 0027. SQLite keeps the constraint.
    dataset_id: Mapped[str] = mapped_column(String(24), nullable=False)
    reference_id: Mapped[str] = mapped_column(String(512), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # `blob:<sha256>` for uploaded media, else an http(s) URL; NULL for inline text.
    media: Mapped[str | None] = mapped_column(String(2000))
    text_: Mapped[str | None] = mapped_column("text", Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    scene_id: Mapped[str | None] = mapped_column(String(24))
    frame_index: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    # Dense per-dataset number (1, 2, …): the item's key in vector indexes.
    seq: Mapped[int] = mapped_column(BIG_ID, nullable=False, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Annotation(Base):
    """An item's ground truth (`source_id` "") or one model's predictions on it: the list of
    its shapes in the labeling pillar's annotation model, one row per item and source.

    One row per item rather than per shape: an append of 10,000 items with 50,000 boxes
    writes 10,000 rows here, not 50,000 (bench/curation_ingest.py), and an item's shapes
    are always read, replaced and deleted together. Queries over single shapes (labels,
    areas, confidences) run on the snapshots, which flatten these lists into columns."""

    __tablename__ = "dataset_annotations"

    # No foreign key on PostgreSQL, as `Item.dataset_id` (migration 0027).
    item_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(24), primary_key=True, default=GROUND_TRUTH)
    shapes: Mapped[list[dict[str, Any]]] = mapped_column(JSONWhole, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    # Where ground truth came from when Assay made it: {"task_id", "project_id", "batch_id",
    # "completed_at"} for labels brought back from a labeling batch.
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Tombstone(Base):
    """A deleted item, kept so snapshots can drop it (see the module's docstring)."""

    __tablename__ = "dataset_tombstones"

    dataset_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    revision: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    item_id: Mapped[str] = mapped_column(String(24), primary_key=True)


class Model(Base):
    """A model whose predictions a team uploads (`shell`) or that Assay runs (`hosted`)."""

    __tablename__ = "curation_models"
    __table_args__ = (UniqueConstraint("mode", "reference_id"),)

    id: Mapped[str] = _id()
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="live")
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    reference_id: Mapped[str] = mapped_column(String(512), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="shell")
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    # A hosted model's runner: {"type": "python", "name"} or {"type": "openai", "base_url",
    # "model", "prompt"} (`curation/model_runners.py`); NULL for shell models.
    runner: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The endpoint's API key, encrypted (`core/crypto.py`); never returned nor logged.
    api_key: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    # Ids of the slices the model was trained on (Nucleus's trained_slice_ids).
    trained_slice_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class Slice(Base):
    """A named subset of a dataset: chosen items (`static`), a saved query (`dynamic`), or
    chosen objects (`object`: its items are those of its objects)."""

    __tablename__ = "dataset_slices"
    __table_args__ = (Index("ix_dataset_slices_dataset", "dataset_id", "id"),)

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="static")
    # A dynamic slice's query: the query bar's text, or the SDK's plan.
    query: Mapped[Any | None] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class SliceItem(Base):
    __tablename__ = "dataset_slice_items"
    __table_args__ = (Index("ix_dataset_slice_items_item", "item_id"),)

    slice_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_slices.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_items.id", ondelete="CASCADE"), primary_key=True
    )


class SliceObject(Base):
    """A member of an object slice: one shape of an item from a source (ground truth "" or
    a model's id), by its key (`slice_objects.shape_key`: the shape's own id, else a digest
    of the shape). A key no shape answers to any more is a dangling member, left out of
    reads; the item's deletion takes the row with it."""

    __tablename__ = "dataset_slice_objects"
    __table_args__ = (Index("ix_dataset_slice_objects_item", "item_id"),)

    slice_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_slices.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_items.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    shape_key: Mapped[str] = mapped_column(String(512), primary_key=True)


class LabelingLink(Base):
    """Items sent to a labeling batch; their completed labels come back as ground truth."""

    __tablename__ = "dataset_labeling_links"

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    slice_id: Mapped[str | None] = mapped_column(
        ForeignKey("dataset_slices.id", ondelete="SET NULL")
    )
    project_id: Mapped[str] = mapped_column(String(24), nullable=False)
    batch_id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    model_id: Mapped[str | None] = mapped_column(String(24))
    sent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    returned: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Completed tasks are read after this (completed_at, task id) to bring their labels back.
    synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    synced_task: Mapped[str] = mapped_column(String(24), nullable=False, default="")
    done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class Embedding(Base):
    """An item's vector in one embedding space (float32 bytes)."""

    __tablename__ = "dataset_embeddings"
    __table_args__ = (Index("ix_dataset_embeddings_revision", "dataset_id", "space", "revision"),)

    item_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_items.id", ondelete="CASCADE"), primary_key=True
    )
    space: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(24), nullable=False)
    seq: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    revision: Mapped[int] = mapped_column(BIG_ID, nullable=False)


class ObjectEmbedding(Base):
    """An object's vector in one object embedding space (float32 bytes): one shape of an
    item from a source (ground truth "" or a model's id) by its key (`slice_objects.
    shape_key`). `seq` is its key in the space's vector index, kept when it is re-embedded."""

    __tablename__ = "dataset_object_embeddings"
    __table_args__ = (
        Index("ix_dataset_object_embeddings_revision", "dataset_id", "space", "revision"),
    )

    item_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_items.id", ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    shape_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    space: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(24), nullable=False)
    seq: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    revision: Mapped[int] = mapped_column(BIG_ID, nullable=False)


class Autotag(Base):
    """A concept learnt from examples on an embedding space; committed scores are queryable
    as `autotag.<name>`."""

    __tablename__ = "dataset_autotags"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    space: Mapped[str] = mapped_column(String(64), nullable=False)
    positive: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    negative: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    top_k: Mapped[int] = mapped_column(Integer, nullable=False, default=20_000)
    rounds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    committed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class AutotagScore(Base):
    __tablename__ = "dataset_autotag_scores"
    __table_args__ = (Index("ix_dataset_autotag_scores_item", "item_id"),)

    autotag_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_autotags.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_items.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float, nullable=False)


class Measure(Base):
    """A per-item number computed over a whole embedding space (`uniqueness`,
    `duplicates.group`, `duplicates.count`): float32 values indexed by the items' `seq`
    (NaN: none), one row per field. The snapshot shows it as that field's column; it is
    refreshed whole when its `revision` is newer than the snapshot's, so a run over
    1,000,000 items does not re-stamp (and re-read) every item."""

    __tablename__ = "dataset_measures"

    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    space: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    by_seq: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    revision: Mapped[int] = mapped_column(BIG_ID, nullable=False)
    computed_at: Mapped[dt.datetime] = _created()


class StagedUpload(Base):
    """A bulk file (NDJSON of items, annotations or predictions) uploaded for a dataset
    ahead of the request that imports it, by a name the uploader chose (Nucleus's signed-URL
    uploads: the client names the file `request_id`, PUTs it, then asks for its import)."""

    __tablename__ = "dataset_uploads"

    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(
        ForeignKey("blobs.sha256", ondelete="CASCADE"), nullable=False
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class Scene(Base):
    """A sequence of a dataset's items: a LiDAR scene (frames of sensors: a point cloud and
    camera images) or a video scene (frames, or only a video URL). Its items keep
    `scene_id` and `frame_index`; `frames` keeps the layout by item id."""

    __tablename__ = "dataset_scenes"
    __table_args__ = (UniqueConstraint("dataset_id", "reference_id"),)

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    reference_id: Mapped[str] = mapped_column(String(512), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # lidar | video
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    # lidar: [{"<sensor>": item_id, ...}, ...] by frame; video: [item_id, ...].
    frames: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    frame_rate: Mapped[float | None] = mapped_column(Float)
    video_url: Mapped[str | None] = mapped_column(String(2000))
    # The tracks the scene declares, with their metadata: [{"reference_id", "metadata"}]
    # (the shapes on a track name it by their `track_reference_id` attribute).
    tracks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class Evaluation(Base):
    """One evaluation of a model's predictions against a dataset's ground truth (all items,
    a slice's or a query's), run as a job (`curation/evaluations.py`).

    `metrics` holds what the Models page draws (summary numbers, per class, PR curves,
    confusion matrix, confidence histograms); the large results live in their own row
    (`EvaluationResult`, read as `matches` and `state`), so listing and scanning evaluations
    never reads them. `revision` is the dataset's revision the results were stored with (snapshots
    catch up on it); `evaluated_revision` the one the data was read at — an item stamped
    later has changed since, and its stored matches are not shown."""

    __tablename__ = "dataset_evaluations"
    __table_args__ = (Index("ix_dataset_evaluations_dataset", "dataset_id", "created_at"),)

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    model_id: Mapped[str] = mapped_column(
        ForeignKey("curation_models.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str | None] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(16), nullable=False, default="detection")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # {"slice_id": …} or {"query": …}; {} for the whole dataset.
    scope: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    job_id: Mapped[str | None] = mapped_column(String(24))
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    revision: Mapped[int | None] = mapped_column(BIG_ID)
    evaluated_revision: Mapped[int | None] = mapped_column(BIG_ID)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[EvaluationResult | None] = relationship(
        lazy="select", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def matches(self) -> bytes | None:
        return None if self.result is None else self.result.matches

    @property
    def state(self) -> bytes | None:
        return None if self.result is None else self.result.state


class EvaluationResult(Base):
    """A finished evaluation's large results, apart from its row (SQLite walks a row's
    overflow pages to reach the columns after a blob; PostgreSQL would TOAST them anyway):
    `matches`, every evaluated object's outcome at the writeback IoU threshold (Parquet:
    object_id, item_id, prediction, match, iou, matched_id, iou_threshold), which snapshots
    join into the objects frame (`prediction.match = fp`); `state`, the evaluation's arrays
    a slice is re-evaluated from without matching again."""

    __tablename__ = "dataset_evaluation_results"

    evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    matches: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    state: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ScenarioTest(Base):
    """A scenario test (Scale's Validate): a slice of a dataset and the metrics a model must
    reach on it (`scenario_test_metrics`), each against a threshold and, when the test has a
    baseline model, against that model's value on the same slice (`curation/scenarios.py`)."""

    __tablename__ = "scenario_tests"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name"),
        Index("ix_scenario_tests_slice", "slice_id"),
    )

    id: Mapped[str] = _id()
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False
    )
    slice_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_slices.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    baseline_model_id: Mapped[str | None] = mapped_column(
        ForeignKey("curation_models.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class ScenarioMetric(Base):
    """One metric of a scenario test: a registered metric function (`scenario_metrics.py`)
    with its arguments, a threshold and how the value compares to it (`>=`, `>`, `<=`,
    `<`), and how far below a baseline model's value it may fall (`tolerance`)."""

    __tablename__ = "scenario_test_metrics"
    __table_args__ = (Index("ix_scenario_test_metrics_test", "scenario_test_id"),)

    id: Mapped[str] = _id()
    scenario_test_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_tests.id", ondelete="CASCADE"), nullable=False
    )
    function: Mapped[str] = mapped_column(String(100), nullable=False)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    threshold: Mapped[float | None] = mapped_column(Float)
    comparison: Mapped[str] = mapped_column(String(2), nullable=False, default=">=")
    tolerance: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    # A metric whose values are computed outside Assay and uploaded (`ExternalFunction`),
    # never from an evaluation; `function` then holds that function's name.
    external_function_id: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[dt.datetime] = _created()


class ExternalFunction(Base):
    """A metric function of a sandbox whose values are computed elsewhere and uploaded per
    entity (item, scene or track) with a weight (Scale Validate's external functions)."""

    __tablename__ = "scenario_external_functions"
    __table_args__ = (UniqueConstraint("mode", "name"),)

    id: Mapped[str] = _id()
    mode: Mapped[str] = mapped_column(String(8), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    level: Mapped[str] = mapped_column(String(8), nullable=False, default="item")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class ScenarioResult(Base):
    """A metric's value for one model evaluation, and whether it passed: a scenario test's
    history. The threshold and the baseline's value are copied as they were then; `passed`
    is NULL when nothing was to be met (no threshold, no baseline) or the value is undefined
    on the slice (no ground truth, no predictions)."""

    __tablename__ = "scenario_test_results"
    __table_args__ = (
        UniqueConstraint("metric_id", "evaluation_id"),
        Index("ix_scenario_test_results_test", "scenario_test_id", "created_at"),
        Index("ix_scenario_test_results_evaluation", "evaluation_id"),
    )

    id: Mapped[str] = _id()
    scenario_test_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_tests.id", ondelete="CASCADE"), nullable=False
    )
    metric_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_test_metrics.id", ondelete="CASCADE"), nullable=False
    )
    # NULL for an uploaded result (an external function's), which has no evaluation.
    evaluation_id: Mapped[str | None] = mapped_column(
        ForeignKey("dataset_evaluations.id", ondelete="CASCADE")
    )
    model_id: Mapped[str] = mapped_column(
        ForeignKey("curation_models.id", ondelete="CASCADE"), nullable=False
    )
    value: Mapped[float | None] = mapped_column(Float)
    # An uploaded result's values per entity: {"level", "ids", "scores", "weights"} (ids are
    # item or scene ids, or track reference ids); read only for its item evaluations.
    uploaded: Mapped[dict[str, Any] | None] = mapped_column(JSONType, deferred=True)
    threshold: Mapped[float | None] = mapped_column(Float)
    comparison: Mapped[str] = mapped_column(String(2), nullable=False)
    # Kept as it was when evaluated, even if that model goes later.
    baseline_model_id: Mapped[str | None] = mapped_column(String(24))
    baseline_value: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
