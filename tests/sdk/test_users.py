"""`client.me()` and `client.users` against a real `assay serve`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from assay.core import models
from assay.sdk import Unauthorized

pytestmark = pytest.mark.live


def test_me_users_create_get_and_lazy_list_across_pages(connect, server, accounts):
    admin = accounts.make("admin")
    client = connect(server.url, admin.key)
    me = client.me()
    assert (me.user.id, me.user.email, me.user.role, me.mode, me.via) == (
        admin.user.id,
        admin.user.email,
        "admin",
        "live",
        "key",
    )

    created = [
        client.users.create(
            email=f"U{i}@Example.test", role="labeler", name=f"u{i}", password=f"password-{i}"
        )
        for i in range(5)
    ]
    keyless = client.users.create(email="keys-only@example.test", role="reviewer")
    assert created[0].email == "u0@example.test" and created[0].name == "u0"
    assert keyless.role == "reviewer" and keyless.is_active
    assert client.users.get(created[2].id) == created[2]

    # Newest first, page by page, everyone once (the module's other tests may have added
    # people before this one: they come after).
    listed = [user.id for user in client.users.list(page_size=2)]
    assert listed[:7] == [keyless.id, *(u.id for u in reversed(created)), admin.user.id]
    with accounts.db.read() as session:
        everyone = list(session.scalars(sa.select(models.User.id)))
    assert sorted(listed) == sorted(everyone)

    stranger = connect(server.url, "live_" + "0" * 32)
    pages = stranger.users.list()  # a generator: nothing is sent until it is iterated
    with pytest.raises(Unauthorized):
        next(pages)


def test_deactivate_reactivate_reset_password_and_end_sessions(connect, server, accounts):
    admin, person = accounts.make("admin"), accounts.make("labeler")
    client = connect(server.url, admin.key)
    theirs = connect(server.url, person.key)
    assert theirs.me().user.id == person.user.id

    assert client.users.deactivate(person.user.id).is_active is False
    with pytest.raises(Unauthorized):
        theirs.me()
    assert client.users.reactivate(person.user.id).is_active is True
    assert theirs.me().user.id == person.user.id

    assert client.users.reset_password(person.user.id, "a-new-password").id == person.user.id
    assert client.users.end_sessions(person.user.id) == 0
