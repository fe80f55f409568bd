"""Reward codes that a retry can find again.

A code is a keyed hash of the redemption's idempotency key: the outbox may retry "create coupon"
after a crash and must land on the coupon the first attempt made, so the code cannot be random;
and customers must not be able to guess each other's codes, so it cannot be a plain hash either.
The alphabet has no look-alikes (0/o, 1/l/i) and is lower-case because WooCommerce lower-cases
coupon codes on save — an upper-case code would no longer match what we stored.
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS = 3
_GROUP_LEN = 4


def reward_code(secret: str, key: str) -> str:
    """``xxxx-xxxx-xxxx`` (12 symbols, ~59 bits) from HMAC-SHA256(secret, key)."""
    if not secret:
        raise ValueError("reward codes need a non-empty secret")
    digest = hmac.new(secret.encode(), key.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    symbols = []
    for _ in range(_GROUPS * _GROUP_LEN):
        number, index = divmod(number, len(ALPHABET))
        symbols.append(ALPHABET[index])
    return "-".join(
        "".join(symbols[i : i + _GROUP_LEN]) for i in range(0, _GROUPS * _GROUP_LEN, _GROUP_LEN)
    )
