"""`Dataset.deduplicate` and `deduplicate_by_ids` through the official client (0.22): real
photographs uploaded as local files — one of them also shrunk and re-encoded as JPEG — are
hashed by the `deduplication` job, and the result keeps the first of each group of copies;
a threshold outside 0..64 and an unknown reference id are the client's NucleusAPIError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from tests.compat.nucleus.test_items import WAIT
from tests.conftest import Account

pytestmark = pytest.mark.live

RUN = """
import nucleus
from nucleus import DatasetItem
ds = client.create_dataset("copies", is_scene=False)
finish(ds.append([DatasetItem(image_location=p, reference_id=r) for r, p in args["files"]]))
whole = ds.deduplicate(threshold=4).result()
loose = ds.deduplicate(threshold=64).result()
some = ds.deduplicate(threshold=4, reference_ids=["cat-jpeg", "camera", "cat"]).result()
ids = {i.reference_id: i.dataset_item_id for i in ds.items}
by_ids = ds.deduplicate_by_ids(threshold=0, dataset_item_ids=[ids["cat-small"], ids["cat"]])
by_ids = by_ids.result()
errors = {}
for name, call in (("threshold", lambda: ds.deduplicate(threshold=65)),
                   ("unknown", lambda: ds.deduplicate(threshold=3, reference_ids=["nope"]))):
    try:
        call()
        errors[name] = "accepted"
    except nucleus.errors.NucleusAPIError as error:
        errors[name] = [error.status_code, str(error)]
def summary(found):
    return {"refs": found.unique_reference_ids, "ids": found.unique_item_ids,
            "stats": [found.stats.threshold, found.stats.original_count,
                      found.stats.deduplicated_count]}
result = {"whole": summary(whole), "loose": summary(loose), "some": summary(some),
          "by_ids": summary(by_ids), "ids": ids, "errors": errors}
"""


def _save(image: np.ndarray, path: Path, kind: str, size: tuple[int, int] | None = None) -> str:
    picture = Image.fromarray(image)
    if size:
        picture = picture.resize(size)
    buffer = io.BytesIO()
    picture.save(buffer, kind, **({"quality": 70} if kind == "JPEG" else {}))
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_deduplicate_keeps_the_first_of_each_group_of_copies(
    nucleus, manager: Account, tmp_path: Path
) -> None:
    cat, camera, astronaut = data.chelsea(), data.camera(), data.astronaut()
    files = [
        ("cat", _save(cat, tmp_path / "cat.png", "PNG")),
        ("camera", _save(camera, tmp_path / "camera.png", "PNG")),
        ("cat-small", _save(cat, tmp_path / "small.png", "PNG", (226, 150))),
        ("astronaut", _save(astronaut, tmp_path / "astronaut.png", "PNG")),
        ("cat-jpeg", _save(cat, tmp_path / "cat.jpg", "JPEG")),
    ]
    got = nucleus(manager.key, WAIT + RUN, args={"files": files})
    ids = got["ids"]
    assert got["whole"]["refs"] == ["cat", "camera", "astronaut"]
    assert got["whole"]["ids"] == [ids["cat"], ids["camera"], ids["astronaut"]]
    assert got["whole"]["stats"] == [4, 5, 3]
    assert got["loose"]["stats"] == [64, 5, 1] and got["loose"]["refs"] == ["cat"]
    # Only the items asked for, still in the order they were added.
    assert got["some"]["refs"] == ["cat", "camera"] and got["some"]["stats"] == [4, 3, 2]
    assert got["by_ids"]["stats"][1] == 2 and got["by_ids"]["refs"][0] == "cat"
    threshold_status, threshold_message = got["errors"]["threshold"]
    assert threshold_status == 400 and "threshold" in threshold_message
    unknown_status, unknown_message = got["errors"]["unknown"]
    assert unknown_status == 404 and "nope" in unknown_message
