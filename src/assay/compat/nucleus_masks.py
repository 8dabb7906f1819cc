"""Nucleus segmentation masks ↔ the annotation model's masks.

A Nucleus segmentation is one PNG at `mask_url` whose pixel values are indices, and a list
`annotations: [{label, index, metadata?}]` naming them. Assay keeps masks as run-length
encodings (uncompressed COCO RLE, column-major, zeros first), which the snapshots, queries
and the labeling editor read. So on upload the PNG is fetched (through `core.outbound`, the
policy every server-side fetch goes through) and decoded, and each named index becomes one
`wire.Mask` of its label, id `<annotation_id>#<index>`; the attribute `nucleus_mask` keeps
the segmentation's id, index and `mask_url`, so reads group them back into one Nucleus
segmentation with the URL the client sent. Decided here: masks are decoded, not kept as an
opaque blob reference, so they are first-class objects of the curation pillar.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from assay.core import outbound
from assay.core.errors import Invalid
from assay.core.settings import Settings
from assay.curation import wire
from assay.curation.annotations import Placed
from assay.metrics.rle import from_binary as rle

MASK_KEY = "nucleus_mask"
MAX_MASK_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 50_000_000


def decode_png(data: bytes, field: str) -> np.ndarray:
    """The mask's (height, width) array of indices."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise Invalid(
                    f"the mask has {image.width * image.height} pixels; at most {MAX_PIXELS}",
                    field=field,
                )
            if image.mode not in ("L", "P", "I", "I;16", "1"):
                image = image.getchannel(0)
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError):
        raise Invalid("the mask is not an image (a PNG of label indices)", field=field) from None


def fetch_mask(url: str, settings: Settings, field: str) -> np.ndarray:
    if not isinstance(url, str) or not url:
        raise Invalid("a segmentation needs a mask_url", field=field)
    data = outbound.fetch_file(
        url, settings, max_bytes=MAX_MASK_BYTES, field=field, what="the mask"
    )
    return decode_png(data, field)


def masks_in(
    payload: Any,
    path: str,
    settings: Settings,
    *,
    prediction: bool,
    local: dict[str, tuple[bytes, str]] | None = None,
) -> list[Placed]:
    """One Nucleus segmentation as masks, one per named index. `local` holds the mask files
    sent with the request (multipart) by the path the client named them with: their bytes
    and the blob they were stored as (the mask's URL becomes `blob:<sha256>`)."""
    if not isinstance(payload, dict):
        raise Invalid(f"{path} must be a JSON object", field=path)
    reference_id, item_id = payload.get("reference_id"), payload.get("item_id")
    if not reference_id and not item_id:
        raise Invalid(
            "every segmentation needs the reference_id of its item", field=f"{path}.reference_id"
        )
    segments = payload.get("annotations")
    if not isinstance(segments, list) or not segments:
        raise Invalid("a segmentation names its labels in annotations", field=f"{path}.annotations")
    mask_url = payload.get("mask_url")
    if local and mask_url in local:
        data, sha256 = local[mask_url]
        array = decode_png(data, f"{path}.mask_url")
        mask_url = f"blob:{sha256}"
    else:
        array = fetch_mask(mask_url, settings, f"{path}.mask_url")
    height, width = array.shape[:2]
    segmentation_id = payload.get("annotation_id") or f"mask-{reference_id or item_id}"
    placed = []
    for k, segment in enumerate(segments):
        at = f"{path}.annotations[{k}]"
        if not isinstance(segment, dict) or not isinstance(segment.get("index"), int):
            raise Invalid("each segment has a label and an integer index", field=f"{at}.index")
        index = segment["index"]
        attributes = {
            **(segment.get("metadata") or {}),
            MASK_KEY: {"id": segmentation_id, "index": index, "mask_url": mask_url},
        }
        body: dict[str, Any] = {
            "type": "mask",
            "id": f"{segmentation_id}#{index}",
            "label": segment.get("label"),
            "rle": {"size": [height, width], "counts": rle(array == index)},
            "attributes": attributes,
        }
        if prediction and payload.get("confidence") is not None:
            body["confidence"] = payload["confidence"]
        try:
            shape = wire.msgspec.convert(body, type=wire.Mask)
        except wire.msgspec.ValidationError as error:
            raise Invalid(f"{error} at {at}", field=at) from None
        placed.append(
            Placed(reference_id or None, item_id.removeprefix("di_") if item_id else None, shape)
        )
    return placed


def segmentations_out(
    shapes: list[dict[str, Any]],
    *,
    reference_id: str,
    dataset_item_id: str,
    show: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """Stored masks written from Nucleus segmentations, grouped back into them; `show` gives
    the URL a stored mask URL is read at (uploaded masks: a signed media URL)."""
    grouped: dict[str, dict[str, Any]] = {}
    for data in shapes:
        origin = data.get("attributes", {}).get(MASK_KEY)
        if data.get("type") != "mask" or not origin:
            continue
        one = grouped.setdefault(
            origin["id"],
            {
                "type": "segmentation",
                "annotation_id": origin["id"],
                "mask_url": show(origin["mask_url"]),
                "reference_id": reference_id,
                "dataset_item_id": dataset_item_id,
                "annotations": [],
            },
        )
        metadata = {k: v for k, v in data.get("attributes", {}).items() if k != MASK_KEY}
        one["annotations"].append(
            {"label": data["label"], "index": origin["index"], "metadata": metadata}
        )
        if data.get("confidence") is not None:
            one["confidence"] = data["confidence"]
    return list(grouped.values())
