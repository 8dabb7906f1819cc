"""Who may work a project's queue: its members (and global managers and admins).

Label stages are open to every member; review stages need the project role reviewer or
manager, or a global reviewer (or higher) who is a member.
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import Forbidden
from assay.labeling.policies.projects import ProjectRef, require_visible


def can_work(actor: Actor, project: ProjectRef, role: str | None, stage_kind: str) -> None:
    require_visible(actor, project, role)
    if actor.at_least("manager") or stage_kind != "review":
        return
    if role in ("reviewer", "manager") or actor.at_least("reviewer"):
        return
    raise Forbidden(
        f"reviewing needs the reviewer or manager role in this project; your role here is {role}"
    )
