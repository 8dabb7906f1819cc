"""Who may see and manage a labeling project.

Global admins and managers manage every project of their sandbox; a project member with the
project role `manager` manages that project. Everyone else sees only the projects they are
members of: to them another project does not exist (404). `role` is the caller's membership
role in the project (None when not a member), loaded by the router.
"""

from __future__ import annotations

from typing import Protocol

from assay.core.auth import Actor
from assay.core.errors import Forbidden, NotFound
from assay.core.policies import require_role
from assay.labeling import models


class ProjectRef(Protocol):
    """A project as policies see it (an ORM row, or the queue's `Access`)."""

    @property
    def id(self) -> str: ...


def manages(actor: Actor, role: str | None) -> bool:
    return actor.at_least("manager") or role == "manager"


def sees_all(actor: Actor) -> bool:
    """Global managers list every project; others only those they are members of."""
    return actor.at_least("manager")


def require_visible(actor: Actor, project: ProjectRef, role: str | None) -> None:
    if not actor.at_least("manager") and role is None:
        # Not 403: whether a project you are not part of exists is not your business.
        raise NotFound(f"no project with id {project.id}", field="project_id")


def require_manager(actor: Actor, project: models.Project, role: str | None, doing: str) -> None:
    require_visible(actor, project, role)
    if not manages(actor, role):
        raise Forbidden(
            f"{doing} needs the manager role in this project (or a global manager or admin); "
            f"your role here is {role}"
        )


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating projects")


def can_read(actor: Actor, project: models.Project, role: str | None) -> None:
    require_visible(actor, project, role)


def can_read_secret(actor: Actor, role: str | None) -> bool:
    """The callback signing secret is shown to the project's managers only."""
    return manages(actor, role)


def can_update(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "changing a project")


def can_set_instructions(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "changing the instructions")


def can_read_instructions(actor: Actor, project: models.Project, role: str | None) -> None:
    require_visible(actor, project, role)


def can_list_members(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "listing members")


def can_set_member(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "adding members or changing their roles")


def can_remove_member(actor: Actor, project: models.Project, role: str | None) -> None:
    require_manager(actor, project, role, "removing members")
