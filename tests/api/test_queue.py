"""The queue API: leases, what labelers see, responses checked against the taxonomy,
stale submits, review permissions and the rework loop."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest

from assay.core import models as core_models
from assay.core.db import utcnow
from assay.labeling import models

API = "/api/v1"
TAXONOMY = {
    "labels": [
        {
            "name": "car",
            "geometries": ["box", "polygon"],
            "attributes": [{"name": "doors", "type": "number", "min": 1, "max": 6}],
        }
    ]
}
REVIEWED = {"stages": [{"name": "label", "kind": "label"}, {"name": "review", "kind": "review"}]}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


@pytest.fixture
def manager(accounts):
    return accounts.make("manager")


def make_project(client, manager, **body: Any) -> dict[str, Any]:
    body = {
        "name": "cars",
        "task_type": "image",
        "taxonomy": TAXONOMY,
        "params": {"image_width": 640, "image_height": 480},
        **body,
    }
    response = client.post(f"{API}/projects", json=body, headers=manager.headers)
    assert response.status_code == 201, response.text
    return response.json()


def add_tasks(client, manager, project_id: str, tasks: list[dict]) -> list[str]:
    response = client.post(
        f"{API}/projects/{project_id}/tasks/bulk", json={"tasks": tasks}, headers=manager.headers
    )
    assert response.status_code == 201, response.text
    return [t["id"] for t in response.json()["tasks"]]


def member(client, manager, accounts, project_id: str, role: str, global_role: str = "labeler"):
    account = accounts.make(global_role)
    response = client.put(
        f"{API}/projects/{project_id}/members/{account.user.id}",
        json={"role": role},
        headers=manager.headers,
    )
    assert response.status_code == 200, response.text
    return account


def next_lease(client, account, project_id: str, stage: str = "label"):
    return client.post(
        f"{API}/projects/{project_id}/queue/next", params={"stage": stage}, headers=account.headers
    )


def box(**extra: Any) -> dict[str, Any]:
    return {"type": "box", "label": "car", "x": 10, "y": 10, "width": 50, "height": 40, **extra}


def test_lease_shows_what_the_labeler_needs_and_nothing_else(client, manager, accounts):
    project = make_project(client, manager)
    sha = client.post(
        f"{API}/blobs", files={"file": ("a.png", PNG)}, headers=manager.headers
    ).json()["sha256"]
    add_tasks(
        client,
        manager,
        project["id"],
        [
            {
                "params": {"attachment": f"blob:{sha}"},
                "metadata": {"customer": "secret"},
                "prelabels": {"annotations": [box(id="pred")]},
                "unique_id": "private",
            },
        ],
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    response = next_lease(client, labeler, project["id"])
    assert response.status_code == 200, response.text
    lease = response.json()
    leased = lease["task"]
    assert set(leased) == {
        "id",
        "project_id",
        "type",
        "params",
        "prelabels",
        "priority",
        "stage",
        "round",
    }
    assert "secret" not in response.text and "private" not in response.text
    assert leased["prelabels"]["annotations"][0]["id"] == "pred"
    media = leased["params"]["attachment"]
    assert media.startswith(f"/media/{sha}?")
    assert client.get(media).content == PNG  # a signed URL: no key needed
    assert lease["previous"] is None and lease["draft"] is None
    # Nothing left for a second labeler; the first keeps their lease.
    other = member(client, manager, accounts, project["id"], "labeler")
    assert next_lease(client, other, project["id"]).status_code == 204
    again = next_lease(client, labeler, project["id"]).json()
    assert again["lease_token"] == lease["lease_token"]
    assert again["expires_at"] == lease["expires_at"]
    unsigned = {key: value for key, value in leased.items() if key != "params"}
    assert {key: value for key, value in again["task"].items() if key != "params"} == unsigned
    assert again["task"]["params"]["attachment"].startswith(f"/media/{sha}?")


@pytest.mark.parametrize(
    ("annotation", "field"),
    [
        (box(label="truck"), "response.annotations[0].label"),
        (box(x=620), "response.annotations[0].width"),
        (box(y=-5), "response.annotations[0].y"),
        (
            {"type": "polygon", "label": "car", "vertices": [{"x": 1, "y": 1}, {"x": 5, "y": 5}]},
            "response.annotations[0].vertices",
        ),
        (box(attributes={"doors": "four"}), "response.annotations[0].attributes.doors"),
        (box(attributes={"doors": 9}), "response.annotations[0].attributes.doors"),
    ],
)
def test_bad_responses_are_422_and_leave_the_task_unchanged(
    client, db, manager, accounts, annotation, field
):
    project = make_project(client, manager)
    (task_id,) = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}]
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    response = client.post(
        f"{API}/tasks/{task_id}/submit",
        json={"lease_token": lease["lease_token"], "response": {"annotations": [annotation]}},
        headers=labeler.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    with db.read() as session:
        task = session.get(models.Task, task_id)
        assert (task.status, task.stage, task.working_response) == ("pending", "label", None)
        assert task.lease_token == lease["lease_token"]
        assert session.query(models.TaskEvent).count() == 0


def test_span_outside_the_text_is_422(client, manager, accounts):
    project = make_project(
        client,
        manager,
        name="ner",
        task_type="text_spans",
        taxonomy={"labels": [{"name": "person", "geometries": ["span"]}]},
        params={},
    )
    (task_id,) = add_tasks(client, manager, project["id"], [{"params": {"text": "Ada Lovelace"}}])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    token = next_lease(client, labeler, project["id"]).json()["lease_token"]
    url = f"{API}/tasks/{task_id}/submit"
    outside = {"annotations": [{"type": "span", "label": "person", "start": 4, "end": 40}]}
    response = client.post(
        url, json={"lease_token": token, "response": outside}, headers=labeler.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("response.annotations[0].")
    inside = {"annotations": [{"type": "span", "label": "person", "start": 0, "end": 12}]}
    done = client.post(
        url, json={"lease_token": token, "response": inside}, headers=labeler.headers
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"
    stored = client.get(f"{API}/tasks/{task_id}", headers=manager.headers).json()["response"]
    assert stored["annotations"][0]["text"] == "Ada Lovelace"


def test_drafts_heartbeats_skips_and_stale_tokens(client, db, manager, accounts):
    project = make_project(client, manager)
    (task_id,) = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}]
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    token = next_lease(client, labeler, project["id"]).json()["lease_token"]
    url = f"{API}/tasks/{task_id}"
    # A draft may be incomplete but not malformed.
    unfinished = {"annotations": [box()]}
    assert (
        client.put(
            f"{url}/draft",
            json={"lease_token": token, "response": unfinished},
            headers=labeler.headers,
        ).status_code
        == 204
    )
    broken = client.put(
        f"{url}/draft",
        json={"lease_token": token, "response": {"annotations": [box(width=-1)]}},
        headers=labeler.headers,
    )
    assert broken.status_code == 422
    assert next_lease(client, labeler, project["id"]).json()["draft"]["annotations"][0]["x"] == 10
    beat = client.post(f"{url}/heartbeat", json={"lease_token": token}, headers=labeler.headers)
    assert beat.status_code == 200 and beat.json()["expires_at"]
    stale = client.post(
        f"{url}/submit",
        json={"lease_token": "0" * 32, "response": unfinished},
        headers=labeler.headers,
    )
    assert stale.status_code == 409 and stale.json()["error"]["field"] == "lease_token"
    assert (
        client.post(
            f"{url}/heartbeat", json={"lease_token": "0" * 32}, headers=labeler.headers
        ).status_code
        == 409
    )
    no_reason = client.post(
        f"{url}/skip", json={"lease_token": token, "reason": ""}, headers=labeler.headers
    )
    assert no_reason.status_code == 422
    assert (
        client.post(
            f"{url}/skip", json={"lease_token": token, "reason": "blurry"}, headers=labeler.headers
        ).status_code
        == 204
    )
    assert next_lease(client, labeler, project["id"]).status_code == 204
    after_skip = client.post(
        f"{url}/submit",
        json={"lease_token": token, "response": unfinished},
        headers=labeler.headers,
    )
    assert after_skip.status_code == 409
    with db.read() as session:
        assert session.get(models.Task, task_id).status == "pending"


def test_who_may_work_which_stage(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}]
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    stranger = accounts.make("labeler")
    assert next_lease(client, stranger, project["id"]).status_code == 404
    assert next_lease(client, labeler, project["id"], "review").status_code == 403
    unknown = next_lease(client, labeler, project["id"], "audit")
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "stage"
    token = next_lease(client, labeler, project["id"]).json()["lease_token"]
    assert (
        client.post(
            f"{API}/tasks/{task_id}/heartbeat",
            json={"lease_token": token},
            headers=stranger.headers,
        ).status_code
        == 404
    )
    submitted = client.post(
        f"{API}/tasks/{task_id}/submit",
        json={"lease_token": token, "response": {"annotations": [box()]}},
        headers=labeler.headers,
    )
    assert submitted.json() == {"task_id": task_id, "status": "pending", "stage": "review"}
    # A global reviewer who is a project labeler may review; so may project reviewers.
    global_reviewer = member(client, manager, accounts, project["id"], "labeler", "reviewer")
    assert next_lease(client, global_reviewer, project["id"], "review").status_code == 200


def test_reject_rework_resubmit_accept(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(
        client,
        manager,
        project["id"],
        [{"params": {"attachment": "https://x.test/a.jpg"}, "metadata": {"customer": "secret"}}],
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer")
    url = f"{API}/tasks/{task_id}"

    token = next_lease(client, labeler, project["id"]).json()["lease_token"]
    client.post(
        f"{url}/submit",
        json={"lease_token": token, "response": {"annotations": [box(id="b1")]}},
        headers=labeler.headers,
    )
    assert next_lease(client, labeler, project["id"], "review").status_code == 403
    review = next_lease(client, reviewer, project["id"], "review").json()
    assert review["previous"]["annotations"][0]["id"] == "b1"
    assert "secret" not in str(review)
    no_comment = client.post(
        f"{url}/review",
        json={"lease_token": review["lease_token"], "decision": "reject"},
        headers=reviewer.headers,
    )
    assert no_comment.status_code == 422 and no_comment.json()["error"]["field"] == "comments"
    comments = [{"text": "box is too small", "annotation_id": "b1"}]
    rejected = client.post(
        f"{url}/review",
        json={"lease_token": review["lease_token"], "decision": "reject", "comments": comments},
        headers=reviewer.headers,
    )
    assert rejected.json() == {"task_id": task_id, "status": "pending", "stage": "label"}

    rework = next_lease(client, labeler, project["id"]).json()
    assert rework["task"]["round"] == 1 and rework["comments"] == comments
    assert rework["previous"]["annotations"][0]["id"] == "b1"
    client.post(
        f"{url}/submit",
        json={
            "lease_token": rework["lease_token"],
            "response": {"annotations": [box(id="b2", width=80)]},
        },
        headers=labeler.headers,
    )
    second = next_lease(client, reviewer, project["id"], "review").json()
    accepted = client.post(
        f"{url}/review",
        json={"lease_token": second["lease_token"], "decision": "accept"},
        headers=reviewer.headers,
    )
    assert accepted.json()["status"] == "completed"
    final = client.get(url, headers=manager.headers).json()
    assert final["response"]["annotations"][0]["width"] == 80
    history = client.get(f"{url}/history", headers=manager.headers).json()["items"]
    assert [(e["action"], e["user_id"], e["round"]) for e in history] == [
        ("submit", labeler.user.id, 0),
        ("reject", reviewer.user.id, 0),
        ("submit", labeler.user.id, 1),
        ("accept", reviewer.user.id, 1),
    ]
    assert all(e["created_at"] for e in history)
    assert history[1]["comments"] == comments
    # The labeler never sees the task through the manager endpoints.
    assert client.get(url, headers=labeler.headers).status_code == 403
    assert client.get(f"{url}/history", headers=labeler.headers).status_code == 403


def test_a_fix_is_checked_against_the_taxonomy(client, manager, accounts):
    project = make_project(client, manager, pipeline=REVIEWED)
    (task_id,) = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}]
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    reviewer = member(client, manager, accounts, project["id"], "reviewer")
    token = next_lease(client, labeler, project["id"]).json()["lease_token"]
    client.post(
        f"{API}/tasks/{task_id}/submit",
        json={"lease_token": token, "response": {"annotations": [box()]}},
        headers=labeler.headers,
    )
    review_token = next_lease(client, reviewer, project["id"], "review").json()["lease_token"]
    url = f"{API}/tasks/{task_id}/review"
    bad = client.post(
        url,
        json={
            "lease_token": review_token,
            "decision": "fix",
            "response": {"annotations": [box(label="bus")]},
        },
        headers=reviewer.headers,
    )
    assert (
        bad.status_code == 422 and bad.json()["error"]["field"] == "response.annotations[0].label"
    )
    fixed = client.post(
        url,
        json={
            "lease_token": review_token,
            "decision": "fix",
            "response": {"annotations": [box(height=5)]},
        },
        headers=reviewer.headers,
    )
    assert fixed.json()["status"] == "completed"
    final = client.get(f"{API}/tasks/{task_id}", headers=manager.headers).json()
    assert final["response"]["annotations"][0]["height"] == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"response": {"annotations": []}}, "lease_token"),
        ({"lease_token": "t"}, "response"),
        ({"lease_token": "t", "response": "cat"}, "response"),
        ("not json", None),
    ],
    ids=["no-token", "no-response", "response-not-object", "not-json"],
)
def test_malformed_submit_bodies_are_422_naming_the_field(client, manager, accounts, body, field):
    """The queue's two hot endpoints are served on a lighter route than the rest of the API:
    its request errors must read exactly like every other endpoint's."""
    project = make_project(client, manager)
    (task_id,) = add_tasks(
        client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}]
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    assert next_lease(client, labeler, project["id"]).status_code == 200
    sent = (
        {"content": body, "headers": {**labeler.headers, "Content-Type": "application/json"}}
        if isinstance(body, str)
        else {"json": body, "headers": labeler.headers}
    )
    response = client.post(f"{API}/tasks/{task_id}/submit", **sent)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    if field is not None:
        assert error["field"] == field


def test_next_and_submit_need_a_key_and_a_real_task(client, manager, accounts):
    project = make_project(client, manager)
    nobody = client.post(f"{API}/projects/{project['id']}/queue/next")
    assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "unauthorized"
    assert "www-authenticate" in nobody.headers
    labeler = member(client, manager, accounts, project["id"], "labeler")
    missing = client.post(
        f"{API}/tasks/{'0' * 24}/submit",
        json={"lease_token": "t", "response": {"annotations": []}},
        headers=labeler.headers,
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "task_id"
    other = client.post(f"{API}/projects/{'0' * 24}/queue/next", headers=labeler.headers)
    assert other.status_code == 404 and other.json()["error"]["field"] == "project_id"


def test_video_frames_from_blobs_are_checked_and_signed_for_the_labeler(client, manager, accounts):
    frames = []
    for i in range(2):
        uploaded = client.post(
            f"{API}/blobs",
            files={"file": (f"f{i}.png", PNG + bytes([i]), "image/png")},
            headers=manager.headers,
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        frames.append(f"blob:{uploaded.json()['sha256']}")
    project = make_project(client, manager, name="clips", task_type="video")
    url_frame = "https://cdn.example.test/frame-2.jpg"
    missing = "blob:" + "ab" * 32
    refused = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"tasks": [{"params": {"frames": [frames[0], missing]}}]},
        headers=manager.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "tasks[0].params.frames[1]"
    not_a_list = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"tasks": [{"params": {"frames": "clip.mp4"}}]},
        headers=manager.headers,
    )
    assert not_a_list.status_code == 422
    assert not_a_list.json()["error"]["field"] == "tasks[0].params.frames"
    add_tasks(client, manager, project["id"], [{"params": {"frames": [*frames, url_frame]}}])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    shown = next_lease(client, labeler, project["id"]).json()["task"]["params"]["frames"]
    assert shown[2] == url_frame
    for i, frame in enumerate(shown[:2]):
        assert frame.startswith(f"/media/{frames[i][5:]}?")
        assert client.get(frame).content == PNG + bytes([i])


def test_submit_with_next_returns_the_following_lease(client, db, manager, accounts):
    project = make_project(client, manager)
    ids = add_tasks(
        client,
        manager,
        project["id"],
        [{"params": {"attachment": f"https://x.test/{i}.jpg"}} for i in range(2)],
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")
    first = next_lease(client, labeler, project["id"]).json()

    def send(lease, flag="true"):
        return client.post(
            f"{API}/tasks/{lease['task']['id']}/submit",
            params={"next": flag},
            json={"lease_token": lease["lease_token"], "response": {"annotations": [box()]}},
            headers=labeler.headers,
        )

    assert send(first, "maybe").status_code == 422
    done = send(first)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["task_id"], body["status"]) == (first["task"]["id"], "completed")
    second = body["next"]
    assert second["task"]["id"] != first["task"]["id"]
    assert {first["task"]["id"], second["task"]["id"]} == set(ids)
    assert send(first).status_code == 409  # the old lease is spent; nothing else is leased
    last = send(second).json()
    assert last["status"] == "completed" and last["next"] is None
    plain = next_lease(client, labeler, project["id"])
    assert plain.status_code == 204
    with db.read() as session:
        assert session.query(models.TaskEvent).filter_by(action="submit").count() == 2


def test_next_and_submit_wait_for_a_busy_writer_instead_of_failing(
    client, db, dialect, manager, accounts
):
    """On SQLite the queue's requests run on the event loop and must not wait there: while
    another writer holds the database, they start again on a thread and wait for it."""
    if dialect != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no single writer to wait for")
    project = make_project(client, manager)
    add_tasks(client, manager, project["id"], [{"params": {"attachment": "https://x.test/a.jpg"}}])
    labeler = member(client, manager, accounts, project["id"], "labeler")
    holding, release = threading.Event(), threading.Event()

    def hold_the_writer() -> None:
        with db.write_connection():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    lease = next_lease(client, labeler, project["id"])
    waited = time.monotonic() - started
    holder.join()
    assert lease.status_code == 200, lease.text
    assert waited >= 0.4  # it waited for the writer, on a thread, and then claimed
    done = client.post(
        f"{API}/tasks/{lease.json()['task']['id']}/submit",
        json={"lease_token": lease.json()["lease_token"], "response": {"annotations": [box()]}},
        headers=labeler.headers,
    )
    assert done.status_code == 200 and done.json()["status"] == "completed"


def test_on_postgresql_the_queue_runs_on_the_loop_and_replaces_a_dropped_connection(
    client, db, dialect, manager, accounts
):
    """PostgreSQL next and submit await their statements on the event loop's own
    connections (application_name assay-queue-loop); one the server dropped while it sat
    idle is replaced before use, not handed to the next request as an error."""
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's queue work runs on the loop without a pool")
    project = make_project(client, manager)
    add_tasks(
        client,
        manager,
        project["id"],
        [{"params": {"attachment": f"https://x.test/{n}.jpg"}} for n in range(2)],
    )
    labeler = member(client, manager, accounts, project["id"], "labeler")

    def loop_backends() -> list[int]:
        with db.engine.connect() as conn:
            return list(
                conn.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'assay-queue-loop'"
                    " AND datname = current_database()"
                ).scalars()
            )

    def cycle() -> None:
        lease = next_lease(client, labeler, project["id"])
        assert lease.status_code == 200, lease.text
        done = client.post(
            f"{API}/tasks/{lease.json()['task']['id']}/submit",
            json={"lease_token": lease.json()["lease_token"], "response": {"annotations": []}},
            headers=labeler.headers,
        )
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text

    cycle()
    dropped = loop_backends()
    assert dropped, "the queue's statements did not run on the loop's connections"
    with db.engine.connect() as conn:
        for pid in dropped:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    time.sleep(1.2)  # longer than dialects.IDLE_PING_SECONDS: the pool pings before use
    cycle()
    assert set(loop_backends()).isdisjoint(dropped)
    with db.read() as session:
        assert session.query(models.TaskEvent).filter_by(action="submit").count() == 2


def test_an_expired_lease_goes_to_the_next_labeler_in_priority_order(client, db, manager, accounts):
    """Through the API (on PostgreSQL the held-lease read frees expired leases for the
    claim in the same transaction): the expired task comes back before lower priorities,
    and its first holder's submit is refused."""
    project = make_project(client, manager)
    urgent, later = add_tasks(
        client,
        manager,
        project["id"],
        [
            {"params": {"attachment": "https://x.test/u.jpg"}, "priority": 9},
            {"params": {"attachment": "https://x.test/l.jpg"}, "priority": 1},
        ],
    )
    first = member(client, manager, accounts, project["id"], "labeler")
    second = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, first, project["id"]).json()
    assert lease["task"]["id"] == urgent
    with db.write() as session:
        session.query(models.Task).filter_by(id=urgent).update(
            {"lease_expires_at": utcnow() - dt.timedelta(seconds=1)}
        )
    taken = next_lease(client, second, project["id"])
    assert taken.status_code == 200 and taken.json()["task"]["id"] == urgent
    late = client.post(
        f"{API}/tasks/{urgent}/submit",
        json={"lease_token": lease["lease_token"], "response": {"annotations": [box()]}},
        headers=first.headers,
    )
    assert late.status_code == 409
    assert next_lease(client, first, project["id"]).json()["task"]["id"] == later


@pytest.mark.parametrize("announces", ["nothing", "webhook", "batch", "callback", "audit"])
def test_a_completion_writes_what_it_announces_with_it(client, db, manager, accounts, announces):
    """On PostgreSQL the common submission commits as one statement of its own; one that also
    has something to write (a webhook event, the batch's completion, the task's callback, an
    audit) must not lose it: it applies in a transaction with all of it, on every dialect."""
    project = make_project(
        client, manager, quality={"audit_rate": 1.0 if announces == "audit" else 0.0}
    )
    if announces == "webhook":
        hook = client.post(
            f"{API}/webhooks",
            json={"url": "http://127.0.0.1:9/x", "events": ["task.completed"]},
            headers=manager.headers,
        )
        assert hook.status_code == 201, hook.text
    batch = client.post(
        f"{API}/projects/{project['id']}/batches",
        json={"name": "b", "callback_url": "http://127.0.0.1:9/batch"},
        headers=manager.headers,
    )
    assert batch.status_code == 201, batch.text
    batch = batch.json()
    # The batch keeps a second task pending unless its completion is what is tested.
    count = 1 if announces == "batch" else 2
    task = {"params": {"attachment": "https://x.test/1.jpg"}}
    if announces == "callback":
        task["callback_url"] = "http://127.0.0.1:9/task"
    created = client.post(
        f"{API}/projects/{project['id']}/tasks/bulk",
        json={"batch": batch["id"], "tasks": [task] * count},
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    client.post(f"{API}/batches/{batch['id']}/finalize", headers=manager.headers)
    labeler = member(client, manager, accounts, project["id"], "labeler")
    lease = next_lease(client, labeler, project["id"]).json()
    done = client.post(
        f"{API}/tasks/{lease['task']['id']}/submit",
        json={"lease_token": lease["lease_token"], "response": {"annotations": [box()]}},
        headers=labeler.headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    with db.read() as session:
        task_row = session.get(models.Task, lease["task"]["id"])
        assert task_row.status == "completed" and task_row.lease_token is None
        events = session.query(models.TaskEvent).filter_by(task_id=task_row.id).all()
        assert [e.action for e in events] == ["submit"]
        deliveries = sorted(
            (d.event, d.url) for d in session.query(core_models.WebhookDelivery).all()
        )
        audits = session.query(models.Audit).filter_by(task_id=task_row.id).count()
        batch_status = session.get(models.Batch, batch["id"]).status
    expected = {
        "nothing": [],
        "webhook": [("task.completed", "http://127.0.0.1:9/x")],
        "batch": [("batch.completed", "http://127.0.0.1:9/batch")],
        "callback": [("task.completed", "http://127.0.0.1:9/task")],
        "audit": [],
    }[announces]
    assert deliveries == expected
    assert audits == (1 if announces == "audit" else 0)
    assert batch_status == ("completed" if announces == "batch" else "in_progress")
