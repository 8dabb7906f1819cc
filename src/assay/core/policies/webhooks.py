"""Webhooks send project data outside; only managers and admins configure or read them."""

from assay.core import models
from assay.core.auth import Actor
from assay.core.policies import require_role


def can_create(actor: Actor) -> None:
    require_role(actor, "manager", "creating webhooks")


def can_list(actor: Actor) -> None:
    require_role(actor, "manager", "listing webhooks")


def can_read(actor: Actor, target: models.WebhookTarget) -> None:
    require_role(actor, "manager", "reading webhooks and their deliveries")


def can_update(actor: Actor, target: models.WebhookTarget) -> None:
    require_role(actor, "manager", "changing webhooks")


def can_delete(actor: Actor, target: models.WebhookTarget) -> None:
    require_role(actor, "manager", "deleting webhooks")


def can_test(actor: Actor, target: models.WebhookTarget) -> None:
    require_role(actor, "manager", "testing webhooks")
