"""Dataset items through the official client (both lines): appends (0.22's signed-URL
upload and job, 0.18's sync batches and its async path, local images as multipart), reads
by index, reference id and id, pages, export, deletes, metadata updates; bad items refused
naming the field, nothing written."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.live

# Waits on whatever append answers: 0.22 answers a job, 0.18 counts.
WAIT = """
def finish(answer):
    if hasattr(answer, "sleep_until_complete"):
        answer.sleep_until_complete(verbose_std_out=False)
        return answer.status()["status"]
    return answer.json()
"""


def test_append_update_and_read_items(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        WAIT
        + """
from nucleus import DatasetItem
ds = client.create_dataset("items", is_scene=False)
items = [
    DatasetItem(image_location=f"https://images.example/{i}.jpg", reference_id=f"img/{i}",
                metadata={"i": i, "split": "train"}, width=640, height=480)
    for i in range(3)
]
first = finish(ds.append(items))
again = finish(ds.append([DatasetItem(image_location="https://images.example/x.jpg",
                                      reference_id="img/0", metadata={"i": 99})]))
kept = ds.refloc("img/0")["item"]
changed = finish(ds.append([DatasetItem(image_location="https://images.example/x.jpg",
                                        reference_id="img/0", metadata={"i": 99})], update=True))
one = ds.refloc("img/0")
by_index = ds.iloc(2)["item"]
import requests
raw = client.make_request({}, f"dataset/{ds.id}/refloc/img/0", requests_command=requests.get)
by_id = ds.loc(raw["item"]["dataset_item_id"])
listed = ds.items
paged = list(ds.items_generator(page_size=2))
exported = ds.items_and_annotations()
result = {
    "first": first, "again": again, "changed": changed,
    "kept": kept.image_location, "one": one["item"].image_location,
    "one_meta": one["item"].metadata, "annotations": one["annotations"],
    "by_index": by_index.reference_id, "di": raw["item"]["dataset_item_id"],
    "by_id": by_id["item"].reference_id,
    "listed": sorted(i.reference_id for i in listed),
    "paged": [i.reference_id for i in paged],
    "exported": sorted(row["item"].reference_id for row in exported),
    "size": ds.size, "length": ds.info().length,
    # The client reads no width and height back: the raw answer has them.
    "dims": [client.make_request({}, f"dataset/{ds.id}/refloc/img/1",
                                 requests_command=requests.get)["item"][k]
             for k in ("width", "height")],
}
""",
    )
    if isinstance(got["first"], dict):  # 0.18's sync counts
        assert got["first"]["new_items"] == 3
        assert got["again"]["ignored_items"] == 1
        assert got["changed"]["updated_items"] == 1
    else:
        assert got["first"] == got["again"] == got["changed"] == "Completed"
    assert got["kept"] == "https://images.example/0.jpg"
    assert got["one"] == "https://images.example/x.jpg"
    assert got["one_meta"] == {"i": 99}
    assert not any(got["annotations"].values())
    assert got["by_index"] == "img/2"
    assert got["by_id"] == "img/0"
    assert got["di"].startswith("di_")
    assert got["listed"] == ["img/0", "img/1", "img/2"]
    assert got["paged"] == ["img/0", "img/1", "img/2"]
    assert got["exported"] == ["img/0", "img/1", "img/2"]
    assert got["size"] == got["length"] == 3
    assert got["dims"] == [640, 480]


def test_delete_item_and_update_metadata(nucleus, manager: Account) -> None:
    got = nucleus(
        manager.key,
        WAIT
        + """
from nucleus import DatasetItem
ds = client.create_dataset("meta", is_scene=False)
finish(ds.append([DatasetItem(image_location=f"https://images.example/{i}.jpg",
                              reference_id=f"r{i}", metadata={"a": 1, "b": 2}) for i in range(3)]))
ds.delete_item("r1")
ds.update_item_metadata({"r0": {"b": 3, "c": "x"}})
result = {
    "refs": sorted(i.reference_id for i in ds.items),
    "meta": ds.refloc("r0")["item"].metadata,
    "size": ds.size,
}
try:
    ds.refloc("r1")
    result["gone"] = "still there"
except nucleus.errors.NucleusAPIError as error:
    result["gone"] = error.status_code
""",
    )
    assert got["refs"] == ["r0", "r2"]
    assert got["meta"] == {"a": 1, "b": 3, "c": "x"}
    assert got["size"] == 2
    assert got["gone"] == 404


def _png(path: Path, width: int, height: int) -> None:
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_local_images_upload_as_blobs_and_read_back(
    nucleus, manager: Account, tmp_path: Path
) -> None:
    paths = []
    for i in range(2):
        path = tmp_path / f"local {i}.png"
        _png(path, 4 + i, 3)
        paths.append(str(path))
    got = nucleus(
        manager.key,
        WAIT
        + """
import urllib.request
from nucleus import DatasetItem
ds = client.create_dataset("local", is_scene=False)
answer = finish(ds.append([DatasetItem(image_location=p, reference_id=f"local-{i}")
                           for i, p in enumerate(args["paths"])]))
item = ds.refloc("local-1")["item"]
with urllib.request.urlopen(item.image_location) as response:
    body = response.read()
result = {"answer": answer, "url": item.image_location, "bytes": len(body),
          "png": body[:4] == b"\\x89PNG", "size": ds.size}
""",
        args={"paths": paths},
    )
    if isinstance(got["answer"], dict):
        assert got["answer"]["new_items"] == 2
    else:
        assert got["answer"] == "Completed"
    assert "/media/" in got["url"]
    assert got["png"] is True
    assert got["bytes"] == Path(paths[1]).stat().st_size
    assert got["size"] == 2


def test_a_bad_item_is_refused_naming_the_field_and_nothing_is_written(
    nucleus, nucleus_line: str, manager: Account
) -> None:
    got = nucleus(
        manager.key,
        """
from nucleus import DatasetItem
ds = client.create_dataset("bad", is_scene=False)
items = [DatasetItem(image_location="https://images.example/ok.jpg", reference_id="ok"),
         DatasetItem(image_location="https://images.example/bad.jpg", reference_id="bad",
                     width=-5, height=10)]
result = {}
try:
    answer = ds.append(items)
    if hasattr(answer, "sleep_until_complete"):
        answer.sleep_until_complete(verbose_std_out=False)
    result["outcome"] = "accepted"
except nucleus.errors.NucleusAPIError as error:
    result["outcome"] = error.status_code
    result["message"] = error.message
except nucleus.async_job.JobError as error:
    result["outcome"] = "job error"
    result["message"] = str(error)
    result["errors"] = answer.errors()
result["size"] = ds.size
""",
    )
    if nucleus_line == "0.18":
        assert got["outcome"] == 400
    else:
        assert got["outcome"] == "job error"
        assert len(got["errors"]) == 1 and "items[1].width" in got["errors"][0]
    assert "items[1].width" in got["message"]
    assert got["size"] == 0
