"""Signed resident tokens: the ticket's QR code carries one, good for that ticket only; a
booking's reply carries one for that appointment (what proves a cancellation).

``<id>.<expiry, epoch seconds>.<signature>``: the signature is an HMAC-SHA256 (truncated to 128
bits) under a key derived from the hall's secret and the token's purpose (``ticket`` or
``appointment``), so a token cannot be forged, moved to another ticket or booking, or used for
the other purpose, and it stops working when it expires (the ticket's day, the booked slot).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac


class TokenError(ValueError):
    """A token that is malformed, forged, or expired (``expired`` tells which)."""

    def __init__(self, message: str, *, expired: bool = False):
        self.expired = expired
        super().__init__(message)


PURPOSES = {
    "ticket": b"yikou resident ticket token v1",
    "appointment": b"yikou appointment token v1",
}


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), PURPOSES[purpose], hashlib.sha256).digest()


def _sign(secret: str, body: str, purpose: str) -> str:
    mac = hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(
    secret: str, ticket_id: str, expires: dt.datetime, *, purpose: str = "ticket"
) -> str:
    body = f"{ticket_id}.{int(expires.timestamp())}"
    return f"{body}.{_sign(secret, body, purpose)}"


def read_token(secret: str, token: str, now: dt.datetime, *, purpose: str = "ticket") -> str:
    """The id a genuine, unexpired token of ``purpose`` is for; TokenError otherwise."""
    try:
        ticket_id, expires, signature = token.split(".")
        expires_at = int(expires)
    except ValueError:
        raise TokenError("malformed token") from None
    expected = _sign(secret, f"{ticket_id}.{expires}", purpose)
    if not hmac.compare_digest(signature, expected):
        raise TokenError("bad signature")
    if now.timestamp() > expires_at:
        raise TokenError("expired", expired=True)
    return ticket_id
