"""Who may see and change datasets.

Datasets are the ML team's: managers and admins read and write them (within their sandbox:
a test key sees only test datasets). Labelers and reviewers reach dataset items only through
the labeling tasks made from them, so to them a dataset does not exist (404, not 403).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role
from assay.curation import models
from assay.curation.datasets import DatasetHead


def _require_visible(actor: Actor, dataset_id: str) -> None:
    if not actor.at_least("manager"):
        raise NotFound(f"no dataset with id {dataset_id}", field="dataset_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating datasets")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing datasets")


def can_read(actor: Actor, dataset: models.Dataset | DatasetHead) -> None:
    _require_visible(actor, dataset.id)


def can_write(actor: Actor, dataset: models.Dataset) -> None:
    _require_visible(actor, dataset.id)


def can_delete(actor: Actor, dataset: models.Dataset) -> None:
    _require_visible(actor, dataset.id)
