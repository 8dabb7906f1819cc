"""Who may start and see evaluation runs.

A run sends a set's items to a model and holds the answers: it is the set's owners' (the
set's own privacy, `policies/eval_sets.py`). Starting one also spends a provider's money:
managers and admins who own the set. To anyone else — admins included — a run of a private
set does not exist (404), through every route.
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role, require_same_mode
from assay.evaluation import models


def _hidden(run_id: str) -> NotFound:
    return NotFound(f"no evaluation run with id {run_id}", field="run_id")


def can_create(
    actor: Actor, eval_set: models.EvalSet, provider: models.Provider, *, owner: bool
) -> None:
    require_role(actor, "manager", "starting evaluation runs")
    if not owner:
        raise NotFound(f"no evaluation set with id {eval_set.id}", field="set_id")
    require_same_mode(actor, provider.mode, "provider", provider.id, "provider_id")


def can_list(actor: Actor) -> None:
    """Anyone signed in: the list holds the runs of the sets they own."""


def can_read(actor: Actor, run: models.EvalRun, *, owner: bool) -> None:
    """The run, its progress, summary and results: the set's owners."""
    require_same_mode(actor, run.mode, "evaluation run", run.id, "run_id")
    if not owner:
        raise _hidden(run.id)


def can_cancel(actor: Actor, run: models.EvalRun, *, owner: bool) -> None:
    can_read(actor, run, owner=owner)
    require_role(actor, "manager", "cancelling evaluation runs")
