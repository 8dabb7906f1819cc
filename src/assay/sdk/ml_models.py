"""`client.models`: models whose predictions you upload onto datasets (shell), or that Assay
runs over a dataset's items as a job (hosted: a registered Python callable or an
OpenAI-compatible endpoint)."""

from __future__ import annotations

from typing import Any

from assay.sdk._api.ml_models import ModelsAPI
from assay.sdk._http import HTTP
from assay.sdk.models import Job, Model, PredictionsWritten
from assay.sdk.query import Expr


class Models:
    def __init__(self, http: HTTP) -> None:
        self._api = ModelsAPI(http)

    def create(
        self,
        name: str,
        *,
        reference_id: str,
        metadata: dict[str, Any] | None = None,
        runner: dict[str, Any] | None = None,
    ) -> Model:
        """A model; `reference_id` is yours and unique. With `runner`, a hosted model:
        `{"type": "python", "name": <registered>}` or `{"type": "openai", "base_url",
        "model", "prompt", "labels", "api_key"}` (the key is stored encrypted, never shown
        again). Safe to retry."""
        body: dict[str, Any] = {"name": name, "reference_id": reference_id}
        body["metadata"] = metadata or {}
        if runner is not None:
            body["runner"] = runner
        return self._api.create(json=body)

    def list(self) -> list[Model]:
        return self._api.list().items

    def get(self, model_id: str) -> Model:
        return self._api.get(model_id=model_id)

    def run(
        self,
        model_id: str,
        dataset_id: str,
        *,
        slice_id: str | None = None,
        query: str | Expr | None = None,
        name: str | None = None,
    ) -> Job:
        """Run a hosted model over the dataset's items (a slice's, or a query's) as a job
        that writes its predictions; `client.jobs.wait(job.id)` for the result."""
        body: dict[str, Any] = {"dataset_id": dataset_id, "slice_id": slice_id, "name": name}
        body["query"] = query.to_json() if isinstance(query, Expr) else query
        return self._api.run(model_id=model_id, json=body)

    def upload_predictions(
        self,
        dataset_id: str,
        model_id: str,
        predictions: dict[str, list[dict[str, Any]]],
        *,
        update: bool = True,
    ) -> PredictionsWritten:
        """Predictions by item reference id (shapes with `confidence`); a prediction whose
        `id` the item has from this model already is replaced (`update=False` keeps it)."""
        return self._api.predictions(
            dataset_id=dataset_id,
            json={"model_id": model_id, "items": predictions, "update": update},
        )
