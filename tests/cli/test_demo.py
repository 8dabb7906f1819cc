"""`assay demo`: seeding is idempotent, and the command serves with working credentials."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest

from assay.cli.demo import CREDENTIALS_FILE, DEMO_EMAIL, port_problem, seed_demo
from assay.core import keys, users
from assay.core.auth import verify_password
from assay.labeling import models as labeling_models
from tests.support.postgres import free_port
from tests.support.servers import REPO, Process


def test_seed_demo_creates_once_then_reuses(settings, db):
    """One seeding (each costs seconds of the suite) checked three ways: the credentials and
    people, the labeling project, the quality lab; a second run adds nothing."""
    first = seed_demo(settings)
    check_credentials_and_people(first, settings, db)
    check_labelable_project(first, settings, db)
    check_quality_lab(first, settings, db)


def check_credentials_and_people(first, settings, db) -> None:
    assert first.email == DEMO_EMAIL and first.path == settings.data_dir / CREDENTIALS_FILE
    assert stat.S_IMODE(os.stat(first.path).st_mode) == 0o600
    saved = json.loads(first.path.read_text())
    assert saved == {"email": DEMO_EMAIL, "password": first.password, "api_key": first.api_key}

    with db.read() as session:
        admin = users.get_user_by_email(session=session, email=DEMO_EMAIL)
        actor = keys.resolve_key(session=session, raw_key=first.api_key)
    assert admin.role == "admin" and verify_password(admin.password_hash, first.password)
    assert (actor.user_id, actor.mode) == (admin.id, "live")
    with db.read() as session:
        demo_project = session.get(labeling_models.Project, first.project_id)
    assert demo_project is not None and demo_project.name == "Everyday objects"

    assert seed_demo(settings) == first
    with db.read() as session:
        # The admin and the quality lab's simulated labelers and reviewer, each once.
        people = users.list_users(session=session, cursor=None, limit=10).items
        assert sorted(u.email for u in people) == sorted(
            [
                DEMO_EMAIL,
                "alice@assay.local",
                "bob@assay.local",
                "carol@assay.local",
                "dave@assay.local",
            ]
        )
        assert (
            len(keys.list_keys(session=session, user_id=admin.id, cursor=None, limit=10).items) == 1
        )


def test_seed_demo_recovers_lost_or_revoked_credentials(settings, db, dialect):
    if dialect != "sqlite":  # seeding once and reusing is checked on both (above)
        pytest.skip("`make demo` runs on SQLite; the services it uses are tested on both")
    first = seed_demo(settings)
    with db.write() as session:
        key = keys.list_keys(session=session, user_id=None, cursor=None, limit=1).items[0]
        keys.revoke_key(session=session, key=key)
    second = seed_demo(settings)
    assert second.password == first.password and second.api_key != first.api_key

    second.path.unlink()
    third = seed_demo(settings)
    assert third.password != first.password and third.api_key != second.api_key
    with db.read() as session:
        admin = users.get_user_by_email(session=session, email=DEMO_EMAIL)
        assert verify_password(admin.password_hash, third.password)
        assert keys.resolve_key(session=session, raw_key=third.api_key).user_id == admin.id


def test_demo_command_prints_credentials_and_serves(tmp_path):
    data_dir, port = tmp_path / "demo", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(
        ASSAY_PASSWORD_HASH_MEMORY_KIB="1024",
        ASSAY_WORKERS="0",
        PYTHONPATH=str(REPO),
        COLUMNS="200",
    )
    demo = Process(
        ["demo", "--data-dir", str(data_dir), "--port", str(port)], env, tmp_path / "demo.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=5) as http:
            assert wait_ready(http, demo), demo.output()
            saved = json.loads((data_dir / CREDENTIALS_FILE).read_text())
            output = demo.output()
            for shown in (url, DEMO_EMAIL, saved["password"], saved["api_key"]):
                assert shown in output
            me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {saved['api_key']}"})
            assert me.status_code == 200 and me.json()["user"]["email"] == DEMO_EMAIL
            # The demo opens straight into its labeling project (through the login page).
            label_path = re.search(rf"{re.escape(url)}(/label/[0-9a-f]{{24}})", output)
            assert label_path is not None, output
            opened = http.get(label_path.group(1))
            assert opened.status_code == 303
            assert opened.headers["location"] == f"/login?next={label_path.group(1)}"
            # And its curation dataset (tests/web/test_demo.py opens it in a browser).
            curate = re.search(rf"Curate\s+{re.escape(url)}(/datasets/[0-9a-f]{{24}})", output)
            assert curate is not None, output
            listed = http.get(
                "/api/v1/datasets", headers={"Authorization": f"Bearer {saved['api_key']}"}
            ).json()["items"]
            assert curate.group(1) in {f"/datasets/{d['id']}" for d in listed}
            opened = http.get(curate.group(1))
            assert opened.status_code == 303
            assert opened.headers["location"] == f"/login?next={curate.group(1)}"
    finally:
        demo.stop()


def test_demo_refuses_a_taken_port_before_its_success_box(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
        # This checkout's code, whichever one the environment has installed.
        env.update(PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]), COLUMNS="200")
        command = ["demo", "--data-dir", str(tmp_path / "d"), "--port", str(port)]
        done = subprocess.run(
            [sys.executable, "-m", "assay", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"make demo PORT={port + 1}" in done.stderr
    assert "Assay demo" not in done.stdout and "Password" not in done.stdout
    assert not (tmp_path / "d").exists()  # refused before seeding anything


def test_port_problem_names_what_is_wrong():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert port_problem("127.0.0.1", port) == f"port {port} on 127.0.0.1 is already in use"
    assert port_problem("127.0.0.1", port) is None  # closed: free again
    assert "not an address" in (port_problem("no-such-host.invalid", port) or "")


def test_make_demo_passes_port_and_data_dir(tmp_path):
    venv = tmp_path / "venv"  # a dry run never builds it
    variables = [f"VENV={venv}", "PORT=8123", f"DATA_DIR={tmp_path}/demo data"]
    done = subprocess.run(
        ["make", "-n", "-C", str(REPO), "demo", *variables],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "assay demo" in x)
    assert f'--data-dir "{tmp_path}/demo data"' in line and '--port "8123"' in line, line


def wait_ready(http: httpx.Client, process: Process, timeout: float = 150) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.proc.poll() is None:
        try:
            if http.get("/readyz").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def check_labelable_project(first, settings, db) -> None:
    """The demo workspace has a labelable project of real images."""
    from sqlalchemy import func, select

    from assay.core import models as core_models
    from assay.labeling import annotations, demo_data, models, taxonomy

    seed_demo(settings)  # a second run adds nothing
    with db.read() as session:
        projects = session.scalars(
            select(models.Project).where(models.Project.id == first.project_id)
        ).all()
        assert [p.name for p in projects] == [demo_data.PROJECT_NAME]
        kinds = dict(
            session.execute(
                select(models.Batch.kind, models.Batch.status).where(
                    models.Batch.project_id == first.project_id
                )
            ).all()
        )
        assert kinds == {"calibration": "in_progress", "production": "in_progress"}
        tasks = session.scalars(
            select(models.Task).where(models.Task.project_id == first.project_id)
        ).all()
        assert len(tasks) == len(demo_data.IMAGES)
        assert all(t.stage == "label" and t.status == "pending" for t in tasks)
        parsed = taxonomy.parse_taxonomy(projects[0].taxonomy, "image")
        with_prelabels = [t for t in tasks if t.prelabels]
        assert len(with_prelabels) >= 4
        for task in with_prelabels:
            annotations.validate_response(
                parsed, "image", task.params, task.prelabels, partial=True
            )
        shas = [t.params["attachment"].removeprefix("blob:") for t in tasks]
        stored = session.scalar(
            select(func.count())
            .select_from(core_models.Blob)
            .where(core_models.Blob.sha256.in_(shas))
        )
        assert stored == len(set(shas)) == len(tasks)
        assert all(t.params["image_width"] > 0 for t in tasks)


def check_quality_lab(credentials, settings, db) -> None:
    """The quality lab has a course, gold, and labelers with history."""
    from sqlalchemy import func, select

    from assay.core import models as core_models
    from assay.labeling import demo_quality, models

    assert seed_demo(settings) == credentials  # nothing simulated twice
    pid = credentials.quality_project_id
    assert pid is not None
    with db.read() as session:
        kinds = dict(
            session.execute(
                select(models.Task.kind, func.count())
                .where(models.Task.project_id == pid)
                .group_by(models.Task.kind)
            ).all()
        )
        assert kinds == {
            "training": len(demo_quality.TRAINING),
            "evaluation": len(demo_quality.GOLD),
            "production": demo_quality.PRODUCTION_TASKS,
        }
        standing = dict(
            session.execute(
                select(core_models.User.email, models.QualityWorker.status)
                .join(models.QualityWorker, models.QualityWorker.user_id == core_models.User.id)
                .where(models.QualityWorker.project_id == pid)
            ).all()
        )
        # The careless labeler was paused by the rolling accuracy; the others passed training.
        assert standing == {
            "alice@assay.local": "active",
            "bob@assay.local": "active",
            "carol@assay.local": "paused",
        }
        attempts = session.execute(
            select(
                models.QualityAttempt.kind,
                func.count(),
                func.min(models.QualityAttempt.submitted_at),
            )
            .where(models.QualityAttempt.project_id == pid)
            .group_by(models.QualityAttempt.kind)
        ).all()
        assert {kind for kind, _, _ in attempts} == {"training", "evaluation"}
        days = session.scalars(
            select(models.TaskEvent.created_at)
            .join(models.Task, models.Task.id == models.TaskEvent.task_id)
            .where(models.Task.project_id == pid, models.TaskEvent.action == "submit")
        ).all()
        assert len(days) >= 40
        assert len({d.date() for d in days}) >= 5  # a week of history for the charts
        assert (
            session.scalar(
                select(func.count())
                .select_from(models.Task)
                .where(
                    models.Task.project_id == pid,
                    models.Task.status == "pending",
                    models.Task.kind == "production",
                )
            )
            > 0
        )  # work left for whoever opens the demo


@pytest.fixture
def curation_pool(ctx):
    """A worker knowing the curation pillar's jobs (registered before it starts, as
    `assay serve` loads the pillars before its workers)."""
    import assay.curation.jobs  # noqa: F401
    from assay.core.worker import WorkerPool

    workers = WorkerPool(ctx, threads=1, name="demo")
    workers.start()
    yield workers
    workers.stop()


def test_demo_curation_dataset_is_queryable_with_predictions_slices_and_an_autotag(
    settings, db, dialect, curation_pool
):
    from sqlalchemy import select

    if dialect != "sqlite":
        pytest.skip("`make demo` runs on SQLite; the services it uses are tested on both")

    from assay.curation import datasets, demo_data, explore, models, slices

    first = seed_demo(settings)
    assert seed_demo(settings).dataset_id == first.dataset_id  # once
    with db.read() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=first.dataset_id, mode="live")
        assert dataset.name == demo_data.DATASET_NAME
        assert dataset.item_count >= 100 and dataset.prediction_count > 0
        assert set(dataset.embedding_spaces) == {"tiny-image"}

        def count(query: str) -> int:
            return explore.explore(session=session, dataset=dataset, query=query, limit=1).count

        # The cat: the photograph whole and its nine tiles, all with the cat's category.
        assert count("annotations.cat > 0") == 10
        assert count("predictions.log_blobs.count > 0") > 0
        assert count("metadata.brightness < 80") > 0
        # The committed autotag ranks the cat's items above the moon's.
        best = explore.explore(
            session=session, dataset=dataset, query=None, limit=10, order_by="-autotag.cat"
        )
        sources = [row["metadata"]["source"] for row in best.rows]
        assert sources.count("chelsea") >= 5 and "moon" not in sources
        kinds = {
            s.name: s.kind
            for s in session.scalars(
                select(models.Slice).where(models.Slice.dataset_id == dataset.id)
            )
        }
        assert kinds == {"dark": "dynamic", "the cat": "static"}
        cat = session.scalar(select(models.Slice).where(models.Slice.name == "the cat"))
        assert len(slices.slice_item_ids(session=session, dataset=dataset, found=cat)) == 10
        evaluation_id = session.scalar(
            select(models.Evaluation.id).where(models.Evaluation.dataset_id == dataset.id)
        )
    # The k-NN classifier's evaluation, queued by the seed, runs as a job.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.read() as session:
            evaluation = session.get(models.Evaluation, evaluation_id)
            if evaluation.status in ("done", "failed"):
                break
        time.sleep(0.2)
    assert evaluation.status == "done", evaluation.error
    assert evaluation.task == "classification"
    summary = evaluation.metrics["summary"]
    assert 0 < summary["accuracy"] <= 1 and evaluation.metrics["items"] == dataset.item_count
    with db.read() as session:
        dataset = datasets.get_dataset(session=session, dataset_id=first.dataset_id, mode="live")
        wrong = explore.explore(
            session=session, dataset=dataset, query="prediction.match = fp", limit=1
        ).count
    assert wrong == evaluation.metrics["totals"]["fp"]
