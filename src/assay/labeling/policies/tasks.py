"""Tasks through the manager endpoints: only the project's managers.

Labelers and reviewers work through the queue and never see task metadata or other people's
responses here: a project they are not in does not exist (404), one they work in is 403.
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import Forbidden
from assay.labeling import models
from assay.labeling.policies.projects import require_manager, sees_all


def can_create(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "creating tasks")


def can_import(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "importing tasks")


def can_list(actor: Actor, project: models.Project | None, role: str | None) -> None:
    """Without a project, only global managers may list every task."""
    if project is None:
        if not sees_all(actor):
            raise Forbidden("listing tasks across projects needs the manager role; pass project_id")
        return
    require_manager(actor, project, role, "listing tasks")


def can_read(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "reading tasks")


def can_read_history(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "reading task history")


def can_update(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "changing tasks")


def can_cancel(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "canceling tasks")


def can_audit(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "auditing tasks")
