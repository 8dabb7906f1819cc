"""`client.webhooks` against a real `assay serve` delivering to a receiver on loopback."""

from __future__ import annotations

import time

import pytest

from assay.sdk import Conflict, Forbidden, NotFound
from tests.support.receiver import Receiver

pytestmark = pytest.mark.live


def test_manage_a_webhook_and_follow_a_ping_delivery(connect, server, accounts):
    manager, labeler = accounts.make("manager"), accounts.make("labeler")
    client = connect(server.url, manager.key)
    with pytest.raises(Forbidden):
        connect(server.url, labeler.key).webhooks.create(url="http://127.0.0.1:9/hook")

    with Receiver() as receiver:
        created = client.webhooks.create(url=receiver.url, events=["batch.*"])
        assert created.secret and created.events == ["batch.*"] and created.is_active
        assert [target.id for target in client.webhooks.list()] == [created.id]

        paused = client.webhooks.update(created.id, is_active=False)
        assert not paused.is_active and paused.url == receiver.url
        with pytest.raises(Conflict):
            client.webhooks.test(created.id)
        client.webhooks.update(created.id, is_active=True)

        queued = client.webhooks.test(created.id)
        assert (queued.event, queued.status, queued.attempts) == ("ping", "pending", [])
        delivery = queued
        deadline = time.monotonic() + 60
        while not delivery.finished and time.monotonic() < deadline:
            time.sleep(0.05)
            delivery = client.webhooks.delivery(created.id, queued.id)
        assert delivery.status == "succeeded"
        assert [attempt.status_code for attempt in delivery.attempts] == [200]
        assert receiver.wait_for(1)[0].headers["assay-event"] == "ping"
        assert [d.id for d in client.webhooks.deliveries(created.id)] == [queued.id]

    rotated = client.webhooks.rotate_secret(created.id)
    assert rotated.id == created.id and rotated.secret != created.secret
    client.webhooks.delete(created.id)
    with pytest.raises(NotFound):
        client.webhooks.get(created.id)
