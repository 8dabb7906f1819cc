"""Who may organise the workforce: a project's managers for its groups, labelers and batch
groups; global managers and admins for what spans projects (the order of every batch, the
list of every labeler's assignments)."""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.policies import require_role
from assay.labeling import models
from assay.labeling.policies.projects import require_manager


def can_list_groups(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "listing groups")


def can_create_group(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "creating groups")


def can_update_group(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "changing groups")


def can_delete_group(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "deleting groups")


def can_assign_batch(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "assigning batches to groups")


def can_assign_labelers(actor: Actor) -> None:
    """Studio's assignment calls answer with every labeler's projects: global managers only."""
    require_role(actor, "manager", "assigning labelers to projects")


def can_list_assignments(actor: Actor) -> None:
    require_role(actor, "manager", "listing every labeler's assignments")


def can_order_batches(actor: Actor) -> None:
    """Batch priorities order every project's batches of the sandbox at once."""
    require_role(actor, "manager", "setting batch priorities")


def can_list_batch_order(actor: Actor) -> None:
    require_role(actor, "manager", "listing the order of batches")
