"""Who may read workforce quality numbers.

A project's overview (every labeler's numbers) is for its managers and reviewers, global
managers and admins. A labeler's dashboard is for the same people and for the labeler
themself; another labeler's dashboard is 403 (the project itself is visible to them).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import Forbidden
from assay.labeling.policies.projects import ProjectRef, manages, require_visible


def oversees(actor: Actor, role: str | None) -> bool:
    """Managers and the project's reviewers see every labeler's numbers."""
    return manages(actor, role) or role == "reviewer"


def can_read_overview(actor: Actor, project: ProjectRef, role: str | None) -> None:
    require_visible(actor, project, role)
    if not oversees(actor, role):
        raise Forbidden(
            "the quality overview needs the manager or reviewer role in this project; "
            f"your role here is {role} (your own numbers are on your dashboard)"
        )


def can_read_dashboard(actor: Actor, project: ProjectRef, role: str | None, user_id: str) -> None:
    require_visible(actor, project, role)
    if actor.user_id != user_id and not oversees(actor, role):
        raise Forbidden("labelers may read their own quality dashboard only")
