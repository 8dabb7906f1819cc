"""Jobs across real `assay worker` processes: exactly-once claims and crash recovery."""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from assay.core import jobs
from tests.core.test_jobs import enqueue, job
from tests.support.polling import wait_for
from tests.support.servers import Process, env_for

PLUGIN_ENV = {"ASSAY_PLUGINS": '["tests.support.jobkinds"]'}


def start_worker(settings, tmp_path: Path, name: str, threads: int = 4) -> Process:
    worker = Process(
        ["worker", "--threads", str(threads)],
        env_for(settings, **PLUGIN_ENV),
        tmp_path / f"{name}.log",
    )
    wait_for(lambda: "running" in worker.output() or worker.proc.poll() is not None, 60)
    assert worker.proc.poll() is None, worker.output()
    return worker


@pytest.fixture
def workers(settings, tmp_path):
    started: list[Process] = []

    def start(name: str, threads: int = 4) -> Process:
        worker = start_worker(settings, tmp_path, name, threads)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_two_worker_processes_never_run_the_same_job(db, tmp_path, workers):
    a, b = workers("a"), workers("b")
    runs = tmp_path / "runs.txt"
    job_ids = [enqueue(db, "test.record", {"path": str(runs), "hold": 0.01}) for _ in range(200)]
    wait_for(lambda: all(job(db, j).status == "succeeded" for j in job_ids[-5:]), 120)
    wait_for(lambda: all(job(db, j).status == "succeeded" for j in job_ids), 120)

    lines = runs.read_text().splitlines()
    per_job = collections.Counter(line.split()[0] for line in lines)
    assert set(per_job) == set(job_ids)
    assert max(per_job.values()) == 1, [j for j, n in per_job.items() if n > 1]
    processes = {line.split()[1].rsplit("-", 1)[0] for line in lines}
    assert len(processes) == 2, f"both processes should have claimed jobs: {processes}"
    assert a.proc.poll() is None and b.proc.poll() is None


def test_kill_9_mid_job_leads_to_a_retry_not_a_lost_job(db, workers):
    first = workers("first", threads=1)
    job_id = enqueue(db, "test.sleep", {"seconds": 1.0})
    wait_for(lambda: job(db, job_id).status == "running")
    owner = job(db, job_id).locked_by
    assert f":{first.proc.pid}:" in owner
    first.kill9()

    second = workers("second", threads=1)
    wait_for(lambda: job(db, job_id).status in jobs.TERMINAL, 60)
    done = job(db, job_id)
    assert done.status == "succeeded", done.error
    assert done.attempts == 2
    assert done.result["attempt"] == 2
    assert f":{second.proc.pid}:" in "".join(
        log.message for log in _logs(db, job_id) if "attempt 2 started" in log.message
    )
    assert any("stopped renewing its lease" in log.message for log in _logs(db, job_id))


def _logs(db, job_id):
    with db.read() as session:
        return jobs.list_logs(session=session, job_id=job_id, cursor=None, limit=100).items


def test_worker_refuses_unknown_plugin(settings, tmp_path):
    worker = Process(
        ["worker"], env_for(settings, ASSAY_PLUGINS='["no_such_plugin_mod"]'), tmp_path / "w.log"
    )
    try:
        assert worker.proc.wait(60) != 0
        assert "no_such_plugin_mod" in worker.output()
    finally:
        worker.stop()


def test_workers_claim_only_kinds_they_can_run(db, settings, tmp_path, workers):
    plain = Process(["worker"], env_for(settings), tmp_path / "plain.log")
    try:
        wait_for(lambda: "running" in plain.output(), 60)
        job_id = enqueue(db, "test.sleep", {"seconds": 0})
        time.sleep(1.0)  # many poll cycles of the worker that lacks the plugin
        assert job(db, job_id).status == "queued"
        workers("with-plugin", threads=1)
        wait_for(lambda: job(db, job_id).status == "succeeded", 60)
    finally:
        plain.stop()
