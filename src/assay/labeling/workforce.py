"""The workforce: who works on what, and in which order (Scale Studio's assignments, groups
and batch priorities).

- A project's labelers are its members with the project role `labeler` (its assignments).
- A group is a named set of a project's users. A batch assigned to groups is served only to
  their members: its tasks are `restricted`, and the queue's claim checks the groups.
- Batch priorities order the queue across batches: each task carries its batch's priority
  (`tasks.batch_priority`), so the claim reads it from the queue index, with no join.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.core import models as core_models
from assay.core.errors import Conflict, Invalid, NotFound
from assay.labeling import models, projects
from assay.labeling import workforce_schemas as schemas

TASKS = models.Task.__table__
BATCH_GROUPS = models.BatchGroup.__table__
GROUP_MEMBERS = models.WorkerGroupMember.__table__
CHUNK = 500  # ids per IN list


@dataclass(frozen=True, slots=True)
class GroupMembers:
    group: models.WorkerGroup
    members: list[core_models.User]  # by email


@dataclass(frozen=True, slots=True)
class WorkforceBatch:
    batch: models.Batch
    project_name: str
    groups: list[models.WorkerGroup]  # by name
    total: int
    completed: int


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


# --- loading by id or name --------------------------------------------------------------


def users_by_email(
    *, session: Session, emails: Sequence[str], field: str
) -> list[core_models.User]:
    """The users with these emails, each once; an unknown email is a NotFound naming it."""
    wanted = [email.strip().lower() for email in emails]
    found: dict[str, core_models.User] = {}
    for chunk in _chunks(sorted(set(wanted))):
        found.update(
            (user.email, user)
            for user in session.scalars(
                select(core_models.User).where(core_models.User.email.in_(chunk))
            )
        )
    for i, email in enumerate(wanted):
        if email not in found:
            raise NotFound(f"no user with email {email}", field=f"{field}[{i}]")
    return list({email: found[email] for email in wanted}.values())


def get_group(*, session: Session, project: models.Project, group_id: str) -> models.WorkerGroup:
    group = session.get(models.WorkerGroup, group_id)
    if group is None or group.project_id != project.id:
        raise NotFound(f"no group with id {group_id} in this project", field="group_id")
    return group


def get_group_by_name(
    *, session: Session, project: models.Project, name: str
) -> models.WorkerGroup:
    group = session.scalar(
        select(models.WorkerGroup).where(
            models.WorkerGroup.project_id == project.id, models.WorkerGroup.name == name
        )
    )
    if group is None:
        raise NotFound(f"no group named {name!r} in project {project.name!r}", field="group")
    return group


def groups_by_key(
    *, session: Session, project_id: str, keys: Sequence[str], by: str, field: str
) -> list[models.WorkerGroup]:
    """The project's groups with these ids (`by="id"`) or names (`by="name"`), each once."""
    column = models.WorkerGroup.id if by == "id" else models.WorkerGroup.name
    rows = session.scalars(
        select(models.WorkerGroup).where(
            models.WorkerGroup.project_id == project_id, column.in_(set(keys))
        )
    )
    found = {getattr(group, by): group for group in rows}
    for i, key in enumerate(keys):
        if key not in found:
            raise NotFound(f"no group with {by} {key!r} in this project", field=f"{field}[{i}]")
    return list({key: found[key] for key in keys}.values())


def batches_by_key(
    *, session: Session, mode: str, keys: Sequence[str], by: str, field: str
) -> list[models.Batch]:
    """The sandbox's batches with these ids or names, in the order given; a batch named twice
    is refused (its place would be ambiguous)."""
    column = models.Batch.id if by == "id" else models.Batch.name
    found: dict[str, models.Batch] = {}
    for chunk in _chunks(sorted(set(keys))):
        rows = session.scalars(
            select(models.Batch).where(models.Batch.mode == mode, column.in_(chunk))
        )
        found.update((getattr(batch, by), batch) for batch in rows)
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key not in found:
            raise NotFound(f"no batch with {by} {key!r}", field=f"{field}[{i}]")
        if key in seen:
            raise Invalid(f"batch {key!r} is listed twice", field=f"{field}[{i}]")
        seen.add(key)
    return [found[key] for key in keys]


# --- groups -----------------------------------------------------------------------------


def _members(session: Session, group_ids: list[str]) -> dict[str, list[core_models.User]]:
    members: dict[str, list[core_models.User]] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return members
    rows = session.execute(
        select(models.WorkerGroupMember.group_id, core_models.User)
        .join(core_models.User, core_models.User.id == models.WorkerGroupMember.user_id)
        .where(models.WorkerGroupMember.group_id.in_(group_ids))
        .order_by(core_models.User.email)
    )
    for group_id, user in rows:
        members[group_id].append(user)
    return members


def list_groups(*, session: Session, project: models.Project) -> list[GroupMembers]:
    """The project's groups by name, with their members (two queries)."""
    groups = list(
        session.scalars(
            select(models.WorkerGroup)
            .where(models.WorkerGroup.project_id == project.id)
            .order_by(models.WorkerGroup.name)
        )
    )
    members = _members(session, [g.id for g in groups])
    return [GroupMembers(group, members[group.id]) for group in groups]


def group_members(*, session: Session, group: models.WorkerGroup) -> GroupMembers:
    return GroupMembers(group, _members(session, [group.id])[group.id])


def _name_taken(session: Session, project_id: str, name: str) -> None:
    existing = session.scalar(
        select(models.WorkerGroup.id).where(
            models.WorkerGroup.project_id == project_id, models.WorkerGroup.name == name
        )
    )
    if existing is not None:
        raise Conflict(
            f"this project already has a group named {name!r} ({existing})", field="name"
        )


def _flush_name(session: Session, name: str) -> None:
    """Flush in a savepoint so a concurrent create of the same name becomes a Conflict."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"this project already has a group named {name!r}", field="name") from exc


def _add_members(
    session: Session,
    project: models.Project,
    group: models.WorkerGroup,
    users: list[core_models.User],
) -> None:
    """Put the users in the group; those not in the project join it as labelers."""
    if not users:
        return
    ids = [user.id for user in users]
    in_group = set(
        session.scalars(
            select(models.WorkerGroupMember.user_id).where(
                models.WorkerGroupMember.group_id == group.id,
                models.WorkerGroupMember.user_id.in_(ids),
            )
        )
    )
    in_project = set(
        session.scalars(
            select(models.ProjectMember.user_id).where(
                models.ProjectMember.project_id == project.id,
                models.ProjectMember.user_id.in_(ids),
            )
        )
    )
    for user_id in ids:
        if user_id not in in_project:
            projects.set_member(session=session, project=project, user_id=user_id, role="labeler")
    new = [{"group_id": group.id, "user_id": i} for i in ids if i not in in_group]
    if new:
        session.execute(insert(GROUP_MEMBERS), new)


def create_group(
    *, session: Session, project: models.Project, group_in: schemas.WorkerGroupCreate
) -> GroupMembers:
    """A named group of the project's users; users not yet in the project join as labelers."""
    _name_taken(session, project.id, group_in.name)
    users = users_by_email(session=session, emails=group_in.emails, field="emails")
    group = models.WorkerGroup(project_id=project.id, name=group_in.name)
    session.add(group)
    _flush_name(session, group_in.name)
    _add_members(session, project, group, users)
    return group_members(session=session, group=group)


def update_group(
    *,
    session: Session,
    project: models.Project,
    group: models.WorkerGroup,
    group_in: schemas.WorkerGroupUpdate,
) -> GroupMembers:
    """Rename the group, take members out and put others in (who join the project if new)."""
    adding = set(group_in.add_emails)
    for i, email in enumerate(group_in.remove_emails):
        if email in adding:
            raise Invalid(
                f"{email} is both added and removed; send it in one list",
                field=f"remove_emails[{i}]",
            )
    if group_in.name is not None and group_in.name != group.name:
        _name_taken(session, project.id, group_in.name)
        group.name = group_in.name
        _flush_name(session, group_in.name)
    removed = users_by_email(session=session, emails=group_in.remove_emails, field="remove_emails")
    added = users_by_email(session=session, emails=group_in.add_emails, field="add_emails")
    if removed:
        session.execute(
            delete(GROUP_MEMBERS).where(
                GROUP_MEMBERS.c.group_id == group.id,
                GROUP_MEMBERS.c.user_id.in_([user.id for user in removed]),
            )
        )
    _add_members(session, project, group, added)
    return group_members(session=session, group=group)


def _refresh_restricted(session: Session, batch_ids: list[str]) -> None:
    """Tasks of these batches are restricted exactly when their batch still has a group."""
    has_group = exists(
        select(BATCH_GROUPS.c.batch_id).where(BATCH_GROUPS.c.batch_id == TASKS.c.batch_id)
    )
    for chunk in _chunks(batch_ids):
        session.execute(
            update(TASKS).where(TASKS.c.batch_id.in_(chunk)).values(restricted=has_group)
        )


def delete_group(*, session: Session, group: models.WorkerGroup) -> None:
    """Delete the group; its batches stay restricted only if another group still has them."""
    batch_ids = list(
        session.scalars(
            select(models.BatchGroup.batch_id).where(models.BatchGroup.group_id == group.id)
        )
    )
    session.execute(delete(BATCH_GROUPS).where(BATCH_GROUPS.c.group_id == group.id))
    session.execute(delete(GROUP_MEMBERS).where(GROUP_MEMBERS.c.group_id == group.id))
    session.delete(group)
    session.flush()
    _refresh_restricted(session, batch_ids)


# --- assignments (a project's labelers) -------------------------------------------------


def list_assignments(*, session: Session, mode: str) -> dict[str, list[str]]:
    """Each labeler's email and the names of the projects they label in: every active user
    with the global role labeler, and everyone with the project role labeler somewhere."""
    found: dict[str, list[str]] = {
        email: []
        for email in session.scalars(
            select(core_models.User.email).where(
                core_models.User.role == "labeler", core_models.User.is_active.is_(True)
            )
        )
    }
    rows = session.execute(
        select(core_models.User.email, models.Project.name)
        .join(models.ProjectMember, models.ProjectMember.user_id == core_models.User.id)
        .join(models.Project, models.Project.id == models.ProjectMember.project_id)
        .where(
            models.Project.mode == mode,
            models.ProjectMember.role == "labeler",
            core_models.User.is_active.is_(True),
        )
        .order_by(core_models.User.email, models.Project.name)
    )
    for email, project_name in rows:
        found.setdefault(email, []).append(project_name)
    return dict(sorted(found.items()))


def add_assignments(
    *,
    session: Session,
    projects_in: Sequence[models.Project],
    users: Sequence[core_models.User],
) -> None:
    """Make each user a labeler of each project; members keep the role they have."""
    ids = [user.id for user in users]
    for project in projects_in:
        members = set(
            session.scalars(
                select(models.ProjectMember.user_id).where(
                    models.ProjectMember.project_id == project.id,
                    models.ProjectMember.user_id.in_(ids),
                )
            )
        )
        for user_id in ids:
            if user_id not in members:
                projects.set_member(
                    session=session, project=project, user_id=user_id, role="labeler"
                )


def remove_assignments(
    *,
    session: Session,
    projects_in: Sequence[models.Project],
    users: Sequence[core_models.User],
) -> None:
    """Take each user off each project where they are a labeler (and out of its groups);
    managers and reviewers of a project keep their role there."""
    ids = [user.id for user in users]
    for project in projects_in:
        labelers = list(
            session.scalars(
                select(models.ProjectMember.user_id).where(
                    models.ProjectMember.project_id == project.id,
                    models.ProjectMember.role == "labeler",
                    models.ProjectMember.user_id.in_(ids),
                )
            )
        )
        for user_id in labelers:
            projects.remove_member(session=session, project=project, user_id=user_id)
        if labelers:
            project_groups = select(models.WorkerGroup.id).where(
                models.WorkerGroup.project_id == project.id
            )
            session.execute(
                delete(GROUP_MEMBERS).where(
                    GROUP_MEMBERS.c.user_id.in_(labelers),
                    GROUP_MEMBERS.c.group_id.in_(project_groups),
                )
            )


# --- batches: groups and priorities -----------------------------------------------------


def batch_has_groups(*, session: Session, batch_id: str) -> bool:
    """Whether the batch is served only to members of its groups (new tasks inherit it)."""
    return (
        session.scalar(
            select(models.BatchGroup.group_id)
            .where(models.BatchGroup.batch_id == batch_id)
            .limit(1)
        )
        is not None
    )


def set_batch_groups(
    *, session: Session, batch: models.Batch, groups: Sequence[models.WorkerGroup]
) -> None:
    """Serve the batch only to members of these groups (of its project); none = everyone."""
    for group in groups:
        if group.project_id != batch.project_id:
            raise Invalid(f"group {group.name!r} belongs to another project", field="group_ids")
    session.execute(delete(BATCH_GROUPS).where(BATCH_GROUPS.c.batch_id == batch.id))
    if groups:
        session.execute(
            insert(BATCH_GROUPS), [{"batch_id": batch.id, "group_id": g.id} for g in groups]
        )
    session.execute(
        update(TASKS).where(TASKS.c.batch_id == batch.id).values(restricted=bool(groups))
    )


def _set_task_priorities(session: Session, priorities: dict[str, int]) -> None:
    """Copy batch priorities onto their tasks: one UPDATE per chunk of batches."""
    batch_ids = list(priorities)
    for chunk in _chunks(batch_ids):
        value = case({batch_id: priorities[batch_id] for batch_id in chunk}, value=TASKS.c.batch_id)
        session.execute(
            update(TASKS)
            .where(TASKS.c.batch_id.in_(chunk), TASKS.c.batch_priority != value)
            .values(batch_priority=value)
        )


def set_batch_priorities(*, session: Session, mode: str, ordered: Sequence[models.Batch]) -> None:
    """Serve the batches in this order, first first, before every batch left out (whose
    priority becomes 0). The sandbox's whole order is set at once, as in Scale Studio."""
    wanted = {batch.id: len(ordered) - i for i, batch in enumerate(ordered)}
    others = session.scalars(
        select(models.Batch).where(
            models.Batch.mode == mode,
            models.Batch.priority != 0,
            models.Batch.id.not_in(list(wanted)),
        )
    )
    for batch in others:
        wanted[batch.id] = 0
        batch.priority = 0
    for batch in ordered:
        batch.priority = wanted[batch.id]
    session.flush()
    _set_task_priorities(session, wanted)


def reset_batch_priorities(*, session: Session, mode: str) -> None:
    """Every batch of the sandbox back to priority 0: served by task priority, then age."""
    changed = list(
        session.scalars(
            select(models.Batch).where(models.Batch.mode == mode, models.Batch.priority != 0)
        )
    )
    for batch in changed:
        batch.priority = 0
    session.flush()
    _set_task_priorities(session, {batch.id: 0 for batch in changed})


def list_workforce_batches(
    *, session: Session, mode: str, batch_ids: Sequence[str] | None = None
) -> list[WorkforceBatch]:
    """Batches not yet completed (or these batches) in the order they are served, each with
    its project's name, groups and task counts: three queries whatever their number."""
    wanted = (
        models.Batch.status != "completed"
        if batch_ids is None
        else models.Batch.id.in_(list(batch_ids))
    )
    scope = (models.Batch.mode == mode, wanted)
    rows = session.execute(
        select(models.Batch, models.Project.name)
        .join(models.Project, models.Project.id == models.Batch.project_id)
        .where(*scope)
        .order_by(models.Batch.priority.desc(), models.Batch.id)
    ).all()
    counts: dict[str, tuple[int, int]] = {}
    for batch_id, status, count in session.execute(
        select(models.Task.batch_id, models.Task.status, func.count())
        .join(models.Batch, models.Batch.id == models.Task.batch_id)
        .where(*scope)
        .group_by(models.Task.batch_id, models.Task.status)
    ):
        total, completed = counts.get(batch_id, (0, 0))
        counts[batch_id] = (total + count, completed + (count if status == "completed" else 0))
    groups: dict[str, list[models.WorkerGroup]] = {}
    for batch_id, group in session.execute(
        select(models.BatchGroup.batch_id, models.WorkerGroup)
        .join(models.WorkerGroup, models.WorkerGroup.id == models.BatchGroup.group_id)
        .join(models.Batch, models.Batch.id == models.BatchGroup.batch_id)
        .where(*scope)
        .order_by(models.WorkerGroup.name)
    ):
        groups.setdefault(batch_id, []).append(group)
    return [
        WorkforceBatch(batch, project_name, groups.get(batch.id, []), *counts.get(batch.id, (0, 0)))
        for batch, project_name in rows
    ]
