"""Sealing residents' forms at rest (docs/privacy.md).

A form a resident submits with a ticket may hold their document number, name, address and
phone. It is stored only sealed with AES-256-GCM: a fresh 96-bit nonce per form, and the hall
and ticket ids as associated data, so a sealed form copied onto another ticket's row (or another
hall's) fails to open instead of showing the wrong resident's data.

The key is the hall's ``[privacy] form_key`` when set, else derived with HKDF-SHA256 from
``[security] resident_key_secret`` (salt: the hall id; a label of its own), so the same secret
never serves two purposes directly.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from queue_server.config import HallConfig

NONCE_BYTES = 12
_FORMAT = b"\x01"  # first byte of a sealed form: room for a later scheme
_INFO = b"yikou form seal v1"


class FormUnreadable(Exception):
    """A sealed form that does not open under this key (a changed key, or tampering)."""


def form_key(config: HallConfig) -> bytes:
    if config.privacy.form_key:
        return base64.b64decode(config.privacy.form_key)
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=config.hall.id.encode(),
        info=_INFO,
    ).derive(config.security.resident_key_secret.encode())


class FormVault:
    def __init__(self, key: bytes, hall_id: str):
        self._aead = AESGCM(key)
        self.hall_id = hall_id

    @classmethod
    def for_hall(cls, config: HallConfig) -> FormVault:
        return cls(form_key(config), config.hall.id)

    def _aad(self, ticket_id: str) -> bytes:
        return f"{self.hall_id}\x00{ticket_id}".encode()

    def seal(self, ticket_id: str, form: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(form, ensure_ascii=False, separators=(",", ":")).encode()
        return _FORMAT + nonce + self._aead.encrypt(nonce, plain, self._aad(ticket_id))

    def open(self, ticket_id: str, sealed: bytes) -> dict[str, Any]:
        sealed = bytes(sealed)
        if sealed[:1] != _FORMAT or len(sealed) < 1 + NONCE_BYTES + 16:
            raise FormUnreadable(f"the form of {ticket_id} is not in a known format")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, self._aad(ticket_id))
        except InvalidTag as exc:
            raise FormUnreadable(f"the form of {ticket_id} does not open with this key") from exc
        return json.loads(plain)
