from assay.core import models
from assay.core.auth import Actor
from assay.core.errors import NotFound


def can_list_all(actor: Actor) -> bool:
    """Managers see every job; others see the jobs they started."""
    return actor.at_least("manager")


def can_read(actor: Actor, job: models.Job) -> None:
    if not actor.at_least("manager") and job.created_by != actor.user_id:
        # Not 403: whether someone else's job exists is not the caller's business.
        raise NotFound(f"no job with id {job.id}", field="job_id")


def can_cancel(actor: Actor, job: models.Job) -> None:
    can_read(actor, job)
