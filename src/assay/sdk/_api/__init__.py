"""Private per-noun HTTP classes. Importing this package registers every SDK route."""

from assay.sdk._api import (
    batches,
    blobs,
    eval_runs,
    eval_sets,
    grading,
    jobs,
    judges,
    keys,
    projects,
    quality,
    queue,
    tasks,
    users,
    webhooks,
)
from assay.sdk._api._endpoint import ROUTES, Route

__all__ = [
    "ROUTES",
    "Route",
    "batches",
    "blobs",
    "eval_runs",
    "eval_sets",
    "grading",
    "jobs",
    "judges",
    "keys",
    "projects",
    "quality",
    "queue",
    "tasks",
    "users",
    "webhooks",
]
