"""Demo content: a labeling project over the sample photographs scikit-image ships.

Installed with the `demo` extra (`make demo` does this). Everything goes through the same
services the API uses; seeding twice changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.errors import NotFound
from assay.core.settings import Settings

PROJECT_NAME = "Everyday objects"

TAXONOMY: dict[str, Any] = {
    "labels": [
        {
            "name": "person",
            "geometries": ["box", "polygon", "keypoints"],
            "keypoints": ["left_eye", "right_eye", "nose"],
        },
        {"name": "animal", "geometries": ["box", "polygon"]},
        {"name": "vehicle", "geometries": ["box", "polygon"]},
        {"name": "food or drink", "geometries": ["box", "polygon", "ellipse"]},
        {"name": "object", "geometries": ["box", "polygon", "point"]},
    ],
    "attributes": [
        {
            "name": "occluded",
            "type": "choice",
            "choices": ["no", "partly", "mostly"],
            "required": True,
            "default": "no",
        },
    ],
    "global_attributes": [
        {
            "name": "scene",
            "type": "choice",
            "choices": ["indoor", "outdoor", "space"],
            "required": True,
        },
        {"name": "image quality", "type": "linear_scale", "min": 1, "max": 5},
    ],
}

INSTRUCTIONS = """# Everyday objects

## Summary
Draw a tight box around every person, animal, vehicle, food or drink and other salient
object in the photograph, then answer the two questions about the whole image.

## Rules
- A box touches the outermost visible pixels of the object; do not include shadows.
- Mark `occluded` when something in front of the object hides part of it.
- Start from the suggestions (dashed) when there are some: fix them, do not ignore them.
"""

# (skimage.data name, file name, scene, pre-labels as (label, x, y, width, height))
IMAGES: list[tuple[str, str, str, list[tuple[str, float, float, float, float]]]] = [
    ("astronaut", "astronaut.jpg", "indoor", [("person", 130, 10, 250, 330)]),
    ("chelsea", "chelsea-the-cat.jpg", "indoor", [("animal", 60, 10, 330, 290)]),
    ("coffee", "coffee.jpg", "indoor", [("food or drink", 140, 30, 330, 260)]),
    ("rocket", "rocket.jpg", "outdoor", [("vehicle", 290, 60, 70, 340)]),
    ("horse", "horse.png", "outdoor", []),
    ("camera", "cameraman.png", "outdoor", []),
    ("coins", "coins.png", "indoor", []),
    ("clock", "clock.png", "indoor", []),
    ("page", "scanned-page.png", "indoor", []),
    ("hubble_deep_field", "hubble-deep-field.jpg", "space", []),
    ("immunohistochemistry", "immunohistochemistry.jpg", "indoor", []),
    ("moon", "moon.png", "space", []),
]
CALIBRATION = 4  # the first images form the calibration batch


@dataclass
class DemoProject:
    project_id: str
    tasks: int
    created: bool
    # The quality-lab project (training course, gold tasks, simulated labelers' history).
    quality_project_id: str | None = None
    quality_created: bool = False


def image_params(session: Session, project_id: str) -> dict[str, dict[str, Any]]:
    """The stored photographs' task params by skimage name, read back from the demo tasks."""
    from sqlalchemy import select

    from assay.labeling import models

    rows = session.execute(
        select(models.Task.unique_id, models.Task.params).where(
            models.Task.project_id == project_id, models.Task.unique_id.like("demo-%")
        )
    )
    return {unique_id.removeprefix("demo-"): params for unique_id, params in rows}


def seed_all(
    *, session: Session, store: blobs.BlobStore, settings: Settings, actor: Actor
) -> DemoProject:
    """The labeling project, then the quality-lab project over the same photographs."""
    from assay.labeling import demo_quality

    labeling = seed(session=session, store=store, settings=settings, actor=actor)
    session.flush()
    images = image_params(session, labeling.project_id)
    labeling.quality_project_id, labeling.quality_created = demo_quality.seed(
        session=session, settings=settings, actor=actor, images=images
    )
    return labeling


def _encode(name: str, filename: str) -> tuple[bytes, int, int]:
    import numpy as np
    from PIL import Image
    from skimage import data

    pixels = getattr(data, name)()
    if pixels.dtype != np.uint8:  # boolean masks and float images: stretch to 0..255
        values = pixels.astype(np.float64)
        span = max(1e-9, float(values.max() - values.min()))
        pixels = (255 * (values - values.min()) / span).astype(np.uint8)
    image = Image.fromarray(pixels)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG" if filename.endswith(".jpg") else "PNG", quality=90)
    return out.getvalue(), image.width, image.height


def seed(
    *, session: Session, store: blobs.BlobStore, settings: Settings, actor: Actor
) -> DemoProject:
    """Create the demo project once: images as blobs, a calibration and a production batch,
    pre-labels on some images, both batches started."""
    from assay.labeling import batches, projects, schemas, tasks

    try:
        existing = projects.get_project_by_name(session=session, name=PROJECT_NAME, mode=actor.mode)
        return DemoProject(existing.id, 0, created=False)
    except NotFound:
        pass
    project = projects.create_project(
        session=session,
        actor=actor,
        project_in=(
            schemas.ProjectCreate(
                name=PROJECT_NAME,
                task_type="image",
                taxonomy=TAXONOMY,
                instructions=INSTRUCTIONS,
                pipeline={
                    "stages": [
                        {"name": "label", "kind": "label"},
                        {"name": "review", "kind": "review", "sample_rate": 1.0},
                    ]
                },
            )
        ),
    )
    calibration = batches.create_batch(
        session=session,
        project=project,
        actor=actor,
        batch_in=schemas.BatchCreate(name="everyday-calibration", kind="calibration"),
    )
    production = batches.create_batch(
        session=session,
        project=project,
        actor=actor,
        batch_in=schemas.BatchCreate(name="everyday-production", kind="production"),
    )
    created = 0
    for index, (name, filename, scene, boxes) in enumerate(IMAGES):
        payload, width, height = _encode(name, filename)
        blob = blobs.store_upload(
            session=session,
            store=store,
            stream=io.BytesIO(payload),
            filename=filename,
            declared_type=None,
            actor=actor,
            limit=settings.max_upload_bytes,
        )
        prelabels = None
        if boxes:
            prelabels = {
                "annotations": [
                    {
                        "type": "box",
                        "label": label,
                        "x": x,
                        "y": y,
                        "width": w,
                        "height": h,
                        "confidence": 0.8,
                        "attributes": {"occluded": "no"},
                    }
                    for label, x, y, w, h in boxes
                ],
                "global_attributes": {"scene": scene},
            }
        batch = calibration if index < CALIBRATION else production
        tasks.create_tasks(
            session=session,
            project=project,
            batch=batch,
            actor=actor,
            settings=settings,
            tasks_in=[
                schemas.TaskCreate(
                    unique_id=f"demo-{name}",
                    params={
                        "attachment": f"blob:{blob.sha256}",
                        "attachment_type": "image",
                        "image_width": width,
                        "image_height": height,
                    },
                    metadata={"source": "scikit-image", "file": filename},
                    prelabels=prelabels,
                )
            ],
        )
        created += 1
    for batch in (calibration, production):
        batches.finalize_batch(session=session, batch=batch, settings=settings, actor=actor)
    return DemoProject(project.id, created, created=True)
