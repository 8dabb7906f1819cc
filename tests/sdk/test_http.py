"""The SDK's HTTP layer against a real `assay serve`: typed errors, retries, idempotency."""

from __future__ import annotations

import pytest

from assay.sdk import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServerError,
    Unauthorized,
    Unreachable,
)
from assay.sdk._api.users import UsersAPI
from tests.sdk.flaky_proxy import FlakyProxy
from tests.support.postgres import free_port

pytestmark = pytest.mark.live


def test_errors_are_typed_with_status_code_field_and_request_id(connect, server, accounts):
    admin, labeler = accounts.make("admin"), accounts.make("labeler")

    with pytest.raises(Unauthorized) as bad_key:
        connect(server.url, "live_" + "f" * 32).me()
    assert (bad_key.value.status, bad_key.value.code) == (401, "unauthorized")
    assert bad_key.value.request_id and "assay keys create" in bad_key.value.message

    with pytest.raises(Forbidden) as forbidden:
        connect(server.url, labeler.key).users.create(email="x@example.test", role="admin")
    assert forbidden.value.status == 403 and "admin role" in forbidden.value.message

    client = connect(server.url, admin.key)
    with pytest.raises(NotFound) as missing:
        client.users.get("0" * 24)
    assert (missing.value.status, missing.value.field) == (404, "user_id")

    with pytest.raises(Conflict) as duplicate:
        client.users.create(email=labeler.user.email, role="labeler")
    assert (duplicate.value.status, duplicate.value.field) == (409, "email")
    assert labeler.user.email in str(duplicate.value)

    with pytest.raises(InvalidInput) as invalid:
        client.users.create(email="y@example.test", role="emperor")
    assert (invalid.value.status, invalid.value.code, invalid.value.field) == (
        422,
        "invalid",
        "role",
    )


def test_an_unreachable_server_raises_unreachable(connect):
    client = connect(f"http://127.0.0.1:{free_port()}", "live_x", retries=2, backoff=0.01)
    with pytest.raises(Unreachable) as failure:
        client.me()
    assert "assay serve" in failure.value.message and failure.value.status is None


def test_retries_never_duplicate_a_create(connect, server, accounts):
    admin = accounts.make("admin")
    direct = connect(server.url, admin.key)

    # The same Idempotency-Key twice: the second answer is the first one, nothing new.
    api = UsersAPI(direct._http)
    body = {"email": "once@example.test", "role": "labeler"}
    first = api.create(json=body, idempotency_key="retry-me")
    assert api.create(json=body, idempotency_key="retry-me") == first
    with pytest.raises(Conflict):  # whereas a new request collides
        api.create(json=body, idempotency_key="a-new-request")

    proxy = FlakyProxy(server.url)
    try:
        client = connect(proxy.url, admin.key, retries=3, backoff=0.01)
        # The server creates the user but its answer is lost; the SDK retries on its own
        # with the automatic Idempotency-Key and gets the first answer back.
        proxy.plan.extend(["forward-then-502", "503"])
        user = client.users.create(email="lost-answer@example.test", role="labeler")
        creates = [seen for seen in proxy.seen if seen.method == "POST"]
        assert [seen.answered for seen in creates] == [502, 503, 201]
        assert creates[0].idempotency_key
        assert len({seen.idempotency_key for seen in creates}) == 1
        emails = [u.email for u in direct.users.list()]
        assert emails.count("lost-answer@example.test") == 1
        assert user.email == "lost-answer@example.test"

        proxy.plan.extend(["503", "forward-then-502"])
        assert client.me().user.id == admin.user.id
        assert [seen.answered for seen in proxy.seen[-3:]] == [503, 502, 200]

        # POST /keys does not take an Idempotency-Key: sent once, never retried.
        proxy.seen.clear()
        proxy.plan.append("forward-then-502")
        with pytest.raises(ServerError) as failure:
            client.keys.create(mode="live")
        assert failure.value.status == 502
        assert [(seen.method, seen.idempotency_key) for seen in proxy.seen] == [("POST", None)]
    finally:
        proxy.close()
