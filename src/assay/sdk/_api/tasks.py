from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Job, Page, Task, TaskBulkCreated, TaskEvent


class TasksAPI(API):
    create = endpoint("POST", "/projects/{project_id}/tasks", returns=Task, create=True)
    create_many = endpoint(
        "POST", "/projects/{project_id}/tasks/bulk", returns=TaskBulkCreated, create=True
    )
    import_file = endpoint("POST", "/projects/{project_id}/imports", returns=Job, create=True)
    list = endpoint("GET", "/tasks", returns=Page[Task])
    get = endpoint("GET", "/tasks/{task_id}", returns=Task)
    history = endpoint("GET", "/tasks/{task_id}/history", returns=Page[TaskEvent])
    cancel = endpoint("POST", "/tasks/{task_id}/cancel", returns=Task)
    audit = endpoint("POST", "/tasks/{task_id}/audit", returns=TaskEvent)
    update = endpoint("PATCH", "/tasks/{task_id}", returns=Task)
    add_tags = endpoint("POST", "/tasks/{task_id}/tags/add", returns=Task, retry=True)
    remove_tags = endpoint("POST", "/tasks/{task_id}/tags/remove", returns=Task, retry=True)
