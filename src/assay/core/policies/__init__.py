"""Authorization: one module per noun, one function per action, each raising `Forbidden`.

Routers call exactly one policy function per request after loading what it acts on. Here are
core's nouns (users, keys, jobs, blobs, webhooks) and the checks every pillar shares; a
pillar's own nouns have their policies in the pillar (`assay.labeling.policies`).
"""

from assay.core.auth import Actor
from assay.core.errors import Forbidden, NotFound


def require_role(actor: Actor, role: str, doing: str) -> None:
    if not actor.at_least(role):
        raise Forbidden(f"{doing} needs the {role} role or higher; you are {actor.role}")


def require_live(actor: Actor, doing: str) -> None:
    """Test keys are a sandbox: what reaches live data or live access needs a live key."""
    if actor.mode != "live":
        raise Forbidden(f"{doing} needs a live API key (or a browser session); this is a test key")


def require_same_mode(actor: Actor, mode: str, noun: str, noun_id: str, field: str) -> None:
    """Live and test are separate worlds: the other mode's rows do not exist (404)."""
    if mode != actor.mode:
        raise NotFound(f"no {noun} with id {noun_id}", field=field)
