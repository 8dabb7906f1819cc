"""`client.batches`: groups of tasks that are queued together and complete together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.sdk._api.batches import BatchesAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import Batch


class Batches:
    def __init__(self, http: HTTP) -> None:
        self._api = BatchesAPI(http)

    def create(
        self,
        project_id: str,
        *,
        name: str,
        kind: str = "production",
        priority: int = 0,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Batch:
        """A batch in staging; add tasks to it, then `finalize` it. Safe to retry."""
        body = {"name": name, "kind": kind, "priority": priority, "metadata": metadata or {}}
        if callback_url is not None:
            body["callback_url"] = callback_url
        return self._api.create(project_id=project_id, json=body)

    def list(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Batch]:
        """Newest first, each with its task counts."""
        return iterate(
            lambda cursor: self._api.list(
                params={
                    "project_id": project_id,
                    "status": status,
                    "cursor": cursor,
                    "limit": page_size,
                }
            )
        )

    def get(self, batch_id: str) -> Batch:
        return self._api.get(batch_id=batch_id)

    def finalize(self, batch_id: str) -> Batch:
        """Queue the batch's tasks for labeling."""
        return self._api.finalize(batch_id=batch_id)

    def pause(self, batch_id: str) -> Batch:
        """Stop serving a batch in progress; work already started can still be submitted."""
        return self._api.pause(batch_id=batch_id)

    def resume(self, batch_id: str) -> Batch:
        """Serve a paused batch again."""
        return self._api.resume(batch_id=batch_id)

    def cancel(self, batch_id: str) -> Batch:
        """Cancel the batch's pending tasks that nobody is working on."""
        return self._api.cancel(batch_id=batch_id)

    def set_metadata(self, batch_id: str, metadata: dict[str, Any]) -> Batch:
        return self._api.set_metadata(batch_id=batch_id, json={"metadata": metadata})
