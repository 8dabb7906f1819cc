"""Who may see and manage people. Managing people changes live access, so it needs a live
key (or a browser session): a test key is a sandbox."""

from assay.core.auth import Actor
from assay.core.policies import require_live, require_role


def can_create(actor: Actor) -> None:
    require_live(actor, "creating users")
    require_role(actor, "admin", "creating users")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing users")


def can_read(actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id:
        require_role(actor, "manager", "reading another user")


def can_set_role(actor: Actor) -> None:
    require_role(actor, "admin", "changing users' roles")


def can_deactivate(actor: Actor) -> None:
    require_live(actor, "deactivating or reactivating users")
    require_role(actor, "admin", "deactivating or reactivating users")


def can_reset_password(actor: Actor) -> None:
    require_live(actor, "resetting passwords")
    require_role(actor, "admin", "resetting another user's password")


def can_end_sessions(actor: Actor, user_id: str) -> None:
    """Anyone may sign themself out everywhere; others' sessions are for admins."""
    require_live(actor, "ending sessions")
    if actor.user_id != user_id:
        require_role(actor, "admin", "ending another user's sessions")
