from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Blob, BlobUrl


class BlobsAPI(API):
    # Content-addressed: uploading the same bytes again returns the same blob.
    upload = endpoint("POST", "/blobs", returns=Blob, retry=True)
    get = endpoint("GET", "/blobs/{sha256}", returns=Blob)
    url = endpoint("POST", "/blobs/{sha256}/url", returns=BlobUrl, retry=True)
