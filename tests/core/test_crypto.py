"""Stored secrets: encrypted so the plaintext is not in the stored form, readable back with
the same server secret only, a tampered value refused rather than decrypted to garbage."""

from __future__ import annotations

import pytest

from assay.core import crypto
from assay.core.errors import Invalid

SECRET = "server-secret-with-enough-characters-0123456789"


def test_a_secret_round_trips_and_is_not_in_its_stored_form():
    stored = crypto.encrypt(SECRET, "sk-abc-123")
    assert stored.startswith(crypto.PREFIX) and "sk-abc-123" not in stored
    assert crypto.encrypt(SECRET, "sk-abc-123") != stored  # a fresh IV each time
    assert crypto.decrypt(SECRET, stored) == "sk-abc-123"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda stored: stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB"),
        lambda stored: stored[len(crypto.PREFIX) :],
        lambda stored: crypto.encrypt("another-server-secret-0123456789-abcdef", "sk-abc-123"),
    ],
    ids=["tampered", "not encrypted", "another server's"],
)
def test_what_this_server_did_not_encrypt_is_refused(mangle):
    with pytest.raises(Invalid) as refused:
        crypto.decrypt(SECRET, mangle(crypto.encrypt(SECRET, "sk-abc-123")))
    assert refused.value.field == "api_key"
