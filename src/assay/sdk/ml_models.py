"""`client.models`: models whose predictions you upload onto datasets."""

from __future__ import annotations

from typing import Any

from assay.sdk._api.ml_models import ModelsAPI
from assay.sdk._http import HTTP
from assay.sdk.models import Model, PredictionsWritten


class Models:
    def __init__(self, http: HTTP) -> None:
        self._api = ModelsAPI(http)

    def create(
        self, name: str, *, reference_id: str, metadata: dict[str, Any] | None = None
    ) -> Model:
        """A model; `reference_id` is yours and unique. Safe to retry."""
        return self._api.create(
            json={"name": name, "reference_id": reference_id, "metadata": metadata or {}}
        )

    def list(self) -> list[Model]:
        return self._api.list().items

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
