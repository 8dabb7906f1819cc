from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Job, Model, Page, PredictionsWritten


class ModelsAPI(API):
    create = endpoint("POST", "/models", returns=Model, create=True)
    list = endpoint("GET", "/models", returns=Page[Model])
    get = endpoint("GET", "/models/{model_id}", returns=Model)
    # Not retried: a second request would queue a second run (harmless, but twice the work).
    run = endpoint("POST", "/models/{model_id}/runs", returns=Job)
    # Uploading the same predictions again replaces them by id: harmless to repeat.
    predictions = endpoint(
        "POST", "/datasets/{dataset_id}/predictions", returns=PredictionsWritten, retry=True
    )
