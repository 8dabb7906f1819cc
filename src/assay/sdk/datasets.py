"""`client.datasets`: datasets of items with ground truth, appended in bulk by reference id."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from assay.sdk._api.datasets import DatasetsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.blobs import Blobs
from assay.sdk.models import (
    AppendResult,
    AutotagCommitted,
    AutotagRefined,
    Dataset,
    DuplicateGroup,
    Item,
    Job,
    Match,
    ObjectMatch,
    QueryAnswer,
    TasksIngested,
)
from assay.sdk.query import Expr

# Items per request: well under the server's default limit (50,000) and its body limit.
APPEND_CHUNK = 10_000


class Datasets:
    def __init__(self, http: HTTP) -> None:
        self._api = DatasetsAPI(http)
        self._blobs = Blobs(http)

    def create(
        self, name: str, *, is_scene: bool = False, metadata: dict[str, Any] | None = None
    ) -> Dataset:
        """An empty dataset. Safe to retry."""
        return self._api.create(
            json={"name": name, "is_scene": is_scene, "metadata": metadata or {}}
        )

    def list(self, *, page_size: int | None = None) -> Iterator[Dataset]:
        """Newest first, with their counts."""
        return iterate(lambda cursor: self._api.list(params={"cursor": cursor, "limit": page_size}))

    def get(self, dataset_id: str) -> Dataset:
        return self._api.get(dataset_id=dataset_id)

    def update(
        self, dataset_id: str, *, name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Dataset:
        body = {k: v for k, v in (("name", name), ("metadata", metadata)) if v is not None}
        return self._api.update(dataset_id=dataset_id, json=body)

    def delete(self, dataset_id: str) -> Job:
        """Gone at once; the returned job deletes its rows (`client.jobs.wait(job.id)`)."""
        return self._api.delete(dataset_id=dataset_id)

    def import_file(
        self,
        dataset_id: str,
        file: str | os.PathLike[str] | bytes | IO[bytes] | None = None,
        *,
        format: str,
        blob: str | None = None,
        path: str | None = None,
    ) -> Job:
        """Append the items of a file as a job (`client.jobs.wait(job.id)`): `format` jsonl,
        csv, coco, or for a zip or tar archive images (an item per image) or yolo. Give the
        file (a path, bytes or a binary file object: uploaded first), an uploaded `blob`'s
        sha256, or for images and yolo a folder `path` under the server's import root."""
        if file is not None:
            blob = self._blobs.upload(file).sha256
        body = {"format": format, "sha256": blob, "path": path}
        return self._api.import_file(
            dataset_id=dataset_id, json={k: v for k, v in body.items() if v is not None}
        )

    def ingest_tasks(
        self,
        dataset_id: str,
        task_ids: Iterable[str] | None = None,
        *,
        project_id: str | None = None,
        last: int | None = None,
    ) -> TasksIngested:
        """Completed labeling tasks as items whose ground truth is their response: these
        `task_ids`, or a project's tasks (its `last` newest). Returns which were ingested,
        ignored (no media or no shapes) and pending (not completed)."""
        body = {
            "task_ids": list(task_ids) if task_ids is not None else None,
            "project_id": project_id,
            "last": last,
        }
        return self._api.ingest_tasks(
            dataset_id=dataset_id, json={k: v for k, v in body.items() if v is not None}
        )

    def append(
        self,
        dataset_id: str,
        items: Iterable[dict[str, Any]],
        *,
        update: bool = True,
        chunk_size: int = APPEND_CHUNK,
    ) -> AppendResult:
        """Add items, or update them by `reference_id` (`update=False` leaves those there).

        Each item: `reference_id`, `kind` (image, video_frame, pointcloud, text, document,
        conversation), `media` (`blob:<sha256>` from `client.blobs.upload`, or a URL) or
        `text`, `width`, `height`, `metadata`, `tags`, and `annotations` — ground truth in
        Assay's annotation model, replacing the item's. Sent `chunk_size` items per request,
        each all or nothing; retrying is safe. The counts are summed over the requests."""
        total = AppendResult(new=0, updated=0, ignored=0, annotations=0, revision=0)
        chunk: list[dict[str, Any]] = []

        def send() -> None:
            result = self._api.append(
                dataset_id=dataset_id, json={"items": chunk, "update": update}
            )
            total.new += result.new
            total.updated += result.updated
            total.ignored += result.ignored
            total.annotations += result.annotations
            total.revision = result.revision

        for item in items:
            chunk.append(item)
            if len(chunk) >= chunk_size:
                send()
                chunk = []
        if chunk:
            send()
        return total

    def items(
        self, dataset_id: str, *, annotations: bool = False, page_size: int | None = None
    ) -> Iterator[Item]:
        """Every item in the order they were added (with ground truth: `annotations=True`)."""
        return iterate(
            lambda cursor: self._api.items(
                dataset_id=dataset_id,
                params={"cursor": cursor, "limit": page_size, "annotations": annotations},
            )
        )

    def item(
        self, dataset_id: str, item_id: str | None = None, *, reference_id: str | None = None
    ) -> Item:
        """One item with its ground truth, by id or by reference id."""
        if (item_id is None) == (reference_id is None):
            raise ValueError("pass item_id or reference_id")
        if item_id is not None:
            return self._api.item(dataset_id=dataset_id, item_id=item_id)
        return self._api.item_by_reference(dataset_id=dataset_id, reference_id=reference_id)

    def delete_items(self, dataset_id: str, reference_ids: list[str]) -> int:
        """Delete items (with their annotations) by reference id; returns how many went."""
        return self._api.delete_items(
            dataset_id=dataset_id, json={"reference_ids": reference_ids}
        ).deleted

    def query(
        self,
        dataset_id: str,
        query: str | Expr | None = None,
        *,
        view: str = "items",
        limit: int = 50,
        cursor: str | None = None,
        order_by: str | None = None,
        facets: bool = False,
        predictions: bool = False,
    ) -> QueryAnswer:
        """One page of what a query matches: the query bar's text (`'annotations.car > 2'`)
        or an expression (`F("annotations.car") > 2`); `view="objects"` for single shapes.
        `.count`, `.items`, `.next_cursor` (pass as `cursor`), `.facets` when asked."""
        body: dict[str, Any] = {
            "view": view,
            "limit": limit,
            "cursor": cursor,
            "order_by": order_by,
            "facets": facets,
            "predictions": predictions,
        }
        if isinstance(query, Expr):
            body["plan"] = query.to_json()
        else:
            body["query"] = query
        return self._api.query(dataset_id=dataset_id, json=body)

    def find(
        self, dataset_id: str, query: str | Expr | None = None, *, view: str = "items"
    ) -> Iterator[dict[str, Any]]:
        """Every match of a query, page after page."""
        cursor = None
        while True:
            page = self.query(dataset_id, query, view=view, limit=1000, cursor=cursor)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    def upload_embeddings(
        self,
        dataset_id: str,
        space: str,
        vectors: dict[str, list[float]],
        *,
        metric: str = "cosine",
        chunk_size: int = 5_000,
    ) -> int:
        """Vectors by reference id into an embedding space (its first upload fixes the
        dimension); returns how many were written."""
        written = 0
        entries = [{"reference_id": r, "vector": list(v)} for r, v in vectors.items()]
        for start in range(0, len(entries), chunk_size):
            body = {"space": space, "metric": metric, "items": entries[start : start + chunk_size]}
            written += self._api.embeddings(dataset_id=dataset_id, json=body).written
        return written

    def similar(
        self,
        dataset_id: str,
        space: str,
        *,
        reference_ids: list[str] | None = None,
        vector: list[float] | None = None,
        text: str | None = None,
        k: int = 50,
        query: str | Expr | None = None,
    ) -> list[Match]:
        """The k items most like the given items, a vector, or a text (where the space's
        embedder has a text tower: `minilm`, `open-clip`), among a query's matches."""
        body: dict[str, Any] = {"space": space, "k": k}
        if reference_ids is not None:
            body["reference_ids"] = reference_ids
        if vector is not None:
            body["vector"] = list(vector)
        if text is not None:
            body["text"] = text
        if query is not None:
            body["query"] = query.to_json() if isinstance(query, Expr) else query
        return self._api.similar(dataset_id=dataset_id, json=body).items

    def upload_object_embeddings(
        self,
        dataset_id: str,
        space: str,
        objects: list[dict[str, Any]],
        *,
        metric: str = "cosine",
        chunk_size: int = 5_000,
    ) -> int:
        """Vectors per object into an object embedding space: each entry
        `{reference_id, annotation_id, model_id?, vector}` (no `model_id`: ground truth) or
        `{object_id, vector}` (an object query's id). Returns how many were written."""
        written = 0
        for start in range(0, len(objects), chunk_size):
            body = {
                "space": space,
                "metric": metric,
                "objects": objects[start : start + chunk_size],
            }
            written += self._api.object_embeddings(dataset_id=dataset_id, json=body).written
        return written

    def compute_object_embeddings(
        self,
        dataset_id: str,
        *,
        embedder: str = "tiny-image",
        model_id: str | None = None,
        space: str | None = None,
        missing_only: bool = True,
    ) -> Job:
        """A job embedding each object's box cropped from its picture (the ground truth's,
        or `model_id`'s predictions) into an object space (named after the embedder)."""
        body: dict[str, Any] = {"embedder": embedder, "missing_only": missing_only}
        if model_id is not None:
            body["model_id"] = model_id
        if space is not None:
            body["space"] = space
        return self._api.compute_object_embeddings(dataset_id=dataset_id, json=body)

    def similar_objects(
        self,
        dataset_id: str,
        space: str,
        *,
        objects: list[dict[str, Any]] | None = None,
        vector: list[float] | None = None,
        k: int = 50,
        query: str | Expr | None = None,
    ) -> list[ObjectMatch]:
        """The k objects most like the given objects (`{reference_id, annotation_id,
        model_id?}` or `{object_id}`) or a vector, among an object query's matches."""
        body: dict[str, Any] = {"space": space, "k": k}
        if objects is not None:
            body["objects"] = objects
        if vector is not None:
            body["vector"] = list(vector)
        if query is not None:
            body["query"] = query.to_json() if isinstance(query, Expr) else query
        return self._api.similar_objects(dataset_id=dataset_id, json=body).objects

    def refine_autotag(
        self,
        dataset_id: str,
        name: str,
        space: str,
        *,
        positive: list[str],
        negative: list[str] | None = None,
        top_k: int = 20_000,
    ) -> AutotagRefined:
        """One round of an autotag: its examples, and the best items it finds now."""
        body = {
            "name": name,
            "space": space,
            "positive": positive,
            "negative": negative or [],
            "top_k": top_k,
        }
        return self._api.refine_autotag(dataset_id=dataset_id, json=body)

    def commit_autotag(self, dataset_id: str, name: str) -> AutotagCommitted:
        """Keep the latest round's top scores, queryable as `autotag.<name>`."""
        return self._api.commit_autotag(dataset_id=dataset_id, name=name)

    def find_duplicates(self, dataset_id: str, space: str, *, threshold: float = 0.05) -> Job:
        """A job grouping items within `threshold` cosine distance of each other in a space
        (`client.jobs.wait(job.id)`); then query `duplicates.count > 1`, or read
        `duplicate_groups`."""
        return self._api.find_duplicates(
            dataset_id=dataset_id, json={"space": space, "threshold": threshold}
        )

    def duplicate_groups(
        self, dataset_id: str, *, page_size: int | None = None
    ) -> Iterator[DuplicateGroup]:
        """The latest near-duplicate run's groups, largest first, with their items."""
        cursor = None
        while True:
            page = self._api.duplicate_groups(
                dataset_id=dataset_id, params={"cursor": cursor, "limit": page_size}
            )
            yield from page.groups
            cursor = page.next_cursor
            if cursor is None:
                return

    def compute_uniqueness(self, dataset_id: str, space: str, *, k: int = 3) -> Job:
        """A job scoring each item 0..1 by its mean distance to its k nearest neighbours in
        a space; then query or sort by `uniqueness`."""
        return self._api.compute_uniqueness(dataset_id=dataset_id, json={"space": space, "k": k})
