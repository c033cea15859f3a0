"""Secrets at rest: staff passwords and device tokens are kept only as scrypt hashes.

scrypt is memory-hard (an attacker who steals the config cannot cheaply try guesses on GPUs) and
ships with Python, so no extra dependency. The hash string carries its own parameters:
``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N_LOG2, _R, _P = 14, 8, 1  # 16 MiB of memory per check


def hash_secret(secret: str, *, n_log2: int = _N_LOG2) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=2**n_log2, r=_R, p=_P, maxmem=2**26, dklen=32
    )
    return "$".join(["scrypt", str(n_log2), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n_log2, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            secret.encode(),
            salt=base64.b64decode(salt),
            n=2 ** int(n_log2),
            r=int(r),
            p=int(p),
            maxmem=2**26,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def new_token(nbytes: int = 18) -> str:
    return secrets.token_urlsafe(nbytes)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
