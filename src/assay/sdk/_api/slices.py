from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import LabelingLink, Page, Slice, SliceItems, SliceMembersChanged


class SlicesAPI(API):
    create = endpoint("POST", "/datasets/{dataset_id}/slices", returns=Slice, create=True)
    list = endpoint("GET", "/datasets/{dataset_id}/slices", returns=Page[Slice])
    get = endpoint("GET", "/datasets/{dataset_id}/slices/{slice_id}", returns=Slice)
    items = endpoint("GET", "/datasets/{dataset_id}/slices/{slice_id}/items", returns=SliceItems)
    # Adding what is there or removing what is gone changes nothing.
    add = endpoint(
        "POST",
        "/datasets/{dataset_id}/slices/{slice_id}/items",
        returns=SliceMembersChanged,
        retry=True,
    )
    remove = endpoint(
        "POST",
        "/datasets/{dataset_id}/slices/{slice_id}/items/remove",
        returns=SliceMembersChanged,
        retry=True,
    )
    delete = endpoint(
        "DELETE", "/datasets/{dataset_id}/slices/{slice_id}", returns=SliceMembersChanged
    )
    send = endpoint(
        "POST",
        "/datasets/{dataset_id}/slices/{slice_id}/send",
        returns=LabelingLink,
        create=True,
    )
    links = endpoint("GET", "/datasets/{dataset_id}/labeling", returns=Page[LabelingLink])
