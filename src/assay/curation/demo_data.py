"""Demo content for curation: a dataset of the sample photographs scikit-image ships, cut
into tiles, with ground truth, two real detectors' predictions, metadata worth querying,
embeddings, slices and an autotag.

- items: each photograph whole and as a 3 x 3 grid of tiles (`metadata.source`, `.tile`,
  `.brightness`, `.contrast`, `.colour`, `.edges`);
- ground truth: the photograph's subject as a category (`cat`, `person`, `food`, …);
- predictions of two models from scikit-image's own detectors: `lbp_faces` (its trained
  frontal-face cascade) and `log_blobs` (Laplacian-of-Gaussian blob detection), and of a
  classifier, `knn_tiles` (the subject voted by each item's 5 nearest other items in the
  embedding space), with its classification evaluation queued;
- embeddings from the offline `tiny-image` embedder; a dynamic slice of dark items, a static
  slice of the cat, and the autotag `cat` seeded with the cat's tiles and committed.

Everything goes through the pillar's services; seeding twice changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.core import blobs
from assay.core.auth import Actor
from assay.core.settings import Settings
from assay.curation import (
    datasets,
    embeddings,
    evaluations,
    items,
    models,
    similarity,
    slices,
    wire,
)

DATASET_NAME = "Sample photographs"
# scikit-image's sample images and what each shows.
PHOTOS = {
    "astronaut": "person",
    "chelsea": "cat",
    "coffee": "food",
    "rocket": "vehicle",
    "camera": "person",
    "coins": "object",
    "moon": "space",
    "hubble_deep_field": "space",
    "immunohistochemistry": "microscopy",
    "retina": "microscopy",
    "page": "text",
    "text": "text",
    "brick": "texture",
    "grass": "texture",
    "gravel": "texture",
    "horse": "animal",
}


MAX_SIDE = 384


@dataclass
class DemoDataset:
    dataset_id: str
    created: bool


def _image(name: str) -> np.ndarray | None:
    from skimage import data

    loader = getattr(data, name, None)
    if loader is None:
        return None
    try:
        pixels = loader()
    except Exception:  # a sample that needs a download (pooch) is skipped, not fatal
        return None
    if pixels.dtype != np.uint8:
        values = pixels.astype(np.float64)
        span = max(1e-9, float(values.max() - values.min()))
        pixels = (255 * (values - values.min()) / span).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    return _fit(pixels, MAX_SIDE)


def _fit(pixels: np.ndarray, side: int) -> np.ndarray:
    """At most `side` pixels on the long edge (the detectors' time grows with the area)."""
    from PIL import Image

    height, width = pixels.shape[:2]
    if max(height, width) <= side:
        return pixels
    scale = side / max(height, width)
    image = Image.fromarray(pixels).resize((round(width * scale), round(height * scale)))
    return np.asarray(image)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _gray(pixels: np.ndarray) -> np.ndarray:
    return pixels.mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float64)


def _faces(pixels: np.ndarray) -> list[dict[str, Any]]:
    from skimage import data
    from skimage.feature import Cascade

    detector = Cascade(data.lbp_frontal_face_cascade_filename())
    gray = _gray(pixels) / 255.0
    side = min(gray.shape)
    found = detector.detect_multi_scale(
        img=gray, scale_factor=1.2, step_ratio=1, min_size=(24, 24), max_size=(side, side)
    )
    shapes = []
    for k, face in enumerate(found[:20]):
        shapes.append(
            {
                "type": "box",
                "id": f"face-{k}",
                "label": "face",
                "x": float(face["c"]),
                "y": float(face["r"]),
                "width": float(face["width"]),
                "height": float(face["height"]),
            }
        )
    return shapes


def _blobs(pixels: np.ndarray) -> list[dict[str, Any]]:
    from skimage.feature import blob_log

    gray = _gray(pixels) / 255.0
    found = blob_log(gray, max_sigma=20, num_sigma=5, threshold=0.2)
    shapes = []
    for k, (row, col, sigma) in enumerate(found[:30]):
        radius = float(sigma) * 1.414
        shapes.append(
            {
                "type": "box",
                "id": f"blob-{k}",
                "label": "blob",
                "x": max(0.0, float(col) - radius),
                "y": max(0.0, float(row) - radius),
                "width": max(1.0, 2 * radius),
                "height": max(1.0, 2 * radius),
                "confidence": round(min(1.0, float(sigma) / 20), 3),
            }
        )
    return shapes


def _metadata(name: str, pixels: np.ndarray, tile: str) -> dict[str, Any]:
    gray = _gray(pixels)
    gy, gx = np.gradient(gray)
    return {
        "source": name,
        "tile": tile,
        "brightness": round(float(gray.mean()), 1),
        "contrast": round(float(gray.std()), 1),
        "colour": bool(pixels.ndim == 3),
        "edges": round(float(np.hypot(gx, gy).mean()), 2),
    }


def _pieces(name: str, pixels: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The photograph whole, then its 3 x 3 tiles."""
    height, width = pixels.shape[:2]
    found = [("whole", pixels)]
    for row in range(3):
        for col in range(3):
            found.append(
                (
                    f"{row}-{col}",
                    np.ascontiguousarray(
                        pixels[
                            row * height // 3 : (row + 1) * height // 3,
                            col * width // 3 : (col + 1) * width // 3,
                        ]
                    ),
                )
            )
    return found


def seed(
    *, session: Session, store: blobs.BlobStore, settings: Settings, actor: Actor
) -> DemoDataset:
    """Create the demo dataset once."""
    from assay.curation.embedders import get_embedder

    existing = session.scalar(
        select(models.Dataset.id).where(
            models.Dataset.name == DATASET_NAME,
            models.Dataset.mode == actor.mode,
            models.Dataset.deleting.is_(False),
        )
    )
    if existing is not None:
        return DemoDataset(existing, created=False)
    dataset = datasets.create_dataset(
        session=session,
        mode=actor.mode,
        name=DATASET_NAME,
        created_by=actor.user_id,
        metadata={"about": "scikit-image's sample photographs, whole and in 3 x 3 tiles"},
    )
    embedder = get_embedder("tiny-image")
    records, faces, found_blobs, vectors = [], {}, {}, {}
    for name, subject in PHOTOS.items():
        pixels = _image(name)
        if pixels is None:
            continue
        for tile, piece in _pieces(name, pixels):
            reference = f"{name}/{tile}"
            payload = _png(piece)
            blob = blobs.store_upload(
                session=session,
                store=store,
                stream=io.BytesIO(payload),
                filename=f"{name}-{tile}.png",
                declared_type=None,
                actor=actor,
                limit=settings.max_upload_bytes,
            )
            records.append(
                {
                    "reference_id": reference,
                    "media": f"blob:{blob.sha256}",
                    "width": int(piece.shape[1]),
                    "height": int(piece.shape[0]),
                    "metadata": _metadata(name, piece, tile),
                    "tags": ["whole"] if tile == "whole" else [],
                    "annotations": [{"type": "category", "label": subject}],
                }
            )
            faces[reference] = _faces(piece)
            found_blobs[reference] = _blobs(piece)
            vectors[reference] = embedder.embed_images([payload])[0]
    session.flush()
    items.append_items(
        session=session,
        dataset=dataset,
        actor=actor,
        append=wire.decode(msgspec.json.encode({"items": records}), wire.AppendIn),
        max_items=settings.max_append_items,
    )
    subjects = [r["annotations"][0]["label"] for r in records]
    demo_models = {}
    for name, about, predictions in (
        ("lbp_faces", "scikit-image's LBP frontal-face cascade", faces),
        ("log_blobs", "scikit-image's Laplacian-of-Gaussian blob detector", found_blobs),
        (
            "knn_tiles",
            "the subject voted by the 5 nearest other items in the tiny-image space",
            _knn_subjects([r["reference_id"] for r in records], subjects, vectors),
        ),
    ):
        model = models.Model(
            mode=actor.mode,
            name=name,
            reference_id=f"demo-{name}",
            metadata={"about": about},
            created_by=actor.user_id,
        )
        session.add(model)
        session.flush()
        _predictions(session, dataset, model.id, predictions)
        demo_models[name] = model
    session.refresh(dataset)
    embeddings.upload(
        session=session,
        dataset=dataset,
        upload_in=embeddings.EmbeddingsIn(
            space="tiny-image",
            items=[
                embeddings.EmbeddingIn(reference_id=r, vector=v.tolist())
                for r, v in vectors.items()
            ],
        ),
    )
    session.refresh(dataset)
    slices.create_slice(
        session=session,
        dataset=dataset,
        name="dark",
        kind="dynamic",
        query="metadata.brightness < 80",
        created_by=actor.user_id,
    )
    cat = [r["reference_id"] for r in records if r["metadata"]["source"] == "chelsea"]
    slices.create_slice(
        session=session,
        dataset=dataset,
        name="the cat",
        reference_ids=cat,
        created_by=actor.user_id,
    )
    session.refresh(dataset)
    tag, _ = similarity.refine(
        session=session,
        dataset=dataset,
        name="cat",
        space="tiny-image",
        positive=cat[:4],
        negative=[r["reference_id"] for r in records if r["metadata"]["source"] == "moon"][:3],
        top_k=60,
        created_by=actor.user_id,
    )
    session.refresh(dataset)
    similarity.commit(session=session, dataset=dataset, tag=tag)
    # The k-NN model evaluated against the subjects (a job the server runs on start), so the
    # Models page and `prediction.match = fp` have something to show.
    evaluations.start_evaluation(
        session=session,
        dataset=dataset,
        model=demo_models["knn_tiles"],
        actor=actor,
        task="classification",
        name="knn_tiles on every item",
    )
    return DemoDataset(dataset.id, created=True)


def _knn_subjects(
    references: list[str], subjects: list[str], vectors: dict[str, np.ndarray], k: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """Each item's subject by a vote of its k nearest other items (cosine): a real, if
    simple, classifier whose mistakes the Models page shows."""
    matrix = np.stack([vectors[r] for r in references]).astype(np.float64)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    similar = matrix @ matrix.T
    np.fill_diagonal(similar, -np.inf)
    nearest = np.argsort(-similar, axis=1, kind="stable")[:, :k]
    labels = sorted(set(subjects))
    out: dict[str, list[dict[str, Any]]] = {}
    for row, reference in enumerate(references):
        votes = {label: 0 for label in labels}
        for other in nearest[row]:
            votes[subjects[other]] += 1
        best = max(labels, key=lambda label: (votes[label], -labels.index(label)))
        out[reference] = [
            {
                "type": "category",
                "label": best,
                "confidence": votes[best] / k,
                "class_pdf": {label: votes[label] / k for label in labels},
            }
        ]
    return out


def _predictions(
    session: Session, dataset: models.Dataset, model_id: str, shapes: dict[str, list]
) -> None:
    """A model's predictions, one row per item (as `annotations` uploads them)."""
    from sqlalchemy import update

    from assay.curation.datasets import DATASETS

    known = items.existing_items(session, dataset.id, list(shapes))
    rows, total = [], 0
    for reference_id, found in shapes.items():
        if not found:
            continue
        decoded = msgspec.convert(found, type=list[wire.Shape])
        rows.append(
            {
                "item_id": known[reference_id],
                "source_id": model_id,
                "shapes": msgspec.to_builtins(decoded),
                "count": len(decoded),
            }
        )
        total += len(decoded)
    revision = datasets.next_revision(session, dataset.id)
    if rows:
        session.execute(models.Annotation.__table__.insert(), rows)
        session.execute(
            update(models.Item.__table__)
            .where(models.Item.__table__.c.id.in_([r["item_id"] for r in rows]))
            .values(revision=revision)
        )
    session.execute(
        update(DATASETS)
        .where(DATASETS.c.id == dataset.id)
        .values(prediction_count=DATASETS.c.prediction_count + total)
    )
