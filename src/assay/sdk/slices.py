"""`client.slices`: named subsets of a dataset, and sending them to labeling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.sdk._api.slices import SlicesAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import LabelingLink, Slice
from assay.sdk.query import Expr


class Slices:
    def __init__(self, http: HTTP) -> None:
        self._api = SlicesAPI(http)

    def create(
        self,
        dataset_id: str,
        name: str,
        *,
        reference_ids: list[str] | None = None,
        query: str | Expr | None = None,
        dynamic: bool = False,
    ) -> Slice:
        """A static slice of chosen items (or of what `query` matches now); with
        `dynamic=True`, a slice that is its query and follows the data. Safe to retry."""
        body: dict[str, Any] = {"name": name, "kind": "dynamic" if dynamic else "static"}
        if reference_ids is not None:
            body["reference_ids"] = reference_ids
        if query is not None:
            body["query"] = query.to_json() if isinstance(query, Expr) else query
        return self._api.create(dataset_id=dataset_id, json=body)

    def list(self, dataset_id: str) -> Iterator[Slice]:
        return iterate(
            lambda cursor: self._api.list(dataset_id=dataset_id, params={"cursor": cursor})
        )

    def get(self, dataset_id: str, slice_id: str) -> Slice:
        return self._api.get(dataset_id=dataset_id, slice_id=slice_id)

    def item_ids(self, dataset_id: str, slice_id: str) -> list[str]:
        """Every item id of the slice (a dynamic slice's query run now)."""
        found: list[str] = []
        cursor = None
        while True:
            page = self._api.items(
                dataset_id=dataset_id, slice_id=slice_id, params={"cursor": cursor, "limit": 10_000}
            )
            found.extend(page.item_ids)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def add(self, dataset_id: str, slice_id: str, reference_ids: list[str]) -> int:
        return self._api.add(
            dataset_id=dataset_id, slice_id=slice_id, json={"reference_ids": reference_ids}
        ).changed

    def remove(self, dataset_id: str, slice_id: str, reference_ids: list[str]) -> int:
        return self._api.remove(
            dataset_id=dataset_id, slice_id=slice_id, json={"reference_ids": reference_ids}
        ).changed

    def delete(self, dataset_id: str, slice_id: str) -> None:
        self._api.delete(dataset_id=dataset_id, slice_id=slice_id)

    def send_to_labeling(
        self,
        dataset_id: str,
        slice_id: str,
        *,
        project_id: str,
        batch_name: str,
        model_id: str | None = None,
        finalize: bool = True,
    ) -> LabelingLink:
        """A labeling batch of the slice's items (a model's predictions as pre-labels); the
        labels come back as ground truth (`labeling_links` shows how many)."""
        body = {
            "project_id": project_id,
            "batch_name": batch_name,
            "model_id": model_id,
            "finalize": finalize,
        }
        return self._api.send(dataset_id=dataset_id, slice_id=slice_id, json=body)

    def labeling_links(self, dataset_id: str) -> Iterator[LabelingLink]:
        return iterate(
            lambda cursor: self._api.links(dataset_id=dataset_id, params={"cursor": cursor})
        )
