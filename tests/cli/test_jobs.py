"""`assay jobs` in process, with a real worker pool running the test job kinds."""

from __future__ import annotations

import json
import time

import tests.support.jobkinds  # noqa: F401  (registers the kinds enqueued here)
from assay.core import jobs


def enqueue(db, kind: str, payload: dict) -> str:
    with db.write() as session:
        return jobs.enqueue(session=session, kind=kind, payload=payload).id


def status(db, job_id: str) -> str:
    with db.read() as session:
        return jobs.get_job(session=session, job_id=job_id).status


def test_list_filters_and_json(cli, db, tmp_path):
    assert "no jobs yet" in cli("jobs").stdout
    record = enqueue(db, "test.record", {"path": str(tmp_path / "out.txt")})
    sleeper = enqueue(db, "test.sleep", {"seconds": 1})
    cancelled = enqueue(db, "test.sleep", {"seconds": 1})
    assert cli("jobs", "cancel", cancelled).exit_code == 0

    everything = cli("jobs")  # no subcommand: list
    assert everything.exit_code == 0, everything.output
    assert all(job_id in everything.stdout for job_id in (record, sleeper, cancelled))

    queued = cli("jobs", "list", "--status", "queued").stdout
    assert record in queued and sleeper in queued and cancelled not in queued
    by_kind = json.loads(cli("jobs", "list", "--kind", "test.record", "--json").stdout)
    assert [job["id"] for job in by_kind] == [record]
    limited = cli("jobs", "list", "--limit", "1")
    assert cancelled in limited.stdout and "--limit" in limited.stdout
    assert "no jobs match" in cli("jobs", "--kind", "nothing.like.this").stdout

    bad_status = cli("jobs", "list", "--status", "sleeping")
    assert bad_status.exit_code == 2 and "sleeping" in bad_status.output


def test_show_cancel_and_their_errors(cli, db, tmp_path):
    job_id = enqueue(db, "test.record", {"path": str(tmp_path / "x.txt"), "line": "hi [bold]"})
    shown = cli("jobs", "show", job_id)
    assert shown.exit_code == 0, shown.output
    assert "test.record" in shown.stdout and "queued" in shown.stdout
    assert '"line": "hi [bold]"' in shown.stdout

    cancelled = cli("jobs", "cancel", job_id)
    assert cancelled.exit_code == 0 and f"cancelled job {job_id}" in cancelled.stdout
    assert "cancelled before it ran" in cli("jobs", "show", job_id).stdout
    as_json = json.loads(cli("jobs", "show", job_id, "--json").stdout)
    assert as_json["job"]["status"] == "cancelled"
    assert [line["message"] for line in as_json["logs"]] == ["cancelled before it ran"]

    again = cli("jobs", "cancel", job_id)
    assert again.exit_code == 1 and "already cancelled" in again.stderr
    assert f"assay jobs show {job_id}" in again.stderr

    for command in ("show", "cancel", "watch"):
        missing = cli("jobs", command, "0" * 24)
        assert missing.exit_code == 1, command
        assert f"no job with id {'0' * 24}" in missing.stderr
        assert "assay jobs list" in missing.stderr


def test_watch_until_the_job_ends(cli, db, tmp_path, pool):
    out = tmp_path / "out.txt"
    done = enqueue(db, "test.record", {"path": str(out), "line": "watched"})
    watched = cli("jobs", "watch", done, "--interval", "0.05")
    assert watched.exit_code == 0, watched.output
    assert f"job {done} succeeded" in watched.stdout
    assert out.read_text() == "watched\n"

    failing = enqueue(db, "test.fail", {"message": "no luck"})
    failed = cli("jobs", "watch", failing, "--interval", "0.05")
    assert failed.exit_code == 1
    assert "no luck" in failed.stderr and f"assay jobs show {failing}" in failed.stderr


def test_cancel_a_running_job_then_watch_it_stop(cli, db, pool):
    job_id = enqueue(db, "test.sleep", {"seconds": 120})
    deadline = time.monotonic() + 60
    while status(db, job_id) != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    asked = cli("jobs", "cancel", job_id)
    assert asked.exit_code == 0 and "next checkpoint" in asked.stdout

    watched = cli("jobs", "watch", job_id, "--interval", "0.05")
    assert watched.exit_code == 1 and f"job {job_id} cancelled" in watched.stderr
    assert status(db, job_id) == "cancelled"
