from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import (
    Audit,
    CalibrationReport,
    CourseState,
    LabelerDashboard,
    Page,
    ProjectQuality,
    QualityTask,
    Recycled,
    Retired,
    Standing,
    Task,
)


class QualityAPI(API):
    create_evaluation_task = endpoint(
        "POST", "/projects/{project_id}/evaluation_tasks", returns=Task, create=True
    )
    create_training_task = endpoint(
        "POST", "/projects/{project_id}/training_tasks", returns=Task, create=True
    )
    tasks = endpoint("GET", "/projects/{project_id}/quality_tasks", returns=Page[QualityTask])
    # Not retried: a repeat would answer "0 retired" and hide what the first one did.
    retire = endpoint("POST", "/projects/{project_id}/quality_tasks/retire", returns=Retired)
    recycle = endpoint("POST", "/projects/{project_id}/quality_tasks/recycle", returns=Recycled)
    # Not `create=True`: the route does not honour Idempotency-Key, so a retry could make a
    # second evaluation task from the same one.
    make_evaluation = endpoint("POST", "/tasks/{task_id}/make_evaluation", returns=Task)
    training = endpoint("GET", "/projects/{project_id}/training", returns=CourseState)
    # 200 with a lease or 204 with nothing: parsed by the caller.
    next_training = endpoint("POST", "/projects/{project_id}/training/next")
    workers = endpoint("GET", "/projects/{project_id}/workers", returns=list[Standing])
    me = endpoint("GET", "/projects/{project_id}/me/quality", returns=Standing)
    pause = endpoint("POST", "/projects/{project_id}/workers/{user_id}/pause", returns=Standing)
    requalify = endpoint(
        "POST", "/projects/{project_id}/workers/{user_id}/requalify", returns=Standing
    )
    update_worker = endpoint("PATCH", "/projects/{project_id}/workers/{user_id}", returns=Standing)
    # 200 with an audit lease or 204 with nothing: parsed by the caller.
    next_audit = endpoint("POST", "/projects/{project_id}/audits/next")
    decide_audit = endpoint("POST", "/audits/{audit_id}/decision", returns=Audit)
    audits = endpoint("GET", "/projects/{project_id}/audits", returns=Page[Audit])
    calibration_report = endpoint(
        "GET", "/batches/{batch_id}/calibration_report", returns=CalibrationReport
    )
    # Dawid-Skene per-labeler confusion estimates: a plain JSON object.
    labeler_confusions = endpoint("GET", "/projects/{project_id}/consensus/labelers")
    overview = endpoint("GET", "/projects/{project_id}/quality/overview", returns=ProjectQuality)
    dashboard = endpoint(
        "GET", "/projects/{project_id}/quality/labelers/{user_id}", returns=LabelerDashboard
    )
