"""Nucleus autotag reads (docs/nucleus-wire.md §3.10) over curation's autotags
(`curation/similarity.py`, `vectors/autotag.py`): the dataset's list, an autotag's scored
items above a threshold and its positive examples, its refinement metrics, delete, and
`update_autotag` (an `autotagInference` job scoring the dataset again with the autotag's
examples: items added since its commit get their scores).

An autotag's Nucleus id is `tag_` + its id; `completed` once committed (its scores are the
queryable `autotag.<name>`), `pending` while it is being refined. Scores are the committed
probabilities (0..1). Refining and committing happen in the explorer or the native API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assay.api.deps import Ctx, CurrentActor
from assay.compat import nucleus_format as fmt
from assay.compat.errors import ScaleRoute
from assay.compat.nucleus_common import (
    AUTOTAG_INFERENCE_JOB,
    job_actor,
    job_json,
    load_dataset,
    refusals_as_user_errors,
)
from assay.compat.nucleus_slices import AUTOTAG
from assay.compat.scale_common import OptionalJsonObject
from assay.core import jobs
from assay.core.auth import Actor
from assay.core.errors import Invalid, NotFound
from assay.core.jobs import job_kind
from assay.curation import models, similarity
from assay.curation.datasets import next_revision

router = APIRouter(route_class=ScaleRoute)
SCORES = models.AutotagScore.__table__
ITEMS = models.Item.__table__


def autotag_json(tag: models.Autotag) -> dict[str, Any]:
    return {
        "id": fmt.nucleus_id(AUTOTAG, tag.id),
        "name": tag.name,
        "status": "completed" if tag.committed_at else "pending",
        "autotag_level": "Image",
    }


def _load(session: Session, autotag_id: str, actor: Actor, *, write: bool = False):
    """(autotag, dataset) by the autotag's Nucleus id, or NotFound."""
    tag = session.get(models.Autotag, fmt.assay_id(AUTOTAG, autotag_id))
    if tag is None:
        raise NotFound(f"no autotag with id {autotag_id}", field="autotag_id")
    try:
        dataset = load_dataset(session, tag.dataset_id, actor, write=write)
    except NotFound:
        raise NotFound(f"no autotag with id {autotag_id}", field="autotag_id") from None
    return tag, dataset


@router.get("/{dataset_id}/list_autotags")
def list_autotags(dataset_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        tags = session.scalars(
            select(models.Autotag)
            .where(models.Autotag.dataset_id == dataset.id)
            .order_by(models.Autotag.name)
        )
        return {"autotags": [autotag_json(t) for t in tags]}


@router.post("/dataset/{dataset_id}/autotag/{name:path}/taggedItems")
def tagged_items(
    dataset_id: str, name: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """The committed scores above `score_threshold`, best first."""
    threshold = (body or {}).get("score_threshold", 0)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise Invalid("score_threshold must be a number", field="score_threshold")
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        tag = similarity.get_autotag(session=session, dataset=dataset, name=name)
        rows = session.execute(
            select(ITEMS.c.reference_id, SCORES.c.score)
            .join(ITEMS, ITEMS.c.id == SCORES.c.item_id)
            .where(SCORES.c.autotag_id == tag.id, SCORES.c.score > threshold)
            .order_by(SCORES.c.score.desc(), ITEMS.c.seq)
        )
        return {
            "autotagItems": [
                {
                    "ref_id": ref,
                    "score": score,
                    "model_prediction_annotation_id": None,
                    "ground_truth_annotation_id": None,
                }
                for ref, score in rows
            ],
            "autotag": autotag_json(tag),
        }


@router.get("/dataset/{dataset_id}/autotag/{name:path}/trainingItems")
def training_items(dataset_id: str, name: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    """The autotag's positive examples (reference ids, as it keeps them)."""
    with ctx.db.read() as session:
        dataset = load_dataset(session, dataset_id, actor)
        tag = similarity.get_autotag(session=session, dataset=dataset, name=name)
        return {
            "autotagPositiveTrainingItems": [{"ref_id": ref} for ref in tag.positive],
            "autotag": autotag_json(tag),
        }


@router.get("/autotag/{autotag_id}/refinementMetrics")
def refinement_metrics(
    autotag_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """Rounds and positives are kept; a round's duration is not (None)."""
    with ctx.db.read() as session:
        tag, _ = _load(session, autotag_id, actor)
        rounds = tag.rounds or 0
        return {
            "total_refinement_steps": rounds,
            "average_positives_selected_per_refinement": (
                len(tag.positive) / rounds if rounds else 0.0
            ),
            "average_ms_taken_in_refinement": None,
        }


@router.delete("/autotag/{autotag_id}")
def delete_autotag(
    autotag_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """The autotag and its scores go; the scored items get the next revision, so snapshots
    catch up with `autotag.<name>` missing on every item."""
    with ctx.db.write() as session:
        tag, dataset = _load(session, autotag_id, actor, write=True)
        scored = list(
            session.scalars(select(SCORES.c.item_id).where(SCORES.c.autotag_id == tag.id))
        )
        session.delete(tag)
        session.flush()
        if scored:
            revision = next_revision(session, dataset.id)
            for start in range(0, len(scored), 500):
                chunk = scored[start : start + 500]
                session.execute(
                    update(ITEMS).where(ITEMS.c.id.in_(chunk)).values(revision=revision)
                )
    return {"autotag_id": autotag_id, "deleted": True}


@router.post("/autotag/{autotag_id}")
def update_autotag(
    autotag_id: str, actor: CurrentActor, ctx: Ctx, body: OptionalJsonObject = None
) -> dict[str, Any]:
    """Score the dataset again with the autotag's examples, as a job."""
    with ctx.db.write() as session:
        tag, _ = _load(session, autotag_id, actor, write=True)
        if not tag.committed_at:
            raise Invalid("the autotag is still being refined; commit it first", field="autotag_id")
        job = jobs.enqueue(
            session=session,
            kind=AUTOTAG_INFERENCE_JOB,
            payload={"autotag_id": tag.id, "user_id": actor.user_id, "mode": actor.mode},
            actor=actor,
        )
        return job_json(job)


@job_kind(AUTOTAG_INFERENCE_JOB, max_attempts=2)
def run_autotag_inference(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    with refusals_as_user_errors(), ctx.db.write() as session:
        actor = job_actor(session, payload)
        tag, dataset = _load(
            session, fmt.nucleus_id(AUTOTAG, payload["autotag_id"]), actor, write=True
        )
        scored = similarity.commit(session=session, dataset=dataset, tag=tag)
    return {"scored": scored}
