from assay.core.auth import Actor
from assay.core.policies import require_role


def can_create(actor: Actor, for_user_id: str) -> None:
    if actor.user_id != for_user_id:
        require_role(actor, "admin", "creating API keys for another user")


def can_list(actor: Actor, for_user_id: str | None) -> None:
    if for_user_id != actor.user_id:
        require_role(actor, "admin", "listing other users' API keys")


def can_revoke(actor: Actor, key_user_id: str) -> None:
    if actor.user_id != key_user_id:
        require_role(actor, "admin", "revoking another user's API key")
