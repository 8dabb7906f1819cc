"""`client.keys` against a real `assay serve`: live and test keys, Bearer and Basic auth."""

from __future__ import annotations

import pytest

from assay.sdk import Forbidden, Unauthorized

pytestmark = pytest.mark.live


def test_keys_create_list_revoke_and_modes(connect, server, accounts):
    admin, labeler = accounts.make("admin"), accounts.make("labeler")
    assert connect(server.url, admin.test_key).me().mode == "test"
    assert connect(server.url, admin.key, auth="basic").me().mode == "live"

    client = connect(server.url, admin.key)
    created = client.keys.create(mode="test", name="ci")
    assert created.key.startswith("test_") and created.prefix == created.key[:9]
    sandbox = connect(server.url, created.key, auth="basic")
    assert (sandbox.me().mode, sandbox.me().user.id) == ("test", admin.user.id)

    for_labeler = client.keys.create(user_id=labeler.user.id, name="theirs")
    assert for_labeler.user_id == labeler.user.id and for_labeler.mode == "live"
    with pytest.raises(Forbidden):
        connect(server.url, labeler.key).keys.create(user_id=admin.user.id)

    listed = {key.id: key for key in client.keys.list(page_size=1)}
    assert created.id in listed and for_labeler.id not in listed
    assert listed[created.id].name == "ci" and not hasattr(listed[created.id], "key")
    assert for_labeler.id in {k.id for k in client.keys.list(user_id=labeler.user.id)}

    assert client.keys.revoke(created.id).revoked_at is not None
    with pytest.raises(Unauthorized):
        sandbox.me()
