"""Signed resident tokens: the ticket's QR code carries one, good for that ticket only.

``<ticket id>.<expiry, epoch seconds>.<signature>``: the signature is an HMAC-SHA256 (truncated to
128 bits) under a key derived from the hall's secret, so a token cannot be forged or moved to
another ticket, and it stops working when the day ends.
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


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"yikou resident ticket token v1", hashlib.sha256).digest()


def _sign(secret: str, body: str) -> str:
    mac = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(secret: str, ticket_id: str, expires: dt.datetime) -> str:
    body = f"{ticket_id}.{int(expires.timestamp())}"
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str, now: dt.datetime) -> str:
    """The ticket id a genuine, unexpired token is for; TokenError otherwise."""
    try:
        ticket_id, expires, signature = token.split(".")
        expires_at = int(expires)
    except ValueError:
        raise TokenError("malformed token") from None
    expected = _sign(secret, f"{ticket_id}.{expires}")
    if not hmac.compare_digest(signature, expected):
        raise TokenError("bad signature")
    if now.timestamp() > expires_at:
        raise TokenError("expired", expired=True)
    return ticket_id
