"""Who may see and manage model providers.

A provider holds a team's API key and spends its money: managers and admins add, read,
change, check and delete them (within their key's mode: a test key sees only test
providers). To labelers and reviewers providers do not exist (404 for one, 403 for the list).
"""

from __future__ import annotations

from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.policies import require_role, require_same_mode
from assay.evaluation.models import Provider


def _require(actor: Actor, provider: Provider) -> None:
    require_same_mode(actor, provider.mode, "provider", provider.id, "provider_id")
    if not actor.at_least("manager"):
        raise NotFound(f"no provider with id {provider.id}", field="provider_id")


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "adding model providers")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing model providers")


def can_read(actor: Actor, provider: Provider) -> None:
    _require(actor, provider)


def can_update(actor: Actor, provider: Provider) -> None:
    _require(actor, provider)


def can_delete(actor: Actor, provider: Provider) -> None:
    _require(actor, provider)


def can_check(actor: Actor, provider: Provider) -> None:
    _require(actor, provider)
