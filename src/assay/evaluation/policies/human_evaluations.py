"""Who may see and make human evaluations: the ML team's (managers and admins), like
calibrations; raters reach the items only through their labeling tasks (404 otherwise)."""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role


def _require_visible(actor: Actor, evaluation_id: str) -> None:
    if not actor.at_least("manager"):
        raise NotFound(f"no human evaluation with id {evaluation_id}", field="human_evaluation_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating human evaluations")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing human evaluations")


def can_read(actor: Actor, evaluation_id: str) -> None:
    _require_visible(actor, evaluation_id)
