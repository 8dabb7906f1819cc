"""Webhooks send project data outside; only managers and admins configure or read them,
and only the targets of their key's mode (a test key's targets get test events; live
targets do not exist to a test key)."""

from assay.core import models
from assay.core.auth import Actor
from assay.core.policies import require_role, require_same_mode


def _require(actor: Actor, target: models.WebhookTarget, doing: str) -> None:
    require_same_mode(actor, target.mode, "webhook", target.id, "webhook_id")
    require_role(actor, "manager", doing)


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating webhooks")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing webhooks")


def can_read(actor: Actor, target: models.WebhookTarget) -> None:
    _require(actor, target, "reading webhooks and their deliveries")


def can_update(actor: Actor, target: models.WebhookTarget) -> None:
    _require(actor, target, "changing webhooks")


def can_delete(actor: Actor, target: models.WebhookTarget) -> None:
    _require(actor, target, "deleting webhooks")


def can_test(actor: Actor, target: models.WebhookTarget) -> None:
    _require(actor, target, "testing webhooks")
