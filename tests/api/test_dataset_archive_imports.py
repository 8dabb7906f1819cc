"""Importing a zip or tar of images, plain and in YOLO's layout, as a job: items with their
stored images and sizes, YOLO boxes and polygons in pixels (read back through the query
API), and the archives refused naming the entry: paths leading out, zip bombs, links,
broken entries, bad label lines. Also folder imports under the server's import root."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.api.test_dataset_imports import API, items_of, ok, run, upload, wait


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


@pytest.fixture
def dataset(client, manager) -> str:
    return ok(client.post(f"{API}/datasets", json={"name": "archives"}, headers=manager.headers))[
        "id"
    ]


def png(width: int, height: int, shade: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 100, 200)).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, "JPEG")
    return out.getvalue()


def zipped(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tarred(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def import_archive(client, account, dataset: str, data: bytes, fmt: str, name="a.zip") -> dict:
    sha = upload(client, account, name, data, "application/octet-stream")
    return run(client, account, dataset, sha, fmt)


def query(client, account, dataset: str, **body) -> dict:
    return ok(client.post(f"{API}/datasets/{dataset}/query", json=body, headers=account.headers))


YOLO = {
    "coco8/data.yaml": b"path: .\ntrain: images/train\nval: images/val\nnames:\n  0: person\n"
    b"  1: dog\n",
    "coco8/images/train/a.png": png(200, 100),
    "coco8/labels/train/a.txt": b"0 0.5 0.5 0.2 0.4\n1 0.25 0.75 0.1 0.1\n",
    "coco8/images/val/b.jpg": jpeg(64, 32),
    "coco8/labels/val/b.txt": b"1 0.0 0.0 1.0 0.0 1.0 1.0 0.5 1.0\n",
    "coco8/images/val/c.png": png(10, 10),  # no label file: an image with no objects
    "coco8/labels/val/orphan.txt": b"0 0.5 0.5 0.1 0.1\n",
    "coco8/README.md": b"not an image",
}


def test_yolo_archive_boxes_and_polygons_in_pixels(client, manager, dataset, pool):
    job = import_archive(client, manager, dataset, zipped(YOLO), "yolo")
    assert job["status"] == "succeeded", job
    # the orphan label file and the README are skipped and counted
    assert job["result"] == {"items": 3, "new": 3, "updated": 0, "skipped": 2}
    assert job["progress"] == 1.0

    found = items_of(client, manager, dataset)
    assert sorted(found) == [
        "coco8/images/train/a",
        "coco8/images/val/b",
        "coco8/images/val/c",
    ]
    a = found["coco8/images/train/a"]
    assert (a["width"], a["height"]) == (200, 100)
    assert a["metadata"] == {"folder": "coco8/images/train", "split": "train"}
    assert a["media"].startswith("blob:")
    stored = client.get(f"{API}/blobs/{a['media'][5:]}", headers=manager.headers)
    assert ok(stored)["content_type"] == "image/png"
    assert found["coco8/images/val/c"]["annotations"] == []

    boxes = query(
        client, manager, dataset, view="objects", query='object.label = "person"', limit=10
    )
    assert boxes["count"] == 1
    shape = boxes["items"][0]["shape"]
    # cx .5, cy .5, w .2, h .4 of 200 x 100 → 80, 30, 40 x 40
    assert (shape["type"], shape["x"], shape["y"], shape["width"], shape["height"]) == (
        "box",
        80,
        30,
        40,
        40,
    )
    dogs = query(client, manager, dataset, view="objects", query='object.label = "dog"', limit=10)
    assert dogs["count"] == 2
    by_type = {row["shape"]["type"]: row for row in dogs["items"]}
    assert by_type["box"]["shape"] | {} == {
        "type": "box",
        "label": "dog",
        "x": 40,
        "y": 70,
        "width": 20,
        "height": 10,
    }
    polygon = by_type["polygon"]
    assert polygon["reference_id"] == "coco8/images/val/b"
    assert polygon["shape"]["vertices"] == [
        {"x": 0, "y": 0},
        {"x": 64, "y": 0},
        {"x": 64, "y": 32},
        {"x": 32, "y": 32},
    ]
    val = query(client, manager, dataset, query='metadata.split = "val"')
    assert val["count"] == 2

    # Again: updates, duplicates nothing.
    again = import_archive(client, manager, dataset, zipped(YOLO), "yolo")
    assert again["result"]["updated"] == 3 and again["result"]["new"] == 0
    info = ok(client.get(f"{API}/datasets/{dataset}", headers=manager.headers))
    assert (info["item_count"], info["annotation_count"]) == (3, 3)


def test_yolo_names_from_a_list_or_classes_txt_or_numbers(client, manager, accounts, pool):
    def labels(files: dict[str, bytes]) -> list[str]:
        dataset = ok(client.post(f"{API}/datasets", json={"name": "y"}, headers=manager.headers))
        job = import_archive(client, manager, dataset["id"], tarred(files), "yolo", "y.tgz")
        assert job["status"] == "succeeded", job
        found = items_of(client, manager, dataset["id"])
        return [s["label"] for s in found["images/x"]["annotations"]]

    image = {"images/x.png": png(20, 20), "labels/x.txt": b"1 .5 .5 .5 .5\n0 .5 .5 .2 .2\n"}
    assert labels(image | {"data.yaml": b"names: [cat, dog]\n"}) == ["dog", "cat"]
    assert labels(image | {"classes.txt": b"cat\ndog\n"}) == ["dog", "cat"]
    assert labels(image) == ["1", "0"]


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        (b"0 0.5 0.5 0.2\n", "labels/x.txt line 1: a box is `class cx cy w h`"),
        (b"0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\n", "labels/x.txt line 2: class 5 has no name"),
        (b"0 1.5 0.5 0.2 0.2\n", "labels/x.txt line 1: coordinates are normalised"),
        (b"zero 0.5 0.5 0.2 0.2\n", "labels/x.txt line 1: expected a class number"),
        (b"0 0.5 0.5 0 0.2\n", "labels/x.txt line 1: a box needs a positive width"),
    ],
)
def test_a_bad_label_line_fails_the_import_naming_it(
    client, manager, dataset, pool, label, problem
):
    files = {"data.yaml": b"names: [cat]\n", "images/x.png": png(8, 8), "labels/x.txt": label}
    job = import_archive(client, manager, dataset, zipped(files), "yolo")
    assert job["status"] == "failed"
    assert problem in job["error"]
    assert ok(client.get(f"{API}/datasets/{dataset}", headers=manager.headers))["item_count"] == 0


def test_images_archive_one_item_per_image(client, manager, dataset, pool):
    files = {
        "shots/a/b/one.png": png(30, 20),
        "shots/a/two.jpg": jpeg(16, 8),
        "top.png": png(5, 6, shade=9),
        "shots/notes.txt": b"hello",
        "__MACOSX/shots/._one.png": b"\x00\x05\x16\x07 apple double",
    }
    job = import_archive(client, manager, dataset, tarred(files), "images", "shots.tar.gz")
    assert job["status"] == "succeeded", job
    assert job["result"] == {"items": 3, "new": 3, "updated": 0, "skipped": 2}
    found = items_of(client, manager, dataset)
    assert sorted(found) == ["shots/a/b/one.png", "shots/a/two.jpg", "top.png"]
    one = found["shots/a/b/one.png"]
    assert (one["width"], one["height"], one["kind"]) == (30, 20, "image")
    assert one["metadata"] == {"folder": "shots/a/b"}
    assert found["top.png"]["metadata"] == {}
    answer = query(client, manager, dataset, query='metadata.folder = "shots/a"')
    assert [row["reference_id"] for row in answer["items"]] == ["shots/a/two.jpg"]
    # The manager may read the images it imported.
    sha = one["media"][5:]
    signed = ok(client.post(f"{API}/blobs/{sha}/url", headers=manager.headers))
    assert client.get(signed["url"]).content == png(30, 20)


@pytest.mark.parametrize(
    ("files", "entry"),
    [
        ({"ok.png": png(4, 4), "../evil.png": png(4, 4)}, "'../evil.png'"),
        ({"ok.png": png(4, 4), "/etc/evil.png": png(4, 4)}, "'/etc/evil.png'"),
        ({"a/../../evil.png": png(4, 4)}, "'a/../../evil.png'"),
        ({"C:\\evil.png": png(4, 4)}, "'C:\\\\evil.png'"),
    ],
)
def test_paths_leading_out_of_the_archive_are_refused(client, manager, dataset, pool, files, entry):
    job = import_archive(client, manager, dataset, zipped(files), "images")
    assert job["status"] == "failed", job
    assert f"archive entry {entry}" in job["error"] and "outside the archive" in job["error"]
    assert ok(client.get(f"{API}/datasets/{dataset}", headers=manager.headers))["item_count"] == 0


def test_a_zip_bomb_is_refused_naming_the_entry(client, manager, dataset, pool):
    bomb = zipped({"ok.png": png(4, 4), "bomb.png": b"\x00" * (32 * 1024 * 1024)})
    assert len(bomb) < 100_000
    job = import_archive(client, manager, dataset, bomb, "images")
    assert job["status"] == "failed", job
    assert "archive entry 'bomb.png'" in job["error"] and "zip bomb" in job["error"]


def test_a_tar_bomb_is_refused(client, manager, dataset, pool):
    bomb = tarred({"ok.png": png(4, 4), "zeros.bin": b"\x00" * (16 * 1024 * 1024)})
    job = import_archive(client, manager, dataset, bomb, "images", "b.tgz")
    assert job["status"] == "failed", job
    assert "archive entry 'zeros.bin'" in job["error"] and "zip bomb" in job["error"]


@pytest.mark.parametrize(
    ("setting", "value", "pack", "problem"),
    [
        ("max_import_entries", 2, zipped, "3 files to import; at most 2"),
        ("max_import_entries", 2, tarred, "archive entry 'c.png': more than the limit of 2"),
        ("max_upload_bytes", 600, tarred, "archive entry 'b.png': the file is larger than"),
        ("max_import_expanded_bytes", 1000, zipped, "'b.png': the archive is larger than"),
    ],
)
def test_archive_limits_name_the_entry(
    client, manager, dataset, pool, ctx, setting, value, pack, problem
):
    noise = Image.frombytes("L", (50, 50), random.Random(0).randbytes(2500))
    noisy = io.BytesIO()
    noise.save(noisy, "PNG")
    files = {"a.png": png(4, 4), "b.png": noisy.getvalue(), "c.png": png(4, 4, 9)}
    sha = upload(client, manager, "x.tgz", pack(files), "application/octet-stream")
    setattr(ctx.settings, setting, value)  # after the upload, which the limits also cap
    job = run(client, manager, dataset, sha, "images")
    assert job["status"] == "failed", job
    assert problem in job["error"]


def test_links_broken_entries_and_non_archives_are_refused(client, manager, dataset, pool):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        link = tarfile.TarInfo("images/passwd.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    job = import_archive(client, manager, dataset, out.getvalue(), "images", "l.tar")
    assert job["status"] == "failed"
    assert "archive entry 'images/passwd.png' is a link or device" in job["error"]

    stored = bytearray(zipped({"a.png": png(40, 40, 3)}, zipfile.ZIP_STORED))
    at = stored.index(b"IDAT") + 8
    stored[at : at + 4] = b"\xff\xff\xff\xff"  # the CRC no longer matches
    job = import_archive(client, manager, dataset, bytes(stored), "images")
    assert job["status"] == "failed"
    assert "archive entry 'a.png' is unreadable" in job["error"]

    gzipped = upload(client, manager, "x.gz", gzip.compress(b"not a tar"), "application/gzip")
    job = run(client, manager, dataset, gzipped, "images")
    assert job["status"] == "failed" and "not a zip or tar archive" in job["error"]

    text = upload(client, manager, "x.csv", b"reference_id\nx\n", "text/csv")
    response = client.post(
        f"{API}/datasets/{dataset}/imports",
        json={"sha256": text, "format": "images"},
        headers=manager.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "format"
    assert "zip or tar" in response.json()["error"]["message"]


# --- folders under the import root ----------------------------------------------------------


@pytest.fixture
def import_root(ctx, tmp_path) -> Path:
    root = tmp_path / "imports"
    (root / "shoot" / "day1").mkdir(parents=True)
    (root / "shoot" / "day1" / "a.png").write_bytes(png(12, 7))
    (root / "shoot" / "b.jpg").write_bytes(jpeg(8, 8))
    (tmp_path / "secret.png").write_bytes(png(3, 3))
    ctx.settings.import_root = root
    return root


def start(client, account, dataset: str, body: dict):
    return client.post(f"{API}/datasets/{dataset}/imports", json=body, headers=account.headers)


def test_a_folder_under_the_import_root(client, manager, dataset, pool, import_root):
    job = ok(start(client, manager, dataset, {"path": "shoot", "format": "images"}))
    job = wait(client, manager, job)
    assert job["status"] == "succeeded", job
    found = items_of(client, manager, dataset)
    assert sorted(found) == ["b.jpg", "day1/a.png"]
    assert found["day1/a.png"]["metadata"] == {"folder": "day1"}
    assert (found["day1/a.png"]["width"], found["day1/a.png"]["height"]) == (12, 7)


def test_folders_outside_the_import_root_are_refused(
    client, manager, dataset, pool, import_root, tmp_path
):
    for path in ("..", "../", "shoot/../..", str(tmp_path), "/etc", "missing"):
        response = start(client, manager, dataset, {"path": path, "format": "images"})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == "path"
    (import_root / "escape").symlink_to(tmp_path)
    response = start(client, manager, dataset, {"path": "escape", "format": "images"})
    assert response.status_code == 422 and "outside the import root" in response.text
    # A link inside the folder to a file outside the root fails the job, naming the file.
    (import_root / "shoot" / "leak.png").symlink_to(tmp_path / "secret.png")
    job = ok(start(client, manager, dataset, {"path": "shoot", "format": "images"}))
    job = wait(client, manager, job)
    assert job["status"] == "failed" and "'leak.png' links outside the import root" in job["error"]
    # Only images and yolo read folders; a file and a path together are refused.
    response = start(client, manager, dataset, {"path": "shoot", "format": "jsonl"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "format"


def test_folder_imports_are_off_without_an_import_root(client, manager, dataset):
    response = start(client, manager, dataset, {"path": "shoot", "format": "images"})
    assert response.status_code == 422
    assert "ASSAY_IMPORT_ROOT" in response.json()["error"]["message"]
