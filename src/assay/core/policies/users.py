from assay.core.auth import Actor
from assay.core.policies import require_role


def can_create(actor: Actor) -> None:
    require_role(actor, "admin", "creating users")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing users")


def can_read(actor: Actor, user_id: str) -> None:
    if actor.user_id != user_id:
        require_role(actor, "manager", "reading another user")


def can_set_role(actor: Actor) -> None:
    require_role(actor, "admin", "changing users' roles")
