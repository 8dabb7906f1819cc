"""The built-in pillars register their jobs and duties the way plugins do: `core` alone
registers none of theirs, `assay.pillars` loads them, and a real `assay worker` started
without any plugin runs a pillar's job."""

from __future__ import annotations

import json
import subprocess
import sys

from assay.core import jobs
from assay.labeling import exports, models
from tests.labeling.factories import actor_for, make_project
from tests.support.polling import wait_for
from tests.support.servers import Process, env_for

PROBE = """
import importlib, json, pkgutil
import assay.core
from assay.core import blob_refs, jobs

def registered():
    return {
        "kinds": sorted(jobs.registered_kinds()),
        "duties": sorted(d.name for d in jobs.registered_duties()),
        "readers": sorted(blob_refs._reader_checks),
    }

for info in pkgutil.walk_packages(assay.core.__path__, "assay.core."):
    importlib.import_module(info.name)
core_only = registered()

from assay import pillars
from assay.core.settings import Settings
pillars.load(Settings())
print(json.dumps({"core": core_only, "loaded": registered()}))
"""


def test_core_registers_its_own_and_loading_the_pillars_registers_theirs():
    # A fresh interpreter: this one has imported every pillar already.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout)
    assert seen["core"] == {
        "kinds": ["webhook.deliver"],
        "duties": ["core.forget_login_failures"],
        "readers": [],
    }
    assert seen["loaded"] == {
        "kinds": [
            "curation.compute_embeddings",
            "curation.compute_object_embeddings",
            "curation.compute_uniqueness",
            "curation.delete_dataset",
            "curation.delete_embedding_space",
            "curation.evaluate_model",
            "curation.find_duplicates",
            "curation.import_embeddings",
            "curation.import_items",
            "curation.merge_predictions",
            "curation.run_model",
            "evaluation.import_eval_set",
            "evaluation.run",
            "evaluation.run_probes",
            "labeling.export",
            "labeling.import_prelabels",
            "labeling.import_tasks",
            "nucleus.autotag_inference",
            "nucleus.deduplicate",
            "nucleus.export_embeddings",
            "nucleus.import",
            "nucleus.send_to_labeling",
            "webhook.deliver",
        ],
        "duties": [
            "core.forget_login_failures",
            "curation.collect_labels",
            "labeling.complete_batches",
            "labeling.park_paused_batches",
        ],
        "readers": ["dataset", "project", "project_manager"],
    }


def test_a_worker_without_plugins_runs_a_pillars_job(db, settings, admin, tmp_path):
    actor = actor_for(admin)
    project = make_project(db, actor)
    with db.write() as session:
        job_id = exports.request_export(
            session=session,
            project=session.get(models.Project, project.id),
            export_in=exports.ExportCreate(format="jsonl"),
            batch=None,
            actor=actor,
        ).id
    worker = Process(["worker", "--threads", "1"], env_for(settings), tmp_path / "worker.log")
    try:
        wait_for(lambda: _job(db, job_id).status in jobs.TERMINAL, 60)
    finally:
        worker.stop()
    done = _job(db, job_id)
    assert done.status == "succeeded", (done.error, worker.output())
    assert done.result["count"] == 0


def _job(db, job_id: str):
    with db.read() as session:
        return jobs.get_job(session=session, job_id=job_id)
