"""Who sees jobs: managers every job of their key's mode, others the jobs they started.
A test key sees test jobs only; live jobs do not exist to it (and the other way round)."""

from assay.core import models
from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_same_mode


def can_list_all(actor: Actor) -> bool:
    """Managers see every job; others see the jobs they started."""
    return actor.at_least("manager")


def can_read(actor: Actor, job: models.Job) -> None:
    require_same_mode(actor, job.mode, "job", job.id, "job_id")
    if not actor.at_least("manager") and job.created_by != actor.user_id:
        # Not 403: whether someone else's job exists is not the caller's business.
        raise NotFound(f"no job with id {job.id}", field="job_id")


def can_cancel(actor: Actor, job: models.Job) -> None:
    can_read(actor, job)
