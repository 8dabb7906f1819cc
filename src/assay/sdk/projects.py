"""`client.projects`: labeling projects, their instructions and members."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.sdk._api.projects import ProjectsAPI
from assay.sdk._http import HTTP
from assay.sdk._pages import iterate
from assay.sdk.models import InstructionVersion, Member, Project, ProjectDetail


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class Projects:
    def __init__(self, http: HTTP) -> None:
        self._api = ProjectsAPI(http)

    def create(
        self,
        *,
        name: str,
        task_type: str,
        taxonomy: dict[str, Any] | None = None,
        instructions: str | None = None,
        pipeline: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        quality: dict[str, Any] | None = None,
    ) -> ProjectDetail:
        """A project (managers and admins). Instructions default to an outline of the
        taxonomy; the pipeline to one label stage; `quality` to no evaluation, training or
        audits. Safe to retry."""
        body = _given(
            name=name,
            task_type=task_type,
            taxonomy=taxonomy,
            instructions=instructions,
            pipeline=pipeline,
            params=params,
            quality=quality,
        )
        return self._api.create(json=body)

    def list(
        self, *, archived: bool | None = None, page_size: int | None = None
    ) -> Iterator[Project]:
        """Projects you may see, newest first, fetched lazily."""
        return iterate(
            lambda cursor: self._api.list(
                params={"archived": archived, "cursor": cursor, "limit": page_size}
            )
        )

    def get(self, project_id: str) -> ProjectDetail:
        return self._api.get(project_id=project_id)

    def update(
        self,
        project_id: str,
        *,
        name: str | None = None,
        taxonomy: dict[str, Any] | None = None,
        pipeline: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        quality: dict[str, Any] | None = None,
        archived: bool | None = None,
    ) -> ProjectDetail:
        """Change what is given; leave the rest as it is. `quality` replaces the project's
        quality settings as a whole."""
        changes = _given(
            name=name,
            taxonomy=taxonomy,
            pipeline=pipeline,
            params=params,
            quality=quality,
            archived=archived,
        )
        return self._api.update(project_id=project_id, json=changes)

    def set_instructions(self, project_id: str, body: str) -> InstructionVersion:
        """Publish a new version of the instructions (markdown)."""
        return self._api.set_instructions(project_id=project_id, json={"body": body})

    def instructions(self, project_id: str) -> Iterator[InstructionVersion]:
        """Every version of the instructions, newest first."""
        return iterate(
            lambda cursor: self._api.instructions(project_id=project_id, params={"cursor": cursor})
        )

    def members(self, project_id: str) -> Iterator[Member]:
        return iterate(
            lambda cursor: self._api.members(project_id=project_id, params={"cursor": cursor})
        )

    def set_member(self, project_id: str, user_id: str, role: str) -> Member:
        """Add a user with a project role (manager, reviewer, labeler), or change it."""
        return self._api.set_member(project_id=project_id, user_id=user_id, json={"role": role})

    def remove_member(self, project_id: str, user_id: str) -> None:
        self._api.remove_member(project_id=project_id, user_id=user_id)
