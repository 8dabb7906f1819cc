"""Wire schemas of the workforce: a project's labeler groups, the groups a batch is served to,
and the order in which batches are served (Scale Studio's groups and batch priorities)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from assay.core.schemas import Email, Schema
from assay.labeling.schemas import Name

MAX_EMAILS = 1000
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class GroupMember(Schema):
    user_id: str
    email: str
    name: str


class WorkerGroupCreate(Schema):
    name: Name
    emails: list[Email] = Field(
        default_factory=list,
        max_length=MAX_EMAILS,
        description="Users to put in the group; each becomes a project labeler if not a member.",
    )


class WorkerGroupUpdate(Schema):
    name: Name | None = Field(None, description="A new name for the group.")
    add_emails: list[Email] = Field(default_factory=list, max_length=MAX_EMAILS)
    remove_emails: list[Email] = Field(default_factory=list, max_length=MAX_EMAILS)


class WorkerGroup(Schema):
    id: str
    project_id: str
    name: str
    created_at: dt.datetime
    members: list[GroupMember]


class WorkerGroupList(Schema):
    items: list[WorkerGroup]


class LabelerAssignments(Schema):
    """Make each of these users a labeler of each of these projects, or take them off."""

    emails: list[Email] = Field(min_length=1, max_length=MAX_EMAILS)
    projects: list[Name] = Field(min_length=1, max_length=MAX_EMAILS)


class GroupRef(Schema):
    id: str
    name: str


class BatchGroupsSet(Schema):
    group_ids: list[Id] = Field(
        max_length=100,
        description="The groups whose members alone are served the batch; empty = everyone.",
    )


class BatchPrioritiesSet(Schema):
    batch_ids: list[Id] = Field(
        min_length=1,
        max_length=MAX_EMAILS,
        description="Batches in the order they are served, first first; those left out follow.",
    )


class WorkforceBatch(Schema):
    """A batch not yet completed, as the workforce sees it: its place, groups and progress."""

    id: str
    name: str
    project_id: str
    project_name: str
    kind: str
    status: str
    priority: int = Field(description="Higher is served first.")
    restricted: bool = Field(description="Only members of `groups` are served its tasks.")
    groups: list[GroupRef]
    total: int
    completed: int


class WorkforceBatchList(Schema):
    items: list[WorkforceBatch] = Field(description="In the order they are served.")
