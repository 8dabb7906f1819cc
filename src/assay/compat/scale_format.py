"""Scale's wire format ↔ Assay's native objects: create bodies in, Scale JSON out. Pure.

A task keeps the Scale type it was created with in `params["scale_type"]`; keys this module
adds to the params so the native services understand them (`text` for a text attachment,
`frame_count`, `responses` …) are listed in `params["scale_added"]` and hidden again on the
way out, so a Scale client reads back the params it sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from assay.compat import scale_annotations, scale_taxonomy
from assay.core.errors import Invalid
from assay.labeling.task_types import SCALE_TYPES, native_type

SCALE_TYPE_KEY = "scale_type"
ADDED_KEY = "scale_added"
RESERVED_PARAMS = frozenset((SCALE_TYPE_KEY, ADDED_KEY))
# The Scale type shown for tasks and projects created through the native API.
DEFAULT_SCALE_TYPE = {
    "image": "imageannotation",
    "video": "videoplaybackannotation",
    "categorization": "categorization",
    "text_spans": "namedentityrecognition",
    "transcription": "transcription",
    "text_collection": "textcollection",
    "llm_rating": "chat",
    "llm_ranking": "chat",
    "llm_comparison": "comparison",
}
# Top-level fields of a Scale task create body that are not task params.
TASK_FIELDS = frozenset(
    (
        "project",
        "batch",
        "callback_url",
        "metadata",
        "unique_id",
        "tags",
        "priority",
        "hypothesis",
        "base_annotations",
        "clear_unique_id_on_error",
        "is_test",
        "urgency",
    )
)
# Scale role ↔ native role. A Scale "member" uses the API without managing the team.
ROLE_FROM_SCALE = {
    "admin": "admin",
    "manager": "manager",
    "member": "reviewer",
    "labeler": "labeler",
}
ROLE_TO_SCALE = {native: scale for scale, native in ROLE_FROM_SCALE.items()}


def iso(value: dt.datetime | None) -> str | None:
    """Scale's timestamps: ISO 8601 in UTC with milliseconds and a Z."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """A filter time as Scale clients send it: 'YYYY-MM-DD HH:MM:SS.ffffff' or ISO 8601, UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"{name} must be a time like 2024-01-31T12:00:00Z, not {value!r}", field=name
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def scale_type_of(native: str, params: dict | None) -> str:
    value = (params or {}).get(SCALE_TYPE_KEY)
    return value if isinstance(value, str) else DEFAULT_SCALE_TYPE.get(native, native)


def check_scale_type(name: str) -> str:
    """The lower-cased Scale type name, or Invalid if no native task type serves it."""
    key = name.strip().lower()
    if key not in SCALE_TYPES:
        raise Invalid(
            f"task type {name!r} is not supported; supported: {', '.join(SCALE_TYPES)}",
            field="type",
        )
    return key


def visible_params(params: dict[str, Any]) -> dict[str, Any]:
    """The params a Scale client sent: compat bookkeeping removed, moved keys put back."""
    added = params.get(ADDED_KEY) or []
    out = {k: v for k, v in params.items() if k not in RESERVED_PARAMS and k not in added}
    if "text" in added and params.get("attachment_type") == "text" and "attachment" not in out:
        out["attachment"] = params.get("text")
    return out


# --- projects ---------------------------------------------------------------------------


def _pipeline(value: Any) -> dict | None:
    """Scale's pipeline names as native pipelines; a native pipeline object passes through."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str) and "review" in value.lower():
        return {
            "stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]
        }
    return None


def project_create(body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/projects body → ProjectCreate fields."""
    scale_type = check_scale_type(str(body.get("type") or ""))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", field="name")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise Invalid("params must be an object", field="params")
    task_type = native_type(scale_type)
    taxonomy = scale_taxonomy.taxonomy_from_params(scale_type, params)
    instruction = params.get("instruction")
    # `instruction` stays in the params too: tasks inherit the project's params, and a Scale
    # task shows the instruction it was created with.
    kept = {k: v for k, v in params.items() if k != "pipeline"}
    return {
        "name": name,
        "task_type": task_type,
        "taxonomy": taxonomy or scale_taxonomy.placeholder_taxonomy(task_type),
        "instructions": instruction if isinstance(instruction, str) else None,
        "pipeline": _pipeline(body.get("pipeline", params.get("pipeline"))),
        "params": {**kept, SCALE_TYPE_KEY: scale_type},
    }


# Tasks created without a project go to a default project of their Scale type, one per
# sandbox (Assay has no teams: one per instance and key mode), made on first use.
DEFAULT_PROJECT_NAME = "Default {scale_type} project"
# Where a task created without a project must name its labels (the project has none to lend).
LABELS_PARAM = {
    **dict.fromkeys(scale_taxonomy.LEGACY_GEOMETRY, "objects_to_annotate"),
    **dict.fromkeys(scale_taxonomy.VIDEO_TYPES, "geometries"),
    "imageannotation": "geometries",
    "categorization": "categories",
    "namedentityrecognition": "labels",
    "segmentannotation": "labels",
}


def default_project_create(scale_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """ProjectCreate fields of the default project for a task create body without a project:
    its taxonomy is the one the task's own params define."""
    scale_type = check_scale_type(scale_type)
    params = {k: v for k, v in body.items() if k not in TASK_FIELDS}
    taxonomy = scale_taxonomy.taxonomy_from_params(scale_type, params)
    needed = LABELS_PARAM.get(scale_type)
    if taxonomy is None and needed is not None:
        also = " (or taxonomies)" if scale_type == "categorization" else ""
        raise Invalid(
            f"{needed}{also} is required for a {scale_type} task created without a project: "
            "it defines the labels; or name a project whose labels the task uses",
            field=needed,
        )
    task_type = native_type(scale_type)
    return {
        "name": DEFAULT_PROJECT_NAME.format(scale_type=scale_type),
        "task_type": task_type,
        "taxonomy": taxonomy or scale_taxonomy.placeholder_taxonomy(task_type),
        "params": {SCALE_TYPE_KEY: scale_type},
    }


@dataclass
class ParamsUpdate:
    """What POST /v1/projects/{name}/setParams changes."""

    params: dict[str, Any]
    instruction: str | None
    taxonomy: dict | None


def project_params_update(
    current: dict[str, Any], scale_type: str, body: dict[str, Any]
) -> ParamsUpdate:
    """setParams: the given params override the project's (with `patch: false`, replace
    them); `instruction` is a new version. Labels only ever join the taxonomy: tasks may
    still use the ones the new params leave out."""
    instruction = body.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        raise Invalid("instruction must be a string", field="instruction")
    patch = body.get("patch", True)
    if not isinstance(patch, bool):
        raise Invalid("patch must be true or false", field="patch")
    changes = {k: v for k, v in body.items() if k not in RESERVED_PARAMS and k != "patch"}
    kept = current if patch else {k: v for k, v in current.items() if k in RESERVED_PARAMS}
    params = {**kept, **changes}
    taxonomy = scale_taxonomy.taxonomy_from_params(scale_type, changes)
    return ParamsUpdate(params=params, instruction=instruction, taxonomy=taxonomy)


def scale_project(project: Any) -> dict[str, Any]:
    """A project as Scale's project object (the latest params are the last param_history)."""
    scale_type = scale_type_of(project.task_type, project.params)
    params = visible_params(project.params)
    latest = {
        **params,
        "instruction": project.instructions,
        "version": project.instructions_version,
        "created_at": iso(project.updated_at),
    }
    return {
        "id": project.id,
        "name": project.name,
        "type": scale_type,
        "param_history": [latest],
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "archived": project.archived,
        "taxonomy": project.taxonomy,
        "pipeline": project.pipeline,
        "is_test": project.mode == "test",
    }


CHAT_TYPES = frozenset(("chat", "chatlite", "multichat", "chatexperimental"))
TEMPLATE_TYPES = CHAT_TYPES | {"textcollection"}


def task_template(project: Any) -> dict[str, Any]:
    """A project's task template (its `template_variables` param), for the types that have
    one on Scale."""
    scale_type = scale_type_of(project.task_type, project.params)
    if scale_type not in TEMPLATE_TYPES:
        raise Invalid(
            f"project {project.name!r} ({scale_type}) has no task template; task templates "
            "exist for textcollection and chat projects",
            field="project",
        )
    variables = project.params.get("template_variables")
    return {
        "id": project.id,
        "version": project.instructions_version,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "template_variables": variables if isinstance(variables, dict) else {},
        "response_schema": None,
        "auto_onboard_enabled": False,
    }


def v2_project(project: Any) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "created_at": iso(project.created_at),
        "types": [scale_type_of(project.task_type, project.params)],
    }


# --- batches ----------------------------------------------------------------------------


def _callback_url(value: Any) -> str | None:
    """Scale also takes an email address to notify; Assay only calls URLs back."""
    if isinstance(value, str) and "@" in value and "://" not in value:
        return None
    return value or None


def batch_create(body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/batches body → the project name and BatchCreate fields."""
    if body.get("calibration_batch") and body.get("self_label_batch"):
        raise Invalid(
            "a batch is either a calibration batch or a self-label batch, not both",
            field="calibration_batch",
        )
    kind = "production"
    if body.get("calibration_batch"):
        kind = "calibration"
    elif body.get("self_label_batch"):
        kind = "self_label"
    callback_url = _callback_url(body.get("callback"))
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field="metadata")
    return {
        "name": body.get("name"),
        "kind": kind,
        "callback_url": callback_url,
        "metadata": metadata,
    }


def scale_batch(batch: Any, project_name: str) -> dict[str, Any]:
    return {
        "id": batch.id,
        "name": batch.name,
        "project": project_name,
        "status": batch.status,
        "callback": batch.callback_url or "",
        "created_at": iso(batch.created_at),
        "completed_at": iso(batch.completed_at),
        "metadata": batch.metadata_,
        "calibration_batch": batch.kind == "calibration",
        "self_label_batch": batch.kind == "self_label",
        "is_test": batch.mode == "test",
    }


# v2 spells a canceled batch "cancelled" (tasks stay "canceled", as in v1).
V2_BATCH_STATUS = {"canceled": "cancelled"}


def native_batch_status(v2_status: str | None) -> str | None:
    """A v2 batch status filter in Assay's spelling."""
    natives = {v2: native for native, v2 in V2_BATCH_STATUS.items()}
    return natives.get(v2_status, v2_status) if v2_status else None


def deep_merge(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Scale's metadata `merge`: nested objects are merged key by key, other values replaced."""
    merged = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def v2_batch(batch: Any) -> dict[str, Any]:
    return {
        "id": batch.id,
        "name": batch.name,
        "project": batch.project_id,
        "created_at": iso(batch.created_at),
        "completed_at": iso(batch.completed_at),
        "status": V2_BATCH_STATUS.get(batch.status, batch.status),
        "callback": batch.callback_url,
        "metadata": batch.metadata_,
    }


def batch_status(status: str, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "status": status,
        **{key: counts.get(key, 0) for key in ("pending", "completed", "error", "canceled")},
    }


# --- tasks ------------------------------------------------------------------------------


@dataclass
class TaskIn:
    """A Scale task create body, translated."""

    project: str | None
    batch: str | None
    fields: dict[str, Any]  # TaskCreate fields other than `batch`
    taxonomy: dict | None  # the labels the task names, to merge into its project's


def _native_params(scale_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """Add what the native task type reads under its own names; record what was added."""
    added: dict[str, Any] = {}
    attachment = params.get("attachment")
    if params.get("attachment_type") == "text" and isinstance(attachment, str):
        # Scale sends raw text as the "attachment" of text tasks.
        added["text"] = attachment
    attachments = params.get("attachments")
    if scale_type in scale_taxonomy.VIDEO_TYPES and isinstance(attachments, list) and attachments:
        if attachment is None:
            added["attachment"] = attachments[0]
        if params.get("frame_count") is None:
            added["frame_count"] = len(attachments)
    if (
        scale_type == "comparison"
        and params.get("responses") is None
        and isinstance(attachments, list)
    ):
        added["responses"] = [
            a.get("content", a) if isinstance(a, dict) else a for a in attachments
        ]
    if scale_type in CHAT_TYPES:
        variables = params.get("template_variables")
        variables = variables if isinstance(variables, dict) else {}
        if params.get("prompt") is None and variables.get("prompt") is not None:
            added["prompt"] = variables["prompt"]
        if params.get("responses") is None and variables.get("responses") is not None:
            added["responses"] = variables["responses"]
    out = {k: v for k, v in params.items() if k not in RESERVED_PARAMS}
    if "text" in added:
        out.pop("attachment", None)
    out.update(added)
    out[SCALE_TYPE_KEY] = scale_type
    if added:
        out[ADDED_KEY] = sorted(added)
    return out


def task_create(scale_type: str, body: dict[str, Any], project_params: dict[str, Any]) -> TaskIn:
    """POST /v1/task/{type} body → the project and batch names and TaskCreate fields.

    `project_params` are the project's Scale params: the task's own params override them,
    and the labels either names are merged into the project's taxonomy."""
    scale_type = check_scale_type(scale_type)
    params = {k: v for k, v in body.items() if k not in TASK_FIELDS}
    merged = {**visible_params(project_params), **params}
    taxonomy = scale_taxonomy.taxonomy_from_params(scale_type, merged)
    hypothesis = body.get("hypothesis") or body.get("base_annotations")
    prelabels = None
    if hypothesis is not None:
        prelabels = scale_annotations.from_scale_response(scale_type, hypothesis)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid("metadata must be an object", field="metadata")
    tags = body.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    fields: dict[str, Any] = {
        "unique_id": body.get("unique_id") or None,
        # The project's params are merged in (the native create does the same), so the
        # stored params say everything the response shape depends on.
        "params": _native_params(scale_type, merged),
        "metadata": metadata,
        "tags": tags,
        "prelabels": prelabels,
        "callback_url": _callback_url(body.get("callback_url")),
    }
    if body.get("priority") is not None:
        fields["priority"] = body["priority"]
    return TaskIn(
        project=body.get("project"),
        batch=body.get("batch"),
        fields=fields,
        taxonomy=taxonomy,
    )


def scale_task(
    task: Any,
    *,
    project_name: str,
    batch_name: str | None,
    audits: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A task as Scale's task object, with the response in the Scale type's shape."""
    scale_type = scale_type_of(task.type, task.params)
    params = visible_params(task.params)
    response = scale_annotations.to_scale_response(scale_type, task.response, params)
    return {
        "task_id": task.id,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at),
        "type": scale_type,
        "status": task.status,
        "instruction": params.get("instruction") or "",
        "params": params,
        "callback_url": task.callback_url,
        "metadata": task.metadata_,
        "unique_id": task.unique_id,
        "tags": list(task.tags or []),
        "response": response,
        "project": project_name,
        "batch": batch_name,
        "audits": audits or [],
        "is_test": task.mode == "test",
        "priority": task.priority,
        "error": task.error,
    }


def v2_task(task: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "task_id": task.id,
        "project": task.project_id,
        "status": task.status,
        "created_at": iso(task.created_at),
        "completed_at": iso(task.completed_at),
        "metadata": task.metadata_,
    }
    if task.batch_id is not None:
        out["batch"] = task.batch_id
    if task.status == "error" and task.error:
        out["errors"] = [{"message": task.error}]
    return out


def audit(event: Any) -> dict[str, Any]:
    """An audit_accept / audit_reject task event as a Scale audit."""
    return {
        "audit_time": iso(event.created_at),
        "audit_source": "customer",
        "audited_by": event.user_id,
        "accepted": event.action == "audit_accept",
        "status": "accepted" if event.action == "audit_accept" else "rejected",
        "comments": next((c.get("text") for c in event.comments or [] if c.get("text")), None),
    }


# --- teams and files --------------------------------------------------------------------


def teammate(user: Any) -> dict[str, Any]:
    first, _, last = (user.name or "").partition(" ")
    return {
        "email": user.email,
        "role": ROLE_TO_SCALE.get(user.role, user.role),
        "firstName": first or None,
        "lastName": last or None,
        "company": None,
        "isStudioLabeler": user.role == "labeler",
        "expiry": None,
    }


def native_role(scale_role: Any) -> str:
    if scale_role not in ROLE_FROM_SCALE:
        raise Invalid(
            f"team_role must be one of {', '.join(ROLE_FROM_SCALE)}, not {scale_role!r}",
            field="team_role",
        )
    return ROLE_FROM_SCALE[scale_role]


def scale_file(blob: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An uploaded blob as Scale's file object; `attachment_url` is accepted as an attachment."""
    return {
        **(extra or {}),
        "id": blob.sha256,
        "attachment_url": f"blob:{blob.sha256}",
        "mime_type": blob.content_type,
        "size": blob.size,
        "filename": blob.filename,
        "created_at": iso(blob.created_at),
    }
