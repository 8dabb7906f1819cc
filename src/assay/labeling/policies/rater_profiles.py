"""Who may see and set rater profiles: a person reads their own; managers read anyone's and
set them (a profile decides who is served which work). Setting one changes live access, so
it needs a live key."""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.policies import require_live, require_role


def can_read(actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id:
        require_role(actor, "manager", "reading another person's rater profile")


def can_set(actor: Actor) -> None:
    require_live(actor, "setting rater profiles")
    require_role(actor, "manager", "setting rater profiles")
