"""Resident identity keys (PIPL).

A resident is known to the hall only by an HMAC of their document type and number under the
hall's secret. The key is stable (quotas, one-ticket rules and bookings work across visits) but
cannot be turned back into the number, and differs between halls with different secrets.
"""

from __future__ import annotations

import hashlib
import hmac


def normalise_number(number: str) -> str:
    # Cards print the check character as an upper-case X; residents type either case.
    return "".join(number.split()).upper()


def resident_key(secret: str, number: str, doc_type: str = "id") -> str:
    message = f"{doc_type}:{normalise_number(number)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]
