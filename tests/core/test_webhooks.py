"""Webhooks in one process: signatures, deliveries through real workers to a real
receiver on loopback, retries with backoff, and the delivery log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from assay.core import jobs, models, webhooks
from assay.core.auth import SYSTEM, Actor
from assay.core.worker import WorkerPool
from tests.support.polling import wait_for
from tests.support.postgres import free_port
from tests.support.receiver import Receiver


@pytest.fixture
def live(accounts) -> Actor:
    user = accounts.make("manager").user
    return Actor(user_id=user.id, email=user.email, role=user.role, mode="live")


@pytest.fixture
def sandbox(live) -> Actor:
    return Actor(user_id=live.user_id, email=live.email, role=live.role, mode="test")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def make_target(
    db, settings, url: str, events: list[str] | None = None, actor: Actor | None = None
) -> tuple[str, str]:
    actor = actor or SYSTEM
    with db.write() as session:
        target, secret = webhooks.create_target(
            session=session, url=url, events=events or ["*"], actor=actor, settings=settings
        )
        return target.id, secret


def emit(db, settings, event: str, payload: dict, actor: Actor | None = None) -> list[str]:
    with db.write() as session:
        return [
            d.id
            for d in webhooks.emit(
                session=session, event=event, payload=payload, actor=actor, settings=settings
            )
        ]


def delivery_log(db, delivery_id: str) -> webhooks.DeliveryLog:
    with db.read() as session:
        return webhooks.get_delivery(session=session, delivery_id=delivery_id)


def finished_log(db, delivery_id: str) -> webhooks.DeliveryLog:
    """The delivery once it succeeded or failed and its job finished too."""

    def done() -> bool:
        log = delivery_log(db, delivery_id)
        if log.delivery.status not in ("succeeded", "failed"):
            return False
        with db.read() as session:
            job = session.get(models.Job, log.delivery.job_id)
            return job is not None and job.status in jobs.TERMINAL

    wait_for(done)
    return delivery_log(db, delivery_id)


def job_of(db, log: webhooks.DeliveryLog) -> models.Job:
    with db.read() as session:
        return jobs.get_job(session=session, job_id=log.delivery.job_id)


# --- signatures --------------------------------------------------------------------------


def test_signature_verifies_and_tampering_fails():
    body = b'{"id":"d1","event":"task.completed","data":{"n":1}}'
    header = webhooks.sign("whsec_abc", body)
    assert header.startswith("t=") and ",v1=" in header
    assert webhooks.verify_signature("whsec_abc", header, body)
    assert webhooks.verify_signature("whsec_abc", header, body.decode())
    assert not webhooks.verify_signature("whsec_abc", header, body.replace(b"1}", b"2}"))
    assert not webhooks.verify_signature("whsec_other", header, body)
    assert not webhooks.verify_signature("whsec_abc", "v1=deadbeef", body)
    assert not webhooks.verify_signature("whsec_abc", "t=soon,v1=00", body)


def test_signature_refuses_stale_timestamps_and_accepts_any_listed_secret():
    body = b"{}"
    old = webhooks.sign("s", body, timestamp=int(time.time()) - 3600)
    assert not webhooks.verify_signature("s", old, body)
    assert webhooks.verify_signature("s", old, body, tolerance_seconds=None)
    t = int(time.time())
    both = f"t={t},v1={'0' * 64},{webhooks.sign('s', body, timestamp=t).split(',')[1]}"
    assert webhooks.verify_signature("s", both, body)


def test_event_subscriptions():
    assert webhooks.subscribed(["*"], "task.completed")
    assert webhooks.subscribed(["task.*"], "task.completed")
    assert not webhooks.subscribed(["task.*"], "batch.completed")
    assert webhooks.subscribed(["batch.completed"], "batch.completed")
    assert not webhooks.subscribed(["batch.completed"], "batch.created")


# --- deliveries --------------------------------------------------------------------------


def test_emit_posts_a_signed_event_to_subscribed_targets(
    db, settings, pool, receiver, live, sandbox
):
    target_id, secret = make_target(db, settings, receiver.url, ["task.*"])
    make_target(db, settings, receiver.url + "?other", ["batch.completed"])
    make_target(db, settings, receiver.url + "?test-mode", ["*"], actor=sandbox)
    [delivery_id] = emit(db, settings, "task.completed", {"task_id": "t1"}, actor=live)

    log = finished_log(db, delivery_id)
    assert log.delivery.status == "succeeded" and log.delivery.delivered_at is not None
    assert [(a.attempt, a.status_code, a.error) for a in log.attempts] == [(1, 200, None)]
    assert log.attempts[0].response_body == '{"answered": 200}'
    assert log.delivery.target_id == target_id

    [request] = receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "Assay-Webhooks/0.1"
    assert request.headers["assay-event"] == "task.completed"
    assert request.headers["assay-delivery"] == delivery_id
    assert webhooks.verify_signature(secret, request.headers["assay-signature"], request.body)
    assert not webhooks.verify_signature(
        secret, request.headers["assay-signature"], request.body.replace(b"t1", b"t2")
    )
    sent = json.loads(request.body)
    assert sent["id"] == delivery_id and sent["event"] == "task.completed"
    assert sent["data"] == {"task_id": "t1"}


def test_test_mode_events_reach_only_test_mode_targets(db, settings, pool, receiver, sandbox):
    make_target(db, settings, receiver.url + "?live")
    make_target(db, settings, receiver.url + "?test", actor=sandbox)
    [delivery_id] = emit(db, settings, "task.completed", {}, actor=sandbox)
    finished_log(db, delivery_id)
    assert [r.path for r in receiver.wait_for(1)] == ["/hook?test"]


def test_inactive_targets_get_nothing(db, settings):
    target_id, _ = make_target(db, settings, "http://127.0.0.1:9/hook")
    with db.write() as session:
        target = webhooks.get_target(session=session, target_id=target_id)
        webhooks.update_target(session=session, target=target, settings=settings, is_active=False)
    assert emit(db, settings, "task.completed", {}) == []


def test_server_errors_are_retried_until_success(db, settings, pool, receiver):
    receiver.answer(500, 503)
    make_target(db, settings, receiver.url)
    [delivery_id] = emit(db, settings, "task.completed", {"n": 1})

    log = finished_log(db, delivery_id)
    assert log.delivery.status == "succeeded"
    assert [(a.attempt, a.status_code) for a in log.attempts] == [(1, 500), (2, 503), (3, 200)]
    assert [a.error for a in log.attempts] == ["HTTP 500", "HTTP 503", None]
    assert job_of(db, log).status == "succeeded"
    requests = receiver.wait_for(3)
    assert len({r.headers["assay-delivery"] for r in requests}) == 1


def test_rate_limit_answers_are_retried(db, settings, pool, receiver):
    receiver.answer(429, 408)
    make_target(db, settings, receiver.url)
    [delivery_id] = emit(db, settings, "task.completed", {})
    log = finished_log(db, delivery_id)
    assert [a.status_code for a in log.attempts] == [429, 408, 200]
    assert log.delivery.status == "succeeded"


def test_client_errors_fail_at_once(db, settings, pool, receiver):
    receiver.answer(404)
    make_target(db, settings, receiver.url)
    [delivery_id] = emit(db, settings, "task.completed", {})
    log = finished_log(db, delivery_id)
    assert log.delivery.status == "failed" and log.delivery.delivered_at is None
    assert [(a.status_code, a.error) for a in log.attempts] == [(404, "HTTP 404")]
    job = job_of(db, log)
    assert job.status == "failed" and job.attempts == 1
    assert len(receiver.requests) == 1


def test_unreachable_receiver_fails_after_max_attempts(db, settings, pool):
    settings.webhook_max_attempts = 3
    make_target(db, settings, f"http://127.0.0.1:{free_port()}/hook")
    [delivery_id] = emit(db, settings, "task.completed", {})
    log = finished_log(db, delivery_id)
    assert log.delivery.status == "failed"
    assert [a.attempt for a in log.attempts] == [1, 2, 3]
    assert all(
        a.status_code is None and a.error == "could not fetch the URL: could not connect"
        for a in log.attempts
    )
    job = job_of(db, log)
    assert job.status == "failed" and job.attempts == 3 and job.max_attempts == 3


def test_worker_settings_cap_attempts_of_jobs_queued_with_more(db, settings, pool):
    make_target(db, settings, f"http://127.0.0.1:{free_port()}/hook")
    [delivery_id] = emit(db, settings, "task.completed", {})  # queued with 8 attempts
    settings.webhook_max_attempts = 2
    log = finished_log(db, delivery_id)
    assert log.delivery.status == "failed"
    assert [a.attempt for a in log.attempts] == [1, 2]


def test_url_refused_at_send_time_fails_without_sending(db, settings, pool, receiver):
    make_target(db, settings, receiver.url)
    settings.outbound_deny = ["127.0.0.0/8"]  # the rules changed after the target was saved
    [delivery_id] = emit(db, settings, "task.completed", {})
    log = finished_log(db, delivery_id)
    assert log.delivery.status == "failed"
    [attempt] = log.attempts
    assert attempt.status_code is None and "not an allowed destination" in attempt.error
    assert receiver.requests == []


def test_retries_use_the_current_secret_after_rotation(db, settings, pool, receiver):
    settings.job_retry_base_seconds = 0.5
    receiver.answer(500)
    target_id, old_secret = make_target(db, settings, receiver.url)
    [delivery_id] = emit(db, settings, "task.completed", {})
    receiver.wait_for(1)
    with db.write() as session:
        new_secret = webhooks.rotate_secret(
            session=session, target=webhooks.get_target(session=session, target_id=target_id)
        )
    assert finished_log(db, delivery_id).delivery.status == "succeeded"
    first, second = receiver.wait_for(2)
    assert webhooks.verify_signature(old_secret, first.headers["assay-signature"], first.body)
    assert webhooks.verify_signature(new_secret, second.headers["assay-signature"], second.body)
    assert not webhooks.verify_signature(old_secret, second.headers["assay-signature"], second.body)


def test_callback_sends_payload_as_is_with_its_secret(db, settings, pool, receiver):
    with db.write() as session:
        delivery = webhooks.send_callback(
            session=session,
            url=receiver.url,
            event="task.completed",
            payload={"task_id": "t9", "response": {"label": "cat"}},
            secret="project-secret",
            headers={"X-Extra": "yes"},
            settings=settings,
        )
        delivery_id = delivery.id
    log = finished_log(db, delivery_id)
    assert log.delivery.status == "succeeded" and log.delivery.target_id is None
    [request] = receiver.wait_for(1)
    assert json.loads(request.body) == {"task_id": "t9", "response": {"label": "cat"}}
    assert request.headers["x-extra"] == "yes"
    assert webhooks.verify_signature(
        "project-secret", request.headers["assay-signature"], request.body
    )
    with db.read() as session:
        job = session.get(models.Job, log.delivery.job_id)
        assert "project-secret" not in json.dumps(job.payload)  # the jobs API shows payloads


def test_delivery_whose_worker_died_on_the_last_attempt_is_marked_failed(db, settings):
    settings.webhook_max_attempts = 1
    with db.write() as session:
        delivery_id = webhooks.send_callback(
            session=session,
            url="http://127.0.0.1:9/",
            event="task.completed",
            payload={},
            secret="s",
            settings=settings,
        ).id
    with db.write() as session:
        assert jobs.claim_next(session=session, worker_id="doomed", lease_seconds=0.01)
    time.sleep(0.05)
    with db.write() as session:
        jobs.requeue_expired(session=session, retry_base_seconds=0, retry_max_seconds=0)
    with db.read() as session:
        delivery = session.get(models.WebhookDelivery, delivery_id)
        assert delivery.status == "failed"
        assert session.get(models.Job, delivery.job_id).status == "failed"


def test_deleting_a_target_stops_its_queued_deliveries(db, settings, ctx, receiver):
    target_id, _ = make_target(db, settings, receiver.url)
    [delivery_id] = emit(db, settings, "task.completed", {})
    with db.read() as session:
        job_id = session.get(models.WebhookDelivery, delivery_id).job_id
    with db.write() as session:
        webhooks.delete_target(
            session=session, target=webhooks.get_target(session=session, target_id=target_id)
        )
    with db.read() as session:
        assert session.get(models.WebhookDelivery, delivery_id) is None
    workers = WorkerPool(ctx, threads=1, name="late")
    workers.start()
    try:

        def job_done() -> bool:
            with db.read() as session:
                return jobs.get_job(session=session, job_id=job_id).status in jobs.TERMINAL

        wait_for(job_done)
    finally:
        workers.stop()
    with db.read() as session:
        job = jobs.get_job(session=session, job_id=job_id)
    assert job.status == "succeeded" and "skipped" in job.result
    assert receiver.requests == []


def test_delivery_log_pairs_each_delivery_with_its_own_attempts(db, settings, pool, receiver):
    receiver.answer(500)  # the first delivery's first attempt
    target_id, _ = make_target(db, settings, receiver.url)
    first, second = emit(db, settings, "a.b", {}) + emit(db, settings, "a.b", {})
    finished_log(db, first), finished_log(db, second)
    with db.read() as session:
        page = webhooks.list_deliveries(session=session, target_id=target_id, cursor=None, limit=10)
    assert [log.delivery.id for log in page.items] == [second, first]
    assert [[a.status_code for a in log.attempts] for log in page.items] == [[200], [500, 200]]
    assert {a.delivery_id for a in page.items[1].attempts} == {first}
