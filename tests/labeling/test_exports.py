"""Export and prelabel-import jobs against a real database, blob store and job worker."""

from __future__ import annotations

import csv
import io
import itertools
import json
import zipfile
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from sqlalchemy import select

from assay.core import blobs
from assay.core import models as core_models
from assay.core.jobs import TERMINAL
from assay.labeling import exports, models, schemas
from assay.labeling.annotations import validate_response
from assay.labeling.pipeline import finish
from assay.labeling.projects import project_rules
from tests.labeling.factories import actor_for, add_tasks, make_batch, make_project, statements
from tests.support.polling import wait_for

W, H = 64, 48
TAXONOMY: dict[str, Any] = {
    "labels": [
        {"name": "car", "geometries": ["box", "polygon", "mask"]},
        {"name": "person", "geometries": ["box", "keypoints"], "keypoints": ["head", "hand"]},
    ]
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
PYCOCOTOOLS_NUMPY2 = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def image(name: str, **extra: Any) -> schemas.TaskCreate:
    params = {"attachment": f"https://img.example/{name}", "image_width": W, "image_height": H}
    return schemas.TaskCreate(params=params, **extra)


def mask_runs() -> tuple[np.ndarray, list[int]]:
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[4:10, 8:20] = 1
    flat = mask.flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = [0, *change.tolist(), flat.size]
    runs = [b - a for a, b in itertools.pairwise(edges)]
    return mask, ([0, *runs] if flat[0] else runs)


def complete(db, settings, task_id: str, response: dict[str, Any]) -> None:
    with db.write() as session:
        task = session.get(models.Task, task_id)
        project = session.get(models.Project, task.project_id)
        taxonomy = project_rules(project).taxonomy
        valid = validate_response(taxonomy, project.task_type, task.params, response)
        finish(session=session, task=task, response=valid, settings=settings)


def upload(db, ctx, data: bytes, filename: str) -> str:
    with db.write() as session:
        return blobs.store_upload(
            session=session,
            store=ctx.blobs,
            stream=io.BytesIO(data),
            filename=filename,
            declared_type=None,
            actor=None,
            limit=ctx.settings.max_upload_bytes,
        ).sha256


def run(db, job_id: str) -> tuple[core_models.Job, list[str]]:
    """Wait for the worker to finish the job; the job and its log messages."""

    def finished() -> bool:
        with db.read() as session:
            return session.get(core_models.Job, job_id).status in TERMINAL

    wait_for(finished, timeout=60)
    with db.read() as session:
        job = session.get(core_models.Job, job_id)
        logs = session.scalars(
            select(core_models.JobLog.message)
            .where(core_models.JobLog.job_id == job_id)
            .order_by(core_models.JobLog.id)
        ).all()
        session.expunge(job)
        return job, list(logs)


def export(db, ctx, project, actor, **fields: Any) -> tuple[core_models.Job, bytes, list[str]]:
    batch = fields.pop("batch", None)
    with db.write() as session:
        job_id = exports.request_export(
            session=session,
            project=session.get(models.Project, project.id),
            export_in=exports.ExportCreate(**fields),
            batch=session.get(models.Batch, batch.id) if batch else None,
            actor=actor,
        ).id
    job, logs = run(db, job_id)
    assert job.status == "succeeded", (job.error, logs)
    return job, b"".join(ctx.blobs.open(job.result["blob"])), logs


def import_prelabels(db, project, actor, fmt: str, sha: str) -> tuple[core_models.Job, list[str]]:
    with db.write() as session:
        job_id = exports.request_prelabel_import(
            session=session,
            project=session.get(models.Project, project.id),
            import_in=exports.PrelabelImportCreate(format=fmt, blob=sha),
            actor=actor,
        ).id
    return run(db, job_id)


def prelabels(db, task_id: str) -> dict[str, Any] | None:
    with db.read() as session:
        return session.get(models.Task, task_id).prelabels


@PYCOCOTOOLS_NUMPY2
def test_coco_export_is_a_blob_pycocotools_reads(db, ctx, settings, admin, pool, tmp_path):
    actor = actor_for(admin)
    project = make_project(db, actor, name="street", taxonomy=TAXONOMY)
    png = upload(db, ctx, PNG, "camera 7.png")
    ids = add_tasks(
        db,
        project,
        actor,
        settings,
        [
            image("dir/cat%201.jpg", unique_id="u-1"),
            schemas.TaskCreate(
                params={"attachment": f"blob:{png}", "image_width": W, "image_height": H}
            ),
            image("pending.jpg"),
        ],
    )
    mask, runs = mask_runs()
    complete(
        db,
        settings,
        ids[0],
        {
            "annotations": [
                {"type": "box", "label": "car", "x": 1, "y": 2, "width": 10, "height": 5},
                {
                    "type": "polygon",
                    "label": "car",
                    "vertices": [{"x": 10, "y": 10}, {"x": 30, "y": 10}, {"x": 30, "y": 30}],
                },
            ]
        },
    )
    complete(
        db,
        settings,
        ids[1],
        {
            "annotations": [
                {"type": "mask", "label": "car", "rle": {"size": [H, W], "counts": runs}},
                {
                    "type": "keypoints",
                    "label": "person",
                    "points": [{"name": "hand", "x": 5, "y": 6, "visible": True}],
                },
            ]
        },
    )

    job, data, _ = export(db, ctx, project, actor, format="coco")

    assert job.result["count"] == 2 and job.result["filename"] == "street-coco.json"
    assert job.progress == 1.0
    with db.read() as session:
        blob = blobs.get_blob(session=session, sha256=job.result["blob"])
        assert (blob.content_type, blob.filename, blob.size) == (
            "application/json",
            "street-coco.json",
            len(data),
        )
        assert blob.created_by == admin.user.id
    path = tmp_path / "export.json"
    path.write_bytes(data)
    api = COCO(str(path))
    assert (len(api.getImgIds()), len(api.getAnnIds()), len(api.getCatIds())) == (2, 4, 2)
    images = api.loadImgs(api.getImgIds())
    assert [i["file_name"] for i in images] == ["cat 1.jpg", "camera 7.png"]
    assert [i["unique_id"] for i in images] == ["u-1", None]
    polygon, rle = (api.loadAnns(i)[0] for i in (2, 3))
    assert api.annToMask(polygon).sum() > 150  # a right triangle of area 200
    assert np.array_equal(api.annToMask(rle), mask)
    person = api.loadAnns(4)[0]
    assert person["keypoints"] == [0, 0, 0, 5, 6, 2] and person["category_id"] == 2


def test_export_pages_through_tasks_and_filters_batch_and_status(db, ctx, settings, admin, pool):
    actor = actor_for(admin)
    project = make_project(db, actor, name="many", taxonomy=TAXONOMY)
    first, second = (
        make_batch(db, project, actor, "first"),
        make_batch(db, project, actor, "second"),
    )
    many = add_tasks(db, project, actor, settings, [image(f"{i}.jpg") for i in range(2300)], first)
    other = add_tasks(db, project, actor, settings, [image("x.jpg"), image("y.jpg")], second)
    complete(db, settings, other[0], {"annotations": []})

    with statements(db.engine) as seen:
        job, data, _ = export(
            db, ctx, project, actor, format="jsonl", status="pending", batch=first
        )
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert [line["task_id"] for line in lines] == sorted(many)
    assert job.result["count"] == 2300 and lines[0]["batch"] == first.id
    assert lines[0]["params"]["attachment"].startswith("https://img.example/")
    pages = [s for s in seen if "FROM tasks" in s and "LIMIT" in s.upper() and "ORDER BY" in s]
    assert len(pages) == 4  # 1000 + 1000 + 300 + the empty page that ends the stream

    _, data, _ = export(db, ctx, project, actor, format="jsonl")  # completed (the default)
    (line,) = [json.loads(x) for x in data.decode().splitlines()]
    assert line["task_id"] == other[0] and line["completed_at"] and line["response"]
    job, _, _ = export(db, ctx, project, actor, format="jsonl", status="all")
    assert job.result["count"] == 2302


def test_csv_and_conll_exports(db, ctx, settings, admin, pool):
    actor = actor_for(admin)
    cats = make_project(
        db,
        actor,
        name="pets",
        task_type="categorization",
        taxonomy={
            "multi_select": True,
            "labels": [{"name": "cat"}, {"name": "dog"}],
            "global_attributes": [{"name": "note", "type": "text"}],
        },
    )
    (task_id,) = add_tasks(
        db, cats, actor, settings, [schemas.TaskCreate(unique_id="p1", params={"text": "a pet"})]
    )
    complete(
        db,
        settings,
        task_id,
        {
            "annotations": [
                {"type": "category", "label": "cat"},
                {"type": "category", "label": "dog"},
            ],
            "global_attributes": {"note": "two"},
        },
    )
    job, data, _ = export(db, ctx, cats, actor, format="csv")
    assert job.result["filename"] == "pets-csv.csv"
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["task_id", "unique_id", "label", "note"],
        [task_id, "p1", "cat|dog", "two"],
    ]

    spans = make_project(
        db,
        actor,
        name="ner",
        task_type="text_spans",
        taxonomy={"labels": [{"name": "PER"}, {"name": "LOC"}]},
    )
    (task_id,) = add_tasks(
        db, spans, actor, settings, [schemas.TaskCreate(params={"text": "Ada Lovelace in London"})]
    )
    complete(
        db,
        settings,
        task_id,
        {
            "annotations": [
                {"type": "span", "label": "PER", "start": 0, "end": 12},
                {"type": "span", "label": "LOC", "start": 16, "end": 22},
            ]
        },
    )
    _, data, _ = export(db, ctx, spans, actor, format="conll")
    assert data.decode() == (
        f"-DOCSTART- {task_id}\n\nAda B-PER\nLovelace I-PER\nin O\nLondon B-LOC\n\n"
    )


def test_yolo_export_round_trips_into_another_projects_prelabels(db, ctx, settings, admin, pool):
    actor = actor_for(admin)
    source = make_project(db, actor, name="source", taxonomy=TAXONOMY)
    done = add_tasks(db, source, actor, settings, [image("a.jpg"), image("b.jpg")])
    responses = [
        {
            "annotations": [
                {"type": "box", "label": "person", "x": 3.5, "y": 4, "width": 10, "height": 20},
                {
                    "type": "polygon",
                    "label": "car",
                    "vertices": [{"x": 1, "y": 1}, {"x": 60, "y": 2}, {"x": 33.3, "y": 47}],
                },
            ]
        },
        {
            "annotations": [
                {"type": "box", "label": "car", "x": 0, "y": 0, "width": 64, "height": 48}
            ]
        },
    ]
    for task_id, response in zip(done, responses, strict=True):
        complete(db, settings, task_id, response)
    job, data, _ = export(db, ctx, source, actor, format="yolo")
    assert job.result["filename"] == "source-yolo.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["classes.txt", "data.yaml", "labels/a.txt", "labels/b.txt"]

    target = make_project(db, actor, name="target", taxonomy=TAXONOMY)
    pending = add_tasks(
        db, target, actor, settings, [image("a.jpg"), image("b.jpg"), image("c.jpg")]
    )
    job, logs = import_prelabels(db, target, actor, "yolo", upload(db, ctx, data, "labels.zip"))
    assert job.status == "succeeded", (job.error, logs)
    assert job.result["attached"] == 2 and job.result["unmatched"] == 0
    for task_id, response in zip(pending[:2], responses, strict=True):
        got = prelabels(db, task_id)["annotations"]
        assert [a["type"] for a in got] == [a["type"] for a in response["annotations"]]
        for back, original in zip(got, response["annotations"], strict=True):
            assert back["label"] == original["label"]
            if back["type"] == "box":
                for key in ("x", "y", "width", "height"):
                    assert back[key] == pytest.approx(original[key], abs=1e-3)
            else:
                for v, w in zip(back["vertices"], original["vertices"], strict=True):
                    assert (v["x"], v["y"]) == pytest.approx((w["x"], w["y"]), abs=1e-3)
    assert prelabels(db, pending[2]) is None


def test_coco_prelabels_match_tasks_and_log_what_they_could_not(db, ctx, settings, admin, pool):
    actor = actor_for(admin)
    project = make_project(db, actor, name="pre", taxonomy=TAXONOMY)
    by_unique, twin1, twin2, finished, by_name = add_tasks(
        db,
        project,
        actor,
        settings,
        [
            image("x/a.jpg", unique_id="u-a"),
            image("x/b.jpg"),
            image("y/b.jpg"),
            image("d.jpg"),
            image("deep/e.jpg"),
        ],
    )
    complete(db, settings, finished, {"annotations": []})
    box = {"category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}
    doc = {
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
        "images": [
            {"id": 1, "file_name": "ignored.jpg", "unique_id": "u-a"},
            {"id": 2, "file_name": "b.jpg"},
            {"id": 3, "file_name": "d.jpg"},
            {"id": 4, "file_name": "nowhere.jpg"},
            {"id": 5, "file_name": "e.jpg"},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, **box},
            {"id": 11, "image_id": 2, **box},
            {"id": 12, "image_id": 3, **box},
            {"id": 13, "image_id": 4, **box},
            {"id": 14, "image_id": 5, **box},
            {"id": 15, "image_id": 5, "category_id": 2, "bbox": [1, 1, 1, 1]},
            {"id": 16, "image_id": 5, "category_id": 1, "bbox": [60, 40, 30, 30]},
        ],
    }
    sha = upload(db, ctx, json.dumps(doc).encode(), "predictions.json")
    job, logs = import_prelabels(db, project, actor, "coco", sha)

    assert job.status == "succeeded", (job.error, logs)
    assert job.result == {
        "rows": 5,
        "attached": 2,
        "unmatched": 2,
        "not_pending": 1,
        "invalid": 0,
        "duplicates": 0,
        "warnings": 2,
    }
    (ann,) = prelabels(db, by_unique)["annotations"]
    assert ann == {
        "id": "coco-10",
        "type": "box",
        "label": "car",
        "x": 1,
        "y": 2,
        "width": 3,
        "height": 4,
        "attributes": {},
        "confidence": 0.5,
    }
    assert [a["id"] for a in prelabels(db, by_name)["annotations"]] == ["coco-14"]
    assert prelabels(db, twin1) is None and prelabels(db, twin2) is None
    assert prelabels(db, finished) is None
    text = "\n".join(logs)
    assert "row 2 (file_name=b.jpg): several tasks match file_name=b.jpg" in text
    assert "row 4 (file_name=nowhere.jpg): no task in this project matches" in text
    assert f"row 3 (file_name=d.jpg): task {finished} is completed; left alone" in text
    assert "label 'bus' is not in the taxonomy" in text
    assert "box extends past the right edge" in text


def test_jsonl_prelabels_by_task_id_and_unreadable_files(db, ctx, settings, admin, pool):
    actor = actor_for(admin)
    project = make_project(db, actor, name="jl", taxonomy=TAXONOMY)
    first, second = add_tasks(db, project, actor, settings, [image("1.jpg"), image("2.jpg")])
    lines = [
        {
            "task_id": first,
            "prelabels": {
                "annotations": [
                    {"type": "box", "label": "car", "x": 0, "y": 0, "width": 1, "height": 1}
                ]
            },
        },
        {"task_id": second, "annotations": [{"type": "box", "label": "car", "x": 0}]},
        {"task_id": "nope", "annotations": []},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode() + b"\n{broken\n"
    job, logs = import_prelabels(db, project, actor, "jsonl", upload(db, ctx, data, "p.jsonl"))
    assert job.status == "succeeded", (job.error, logs)
    assert job.result["attached"] == 1 and job.result["invalid"] == 2
    assert job.result["unmatched"] == 1
    assert prelabels(db, first)["annotations"][0]["label"] == "car"
    assert prelabels(db, second) is None
    assert any("row 4" in line and "not JSON" in line for line in logs)

    job, logs = import_prelabels(db, project, actor, "coco", upload(db, ctx, b"[]", "x.json"))
    assert job.status == "failed" and job.attempts == 1
    assert "a COCO file is an object" in job.error
