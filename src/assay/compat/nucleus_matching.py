"""Nucleus's matching options (`Dataset.calculate_evaluation_metrics(model, options)`,
`ModelRun.commit(payload)`) as an Assay detection evaluation's parameters
(docs/nucleus-wire.md §3.5): `class_agnostic` (true by default, as Nucleus's) and
`allowed_label_matches` — `[{"ground_truth_label", "model_prediction_label"}]`, pairs that
may match one way (`curation/evaluation_label_matches.py`); with pairs `class_agnostic`
defaults to false, and true is a 400. Errors name the option (`allowed_label_matches[0].
ground_truth_label`), not the native API's `params.` path."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from assay.core.auth import Actor
from assay.core.errors import Invalid
from assay.curation import evaluations, models

OPTIONS = ("class_agnostic", "allowed_label_matches")


def evaluation_params(options: dict[str, Any]) -> dict[str, Any]:
    pairs = options.get("allowed_label_matches")
    params: dict[str, Any] = {"class_agnostic": options.get("class_agnostic", pairs in (None, []))}
    if pairs is not None:
        params["allowed_label_matches"] = pairs
    return params


def start_matching(
    *,
    session: Session,
    dataset: models.Dataset,
    model: models.Model,
    actor: Actor,
    options: dict[str, Any],
) -> models.Evaluation:
    """The evaluation of the model on the dataset with these options, queued."""
    try:
        return evaluations.start_evaluation(
            session=session,
            dataset=dataset,
            model=model,
            actor=actor,
            params=evaluation_params(options),
        )
    except Invalid as error:
        if error.field and error.field.startswith("params."):
            raise Invalid(error.message, field=error.field.removeprefix("params.")) from None
        raise
