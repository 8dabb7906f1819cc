"""Who may see and make calibrations.

A calibration holds judge verdicts, which the humans grading the same criteria must never
see: it is the ML team's (managers and admins). To labelers and reviewers a calibration does
not exist (404, not 403); listing and creating are refused (403). Making one also needs the
manager role in the labeling project that gets the tasks (the project's own policy, checked
by the route).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role


def _require_visible(actor: Actor, calibration_id: str) -> None:
    if not actor.at_least("manager"):
        raise NotFound(f"no calibration with id {calibration_id}", field="calibration_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating calibrations")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing calibrations")


def can_read(actor: Actor, calibration_id: str) -> None:
    _require_visible(actor, calibration_id)
