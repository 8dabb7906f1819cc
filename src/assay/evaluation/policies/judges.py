"""Who may see, manage and call judges (and so the grading service and probe reports).

A judge spends a provider's money and its prompts are a team's work: managers and admins
create, read, grade with and probe them, within their key's mode. To labelers and reviewers
judges do not exist (404 for one, 403 for the list and for creating).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role, require_same_mode
from assay.evaluation.models import Judge


def _require(actor: Actor, judge: Judge) -> None:
    require_same_mode(actor, judge.mode, "judge", judge.id, "judge_id")
    if not actor.at_least("manager"):
        raise NotFound(f"no judge with id {judge.id}", field="judge_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "adding judges")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing judges")


def can_read(actor: Actor, judge: Judge) -> None:
    _require(actor, judge)


def can_update(actor: Actor, judge: Judge) -> None:
    _require(actor, judge)


def can_grade(actor: Actor, judge: Judge) -> None:
    _require(actor, judge)


def can_probe(actor: Actor, judge: Judge) -> None:
    _require(actor, judge)
