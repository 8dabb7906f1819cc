"""`client.tasks`: create tasks (one, many at once, or from a file), find and change them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from assay.sdk._api.tasks import TasksAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import Job, Task, TaskBulkCreated, TaskEvent

_UNSET: Any = object()


class Tasks:
    def __init__(self, http: HTTP) -> None:
        self._api = TasksAPI(http)

    def create(
        self,
        project_id: str,
        *,
        params: dict[str, Any],
        batch: str | None = None,
        unique_id: str | None = None,
        priority: int = 0,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        prelabels: dict[str, Any] | None = None,
        callback_url: str | None = None,
    ) -> Task:
        """One task. `params["attachment"]`: a URL or `blob:<sha256>` of an upload."""
        body = {
            "params": params,
            "batch": batch,
            "unique_id": unique_id,
            "priority": priority,
            "metadata": metadata,
            "tags": tags,
            "prelabels": prelabels,
            "callback_url": callback_url,
        }
        return self._api.create(
            project_id=project_id, json={k: v for k, v in body.items() if v is not None}
        )

    def create_many(
        self, project_id: str, tasks: list[dict[str, Any]], *, batch: str | None = None
    ) -> TaskBulkCreated:
        """Many tasks in one request, all or none (`InvalidInput.field` names the bad one,
        e.g. `tasks[41].params.attachment`). Safe to retry."""
        body: dict[str, Any] = {"tasks": tasks}
        if batch is not None:
            body["batch"] = batch
        return self._api.create_many(project_id=project_id, json=body)

    def import_file(self, project_id: str, *, blob: str, batch: str | None = None) -> Job:
        """Create tasks from an uploaded JSONL or CSV file, as a job (`client.jobs.wait`)."""
        body = {"blob": blob} if batch is None else {"blob": blob, "batch": batch}
        return self._api.import_file(project_id=project_id, json=body)

    def list(
        self,
        *,
        project_id: str | None = None,
        batch_id: str | None = None,
        status: str | None = None,
        tags: list[str] | None = None,
        unique_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        updated_after: dt.datetime | None = None,
        updated_before: dt.datetime | None = None,
        completed_after: dt.datetime | None = None,
        completed_before: dt.datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[Task]:
        """Tasks newest first, fetched lazily. `tags`: carrying all; `metadata`: equal keys."""
        params: dict[str, Any] = {
            "project_id": project_id,
            "batch_id": batch_id,
            "status": status,
            "tags": tags,
            "unique_id": unique_id,
            "metadata": json.dumps(metadata) if metadata is not None else None,
            "limit": page_size,
        }
        for name, value in (
            ("updated_after", updated_after),
            ("updated_before", updated_before),
            ("completed_after", completed_after),
            ("completed_before", completed_before),
        ):
            params[name] = value.isoformat() if value is not None else None
        return iterate(lambda cursor: self._api.list(params={**params, "cursor": cursor}))

    def get(self, task_id: str) -> Task:
        return self._api.get(task_id=task_id)

    def history(self, task_id: str) -> list[TaskEvent]:
        """Submissions, skips, reviews, cancel and audits, oldest first."""
        return self._api.history(task_id=task_id).items

    def cancel(self, task_id: str, *, clear_unique_id: bool = False) -> Task:
        return self._api.cancel(
            task_id=task_id, params={"clear_unique_id": "true" if clear_unique_id else None}
        )

    def audit(self, task_id: str, *, accepted: bool, comments: str | None = None) -> TaskEvent:
        return self._api.audit(task_id=task_id, json={"accepted": accepted, "comments": comments})

    def update(
        self,
        task_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        unique_id: str | None = _UNSET,
    ) -> Task:
        """Replace metadata or tags; set `unique_id` (None clears it)."""
        changes: dict[str, Any] = {}
        if metadata is not None:
            changes["metadata"] = metadata
        if tags is not None:
            changes["tags"] = tags
        if unique_id is not _UNSET:
            changes["unique_id"] = unique_id
        return self._api.update(task_id=task_id, json=changes)

    def add_tags(self, task_id: str, tags: list[str]) -> Task:
        return self._api.add_tags(task_id=task_id, json={"tags": tags})

    def remove_tags(self, task_id: str, tags: list[str]) -> Task:
        return self._api.remove_tags(task_id=task_id, json={"tags": tags})
