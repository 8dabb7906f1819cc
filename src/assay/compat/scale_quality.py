"""Scale's quality tasks: `POST /v1/evaluation_tasks/{type}` and `POST /v1/training_tasks/{type}`
(`ScaleClient.create_evaluation_task` / `create_training_task`). Included in the `/v1` router
of scale_v1.

The body is a task create body (as for `POST /v1/task/{type}`) plus `expected_response` and an
optional `initial_response` (stored as the task's prelabels), both in the response shape of the
Scale task type; they are translated to native responses before the native validation. The
answer is the Scale task object plus `id` and the responses in Scale's shape again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from assay.api.context import AppContext
from assay.api.deps import Ctx, CurrentActor
from assay.compat import scale_annotations, scale_format
from assay.compat.errors import ScaleRoute
from assay.compat.scale_annotations import FIELD_TYPES, IMAGE_TYPES
from assay.compat.scale_common import (
    JsonObject,
    check_project_type,
    merge_task_labels,
    project_by_name,
    task_view,
)
from assay.compat.scale_taxonomy import LEGACY_GEOMETRY, TEXT_FIELD_TYPES, VIDEO_TYPES
from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.labeling import models, quality_admin, schemas
from assay.labeling.policies import projects as project_policy
from assay.labeling.task_params import rebase
from assay.labeling.task_types import LLM_TASK_TYPES, native_type

router = APIRouter(route_class=ScaleRoute)
EXPECTED = "expected_response"
INITIAL = "initial_response"


# --- Scale responses -> native ones --------------------------------------------------------
# Each mirrors a `scale_annotations.to_scale_response` shape. A value in an unknown shape
# passes through unchanged, so the native validation names what is wrong with it.


def _links(response: dict) -> dict[str, Any]:
    links = response.get("links")
    return {"links": links} if links else {}


def _globals(response: dict) -> dict[str, Any]:
    values = response.get("global_attributes")
    return {"global_attributes": values} if values else {}


def _uuid_as_id(ann: Any, drop: tuple[str, ...] = ()) -> Any:
    if not isinstance(ann, dict):
        return ann
    out = {k: v for k, v in ann.items() if k != "uuid" and k not in drop}
    if ann.get("uuid") is not None:
        out["id"] = str(ann["uuid"])
    return out


def _image(scale_type: str, response: dict) -> Any:
    annotations = response.get("annotations")
    if scale_type in LEGACY_GEOMETRY and isinstance(annotations, list):
        # Legacy types answer without `type`: the geometry is the type's.
        geometry = LEGACY_GEOMETRY[scale_type]
        annotations = [
            {"type": geometry, **a} if isinstance(a, dict) and "type" not in a else a
            for a in annotations
        ]
        response = {**response, "annotations": annotations}
    native = scale_annotations.from_scale_response(scale_type, response)
    if native is response or not isinstance(native, dict):
        return native
    return {**native, **_links(response)}


def _categorization(response: dict, params: dict) -> Any:
    native = scale_annotations.from_scale_response("categorization", response)
    if native is response:
        return native
    taxonomies = response.get("taxonomies")
    specs = params.get("taxonomies")
    if not isinstance(taxonomies, dict) or not isinstance(specs, dict):
        return {**native, **_globals(response)}
    # Taxonomies after the first are task attributes (see scale_taxonomy._categorization).
    others: dict[str, Any] = {}
    for name in list(specs)[1:]:
        if name not in taxonomies:
            continue
        value = taxonomies[name]
        multiple = isinstance(specs[name], dict) and specs[name].get("allow_multiple")
        if not multiple and isinstance(value, list) and len(value) == 1:
            value = value[0]
        others[name] = value
    return {**native, **({"global_attributes": others} if others else {})}


def _spans(response: dict) -> Any:
    annotations = response.get("annotations")
    if not isinstance(annotations, list):
        return response
    spans = [{"type": "span", **_uuid_as_id(a)} if isinstance(a, dict) else a for a in annotations]
    return {"annotations": spans, **_links(response)}


def _fields(scale_type: str, response: dict) -> Any:
    native = scale_annotations.from_scale_response(scale_type, response)
    if native is response:
        return native
    rows = response.get("repeatable_fields")
    for row in rows if isinstance(rows, list) else []:
        for key, value in row.items() if isinstance(row, dict) else ():
            native["annotations"].append({"type": "text", "field": key, "text": value})
    return {**native, **_globals(response)}


def _document(response: dict) -> Any:
    annotations = response.get("annotations")
    if not isinstance(annotations, list):
        return response
    return {"annotations": [_uuid_as_id(a) for a in annotations], **_globals(response)}


def _values_by_field(response: dict, multiple: set[Any]) -> dict[str, Any]:
    """Scale's documented shape `{"annotations": {field_id: {"type", "field_id",
    "response": [[answer, …]]}}}` as `{field_id: value}` (a list for several answers or a
    multiple-choice field); any other shape is returned as it is."""
    annotations = response.get("annotations")
    if not isinstance(annotations, dict) or not all(
        isinstance(item, dict) and "response" in item for item in annotations.values()
    ):
        return response
    out = {key: value for key, value in response.items() if key != "annotations"}
    for key, item in annotations.items():
        field = item.get("field_id") or key
        raw = item["response"]
        rows = raw if isinstance(raw, list) else [raw]
        answers = [a for row in rows for a in (row if isinstance(row, list) else [row])]
        out[field] = answers if len(answers) != 1 or field in multiple else answers[0]
    return out


def _text_collection(response: dict, params: dict) -> dict[str, Any]:
    """`{field_id: value}`: text fields are text annotations, the other fields task
    attributes (see scale_taxonomy._text_collection)."""
    specs = params.get("fields")
    specs = [spec for spec in (specs if isinstance(specs, list) else []) if isinstance(spec, dict)]
    kinds = {spec.get("field_id"): spec.get("type", "text") for spec in specs}
    multiple = {spec.get("field_id") for spec in specs if spec.get("allow_multiple")}
    response = _values_by_field(response, multiple)
    annotations: list[Any] = []
    attributes: dict[str, Any] = {}
    for key, value in response.items():
        answers = value if isinstance(value, list) else [value]
        kind = kinds.get(key)
        if kind in TEXT_FIELD_TYPES or (kind is None and all(isinstance(a, str) for a in answers)):
            annotations.extend({"type": "text", "field": key, "text": a} for a in answers)
        else:
            attributes[key] = value
    return {"annotations": annotations, **({"global_attributes": attributes} if attributes else {})}


def _video(response: dict) -> Any:
    """Tracks with per-frame geometry → one native annotation per track and frame."""
    tracks = response.get("annotations")
    if not isinstance(tracks, dict):
        return response
    annotations: list[Any] = []
    for track_id, track in tracks.items():
        if not isinstance(track, dict) or not isinstance(track.get("frames"), list):
            annotations.append(track)
            continue
        for frame in track["frames"]:
            if not isinstance(frame, dict):
                annotations.append(frame)
                continue
            geometry = {k: v for k, v in frame.items() if k not in ("key", "keyframe")}
            ann = scale_annotations._native_image_annotation(
                {"type": track.get("geometry"), **geometry}
            )
            ann.update(track_id=str(track.get("uuid", track_id)), frame=frame.get("key", 0))
            ann["keyframe"] = frame.get("keyframe", True)
            if track.get("label") is not None:
                ann["label"] = track["label"]
            attributes = frame.get("attributes") or track.get("attributes")
            if attributes:
                ann["attributes"] = attributes
            annotations.append(ann)
    return {"annotations": annotations, **_globals(response), **_links(response)}


def _llm(response: dict) -> Any:
    """chat and comparison: the native annotations, or Scale's choice/ranking/ratings."""
    if isinstance(response.get("annotations"), list):
        return {"annotations": response["annotations"], **_globals(response)}
    annotations: list[Any] = []
    if response.get("choice") is not None:
        annotations.append({"type": "comparison", "choice": response["choice"]})
    if response.get("ranking") is not None:
        annotations.append({"type": "ranking", "order": response["ranking"]})
    ratings = response.get("ratings")
    for rating in ratings if isinstance(ratings, list) else []:
        annotations.append({"type": "rating", **rating} if isinstance(rating, dict) else rating)
    if not annotations:
        return response
    return {"annotations": annotations, **_globals(response)}


def native_response(scale_type: str, response: Any, params: dict[str, Any]) -> Any:
    """A response in the Scale task type's shape as a native response."""
    if not isinstance(response, dict):
        return response
    if scale_type in VIDEO_TYPES:
        return _video(response)
    if scale_type in IMAGE_TYPES:
        return _image(scale_type, response)
    if scale_type == "categorization":
        return _categorization(response, params)
    if scale_type == "namedentityrecognition":
        return _spans(response)
    if scale_type in FIELD_TYPES:
        return _fields(scale_type, response)
    if scale_type == "documenttranscription":
        return _document(response)
    if scale_type == "textcollection":
        return _text_collection(response, params)
    if native_type(scale_type) in LLM_TASK_TYPES:
        return _llm(response)
    return response


# --- routes --------------------------------------------------------------------------------


def _project(
    session: Session, scale_type: str, body: dict[str, Any], actor: Actor, kind: str
) -> models.Project:
    name = body.get("project")
    if not isinstance(name, str) or not name:
        raise Invalid(
            f"project is required: the name of the {kind} task's project", field="project"
        )
    if body.get("batch"):
        raise Invalid(f"{kind} tasks belong to no batch; leave batch out", field="batch")
    project, role = project_by_name(session, name, actor)
    project_policy.require_manager(actor, project, role, f"create {kind} tasks")
    check_project_type(project, scale_type)
    return project


def _create(kind: str, task_type: str, body: dict[str, Any], actor: Actor, ctx: AppContext) -> dict:
    scale_type = scale_format.check_scale_type(task_type)
    if body.get(EXPECTED) is None:
        raise Invalid(
            f"an {kind} task needs expected_response: the right answer, in the response "
            f"format of {scale_type} tasks",
            field=EXPECTED,
        )
    task_body = {k: v for k, v in body.items() if k not in (EXPECTED, INITIAL)}
    with ctx.db.write() as session:
        project = _project(session, scale_type, body, actor, kind)
        task_in = scale_format.task_create(scale_type, task_body, project.params)
        merge_task_labels(session, project, task_in.taxonomy, actor)
        params = scale_format.visible_params(task_in.fields["params"])
        fields = {**task_in.fields, EXPECTED: native_response(scale_type, body[EXPECTED], params)}
        if body.get(INITIAL) is not None:
            fields["prelabels"] = native_response(scale_type, body[INITIAL], params)
        try:
            (row,) = quality_admin.create_quality_tasks(
                session=session,
                project=project,
                tasks_in=[schemas.TaskCreate(**fields)],
                kind=kind,
                actor=actor,
                settings=ctx.settings,
                path="",
            )
        except Invalid as exc:
            if body.get(INITIAL) is None or not (exc.field or "").startswith("prelabels"):
                raise
            raise Invalid(exc.message, field=rebase(exc.field, "prelabels", INITIAL)) from None
        return _scale_quality_task(session, row, scale_type, actor)


def _scale_quality_task(session: Session, row: Any, scale_type: str, actor: Actor) -> dict:
    """Scale's task object plus what the client reads of a quality task: id and responses."""
    view = task_view(session, row, actor)
    params = view["params"]
    return {
        **view,
        "id": row.id,
        EXPECTED: scale_annotations.to_scale_response(scale_type, row.expected_response, params),
        INITIAL: scale_annotations.to_scale_response(scale_type, row.prelabels, params),
    }


@router.post("/evaluation_tasks/{task_type}")
def create_evaluation_task(
    task_type: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """A gold task served to labelers among real ones and scored against expected_response."""
    return _create("evaluation", task_type, body, actor, ctx)


@router.post("/training_tasks/{task_type}")
def create_training_task(
    task_type: str, body: JsonObject, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    """A task of the project's training course, with the answer shown after submitting."""
    return _create("training", task_type, body, actor, ctx)
