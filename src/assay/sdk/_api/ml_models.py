from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Model, Page, PredictionsWritten


class ModelsAPI(API):
    create = endpoint("POST", "/models", returns=Model, create=True)
    list = endpoint("GET", "/models", returns=Page[Model])
    # Uploading the same predictions again replaces them by id: harmless to repeat.
    predictions = endpoint(
        "POST", "/datasets/{dataset_id}/predictions", returns=PredictionsWritten, retry=True
    )
