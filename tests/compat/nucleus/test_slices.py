"""Slices through the official client (both lines): create by reference ids, info, append,
items, export for training, the dataset's and the account's lists, delete, errors."""

from __future__ import annotations

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live


def test_slices_created_appended_read_and_deleted(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem, BoxAnnotation
ds = client.create_dataset("slices")
answer = ds.append([DatasetItem(image_location=f"https://m.test/{n}.jpg", reference_id=f"img-{n}",
                                metadata={"n": n}) for n in range(6)])
if hasattr(answer, "sleep_until_complete"):  # 0.22 appends remote items as a job
    answer.sleep_until_complete(verbose_std_out=False)
ds.annotate([BoxAnnotation(label="car", x=1, y=2, width=3, height=4, reference_id="img-1",
                           annotation_id="b1")])
s = ds.create_slice("firsts", reference_ids=["img-0", "img-1"])
info = s.info()
s.append(["img-2", "img-1"])
items = sorted(i.reference_id for i in s.dataset_items())
rows = s.items_and_annotations()
listed = [x.id for x in ds.slices]
everywhere = [x.id for x in client.slices]
result = {
    "id": s.id, "name": info["name"], "dataset_id": info["dataset_id"], "items": items,
    "rows": sorted((r["item"].reference_id, len(r["annotations"]["box"])) for r in rows),
    "listed": listed, "everywhere": s.id in everywhere,
    "slice_ids": ds.info().slice_ids,
}
client.delete_slice(s.id)
result["after"] = [x.id for x in ds.slices]
try:
    ds.create_slice("bad", reference_ids=["img-0", "nope"])
    result["bad"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["bad"] = error.status_code
""",
    )
    assert got["id"].startswith("slc_")
    assert got["name"] == "firsts" and got["dataset_id"].startswith("ds_")
    assert got["items"] == ["img-0", "img-1", "img-2"]
    assert got["rows"] == [["img-0", 0], ["img-1", 1], ["img-2", 0]]
    assert got["listed"] == [got["id"]] and got["everywhere"] is True
    assert got["slice_ids"] == [got["id"]]
    assert got["after"] == []
    assert got["bad"] == 404
