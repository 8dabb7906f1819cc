"""Signing in: the same time for known and unknown emails, lockouts per account and per
client address (kept in the database, so every process sees them), and the password hash
checked with no database transaction open."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from assay.core import auth, logins, models
from assay.core.db import Database, utcnow
from assay.core.errors import RateLimited
from assay.core.settings import get_settings
from tests.support.login import login

MEMORY = "ASSAY_PASSWORD_HASH_MEMORY_KIB"


def outcome(response) -> str:
    location = response.headers["location"]
    if "error=" in location:
        return location.split("error=")[1].split("&")[0]
    return "ok"


@pytest.fixture
def heavy_hash():
    """Production-like Argon2 cost, so the hash (not the test client) dominates a login."""
    before = os.environ.get(MEMORY)
    os.environ[MEMORY] = "32768"
    get_settings.cache_clear()
    yield
    if before is None:
        os.environ.pop(MEMORY, None)
    else:
        os.environ[MEMORY] = before
    get_settings.cache_clear()


def test_known_and_unknown_emails_take_the_same_time(client, settings, accounts, heavy_hash):
    """Timed as the CPU time the (in-process) server spends per sign-in: what an attacker
    measures, without the noise other processes on a shared machine add to wall time."""
    settings.login_max_failures_per_account = 0
    settings.login_max_failures_per_address = 0
    known = accounts.make("labeler")
    auth.verify_password(None, "warm-up")  # the stand-in hash is made once, not timed
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(11):
        for which, email in (("known", known.user.email), ("unknown", f"nobody{i}@example.test")):
            form = client.get("/login")
            data = {"email": email, "password": "wrong", "csrf": form.cookies["assay_login_csrf"]}
            started = time.process_time()
            response = client.post("/login", data=data, follow_redirects=False)
            timings[which].append(time.process_time() - started)
            assert outcome(response) == "invalid"
    known_median = statistics.median(timings["known"])
    unknown_median = statistics.median(timings["unknown"])
    assert abs(known_median - unknown_median) <= 0.10 * max(known_median, unknown_median), (
        f"known {known_median * 1000:.1f} ms, unknown {unknown_median * 1000:.1f} ms"
    )


def test_an_account_locks_after_failures_and_unlocks_after_the_lockout(client, settings, accounts):
    settings.login_max_failures_per_account = 3
    settings.login_lockout_seconds = 1.0
    user = accounts.make("labeler")
    other = accounts.make("labeler")
    for _ in range(3):
        assert outcome(login(client, user.user.email, "wrong-password")) == "invalid"
    # Locked: even the right password is refused, and the page says why.
    locked = login(client, user.user.email, user.password)
    assert outcome(locked) == "locked"
    assert "Too many failed sign-ins" in client.get(locked.headers["location"]).text
    assert "assay_session" not in client.cookies
    # Another account from the same address is not locked by it.
    assert outcome(login(client, other.user.email, other.password)) == "ok"
    client.cookies.clear()
    time.sleep(1.1)
    assert outcome(login(client, user.user.email, user.password)) == "ok"


def test_unknown_emails_lock_like_known_ones(client, settings):
    settings.login_max_failures_per_account = 2
    for _ in range(2):
        assert outcome(login(client, "ghost@example.test", "guess-one")) == "invalid"
    assert outcome(login(client, "Ghost@Example.test", "guess-two")) == "locked"


def test_a_client_address_locks_after_failures_across_accounts(app, settings, accounts):
    settings.login_max_failures_per_account = 100
    settings.login_max_failures_per_address = 4
    victim = accounts.make("labeler")
    with TestClient(app, client=("203.0.113.7", 4000)) as attacker:
        for i in range(4):
            assert outcome(login(attacker, f"user{i}@example.test", "guess")) == "invalid"
        assert outcome(login(attacker, victim.user.email, victim.password)) == "locked"
    with TestClient(app, client=("198.51.100.2", 4000)) as elsewhere:
        assert outcome(login(elsewhere, victim.user.email, victim.password)) == "ok"


def test_lockouts_are_shared_through_the_database(client, db, settings, accounts):
    """Another server process (another engine on the same database) sees the lock."""
    settings.login_max_failures_per_account = 2
    user = accounts.make("labeler")
    for _ in range(2):
        login(client, user.user.email, "wrong-password")
    other_process = Database(settings.resolved_database_url)
    try:
        with (
            other_process.read() as session,
            pytest.raises(RateLimited, match="too many failed sign-ins for this account"),
        ):
            logins.check_not_locked(session=session, email=user.user.email, address=None)
    finally:
        other_process.dispose()


def test_an_admins_password_reset_lifts_a_lockout(client, settings, accounts):
    settings.login_max_failures_per_account = 2
    admin = accounts.make("admin")
    user = accounts.make("labeler")
    for _ in range(2):
        login(client, user.user.email, "wrong-password")
    reset = client.post(
        f"/api/v1/users/{user.user.id}/password",
        headers=admin.headers,
        json={"password": "a-brand-new-password"},
    )
    assert reset.status_code == 200, reset.text
    assert outcome(login(client, user.user.email, "a-brand-new-password")) == "ok"


def test_the_password_hash_is_checked_outside_any_transaction(client, db, accounts, monkeypatch):
    """While one sign-in's hash is being checked, no connection is held and another write
    (a labeler's heartbeat, here a name change) goes through at once."""
    user = accounts.make("labeler")
    other = accounts.make("labeler")
    hashing, release = threading.Event(), threading.Event()
    state: dict[str, object] = {}
    real = auth.verify_password

    def paused_verify(password_hash, password):
        state["checked_out"] = db.engine.pool.checkedout()
        hashing.set()
        release.wait(10)
        return real(password_hash, password)

    monkeypatch.setattr(logins, "verify_password", paused_verify)
    # Where today's main checks it (inside the login's write transaction), for a fair failure.
    monkeypatch.setattr("assay.core.users.verify_password", paused_verify, raising=False)

    result: dict[str, object] = {}
    signing_in = threading.Thread(
        target=lambda: result.setdefault("r", login(client, user.user.email, "wrong-password"))
    )
    signing_in.start()
    try:
        assert hashing.wait(10), "the sign-in never checked a password"
        wrote = threading.Event()

        def write() -> None:
            with db.write() as session:
                session.execute(
                    update(models.User).where(models.User.id == other.user.id).values(name="busy")
                )
            wrote.set()

        writer = threading.Thread(target=write)
        writer.start()
        finished = wrote.wait(5)
    finally:
        release.set()
        signing_in.join(20)
    writer.join(30)
    assert state["checked_out"] == 0, "a database connection was held during the hash check"
    assert finished, "another write waited for the sign-in's hash check"
    assert outcome(result["r"]) == "invalid"
    with db.read() as session:
        name = session.scalar(select(models.User.name).where(models.User.id == other.user.id))
    assert name == "busy"


def test_password_checks_take_turns(client, app, settings, accounts, monkeypatch):
    """With `password_hash_concurrency` 1, a second sign-in's check waits for the first: a
    burst of sign-ins hashes one at a time instead of starving other requests of CPU."""
    settings.password_hash_concurrency = 1
    one, two = accounts.make("labeler"), accounts.make("labeler")
    entered: list[str] = []
    first_in, release = threading.Event(), threading.Event()
    real = auth.verify_password

    def paused_verify(password_hash, password):
        entered.append(password)
        first_in.set()
        release.wait(10)
        return real(password_hash, password)

    queued = threading.Semaphore(0)
    real_turns = logins._hashing

    def turns(slots):
        queued.release()  # a sign-in is about to wait for its turn
        return real_turns(slots)

    monkeypatch.setattr(logins, "verify_password", paused_verify)
    monkeypatch.setattr(logins, "_hashing", turns)
    with TestClient(app) as other:
        threads = [
            threading.Thread(target=login, args=(client, one.user.email, "first-wrong")),
            threading.Thread(target=login, args=(other, two.user.email, "second-wrong")),
        ]
        threads[0].start()
        try:
            assert first_in.wait(10)
            threads[1].start()
            assert queued.acquire(timeout=10) and queued.acquire(timeout=10)
            time.sleep(0.3)  # the second sign-in is at its turn: it would be hashing now
            assert entered == ["first-wrong"], "the second check ran alongside the first"
        finally:
            release.set()
            for thread in threads:
                thread.join(20)
    assert entered == ["first-wrong", "second-wrong"]


def test_old_failures_are_forgotten_but_lockouts_kept(ctx, db, settings):
    settings.login_max_failures_per_account = 2
    settings.login_failure_window_seconds = 60
    long_ago = utcnow() - dt.timedelta(hours=2)
    with db.write() as session:
        logins.record_failure(
            session=session, email="old@example.test", address=None, settings=settings, now=long_ago
        )
        for _ in range(2):
            logins.record_failure(
                session=session, email="locked@example.test", address=None, settings=settings
            )
    assert logins.forget_old_failures(ctx) == 1
    with db.read() as session:
        logins.check_not_locked(session=session, email="old@example.test", address=None)
        with pytest.raises(RateLimited):
            logins.check_not_locked(session=session, email="locked@example.test", address=None)
        assert session.scalar(select(func.count()).select_from(models.LoginThrottle)) == 1
