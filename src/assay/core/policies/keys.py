"""Who may create, list and revoke API keys.

A test key is a sandbox: it may make and revoke test keys, never live ones, so a leaked
test key cannot become live access."""

from assay.core.auth import Actor
from assay.core.policies import require_live, require_role


def can_create(actor: Actor, for_user_id: str, mode: str) -> None:
    if mode == "live":
        require_live(actor, "creating a live API key")
    if actor.user_id != for_user_id:
        require_role(actor, "admin", "creating API keys for another user")


def can_list(actor: Actor, for_user_id: str | None) -> None:
    if for_user_id != actor.user_id:
        require_role(actor, "admin", "listing other users' API keys")


def can_revoke(actor: Actor, key_user_id: str, key_mode: str) -> None:
    if key_mode == "live":
        require_live(actor, "revoking a live API key")
    if actor.user_id != key_user_id:
        require_role(actor, "admin", "revoking another user's API key")
