"""Scale Studio's workforce routes (`/v1/studio/...`) over `assay.labeling.workforce`:
labeler assignments, project groups, the groups a batch is served to and batch priorities.
Included in the `/v1` router of scale_v1.

Scale names projects, groups and batches by name; groups are read back as
`{id, name, numWorkers, isSingleton, workers: [{id, email}]}` and batches as
`{id, name, projectId, projectName, batchType, studioPriority, total, completed, groups}`,
where `groups` holds group names and `studioPriority` the batch's priority (higher is served
first; null when it has none).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat.errors import ScaleRoute
from assay.compat.scale_common import JsonObject, OptionalJsonObject, batch_by_name, project_by_name
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.labeling import models, workforce
from assay.labeling import workforce_schemas as schemas
from assay.labeling.policies import workforce as policy

router = APIRouter(prefix="/studio", route_class=ScaleRoute)

BATCH_TYPES = {"production": "Production", "calibration": "Calibration", "self_label": "SelfLabel"}


def studio_group(found: workforce.GroupMembers) -> dict[str, Any]:
    return {
        "id": found.group.id,
        "name": found.group.name,
        "numWorkers": len(found.members),
        # Scale keeps a one-person group per labeler; Assay's groups are all named groups.
        "isSingleton": False,
        "workers": [{"id": user.id, "email": user.email} for user in found.members],
    }


def studio_batch(item: workforce.WorkforceBatch) -> dict[str, Any]:
    batch = item.batch
    return {
        "id": batch.id,
        "name": batch.name,
        "projectId": batch.project_id,
        "projectName": item.project_name,
        "batchType": BATCH_TYPES.get(batch.kind, batch.kind),
        "studioPriority": batch.priority or None,
        "total": item.total,
        "completed": item.completed,
        "groups": [group.name for group in item.groups],
    }


def _names(body: dict[str, Any], key: str) -> list[str]:
    values = body.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise Invalid(f"{key} must be a list of names", field=key)
    return values


def _batch_order(session: Session, actor: Actor) -> list[dict[str, Any]]:
    found = workforce.list_workforce_batches(session=session, mode=actor.mode)
    return [studio_batch(item) for item in found]


# --- assignments ------------------------------------------------------------------------


@router.get("/assignments")
def list_assignments(actor: CurrentActor, ctx: Ctx) -> dict[str, list[str]]:
    """Every labeler's email and the names of the projects they label."""
    policy.can_list_assignments(actor)
    with ctx.db.read() as session:
        return workforce.list_assignments(session=session, mode=actor.mode)


def _assignment_targets(
    session: Session, body: dict[str, Any], actor: Actor
) -> tuple[list[models.Project], list[Any]]:
    change = schemas.LabelerAssignments(emails=body.get("emails"), projects=body.get("projects"))
    targets = [project_by_name(session, name, actor)[0] for name in dict.fromkeys(change.projects)]
    users = workforce.users_by_email(session=session, emails=change.emails, field="emails")
    return targets, users


@router.post("/assignments/add")
def add_assignments(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, list[str]]:
    """Make each email a labeler of each project; answers every labeler's assignments."""
    policy.can_assign_labelers(actor)
    with ctx.db.write() as session:
        targets, users = _assignment_targets(session, body, actor)
        workforce.add_assignments(session=session, projects_in=targets, users=users)
        return workforce.list_assignments(session=session, mode=actor.mode)


@router.post("/assignments/remove")
def remove_assignments(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, list[str]]:
    """Take each email off each project where it is a labeler (and out of its groups)."""
    policy.can_assign_labelers(actor)
    with ctx.db.write() as session:
        targets, users = _assignment_targets(session, body, actor)
        workforce.remove_assignments(session=session, projects_in=targets, users=users)
        return workforce.list_assignments(session=session, mode=actor.mode)


# --- project groups ---------------------------------------------------------------------


@router.get("/projects/{project:path}/groups")
def list_groups(project: str, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        found, role = project_by_name(session, project, actor)
        policy.can_list_groups(actor, found, role)
        return [studio_group(g) for g in workforce.list_groups(session=session, project=found)]


@router.post("/projects/{project:path}/groups")
def create_group(project: str, body: JsonObject, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    group_in = schemas.WorkerGroupCreate(name=body.get("name"), emails=body.get("emails") or [])
    with ctx.db.write() as session:
        found, role = project_by_name(session, project, actor)
        policy.can_create_group(actor, found, role)
        return studio_group(
            workforce.create_group(session=session, project=found, group_in=group_in)
        )


@router.put("/projects/{project:path}/groups/{group:path}")
def update_group(
    project: str, group: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    group_in = schemas.WorkerGroupUpdate(
        add_emails=body.get("add_emails") or [], remove_emails=body.get("remove_emails") or []
    )
    with ctx.db.write() as session:
        found, role = project_by_name(session, project, actor)
        policy.can_update_group(actor, found, role)
        row = workforce.get_group_by_name(session=session, project=found, name=group)
        return studio_group(
            workforce.update_group(session=session, project=found, group=row, group_in=group_in)
        )


# --- batches ----------------------------------------------------------------------------


@router.get("/batches")
def list_batches(actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    """Batches not yet completed, in the order they are served."""
    policy.can_list_batch_order(actor)
    with ctx.db.read() as session:
        return _batch_order(session, actor)


@router.post("/batches/set_priorities")
def set_priorities(body: JsonObject, actor: CurrentActor, ctx: Ctx) -> list[dict[str, Any]]:
    """`{"batches": [{"name": ...}, ...]}`: the first is served first, those left out last."""
    policy.can_order_batches(actor)
    listed = body.get("batches")
    if not isinstance(listed, list) or not listed:
        raise Invalid("batches must be a non-empty list of {name}", field="batches")
    names = []
    for i, item in enumerate(listed):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise Invalid("each batch is {name: <batch name>}", field=f"batches[{i}].name")
        names.append(name)
    with ctx.db.write() as session:
        ordered = workforce.batches_by_key(
            session=session, mode=actor.mode, keys=names, by="name", field="batches"
        )
        workforce.set_batch_priorities(session=session, mode=actor.mode, ordered=ordered)
        return _batch_order(session, actor)


@router.post("/batches/reset_priorities")
def reset_priorities(
    actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> list[dict[str, Any]]:
    policy.can_order_batches(actor)
    with ctx.db.write() as session:
        workforce.reset_batch_priorities(session=session, mode=actor.mode)
        return _batch_order(session, actor)


@router.put("/batches/{batch_name:path}")
def assign_batch(
    batch_name: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """`{"groups": [group names]}`: only their members are served the batch; [] = everyone."""
    names = _names(body, "groups")
    with ctx.db.write() as session:
        batch, project, role = batch_by_name(session, batch_name, actor)
        policy.can_assign_batch(actor, project, role)
        groups = workforce.groups_by_key(
            session=session, project_id=project.id, keys=names, by="name", field="groups"
        )
        workforce.set_batch_groups(session=session, batch=batch, groups=groups)
        (item,) = workforce.list_workforce_batches(
            session=session, mode=actor.mode, batch_ids=[batch.id]
        )
        return studio_batch(item)
