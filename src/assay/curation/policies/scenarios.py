"""Who may see and change scenario tests: whoever may see and change their dataset —
managers and admins, in their sandbox. To labelers and reviewers a dataset, and so its
tests, does not exist (404)."""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.policies import require_role
from assay.curation import models
from assay.curation.policies import datasets


def can_list_functions(actor: Actor) -> None:
    require_role(actor, "manager", "listing scenario metric functions")


def can_read(actor: Actor, dataset: models.Dataset) -> None:
    datasets.can_read(actor, dataset)


def can_write(actor: Actor, dataset: models.Dataset) -> None:
    datasets.can_write(actor, dataset)


def can_create_function(actor: Actor) -> None:
    require_role(actor, "manager", "creating an external metric function")
