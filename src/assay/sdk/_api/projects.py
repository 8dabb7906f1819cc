from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import InstructionVersion, Member, Page, Project, ProjectDetail


class ProjectsAPI(API):
    create = endpoint("POST", "/projects", returns=ProjectDetail, create=True)
    list = endpoint("GET", "/projects", returns=Page[Project])
    get = endpoint("GET", "/projects/{project_id}", returns=ProjectDetail)
    update = endpoint("PATCH", "/projects/{project_id}", returns=ProjectDetail)
    set_instructions = endpoint(
        "PUT", "/projects/{project_id}/instructions", returns=InstructionVersion
    )
    instructions = endpoint(
        "GET", "/projects/{project_id}/instructions", returns=Page[InstructionVersion]
    )
    members = endpoint("GET", "/projects/{project_id}/members", returns=Page[Member])
    set_member = endpoint("PUT", "/projects/{project_id}/members/{user_id}", returns=Member)
    remove_member = endpoint("DELETE", "/projects/{project_id}/members/{user_id}")
