"""Who may see and change evaluation sets.

Private by default: a set, its versions, items, read log and exports are its owners'
(`eval_set_owners`; the creator is the first). Assay has roles and live/test sandboxes but no
teams, so the owner list is the group; a set lives in its creator's mode. To anyone else —
admins included — a private set does not exist (404, not 403). A set whose newest version
has teaser items shows its metadata and those items to any signed-in user of its mode. A
sealed set's content leaves through no route: owners see counts, tags and hashes, and
exports are refused.
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import Forbidden, NotFound
from assay.core.policies import require_role
from assay.evaluation import models


def _hidden(eval_set: models.EvalSet) -> NotFound:
    return NotFound(f"no evaluation set with id {eval_set.id}", field="set_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating evaluation sets")


def can_list(actor: Actor) -> None:
    """Anyone signed in: the list holds their own sets and sets with a public teaser."""


def can_check_canaries(actor: Actor) -> None:
    require_role(actor, "manager", "checking a text for evaluation set canaries")


def can_see(actor: Actor, eval_set: models.EvalSet, *, owner: bool, teaser: bool) -> None:
    """The set's metadata: owners, and anyone while it has a public teaser."""
    if not owner and not teaser:
        raise _hidden(eval_set)


def can_read_teaser(actor: Actor, eval_set: models.EvalSet, *, owner: bool, teaser: bool) -> None:
    if not teaser:
        raise (
            _hidden(eval_set)
            if not owner
            else NotFound("this evaluation set has no public teaser", field="set_id")
        )


def can_read_items(actor: Actor, eval_set: models.EvalSet, *, owner: bool) -> None:
    """Owners; a sealed set's items come without their content (the service strips it)."""
    if not owner:
        raise _hidden(eval_set)


def can_write(actor: Actor, eval_set: models.EvalSet, *, owner: bool) -> None:
    """Import, edit, seal, add owners, read the read log: owners."""
    if not owner:
        raise _hidden(eval_set)


def can_export(actor: Actor, eval_set: models.EvalSet, *, owner: bool) -> None:
    if not owner:
        raise _hidden(eval_set)
    if eval_set.sealed:
        raise Forbidden(
            "evaluation set is sealed: its items leave the server only in requests to the "
            "model under test",
            field="set_id",
        )
