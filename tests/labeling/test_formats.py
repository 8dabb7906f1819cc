"""The pure converters: native responses to COCO, YOLO, CoNLL, CSV, JSONL and back."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import numpy as np
import pytest
import yaml
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from assay.core.errors import Invalid
from assay.labeling import formats
from assay.labeling.annotations import validate_response
from assay.labeling.formats import coco, conll, csvcat, jsonl, yolo
from assay.labeling.taxonomy import parse_taxonomy

IMAGE_TAXONOMY = parse_taxonomy(
    {
        "labels": [
            {"name": "car", "geometries": ["box", "polygon", "mask"]},
            {
                "name": "person",
                "geometries": ["box", "keypoints"],
                "keypoints": ["head", "hand"],
                "skeleton": [["hand", "head"]],
            },
            {"name": "tree", "geometries": ["box", "polygon", "point"]},
        ]
    },
    "image",
)
LABELS = formats.taxonomy_labels(IMAGE_TAXONOMY)
WIDTH, HEIGHT = 64, 48
# pycocotools' Cython decoder still calls numpy's __array__ the pre-2.0 way; that is theirs.
PYCOCOTOOLS_NUMPY2 = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def column_major_runs(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE of a binary mask (zeros first, column-major)."""
    flat = mask.flatten(order="F")
    runs, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            runs.append(run)
            value, run = pixel, 1
    runs.append(run)
    return runs


def sample_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[5:20, 10:30] = 1
    mask[30:40, 2:6] = 1
    return mask


def task(
    task_id: str, response: dict | None, *, file_name: str = "", **params
) -> formats.ExportTask:
    params = {"image_width": WIDTH, "image_height": HEIGHT, **params}
    return formats.ExportTask(
        id=task_id,
        unique_id=f"u-{task_id}",
        batch_id=None,
        status="completed",
        params=params,
        metadata={},
        response=response,
        completed_at=None,
        file_name=file_name or f"{task_id}.jpg",
    )


def image_responses() -> list[dict]:
    raw = [
        {
            "annotations": [
                {"type": "box", "label": "car", "x": 1.5, "y": 2.25, "width": 20, "height": 10},
                {
                    "type": "polygon",
                    "label": "tree",
                    "vertices": [{"x": 10, "y": 10}, {"x": 30, "y": 10}, {"x": 30, "y": 20}],
                    "attributes": {},
                },
            ]
        },
        {
            "annotations": [
                {
                    "type": "mask",
                    "label": "car",
                    "rle": {"size": [HEIGHT, WIDTH], "counts": column_major_runs(sample_mask())},
                },
                {
                    "type": "keypoints",
                    "label": "person",
                    "points": [
                        {"name": "head", "x": 12, "y": 4, "visible": True},
                        {"name": "hand", "x": 20, "y": 30, "visible": False},
                    ],
                },
                {"type": "point", "label": "tree", "x": 3, "y": 3},
            ]
        },
        {"annotations": []},
    ]
    params = {"image_width": WIDTH, "image_height": HEIGHT}
    return [validate_response(IMAGE_TAXONOMY, "image", params, r) for r in raw]


def export(module, tasks, tmp_path, labels=LABELS) -> tuple[bytes, formats.ExportStats]:
    stats = formats.ExportStats()
    out = io.BytesIO()
    module.write(tasks, out, formats.ExportContext(labels, stats, tmp_path))
    return out.getvalue(), stats


def geometry(ann: dict) -> dict:
    """An annotation without its id, for comparing round trips."""
    return {k: v for k, v in ann.items() if k != "id"}


def close(a, b, tol: float = 1e-6) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(a - b) <= tol
    return a == b


# --- COCO ----------------------------------------------------------------------------------


@PYCOCOTOOLS_NUMPY2
def test_coco_export_loads_in_pycocotools_and_masks_rasterize(tmp_path):
    responses = image_responses()
    tasks = [task(f"t{i}", r) for i, r in enumerate(responses)]
    data, stats = export(coco, tasks, tmp_path)
    (tmp_path / "coco.json").write_bytes(data)
    api = COCO(str(tmp_path / "coco.json"))
    assert len(api.getImgIds()) == 3
    assert len(api.getAnnIds()) == 4  # box, polygon, mask, keypoints; the point is left out
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == ["car", "person", "tree"]
    assert api.loadCats(2)[0]["keypoints"] == ["head", "hand"]
    assert api.loadCats(2)[0]["skeleton"] == [[2, 1]]  # COCO's 1-based keypoint indices
    assert stats.skipped == {"point annotations": 1}
    anns = {a["id"]: a for a in api.loadAnns(api.getAnnIds())}
    box, polygon, mask, keypoints = (anns[i] for i in (1, 2, 3, 4))
    assert box["bbox"] == [1.5, 2.25, 20, 10] and box["area"] == 200
    assert polygon["area"] == 100 and polygon["bbox"] == [10, 10, 20, 10]
    polygon_pixels = api.annToMask(polygon)
    assert polygon_pixels.shape == (HEIGHT, WIDTH)
    assert 90 <= polygon_pixels.sum() <= 130  # rasterized triangle of area 100
    assert np.array_equal(api.annToMask(mask), sample_mask())
    assert mask["area"] == sample_mask().sum()
    assert mask["bbox"] == [2, 5, 28, 35]
    assert keypoints["keypoints"] == [12, 4, 2, 20, 30, 1]
    assert keypoints["num_keypoints"] == 2
    images = api.loadImgs(api.getImgIds())
    assert [(i["file_name"], i["width"], i["height"], i["task_id"]) for i in images] == [
        ("t0.jpg", WIDTH, HEIGHT, "t0"),
        ("t1.jpg", WIDTH, HEIGHT, "t1"),
        ("t2.jpg", WIDTH, HEIGHT, "t2"),
    ]


def test_native_coco_native_round_trip(tmp_path):
    responses = image_responses()
    tasks = [task(f"t{i}", r) for i, r in enumerate(responses)]
    data, _ = export(coco, tasks, tmp_path)
    rows = list(coco.read_prelabels(data, LABELS))
    assert [r.match["task_id"] for r in rows] == ["t0", "t1", "t2"]
    assert rows[0].match["file_name"] == "t0.jpg" and rows[0].match["unique_id"] == "u-t0"
    for row, original in zip(rows, responses, strict=True):
        expected = [a for a in original["annotations"] if a["type"] != "point"]
        params = {"image_width": WIDTH, "image_height": HEIGHT}
        back = validate_response(IMAGE_TAXONOMY, "image", params, row.response, partial=True)
        assert close([geometry(a) for a in back["annotations"]], [geometry(a) for a in expected])


@PYCOCOTOOLS_NUMPY2
def test_rle_codec_and_measures_match_pycocotools():
    mask = sample_mask()
    encoded = mask_utils.encode(np.asfortranarray(mask))
    runs = column_major_runs(mask)
    assert coco.rle_decode_counts(encoded["counts"].decode()) == runs
    assert coco.rle_encode_counts(runs) == encoded["counts"].decode()
    assert coco.rle_area(runs) == mask_utils.area(encoded)
    assert coco.rle_bbox(runs, HEIGHT, WIDTH) == list(mask_utils.toBbox(encoded))
    # A file holding compressed counts reads back as native (uncompressed) runs.
    doc = {
        "images": [{"id": 7, "file_name": "x.png", "width": WIDTH, "height": HEIGHT}],
        "categories": [{"id": 3, "name": "car"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 3,
                "iscrowd": 1,
                "score": 0.75,
                "segmentation": {"size": [HEIGHT, WIDTH], "counts": encoded["counts"].decode()},
            },
        ],
    }
    (row,) = coco.read_prelabels(json.dumps(doc).encode(), LABELS)
    (ann,) = row.response["annotations"]
    assert ann["rle"] == {"size": [HEIGHT, WIDTH], "counts": runs}
    assert ann["confidence"] == 0.75 and row.match == {"file_name": "x.png"}


def test_coco_import_reports_what_it_cannot_use():
    doc = {
        "images": [{"id": 1, "file_name": "dir/a.jpg"}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]},
            {"id": 3, "image_id": 99, "category_id": 1, "bbox": [0, 0, 2, 2]},
        ],
    }
    first, orphan = coco.read_prelabels(json.dumps(doc).encode(), LABELS)
    assert first.match == {"file_name": "a.jpg"}
    assert [a["id"] for a in first.response["annotations"]] == ["coco-2"]
    assert first.warnings == ["annotation 1: unknown category_id; dropped"]
    assert orphan.error and "image_id 99" in orphan.error
    with pytest.raises(Invalid) as err:
        list(coco.read_prelabels(b"[1, 2]", LABELS))
    assert err.value.field == "blob"


# --- YOLO ----------------------------------------------------------------------------------


def boxes_and_polygons() -> list[dict]:
    raw = [
        {
            "annotations": [
                {"type": "box", "label": "car", "x": 1.5, "y": 2.25, "width": 20, "height": 10},
                {"type": "box", "label": "tree", "x": 0, "y": 0, "width": 64, "height": 48},
                {
                    "type": "polygon",
                    "label": "tree",
                    "vertices": [{"x": 10.25, "y": 10}, {"x": 30, "y": 11}, {"x": 29, "y": 47}],
                },
            ]
        },
        {
            "annotations": [
                {"type": "box", "label": "person", "x": 5, "y": 6, "width": 7, "height": 8}
            ]
        },
    ]
    params = {"image_width": WIDTH, "image_height": HEIGHT}
    return [validate_response(IMAGE_TAXONOMY, "image", params, r) for r in raw]


def test_yolo_export_layout_and_round_trip(tmp_path):
    responses = boxes_and_polygons()
    tasks = [
        task("t0", responses[0], file_name="street.jpg"),
        task("t1", responses[1], file_name="park.png"),
        task("t2", responses[1], file_name="street.jpg"),  # same name: kept apart
        task("t3", responses[1], file_name="nosize.jpg", image_width=None),
    ]
    data, stats = export(yolo, tasks, tmp_path)
    assert stats.tasks == 3
    assert stats.skipped == {"tasks without image_width and image_height": 1}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == [
            "classes.txt",
            "data.yaml",
            "labels/park.txt",
            "labels/street.txt",
            "labels/street__t2.txt",
        ]
        assert zf.read("classes.txt").decode() == "car\nperson\ntree\n"
        names = yaml.safe_load(zf.read("data.yaml"))["names"]
        assert names == {0: "car", 1: "person", 2: "tree"}
        lines = zf.read("labels/street.txt").decode().splitlines()
    assert lines[0] == "0 0.179688 0.151042 0.312500 0.208333"
    assert lines[1] == "2 0.500000 0.500000 1.000000 1.000000"
    assert lines[2].startswith("2 0.160156 0.208333 ") and len(lines[2].split()) == 7
    rows = {row.match["stem"]: row for row in yolo.read_prelabels(data, LABELS)}
    assert set(rows) == {"street", "park", "street__t2"}
    for stem, original in (("street", responses[0]), ("park", responses[1])):
        row = rows[stem]
        assert row.normalized and row.warnings == []
        back = yolo.denormalize(row.response, width=WIDTH, height=HEIGHT)
        assert close(
            [geometry(a) for a in back["annotations"]],
            [geometry(a) for a in original["annotations"]],
            tol=1e-3,  # six decimals of a normalized coordinate, in pixels
        )


def test_yolo_import_reads_data_yaml_confidences_and_reports_bad_lines():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("dataset/data.yaml", "names:\n  0: tree\n  1: car\n")
        zf.writestr(
            "dataset/labels/val/img_7.txt",
            "1 0.5 0.5 0.25 0.5 0.9\n0 0.1 0.1 0.2 0.1 0.2 0.2 0.4\n5 0.5 0.5 0.1 0.1\n"
            "0 0.5 0.5\nx y\n",
        )
        zf.writestr("dataset/README.txt", "not a label file")
    (row,) = yolo.read_prelabels(buffer.getvalue(), LABELS)
    assert row.match == {"stem": "img_7"}
    box, polygon = row.response["annotations"]
    assert box["label"] == "car" and box["confidence"] == 0.9
    assert close(
        geometry(box),
        {
            "type": "box",
            "label": "car",
            "attributes": {},
            "x": 0.375,
            "y": 0.25,
            "width": 0.25,
            "height": 0.5,
            "confidence": 0.9,
        },
    )
    assert polygon["label"] == "tree" and polygon["confidence"] == 0.4
    assert len(polygon["vertices"]) == 3
    assert [w.split(": ")[0] for w in row.warnings] == [
        "dataset/labels/val/img_7.txt line 3",
        "dataset/labels/val/img_7.txt line 4",
        "dataset/labels/val/img_7.txt line 5",
    ]
    with pytest.raises(Invalid, match=r"classes\.txt"):
        empty = io.BytesIO()
        with zipfile.ZipFile(empty, "w") as zf:
            zf.writestr("labels/a.txt", "0 0.5 0.5 0.1 0.1\n")
        list(yolo.read_prelabels(empty.getvalue(), LABELS))
    with pytest.raises(Invalid, match="zip"):
        list(yolo.read_prelabels(b"not a zip", LABELS))


# --- CoNLL ---------------------------------------------------------------------------------


def test_bio_tags_longest_span_wins_and_adjacent_spans_stay_apart():
    text = "Barack Obama visited New York City  today"
    #       0      7     13      21  25   30    36
    spans = [
        {"start": 0, "end": 6, "label": "PER"},  # Barack
        {"start": 7, "end": 12, "label": "PER"},  # Obama, adjacent and same label
        {"start": 21, "end": 34, "label": "LOC"},  # New York City (longest)
        {"start": 25, "end": 41, "label": "DATE"},  # York City today: overlaps LOC
    ]
    # DATE (16 characters) is longer than LOC (13): it takes York, City and today; LOC keeps
    # New and starts it with B-.
    assert conll.bio_tags(text, spans) == [
        ("Barack", "B-PER"),
        ("Obama", "B-PER"),
        ("visited", "O"),
        ("New", "B-LOC"),
        ("York", "B-DATE"),
        ("City", "I-DATE"),
        ("today", "I-DATE"),
    ]
    # A shorter span inside a longer one loses its tokens entirely; a span that cuts a
    # token in half still tags the whole token; equal length: earlier start wins.
    nested = [
        {"start": 21, "end": 24, "label": "CITY_PART"},
        {"start": 21, "end": 34, "label": "CITY"},
        {"start": 15, "end": 18, "label": "VERB"},
        {"start": 16, "end": 19, "label": "OTHER"},
    ]
    assert conll.bio_tags(text, nested) == [
        ("Barack", "O"),
        ("Obama", "O"),
        ("visited", "B-VERB"),
        ("New", "B-CITY"),
        ("York", "I-CITY"),
        ("City", "I-CITY"),
        ("today", "O"),
    ]


def test_bio_equal_spans_earlier_wins_and_the_loser_starts_with_b():
    text = "a b c d e"
    spans = [
        {"start": 4, "end": 9, "label": "RIGHT"},  # c d e
        {"start": 0, "end": 5, "label": "LEFT THING"},  # a b c: as long, starts first
        {"start": 2, "end": 3, "label": "INNER"},  # b: inside a longer span, loses
    ]
    assert [t for _, t in conll.bio_tags(text, spans)] == [
        "B-LEFT_THING",
        "I-LEFT_THING",
        "I-LEFT_THING",
        "B-RIGHT",
        "I-RIGHT",
    ]
    assert conll.bio_tags("", spans) == []
    assert conll.tokenize(" x\ty\n") == [("x", 1, 2), ("y", 3, 4)]


def test_conll_file_has_docstart_per_task_and_blank_lines(tmp_path):
    tasks = [
        formats.ExportTask(
            "t1",
            None,
            None,
            "completed",
            {"text": "Hi  there"},
            {},
            {"annotations": [{"type": "span", "label": "G", "start": 0, "end": 2}]},
            None,
        ),
        formats.ExportTask(
            "t2", None, None, "completed", {"text": "Bye"}, {}, {"annotations": []}, None
        ),
        formats.ExportTask("t3", None, None, "completed", {}, {}, None, None),
    ]
    data, stats = export(conll, tasks, tmp_path)
    assert data.decode() == ("-DOCSTART- t1\n\nHi B-G\nthere O\n\n-DOCSTART- t2\n\nBye O\n\n")
    assert conll.read_tags(data.decode()) == [
        ("t1", [("Hi", "B-G"), ("there", "O")]),
        ("t2", [("Bye", "O")]),
    ]
    assert stats.tasks == 2 and stats.skipped == {"tasks without params.text": 1}


# --- CSV and JSONL ------------------------------------------------------------------------


def test_csv_joins_multi_select_and_spreads_attributes(tmp_path):
    tasks = [
        formats.ExportTask(
            "t1",
            "u1",
            None,
            "completed",
            {"text": "x"},
            {},
            {
                "annotations": [
                    {"type": "category", "label": "cat", "attributes": {"size": "big"}},
                    {"type": "category", "label": "dog", "attributes": {"size": "small"}},
                ],
                "global_attributes": {"note": '=HYPERLINK("http://evil")', "tags": ["a", "b"]},
            },
            None,
        ),
        formats.ExportTask(
            "t2",
            None,
            None,
            "completed",
            {"text": "y"},
            {},
            {
                "annotations": [
                    {
                        "type": "category",
                        "label": "cat",
                        "attributes": {"label": "clash", "score": -3},
                    }
                ]
            },
            None,
        ),
    ]
    data, stats = export(csvcat, tasks, tmp_path)
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == [
        "task_id",
        "unique_id",
        "label",
        "note",
        "tags",
        "size",
        "attribute:label",
        "score",
    ]
    assert rows[1] == [
        "t1",
        "u1",
        "cat|dog",
        '\'=HYPERLINK("http://evil")',
        "a|b",
        "big|small",
        "",
        "",
    ]
    assert rows[2] == ["t2", "", "cat", "", "", "", "clash", "-3"]
    assert stats.tasks == 2 and stats.annotations == 3


def test_jsonl_lines_read_back_as_prelabels(tmp_path):
    responses = image_responses()
    tasks = [task("t0", responses[0], attachment="https://x.test/img/a%20b.jpg")]
    data, _ = export(jsonl, tasks, tmp_path)
    line = json.loads(data)
    assert set(line) == {
        "task_id",
        "unique_id",
        "batch",
        "metadata",
        "params",
        "response",
        "completed_at",
    }
    extra = b'\n{"unique_id": "u9", "annotations": []}\nnot json\n{"file_name": "z.jpg"}\n'
    rows = list(jsonl.read_prelabels(data + extra, LABELS))
    assert rows[0].match == {
        "task_id": "t0",
        "unique_id": "u-t0",
        "attachment": "https://x.test/img/a%20b.jpg",
        "file_name": "a b.jpg",
    }
    assert rows[0].response == responses[0]
    assert rows[1].match == {"unique_id": "u9"} and rows[1].response == {"annotations": []}
    assert rows[2].error and rows[2].error.startswith("not JSON")
    assert rows[3].error and "prelabels" in rows[3].error


def test_formats_refuse_task_types_they_cannot_hold():
    assert formats.check_task_type(formats.EXPORT_FORMATS, "coco", "image").name == "coco"
    for name, task_type in (("csv", "image"), ("coco", "text_spans"), ("conll", "categorization")):
        with pytest.raises(Invalid) as err:
            formats.check_task_type(formats.EXPORT_FORMATS, name, task_type)
        assert err.value.field == "format"
    with pytest.raises(Invalid, match="unknown format"):
        formats.check_task_type(formats.IMPORT_FORMATS, "csv", "categorization")
