"""Secrets Assay keeps to use later (a model endpoint's API key): encrypted at rest with a
key derived from `ASSAY_SECRET_KEY`, never returned by the API nor written to logs.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`): a tampered or foreign token fails
to decrypt rather than yielding garbage. The key is HKDF-SHA256 of the server's secret with
its own `info`, so it is not the secret that signs sessions and media URLs. Rotating
`ASSAY_SECRET_KEY` makes stored secrets unreadable: they must be entered again.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from assay.core.errors import Invalid

PREFIX = "enc1:"


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"assay stored secrets v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(secret_key: str, plaintext: str) -> str:
    """The stored form of `plaintext` (text, safe for a string column)."""
    return PREFIX + _fernet(secret_key).encrypt(plaintext.encode()).decode("ascii")


def decrypt(secret_key: str, stored: str, *, field: str = "api_key") -> str:
    """The plaintext of a value `encrypt` made with the same server secret."""
    if not stored.startswith(PREFIX):
        raise Invalid("the stored secret is not in Assay's encrypted form", field=field)
    try:
        return _fernet(secret_key).decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except InvalidToken:
        raise Invalid(
            "the stored secret cannot be decrypted (was ASSAY_SECRET_KEY changed?); enter it again",
            field=field,
        ) from None
