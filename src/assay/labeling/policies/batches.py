"""Batches are project management: only the project's managers see or change them."""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import Forbidden
from assay.labeling import models
from assay.labeling.policies.projects import require_manager, sees_all


def can_create(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "creating batches")


def can_list(actor: Actor, project: models.Project | None, role: str | None) -> None:
    """Without a project, only global managers may list every batch."""
    if project is None:
        if not sees_all(actor):
            raise Forbidden(
                "listing batches across projects needs the manager role; pass project_id"
            )
        return
    require_manager(actor, project, role, "listing batches")


def can_read(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "reading batches")


def can_finalize(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "finalizing batches")


def can_update(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "changing batches")
