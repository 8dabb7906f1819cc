"""The workforce under /api/v1: a project's labeler groups, the groups a batch is served to,
and the order in which batches are served."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from assay.api.deps import CurrentActor, Db
from assay.api.json_body import JsonRoute
from assay.api.projects import load_project
from assay.labeling import batches, workforce
from assay.labeling import workforce_schemas as schemas
from assay.labeling.policies import workforce as policy

router = APIRouter(tags=["workforce"], route_class=JsonRoute)


def group_view(found: workforce.GroupMembers) -> schemas.WorkerGroup:
    group = found.group
    return schemas.WorkerGroup(
        id=group.id,
        project_id=group.project_id,
        name=group.name,
        created_at=group.created_at,
        members=[
            schemas.GroupMember(user_id=u.id, email=u.email, name=u.name) for u in found.members
        ],
    )


def batch_views(items: list[workforce.WorkforceBatch]) -> list[schemas.WorkforceBatch]:
    return [
        schemas.WorkforceBatch(
            id=item.batch.id,
            name=item.batch.name,
            project_id=item.batch.project_id,
            project_name=item.project_name,
            kind=item.batch.kind,
            status=item.batch.status,
            priority=item.batch.priority,
            restricted=bool(item.groups),
            groups=[schemas.GroupRef(id=g.id, name=g.name) for g in item.groups],
            total=item.total,
            completed=item.completed,
        )
        for item in items
    ]


def _batch_order(session: Session, mode: str) -> schemas.WorkforceBatchList:
    items = workforce.list_workforce_batches(session=session, mode=mode)
    return schemas.WorkforceBatchList(items=batch_views(items))


# --- groups -----------------------------------------------------------------------------


@router.get(
    "/projects/{project_id}/groups",
    response_model=schemas.WorkerGroupList,
    operation_id="list_worker_groups",
)
def list_groups(project_id: str, actor: CurrentActor, db: Db) -> schemas.WorkerGroupList:
    """The project's groups by name, with their members."""
    with db.read() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_list_groups(actor, project, role)
        found = workforce.list_groups(session=session, project=project)
        return schemas.WorkerGroupList(items=[group_view(g) for g in found])


@router.post(
    "/projects/{project_id}/groups",
    response_model=schemas.WorkerGroup,
    status_code=201,
    operation_id="create_worker_group",
)
def create_group(
    project_id: str, group_in: schemas.WorkerGroupCreate, actor: CurrentActor, db: Db
) -> schemas.WorkerGroup:
    """A named group of users; those not in the project join it as labelers."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_create_group(actor, project, role)
        found = workforce.create_group(session=session, project=project, group_in=group_in)
        return group_view(found)


@router.patch(
    "/projects/{project_id}/groups/{group_id}",
    response_model=schemas.WorkerGroup,
    operation_id="update_worker_group",
)
def update_group(
    project_id: str,
    group_id: str,
    group_in: schemas.WorkerGroupUpdate,
    actor: CurrentActor,
    db: Db,
) -> schemas.WorkerGroup:
    """Rename the group, add members (by email) and remove others."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_update_group(actor, project, role)
        group = workforce.get_group(session=session, project=project, group_id=group_id)
        found = workforce.update_group(
            session=session, project=project, group=group, group_in=group_in
        )
        return group_view(found)


@router.delete(
    "/projects/{project_id}/groups/{group_id}",
    status_code=204,
    operation_id="delete_worker_group",
)
def delete_group(project_id: str, group_id: str, actor: CurrentActor, db: Db) -> Response:
    """Its batches are served to everyone again unless another group still has them."""
    with db.write() as session:
        project, role = load_project(session, project_id, actor)
        policy.can_delete_group(actor, project, role)
        group = workforce.get_group(session=session, project=project, group_id=group_id)
        workforce.delete_group(session=session, group=group)
    return Response(status_code=204)


# --- batches ----------------------------------------------------------------------------


@router.put(
    "/batches/{batch_id}/groups",
    response_model=schemas.WorkforceBatch,
    operation_id="set_batch_groups",
)
def set_batch_groups(
    batch_id: str, body: schemas.BatchGroupsSet, actor: CurrentActor, db: Db
) -> schemas.WorkforceBatch:
    """Serve the batch only to members of these groups of its project; [] = to everyone."""
    with db.write() as session:
        batch = batches.get_batch(session=session, batch_id=batch_id, mode=actor.mode)
        project, role = load_project(session, batch.project_id, actor)
        policy.can_assign_batch(actor, project, role)
        groups = workforce.groups_by_key(
            session=session, project_id=project.id, keys=body.group_ids, by="id", field="group_ids"
        )
        workforce.set_batch_groups(session=session, batch=batch, groups=groups)
        found = workforce.list_workforce_batches(
            session=session, mode=actor.mode, batch_ids=[batch.id]
        )
        return batch_views(found)[0]


@router.get(
    "/batches/priorities",
    response_model=schemas.WorkforceBatchList,
    operation_id="list_batch_priorities",
)
def list_batch_priorities(actor: CurrentActor, db: Db) -> schemas.WorkforceBatchList:
    """Batches not yet completed, in the order they are served. Managers and admins."""
    policy.can_list_batch_order(actor)
    with db.read() as session:
        return _batch_order(session, actor.mode)


@router.post(
    "/batches/priorities",
    response_model=schemas.WorkforceBatchList,
    operation_id="set_batch_priorities",
)
def set_batch_priorities(
    body: schemas.BatchPrioritiesSet, actor: CurrentActor, db: Db
) -> schemas.WorkforceBatchList:
    """Serve these batches in this order, before every batch left out. Managers and admins."""
    policy.can_order_batches(actor)
    with db.write() as session:
        ordered = workforce.batches_by_key(
            session=session, mode=actor.mode, keys=body.batch_ids, by="id", field="batch_ids"
        )
        workforce.set_batch_priorities(session=session, mode=actor.mode, ordered=ordered)
        return _batch_order(session, actor.mode)


@router.post(
    "/batches/priorities/reset",
    response_model=schemas.WorkforceBatchList,
    operation_id="reset_batch_priorities",
)
def reset_batch_priorities(actor: CurrentActor, db: Db) -> schemas.WorkforceBatchList:
    """Every batch back to priority 0: served by task priority, then oldest first."""
    policy.can_order_batches(actor)
    with db.write() as session:
        workforce.reset_batch_priorities(session=session, mode=actor.mode)
        return _batch_order(session, actor.mode)
