"""Who may see and make calibrations.

A calibration holds judge verdicts, which the humans grading the same criteria must never
see: it is the ML team's (managers and admins). To labelers and reviewers a calibration does
not exist (404, not 403), and making one also needs the manager role in the labeling
project that gets the tasks (checked with the project's own policy by the route).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.evaluation import models


def _require_visible(actor: Actor, calibration_id: str) -> None:
    if not actor.at_least("manager"):
        raise NotFound(f"no calibration with id {calibration_id}", field="calibration_id")


def can_create(actor: Actor) -> None:
    _require_visible(actor, "")


def can_list(actor: Actor) -> None:
    _require_visible(actor, "")


def can_read(actor: Actor, calibration: models.Calibration | str) -> None:
    _require_visible(actor, calibration if isinstance(calibration, str) else calibration.id)
