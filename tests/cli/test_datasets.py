"""`assay datasets` in process against the test's database, with a real worker pool running
the import and delete jobs the commands start and follow."""

from __future__ import annotations

import json
import re

import assay.curation.jobs  # noqa: F401  (registers the import and delete job kinds)
from tests.api.test_dataset_archive_imports import YOLO, png, zipped


def created(result) -> str:
    assert result.exit_code == 0, result.output
    found = re.search(r"created dataset (\w+)", result.stdout)
    assert found, result.stdout
    return found.group(1)


def test_create_list_import_and_delete(cli, pool, tmp_path):
    assert "no datasets yet" in cli("datasets").stdout
    dataset = created(cli("datasets", "create", "street scenes"))
    listed = cli("datasets", "list")
    assert dataset in listed.stdout and "street scenes" in listed.stdout

    lines = [{"reference_id": f"r{n}", "media": f"https://m.test/{n}.jpg"} for n in range(12)]
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(map(json.dumps, lines)))
    imported = cli("datasets", "import", "street scenes", str(items), "--interval", "0.05")
    assert imported.exit_code == 0, imported.output
    assert "as jsonl" in imported.stdout
    assert re.search(r"job \w+ succeeded", imported.stdout)
    assert '"new": 12' in imported.stdout

    archive = tmp_path / "coco8.zip"
    archive.write_bytes(zipped(YOLO))
    yolo = cli(
        "datasets", "import", dataset, str(archive), "--format", "yolo", "--interval", "0.05"
    )
    assert yolo.exit_code == 0, yolo.output
    assert re.search(r"job \w+ succeeded", yolo.stdout)
    assert '"skipped": 2' in yolo.stdout

    rows = json.loads(cli("datasets", "list", "--json").stdout)
    assert [(r["id"], r["item_count"], r["annotation_count"]) for r in rows] == [(dataset, 15, 3)]

    deleted = cli("datasets", "delete", dataset, "--interval", "0.05")
    assert deleted.exit_code == 0, deleted.output
    assert re.search(r"job \w+ succeeded", deleted.stdout)
    assert "no datasets yet" in cli("datasets").stdout


def test_a_failing_import_and_unknown_datasets_exit_nonzero(cli, pool, tmp_path):
    dataset = created(cli("datasets", "create", "d"))
    archive = tmp_path / "evil.zip"
    archive.write_bytes(zipped({"ok.png": png(4, 4), "../evil.png": png(4, 4)}))
    failed = cli("datasets", "import", dataset, str(archive), "--format", "images")
    assert failed.exit_code == 1
    assert "archive entry '../evil.png'" in failed.stderr
    assert "assay jobs show" in failed.stderr

    unknown = cli("datasets", "import", dataset, str(archive))
    assert unknown.exit_code == 1 and "--format images or --format yolo" in unknown.stderr

    missing = cli("datasets", "delete", "nothing-like-this")
    assert missing.exit_code == 1
    assert "no dataset with id or name 'nothing-like-this'" in missing.stderr

    created(cli("datasets", "create", "twin"))
    created(cli("datasets", "create", "twin"))
    twins = cli("datasets", "delete", "twin")
    assert twins.exit_code == 1 and "2 datasets are named 'twin'" in twins.stderr

    queued = cli("datasets", "import", dataset, str(archive), "--format", "images", "--no-wait")
    assert queued.exit_code == 0 and "assay jobs watch" in queued.stdout
