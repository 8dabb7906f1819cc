"""Authorization: one module per noun, one function per action, each raising `Forbidden`.

Routers call exactly one policy function per request after loading what it acts on.
"""

from assay.core.auth import Actor
from assay.core.errors import Forbidden


def require_role(actor: Actor, role: str, doing: str) -> None:
    if not actor.at_least(role):
        raise Forbidden(f"{doing} needs the {role} role or higher; you are {actor.role}")
